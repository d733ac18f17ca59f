//! What is acknowledged survives: a clean restart keeps everything, and `kill -9` right after an
//! answer loses nothing that was answered.

use std::collections::BTreeSet;
use std::sync::Mutex;

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference, list_all};
use serde_json::{Value, json};

/// What a client sees of the node's state, for comparing across restarts.
fn snapshot(node: &Node) -> Vec<(String, Value)> {
    let paths = [
        "/v1/events",
        "/v1/events/conf",
        "/v1/events/conf/sessions",
        "/v1/events/conf/roster",
        "/v1/checkins?limit=1000",
        "/v1/members/M-1/attendance",
        "/v1/members/M-2/attendance",
        "/v1/members/M-1/cecs",
        "/v1/portfolios/M-1",
        "/v1/portfolios/M-1/goals",
        "/v1/portfolios/M-1/requirements",
        "/v1/portfolios/M-1/petitions",
        "/v1/portfolios/M-1/transcript",
        "/v1/changes?limit=1000",
    ];
    paths.iter().map(|p| ((*p).to_owned(), node.get(p).expect(200))).collect()
}

#[test]
fn restart_keeps_everything() {
    let mut node = Node::start();
    conference(&node, "conf");
    let scans = [
        checkin_body("r1", "conf", "s75", "M-1", "in", "14:00"),
        checkin_body("r2", "conf", "s75", "M-1", "out", "14:50"),
        checkin_body("r3", "conf", "lunch", "M-1", "in", "17:00"),
        checkin_body("r4", "conf", "s120", "M-2", "in", "15:40"),
    ];
    node.post("/v1/checkins/batch", &json!({"checkins": scans})).expect(200);
    let entry = json!({"id": "e1", "kind": "activity", "title": "Reading", "date": "2026-02-01", "cecs": "1"});
    node.post("/v1/portfolios/M-1/entries", &entry).expect(201);
    node.patch("/v1/portfolios/M-1/entries/e1", &json!({"title": "Reading, revised"})).expect(200);
    node.post("/v1/portfolios/M-1/entries", &json!({"id": "gone", "kind": "note", "title": "x", "date": "2026-02-02"}))
        .expect(201);
    node.delete("/v1/portfolios/M-1/entries/gone").expect(204);
    node.put(
        "/v1/portfolios/M-1/goals/g",
        &json!({"title": "g", "target_cecs": "2", "start": "2026-01-01", "due": "2026-12-31"}),
    )
    .expect(200);
    node.put(
        "/v1/portfolios/M-1/requirements/r",
        &json!({"title": "r", "window_start": "2026-01-01", "window_end": "2027-12-31", "total_cecs": "6",
                "minimums": {"ethics": "3"}}),
    )
    .expect(200);
    node.post(
        "/v1/portfolios/M-1/petitions",
        &json!({"id": "p", "target_association": "B", "record_ids": ["conf/s75", "e1"]}),
    )
    .expect(201);
    node.patch("/v1/portfolios/M-1/petitions/p", &json!({"status": "submitted"})).expect(200);
    let blob = node.authed("PUT", "/v1/blobs").body(vec![7u8; 10_000]).send().expect(201);
    let node_info = node.get("/v1/node").expect(200);
    let before = snapshot(&node);
    let cecs = &before.iter().find(|(p, _)| p.ends_with("/cecs")).expect("cecs").1;
    assert_eq!((cecs["verified_cecs"].as_str(), cecs["total_cecs"].as_str()), (Some("1.25"), Some("2.25")), "{cecs}");

    let status = node.terminate();
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
    assert!(!node.data_dir().join("api-url").exists(), "a stopped node takes its api-url away");
    node.restart();

    let after = snapshot(&node);
    for ((path, b), (_, a)) in before.iter().zip(&after) {
        assert_eq!(a, b, "{path} changed across a restart");
    }
    let info = node.get("/v1/node").expect(200);
    for key in ["node_id", "public_key", "data_dir"] {
        assert_eq!(info[key], node_info[key], "{key}");
    }
    let stored = node.get(&format!("/v1/blobs/{}", blob["sha256"].as_str().expect("sha256")));
    assert_eq!((stored.status, stored.body.len()), (200, 10_000));
    // The node goes on from where it was: new ids, new feed entries after the old cursor.
    let cursor: u64 =
        before.last().expect("changes").1["cursor"].as_str().and_then(|c| c.parse().ok()).expect("cursor");
    node.post("/v1/checkins", &checkin_body("r5", "conf", "lunch", "M-1", "out", "18:30")).expect(201);
    let feed = node.get(&format!("/v1/changes?since={cursor}")).expect(200);
    assert_eq!(feed["changes"][0]["id"], "r5", "{feed}");
    let att = node.get("/v1/members/M-1/attendance").expect(200);
    let lunch = att["items"].as_array().expect("items").iter().find(|i| i["session_id"] == "lunch").expect("lunch");
    assert_eq!((lunch["cecs"].as_str(), lunch["flags"].clone()), (Some("0.5"), json!([])), "checked out now: {att}");
}

/// Member `i` stays `10 + i % 66` minutes in the 75-minute session `s75`.
fn expected_cecs(i: usize) -> String {
    let minutes = 10 + i % 66;
    let quarters = minutes / 15;
    let s = format!("{}.{:02}", quarters / 4, (quarters % 4) * 25);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[test]
fn kill9_loses_no_acknowledged_checkin() {
    const MEMBERS: usize = 100;
    const THREADS: usize = 8;
    const BATCHED: usize = 25; // members 100..125 arrive in batches of 5 members (10 check-ins)
    let mut node = Node::start();
    conference(&node, "conf");
    let acked: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let body = |i: usize, dir: &str| {
        let at = if dir == "in" {
            "14:00".to_owned()
        } else {
            format!("{:02}:{:02}", 14 + (10 + i % 66) / 60, (10 + i % 66) % 60)
        };
        checkin_body(&format!("k{i:03}-{dir}"), "conf", "s75", &format!("M-{i}"), dir, &at)
    };
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (acked, body, node) = (&acked, &body, &node);
            s.spawn(move || {
                for i in (t..MEMBERS).step_by(THREADS) {
                    for dir in ["in", "out"] {
                        let r = node.post("/v1/checkins", &body(i, dir));
                        if r.status == 201 {
                            acked.lock().expect("lock").insert(format!("k{i:03}-{dir}"));
                        }
                    }
                }
            });
        }
        let (acked, body, node) = (&acked, &body, &node);
        s.spawn(move || {
            for chunk in (MEMBERS..MEMBERS + BATCHED).collect::<Vec<_>>().chunks(5) {
                let items: Vec<Value> = chunk.iter().flat_map(|&i| [body(i, "in"), body(i, "out")]).collect();
                let r = node.post("/v1/checkins/batch", &json!({"checkins": items})).expect(200);
                for item in r["results"].as_array().expect("results") {
                    if item["status"] == 201 {
                        acked.lock().expect("lock").insert(item["checkin"]["id"].as_str().expect("id").to_owned());
                    }
                }
            }
        });
    });
    node.kill9();
    let acked = acked.into_inner().expect("lock");
    assert_eq!(acked.len(), 2 * (MEMBERS + BATCHED), "every check-in was acknowledged");

    node.restart();
    let listed: BTreeSet<String> = list_all(&node, "/v1/checkins?session_id=s75", 1000)
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    let lost: Vec<&String> = acked.difference(&listed).collect();
    assert!(lost.is_empty(), "acknowledged, then lost to kill -9: {lost:?}");
    for i in 0..MEMBERS + BATCHED {
        let att = node.get(&format!("/v1/members/M-{i}/attendance?event_id=conf")).expect(200);
        let item = &att["items"][0];
        assert_eq!(item["attended_minutes"].as_u64(), Some((10 + i % 66) as u64), "M-{i}: {att}");
        assert_eq!(item["cecs"].as_str(), Some(expected_cecs(i).as_str()), "M-{i}: {att}");
    }
}

#[test]
fn kill9_right_after_single_writes() {
    let mut node = Node::start();
    conference(&node, "conf");
    for (round, want) in ["0.5", "1", "1.5"].into_iter().enumerate() {
        let entry = json!({"id": format!("e{round}"), "kind": "activity", "title": "Course", "date": "2026-03-01",
                           "cecs": "0.5"});
        node.post("/v1/portfolios/M-1/entries", &entry).expect(201);
        node.kill9();
        node.restart();
        let p = node.get("/v1/portfolios/M-1").expect(200);
        let n = p["entries"].as_array().map(Vec::len);
        assert_eq!(n, Some(round + 1), "round {round}: {p}");
        assert_eq!(p["totals"]["self_reported_cecs"].as_str(), Some(want), "round {round}");
    }
    node.put("/v1/portfolios/M-1/goals/g", &json!({"title": "g", "target_cecs": "1", "due": "2030-01-01"})).expect(200);
    node.kill9();
    node.restart();
    assert_eq!(node.get("/v1/portfolios/M-1/goals").expect(200)["items"].as_array().map(Vec::len), Some(1));
    node.post("/v1/checkins", &checkin_body("solo", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    node.kill9();
    node.restart();
    assert_eq!(node.get("/v1/checkins").expect(200)["items"][0]["id"], "solo");
    assert_eq!(node.get("/v1/members/M-1/attendance").expect(200)["items"][0]["cecs"], "1.25");
}

#[test]
fn kill9_mid_stream_keeps_every_acknowledged_checkin() {
    const THREADS: usize = 6;
    let mut node = Node::start();
    conference(&node, "conf");
    let acked: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (acked, node) = (&acked, &node);
            s.spawn(move || {
                for i in 0..1000 {
                    let id = format!("m{t}-{i:04}");
                    let body = checkin_body(&id, "conf", "s120", &format!("M-{t}"), "in", "15:30");
                    match node.authed("POST", "/v1/checkins").json(&body).try_send() {
                        Ok(r) if r.status == 201 => {
                            acked.lock().expect("lock").insert(id);
                        }
                        Ok(r) => panic!("{id}: {} {}", r.status, r.text()),
                        Err(_) => return, // the node is gone
                    }
                }
            });
        }
        // Kill while every thread still has requests in flight.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while acked.lock().expect("lock").len() < 150 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        node.sigkill_now();
    });
    node.kill9();
    let acked = acked.into_inner().expect("lock");
    assert!(acked.len() >= 150 && acked.len() < THREADS * 1000, "killed mid-stream after {} acks", acked.len());
    node.restart();
    let listed: BTreeSet<String> = list_all(&node, "/v1/checkins?session_id=s120", 1000)
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect();
    let lost: Vec<&String> = acked.difference(&listed).collect();
    assert!(lost.is_empty(), "acknowledged, then lost to kill -9: {lost:?}");
    // The node works on: the index and the documents agree.
    node.post("/v1/checkins", &checkin_body("after", "conf", "s120", "M-0", "out", "16:30")).expect(201);
    let att = node.get("/v1/members/M-0/attendance").expect(200);
    assert_eq!(att["items"][0]["cecs"], "1", "{att}");
}

/// SIGTERM ends open long polls at once (answered, not cut off) instead of waiting them out.
#[test]
fn sigterm_ends_long_polls_promptly() {
    let mut node = Node::start();
    let cursor = node.get("/v1/changes").json()["cursor"].as_str().expect("cursor").to_owned();
    let addr = node.addr();
    let token = node.token().to_owned();
    let poll = std::thread::spawn(move || {
        cec_e2e::http::Request::new(addr, "GET", &format!("/v1/changes?since={cursor}&wait=30"))
            .header("authorization", &format!("Bearer {token}"))
            .send()
    });
    // Let the poll reach the node before the signal.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let start = std::time::Instant::now();
    let status = node.terminate();
    let took = start.elapsed();
    assert!(status.success(), "clean exit: {status:?}");
    assert!(took < std::time::Duration::from_secs(5), "shutdown waited {took:?} for a long poll");
    let resp = poll.join().expect("poll thread");
    assert_eq!(resp.status, 200, "the long poll is answered");
}
