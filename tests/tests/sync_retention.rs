//! Retention with real processes on loopback: a kiosk whose event ended more than
//! `retention_days` ago drops it after a sync in which the central node acknowledged all of
//! it; the operator sees that in `GET /v1/sync/status` and the change feed; neither the
//! central node nor another kiosk that still holds the event gives it back (each side tells the
//! other its retired events in the hello, and the session leaves them out).

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference};
use serde_json::{Value, json};

const FAR: &str = "2099-01-01T00:00:00Z";

fn new_central() -> (Node, String) {
    let mut node = Node::unstarted("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    let out = Node::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    node.restart();
    let org_key = node.get("/v1/node").expect(200)["org_public_key"].as_str().expect("org key").to_owned();
    (node, org_key)
}

fn peer_url(node: &Node) -> String {
    node.get("/v1/node").expect(200)["peer_url"].as_str().expect("peer_url").to_owned()
}

fn node_id(node: &Node) -> String {
    node.get("/v1/node").expect(200)["node_id"].as_str().expect("node_id").to_owned()
}

/// Enrols `node` as a kiosk of event `conf` and gives it the central node as a peer.
fn enroll(central: &Node, org_key: &str, node: &Node) {
    let key = node.get("/v1/node").expect(200)["public_key"].as_str().expect("public key").to_owned();
    let issued = central
        .post(
            "/v1/admin/credentials",
            &json!({"node_public_key": key, "role": "kiosk", "scopes": ["event:conf"], "expires_at": FAR}),
        )
        .expect(201);
    node.post("/v1/node/credential", &json!({"credential": issued["credential"], "org_public_key": org_key}))
        .expect(200);
    node.post("/v1/peers", &json!({"url": peer_url(central)})).expect(201);
}

/// One sync round of `node` with `peer`; what moved.
fn sync_with(node: &Node, peer: &Node) -> Value {
    let r = node.post("/v1/sync", &json!({"peer_id": node_id(peer)})).expect(200);
    let p = r["peers"][0].clone();
    assert!(p["error"].is_null(), "sync failed: {p}");
    p
}

fn checkin_ids(node: &Node) -> Vec<String> {
    let page = node.get("/v1/checkins?limit=1000").expect(200);
    page["items"].as_array().expect("items").iter().map(|c| c["id"].as_str().expect("id").to_owned()).collect()
}

fn events(node: &Node) -> usize {
    node.get("/v1/events").expect(200)["items"].as_array().expect("items").len()
}

/// `GET /v1/sync/status`'s `retention` once `done` holds (the pass runs in the background,
/// soon after a sync with the central node).
fn retention_when(node: &Node, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..200 {
        last = node.get("/v1/sync/status").expect(200)["retention"].clone();
        if done(&last) {
            return last;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("retention never got there: {last}\n{}", node.log_tail());
}

#[test]
fn a_kiosk_drops_an_ended_conference_once_the_central_node_holds_it() {
    let (central, org_key) = new_central();
    conference(&central, "conf");
    // The door kiosk keeps the conference (the harness's century of retention); the other one
    // runs with the shipped default: the conference (2026-04-16) ended long ago.
    let door = Node::start_configured("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    let rented =
        Node::start_configured("sync_interval_secs = 0\nretention_days = 7\n", &["--peer-listen", "127.0.0.1:0"]);
    for k in [&door, &rented] {
        enroll(&central, &org_key, k);
    }
    sync_with(&door, &central);
    for (id, dir, hhmm) in [("in-1", "in", "14:00"), ("out-1", "out", "15:15"), ("in-2", "in", "15:30")] {
        door.post(
            "/v1/checkins",
            &checkin_body(id, "conf", if id == "in-2" { "s120" } else { "s75" }, "M-1", dir, hhmm),
        )
        .expect(201);
    }
    sync_with(&door, &central);
    assert_eq!(checkin_ids(&central), ["in-1", "in-2", "out-1"]);

    // Before its first sync the rented kiosk knows no central node: retention is inactive.
    let status = rented.get("/v1/sync/status").expect(200)["retention"].clone();
    assert_eq!(status["retention_days"], 7, "{status}");
    assert_eq!(status["active"], false, "{status}");
    assert_eq!(status["retired_count"], 0, "{status}");

    // It syncs (taking the conference: event, roster and the door's check-ins), and the
    // central node then holds all of it: the pass after the sync drops it.
    let moved = sync_with(&rented, &central);
    assert!(moved["docs_received"].as_u64().is_some_and(|n| n >= 3), "{moved}");
    let retention = retention_when(&rented, |r| r["retired_count"] == 1);
    assert_eq!(retention["active"], true, "{retention}");
    let retired = &retention["retired"][0];
    assert_eq!(retired["event_id"], "conf", "{retention}");
    assert_eq!(retired["documents"], 3, "the event and two sessions' attendance: {retention}");
    assert_eq!(retired["checkins"], 3, "{retention}");
    assert_eq!(retired["central_id"], node_id(&central).as_str(), "{retention}");
    assert_eq!(retired["ended_at"], "2026-04-16T22:30:00Z", "the end of the forum, the last session: {retention}");
    assert_eq!(events(&rented), 0);
    assert!(checkin_ids(&rented).is_empty());
    assert_eq!(rented.get("/v1/members/M-1/attendance").expect(200)["items"], json!([]));
    let feed = rented.get("/v1/changes").expect(200);
    assert_eq!(feed["changes"], json!([{"doc_id": "event:conf", "kind": "retired", "id": "conf"}]), "{feed}");
    let log = std::fs::read_to_string(rented.data_dir().join("../cecd.log")).unwrap_or_default();
    assert!(log.contains("event retired"), "the log says what was dropped and why: {log}");

    // The next syncs bring nothing back: the central node was told in the hello and leaves
    // the conference out; so does the door kiosk, which still holds it.
    let again = sync_with(&rented, &central);
    assert_eq!((again["docs_sent"].as_u64(), again["docs_received"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(again["frames_sent"], 1, "the summaries agree at once: {again}");
    // The door kiosk opens a session with it (learning from its answer to the hello), then the
    // rented kiosk opens one (telling it in its own hello): nothing of the conference moves.
    door.post("/v1/peers", &json!({"url": peer_url(&rented)})).expect(201);
    let to_rented = sync_with(&door, &rented);
    assert_eq!(to_rented["docs_sent"], 0, "{to_rented}");
    rented.post("/v1/peers", &json!({"url": peer_url(&door)})).expect(201);
    let from_door = sync_with(&rented, &door);
    assert_eq!((from_door["docs_sent"].as_u64(), from_door["docs_received"].as_u64()), (Some(0), Some(0)));
    assert_eq!(from_door["frames_sent"], 1, "{from_door}");
    assert_eq!(events(&rented), 0);
    assert!(checkin_ids(&rented).is_empty());

    // A check-in for the conference at the rented kiosk is refused: it no longer holds it.
    rented.post("/v1/checkins", &checkin_body("late", "conf", "s75", "M-2", "in", "14:00")).expect(404);
    // The central node and the door kiosk keep everything.
    assert_eq!(checkin_ids(&central), ["in-1", "in-2", "out-1"]);
    assert_eq!(checkin_ids(&door), ["in-1", "in-2", "out-1"]);
    let central_retention = central.get("/v1/sync/status").expect(200)["retention"].clone();
    assert_eq!(central_retention["active"], false, "{central_retention}");
    assert_eq!(central_retention["retired_count"], 0, "{central_retention}");
}
