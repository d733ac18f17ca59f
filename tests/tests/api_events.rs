//! Happy paths: node, events, sessions, rosters, check-ins, attendance, credit, change feed.

use std::time::{Duration, Instant};

use cec_e2e::Node;
use cec_e2e::fixtures::{at, checkin_body, conference, event_body, session_body};
use serde_json::{Value, json};

fn ids(items: &Value) -> Vec<&str> {
    items.as_array().expect("array").iter().map(|i| i["id"].as_str().expect("id")).collect()
}

#[test]
fn node_events_sessions_and_roster() {
    let node = Node::start();

    let health = node.request("GET", "/v1/health").send().expect(200);
    assert_eq!(health["status"], "ok");
    assert!(health["version"].as_str().is_some_and(|v| !v.is_empty()), "{health}");
    assert!(health["role"].is_string(), "{health}");
    let info = node.get("/v1/node").expect(200);
    assert_eq!(info["node_id"], health["node_id"]);
    assert_eq!(info["role"], health["role"]);
    let key = info["public_key"].as_str().expect("public_key");
    assert!(key.len() >= 43 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'), "{key}");
    assert!(info["org_public_key"].is_null() && info["credential"].is_null(), "{info}");
    assert_eq!(info["listen"], node.addr().to_string());
    assert_eq!(info["data_dir"], node.data_dir().display().to_string());

    let created = node.post("/v1/events", &event_body("conf-1")).expect(201);
    assert_eq!(created["id"], "conf-1");
    assert_eq!(created["provider"]["endorsement"]["number"], "ACA-EEP-9");
    assert_eq!(created["policy"], json!({"grace_minutes": 0, "full_attendance_required": false}));
    let mut no_id = event_body("x");
    no_id.as_object_mut().expect("object").remove("id");
    let made = node.post("/v1/events", &no_id).expect(201);
    let made_id = made["id"].as_str().expect("id");
    assert_eq!((made_id.len(), made_id.as_bytes()[14]), (36, b'7'), "a UUIDv7: {made_id}");
    let list = node.get("/v1/events").expect(200);
    let mut listed = ids(&list["items"]);
    listed.sort_unstable();
    let mut want = vec!["conf-1", made_id];
    want.sort_unstable();
    assert_eq!(listed, want);
    assert!(list["next_cursor"].is_null());
    assert_eq!(node.get("/v1/events/conf-1").expect(200), created);

    // The source's examples: creditable minutes (a number) and the most CECs (a string).
    let cases = [
        ("s75", "14:00", json!([{"kind": "instruction", "minutes": 75}]), 75, "1.25"),
        ("s120", "15:30", json!([{"kind": "instruction", "minutes": 120}]), 120, "2"),
        (
            "lunch",
            "17:00",
            json!([{"kind": "meal", "minutes": 30}, {"kind": "keynote", "minutes": 30}, {"kind": "meal", "minutes": 30}]),
            30,
            "0.5",
        ),
        (
            "workshop",
            "19:00",
            json!([{"kind": "instruction", "minutes": 60}, {"kind": "practice", "minutes": 30}]),
            90,
            "1.5",
        ),
        ("forum", "21:00", json!([{"kind": "open_forum", "minutes": 90}]), 0, "0"),
    ];
    for (id, start, segments, minutes, max) in &cases {
        let s =
            node.post("/v1/events/conf-1/sessions", &session_body(id, "general", start, segments.clone())).expect(201);
        assert_eq!(s["creditable_minutes"], *minutes, "{s}");
        assert_eq!(s["max_cecs"], *max, "max_cecs must be a decimal string: {s}");
        assert_eq!(s["event_id"], "conf-1");
        assert_eq!(s["starts_at"], at(start));
        assert_eq!(s["format"], "in_person");
    }
    let mut webinar = session_body("webinar", "risk", "23:00", json!([{"kind": "instruction", "minutes": 45}]));
    webinar["format"] = json!("online_live");
    let w = node.post("/v1/events/conf-1/sessions", &webinar).expect(201);
    assert_eq!((w["max_cecs"].as_str(), w["format"].as_str()), (Some("0.75"), Some("online_live")));
    assert_eq!(w["ends_at"], "2026-04-16T23:45:00Z");

    let sessions = node.get("/v1/events/conf-1/sessions").expect(200);
    assert_eq!(ids(&sessions["items"]), ["s75", "s120", "lunch", "workshop", "forum", "webinar"], "by start time");
    let lunch = node.get("/v1/events/conf-1/sessions/lunch").expect(200);
    assert_eq!((lunch["creditable_minutes"].as_u64(), lunch["max_cecs"].as_str()), (Some(30), Some("0.5")));
    assert_eq!(lunch["ends_at"], "2026-04-16T18:30:00Z");
    assert_eq!(lunch["segments"].as_array().map(Vec::len), Some(3));

    let roster = json!({"members": [
        {"member_id": "M-1", "name": "Ana Ortiz", "email": "ana@example.org"},
        {"member_id": "M-2", "name": "Zoë Müller"}
    ]});
    let got = node.post("/v1/events/conf-1/roster", &roster).expect(200);
    assert_eq!(got["members"].as_array().map(Vec::len), Some(2), "{got}");
    node.post("/v1/events/conf-1/roster", &json!({"members": [{"member_id": "M-3", "name": "José"}]})).expect(200);
    let got = node.get("/v1/events/conf-1/roster").expect(200);
    let names: Vec<&str> =
        got["members"].as_array().expect("members").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "rosters add up: {got}");
    assert!(names.contains(&"Zoë Müller"), "UTF-8 kept: {got}");
    let event = node.get("/v1/events/conf-1").expect(200);
    assert_eq!((event["session_count"].as_u64(), event["roster_count"].as_u64()), (Some(6), Some(3)));
}

#[test]
fn checkins_single_batch_and_listing() {
    let node = Node::start();
    conference(&node, "conf");
    let node_id = node.get("/v1/node").expect(200)["node_id"].clone();

    let c = node.post("/v1/checkins", &checkin_body("c1", "conf", "s75", "M-1", "in", "14:00")).expect(201);
    assert_eq!(c["kiosk_id"], node_id);
    assert_eq!(c["member_name"], "Ana");
    assert_eq!(c["at"], at("14:00"));
    assert_eq!(c["flags"], json!([]));
    let recorded = c["recorded_at"].as_str().expect("recorded_at");
    assert!(recorded.ends_with('Z') && recorded.len() >= 20, "UTC: {recorded}");
    // An offset in the request comes back in UTC.
    let mut offset = checkin_body("c2", "conf", "s75", "M-1", "out", "00:00");
    offset["at"] = json!("2026-04-16T16:55:00+02:00");
    let c2 = node.post("/v1/checkins", &offset).expect(201);
    assert_eq!(c2["at"], at("14:55"));
    // No id, no at, no method: the node fills them in.
    let bare = node
        .post(
            "/v1/checkins",
            &json!({"event_id": "conf", "session_id": "lunch", "member_id": "M-2", "direction": "in"}),
        )
        .expect(201);
    assert_eq!(bare["id"].as_str().map(str::len), Some(36));
    assert!(bare["at"].as_str().is_some_and(|a| a.ends_with('Z')), "{bare}");
    // Not on the roster: accepted and flagged.
    let stranger = node.post("/v1/checkins", &checkin_body("c3", "conf", "s75", "M-99", "in", "14:01")).expect(201);
    assert_eq!(stranger["flags"], json!(["unknown_member"]));
    assert!(stranger["member_name"].is_null());

    let batch = json!({"checkins": [
        checkin_body("b1", "conf", "s120", "M-1", "in", "15:30"),
        checkin_body("b2", "conf", "s120", "M-1", "sideways", "15:31"),
        checkin_body("b3", "conf", "no-such-session", "M-1", "in", "15:30"),
        checkin_body("b4", "no-such-event", "s120", "M-1", "in", "15:30"),
        checkin_body("c1", "conf", "s75", "M-1", "in", "14:00"),
        {"id": "b6", "event_id": "conf", "session_id": "s120", "direction": "in"},
        checkin_body("b7", "conf", "s120", "M-2", "in", "15:35"),
        checkin_body("c1", "conf", "s75", "M-2", "in", "14:00"),
    ]});
    let out = node.post("/v1/checkins/batch", &batch).expect(200);
    let results = out["results"].as_array().expect("results");
    let statuses: Vec<u64> = results.iter().map(|r| r["status"].as_u64().expect("status")).collect();
    assert_eq!(statuses, [201, 422, 404, 404, 200, 422, 201, 409], "{out}");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
        if r["status"].as_u64().is_some_and(|s| s < 300) {
            assert!(r["checkin"]["kiosk_id"] == node_id && r["error"].is_null(), "{r}");
        } else {
            assert!(r["checkin"].is_null() && r["error"]["code"].is_string(), "{r}");
        }
    }
    assert_eq!(results[1]["error"]["field"], "direction");
    assert_eq!(results[2]["error"]["code"], "not_found");
    assert_eq!(results[7]["error"]["code"], "conflict");

    let all = node.get("/v1/checkins").expect(200);
    let mut all_ids = ids(&all["items"]);
    assert_eq!(all_ids.len(), 6, "{all}");
    all_ids.retain(|i| i.len() < 36);
    assert_eq!(all_ids, ["b1", "b7", "c1", "c2", "c3"], "ordered by id");
    let by_session = node.get("/v1/checkins?session_id=s75").expect(200);
    assert_eq!(ids(&by_session["items"]), ["c1", "c2", "c3"]);
    let by_member = node.get("/v1/checkins?member_id=M-1").expect(200);
    assert_eq!(ids(&by_member["items"]), ["b1", "c1", "c2"]);
    let both = node.get("/v1/checkins?event_id=conf&session_id=s120&member_id=M-2").expect(200);
    assert_eq!(ids(&both["items"]), ["b7"]);
    assert_eq!(both["items"][0]["member_name"], "Ben");
    let none = node.get("/v1/checkins?event_id=other").expect(200);
    assert_eq!((none["items"].as_array().map(Vec::len), &none["next_cursor"]), (Some(0), &Value::Null));
}

#[test]
fn attendance_and_credit() {
    let node = Node::start();
    conference(&node, "conf");
    let scans = [
        ("a1", "s75", "in", "14:00"),
        ("a2", "s75", "out", "14:55"), // 55 of 75 minutes: 0.75
        ("a3", "s120", "in", "15:30"), // no checkout: to the end, 2
        ("a4", "lunch", "in", "17:00"),
        ("a5", "lunch", "out", "18:30"), // the keynote only: 0.5
        ("a6", "forum", "in", "21:00"),
        ("a7", "forum", "out", "22:30"), // open forum: 0
    ];
    let batch: Vec<Value> = scans.iter().map(|(id, s, d, t)| checkin_body(id, "conf", s, "M-1", d, t)).collect();
    node.post("/v1/checkins/batch", &json!({"checkins": batch})).expect(200);
    // An event without an endorsement: attendance is kept, credit is not verified.
    let mut plain = event_body("plain");
    plain["provider"]["endorsement"] = Value::Null;
    node.post("/v1/events", &plain).expect(201);
    node.post(
        "/v1/events/plain/sessions",
        &session_body("p1", "ethics", "09:00", json!([{"kind": "instruction", "minutes": 60}])),
    )
    .expect(201);
    node.post("/v1/checkins", &checkin_body("p-in", "plain", "p1", "M-1", "in", "09:00")).expect(201);
    node.post("/v1/checkins", &checkin_body("p-out", "plain", "p1", "M-1", "out", "10:00")).expect(201);
    // An endorsement that lapsed before the session, and a door policy of all or nothing.
    let mut lapsed = event_body("lapsed");
    lapsed["provider"]["endorsement"]["valid_until"] = json!("2026-04-15");
    lapsed["policy"] = json!({"grace_minutes": 0, "full_attendance_required": true});
    node.post("/v1/events", &lapsed).expect(201);
    let hour = json!([{"kind": "instruction", "minutes": 60}]);
    node.post("/v1/events/lapsed/sessions", &session_body("l1", "ethics", "09:00", hour)).expect(201);
    for (id, member, dir, t) in [
        ("l-1", "M-1", "in", "09:00"),
        ("l-2", "M-1", "out", "10:00"),
        ("l-3", "M-2", "in", "09:00"),
        ("l-4", "M-2", "out", "09:55"),
    ] {
        node.post("/v1/checkins", &checkin_body(id, "lapsed", "l1", member, dir, t)).expect(201);
    }
    node.post(
        "/v1/portfolios/M-1/entries",
        &json!({"id": "read-1", "kind": "activity", "title": "Reading", "date": "2026-03-01", "cecs": "1.5", "category": "ethics"}),
    )
    .expect(201);

    let att = node.get("/v1/members/M-1/attendance?event_id=conf").expect(200);
    let items = att["items"].as_array().expect("items");
    let find = |sid: &str| items.iter().find(|i| i["session_id"] == sid).unwrap_or_else(|| panic!("{sid}: {att}"));
    assert_eq!(items.len(), 4, "{att}");
    let s75 = find("s75");
    assert_eq!((s75["attended_minutes"].as_u64(), s75["creditable_minutes"].as_u64()), (Some(55), Some(55)));
    assert_eq!((s75["cecs"].as_str(), s75["max_cecs"].as_str()), (Some("0.75"), Some("1.25")));
    assert_eq!(s75["verified"], true);
    assert!(s75["flags"].as_array().expect("flags").contains(&json!("partial_attendance")), "{s75}");
    assert!(s75["reason"].as_str().is_some_and(|r| r.contains("55")), "{s75}");
    let s120 = find("s120");
    assert_eq!(s120["cecs"], "2");
    assert!(s120["flags"].as_array().expect("flags").contains(&json!("no_checkout")), "{s120}");
    let lunch = find("lunch");
    assert_eq!((lunch["attended_minutes"].as_u64(), lunch["creditable_minutes"].as_u64()), (Some(90), Some(30)));
    assert_eq!(lunch["cecs"], "0.5");
    assert_eq!(find("forum")["cecs"], "0");
    let every = node.get("/v1/members/M-1/attendance").expect(200);
    let p1 = every["items"].as_array().expect("items").iter().find(|i| i["event_id"] == "plain").expect("plain");
    assert_eq!((p1["cecs"].as_str(), p1["verified"].as_bool()), (Some("1"), Some(false)));
    assert!(p1["reason"].as_str().is_some_and(|r| !r.is_empty()), "{p1}");
    let l1 = every["items"].as_array().expect("items").iter().find(|i| i["event_id"] == "lapsed").expect("lapsed");
    assert_eq!((l1["cecs"].as_str(), l1["verified"].as_bool()), (Some("1"), Some(false)), "{l1}");
    assert!(l1["reason"].as_str().is_some_and(|r| !r.is_empty()), "{l1}");
    let early = node.get("/v1/members/M-2/attendance?event_id=lapsed").expect(200);
    let early = &early["items"][0];
    assert_eq!((early["attended_minutes"].as_u64(), early["cecs"].as_str()), (Some(55), Some("0")), "{early}");
    assert!(early["reason"].as_str().is_some_and(|r| !r.is_empty()), "all or nothing, with a reason: {early}");
    assert_eq!(node.get("/v1/members/M-2/attendance?event_id=conf").expect(200)["items"], json!([]));

    let cecs = node.get("/v1/members/M-1/cecs").expect(200);
    assert_eq!(cecs["member_id"], "M-1");
    assert_eq!(cecs["verified_cecs"], "3.25", "0.75 + 2 + 0.5, not the unendorsed hour: {cecs}");
    assert_eq!(cecs["self_reported_cecs"], "1.5");
    assert_eq!(cecs["total_cecs"], "4.75");
    assert_eq!(cecs["ceus"], "0.475");
    assert_eq!(cecs["by_category"], json!({"clinical": "2", "ethics": "2.25", "general": "0.5"}));
    let records = cecs["records"].as_array().expect("records");
    let verified: Vec<&Value> = records.iter().filter(|r| r["source"] == "verified").collect();
    assert_eq!(verified.len(), 3, "{cecs}");
    assert!(verified.iter().all(|r| r["verification_code"].is_string() && r["endorsement_number"] == "ACA-EEP-9"));
    let since_april = node.get("/v1/members/M-1/cecs?from=2026-04-01").expect(200);
    assert_eq!(
        (since_april["verified_cecs"].as_str(), since_april["self_reported_cecs"].as_str()),
        (Some("3.25"), Some("0"))
    );
    let march = node.get("/v1/members/M-1/cecs?from=2026-03-01&to=2026-03-31").expect(200);
    assert_eq!((march["verified_cecs"].as_str(), march["self_reported_cecs"].as_str()), (Some("0"), Some("1.5")));
    assert_eq!(march["records"].as_array().map(Vec::len), Some(1));
    let nobody = node.get("/v1/members/M-404/cecs").expect(200);
    assert_eq!((nobody["total_cecs"].as_str(), nobody["records"].as_array().map(Vec::len)), (Some("0"), Some(0)));
}

#[test]
fn change_feed_and_long_poll() {
    let node = Node::start();
    conference(&node, "conf");
    let first = node.get("/v1/changes").expect(200);
    let kinds: Vec<&str> =
        first["changes"].as_array().expect("changes").iter().filter_map(|c| c["kind"].as_str()).collect();
    assert!(kinds.contains(&"event") && kinds.contains(&"session") && kinds.contains(&"roster"), "{first}");
    let cursor = first["cursor"].as_str().expect("cursor").to_owned();
    let again = node.get(&format!("/v1/changes?since={cursor}")).expect(200);
    assert_eq!((again["changes"].clone(), again["cursor"].as_str()), (json!([]), Some(cursor.as_str())));

    // Nothing happens: the long poll waits its time and answers empty.
    let t = Instant::now();
    let idle = node.get(&format!("/v1/changes?since={cursor}&wait=1")).expect(200);
    assert!(t.elapsed() >= Duration::from_millis(900), "answered after {:?}", t.elapsed());
    assert_eq!(idle["changes"], json!([]));

    // A check-in from another thread wakes it early.
    let delay = Duration::from_millis(300);
    let (feed, took) = std::thread::scope(|s| {
        let poll = s.spawn(|| {
            let t = Instant::now();
            let r = node.get(&format!("/v1/changes?since={cursor}&wait=5")).expect(200);
            (r, t.elapsed())
        });
        std::thread::sleep(delay);
        node.post("/v1/checkins", &checkin_body("wake", "conf", "s75", "M-1", "in", "14:00")).expect(201);
        poll.join().expect("poll thread")
    });
    assert!(took >= delay && took < Duration::from_millis(2500), "long poll answered after {took:?}");
    let change = &feed["changes"][0];
    assert_eq!((change["kind"].as_str(), change["id"].as_str()), (Some("checkin"), Some("wake")), "{feed}");
    assert_eq!(change["doc_id"], "attendance:conf:s75");
    let next: u64 = feed["cursor"].as_str().and_then(|c| c.parse().ok()).expect("numeric cursor");
    assert!(next > cursor.parse::<u64>().expect("cursor"), "{feed}");
}
