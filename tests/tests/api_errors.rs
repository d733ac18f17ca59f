//! Every documented error, with an input that causes it: the status, the stable code, the field,
//! and the shape (`{"error": {"code", "message"}}` as JSON, never HTML, never a 500).

use cec_e2e::fixtures::{checkin_body, conference, event_body, session_body};
use cec_e2e::{Node, Response};
use serde_json::{Value, json};

/// Asserts a 422 `invalid` naming `field`.
#[track_caller]
fn invalid(r: &Response, field: &str) {
    let e = r.expect_error(422, "invalid");
    assert_eq!(e["field"], field, "{e}");
}

#[test]
fn bad_bodies_and_values() {
    let node = Node::start();
    conference(&node, "conf");

    // 400: syntax, and a body that is not JSON at all.
    for bad in [&b"{\"title\": "[..], b"not json", b"", b"{\"title\": \"x\",}", b"\xff\xfe"] {
        let r = node.authed("POST", "/v1/events").header("content-type", "application/json").body(bad).send();
        r.expect_error(400, "invalid_json");
    }
    let r = node.authed("POST", "/v1/events").header("content-type", "text/plain").body(event_body("t").to_string());
    r.send().expect_error(415, "unsupported_media_type");

    // 422: missing fields, named (nested too).
    invalid(&node.post("/v1/events", &json!({"title": "x", "timezone": "UTC"})), "provider");
    invalid(&node.post("/v1/events", &json!({"title": "x", "provider": {"id": "p", "name": "P"}})), "timezone");
    invalid(
        &node.post("/v1/events", &json!({"title": "x", "timezone": "UTC", "provider": {"id": "p"}})),
        "provider.name",
    );
    invalid(&node.post("/v1/events/conf/sessions", &json!({"title": "x", "segments": []})), "starts_at");
    let mut no_member = checkin_body("c", "conf", "s75", "M-1", "in", "14:00");
    no_member.as_object_mut().expect("object").remove("member_id");
    invalid(&node.post("/v1/checkins", &no_member), "member_id");
    invalid(&node.post("/v1/portfolios/M-1/entries", &json!({"kind": "note", "title": "x"})), "date");
    invalid(&node.put("/v1/portfolios/M-1/goals/g", &json!({"title": "x", "due": "2026-01-01"})), "target_cecs");
    invalid(&node.post("/v1/portfolios/M-1/petitions", &json!({"record_ids": []})), "target_association");
    node.post("/v1/events", &json!([])).expect_error(400, "invalid_json");
    invalid(
        &node.post(
            "/v1/events",
            &json!({"title": "x", "timezone": "UTC", "provider": {"id": "p", "name": "P"},
        "colour": "red"}),
        ),
        "colour",
    );

    // 422: instants that jiff would take but RFC 3339 does not (a space for `T`, no seconds,
    // an offset without its colon, a time zone annotation, a comma before the fraction).
    for lenient in [
        "2026-04-16 14:00:00Z",
        "2026-04-16T14:00Z",
        "2026-04-16T14:00:00+0000",
        "2026-04-16T14:00:00Z[UTC]",
        "2026-04-16T14:00:00,5Z",
    ] {
        let mut c = checkin_body("c-lenient", "conf", "s75", "M-1", "in", "14:00");
        c["at"] = json!(lenient);
        invalid(&node.post("/v1/checkins", &c), "at");
        let mut s = session_body("lenient", "general", "09:00", json!([{"kind": "instruction", "minutes": 30}]));
        s["starts_at"] = json!(lenient);
        invalid(&node.post("/v1/events/conf/sessions", &s), "starts_at");
    }

    // 422: unknown names.
    let kind = session_body("k", "general", "09:00", json!([{"kind": "lecture", "minutes": 30}]));
    invalid(&node.post("/v1/events/conf/sessions", &kind), "segments[0].kind");
    let zero = session_body("z", "general", "09:00", json!([{"kind": "instruction", "minutes": 0}]));
    invalid(&node.post("/v1/events/conf/sessions", &zero), "segments[0].minutes");
    let mut format = session_body("f", "general", "09:00", json!([{"kind": "instruction", "minutes": 30}]));
    format["format"] = json!("hologram");
    invalid(&node.post("/v1/events/conf/sessions", &format), "format");
    invalid(&node.post("/v1/checkins", &checkin_body("c", "conf", "s75", "M-1", "sideways", "14:00")), "direction");
    let mut method = checkin_body("c", "conf", "s75", "M-1", "in", "14:00");
    method["method"] = json!("telepathy");
    invalid(&node.post("/v1/checkins", &method), "method");
    invalid(
        &node.post("/v1/portfolios/M-1/entries", &json!({"kind": "hobby", "title": "x", "date": "2026-01-01"})),
        "kind",
    );
    let mut tz = event_body("tz");
    tz["timezone"] = json!("Mars/Olympus_Mons");
    invalid(&node.post("/v1/events", &tz), "timezone");

    // 422: ids.
    for bad in ["a/b", "a b", "", "é", &"x".repeat(129)] {
        invalid(&node.post("/v1/events", &event_body(bad)), "id");
        invalid(&node.post("/v1/checkins", &checkin_body(bad, "conf", "s75", "M-1", "in", "14:00")), "id");
        invalid(&node.post("/v1/checkins", &checkin_body("c", "conf", "s75", bad, "in", "14:00")), "member_id");
    }
    invalid(&node.post("/v1/events", &event_body("a:b")), "id");
    node.post("/v1/events", &event_body(&"x".repeat(128))).expect(201);
    let long = "m".repeat(129);
    invalid(&node.get(&format!("/v1/portfolios/{long}")), "member_id");
    invalid(&node.get(&format!("/v1/members/{long}/cecs")), "member_id");
    invalid(&node.get("/v1/events/a%2Fb"), "event_id");
    invalid(
        &node.put("/v1/portfolios/M-1/goals/a%20b", &json!({"title": "x", "target_cecs": "1", "due": "2027-01-01"})),
        "goal_id",
    );

    // 422: times and dates.
    let mut when = checkin_body("c", "conf", "s75", "M-1", "in", "14:00");
    for bad in [json!("yesterday"), json!("2026-04-16T14:00:00"), json!("2026-13-01T00:00:00Z"), json!(1_776_348_000)] {
        when["at"] = bad;
        invalid(&node.post("/v1/checkins", &when), "at");
    }
    let mut starts = session_body("t", "general", "09:00", json!([{"kind": "instruction", "minutes": 30}]));
    starts["starts_at"] = json!("noon");
    invalid(&node.post("/v1/events/conf/sessions", &starts), "starts_at");
    // Near the ends of representable time the session's end would overflow: refused, not stored
    // (it used to be stored, and every later read of the event's sessions answered 500).
    let mut edge = session_body("edge", "general", "09:00", json!([{"kind": "instruction", "minutes": 4320}]));
    for at in ["9999-12-30T00:00:00Z", "-009999-01-02T02:00:00Z"] {
        edge["starts_at"] = json!(at);
        invalid(&node.post("/v1/events/conf/sessions", &edge), "starts_at");
    }
    assert_eq!(node.get("/v1/events/conf/sessions").expect(200)["items"].as_array().map(Vec::len), Some(4));
    invalid(
        &node.post("/v1/portfolios/M-1/entries", &json!({"kind": "note", "title": "x", "date": "16/04/2026"})),
        "date",
    );
    invalid(&node.get("/v1/members/M-1/cecs?from=last-year"), "from");
    invalid(&node.get("/v1/portfolios/M-1/transcript?to=2026-02-30"), "to");

    // 422: credit must be a decimal string, a multiple of 0.25, and only on activities.
    let entry = |cecs: Value| json!({"kind": "activity", "title": "x", "date": "2026-01-01", "cecs": cecs});
    for bad in [json!(1.5), json!(2), json!("1.3"), json!("-0.25"), json!("1e2"), json!("lots"), json!("")] {
        invalid(&node.post("/v1/portfolios/M-1/entries", &entry(bad)), "cecs");
    }
    let note = json!({"kind": "note", "title": "x", "date": "2026-01-01", "cecs": "1"});
    invalid(&node.post("/v1/portfolios/M-1/entries", &note), "cecs");
    invalid(
        &node.put("/v1/portfolios/M-1/goals/g", &json!({"title": "x", "target_cecs": 3, "due": "2027-01-01"})),
        "target_cecs",
    );
    let program = json!({"title": "x", "window_start": "2026-01-01", "window_end": "2027-01-01", "total_cecs": "3",
                         "minimums": {"ethics": 1}});
    invalid(&node.put("/v1/portfolios/M-1/requirements/p", &program), "minimums.ethics");
    let evidence = json!({"kind": "note", "title": "x", "date": "2026-01-01", "evidence": ["not-a-hash"]});
    invalid(&node.post("/v1/portfolios/M-1/entries", &evidence), "evidence");

    // 413: a JSON body over 1 MiB, before any parsing.
    let mut big = event_body("big");
    big["venue"] = json!("v".repeat(1024 * 1024 + 10));
    node.post("/v1/events", &big).expect_error(413, "too_large");
    let many: Vec<Value> =
        (0..9000).map(|i| checkin_body(&format!("c{i}"), "conf", "s75", "M-1", "in", "14:00")).collect();
    node.post("/v1/checkins/batch", &json!({"checkins": many})).expect_error(413, "too_large");
    let batch: Vec<Value> =
        (0..1001).map(|i| checkin_body(&format!("c{i}"), "conf", "s75", "M-1", "in", "14:00")).collect();
    invalid(&node.post("/v1/checkins/batch", &json!({"checkins": batch})), "checkins");
    assert_eq!(node.get("/v1/checkins").expect(200)["items"], json!([]), "nothing stored by the failures");
}

#[test]
fn guards_not_found_and_queries() {
    let node = Node::start();
    conference(&node, "conf");

    // 403: a foreign Host, even with the token and even on the open health check.
    for host in ["evil.example", "evil.example:80", "localhost.evil.com", "10.0.0.1", "[2001:db8::1]:7420"] {
        node.request("GET", "/v1/health").header("host", host).send().expect_error(403, "forbidden");
        node.authed("GET", "/v1/events").header("host", host).send().expect_error(403, "forbidden");
        let r = node.authed("POST", "/v1/checkins").header("host", host);
        r.json(&checkin_body("h", "conf", "s75", "M-1", "in", "14:00")).send().expect_error(403, "forbidden");
    }
    node.request("GET", "/v1/health").without_header("host").send().expect_error(403, "forbidden");
    for host in ["localhost", "localhost:7420", "127.0.0.1", "127.1.2.3:9", "[::1]:7420", "app.localhost"] {
        node.authed("GET", "/v1/events").header("host", host).send().expect(200);
    }

    // 401: no token, a wrong one, another scheme; checked before the body is even read.
    let token = node.token().to_owned();
    let wrong =
        [None, Some("Bearer nope".to_owned()), Some(format!("Basic {token}")), Some(format!("Bearer {token}x"))];
    for auth in &wrong {
        for (method, path) in
            [("GET", "/v1/node"), ("GET", "/v1/events"), ("POST", "/v1/checkins"), ("PUT", "/v1/blobs")]
        {
            let mut r = node.request(method, path).header("content-type", "application/json").body("{");
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            r.send().expect_error(401, "unauthorized");
        }
    }
    assert_eq!(node.get("/v1/checkins").expect(200)["items"], json!([]));

    // 404: unknown things, and unknown paths, as JSON.
    node.post("/v1/checkins", &checkin_body("c", "nope", "s75", "M-1", "in", "14:00")).expect_error(404, "not_found");
    node.post("/v1/checkins", &checkin_body("c", "conf", "nope", "M-1", "in", "14:00")).expect_error(404, "not_found");
    node.get("/v1/events/nope").expect_error(404, "not_found");
    node.get("/v1/events/nope/sessions").expect_error(404, "not_found");
    node.get("/v1/events/conf/sessions/nope").expect_error(404, "not_found");
    let s = session_body("x", "general", "09:00", json!([{"kind": "instruction", "minutes": 30}]));
    node.post("/v1/events/nope/sessions", &s).expect_error(404, "not_found");
    node.post("/v1/events/nope/roster", &json!({"members": []})).expect_error(404, "not_found");
    node.patch("/v1/portfolios/M-1/entries/nope", &json!({"title": "x"})).expect_error(404, "not_found");
    node.delete("/v1/portfolios/M-1/entries/nope").expect_error(404, "not_found");
    node.get("/v1/portfolios/M-1/petitions/nope").expect_error(404, "not_found");
    node.patch("/v1/portfolios/M-1/petitions/nope", &json!({"status": "submitted"})).expect_error(404, "not_found");
    node.get("/v1/portfolios/M-1/petitions/nope/packet").expect_error(404, "not_found");
    for path in ["/v1/nope", "/nope", "/", "/v2/events", "/v1/events/conf/sessions/s75/extra"] {
        node.get(path).expect_error(404, "not_found");
    }
    for r in [node.delete("/v1/events"), node.put("/v1/portfolios/M-1/entries/x", &json!({}))] {
        assert_eq!(r.status, 405, "{}", r.text());
        r.assert_error_shape();
    }

    // 422: queries.
    for (path, field) in [
        ("/v1/checkins?limit=0", "limit"),
        ("/v1/checkins?limit=1001", "limit"),
        ("/v1/checkins?limit=ten", "limit"),
        ("/v1/checkins?limit=-1", "limit"),
        ("/v1/events?limit=0", "limit"),
        ("/v1/events/conf/sessions?limit=1001", "limit"),
        ("/v1/changes?limit=0", "limit"),
        ("/v1/changes?wait=61", "wait"),
        ("/v1/changes?wait=soon", "wait"),
        ("/v1/changes?since=-5", "since"),
        ("/v1/portfolios/M-1/transcript?format=docx", "format"),
        ("/v1/portfolios/M-1/petitions/x/packet?format=xml", "format"),
    ] {
        invalid(&node.get(path), field);
    }
    node.get("/v1/checkins?colour=red").expect_error(422, "invalid");
    node.get("/v1/checkins?limit=1000").expect(200);
    node.get("/v1/checkins?limit=1").expect(200);
}

/// Whatever arrives, the answer is a documented 4xx error: never a 500, never HTML.
#[test]
fn garbage_never_breaks_the_api() {
    let node = Node::start();
    conference(&node, "conf");
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<Vec<u8>> = [
        "",
        "null",
        "[]",
        "{}",
        "\"x\"",
        "123",
        "-1e999",
        "true",
        "{\"a\":",
        "{\"id\": null}",
        "{\"id\": 5}",
        "{\"title\": [1, 2]}",
        "{\"checkins\": {}}",
        "{\"members\": [null]}",
        "{\"status\": 7}",
        &deep,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([vec![0xff, 0x00, 0xfe], b"{\"title\": \"\xff\"}".to_vec()])
    .collect();
    let writes = [
        ("POST", "/v1/events"),
        ("POST", "/v1/events/conf/sessions"),
        ("POST", "/v1/events/conf/roster"),
        ("POST", "/v1/checkins"),
        ("POST", "/v1/checkins/batch"),
        ("POST", "/v1/portfolios/M-1/entries"),
        ("PATCH", "/v1/portfolios/M-1/entries/e"),
        ("PUT", "/v1/portfolios/M-1/goals/g"),
        ("PUT", "/v1/portfolios/M-1/requirements/r"),
        ("POST", "/v1/portfolios/M-1/petitions"),
        ("PATCH", "/v1/portfolios/M-1/petitions/p"),
    ];
    for (method, path) in writes {
        for body in &bodies {
            let r = node.authed(method, path).header("content-type", "application/json").body(body.clone()).send();
            assert!(
                [400, 404, 409, 413, 422].contains(&r.status),
                "{method} {path} {:?}: {} {}",
                String::from_utf8_lossy(body),
                r.status,
                r.text()
            );
            r.assert_error_shape();
        }
    }
    let reads = [
        "/v1/events?cursor=%00&limit=99999999999999999999",
        "/v1/events/%E2%82%AC",
        "/v1/events/conf/sessions?cursor=zzz",
        "/v1/checkins?cursor=%ff%fe&limit=%31",
        "/v1/checkins?%zz=1",
        "/v1/members/%2e%2e/cecs?from=&to=",
        "/v1/members/M-1/attendance?event_id=a:b",
        "/v1/members/M-1/attendance?event_id=&event_id=x",
        "/v1/portfolios/M-1/transcript?from=2027-01-01&to=2026-01-01",
        "/v1/changes?since=99999999999999999999",
        "/v1/changes?since=abc",
        "/v1/blobs/..%2f..%2fetc%2fpasswd",
    ];
    for path in reads {
        let r = node.get(path);
        assert!(r.status < 500, "GET {path}: {} {}", r.status, r.text());
        if r.status >= 400 {
            r.assert_error_shape();
        } else {
            assert!(r.header("content-type").is_some_and(|c| c.starts_with("application/json")), "GET {path}");
            r.json();
        }
    }
    let long = format!("/v1/events/{}", "e".repeat(20_000));
    let r = node.get(&long);
    assert!((400..500).contains(&r.status), "{}", r.status);
    node.request("GET", "/v1/health").send().expect(200);
}

#[test]
fn blob_limit_from_the_config() {
    let node = Node::start_configured("blob_max_bytes = 1000\n", &[]);
    let fits = node.authed("PUT", "/v1/blobs").body(vec![1u8; 1000]).send().expect(201);
    assert_eq!(fits["size"], 1000);
    node.authed("PUT", "/v1/blobs").body(vec![2u8; 1001]).send().expect_error(413, "too_large");
    node.authed("PUT", "/v1/blobs").body(vec![3u8; 300_000]).send().expect_error(413, "too_large");
    // Nothing of the refused blobs is kept.
    let blobs = walk(&node.data_dir().join("blobs"));
    assert_eq!(blobs.len(), 1, "{blobs:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// Credit values far beyond any real one are refused, so no sum or pace can overflow; before,
/// one such value turned every read of the member's portfolio into a 500.
#[test]
fn credit_out_of_range_is_refused() {
    let node = Node::start();
    let max = "79228162514264337593543950335"; // rust_decimal's largest
    let entry = |extra: Value| {
        let mut e = json!({"id": "big", "kind": "activity", "title": "x", "date": "2026-01-01"});
        e.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        e
    };
    invalid(&node.post("/v1/portfolios/M-1/entries", &entry(json!({"cecs": max}))), "cecs");
    invalid(&node.post("/v1/portfolios/M-1/entries", &entry(json!({"cecs": "10000.25"}))), "cecs");
    invalid(
        &node.post("/v1/portfolios/M-1/entries", &entry(json!({"contact_minutes": 4_294_967_295u32}))),
        "contact_minutes",
    );
    node.post("/v1/portfolios/M-1/entries", &entry(json!({"cecs": "10000"}))).expect(201);
    node.post(
        "/v1/portfolios/M-1/entries",
        &json!({"id": "b2", "kind": "activity", "title": "x", "date": "2026-01-02",
        "contact_minutes": 600_000}),
    )
    .expect(201);
    invalid(&node.patch("/v1/portfolios/M-1/entries/big", &json!({"cecs": max})), "cecs");
    invalid(&node.patch("/v1/portfolios/M-1/entries/b2", &json!({"contact_minutes": 600_001})), "contact_minutes");

    let goal = |target: &str, bench: &str| {
        json!({"title": "g", "target_cecs": target, "start": "2026-01-01", "due": "2027-01-01",
               "benchmarks": [{"title": "b", "target_cecs": bench, "due": "2026-06-01"}]})
    };
    invalid(&node.put("/v1/portfolios/M-1/goals/g", &goal(max, "1")), "target_cecs");
    invalid(&node.put("/v1/portfolios/M-1/goals/g", &goal("10001", "1")), "target_cecs");
    node.put("/v1/portfolios/M-1/goals/g", &goal("10000", "5000")).expect(200);
    let mut untitled = goal("1", "1");
    untitled["title"] = json!(" ");
    invalid(&node.put("/v1/portfolios/M-1/goals/g", &untitled), "title");
    let mut spaced = goal("1", "1");
    spaced["category"] = json!("a b");
    invalid(&node.put("/v1/portfolios/M-1/goals/g", &spaced), "category");

    let program = |total: &str, ethics: &str| {
        json!({"title": "p", "window_start": "2026-01-01", "window_end": "2027-01-01", "total_cecs": total,
               "minimums": {"ethics": ethics}})
    };
    invalid(&node.put("/v1/portfolios/M-1/requirements/p", &program(max, "1")), "total_cecs");
    invalid(&node.put("/v1/portfolios/M-1/requirements/p", &program("1", max)), "minimums.ethics");
    let mut odd = program("1", "1");
    odd["minimums"] = json!({"a b": "1"});
    invalid(&node.put("/v1/portfolios/M-1/requirements/p", &odd), "minimums.a b");
    node.put("/v1/portfolios/M-1/requirements/p", &program("10000", "10000")).expect(200);

    // Everything that reads the portfolio still answers.
    for path in [
        "/v1/portfolios/M-1",
        "/v1/members/M-1/cecs",
        "/v1/portfolios/M-1/goals",
        "/v1/portfolios/M-1/requirements",
        "/v1/portfolios/M-1/transcript",
    ] {
        node.get(path).expect(200);
    }
    let totals = node.get("/v1/members/M-1/cecs").expect(200);
    assert_eq!(totals["self_reported_cecs"], "20000", "{totals}");
}

/// A request line in absolute form must name this machine too, whatever the Host header says.
#[test]
fn absolute_form_request_lines_are_checked() {
    let node = cec_e2e::Node::start();
    let bad = node.request("GET", "http://evil.example/v1/health").header("host", "localhost").send();
    assert_eq!(bad.status, 403, "{}", String::from_utf8_lossy(&bad.body));
    assert_eq!(bad.json()["error"]["code"], "forbidden");
    let ok = node.request("GET", &format!("http://{}/v1/health", node.addr())).send();
    assert_eq!(ok.status, 200, "{}", String::from_utf8_lossy(&ok.body));
}
