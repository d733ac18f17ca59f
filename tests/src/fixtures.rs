//! Requests the tests share: an endorsed conference with the source's example sessions, and
//! check-in bodies.

use serde_json::{Value, json};

use crate::Node;

/// The day of the fixture conference (UTC); inside the endorsement's validity.
pub const DAY: &str = "2026-04-16";

/// An instant on [`DAY`], `hh:mm` in UTC.
pub fn at(hhmm: &str) -> String {
    format!("{DAY}T{hhmm}:00Z")
}

/// The body of an event with an endorsed provider (valid all of 2026).
pub fn event_body(id: &str) -> Value {
    json!({
        "id": id,
        "title": format!("Conference {id}"),
        "provider": {"id": "prov-1", "name": "Institute of Counseling",
                     "endorsement": {"number": "ACA-EEP-9", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
        "venue": "Hall A",
        "timezone": "UTC",
    })
}

/// The body of a session starting at `hhmm` on [`DAY`].
pub fn session_body(id: &str, category: &str, hhmm: &str, segments: Value) -> Value {
    json!({"id": id, "title": format!("Session {id}"), "category": category, "starts_at": at(hhmm), "segments": segments})
}

/// A check-in body.
pub fn checkin_body(id: &str, event: &str, session: &str, member: &str, direction: &str, hhmm: &str) -> Value {
    json!({"id": id, "event_id": event, "session_id": session, "member_id": member,
           "direction": direction, "at": at(hhmm), "method": "badge"})
}

/// Creates the endorsed event `id` with the source's sessions:
/// `s75` (ethics, instruction 75 from 14:00), `s120` (clinical, instruction 120 from 15:30),
/// `lunch` (general, meal 30 + keynote 30 + meal 30 from 17:00),
/// `forum` (general, open forum 90 from 21:00), and a roster of `M-1` ("Ana") and `M-2` ("Ben").
pub fn conference(node: &Node, id: &str) {
    node.post("/v1/events", &event_body(id)).expect(201);
    let sessions = [
        session_body("s75", "ethics", "14:00", json!([{"kind": "instruction", "minutes": 75}])),
        session_body("s120", "clinical", "15:30", json!([{"kind": "instruction", "minutes": 120}])),
        session_body(
            "lunch",
            "general",
            "17:00",
            json!([{"kind": "meal", "minutes": 30}, {"kind": "keynote", "minutes": 30}, {"kind": "meal", "minutes": 30}]),
        ),
        session_body("forum", "general", "21:00", json!([{"kind": "open_forum", "minutes": 90}])),
    ];
    for s in &sessions {
        node.post(&format!("/v1/events/{id}/sessions"), s).expect(201);
    }
    let roster = json!({"members": [{"member_id": "M-1", "name": "Ana"}, {"member_id": "M-2", "name": "Ben"}]});
    node.post(&format!("/v1/events/{id}/roster"), &roster).expect(200);
}

/// Every item of a paged list, following `next_cursor` (`path` must already have a `?`).
pub fn list_all(node: &Node, path: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let url = match &cursor {
            Some(c) => format!("{path}&limit={limit}&cursor={c}"),
            None => format!("{path}&limit={limit}"),
        };
        let page = node.get(&url).expect(200);
        out.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("{path}: the cursor never ended");
}

/// Event `C` with session `s75`: began 30 minutes ago, 75 minutes of instruction, with a
/// 45-minute door grace, so a scan in now and out a moment later earns the whole 1.25; Ana
/// Lima (M-1) and Ben Okafor (M-2) on the roster.
pub fn kiosk_conference(node: &Node) {
    let starts = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(30);
    node.post(
        "/v1/events",
        &json!({"id": "C", "title": "Spring Conference", "timezone": "America/New_York",
                "provider": {"id": "P", "name": "Institute", "endorsement": {"number": "E-1",
                    "valid_from": "2000-01-01", "valid_until": "2999-12-31"}},
                "policy": {"grace_minutes": 45, "full_attendance_required": false}}),
    )
    .expect(201);
    node.post(
        "/v1/events/C/sessions",
        &json!({"id": "s75", "title": "Ethics in practice", "category": "ethics", "starts_at": starts.to_string(),
                "segments": [{"kind": "instruction", "minutes": 75}]}),
    )
    .expect(201);
    node.post(
        "/v1/events/C/roster",
        &json!({"members": [{"member_id": "M-1", "name": "Ana Lima"},
                                                          {"member_id": "M-2", "name": "Ben Okafor"}]}),
    )
    .expect(200);
}
