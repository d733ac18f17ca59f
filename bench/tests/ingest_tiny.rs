//! CI keeps `cec-bench ingest` working: the whole harness at a tiny size, against the debug
//! `cecd` of this workspace. It checks that the run completes, that every target has its rows
//! and that cecd kept every check-in it acknowledged; it never looks at speed.

use std::process::Command;

/// `(stored, acknowledged)` from each cecd row's `kill -9 + restart: X of Y acknowledged`.
fn durability_counts(report: &str) -> Vec<(u64, u64)> {
    report
        .lines()
        .filter(|l| l.starts_with("| cecd `POST /v1/checkins`"))
        .filter_map(|l| {
            let rest = l.split("kill -9 + restart: ").nth(1)?;
            let mut words = rest.split_whitespace();
            let stored = words.next()?.parse().ok()?;
            let _of = words.next()?;
            let acknowledged = words.next()?.parse().ok()?;
            Some((stored, acknowledged))
        })
        .collect()
}

#[test]
fn ingest_runs_at_tiny_size_and_cecd_keeps_every_acknowledged_checkin() {
    // The workspace's debug cecd, built first if needed (or $CECD_BIN), as the e2e tests find it.
    let cecd = cec_e2e::cecd_bin();
    let root = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_cec-bench"))
        .args(["ingest", "--duration", "0.3s", "--warmup", "0", "--connections", "1,2", "--request-timeout", "60s"])
        .arg("--cecd")
        .arg(cecd)
        .arg("--data-root")
        .arg(root.path())
        .output()
        .expect("running cec-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "cec-bench ingest failed ({}):\n{stdout}\n{stderr}", output.status);

    assert!(stdout.contains("\ndurable: yes"), "no `durable: yes`:\n{stdout}");
    let counts = durability_counts(&stdout);
    assert_eq!(counts.len(), 2, "one cecd row per connection count:\n{stdout}");
    for (stored, acknowledged) in counts {
        // A closed loop sends at least one request per connection, so something was acknowledged.
        assert!(acknowledged >= 1 && stored == acknowledged, "{stored} of {acknowledged}:\n{stdout}");
    }
    for target in ["| HTTP ceiling: cecd `GET /v1/health` | 1 |", "| SQLite ceiling", "| 2 |"] {
        assert!(stdout.contains(target), "no row {target:?}:\n{stdout}");
    }
    // PouchDB runs where `npm ci` installed it, and is skipped with a visible message elsewhere.
    let installed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/node_modules/pouchdb").is_dir();
    if installed && stdout.contains("| PouchDB 9") {
        assert!(stdout.contains("docs for"), "{stdout}");
    } else {
        assert!(stdout.contains("PouchDB: SKIPPED"), "PouchDB neither ran nor said why not:\n{stdout}");
        eprintln!("PouchDB SKIPPED in this test: {}", stderr.lines().find(|l| l.contains("SKIPPED")).unwrap_or("?"));
    }
}

#[test]
fn help_names_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_cec-bench")).args(["ingest", "--help"]).output().expect("help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for option in ["--duration", "--warmup", "--connections", "--cecd", "--sessions", "--data-root", "--skip-pouchdb"] {
        assert!(help.contains(option), "--help lacks {option}");
    }
}
