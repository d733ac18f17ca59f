//! `cec-core` stays sans-IO: none of the daemon's I/O crates among its normal dependencies.

use std::process::Command;

#[test]
fn core_has_no_io_dependencies() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "-p", "cec-core", "-e", "normal", "--prefix", "none", "--format", "{p}", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.lines().any(|l| l.starts_with("automerge ")), "the tree lists dependencies:\n{tree}");
    for banned in ["tokio", "rusqlite", "hyper", "axum", "mdns-sd", "reqwest", "libsqlite3-sys"] {
        let hit = tree.lines().find(|l| l.split_whitespace().next() == Some(banned));
        assert!(hit.is_none(), "cec-core depends on {banned}: {hit:?}");
    }
}
