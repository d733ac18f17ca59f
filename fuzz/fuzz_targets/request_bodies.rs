//! Request bodies of the write endpoints, through the whole router of a real node (storage on
//! a temporary directory): the first byte picks the endpoint, the rest is the body. Whatever
//! the body, the answer is never a 5xx.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/v1/events"),
    ("POST", "/v1/events/conf/sessions"),
    ("POST", "/v1/events/conf/roster"),
    ("POST", "/v1/checkins"),
    ("POST", "/v1/checkins/batch"),
    ("POST", "/v1/portfolios/M-1/entries"),
    ("PATCH", "/v1/portfolios/M-1/entries/e1"),
    ("PUT", "/v1/portfolios/M-1/goals/g1"),
    ("PUT", "/v1/portfolios/M-1/requirements/p1"),
    ("POST", "/v1/portfolios/M-1/petitions"),
    ("PATCH", "/v1/portfolios/M-1/petitions/pet1"),
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let node = rt
            .block_on(cecd::node::Node::open(&dir, cecd::config::Config::default()))
            .expect("node");
        let token = node.identity.token.clone();
        let app = cecd::api::app(Arc::new(node));
        let f = Fixture { rt, app, token };
        // Something to refer to: an event with a session, an entry, a petition.
        for (i, body) in [
            (0, r#"{"id":"conf","title":"C","timezone":"UTC","provider":{"id":"p","name":"P"}}"#),
            (1, r#"{"id":"s1","title":"S","starts_at":"2026-04-16T14:00:00Z","segments":[{"kind":"instruction","minutes":60}]}"#),
            (5, r#"{"id":"e1","kind":"activity","title":"A","date":"2026-01-01","cecs":"1"}"#),
            (9, r#"{"id":"pet1","target_association":"X","record_ids":["e1"]}"#),
        ] {
            send(&f, i, body.as_bytes());
        }
        f
    })
}

fn send(f: &Fixture, endpoint: usize, body: &[u8]) -> u16 {
    let (method, path) = ENDPOINTS[endpoint % ENDPOINTS.len()];
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost")
        .header("authorization", format!("Bearer {}", f.token))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let resp = f.rt.block_on(f.app.clone().oneshot(req)).expect("infallible");
    resp.status().as_u16()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let f = fixture();
    let status = send(f, usize::from(pick), body);
    let (method, path) = ENDPOINTS[usize::from(pick) % ENDPOINTS.len()];
    assert!(status < 500, "{method} {path} answered {status} to {:?}", String::from_utf8_lossy(body));
});
