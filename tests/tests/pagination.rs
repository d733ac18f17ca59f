//! Lists page with `limit` and `cursor`: every item once, in order, and a null cursor at the end.

use std::collections::BTreeSet;

use cec_e2e::Node;
use cec_e2e::fixtures::{checkin_body, conference, event_body, list_all, session_body};
use serde_json::{Value, json};

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|i| i["id"].as_str().expect("id").to_owned()).collect()
}

#[test]
fn checkins_page_through_every_item_once() {
    let node = Node::start();
    conference(&node, "conf");
    // 250 check-ins in one batch, ids out of order: 200 in s75 (members M-0..M-4), 50 in s120.
    let mut sent = Vec::new();
    let items: Vec<Value> = (0..250u32)
        .map(|i| {
            let n = (i * 97) % 250;
            let id = format!("ci-{n:03}");
            sent.push(id.clone());
            let session = if n < 200 { "s75" } else { "s120" };
            let at = format!("14:{:02}", n % 60);
            checkin_body(&id, "conf", session, &format!("M-{}", n % 5), if n % 2 == 0 { "in" } else { "out" }, &at)
        })
        .collect();
    let out = node.post("/v1/checkins/batch", &json!({"checkins": items})).expect(200);
    let results = out["results"].as_array().expect("results");
    assert_eq!(results.len(), 250);
    assert!(results.iter().all(|r| r["status"] == 201), "{out}");
    sent.sort();

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/checkins?limit=100&cursor={c}"),
            None => "/v1/checkins?limit=100".to_owned(),
        };
        let page = node.get(&path).expect(200);
        pages.push(ids(page["items"].as_array().expect("items")));
        match page["next_cursor"].as_str() {
            Some(c) => {
                assert_eq!(Some(c), pages.last().and_then(|p| p.last()).map(String::as_str), "cursor = last id");
                cursor = Some(c.to_owned());
            }
            None => break,
        }
        assert!(pages.len() < 10, "the cursor never ends");
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
    let all: Vec<String> = pages.concat();
    assert_eq!(all, sent, "every check-in once, ordered by id");

    // Default limit 100; the largest 1000 takes all; out of range is refused.
    let first = node.get("/v1/checkins").expect(200);
    assert_eq!((first["items"].as_array().map(Vec::len), first["next_cursor"].as_str()), (Some(100), Some("ci-099")));
    let whole = node.get("/v1/checkins?limit=1000").expect(200);
    assert_eq!((whole["items"].as_array().map(Vec::len), &whole["next_cursor"]), (Some(250), &Value::Null));
    for bad in ["0", "1001"] {
        let e = node.get(&format!("/v1/checkins?limit={bad}")).expect_error(422, "invalid");
        assert_eq!(e["field"], "limit");
    }

    // With filters: exactly two full pages end with a null cursor, not an empty third page.
    let s75 = list_all(&node, "/v1/checkins?session_id=s75", 100);
    assert_eq!(s75.len(), 200);
    let page2 = node.get("/v1/checkins?session_id=s75&limit=100&cursor=ci-099").expect(200);
    assert_eq!((page2["items"].as_array().map(Vec::len), &page2["next_cursor"]), (Some(100), &Value::Null));
    let m3 = list_all(&node, "/v1/checkins?member_id=M-3&event_id=conf", 7);
    let want: Vec<&String> = sent.iter().filter(|id| id[3..].parse::<u32>().is_ok_and(|n| n % 5 == 3)).collect();
    assert_eq!(ids(&m3).iter().collect::<Vec<_>>(), want);
    assert!(m3.iter().all(|c| c["member_id"] == "M-3"));
    let past_end = node.get("/v1/checkins?cursor=zzz").expect(200);
    assert_eq!((past_end["items"].clone(), &past_end["next_cursor"]), (json!([]), &Value::Null));

    // The change feed pages too: every check-in appears once.
    let mut seen = BTreeSet::new();
    let mut since = "0".to_owned();
    for _ in 0..100 {
        let page = node.get(&format!("/v1/changes?since={since}&limit=60")).expect(200);
        let changes = page["changes"].as_array().expect("changes");
        if changes.is_empty() {
            break;
        }
        for c in changes.iter().filter(|c| c["kind"] == "checkin") {
            assert!(seen.insert(c["id"].as_str().expect("id").to_owned()), "twice: {c}");
        }
        since = page["cursor"].as_str().expect("cursor").to_owned();
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), sent);
}

#[test]
fn events_and_sessions_page() {
    let node = Node::start();
    for i in 0..5 {
        node.post("/v1/events", &event_body(&format!("ev-{i}"))).expect(201);
    }
    let events = list_all(&node, "/v1/events?", 2);
    assert_eq!(ids(&events), ["ev-0", "ev-1", "ev-2", "ev-3", "ev-4"]);
    let page = node.get("/v1/events?limit=2&cursor=ev-1").expect(200);
    assert_eq!(
        (ids(page["items"].as_array().expect("items")), page["next_cursor"].as_str()),
        (vec!["ev-2".to_owned(), "ev-3".to_owned()], Some("ev-3"))
    );
    let last = node.get("/v1/events?limit=5").expect(200);
    assert_eq!((last["items"].as_array().map(Vec::len), &last["next_cursor"]), (Some(5), &Value::Null));

    for (i, start) in ["09:00", "08:00", "10:00", "07:00", "11:00"].iter().enumerate() {
        let s = session_body(&format!("s{i}"), "general", start, json!([{"kind": "instruction", "minutes": 30}]));
        node.post("/v1/events/ev-0/sessions", &s).expect(201);
    }
    let sessions = list_all(&node, "/v1/events/ev-0/sessions?", 2);
    assert_eq!(ids(&sessions), ["s3", "s1", "s0", "s2", "s4"], "by start time across pages");
    let e = node.get("/v1/events/ev-0/sessions?limit=0").expect_error(422, "invalid");
    assert_eq!(e["field"], "limit");
}

/// `GET .../entries` pages a member's entries by date from the entry index, filters by kind,
/// and follows creates and deletes.
#[test]
fn portfolio_entries_page_by_date() {
    let node = cec_e2e::Node::start();
    let kinds = ["activity", "note", "experience", "activity", "work_sample"];
    for (i, kind) in kinds.iter().enumerate() {
        let r = node.post(
            "/v1/portfolios/M9/entries",
            &serde_json::json!({"id": format!("e{i}"), "kind": kind, "title": format!("entry {i}"),
                                "date": format!("2027-0{}-01", 5 - i)}),
        );
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/portfolios/M9/entries?limit=2&cursor={c}"),
            None => "/v1/portfolios/M9/entries?limit=2".to_owned(),
        };
        let page = node.get(&path).json();
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["e4", "e3", "e2", "e1", "e0"], "oldest first, each once");
    let activities = node.get("/v1/portfolios/M9/entries?kind=activity").json();
    let ids: Vec<&str> =
        activities["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, ["e3", "e0"]);
    assert_eq!(node.delete("/v1/portfolios/M9/entries/e3").status, 204);
    let after = node.get("/v1/portfolios/M9/entries?kind=activity").json();
    assert_eq!(after["items"].as_array().expect("items").len(), 1);
    assert_eq!(node.get("/v1/portfolios/M9/entries?kind=poem").status, 422);
    assert_eq!(node.get("/v1/portfolios/M9/entries?cursor=nonsense").status, 422);
}
