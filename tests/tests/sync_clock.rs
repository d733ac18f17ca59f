//! Clock offsets measured at sync, and the `clock_skew` flag: a kiosk whose clock is an hour
//! ahead (the hidden `--clock-offset-secs`, for tests) syncs with a central node on loopback;
//! both measure the other's clock, and the kiosk's check-ins are flagged when read, never
//! dropped and never taken out of the credit.

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference};
use serde_json::{Value, json};

const FAR: &str = "2099-01-01T00:00:00Z";
const HOUR_MS: i64 = 3_600_000;
/// How close a measured offset must be on loopback (a busy machine's round trips included).
const TOLERANCE_MS: i64 = 2_000;

fn peer_node(extra: &[&str]) -> Node {
    let mut args = vec!["--peer-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Node::start_configured("sync_interval_secs = 0\n", &args)
}

fn new_central() -> (Node, String) {
    let mut node = Node::unstarted("sync_interval_secs = 0\n", &["--peer-listen", "127.0.0.1:0"]);
    let out = Node::command(&node.data_dir(), &["init-central", "--org", "ACA"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    node.restart();
    let org_key = node.get("/v1/node").expect(200)["org_public_key"].as_str().expect("org key").to_owned();
    (node, org_key)
}

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
    let url = central.get("/v1/node").expect(200)["peer_url"].as_str().expect("peer_url").to_owned();
    node.post("/v1/peers", &json!({"url": url})).expect(201);
}

fn sync(node: &Node) {
    let r = node.post("/v1/sync", &json!({})).expect(200);
    for p in r["peers"].as_array().expect("peers") {
        assert!(p["error"].is_null(), "sync failed: {p}");
    }
}

fn node_id(node: &Node) -> String {
    node.get("/v1/node").expect(200)["node_id"].as_str().expect("node_id").to_owned()
}

fn checkin(node: &Node, id: &str) -> Value {
    let page = node.get("/v1/checkins?limit=1000").expect(200);
    page["items"].as_array().expect("items").iter().find(|c| c["id"] == id).cloned().unwrap_or(Value::Null)
}

fn flags(v: &Value) -> Vec<String> {
    v["flags"].as_array().map(|f| f.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

fn near(v: &Value, expected_ms: i64) -> bool {
    v.as_i64().is_some_and(|ms| (ms - expected_ms).abs() <= TOLERANCE_MS)
}

#[test]
fn a_kiosk_an_hour_ahead_is_measured_and_its_checkins_flagged_but_counted() {
    let (mut central, org_key) = new_central();
    conference(&central, "conf");
    let fast = peer_node(&["--clock-offset-secs", "3600"]);
    let right = peer_node(&[]);
    for k in [&fast, &right] {
        enroll(&central, &org_key, k);
        sync(k);
    }
    let (fast_id, right_id, central_id) = (node_id(&fast), node_id(&right), node_id(&central));

    // Each side measured the other at the hello: the kiosk sees the central node an hour
    // behind, the central node sees the kiosk an hour ahead.
    let peers = fast.get("/v1/peers").expect(200);
    let clock = &peers["items"][0]["clock"];
    assert!(near(&clock["offset_ms"], -HOUR_MS), "{peers}");
    assert_eq!(clock["skewed"], true, "{peers}");
    assert!(clock["round_trip_ms"].as_i64().is_some_and(|rt| (0..TOLERANCE_MS).contains(&rt)), "{peers}");
    let status = central.get("/v1/sync/status").expect(200);
    assert_eq!(status["clock_skew_bound_secs"], 120);
    let clocks = status["clocks"].as_array().expect("clocks");
    let of = |id: &str| clocks.iter().find(|c| c["node_id"] == id).cloned().unwrap_or(Value::Null);
    assert!(near(&of(&fast_id)["offset_ms"], HOUR_MS), "{status}");
    assert_eq!(of(&fast_id)["skewed"], true, "{status}");
    assert!(near(&of(&right_id)["offset_ms"], 0), "{status}");
    assert_eq!(of(&right_id)["skewed"], false, "{status}");

    // In at the fast kiosk, out at the right one. The fast kiosk knows its own clock is off
    // against the central node's: its screen's answer shows it at once.
    let answer = fast.post("/v1/checkins", &checkin_body("in-1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    assert!(flags(&answer).contains(&"clock_skew".to_owned()), "{answer}");
    assert!(near(&answer["clock_skew"]["offset_ms"], HOUR_MS), "{answer}");
    let answer = right.post("/v1/checkins", &checkin_body("out-1", "conf", "s75", "M-1", "out", "15:15")).expect(201);
    assert!(!flags(&answer).contains(&"clock_skew".to_owned()), "{answer}");
    assert!(answer["clock_skew"].is_null(), "{answer}");
    sync(&fast);
    sync(&right);

    // On the central node: the fast kiosk's check-in is flagged with the offset measured
    // closest to its recording; the other is not; both count.
    let c = checkin(&central, "in-1");
    assert_eq!(c["kiosk_id"], fast_id.as_str());
    assert_eq!(flags(&c), ["clock_skew"], "{c}");
    assert!(near(&c["clock_skew"]["offset_ms"], HOUR_MS), "{c}");
    assert!(c["clock_skew"]["measured_at"].is_string(), "{c}");
    let c = checkin(&central, "out-1");
    assert!(flags(&c).is_empty() && c["clock_skew"].is_null(), "{c}");
    let att = central.get("/v1/members/M-1/attendance").expect(200);
    assert_eq!(att["items"][0]["cecs"], "1.25", "{att}");
    assert!(flags(&att["items"][0]).contains(&"clock_skew".to_owned()), "{att}");
    // The central node's derivation counts it too.
    let mut verified = Value::Null;
    for _ in 0..100 {
        verified = central.get("/v1/members/M-1/cecs").expect(200)["verified_cecs"].clone();
        if verified == "1.25" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(verified, "1.25");

    // The right kiosk got in-1 from the central node but never measured the fast kiosk:
    // offsets are known only for nodes measured directly, so nothing is claimed there.
    let c = checkin(&right, "in-1");
    assert!(c["clock_skew"].is_null() && flags(&c).is_empty(), "{c}");
    assert_eq!(right.get("/v1/members/M-1/attendance").expect(200)["items"][0]["cecs"], "1.25");
    // Its own clock agrees with the central node's.
    let peers = right.get("/v1/peers").expect(200);
    assert!(near(&peers["items"][0]["clock"]["offset_ms"], 0), "{peers}");
    assert_eq!(peers["items"][0]["peer_id"], central_id.as_str());

    // A wider bound: the same offset no longer flags anything (the flag is derived when read).
    central.terminate();
    std::fs::write(central.data_dir().join("cecd.toml"), "sync_interval_secs = 0\nclock_skew_bound_secs = 7200\n")
        .expect("cecd.toml");
    central.restart();
    let c = checkin(&central, "in-1");
    assert!(c["clock_skew"].is_null() && flags(&c).is_empty(), "{c}");
    let status = central.get("/v1/sync/status").expect(200);
    assert_eq!(status["clock_skew_bound_secs"], 7200);
    assert!(status["clocks"].as_array().expect("clocks").iter().all(|c| c["skewed"] == false), "{status}");
}
