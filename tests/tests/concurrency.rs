//! Many clients at once: one document written from many threads keeps every write, and racing
//! creates of one id agree on a single winner.

use std::sync::Mutex;

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference, event_body};
use serde_json::json;

#[test]
fn parallel_writes_to_one_portfolio_and_one_session() {
    let node = Node::start();
    conference(&node, "conf");
    std::thread::scope(|s| {
        for t in 0..6 {
            let node = &node;
            s.spawn(move || {
                for i in 0..10 {
                    let entry = json!({"id": format!("e{t}-{i}"), "kind": "activity", "title": "x",
                                       "date": "2026-02-01", "cecs": "0.25"});
                    node.post("/v1/portfolios/M-1/entries", &entry).expect(201);
                    let c = checkin_body(&format!("c{t}-{i}"), "conf", "s75", &format!("M-{t}"), "in", "14:00");
                    node.post("/v1/checkins", &c).expect(201);
                }
            });
        }
    });
    let p = node.get("/v1/portfolios/M-1").expect(200);
    assert_eq!(p["entries"].as_array().map(Vec::len), Some(60));
    assert_eq!(p["totals"]["self_reported_cecs"], "15");
    let listed = node.get("/v1/checkins?session_id=s75&limit=1000").expect(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(60));
}

#[test]
fn racing_creates_of_one_id() {
    let node = Node::start();
    for round in 0..3 {
        let id = format!("race-{round}");
        let same: Mutex<Vec<u16>> = Mutex::new(Vec::new());
        let differing: Mutex<Vec<u16>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..8 {
                let (node, id, same, differing) = (&node, &id, &same, &differing);
                s.spawn(move || {
                    let r = node.post("/v1/events", &event_body(id));
                    same.lock().expect("lock").push(r.status);
                    let mut other = event_body(&format!("{id}-x"));
                    other["title"] = json!(format!("title {t}"));
                    let r = node.post("/v1/events", &other);
                    differing.lock().expect("lock").push(r.status);
                });
            }
        });
        let mut same = same.into_inner().expect("lock");
        same.sort_unstable();
        assert_eq!(same, [200, 200, 200, 200, 200, 200, 200, 201], "same body: one creates, the rest see it");
        let mut differing = differing.into_inner().expect("lock");
        differing.sort_unstable();
        assert_eq!(differing, [201, 409, 409, 409, 409, 409, 409, 409], "different bodies: one wins");
    }
    assert_eq!(node.get("/v1/events").expect(200)["items"].as_array().map(Vec::len), Some(6));
}
