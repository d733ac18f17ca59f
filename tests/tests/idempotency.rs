//! Creates are idempotent by id: the same body again answers 200 with the stored object, a
//! different body 409; a retry changes nothing (not even the change feed).

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference, event_body, session_body};
use serde_json::{Value, json};

fn feed_cursor(node: &Node) -> String {
    let mut cursor = "0".to_owned();
    loop {
        let page = node.get(&format!("/v1/changes?since={cursor}&limit=1000")).expect(200);
        let next = page["cursor"].as_str().expect("cursor").to_owned();
        if next == cursor {
            return cursor;
        }
        cursor = next;
    }
}

#[test]
fn events_sessions_and_rosters() {
    let node = Node::start();
    let body = event_body("e1");
    let first = node.post("/v1/events", &body).expect(201);
    let before = feed_cursor(&node);
    assert_eq!(node.post("/v1/events", &body).expect(200), first);
    // The documented default, spelled out, is the same event.
    let mut explicit = body.clone();
    explicit["policy"] = json!({"grace_minutes": 0, "full_attendance_required": false});
    assert_eq!(node.post("/v1/events", &explicit).expect(200), first);
    let mut other = body.clone();
    other["title"] = json!("Another title");
    node.post("/v1/events", &other).expect_error(409, "conflict");
    let mut endorsement = body.clone();
    endorsement["provider"]["endorsement"]["number"] = json!("ACA-EEP-10");
    node.post("/v1/events", &endorsement).expect_error(409, "conflict");
    assert_eq!(node.get("/v1/events/e1").expect(200), first, "the stored event is unchanged");

    let s = session_body("s1", "ethics", "14:00", json!([{"kind": "instruction", "minutes": 75}]));
    let created = node.post("/v1/events/e1/sessions", &s).expect(201);
    assert_eq!(node.post("/v1/events/e1/sessions", &s).expect(200), created);
    let mut longer = s.clone();
    longer["segments"] = json!([{"kind": "instruction", "minutes": 90}]);
    node.post("/v1/events/e1/sessions", &longer).expect_error(409, "conflict");
    let mut moved = s.clone();
    moved["starts_at"] = json!("2026-04-16T15:00:00Z");
    node.post("/v1/events/e1/sessions", &moved).expect_error(409, "conflict");
    assert_eq!(node.get("/v1/events/e1/sessions/s1").expect(200), created);

    let roster = json!({"members": [{"member_id": "M-1", "name": "Ana"}]});
    let r1 = node.post("/v1/events/e1/roster", &roster).expect(200);
    let after_roster = feed_cursor(&node);
    assert_eq!(node.post("/v1/events/e1/roster", &roster).expect(200), r1);
    assert_eq!(r1["members"].as_array().map(Vec::len), Some(1));
    assert_eq!(node.get("/v1/events/e1").expect(200)["roster_count"], 1);
    assert_eq!(feed_cursor(&node), after_roster, "the same roster again is no change");
    assert!(after_roster.parse::<u64>().expect("cursor") > before.parse::<u64>().expect("cursor"));
}

#[test]
fn checkins() {
    let node = Node::start();
    conference(&node, "conf");
    let body = checkin_body("c1", "conf", "s75", "M-1", "in", "14:00");
    let first = node.post("/v1/checkins", &body).expect(201);
    let cursor = feed_cursor(&node);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let again = node.post("/v1/checkins", &body).expect(200);
    assert_eq!(again, first, "the stored check-in, recorded_at included");
    // A kiosk retrying without `at` or `method` (the node filled them in) is the same check-in.
    let mut no_at = body.clone();
    no_at.as_object_mut().expect("object").remove("at");
    assert_eq!(node.post("/v1/checkins", &no_at).expect(200), first);
    no_at.as_object_mut().expect("object").remove("method");
    assert_eq!(node.post("/v1/checkins", &no_at).expect(200), first);
    // A check-in made without `at`, retried without `at` later.
    let bare = json!({"id": "c-now", "event_id": "conf", "session_id": "s75", "member_id": "M-2", "direction": "in"});
    let made = node.post("/v1/checkins", &bare).expect(201);
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(node.post("/v1/checkins", &bare).expect(200), made);

    for (field, value) in [
        ("direction", json!("out")),
        ("member_id", json!("M-2")),
        ("at", json!("2026-04-16T14:01:00Z")),
        ("method", json!("qr")),
    ] {
        let mut changed = body.clone();
        changed[field] = value;
        node.post("/v1/checkins", &changed).expect_error(409, "conflict");
    }
    // Another session keeps its check-ins in another document, but ids are one namespace.
    let mut elsewhere = body.clone();
    elsewhere["session_id"] = json!("s120");
    node.post("/v1/checkins", &elsewhere).expect_error(409, "conflict");
    let batch = json!({"checkins": [elsewhere]});
    let out = node.post("/v1/checkins/batch", &batch).expect(200);
    assert_eq!(out["results"][0]["status"], 409, "{out}");
    let twice = json!({"checkins": [
        checkin_body("dup", "conf", "s120", "M-1", "in", "15:30"),
        checkin_body("dup", "conf", "lunch", "M-1", "in", "17:00"),
    ]});
    let out = node.post("/v1/checkins/batch", &twice).expect(200);
    let statuses: Vec<u64> =
        out["results"].as_array().expect("results").iter().filter_map(|r| r["status"].as_u64()).collect();
    assert_eq!(statuses, [201, 409], "{out}");
    let sessions: Vec<String> = node.get("/v1/members/M-1/attendance").expect(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["session_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(sessions, ["s120", "s75"], "every stored check-in counts");
    node.post("/v1/checkins", &checkin_body("dup", "conf", "s120", "M-1", "in", "15:30")).expect(200);

    // In a batch: the same rules per item.
    let batch = json!({"checkins": [body, checkin_body("c1", "conf", "s75", "M-1", "out", "14:00"), bare]});
    let out = node.post("/v1/checkins/batch", &batch).expect(200);
    let statuses: Vec<u64> =
        out["results"].as_array().expect("results").iter().filter_map(|r| r["status"].as_u64()).collect();
    assert_eq!(statuses, [200, 409, 200], "{out}");
    assert_eq!(out["results"][0]["checkin"], first);
    let listed = node.get("/v1/checkins?session_id=s75").expect(200);
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(2), "{listed}");
    assert_eq!(node.get("/v1/checkins").expect(200)["items"].as_array().map(Vec::len), Some(3));
    assert!(feed_cursor(&node).parse::<u64>().expect("cursor") > cursor.parse::<u64>().expect("cursor"));
}

#[test]
fn entries_and_petitions() {
    let node = Node::start();
    let entry = json!({"id": "a1", "kind": "activity", "title": "Reading", "date": "2026-02-01", "cecs": "1.5",
                       "category": "ethics"});
    let first = node.post("/v1/portfolios/M-1/entries", &entry).expect(201);
    let cursor = feed_cursor(&node);
    assert_eq!(node.post("/v1/portfolios/M-1/entries", &entry).expect(200), first);
    let mut spelled = entry.clone();
    spelled["cecs"] = json!("1.50");
    assert_eq!(node.post("/v1/portfolios/M-1/entries", &spelled).expect(200), first, "credit compares numerically");
    assert_eq!(feed_cursor(&node), cursor, "retries are no change");
    for (field, value) in [("title", json!("Writing")), ("cecs", json!("2")), ("date", json!("2026-02-02"))] {
        let mut changed = entry.clone();
        changed[field] = value;
        node.post("/v1/portfolios/M-1/entries", &changed).expect_error(409, "conflict");
    }
    // The same entry id for another member is another entry.
    node.post("/v1/portfolios/M-2/entries", &entry).expect(201);

    let petition = json!({"id": "p1", "target_association": "Board", "record_ids": ["a1"], "note": "n"});
    let made = node.post("/v1/portfolios/M-1/petitions", &petition).expect(201);
    assert_eq!(node.post("/v1/portfolios/M-1/petitions", &petition).expect(200), made);
    let mut other = petition.clone();
    other["note"] = json!("different");
    node.post("/v1/portfolios/M-1/petitions", &other).expect_error(409, "conflict");
    // Once submitted, repeating the create still answers the stored petition, as it is now.
    node.patch("/v1/portfolios/M-1/petitions/p1", &json!({"status": "submitted"})).expect(200);
    let again = node.post("/v1/portfolios/M-1/petitions", &petition).expect(200);
    assert_eq!(again["status"], "submitted");
    let items = node.get("/v1/portfolios/M-1/petitions").expect(200)["items"].clone();
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    let entries: Vec<Value> =
        node.get("/v1/portfolios/M-1").expect(200)["entries"].as_array().expect("entries").clone();
    assert_eq!(entries, [first]);
}
