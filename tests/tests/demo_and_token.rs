//! `cecd --demo` and `cecd token`: the command line scripts rely on.

use std::os::unix::fs::PermissionsExt;

use cec_e2e::Node;
use serde_json::Value;

fn find<'a>(items: &'a Value, session: &str) -> &'a Value {
    items.as_array().expect("items").iter().find(|i| i["session_id"] == session).unwrap_or_else(|| panic!("{session}"))
}

fn demo_state(node: &Node) -> Vec<Value> {
    ["/v1/members/M-1001/cecs", "/v1/checkins?limit=1000", "/v1/portfolios/M-1001", "/v1/events/demo-spring-2026"]
        .iter()
        .map(|p| node.get(p).expect(200))
        .collect()
}

#[test]
fn demo_conference() {
    let mut node = Node::start_with(&["--demo"]);
    let event = node.get("/v1/events/demo-spring-2026").expect(200);
    assert_eq!((event["session_count"].as_u64(), event["roster_count"].as_u64()), (Some(6), Some(4)), "{event}");

    let ana = node.get("/v1/members/M-1001/cecs").expect(200);
    assert_eq!(ana["verified_cecs"], "4.5", "{ana}");
    assert_eq!(ana["self_reported_cecs"], "1.5");
    assert_eq!(ana["total_cecs"], "6");
    assert_eq!(ana["by_category"]["ethics"], "1.25");
    // Without a profile of her own, the transcript names Ana as the roster does.
    let transcript = node.get("/v1/portfolios/M-1001/transcript").expect(200);
    assert_eq!(transcript["member_name"], "Ana Ortiz", "{transcript}");

    let ben = node.get("/v1/members/M-1002/attendance").expect(200);
    let s75 = find(&ben["items"], "s75");
    assert_eq!((s75["cecs"].as_str(), s75["attended_minutes"].as_u64()), (Some("0.75"), Some(55)), "{ben}");
    assert!(s75["reason"].as_str().is_some_and(|r| !r.is_empty()), "a reason: {s75}");
    assert!(s75["flags"].as_array().expect("flags").contains(&Value::from("partial_attendance")));
    // Zoë scans in 20 minutes late and never out; José arrives within the 5-minute door grace.
    let zoe = node.get("/v1/members/M-1003/attendance").expect(200);
    let workshop = find(&zoe["items"], "workshop");
    assert_eq!((workshop["cecs"].as_str(), workshop["attended_minutes"].as_u64()), (Some("1"), Some(70)), "{zoe}");
    assert!(workshop["flags"].as_array().expect("flags").contains(&Value::from("no_checkout")));
    let jose = node.get("/v1/members/M-1004/attendance").expect(200);
    assert_eq!(find(&jose["items"], "s75")["cecs"], "1.25", "{jose}");

    let before = demo_state(&node);
    assert_eq!(before[1]["items"].as_array().map(Vec::len), Some(15));
    assert!(node.terminate().success());
    node.restart(); // with --demo again, on the same data directory
    assert_eq!(demo_state(&node), before, "loading the demo twice is harmless");
}

#[test]
fn token_command_and_file_mode() {
    // On a fresh directory `cecd token` creates the identity and prints the token.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Node::command(dir.path(), &["token"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    let token = printed.trim();
    assert!(token.len() >= 40 && !token.contains(char::is_whitespace), "{printed:?}");
    assert_eq!(printed.lines().count(), 1, "{printed:?}");
    let file = dir.path().join("api-token");
    assert_eq!(std::fs::read_to_string(&file).expect("api-token").trim(), token);
    let again = Node::command(dir.path(), &["token"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), token, "the token is kept");

    // A running node's token is the one `cecd token` prints, and it works.
    let node = Node::start();
    let out = Node::command(&node.data_dir(), &["token"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), node.token());
    node.authed("GET", "/v1/node").send().expect(200);
    for secret in ["api-token", "node-key"] {
        let mode = std::fs::metadata(node.data_dir().join(secret)).expect(secret).permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{secret} has mode {mode:o}");
    }
    let other = Node::command(dir.path(), &["token"]);
    assert_ne!(String::from_utf8_lossy(&other.stdout).trim(), node.token(), "each node has its own token");

    for args in [&["--help"][..], &["token", "--help"]] {
        let help = Node::command(dir.path(), args);
        assert!(help.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&help.stdout).contains("--data-dir"), "{args:?}");
    }
}

/// A second `cecd` on a running node's data directory (a service and a start by hand) refuses
/// to start, naming the first. Before, it ran beside it on another port and, once stopped,
/// removed the `api-url` of the node still running, so `cec` no longer found that node.
#[test]
fn one_node_per_data_directory() {
    let node = Node::start();
    let mut second = std::process::Command::new(cec_e2e::cecd_bin())
        .arg("--data-dir")
        .arg(node.data_dir())
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("CECD_DATA_DIR")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("second cecd");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().expect("try_wait") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("a second cecd kept running on the same data directory");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let out = second.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("another cecd (pid {}) is running", node.pid())), "{stderr}");
    let url = std::fs::read_to_string(node.data_dir().join("api-url")).expect("the running node's api-url stays");
    assert_eq!(url.trim(), format!("http://{}", node.addr()));
    node.authed("GET", "/v1/node").send().expect(200);
}

/// A node's log written to a file (a service's journal) is plain text: no colour escapes.
#[test]
fn a_log_file_holds_no_colour_escapes() {
    let node = Node::start();
    let log = node.log_tail();
    assert!(log.contains("cecd listening"), "{log}");
    assert!(!log.contains('\u{1b}'), "escape sequences in the log file: {log:?}");
}
