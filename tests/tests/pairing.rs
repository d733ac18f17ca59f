//! Pairing a kiosk screen (issue 8: "a kiosk can be opened without a terminal after a one-time
//! pairing"), against a real `cecd` whose clock the test moves (the hidden
//! `--clock-offset-secs`, at each restart) rather than waiting: a paired browser's cookie lasts
//! `kiosk_pairing_days`, is renewed while the screen is used, reaches only the kiosk screen's
//! routes, and is refused once it expired unused, once its pairing is ended, or once the API
//! token changed.

use cec_e2e::fixtures::{checkin_body, conference};
use cec_e2e::{Node, Response};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

/// `name=value` from a `Set-Cookie`, with the cookie's `Max-Age`.
fn set_cookie(r: &Response) -> Option<(String, i64)> {
    let set = r.header("set-cookie")?;
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    let max_age = set
        .split(';')
        .find_map(|p| p.trim().strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Max-Age: {set}"));
    Some((set.split(';').next().expect("a cookie").trim().to_owned(), max_age))
}

/// Pairs a browser (no cookie of its own unless `cookie`): the `/open` answer.
fn pair(node: &Node, label: &str, cookie: Option<&str>) -> Response {
    let t = node.post("/v1/open-tickets", &json!({"page": "kiosk", "pair": true, "label": label})).expect(201);
    assert_eq!(t["pair"], true, "{t}");
    let path = t["path"].as_str().expect("path");
    let mut req = node.request("GET", path);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let opened = req.send();
    assert_eq!(opened.status, 303, "{}", opened.text());
    assert_eq!(opened.header("location"), Some("/kiosk"));
    opened
}

/// A request of the kiosk screen with `cookie`.
fn page_get(node: &Node, cookie: &str, path: &str) -> Response {
    node.request("GET", path).header("cookie", cookie).send()
}

fn page_post(node: &Node, cookie: &str, path: &str, body: &Value) -> Response {
    node.request("POST", path)
        .header("cookie", cookie)
        .header("x-cec-request", "1")
        .header("origin", &format!("http://{}", node.addr()))
        .header("sec-fetch-site", "same-origin")
        .json(body)
        .send()
}

fn pairings(node: &Node) -> Vec<Value> {
    node.get("/v1/pairings").expect(200)["items"].as_array().expect("items").clone()
}

fn ts(v: &Value) -> Timestamp {
    v.as_str().unwrap_or_else(|| panic!("not a time: {v}")).parse().expect("RFC 3339")
}

/// Restarts `node` with its clock `days` ahead of the machine's.
fn restart_days_ahead(node: &mut Node, days: i64) {
    assert!(node.terminate().success());
    node.restart_with(&["--clock-offset-secs", &(days * DAY).to_string()]);
}

#[test]
fn a_paired_kiosk_stays_signed_in_while_used_and_not_after_its_pairing_ends() {
    let mut node = Node::start_configured("kiosk_pairing_days = 30\n", &[]);
    conference(&node, "C");

    // What a pairing ticket may be: the kiosk screen only; a label only with `pair`.
    let refused =
        node.post("/v1/open-tickets", &json!({"page": "organize", "pair": true})).expect_error(422, "invalid");
    assert_eq!(refused["field"], "pair");
    let refused = node.post("/v1/open-tickets", &json!({"page": "kiosk", "label": "x"})).expect_error(422, "invalid");
    assert_eq!(refused["field"], "label");
    let long = "x".repeat(101);
    node.post("/v1/open-tickets", &json!({"pair": true, "label": long})).expect_error(422, "invalid");
    node.post("/v1/open-tickets", &json!({"pair": true, "label": "a\u{7}"})).expect_error(422, "invalid");
    let plain = node.post("/v1/open-tickets", &json!({"page": "kiosk"})).expect(201);
    assert_eq!((plain["pair"].clone(), plain["session_secs"].clone()), (json!(false), json!(DAY)));
    let t = node.post("/v1/open-tickets", &json!({"pair": true})).expect(201);
    assert_eq!(t["session_secs"], 30 * DAY, "{t}");

    // Day 0: door A's tablet is paired; its cookie lasts the pairing's 30 days.
    let before = Timestamp::now();
    let opened = pair(&node, "door A", None);
    let (door_a, max_age) = set_cookie(&opened).expect("a cookie");
    assert_eq!(max_age, 30 * DAY);
    assert!(door_a.starts_with("cec_paired=cecsync-paired-v1."), "{door_a}");
    // And a second tablet that is never used again.
    let (unused, _) = set_cookie(&pair(&node, "spare", None)).expect("a cookie");
    let listed = pairings(&node);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let a = listed.iter().find(|p| p["label"] == "door A").expect("door A").clone();
    let a_id = a["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (a["page"].clone(), a["state"].clone(), a["ended_at"].clone()),
        (json!("kiosk"), json!("active"), Value::Null)
    );
    let paired_at = ts(&a["paired_at"]);
    assert!(paired_at >= before - SignedDuration::from_secs(1), "{a}");
    assert_eq!(ts(&a["expires_at"]), paired_at + SignedDuration::from_secs(30 * DAY));
    assert!(!door_a.contains(node.token()), "the token is never in a cookie");

    // It does what the kiosk screen does, and gets no new cookie the day it was paired.
    let events = page_get(&node, &door_a, "/v1/events");
    assert_eq!(events.status, 200, "{}", events.text());
    assert!(set_cookie(&events).is_none(), "no renewal on the first day");
    for path in ["/v1/events/C/sessions", "/v1/events/C/roster", "/v1/checkins?event_id=C", "/v1/sync/status"] {
        assert_eq!(page_get(&node, &door_a, path).status, 200, "{path}");
    }
    page_post(&node, &door_a, "/v1/checkins", &checkin_body("k-1", "C", "s75", "M-1", "in", "14:00")).expect(201);
    page_post(
        &node,
        &door_a,
        "/v1/checkins/batch",
        &json!({"checkins": [checkin_body("k-2", "C", "s75", "M-2", "in", "14:00")]}),
    )
    .expect(200);
    page_post(&node, &door_a, "/v1/checkins/k-2/void", &json!({"reason": "wrong badge"})).expect(200);
    assert_eq!(page_get(&node, &door_a, "/v1/members/M-1/attendance?event_id=C").status, 200);
    // Nothing else: not a ticket for another page (a way to a full session), not events,
    // portfolios, pairings or the node.
    let end_a = format!("/v1/pairings/{a_id}");
    for (method, path, body) in [
        ("POST", "/v1/open-tickets", json!({"page": "organize"})),
        ("POST", "/v1/open-tickets", json!({"page": "kiosk", "pair": true})),
        ("POST", "/v1/events", json!({"title": "x"})),
        ("POST", "/v1/events/C/roster", json!({"members": []})),
        ("GET", "/v1/portfolios/M-1", Value::Null),
        ("GET", "/v1/pairings", Value::Null),
        ("DELETE", end_a.as_str(), Value::Null),
        ("GET", "/v1/node", Value::Null),
        ("POST", "/v1/sync", json!({})),
    ] {
        let mut req = node
            .request(method, path)
            .header("cookie", &door_a)
            .header("x-cec-request", "1")
            .header("sec-fetch-site", "same-origin");
        if !body.is_null() {
            req = req.json(&body);
        }
        let e = req.send().expect_error(403, "forbidden");
        assert!(e["message"].as_str().unwrap_or_default().contains("kiosk"), "{method} {path}: {e}");
    }
    assert_eq!(pairings(&node).len(), 2, "the kiosk paired nothing");
    // A day's session opened in the same browser (the organizer's page on the door laptop) is
    // its own cookie: it reaches everything while it holds, and the pairing stays.
    let day_link = node.post("/v1/open-tickets", &json!({"page": "organize"})).expect(201);
    let (day, max_age) =
        set_cookie(&node.request("GET", day_link["path"].as_str().expect("path")).send()).expect("a cookie");
    assert!(day.starts_with("cec_session="), "{day}");
    assert_eq!(max_age, DAY);
    let both = format!("{day}; {door_a}");
    assert_eq!(page_get(&node, &both, "/v1/pairings").status, 200, "the day's session reaches more");
    page_get(&node, &door_a, "/v1/pairings").expect_error(403, "forbidden");
    assert_eq!(pairings(&node).iter().filter(|p| p["state"] == "active").count(), 2);
    // The page session's protections hold for a paired one: CSRF and the Host check.
    let body = checkin_body("k-3", "C", "s75", "M-3", "in", "14:00");
    node.request("POST", "/v1/checkins").header("cookie", &door_a).json(&body).send().expect_error(403, "forbidden");
    node.request("POST", "/v1/checkins")
        .header("cookie", &door_a)
        .header("x-cec-request", "1")
        .header("origin", "http://evil.example")
        .json(&body)
        .send()
        .expect_error(403, "forbidden");
    node.request("GET", "/v1/events")
        .header("cookie", &door_a)
        .header("host", "evil.example")
        .send()
        .expect_error(403, "forbidden");

    // Day 20: the screen is used, and its cookie is renewed for 30 days from now.
    restart_days_ahead(&mut node, 20);
    let used = page_get(&node, &door_a, "/v1/sync/status");
    assert_eq!(used.status, 200, "{}", used.text());
    let (renewed, max_age) = set_cookie(&used).expect("a renewed cookie");
    assert_eq!(max_age, 30 * DAY);
    assert_ne!(renewed, door_a);
    let a = pairings(&node).into_iter().find(|p| p["id"] == a_id.as_str()).expect("door A");
    let moved = ts(&a["expires_at"]) - paired_at;
    assert!((moved.as_secs() - 50 * DAY).abs() < 60, "expires 50 days after pairing: {a}");
    // Renewed once a day, not on every answer.
    assert!(set_cookie(&page_get(&node, &renewed, "/v1/events")).is_none());

    // Day 40: the first cookie expired on day 30; the renewed one holds (and is renewed again).
    // The spare tablet, unused since day 0, expired with its cookie. The day's session ended
    // long ago; beside it, the pairing still holds.
    restart_days_ahead(&mut node, 40);
    assert_eq!(page_get(&node, &format!("{day}; {renewed}"), "/v1/events").status, 200);
    page_get(&node, &format!("{day}; {renewed}"), "/v1/pairings").expect_error(403, "forbidden");
    page_get(&node, &day, "/v1/events").expect_error(401, "unauthorized");
    let e = page_get(&node, &door_a, "/v1/events").expect_error(401, "unauthorized");
    assert!(e["message"].as_str().unwrap_or_default().contains("cec open kiosk --pair"), "{e}");
    page_get(&node, &unused, "/v1/events").expect_error(401, "unauthorized");
    let used = page_get(&node, &renewed, "/v1/events");
    assert_eq!(used.status, 200, "{}", used.text());
    let (renewed, _) = set_cookie(&used).expect("renewed again");
    let states: Vec<(Value, Value)> =
        pairings(&node).into_iter().map(|p| (p["label"].clone(), p["state"].clone())).collect();
    assert_eq!(states, vec![(json!("door A"), json!("active")), (json!("spare"), json!("expired"))]);

    // Ended: the tablet is refused at its next request, though its cookie has not expired.
    let ended = node.delete(&format!("/v1/pairings/{a_id}")).expect(200);
    assert_eq!(ended["state"], "ended");
    let again = node.delete(&format!("/v1/pairings/{a_id}")).expect(200);
    assert_eq!(again["ended_at"], ended["ended_at"], "the first end stands");
    node.delete("/v1/pairings/nope").expect_error(404, "not_found");
    page_get(&node, &renewed, "/v1/events").expect_error(401, "unauthorized");
    // And stays ended after a restart.
    restart_days_ahead(&mut node, 40);
    page_get(&node, &renewed, "/v1/events").expect_error(401, "unauthorized");

    // Pairing a browser again ends the pairing its old cookie named.
    let (first, _) = set_cookie(&pair(&node, "door B", None)).expect("a cookie");
    let (second, _) = set_cookie(&pair(&node, "door B again", Some(&first))).expect("a cookie");
    page_get(&node, &first, "/v1/events").expect_error(401, "unauthorized");
    assert_eq!(page_get(&node, &second, "/v1/events").status, 200);
    let b: Vec<Value> =
        pairings(&node).into_iter().filter(|p| p["label"].as_str().unwrap_or("").starts_with("door B")).collect();
    assert_eq!(b.iter().map(|p| p["state"].clone()).collect::<Vec<_>>(), vec![json!("ended"), json!("active")]);

    // A new API token ends every pairing without a word to storage.
    assert!(node.terminate().success());
    std::fs::write(node.data_dir().join("api-token"), "").expect("emptying the token");
    node.restart_with(&["--clock-offset-secs", &(40 * DAY).to_string()]);
    page_get(&node, &second, "/v1/events").expect_error(401, "unauthorized");
}

/// Restarts `node` with `cecd.toml` saying `kiosk_pairing_days = days_setting` and its clock
/// `days` ahead of the machine's.
fn restart_configured(node: &mut Node, days_setting: u32, days: i64) {
    assert!(node.terminate().success());
    std::fs::write(node.data_dir().join("cecd.toml"), format!("kiosk_pairing_days = {days_setting}\n"))
        .expect("cecd.toml");
    node.restart_with(&["--clock-offset-secs", &(days * DAY).to_string()]);
}

#[test]
fn a_lowered_kiosk_pairing_days_shortens_the_pairings_already_issued() {
    // Day 0: two tablets paired for 30 days; their cookies say so.
    let mut node = Node::start_configured("kiosk_pairing_days = 30\n", &[]);
    conference(&node, "C");
    let (lost, max_age) = set_cookie(&pair(&node, "lost tablet", None)).expect("a cookie");
    assert_eq!(max_age, 30 * DAY);
    let (door, _) = set_cookie(&pair(&node, "door", None)).expect("a cookie");
    let paired_at = ts(&pairings(&node)[0]["paired_at"]);

    // Day 5: the door's tablet is used (and renewed for 30 days); the lost one is not.
    restart_configured(&mut node, 30, 5);
    let used = page_get(&node, &door, "/v1/events");
    assert_eq!(used.status, 200, "{}", used.text());
    let (door, _) = set_cookie(&used).expect("renewed");

    // Day 10: the operator lowered the setting to 7 days. Both cookies still say 30 days, but
    // a pairing holds only 7 days from its last use: the lost tablet's (day 0) is refused, the
    // door's (day 5) holds and is renewed for the new 7 days.
    restart_configured(&mut node, 7, 10);
    let listed = pairings(&node);
    let by_label = |label: &str| listed.iter().find(|p| p["label"] == label).expect(label).clone();
    let l = by_label("lost tablet");
    assert_eq!(l["state"], "expired", "{l}");
    assert_eq!(ts(&l["expires_at"]), paired_at + SignedDuration::from_secs(7 * DAY), "{l}");
    let d = by_label("door");
    assert_eq!(d["state"], "active", "{d}");
    let until = ts(&d["expires_at"]) - paired_at;
    assert!((until.as_secs() - 12 * DAY).abs() < 60, "7 days after its use on day 5: {d}");
    let e = page_get(&node, &lost, "/v1/events").expect_error(401, "unauthorized");
    assert!(e["message"].as_str().unwrap_or_default().contains("cec open kiosk --pair"), "{e}");
    let used = page_get(&node, &door, "/v1/events");
    assert_eq!(used.status, 200, "{}", used.text());
    let (door, max_age) = set_cookie(&used).expect("renewed under the new setting");
    assert_eq!(max_age, 7 * DAY);
    let d = pairings(&node).into_iter().find(|p| p["label"] == "door").expect("door");
    assert!(((ts(&d["expires_at"]) - paired_at).as_secs() - 17 * DAY).abs() < 60, "{d}");

    // Day 18, still 7 days: the door's tablet, unused since day 10, is refused too, though its
    // latest cookie is younger than the 30 days it was once issued with.
    restart_configured(&mut node, 7, 18);
    page_get(&node, &door, "/v1/events").expect_error(401, "unauthorized");
    assert!(pairings(&node).iter().all(|p| p["state"] == "expired"));

    // Raising the setting again revives neither: the lowered expiries were recorded at the
    // start that applied them (ending a lost tablet's pairing does not wait for a setting).
    restart_configured(&mut node, 30, 18);
    page_get(&node, &lost, "/v1/events").expect_error(401, "unauthorized");
    page_get(&node, &door, "/v1/events").expect_error(401, "unauthorized");
    assert!(pairings(&node).iter().all(|p| p["state"] == "expired"));
}
