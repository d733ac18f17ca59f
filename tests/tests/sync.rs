//! Real `cecd` processes syncing over their peer listeners on loopback: a central node, two
//! kiosks and a member's laptop, with credentials issued by the central node.

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference};
use serde_json::{Value, json};

const FAR: &str = "2099-01-01T00:00:00Z";

/// A node with its peer listener on a free loopback port and no background syncs (the test
/// runs every round itself).
fn peer_node() -> Node {
    Node::start_configured("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"])
}

fn new_central() -> (Node, String) {
    let mut node = Node::unstarted("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    let out = Node::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("central node of ACA"), "{said}");
    node.restart();
    let org_key = node.get("/v1/node").expect(200)["org_public_key"].as_str().expect("org key").to_owned();
    (node, org_key)
}

/// Issues a credential for `node` at `central` and installs it there.
fn enroll(central: &Node, org_key: &str, node: &Node, role: &str, scopes: &[&str]) -> Value {
    let key = node.get("/v1/node").expect(200)["public_key"].as_str().expect("public key").to_owned();
    let issued = central
        .post(
            "/v1/admin/credentials",
            &json!({"node_public_key": key, "role": role, "scopes": scopes, "expires_at": FAR}),
        )
        .expect(201);
    node.post("/v1/node/credential", &json!({"credential": issued["credential"], "org_public_key": org_key}))
        .expect(200)
}

fn peer_url(node: &Node) -> String {
    node.get("/v1/node").expect(200)["peer_url"].as_str().expect("peer_url").to_owned()
}

fn sync(node: &Node) -> Value {
    let r = node.post("/v1/sync", &json!({})).expect(200);
    for p in r["peers"].as_array().expect("peers") {
        assert!(p["error"].is_null(), "sync failed: {p}");
    }
    r
}

fn checkin_ids(node: &Node) -> Vec<String> {
    let page = node.get("/v1/checkins?limit=1000").expect(200);
    page["items"].as_array().expect("items").iter().map(|c| c["id"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn kiosks_central_and_a_member_laptop() {
    let (central, org_key) = new_central();
    assert_eq!(central.get("/v1/health").expect(200)["role"], "central");
    conference(&central, "conf");
    central
        .post("/v1/portfolios/M-1/entries", &json!({"id": "a1", "kind": "note", "title": "mine", "date": "2026-01-01"}))
        .expect(201);
    central
        .post(
            "/v1/portfolios/M-2/entries",
            &json!({"id": "b1", "kind": "note", "title": "not yours", "date": "2026-01-01"}),
        )
        .expect(201);

    let kiosk_a = peer_node();
    let kiosk_b = peer_node();
    let laptop = peer_node();
    // Not enrolled yet: no sync.
    kiosk_a.post("/v1/sync", &json!({})).expect_error(409, "conflict");
    for k in [&kiosk_a, &kiosk_b] {
        let cred = enroll(&central, &org_key, k, "kiosk", &["event:conf"]);
        assert_eq!(cred["role"], "kiosk");
        k.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    }
    enroll(&central, &org_key, &laptop, "member", &["member:M-1"]);
    laptop.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);

    // The kiosks pick the event up; in at door A, out at door B.
    sync(&kiosk_a);
    sync(&kiosk_b);
    assert_eq!(kiosk_a.get("/v1/events/conf").expect(200)["id"], "conf");
    kiosk_a.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    kiosk_b.post("/v1/checkins", &checkin_body("out-1", "conf", "s75", "M-1", "out", "15:15")).expect(201);
    // What the kiosk screen shows: one check-in not yet at the central node, until a sync.
    let pending = |k: &Node| k.get("/v1/sync/status").expect(200)["central"].clone();
    let before = pending(&kiosk_a);
    assert_eq!((before["checkins_pending"].as_u64(), before["documents_pending"].as_u64()), (Some(1), Some(1)));
    assert_eq!(before["peer_id"], central.get("/v1/node").expect(200)["node_id"], "{before}");
    sync(&kiosk_a);
    assert_eq!(pending(&kiosk_a)["checkins_pending"], 0);
    assert_eq!(pending(&kiosk_b)["checkins_pending"], 1);
    sync(&kiosk_b);
    sync(&kiosk_a);
    for k in [&kiosk_a, &kiosk_b] {
        assert_eq!(pending(k)["checkins_pending"], 0, "{}", pending(k));
    }
    assert_eq!(central.get("/v1/sync/status").expect(200)["central"], Value::Null);
    for n in [&central, &kiosk_a, &kiosk_b] {
        assert_eq!(checkin_ids(n), ["in-1", "out-1"]);
        let att = n.get("/v1/members/M-1/attendance").expect(200);
        assert_eq!(att["items"][0]["cecs"], "1.25", "{att}");
    }
    // A kiosk never receives a portfolio.
    kiosk_a.get("/v1/portfolios/M-2/entries").expect(200);
    assert!(kiosk_a.get("/v1/changes?limit=1000").text().contains("\"checkin\""));
    assert!(!kiosk_a.get("/v1/changes?limit=1000").text().contains("portfolio:"));

    // The central node turned the endorsed attendance into a verified record; the member's
    // laptop receives it with its own portfolio, and nothing else.
    let mut verified = Value::Null;
    for _ in 0..100 {
        verified = central.get("/v1/portfolios/M-1").expect(200)["verified"].clone();
        if verified.as_array().is_some_and(|v| !v.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(verified[0]["cecs"], "1.25", "{verified}");
    sync(&laptop);
    let mine = laptop.get("/v1/portfolios/M-1").expect(200);
    assert_eq!(mine["entries"][0]["id"], "a1");
    assert_eq!(mine["verified"][0]["cecs"], "1.25", "{mine}");
    assert_eq!(laptop.get("/v1/members/M-1/cecs").expect(200)["verified_cecs"], "1.25");
    let feed = laptop.get("/v1/changes?limit=1000").text();
    assert!(!feed.contains("portfolio:M-2") && !feed.contains("event:conf"), "{feed}");

    // Peers and status show how it went.
    let peers = kiosk_a.get("/v1/peers").expect(200);
    assert_eq!(peers["items"][0]["state"], "ok");
    assert_eq!(peers["items"][0]["role"], "central");
}

#[test]
fn refusals() {
    let (central, org_key) = new_central();
    conference(&central, "conf");
    // Another organization's kiosk.
    let (other_central, other_key) = new_central();
    let stranger = peer_node();
    enroll(&other_central, &other_key, &stranger, "kiosk", &["event:conf"]);
    stranger.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    let r = stranger.post("/v1/sync", &json!({})).expect(200);
    let err = r["peers"][0]["error"].as_str().unwrap_or_default().to_owned();
    assert!(!err.is_empty(), "{r}");
    assert!(checkin_ids(&stranger).is_empty());
    stranger.get("/v1/events/conf").expect_error(404, "not_found");

    // An expired credential is refused on install.
    let kiosk = peer_node();
    let key = kiosk.get("/v1/node").expect(200)["public_key"].as_str().unwrap().to_owned();
    central
        .post("/v1/admin/credentials", &json!({"node_public_key": key, "role": "kiosk", "scopes": ["event:conf"], "expires_at": "2001-01-01T00:00:00Z"}))
        .expect_error(422, "invalid");
    // A credential for another node's key is refused on install.
    let issued = central
        .post(
            "/v1/admin/credentials",
            &json!({"node_public_key": key, "role": "kiosk", "scopes": ["event:conf"], "expires_at": FAR}),
        )
        .expect(201);
    stranger
        .post("/v1/node/credential", &json!({"credential": issued["credential"], "org_public_key": org_key}))
        .expect_error(409, "conflict");
    let third = peer_node();
    third
        .post("/v1/node/credential", &json!({"credential": issued["credential"], "org_public_key": org_key}))
        .expect_error(422, "invalid");
    // Only the central node issues credentials.
    third
        .post(
            "/v1/admin/credentials",
            &json!({"node_public_key": key, "role": "kiosk", "scopes": ["*"], "expires_at": FAR}),
        )
        .expect_error(403, "forbidden");
    // A node without a credential gets nothing from the peer listener: a kiosk enrolled for
    // event `other` receives nothing of `conf`.
    enroll(&central, &org_key, &kiosk, "kiosk", &["event:other"]);
    kiosk.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    sync(&kiosk);
    kiosk.get("/v1/events/conf").expect_error(404, "not_found");
    // A bad peer URL is refused with a clear error.
    kiosk.post("/v1/peers", &json!({"url": "http://example.invalid"})).expect_error(422, "invalid");
}

/// A field staff laptop enrolled for its provider receives the provider's events that the
/// central node creates after the enrolment (events it never held, whose provider only their
/// content tells), with their attendance, and no other provider's event; what it records
/// reaches the central node.
#[test]
fn a_staff_laptop_receives_new_events_of_its_provider() {
    let (central, org_key) = new_central();
    let staff = peer_node();
    let cred = enroll(&central, &org_key, &staff, "staff", &["provider:prov-1"]);
    assert_eq!(cred["role"], "staff");
    staff.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    sync(&staff);
    assert!(staff.get("/v1/events?limit=100").expect(200)["items"].as_array().expect("items").is_empty());

    // Created after the enrolment: one event of the staff's provider, one of another.
    conference(&central, "conf");
    central.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    let mut other = cec_e2e::fixtures::event_body("other");
    other["provider"] = json!({"id": "prov-2", "name": "Another institute"});
    central.post("/v1/events", &other).expect(201);

    let r = sync(&staff);
    assert_eq!(staff.get("/v1/events/conf").expect(200)["provider"]["id"], "prov-1", "{r}");
    assert_eq!(checkin_ids(&staff), ["in-1"], "its attendance came in the same sync");
    staff.get("/v1/events/other").expect_error(404, "not_found");
    assert!(!staff.get("/v1/changes?limit=1000").text().contains("event:other"));

    // The staff laptop records a check-out at its workshop; the central node gets it.
    staff.post("/v1/checkins", &checkin_body("out-1", "conf", "s75", "M-1", "out", "15:15")).expect(201);
    sync(&staff);
    assert_eq!(checkin_ids(&central), ["in-1", "out-1"]);
    assert_eq!(central.get("/v1/members/M-1/attendance").expect(200)["items"][0]["cecs"], "1.25");
}

/// Two kiosks that open rounds toward each other at the same moment both succeed: one round
/// at a time per pair of nodes, the other side waits its turn, and both end with every check-in.
#[test]
fn two_kiosks_syncing_toward_each_other_at_once() {
    let (central, org_key) = new_central();
    conference(&central, "conf");
    let (a, b) = (peer_node(), peer_node());
    for k in [&a, &b] {
        enroll(&central, &org_key, k, "kiosk", &["event:conf"]);
        k.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
        sync(k);
        k.delete(&format!("/v1/peers/{}", central.get("/v1/node").expect(200)["node_id"].as_str().expect("id")))
            .expect(204);
    }
    a.post("/v1/peers", &json!({"url": peer_url(&b)})).expect(201);
    b.post("/v1/peers", &json!({"url": peer_url(&a)})).expect(201);
    for round in 0..5 {
        let at = format!("14:{:02}", 10 + round);
        a.post("/v1/checkins", &checkin_body(&format!("a-{round}"), "conf", "s75", "M-1", "in", &at)).expect(201);
        b.post("/v1/checkins", &checkin_body(&format!("b-{round}"), "conf", "s75", "M-2", "in", &at)).expect(201);
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| a.post("/v1/sync", &json!({})).expect(200));
            let tb = s.spawn(|| b.post("/v1/sync", &json!({})).expect(200));
            (ta.join().expect("a"), tb.join().expect("b"))
        });
        for r in [&ra, &rb] {
            assert!(r["peers"][0]["error"].is_null(), "round {round}: {r}");
        }
        assert_eq!(checkin_ids(&a), checkin_ids(&b), "round {round}");
        assert_eq!(checkin_ids(&a).len(), 2 * (round + 1));
    }
}

/// A member's node that forges a verified record (no API writes one; this test writes it into
/// the laptop's data directory through the library, as a tampered node would) and syncs it is
/// refused by the real central node: the record is not taken, the central node says why in
/// its log, and what the member wrote before stays.
#[test]
fn a_member_node_that_forges_a_verified_record_is_refused() {
    let (central, org_key) = new_central();
    let mut laptop = peer_node();
    enroll(&central, &org_key, &laptop, "member", &["member:M-1"]);
    laptop.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    laptop
        .post("/v1/portfolios/M-1/entries", &json!({"id": "a1", "kind": "note", "title": "mine", "date": "2026-01-01"}))
        .expect(201);
    sync(&laptop);
    assert_eq!(central.get("/v1/portfolios/M-1").expect(200)["entries"][0]["id"], "a1", "its own entry is taken");

    // The forgery, written while the laptop's node is stopped.
    laptop.terminate();
    let dir = laptop.data_dir();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let node = cecd::node::Node::open(&dir, cecd::config::Config::default()).await.expect("open the laptop's node");
        let forged = cec_core::portfolio::VerifiedRecord {
            event_id: "E9".into(),
            session_id: "S9".into(),
            event_title: "Never held".into(),
            session_title: "Never held".into(),
            provider_id: "P".into(),
            provider_name: "P".into(),
            endorsement_number: "X".into(),
            date: jiff::civil::date(2026, 1, 2),
            category: "ethics".into(),
            contact_minutes: 600,
            cecs: rust_decimal::Decimal::from(10),
            verification_code: "forged".into(),
        };
        node.docs
            .update(&cec_core::doc::DocId::portfolio("M-1"), |d| {
                cec_core::doc::portfolio::apply_verified(d, "E9", std::slice::from_ref(&forged))
                    .map_err(cecd::node::NodeError::from)
            })
            .await
            .expect("forge");
        node.close().await;
    });
    drop(runtime);
    laptop.restart();
    assert_eq!(laptop.get("/v1/portfolios/M-1").expect(200)["verified"][0]["cecs"], "10", "the laptop holds it");

    laptop.post("/v1/sync", &json!({})).expect(200);
    let theirs = central.get("/v1/portfolios/M-1").expect(200);
    assert_eq!(theirs["verified"], json!([]), "the forged record was refused: {theirs}");
    assert_eq!(theirs["entries"][0]["id"], "a1");
    assert_eq!(central.get("/v1/members/M-1/cecs").expect(200)["verified_cecs"], "0");
    let log = central.log_tail();
    assert!(log.contains("may not write verified records"), "the central node says why: {log}");
}

/// A kiosk in sync with the central node resyncs in one request: the central node's hello
/// answer carries its summary, the kiosk's agrees, and no sync frame follows; a check-in the
/// kiosk recorded since goes with the hello, and the answer ends the round too.
#[test]
fn an_unchanged_resync_is_the_hello_alone() {
    let (central, org_key) = new_central();
    conference(&central, "conf");
    let mut kiosk = peer_node();
    enroll(&central, &org_key, &kiosk, "kiosk", &["event:conf"]);
    kiosk.post("/v1/peers", &json!({"url": peer_url(&central)})).expect(201);
    let first = sync(&kiosk);
    assert!(first["peers"][0]["frames_sent"].as_u64() > Some(1), "{first}");
    let again = sync(&kiosk);
    assert_eq!(again["peers"][0]["frames_sent"], 1, "the hello alone: {again}");
    let bytes = |r: &Value| (r["peers"][0]["bytes_sent"].as_u64(), r["peers"][0]["bytes_received"].as_u64());
    assert_eq!(bytes(&again), (Some(0), Some(0)), "no sync frame after the hello: {again}");
    assert_eq!(again["peers"][0]["docs_received"], 0, "{again}");
    // A new check-in goes with the hello: the central node's answer to it ends the round.
    kiosk.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    let moved = sync(&kiosk);
    assert_eq!(moved["peers"][0]["frames_sent"], 1, "the check-in went with the hello: {moved}");
    assert_eq!(moved["peers"][0]["docs_sent"], 1, "{moved}");
    assert_eq!(checkin_ids(&central), ["in-1"]);
    assert_eq!(bytes(&sync(&kiosk)), (Some(0), Some(0)), "both sides took the acknowledgement");

    // Both sides changed: the pushed check-in is taken, and the round goes on for the other.
    kiosk.post("/v1/checkins", &checkin_body("in-2", "conf", "s75", "M-2", "in", "14:01")).expect(201);
    central.post("/v1/checkins", &checkin_body("in-3", "conf", "s75", "M-3", "in", "14:02")).expect(201);
    let both = sync(&kiosk);
    assert!(both["peers"][0]["frames_sent"].as_u64() > Some(1), "{both}");
    assert_eq!(checkin_ids(&central), ["in-1", "in-2", "in-3"]);
    assert_eq!(checkin_ids(&kiosk), ["in-1", "in-2", "in-3"]);
    assert_eq!(bytes(&sync(&kiosk)), (Some(0), Some(0)));

    // A restarted kiosk has not seen the central node's credential in this process: it opens
    // with the hello first, and the check-in still arrives.
    kiosk.terminate();
    kiosk.restart();
    kiosk.post("/v1/checkins", &checkin_body("in-4", "conf", "s75", "M-4", "in", "14:03")).expect(201);
    let fresh = sync(&kiosk);
    assert!(fresh["peers"][0]["frames_sent"].as_u64() > Some(1), "{fresh}");
    assert_eq!(checkin_ids(&central), ["in-1", "in-2", "in-3", "in-4"]);

    // A node that lists the initiator among its peers records the hello-only round as a sync.
    let door = peer_node();
    enroll(&central, &org_key, &door, "kiosk", &["event:conf"]);
    door.post("/v1/peers", &json!({"url": peer_url(&kiosk)})).expect(201);
    kiosk.post("/v1/peers", &json!({"url": peer_url(&door)})).expect(201);
    assert!(sync(&door)["peers"][0]["frames_sent"].as_u64() > Some(1));
    let door_id = door.get("/v1/node").expect(200)["node_id"].clone();
    let last_sync = || {
        let peers = kiosk.get("/v1/peers").expect(200);
        let row = peers["items"].as_array().expect("items").iter().find(|p| p["peer_id"] == door_id).cloned();
        row.expect("the door kiosk is listed")["last_sync"].clone()
    };
    let before = last_sync();
    assert!(before.is_string(), "{before}");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(bytes(&sync(&door)), (Some(0), Some(0)));
    assert_ne!(last_sync(), before, "the hello-only round counts as a sync at the answering node");
}
