//! A full disk and read-only storage, on a small tmpfs each test mounts on the node's data
//! directory (skipped, with a message, where it cannot mount): clear errors that name what
//! failed, nothing acknowledged is lost, and the node recovers when space is back.

use cec_e2e::fixtures::event_body;
use cec_e2e::mount::Mount;
use cec_e2e::{Node, Response};
use serde_json::Value;

/// Asserts a storage error: `status`, `code`, a message naming `names`, the envelope.
#[track_caller]
fn storage_error(r: &Response, status: u16, code: &str, names: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "{:?}", r.headers);
    let body = r.json();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains(names), "message does not name {names}: {message}");
}

fn post_event(node: &Node, id: &str, title_len: usize) -> Response {
    let mut body = event_body(id);
    body["title"] = Value::String("t".repeat(title_len));
    node.authed("POST", "/v1/events").json(&body).try_send().expect("request")
}

fn put_blob(node: &Node, size: usize) -> Response {
    let bytes: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    node.authed("PUT", "/v1/blobs").header("content-type", "application/octet-stream").body(bytes).try_send().expect("request")
}

/// A first start on a full disk used to leave an empty `api-token`: the node then started,
/// said it was healthy and answered 401 to everything, and `cecd token` printed a blank line.
#[test]
fn a_first_start_on_a_full_disk_leaves_nothing_half_written() {
    let mut node = Node::unstarted("", &[]);
    let Some(fs) = Mount::tmpfs(&node.data_dir(), "2m") else { return };
    let filler = fs.fill();
    assert!(node.try_start().is_err(), "cecd started on a full disk");
    std::fs::remove_file(filler).expect("free the space");
    node.try_start().unwrap_or_else(|log| panic!("no start once space is back:\n{log}"));
    assert!(node.token().len() >= 40, "token {:?}", node.token());
    node.get("/v1/events").expect(200);
    let out = Node::command(&node.data_dir(), &["token"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), node.token());
    drop(fs);
}

/// `mkdir -m 755 d; cecd --data-dir d` left the directory 755 and the database and blobs
/// 644. After a start, nothing in the data directory is open to group or others.
#[test]
fn the_data_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mut node = Node::unstarted("", &[]);
    std::fs::set_permissions(node.data_dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    node.restart();
    let blob = put_blob(&node, 1024);
    assert!(matches!(blob.status, 200 | 201), "{}", blob.text());
    assert_eq!(post_event(&node, "e", 10).status, 201);
    let mut stack = vec![node.data_dir()];
    let mut seen = 0;
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("metadata");
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
        seen += 1;
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).expect("read_dir").map(|e| e.expect("entry").path()));
        }
    }
    assert!(seen >= 6, "only {seen} paths");
}
