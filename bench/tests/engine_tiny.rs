//! `cec-bench engine` keeps working: a tiny event credited once. Never judges speed.

use std::process::Command;

#[test]
fn the_engine_benchmark_runs_at_a_tiny_size() {
    let out = Command::new(env!("CARGO_BIN_EXE_cec-bench"))
        .args(["engine", "--sessions", "6", "--members", "40", "--runs", "1"])
        .output()
        .expect("cec-bench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("member-sessions credited"), "{text}");
    // Same event, same credit, every run: the seed is fixed.
    let row = text.lines().last().expect("a result row");
    assert!(row.starts_with("| ") && row.ends_with(" |"), "{row}");
}
