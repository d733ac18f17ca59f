//! What the daemon adds to api.md (`docs/api-extensions.md`): the OpenAPI document, metrics,
//! ETags, compression.

use cec_e2e::Node;
use cec_e2e::fixtures::event_body;

#[test]
fn openapi_metrics_etags_and_compression() {
    let node = Node::start();
    node.request("GET", "/v1/openapi.json").send().expect_error(401, "unauthorized");
    let doc = node.get("/v1/openapi.json").expect(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/v1/health",
        "/v1/node",
        "/v1/events",
        "/v1/events/{event_id}/sessions/{session_id}",
        "/v1/events/{event_id}/roster",
        "/v1/checkins",
        "/v1/checkins/batch",
        "/v1/members/{member_id}/attendance",
        "/v1/members/{member_id}/cecs",
        "/v1/portfolios/{member_id}/entries/{entry_id}",
        "/v1/portfolios/{member_id}/goals/{goal_id}",
        "/v1/portfolios/{member_id}/requirements/{program_id}",
        "/v1/portfolios/{member_id}/petitions/{petition_id}/packet",
        "/v1/portfolios/{member_id}/transcript",
        "/v1/blobs/{sha256}",
        "/v1/changes",
    ] {
        assert!(paths.contains_key(p), "{p} missing from /v1/openapi.json");
    }

    node.request("GET", "/metrics").send().expect_error(401, "unauthorized");
    node.post("/v1/events", &event_body("e1")).expect(201);
    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("cecd_http_requests_total"), "{}", metrics.text());

    let first = node.get("/v1/events");
    let etag = first.header("etag").expect("an ETag").to_owned();
    let same = node.authed("GET", "/v1/events").header("if-none-match", &etag).send();
    assert_eq!((same.status, same.body.len()), (304, 0));
    node.post("/v1/events", &event_body("e2")).expect(201);
    let changed = node.authed("GET", "/v1/events").header("if-none-match", &etag).send();
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag"), Some(etag.as_str()));
    assert_eq!(changed.json()["items"].as_array().map(Vec::len), Some(2));

    let gz = node.authed("GET", "/v1/openapi.json").header("accept-encoding", "gzip").send();
    assert_eq!((gz.status, gz.header("content-encoding")), (200, Some("gzip")));
    assert!(gz.body.starts_with(&[0x1f, 0x8b]), "gzip magic");
}

/// Every status a create answers, the first time (201) and when repeated with the same id and
/// body (200, api.md), is one the OpenAPI document lists for that operation.
#[test]
fn a_repeated_create_answers_a_documented_status() {
    use cec_e2e::fixtures::{checkin_body, session_body};
    use serde_json::json;
    let node = Node::start();
    let doc = node.get("/v1/openapi.json").expect(200);
    let creates = [
        ("/v1/events", "/v1/events", event_body("e1")),
        (
            "/v1/events/{event_id}/sessions",
            "/v1/events/e1/sessions",
            session_body("s1", "ethics", "14:00", json!([{"kind": "instruction", "minutes": 60}])),
        ),
        ("/v1/checkins", "/v1/checkins", checkin_body("c1", "e1", "s1", "M-1", "in", "14:00")),
        (
            "/v1/portfolios/{member_id}/entries",
            "/v1/portfolios/M-1/entries",
            json!({"id": "n1", "kind": "note", "title": "A note", "date": "2026-01-01"}),
        ),
    ];
    for (template, path, body) in creates {
        let responses = &doc["paths"][template]["post"]["responses"];
        for expected in [201, 200] {
            let r = node.post(path, &body);
            assert_eq!(r.status, expected, "POST {path}: {}", r.text());
            assert!(
                responses.get(expected.to_string()).is_some(),
                "POST {template} answered {expected}, which the document does not list: {responses}"
            );
        }
    }
}
