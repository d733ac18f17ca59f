//! `cecd --demo`: a small realistic conference, loaded through the API itself so it is
//! validated like any client's data. Fixed ids make loading it twice harmless.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api;
use crate::node::Node;

const EVENT: &str = "demo-spring-2026";

fn requests() -> Vec<(&'static str, String, Value)> {
    let mut out = vec![(
        "POST",
        "/v1/events".to_owned(),
        json!({
            "id": EVENT,
            "title": "Spring Counseling Conference 2026",
            "provider": {"id": "demo-provider", "name": "Midwest Counseling Institute",
                          "endorsement": {"number": "ACA-EEP-2026-0142", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
            "venue": "Convention Center, Hall B",
            "timezone": "America/Chicago",
            "policy": {"grace_minutes": 5, "full_attendance_required": false}
        }),
    )];
    // The source's six examples, one session each, on 2026-04-16 (Chicago, UTC-5).
    let sessions = [
        (
            "s75",
            "Ethics in Telehealth (75 minutes)",
            "ethics",
            "in_person",
            "14:00",
            json!([{"kind": "instruction", "minutes": 75}]),
        ),
        (
            "s120",
            "Trauma-Informed Care (2 hours)",
            "clinical",
            "in_person",
            "15:30",
            json!([{"kind": "instruction", "minutes": 120}]),
        ),
        (
            "lunch",
            "Lunch with Keynote",
            "general",
            "in_person",
            "17:00",
            json!([{"kind": "meal", "minutes": 30}, {"kind": "keynote", "minutes": 30}, {"kind": "meal", "minutes": 30}]),
        ),
        (
            "workshop",
            "Motivational Interviewing Workshop",
            "clinical",
            "in_person",
            "19:00",
            json!([{"kind": "instruction", "minutes": 60}, {"kind": "practice", "minutes": 30}]),
        ),
        (
            "forum",
            "Open Forum Discussion",
            "general",
            "in_person",
            "21:00",
            json!([{"kind": "open_forum", "minutes": 90}]),
        ),
        (
            "webinar",
            "Webinar: Risk Management Basics",
            "risk_management",
            "online_live",
            "23:00",
            json!([{"kind": "instruction", "minutes": 45}]),
        ),
    ];
    for (id, title, category, format, at, segments) in sessions {
        out.push((
            "POST",
            format!("/v1/events/{EVENT}/sessions"),
            json!({"id": id, "title": title, "category": category, "format": format,
                   "starts_at": format!("2026-04-16T{at}:00Z"), "segments": segments}),
        ));
    }
    out.push((
        "POST",
        format!("/v1/events/{EVENT}/roster"),
        json!({"members": [
            {"member_id": "M-1001", "name": "Ana Ortiz", "email": "ana@example.org"},
            {"member_id": "M-1002", "name": "Ben Okafor"},
            {"member_id": "M-1003", "name": "Zoë Müller"},
            {"member_id": "M-1004", "name": "José Núñez"}
        ]}),
    ));
    // Ana attends everything; Ben leaves the 75-minute session after 55 minutes; Zoë scans in
    // late to the workshop and never scans out; José arrives within the door grace.
    let scans = [
        ("ana-1", "s75", "M-1001", "in", "13:58"),
        ("ana-2", "s75", "M-1001", "out", "15:15"),
        ("ana-3", "s120", "M-1001", "in", "15:30"),
        ("ana-4", "s120", "M-1001", "out", "17:30"),
        ("ana-5", "lunch", "M-1001", "in", "17:00"),
        ("ana-6", "lunch", "M-1001", "out", "18:30"),
        ("ana-7", "forum", "M-1001", "in", "21:00"),
        ("ana-8", "forum", "M-1001", "out", "22:30"),
        ("ana-9", "webinar", "M-1001", "in", "23:00"),
        ("ana-10", "webinar", "M-1001", "out", "23:45"),
        ("ben-1", "s75", "M-1002", "in", "14:00"),
        ("ben-2", "s75", "M-1002", "out", "14:55"),
        ("zoe-1", "workshop", "M-1003", "in", "19:20"),
        ("jose-1", "s75", "M-1004", "in", "14:04"),
        ("jose-2", "s75", "M-1004", "out", "15:15"),
    ];
    let checkins: Vec<Value> = scans
        .iter()
        .map(|(id, session, member, dir, at)| {
            json!({"id": format!("demo-{id}"), "event_id": EVENT, "session_id": session, "member_id": member,
                   "direction": dir, "at": format!("2026-04-16T{at}:00Z"), "method": "badge"})
        })
        .collect();
    out.push(("POST", "/v1/checkins/batch".to_owned(), json!({"checkins": checkins})));
    out.push((
        "POST",
        "/v1/portfolios/M-1001/entries".to_owned(),
        json!({"id": "demo-reading", "kind": "activity", "title": "Self-study: DSM-5-TR updates",
               "date": "2026-03-02", "contact_minutes": 90, "category": "clinical"}),
    ));
    out.push((
        "PUT",
        "/v1/portfolios/M-1001/goals/demo-goal".to_owned(),
        json!({"title": "12 CECs by June, 3 in risk management", "target_cecs": "12", "start": "2026-01-01",
               "due": "2026-06-30", "benchmarks": [{"title": "half way", "target_cecs": "6", "due": "2026-04-30"}]}),
    ));
    out
}

/// Loads the demo conference into `node`; returns a one-line summary.
pub async fn load(node: Arc<Node>) -> anyhow::Result<String> {
    let app = api::app(node.clone());
    let token = node.identity.token.clone();
    let reqs = requests();
    let n = reqs.len();
    for (method, path, body) in reqs {
        let req = Request::builder()
            .method(method)
            .uri(&path)
            .header(header::HOST, "localhost")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))?;
        let resp = app.clone().oneshot(req).await?;
        let status = resp.status();
        if !(status.is_success() || status == StatusCode::CONFLICT) {
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap_or_default();
            anyhow::bail!("demo: {method} {path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
    }
    Ok(format!("event {EVENT} with 6 sessions, 4 members and their check-ins ({n} requests); try `cec cecs M-1001`"))
}
