//! Voiding check-ins and the page sessions of issue 8, against a real `cecd`: a void is its own
//! fact (listed, idempotent, credit ignores it), and the pages reach the API with a one-time
//! ticket traded for an HttpOnly cookie, never with the token in a URL.

use cec_e2e::fixtures::{checkin_body, conference};
use cec_e2e::{Node, Response};
use serde_json::{Value, json};

fn attendance(node: &Node, member: &str, session: &str) -> Value {
    let list = node.get(&format!("/v1/members/{member}/attendance?event_id=C")).expect(200);
    list["items"].as_array().expect("items").iter().find(|a| a["session_id"] == session).cloned().unwrap_or(Value::Null)
}

#[test]
fn a_void_is_listed_idempotent_and_earns_nothing() {
    let node = Node::start();
    conference(&node, "C");
    node.post("/v1/checkins", &checkin_body("in-1", "C", "s75", "M-1", "in", "14:00")).expect(201);
    node.post("/v1/checkins", &checkin_body("oops", "C", "s75", "M-1", "out", "14:15")).expect(201);
    node.post("/v1/checkins", &checkin_body("out-1", "C", "s75", "M-1", "out", "15:15")).expect(201);
    assert_eq!(attendance(&node, "M-1", "s75")["cecs"], "0.25");

    let voided = node.post("/v1/checkins/oops/void", &json!({"reason": "wrong badge"})).expect(200);
    assert_eq!(voided["id"], "oops");
    assert_eq!(voided["member_name"], "Ana");
    assert_eq!(voided["voided"]["reason"], "wrong badge");
    let node_id = node.get("/v1/health").expect(200)["node_id"].clone();
    assert_eq!(voided["voided"]["by"], node_id);
    assert!(voided["voided"]["at"].as_str().unwrap().ends_with('Z'));
    // Idempotent: the first void stands.
    let again = node.post("/v1/checkins/oops/void", &json!({"reason": "other"})).expect(200);
    assert_eq!(again["voided"], voided["voided"]);
    let empty = node.post("/v1/checkins/in-1/void", &json!({})).expect(200);
    assert_eq!(empty["voided"]["reason"], "");
    // The listing shows the void; the others are not voided.
    let list = node.get("/v1/checkins?event_id=C&session_id=s75").expect(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "nothing is deleted");
    let by_id = |id: &str| items.iter().find(|c| c["id"] == id).unwrap().clone();
    assert_eq!(by_id("oops")["voided"]["reason"], "wrong badge");
    assert_eq!(by_id("out-1")["voided"], Value::Null);
    // Credit ignores voided check-ins: with the in voided too, the stray out earns nothing.
    assert_eq!(attendance(&node, "M-1", "s75")["cecs"], "0");
    // The change feed names the voided check-ins.
    let feed = node.get("/v1/changes").expect(200);
    let named: Vec<&str> = feed["changes"].as_array().unwrap().iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(named.iter().filter(|id| **id == "oops").count() >= 2, "{named:?}");

    // A retried create of a voided check-in answers it as it now stands.
    let retried = node.post("/v1/checkins", &checkin_body("oops", "C", "s75", "M-1", "out", "14:15")).expect(200);
    assert_eq!(retried["voided"]["reason"], "wrong badge");
    let batch = node
        .post("/v1/checkins/batch", &json!({"checkins": [checkin_body("oops", "C", "s75", "M-1", "out", "14:15")]}));
    assert_eq!(batch.expect(200)["results"][0]["checkin"]["voided"]["reason"], "wrong badge");
    node.post("/v1/checkins/nope/void", &json!({})).expect_error(404, "not_found");
    node.post("/v1/checkins/oops/void", &json!({"reason": "a\u{7}"})).expect_error(422, "invalid");
    node.post("/v1/checkins/oops/void", &json!({"reason": "x".repeat(501)})).expect_error(422, "invalid");
    node.post("/v1/checkins/oops/void", &json!({"why": "x"})).assert_error_shape();

    // After a restart (the index rebuilt from nothing but storage), the same.
    let mut node = node;
    assert!(node.terminate().success());
    node.restart();
    assert_eq!(attendance(&node, "M-1", "s75")["cecs"], "0");
    let list = node.get("/v1/checkins?event_id=C&session_id=s75").expect(200);
    assert_eq!(list["items"].as_array().unwrap().iter().filter(|c| !c["voided"].is_null()).count(), 2);
}

/// The `cec_session` cookie from an `/open` answer.
fn session_cookie(r: &Response) -> String {
    let set = r.header("set-cookie").unwrap_or_else(|| panic!("no Set-Cookie: {r:?}"));
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(set.contains("Path=/"), "{set}");
    set.split(';').next().expect("a cookie").trim().to_owned()
}

fn ticket(node: &Node) -> String {
    let t = node.post("/v1/open-tickets", &json!({"page": "kiosk"})).expect(201);
    assert_eq!(t["page"], "kiosk");
    let path = t["path"].as_str().expect("path").to_owned();
    assert!(path.starts_with("/open?ticket="), "{path}");
    assert!(!path.contains(node.token()), "the token never appears in a link");
    path
}

#[test]
fn a_ticket_opens_a_session_once_and_the_cookie_stands_for_the_token() {
    let node = Node::start();
    conference(&node, "C");
    // Pages and their assets are open; the API is not.
    let page = node.request("GET", "/kiosk").send();
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.header("content-security-policy").unwrap().contains("default-src 'none'"));
    assert!(!page.text().contains(node.token()));
    for asset in ["/assets/app.js", "/assets/kiosk.js", "/assets/app.css"] {
        let r = node.request("GET", asset).send();
        assert_eq!(r.status, 200, "{asset}");
        assert!(
            !r.text().contains("http://") && !r.text().contains("https://"),
            "{asset} loads nothing from elsewhere"
        );
    }
    node.request("GET", "/assets/nope.js").send().expect_error(404, "not_found");
    node.request("GET", "/v1/events").send().expect_error(401, "unauthorized");
    // A ticket needs the token.
    node.request("POST", "/v1/open-tickets").json(&json!({})).send().expect_error(401, "unauthorized");
    node.post("/v1/open-tickets", &json!({"page": "admin"})).expect_error(422, "invalid");

    let link = ticket(&node);
    let opened = node.request("GET", &link).send();
    assert_eq!(opened.status, 303, "{}", opened.text());
    assert_eq!(opened.header("location"), Some("/kiosk"));
    let cookie = session_cookie(&opened);
    // Single use.
    node.request("GET", &link).send().expect_error(403, "forbidden");
    node.request("GET", "/open?ticket=made-up").send().expect_error(403, "forbidden");

    // The cookie works for reads and, with the page's header, for writes.
    let events = node.request("GET", "/v1/events").header("cookie", &cookie).send().expect(200);
    assert_eq!(events["items"][0]["id"], "C");
    let body = checkin_body("k-1", "C", "s75", "M-1", "in", "14:00");
    node.request("POST", "/v1/checkins")
        .header("cookie", &cookie)
        .header("x-cec-request", "1")
        .header("origin", &format!("http://{}", node.addr()))
        .header("sec-fetch-site", "same-origin")
        .json(&body)
        .send()
        .expect(201);
    // Cross-site writes are refused: without the header, from another origin, or cross-site.
    let body = checkin_body("k-2", "C", "s75", "M-2", "in", "14:00");
    let refused = [
        node.request("POST", "/v1/checkins").header("cookie", &cookie).json(&body).send(),
        node.request("POST", "/v1/checkins")
            .header("cookie", &cookie)
            .header("x-cec-request", "1")
            .header("origin", "http://evil.example")
            .json(&body)
            .send(),
        node.request("POST", "/v1/checkins")
            .header("cookie", &cookie)
            .header("x-cec-request", "1")
            .header("sec-fetch-site", "cross-site")
            .json(&body)
            .send(),
    ];
    for r in refused {
        r.expect_error(403, "forbidden");
    }
    assert_eq!(node.get("/v1/checkins?member_id=M-2").expect(200)["items"], json!([]));
    // A forged or altered cookie is nothing.
    let forged = format!("{}x", cookie);
    node.request("GET", "/v1/events").header("cookie", &forged).send().expect_error(401, "unauthorized");
    node.request("GET", "/v1/events")
        .header("cookie", "cec_session=cecsync-session-v1.99999999999.AAAA.AAAA")
        .send()
        .expect_error(401, "unauthorized");
    // The token is never taken from a query string.
    let t = node.token().to_owned();
    for q in [format!("/v1/events?token={t}"), format!("/v1/events?access_token={t}")] {
        let r = node.request("GET", &q).send();
        assert!(r.status == 401 || r.status == 400, "{q}: {}", r.status);
    }
    // The Host check stays, with a cookie too.
    node.request("GET", "/v1/events")
        .header("cookie", &cookie)
        .header("host", "evil.example")
        .send()
        .expect_error(403, "forbidden");
    // The session survives a restart of the node (a kiosk keeps working).
    let mut node = node;
    assert!(node.terminate().success());
    node.restart();
    node.request("GET", "/v1/events").header("cookie", &cookie).send().expect(200);
}
