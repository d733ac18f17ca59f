//! What a hostile local process sends, from the hardening review (issue 9): each answer is a
//! clear JSON error, and nothing it sends is taken for something else.

use cec_e2e::Node;
use cec_e2e::fixtures::event_body;

/// Trailing bytes, an array for an object and look-alike media types are refused.
#[test]
fn the_json_reader_refuses_what_is_not_one_object() {
    let node = Node::start();
    let body = event_body("e1").to_string();
    let post = |raw: String, ct: &str| node.authed("POST", "/v1/events").header("content-type", ct).body(raw).send();
    post(format!("{body}{{\"id\":\"X\"}} <html>"), "application/json").expect_error(400, "invalid_json");
    post(format!("{body} x"), "application/json").expect_error(400, "invalid_json");
    post(r#"["e2", "t"]"#.into(), "application/json").expect_error(400, "invalid_json");
    for ct in ["application/jsonp", "application/json-patch", "text/plain", "text/json"] {
        post(body.clone(), ct).expect_error(415, "unsupported_media_type");
    }
    node.get("/v1/events/X").expect_error(404, "not_found");
    post(body.clone(), "application/json; charset=utf-8").expect(201);
    post(format!("\n{body}\r\n "), "Application/JSON").expect(200);
}

#[test]
fn host_headers_are_parsed_strictly() {
    let node = Node::start();
    for bad in ["[::1].evil.com", "[::1]evil.com:80", "[::1]:80.evil.com", "127.0.0.1:80:80", "[127.0.0.1]"] {
        node.authed("GET", "/v1/events").header("host", bad).send().expect_error(403, "forbidden");
    }
    let twice = node.authed("GET", "/v1/events").add_header("host", "127.0.0.1").add_header("host", "evil.com");
    twice.send().expect_error(400, "bad_request");
    let twice = node.authed("GET", "/v1/events").add_header("host", "localhost").add_header("host", "localhost");
    twice.send().expect_error(400, "bad_request");
    node.authed("GET", "/v1/events").header("host", "[::1]:7420").send().expect(200);
}

#[test]
fn the_bearer_scheme_is_case_insensitive_and_methods_stay_hidden() {
    let node = Node::start();
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let r = node.request("GET", "/v1/events").header("authorization", &format!("{scheme} {}", node.token()));
        r.send().expect(200);
    }
    node.request("GET", "/v1/events")
        .header("authorization", &format!("Basic {}", node.token()))
        .send()
        .expect_error(401, "unauthorized");
    node.request("GET", "/v1/events").header("authorization", "Bearer nope").send().expect_error(401, "unauthorized");
    for method in ["OPTIONS", "PUT", "DELETE", "TRACE"] {
        let r = node.request(method, "/v1/events").send();
        r.expect_error(401, "unauthorized");
        assert!(r.header("allow").is_none(), "{method} without a token lists methods: {:?}", r.header("allow"));
    }
    let r = node.authed("OPTIONS", "/v1/events").send();
    r.expect_error(405, "method_not_allowed");
    assert!(r.header("allow").is_some_and(|a| a.contains("POST")), "{:?}", r.headers);
}

/// One grammar for credit strings everywhere: `[0-9]+(.[0-9]+)?`, at most two places.
#[test]
fn credit_strings_have_one_grammar() {
    let node = Node::start();
    let invalid = |r: cec_e2e::Response, field: &str| {
        let e = r.expect_error(422, "invalid");
        assert!(e["field"].as_str().is_some_and(|f| f.starts_with(field)), "{field}: {e}");
    };
    let entry = |cecs: &str| serde_json::json!({"id": "a", "kind": "activity", "title": "x", "date": "2026-01-01", "cecs": cecs});
    let goal = |target: &str| serde_json::json!({"title": "g", "target_cecs": target, "due": "2027-01-01"});
    let program = |total: &str, min: &str| {
        serde_json::json!({"title": "p", "window_start": "2026-01-01", "window_end": "2027-01-01",
                           "total_cecs": total, "minimums": {"ethics": min}})
    };
    for bad in [" 1", "1 ", "+1", ".5", "5.", "-1", "1e2", "1e-28", "0.0000000000000000000000000001", "0.125"] {
        invalid(node.post("/v1/portfolios/M-1/entries", &entry(bad)), "cecs");
        invalid(node.put("/v1/portfolios/M-1/goals/g", &goal(bad)), "target_cecs");
        invalid(node.put("/v1/portfolios/M-1/requirements/p", &program(bad, "1")), "total_cecs");
        invalid(node.put("/v1/portfolios/M-1/requirements/p", &program("1", bad)), "minimums");
    }
    node.post("/v1/portfolios/M-1/entries", &entry("1.25")).expect(201);
    node.put("/v1/portfolios/M-1/goals/g", &goal("12.5")).expect(200);
    node.put("/v1/portfolios/M-1/requirements/p", &program("40", "3")).expect(200);
}

/// Errors from axum's own extractors are the envelope too (before: `400 text/plain`).
#[test]
fn every_error_is_the_envelope() {
    let node = Node::start();
    for path in ["/v1/members/%FF/attendance", "/v1/events/%FF", "/v1/portfolios/%C3%28", "/v1/events/%FF/sessions"] {
        let r = node.get(path);
        let e = r.assert_error_shape();
        assert!(r.status == 400 || r.status == 422 || r.status == 404, "{path}: {} {e}", r.status);
    }
    node.get("/v1/members/%FF/attendance").expect_error(400, "bad_request");
}
