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
    node.authed("PUT", "/v1/blobs")
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .try_send()
        .expect("request")
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

#[test]
fn a_full_disk_is_507_naming_the_file_and_loses_nothing() {
    let mut node = Node::unstarted("", &[]);
    let Some(fs) = Mount::tmpfs(&node.data_dir(), "8m") else { return };
    node.restart();
    let filler = fs.fill();

    storage_error(&put_blob(&node, 256 * 1024), 507, "insufficient_storage", "blobs");
    let mut stored = Vec::new();
    let failed = (0..3000).find_map(|i| {
        let r = post_event(&node, &format!("e{i}"), 4000);
        if r.status == 201 {
            stored.push(format!("e{i}"));
            None
        } else {
            Some(r)
        }
    });
    let failed = failed.expect("3000 events fit on a full disk");
    storage_error(&failed, 507, "insufficient_storage", "cecd.sqlite3");
    let log = std::fs::read_to_string(node.data_dir().join("../cecd.log")).expect("log");
    assert!(log.contains("storage failed"), "not logged:\n{}", node.log_tail());

    std::fs::remove_file(filler).expect("free the space");
    let next = format!("e{}", stored.len());
    assert_eq!(post_event(&node, &next, 4000).status, 201, "no write once space is back");
    let blob = put_blob(&node, 256 * 1024);
    assert!(matches!(blob.status, 200 | 201), "{}", blob.text());
    node.kill9();
    node.restart();
    for id in &stored {
        node.get(&format!("/v1/events/{id}")).expect(200);
    }
    node.get(&format!("/v1/events/{next}")).expect(200);
    drop(fs);
}

/// A blob directory that cannot be written is 503, naming it; the node recovers.
#[test]
fn unwritable_storage_is_503_and_recovers() {
    let node = Node::start();
    let blobs = node.data_dir().join("blobs");
    let Some(ro) = Mount::read_only(&blobs) else { return };
    storage_error(&put_blob(&node, 1024), 503, "storage_unavailable", "blobs");
    assert_eq!(post_event(&node, "meanwhile", 10).status, 201, "the database is not the blob directory");
    drop(ro);
    let blob = put_blob(&node, 1024);
    assert!(matches!(blob.status, 200 | 201), "{}", blob.text());
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
