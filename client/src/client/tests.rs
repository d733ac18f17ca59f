//! The client against a tiny in-process axum server on 127.0.0.1:0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use rust_decimal_macros::dec;
use serde_json::json;

use super::*;

const TOKEN: &str = "test-token";

#[derive(Clone, Default)]
struct Seen {
    hosts: Arc<Mutex<Vec<String>>>,
    blob: Arc<Mutex<Vec<u8>>>,
    blob_length_header: Arc<Mutex<Option<String>>>,
    attendance_member: Arc<Mutex<Option<String>>>,
}

fn api_error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut error = json!({ "code": code, "message": message });
    if let Some(f) = field {
        error["field"] = json!(f);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

/// The refusal when the token is wrong, `None` when it is right.
fn reject(seen: &Seen, headers: &HeaderMap) -> Option<Response> {
    if let Some(h) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        seen.hosts.lock().unwrap().push(h.to_owned());
    }
    match headers.get(header::AUTHORIZATION).and_then(|h| h.to_str().ok()) {
        Some(v) if v == format!("Bearer {TOKEN}") => None,
        _ => Some(api_error(StatusCode::UNAUTHORIZED, "unauthorized", "a bearer token is required", None)),
    }
}

fn event(id: &str) -> serde_json::Value {
    json!({
        "id": id, "title": "Annual", "venue": null, "timezone": "America/Chicago",
        "provider": {"id": "P1", "name": "ACA", "endorsement": {"number": "E-77", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
        "policy": {"grace_minutes": 5, "full_attendance_required": false},
        "session_count": 1, "roster_count": 2
    })
}

fn checkin(id: &str) -> serde_json::Value {
    json!({
        "id": id, "event_id": "E1", "session_id": "S1", "member_id": "M1", "member_name": "Ann",
        "direction": "in", "at": "2026-05-01T14:00:00Z", "method": "badge", "kiosk_id": "K1",
        "recorded_at": "2026-05-01T14:00:01Z", "flags": []
    })
}

async fn start() -> (Client, Seen, tokio::task::JoinHandle<()>) {
    let seen = Seen::default();
    let app = Router::new()
        .route(
            "/v1/health",
            get(|| async { axum::Json(json!({"status": "ok", "node_id": "N1", "role": "none", "version": "0.1.0"})) }),
        )
        .route(
            "/v1/events/{id}",
            get(|State(seen): State<Seen>, headers: HeaderMap, AxPath(id): AxPath<String>| async move {
                if let Some(r) = reject(&seen, &headers) {
                    return r;
                }
                if id == "E1" {
                    axum::Json(event(&id)).into_response()
                } else {
                    api_error(StatusCode::NOT_FOUND, "not_found", &format!("no event {id}"), None)
                }
            }),
        )
        .route(
            "/v1/events/{id}/sessions",
            post(|State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                if let Some(r) = reject(&seen, &headers) {
                    return r;
                }
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(v["segments"][0]["kind"], "meal");
                api_error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "unknown segment kind \"meal2\"",
                    Some("segments[1].kind"),
                )
            }),
        )
        .route(
            "/v1/checkins",
            get(
                |State(seen): State<Seen>,
                 headers: HeaderMap,
                 Query(q): Query<std::collections::HashMap<String, String>>| async move {
                    if let Some(r) = reject(&seen, &headers) {
                        return r;
                    }
                    assert_eq!(q.get("event_id").map(String::as_str), Some("E1"));
                    match q.get("cursor").map(String::as_str) {
                        None => axum::Json(json!({"items": [checkin("c1"), checkin("c2")], "next_cursor": "p2"}))
                            .into_response(),
                        Some("p2") => {
                            axum::Json(json!({"items": [checkin("c3")], "next_cursor": null})).into_response()
                        }
                        Some(other) => {
                            api_error(StatusCode::BAD_REQUEST, "bad_request", &format!("bad cursor {other}"), None)
                        }
                    }
                },
            ),
        )
        .route(
            "/v1/members/{id}/attendance",
            get(|State(seen): State<Seen>, headers: HeaderMap, AxPath(id): AxPath<String>| async move {
                if let Some(r) = reject(&seen, &headers) {
                    return r;
                }
                *seen.attendance_member.lock().unwrap() = Some(id);
                axum::Json(json!({"items": []})).into_response()
            }),
        )
        .route(
            "/v1/blobs",
            put(|State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
                if let Some(r) = reject(&seen, &headers) {
                    return r;
                }
                *seen.blob_length_header.lock().unwrap() =
                    headers.get(header::CONTENT_LENGTH).and_then(|h| h.to_str().ok()).map(str::to_owned);
                *seen.blob.lock().unwrap() = body.to_vec();
                axum::Json(json!({"sha256": "ab".repeat(32), "size": body.len()})).into_response()
            }),
        )
        .route(
            "/v1/blobs/{sha}",
            get(|State(seen): State<Seen>, headers: HeaderMap| async move {
                if let Some(r) = reject(&seen, &headers) {
                    return r;
                }
                seen.blob.lock().unwrap().clone().into_response()
            }),
        )
        .route("/v1/changes", get(|| async { "<html>oops</html>" }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = Client::new(&format!("http://{addr}"), TOKEN).unwrap();
    (client, seen, server)
}

#[tokio::test]
async fn typed_calls_send_the_token_and_decode() {
    let (client, seen, server) = start().await;
    assert_eq!(client.health().await.unwrap().node_id, "N1");
    let e = client.event("E1").await.unwrap();
    assert_eq!(e.provider.endorsement.unwrap().number, "E-77");
    assert_eq!(e.policy.grace_minutes, 5);
    let port = client.base.port().unwrap();
    assert!(seen.hosts.lock().unwrap().iter().all(|h| *h == format!("127.0.0.1:{port}")));

    let bad = Client::new(client.base_url(), "wrong").unwrap();
    let err = bad.event("E1").await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(401), Some("unauthorized")));
    server.abort();
}

#[tokio::test]
async fn api_errors_decode_with_code_and_field() {
    let (client, _seen, server) = start().await;
    let err = client.event("E9").await.unwrap_err();
    assert_eq!(err.to_string(), "no event E9 (not_found)");
    let new = NewSession {
        id: None,
        title: "Lunch".into(),
        category: None,
        format: None,
        starts_at: "2026-05-01T17:00:00Z".parse().unwrap(),
        segments: vec![
            SegmentJson { kind: "meal".into(), minutes: 30 },
            SegmentJson { kind: "meal2".into(), minutes: 30 },
        ],
    };
    match client.create_session("E1", &new).await.unwrap_err() {
        ClientError::Api { status, code, field, .. } => {
            assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("segments[1].kind")));
        }
        other => panic!("not an API error: {other:?}"),
    }
    let err = client.changes(None, None).await.unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err:?}");
    server.abort();
}

#[tokio::test]
async fn lists_follow_pagination_and_paths_are_encoded() {
    let (client, seen, server) = start().await;
    let filter = CheckInFilter { event_id: Some("E1".into()), ..CheckInFilter::default() };
    let all = client.all_checkins(&filter).await.unwrap();
    assert_eq!(all.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["c1", "c2", "c3"]);
    let first = client.checkins(&filter, &PageOpts::default()).await.unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("p2"));

    client.attendance("M 1/x", None).await.unwrap();
    assert_eq!(seen.attendance_member.lock().unwrap().as_deref(), Some("M 1/x"));
    server.abort();
}

#[tokio::test]
async fn blobs_stream_from_a_file_with_progress() {
    let (client, seen, server) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cert.pdf");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    let last = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let progress: Progress = {
        let (last, calls) = (last.clone(), calls.clone());
        Arc::new(move |sent, total| {
            assert_eq!(total, 200_000);
            assert!(sent >= last.load(Ordering::SeqCst));
            last.store(sent, Ordering::SeqCst);
            calls.fetch_add(1, Ordering::SeqCst);
        })
    };
    let blob = client.put_blob_file(&path, Some(progress)).await.unwrap();
    assert_eq!(blob.size, 200_000);
    assert_eq!(last.load(Ordering::SeqCst), 200_000);
    assert!(calls.load(Ordering::SeqCst) >= 4, "progress is reported per chunk");
    assert_eq!(*seen.blob.lock().unwrap(), content);
    assert_eq!(seen.blob_length_header.lock().unwrap().as_deref(), Some("200000"));

    assert_eq!(client.get_blob(&blob.sha256).await.unwrap(), content);
    let out = dir.path().join("back.pdf");
    assert_eq!(client.get_blob_to_file(&blob.sha256, &out).await.unwrap(), 200_000);
    assert_eq!(std::fs::read(&out).unwrap(), content);

    let missing = client.put_blob_file(&dir.path().join("nope.pdf"), None).await.unwrap_err();
    assert!(matches!(missing, ClientError::Io { .. }), "{missing:?}");
    server.abort();
}

#[tokio::test]
async fn a_stopped_node_is_reported_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = Client::new(&format!("http://{addr}"), TOKEN).unwrap();
    let err = client.health().await.unwrap_err();
    assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&format!("not reachable at http://{addr}")) && msg.contains("`cecd`"), "{msg}");
}

#[test]
fn credit_goes_out_as_decimal_strings() {
    let entry = NewEntry {
        id: None,
        kind: "activity".into(),
        title: "Webinar".into(),
        description: None,
        date: "2026-02-03".parse().unwrap(),
        cecs: Some(dec!(1.50)),
        contact_minutes: None,
        category: None,
        provider: None,
        evidence: vec![],
    };
    let v = serde_json::to_value(&entry).unwrap();
    assert_eq!(v["cecs"], json!("1.5"));
}

/// Requests the sync routes saw: method, path, JSON body (null without one).
type Calls = Arc<Mutex<Vec<(String, String, serde_json::Value)>>>;

fn peer(id: &str) -> serde_json::Value {
    json!({
        "peer_id": id, "url": format!("https://127.0.0.1:7421/{id}"), "role": "central", "source": "static",
        "last_seen": "2026-05-01T14:00:00Z", "last_sync": "2026-05-01T14:00:00Z", "state": "ok", "last_error": null
    })
}

fn credential() -> serde_json::Value {
    json!({
        "org": "ACA", "node_id": "N2", "role": "kiosk", "scopes": ["event:conf"],
        "issued_at": "2026-05-01T00:00:00Z", "expires_at": "2027-06-01T00:00:00Z", "credential": "cecsync-cred-v1.a.b"
    })
}

fn sync_answer(enrolled: bool, method: &str, path: &str) -> Response {
    match (method, path) {
        ("GET", "/v1/peers") => axum::Json(json!({"items": [peer("N1")], "next_cursor": null})).into_response(),
        ("POST", "/v1/peers") => (StatusCode::CREATED, axum::Json(peer("N1"))).into_response(),
        ("DELETE", "/v1/peers/N1") => StatusCode::NO_CONTENT.into_response(),
        ("POST", "/v1/sync") if !enrolled => {
            api_error(StatusCode::CONFLICT, "conflict", "this node is not enrolled", None)
        }
        ("POST", "/v1/sync") => axum::Json(json!({"peers": [{
            "peer_id": "N1", "docs_sent": 1, "docs_received": 2, "bytes_sent": 10, "bytes_received": 20, "error": null
        }]}))
        .into_response(),
        ("GET", "/v1/sync/status") => axum::Json(json!({
            "node_id": "N2", "enrolled": enrolled, "peer_url": "https://127.0.0.1:7422/N2", "peers": [peer("N1")]
        }))
        .into_response(),
        ("POST", "/v1/admin/credentials") => (StatusCode::CREATED, axum::Json(credential())).into_response(),
        ("POST", "/v1/node/credential") => axum::Json(credential()).into_response(),
        _ => api_error(StatusCode::NOT_FOUND, "not_found", "no such route", None),
    }
}

/// A node answering the peer, sync and credential routes as cecd does, refusing to sync while
/// `enrolled` is false.
async fn start_sync(enrolled: bool) -> (Client, Calls, tokio::task::JoinHandle<()>) {
    let calls = Calls::default();
    let app = Router::new()
        .fallback(move |State(calls): State<Calls>, method: Method, uri: axum::http::Uri, body: Bytes| async move {
            let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
            calls.lock().unwrap().push((method.to_string(), uri.path().to_owned(), body));
            sync_answer(enrolled, method.as_str(), uri.path())
        })
        .with_state(calls.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (Client::new(&format!("http://{addr}"), TOKEN).unwrap(), calls, server)
}

#[tokio::test]
async fn peers_sync_and_credentials_use_their_routes() {
    let (client, calls, server) = start_sync(true).await;
    assert_eq!(client.peers().await.unwrap()[0].peer_id, "N1");
    assert_eq!(client.add_peer("https://127.0.0.1:7421/N1").await.unwrap().state, "ok");
    client.remove_peer("N1").await.unwrap();
    let r = client.sync(Some("N1")).await.unwrap();
    assert_eq!((r.peers[0].docs_received, r.peers[0].bytes_received), (2, 20));
    client.sync(None).await.unwrap();
    let s = client.sync_status().await.unwrap();
    assert!(s.enrolled);
    assert_eq!(s.peer_url.as_deref(), Some("https://127.0.0.1:7422/N2"));
    let issue = IssueCredential {
        node_public_key: "KEY".into(),
        role: "kiosk".into(),
        scopes: vec!["event:conf".into()],
        expires_at: "2027-06-01T00:00:00Z".parse().unwrap(),
    };
    assert_eq!(client.issue_credential(&issue).await.unwrap().credential, "cecsync-cred-v1.a.b");
    let install = InstallCredential { credential: "cecsync-cred-v1.a.b".into(), org_public_key: "ORG".into() };
    assert_eq!(client.install_credential(&install).await.unwrap().role, "kiosk");

    let seen = calls.lock().unwrap().clone();
    let routes: Vec<(&str, &str)> = seen.iter().map(|(m, p, _)| (m.as_str(), p.as_str())).collect();
    assert_eq!(
        routes,
        [
            ("GET", "/v1/peers"),
            ("POST", "/v1/peers"),
            ("DELETE", "/v1/peers/N1"),
            ("POST", "/v1/sync"),
            ("POST", "/v1/sync"),
            ("GET", "/v1/sync/status"),
            ("POST", "/v1/admin/credentials"),
            ("POST", "/v1/node/credential"),
        ]
    );
    assert_eq!(seen[1].2, json!({"url": "https://127.0.0.1:7421/N1"}));
    assert_eq!(seen[3].2, json!({"peer_id": "N1"}));
    assert_eq!(seen[4].2, json!({"peer_id": null}));
    assert_eq!(
        seen[6].2,
        json!({"node_public_key": "KEY", "role": "kiosk", "scopes": ["event:conf"], "expires_at": "2027-06-01T00:00:00Z"})
    );
    assert_eq!(seen[7].2, json!({"credential": "cecsync-cred-v1.a.b", "org_public_key": "ORG"}));
    server.abort();
}

#[tokio::test]
async fn sync_on_an_unenrolled_node_is_a_conflict() {
    let (client, _calls, server) = start_sync(false).await;
    let err = client.sync(None).await.unwrap_err();
    assert_eq!((err.status(), err.code()), (Some(409), Some("conflict")));
    server.abort();
}
