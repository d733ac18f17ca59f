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
