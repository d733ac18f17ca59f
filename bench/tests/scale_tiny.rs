//! CI keeps `cec-bench scale` working: a tiny central node (50 members, 5 events) seeded
//! in-process, then read through the workspace's debug `cecd`. It checks that every CEC summary
//! read matches the credit seeded (the program exits 1 otherwise), that attendance answers,
//! and that a second run reuses the seeded directory; it never looks at speed.

use std::process::Command;

fn run(cecd: &std::path::Path, root: &std::path::Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_cec-bench"))
        .args(["scale", "--members", "50", "--events", "5", "--reads", "25", "--request-timeout", "60s"])
        .arg("--cecd")
        .arg(cecd)
        .arg("--data-root")
        .arg(root)
        .output()
        .expect("running cec-bench");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cec-bench scale failed ({}):\n{stdout}\n{stderr}", output.status);
    stdout
}

/// The cells of the table row that starts with `| 50 |` under `header`.
fn row<'a>(report: &'a str, header: &str) -> Vec<&'a str> {
    let after = report.split(header).nth(1).unwrap_or_else(|| panic!("no {header:?} table:\n{report}"));
    let line = after.lines().find(|l| l.starts_with("| 50 |")).unwrap_or_else(|| panic!("no row:\n{report}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn scale_runs_at_tiny_size_and_every_summary_matches_the_seeded_credit() {
    let cecd = cec_e2e::cecd_bin();
    let root = tempfile::tempdir().expect("temp dir");

    let first = run(cecd, root.path());
    assert!(first.contains("summaries: all match the seeded credit"), "{first}");
    let seeding = row(&first, "Seeding");
    assert_eq!(seeding[1], "seeded now", "{first}");
    // 50 members × 20 sessions, at least an `in` each.
    let checkins: u64 = seeding[3].parse().expect("check-ins");
    assert!(checkins >= 1000, "{checkins} check-ins:\n{first}");
    assert_eq!(seeding[6], "50", "portfolios:\n{first}");
    let reads = row(&first, "Reads against");
    assert_eq!(reads.last().copied(), Some("0"), "mismatches:\n{first}");
    // Each member attended 20 sessions: the attendance answer lists them.
    let items: f64 = reads[15].parse().expect("items per attendance");
    assert!((15.0..=20.0).contains(&items), "{items} items per attendance:\n{first}");

    // Seeded as a central node that kept up with its feed: nothing to derive while measured.
    assert!(first.contains("change-feed entries the node had left to derive at its start: 0"), "{first}");

    let second = run(cecd, root.path());
    assert_eq!(row(&second, "Seeding")[1], "reused (seeded earlier)", "{second}");
    assert!(second.contains("summaries: all match the seeded credit"), "{second}");
}
