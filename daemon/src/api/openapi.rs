//! `GET /v1/openapi.json`: the machine-readable API, built from the wire types' derived schemas
//! (`utoipa::ToSchema` in `cec-client::wire`) and the route table below, which a test checks
//! against the router (every operation listed here is served).

use std::sync::OnceLock;

use axum::Json;
use cec_client::wire::*;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathsBuilder};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ComponentsBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required, Schema};

/// What an operation takes and answers.
#[derive(Clone, Copy)]
enum Body {
    None,
    Json(&'static str),
    List(&'static str),
    Raw(&'static str),
}

/// `(method, path, summary, request, success status, response)`.
type Route = (HttpMethod, &'static str, &'static str, Body, u16, Body);

/// Creates that are idempotent by id (api.md): the same id and body again answers `200` with
/// the stored object, beside the `201` of the first time.
const IDEMPOTENT_CREATES: &[&str] = &[
    "/v1/events",
    "/v1/events/{event_id}/sessions",
    "/v1/checkins",
    "/v1/portfolios/{member_id}/entries",
    "/v1/portfolios/{member_id}/petitions",
    "/v1/admin/revocations",
];

/// Every operation of the API.
const ROUTES: &[Route] = &[
    (HttpMethod::Get, "/v1/health", "Liveness and identity (no token needed)", Body::None, 200, Body::Json("Health")),
    (HttpMethod::Get, "/v1/node", "This node", Body::None, 200, Body::Json("NodeInfo")),
    (HttpMethod::Get, "/v1/peers", "The peers this node syncs with", Body::None, 200, Body::List("PeerJson")),
    (
        HttpMethod::Post,
        "/v1/peers",
        "Add a static peer by its peer_url",
        Body::Json("NewPeer"),
        201,
        Body::Json("PeerJson"),
    ),
    (HttpMethod::Delete, "/v1/peers/{peer_id}", "Forget a peer", Body::None, 204, Body::None),
    (HttpMethod::Post, "/v1/sync", "Run a sync round now", Body::Json("SyncRequest"), 200, Body::Json("SyncResult")),
    (HttpMethod::Get, "/v1/sync/status", "Sync state per peer", Body::None, 200, Body::Json("SyncStatus")),
    (
        HttpMethod::Post,
        "/v1/admin/credentials",
        "Issue a credential (central node only)",
        Body::Json("IssueCredential"),
        201,
        Body::Json("CredentialJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/node/credential",
        "Install this node's credential and pin the organization key",
        Body::Json("InstallCredential"),
        200,
        Body::Json("CredentialJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/admin/enrolments",
        "Issue an enrolment code (central node only, peer listener on)",
        Body::Json("NewEnrolment"),
        201,
        Body::Json("EnrolmentJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/node/enroll",
        "Enrol with a code: fetch this node's credential from the central node and install it",
        Body::Json("EnrollRequest"),
        200,
        Body::Json("EnrolledJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/admin/revocations",
        "Revoke a node's credentials (central node only; 200 if it was revoked already)",
        Body::Json("NewRevocation"),
        201,
        Body::Json("RevocationJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/admin/revocations",
        "The revocations this node knows",
        Body::None,
        200,
        Body::List("RevocationJson"),
    ),
    (HttpMethod::Get, "/v1/openapi.json", "This document", Body::None, 200, Body::Raw("application/json")),
    (
        HttpMethod::Post,
        "/v1/events",
        "Create an event (idempotent by id)",
        Body::Json("NewEvent"),
        201,
        Body::Json("EventJson"),
    ),
    (HttpMethod::Get, "/v1/events", "List events", Body::None, 200, Body::List("EventJson")),
    (HttpMethod::Get, "/v1/events/{event_id}", "An event", Body::None, 200, Body::Json("EventJson")),
    (
        HttpMethod::Post,
        "/v1/events/{event_id}/sessions",
        "Add a session",
        Body::Json("NewSession"),
        201,
        Body::Json("SessionJson"),
    ),
    (HttpMethod::Get, "/v1/events/{event_id}/sessions", "List sessions", Body::None, 200, Body::List("SessionJson")),
    (
        HttpMethod::Get,
        "/v1/events/{event_id}/sessions/{session_id}",
        "A session",
        Body::None,
        200,
        Body::Json("SessionJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/events/{event_id}/roster",
        "Add or update roster members",
        Body::Json("Roster"),
        200,
        Body::Json("Roster"),
    ),
    (HttpMethod::Get, "/v1/events/{event_id}/roster", "The roster", Body::None, 200, Body::Json("Roster")),
    (
        HttpMethod::Post,
        "/v1/checkins",
        "Record a check-in (durable when answered)",
        Body::Json("NewCheckIn"),
        201,
        Body::Json("CheckInJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/checkins/batch",
        "Record buffered check-ins",
        Body::Json("CheckInBatch"),
        200,
        Body::Json("BatchResult"),
    ),
    (
        HttpMethod::Get,
        "/v1/checkins",
        "List check-ins (event_id, session_id, member_id filters)",
        Body::None,
        200,
        Body::List("CheckInJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/checkins/{checkin_id}/void",
        "Void a check-in (a correction; idempotent: the first void stands)",
        Body::Json("VoidRequest"),
        200,
        Body::Json("CheckInJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/open-tickets",
        "A one-time link that opens a page (the kiosk screen, the organizer's page, a portfolio) in a browser, \
         or pairs a browser with the kiosk screen (pair)",
        Body::Json("TicketRequest"),
        201,
        Body::Json("Ticket"),
    ),
    (
        HttpMethod::Get,
        "/v1/pairings",
        "The browsers paired with this node (cec open kiosk --pair)",
        Body::None,
        200,
        Body::List("PairingJson"),
    ),
    (
        HttpMethod::Delete,
        "/v1/pairings/{pairing_id}",
        "End a pairing: its browser is signed out (idempotent: the first end stands)",
        Body::None,
        200,
        Body::Json("PairingJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/members/{member_id}/attendance",
        "A member's attendance with flags and reasons",
        Body::None,
        200,
        Body::Json("AttendanceList"),
    ),
    (
        HttpMethod::Get,
        "/v1/members/{member_id}/cecs",
        "A member's credit (from, to)",
        Body::None,
        200,
        Body::Json("CecSummary"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}",
        "A member's portfolio",
        Body::None,
        200,
        Body::Json("PortfolioJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/portfolios/{member_id}/entries",
        "Add an entry",
        Body::Json("NewEntry"),
        201,
        Body::Json("EntryJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/entries",
        "A member's entries by date, a page at a time (kind, cursor, limit)",
        Body::None,
        200,
        Body::List("EntryJson"),
    ),
    (
        HttpMethod::Patch,
        "/v1/portfolios/{member_id}/entries/{entry_id}",
        "Change an entry",
        Body::Json("EntryPatch"),
        200,
        Body::Json("EntryJson"),
    ),
    (
        HttpMethod::Delete,
        "/v1/portfolios/{member_id}/entries/{entry_id}",
        "Remove an entry",
        Body::None,
        204,
        Body::None,
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/goals",
        "Goals with progress",
        Body::None,
        200,
        Body::List("GoalJson"),
    ),
    (
        HttpMethod::Put,
        "/v1/portfolios/{member_id}/goals/{goal_id}",
        "Set a goal",
        Body::Json("GoalInput"),
        200,
        Body::Json("GoalJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/requirements",
        "Requirement programs: met and missing",
        Body::None,
        200,
        Body::List("ProgramJson"),
    ),
    (
        HttpMethod::Put,
        "/v1/portfolios/{member_id}/requirements/{program_id}",
        "Set a requirement program",
        Body::Json("ProgramInput"),
        200,
        Body::Json("ProgramJson"),
    ),
    (
        HttpMethod::Post,
        "/v1/portfolios/{member_id}/petitions",
        "Create a petition for credit",
        Body::Json("NewPetition"),
        201,
        Body::Json("PetitionJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/petitions",
        "List petitions",
        Body::None,
        200,
        Body::List("PetitionJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/petitions/{petition_id}",
        "A petition",
        Body::None,
        200,
        Body::Json("PetitionJson"),
    ),
    (
        HttpMethod::Patch,
        "/v1/portfolios/{member_id}/petitions/{petition_id}",
        "Record a petition's status",
        Body::Json("PetitionPatch"),
        200,
        Body::Json("PetitionJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/petitions/{petition_id}/packet",
        "The petition packet (format=json|csv|pdf)",
        Body::None,
        200,
        Body::Json("PacketJson"),
    ),
    (
        HttpMethod::Get,
        "/v1/portfolios/{member_id}/transcript",
        "The transcript (format=json|csv|pdf, from, to)",
        Body::None,
        200,
        Body::Json("TranscriptJson"),
    ),
    (
        HttpMethod::Put,
        "/v1/blobs",
        "Store a blob (raw body)",
        Body::Raw("application/octet-stream"),
        201,
        Body::Json("BlobJson"),
    ),
    (HttpMethod::Get, "/v1/blobs/{sha256}", "A blob", Body::None, 200, Body::Raw("application/octet-stream")),
    (
        HttpMethod::Get,
        "/v1/changes",
        "The change feed (since, wait for long poll)",
        Body::None,
        200,
        Body::Json("Changes"),
    ),
    (HttpMethod::Get, "/metrics", "Prometheus metrics", Body::None, 200, Body::Raw("text/plain")),
];

fn content(body: Body) -> Option<utoipa::openapi::Content> {
    match body {
        Body::None => None,
        Body::Json(name) => Some(ContentBuilder::new().schema(Some(Ref::from_schema_name(name))).build()),
        Body::List(name) => {
            let page = ObjectBuilder::new()
                .property("items", ArrayBuilder::new().items(Ref::from_schema_name(name)))
                .required("items")
                .property(
                    "next_cursor",
                    ObjectBuilder::new().schema_type(Type::String).description(Some("null on the last page")),
                )
                .required("next_cursor");
            Some(ContentBuilder::new().schema(Some(RefOr::T(Schema::Object(page.build())))).build())
        }
        Body::Raw(_) => Some(ContentBuilder::new().build()),
    }
}

fn content_type(body: Body) -> &'static str {
    match body {
        Body::Raw(t) => t,
        _ => "application/json",
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
}

fn build() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for (method, path, summary, req, status, resp) in ROUTES {
        let (path, summary, req, status, resp) = (*path, *summary, *req, *status, *resp);
        let mut op = OperationBuilder::new().summary(Some(summary));
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let name = seg.trim_matches(|c| c == '{' || c == '}');
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        if let Some(c) = content(req) {
            op = op.request_body(Some(
                RequestBodyBuilder::new().content(content_type(req), c).required(Some(Required::True)).build(),
            ));
        }
        let ok = |description: &str| {
            let ok = ResponseBuilder::new().description(description);
            match content(resp) {
                Some(c) => ok.content(content_type(resp), c).build(),
                None => ok.build(),
            }
        };
        let mut responses = ResponsesBuilder::new().response(status.to_string(), ok("success"));
        if status == 201 && matches!(method, HttpMethod::Post) && IDEMPOTENT_CREATES.contains(&path) {
            responses = responses.response("200", ok("the same create again (same id, same body): the stored object"));
        }
        for (code, what) in [
            ("400", "bad_request or invalid_json"),
            ("401", "unauthorized"),
            ("403", "forbidden (Host is not this machine)"),
            ("404", "not_found"),
            ("409", "conflict"),
            ("413", "too_large"),
            ("422", "invalid (with field)"),
        ] {
            responses = responses.response(code, error_response(what));
        }
        if matches!(req, Body::Json(_)) {
            responses = responses
                .response("408", error_response("request_timeout (the body stopped arriving)"))
                .response("415", error_response("unsupported_media_type (not application/json)"));
        }
        if !matches!(method, HttpMethod::Get) {
            responses = responses
                .response("503", error_response("storage_unavailable (the data directory cannot be written)"))
                .response("507", error_response("insufficient_storage (the disk is full)"));
        }
        op = op.responses(responses.build());
        if path != "/v1/health" {
            op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
        }
        paths = paths.path(path, PathItem::new(method.clone(), op.build()));
    }
    let components = ComponentsBuilder::new()
        .security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()))
        .schema_from::<ErrorBody>()
        .schema_from::<ErrorDetail>()
        .schema_from::<Health>()
        .schema_from::<NodeInfo>()
        .schema_from::<CredentialJson>()
        .schema_from::<IssueCredential>()
        .schema_from::<InstallCredential>()
        .schema_from::<NewEnrolment>()
        .schema_from::<EnrolmentJson>()
        .schema_from::<EnrollRequest>()
        .schema_from::<EnrolledJson>()
        .schema_from::<NewRevocation>()
        .schema_from::<RevocationJson>()
        .schema_from::<NewPeer>()
        .schema_from::<PeerJson>()
        .schema_from::<PeerClockJson>()
        .schema_from::<SyncRequest>()
        .schema_from::<SyncPeerJson>()
        .schema_from::<SyncResult>()
        .schema_from::<SyncStatus>()
        .schema_from::<CentralStatus>()
        .schema_from::<RetentionStatus>()
        .schema_from::<RetiredEventJson>()
        .schema_from::<HeldEventJson>()
        .schema_from::<EndorsementJson>()
        .schema_from::<ProviderJson>()
        .schema_from::<PolicyJson>()
        .schema_from::<NewEvent>()
        .schema_from::<EventJson>()
        .schema_from::<SegmentJson>()
        .schema_from::<NewSession>()
        .schema_from::<SessionJson>()
        .schema_from::<RosterMemberJson>()
        .schema_from::<Roster>()
        .schema_from::<NewCheckIn>()
        .schema_from::<CheckInJson>()
        .schema_from::<VoidJson>()
        .schema_from::<ClockSkewJson>()
        .schema_from::<VoidRequest>()
        .schema_from::<TicketRequest>()
        .schema_from::<Ticket>()
        .schema_from::<PairingJson>()
        .schema_from::<CheckInBatch>()
        .schema_from::<BatchItem>()
        .schema_from::<BatchResult>()
        .schema_from::<AttendanceJson>()
        .schema_from::<AttendanceList>()
        .schema_from::<CreditRecordJson>()
        .schema_from::<CecSummary>()
        .schema_from::<UnconfirmedCredit>()
        .schema_from::<BlobJson>()
        .schema_from::<ChangeJson>()
        .schema_from::<Changes>()
        .schema_from::<NewEntry>()
        .schema_from::<EntryPatch>()
        .schema_from::<EntryJson>()
        .schema_from::<BenchmarkJson>()
        .schema_from::<GoalInput>()
        .schema_from::<BenchmarkProgressJson>()
        .schema_from::<GoalJson>()
        .schema_from::<ProgramInput>()
        .schema_from::<CategoryProgressJson>()
        .schema_from::<ProgramJson>()
        .schema_from::<NewPetition>()
        .schema_from::<PetitionPatch>()
        .schema_from::<PetitionJson>()
        .schema_from::<TotalsJson>()
        .schema_from::<PacketJson>()
        .schema_from::<TranscriptJson>()
        .schema_from::<ProfileJson>()
        .schema_from::<PortfolioJson>()
        .build();
    OpenApiBuilder::new()
        .info(InfoBuilder::new().title("cecd local API").version("1").description(Some(
            "The local API of a cecsync node. Credit values are decimal strings; times are RFC 3339.",
        )))
        .paths(paths.build())
        .components(Some(components))
        .build()
}

/// The document as the wire types' schemas and the route table give it.
#[cfg(test)]
pub(super) fn spec_raw() -> OpenApi {
    build()
}

/// The document with the API's validation rules added, built once.
pub(super) fn spec() -> &'static serde_json::Value {
    static SPEC: OnceLock<serde_json::Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let mut doc = serde_json::to_value(build()).unwrap_or_default();
        super::openapi_rules::refine(&mut doc);
        doc
    })
}

pub(super) async fn openapi_json() -> Json<&'static serde_json::Value> {
    Json(spec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_schema_is_a_component() {
        let json = serde_json::to_value(spec()).unwrap();
        let text = json.to_string();
        let schemas = json["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            assert!(schemas.contains_key(&name), "{name} is referenced but not a component");
        }
        assert!(json["paths"]["/v1/checkins"]["post"].is_object());
    }

    #[test]
    fn idempotent_creates_are_listed_creates() {
        for path in IDEMPOTENT_CREATES {
            assert!(
                ROUTES
                    .iter()
                    .any(|(m, p, _, _, status, _)| p == path && *status == 201 && matches!(m, HttpMethod::Post)),
                "{path} is not a POST answering 201"
            );
            let doc = serde_json::to_value(spec()).unwrap();
            assert!(doc["paths"][path]["post"]["responses"]["200"].is_object(), "{path}: 200 not documented");
        }
    }

    /// Every operation the document lists is served: none falls through to the 404 fallback
    /// or the 405 handler.
    #[tokio::test]
    async fn every_listed_operation_is_routed() {
        use axum::body::Body as HttpBody;
        use axum::http::{Method, Request};
        use tower::ServiceExt;

        let dir = tempfile::tempdir().unwrap();
        let node =
            std::sync::Arc::new(crate::node::Node::open(dir.path(), crate::config::Config::default()).await.unwrap());
        let app = super::super::app(node.clone());
        for (method, path, ..) in ROUTES {
            let method = match method {
                HttpMethod::Get => Method::GET,
                HttpMethod::Post => Method::POST,
                HttpMethod::Put => Method::PUT,
                HttpMethod::Patch => Method::PATCH,
                HttpMethod::Delete => Method::DELETE,
                _ => panic!("unexpected method on {path}"),
            };
            let uri: String =
                path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
            let req = Request::builder()
                .method(method.clone())
                .uri(&uri)
                .header("host", "localhost")
                .header("authorization", format!("Bearer {}", node.identity.token))
                .header("content-type", "application/json")
                .body(HttpBody::from("{}"))
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            let text = String::from_utf8_lossy(&body);
            assert!(status != 405, "{method} {uri}: 405");
            assert!(!text.contains("no such endpoint"), "{method} {uri} is not routed");
        }
    }
}

#[cfg(test)]
mod truth {
    use axum::body::Body as HttpBody;
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::spec;

    /// Values to try for every query parameter: each the document allows is taken, each it
    /// does not is `422` naming the parameter.
    const CANDIDATES: &[&str] = &[
        "5",
        "0",
        "demo",
        "2026-01-01",
        "2026-01-01/x",
        "n0123456789abcdef01234567",
        "json",
        "activity",
        "",
        "+5",
        "05",
        "61",
        "a b",
        "x/y/z",
        "2026-02-30",
        "-1",
    ];

    fn matches(schema: &Value, v: &str) -> bool {
        if let Some(e) = schema["enum"].as_array() {
            return e.iter().any(|x| x == v);
        }
        let pattern = schema["pattern"].as_str().expect("a query parameter with a pattern or an enum");
        regex::Regex::new(pattern).unwrap().is_match(v)
            && (schema["format"] != "date" || v.parse::<jiff::civil::Date>().is_ok())
    }

    /// Every query parameter the document lists is one the handler takes, exactly as the
    /// document says (what its pattern allows is taken, what it does not is refused), and
    /// every path parameter has a pattern.
    #[tokio::test]
    async fn documented_parameters_are_accepted() {
        let doc = spec();
        let dir = tempfile::tempdir().unwrap();
        let node =
            std::sync::Arc::new(crate::node::Node::open(dir.path(), crate::config::Config::default()).await.unwrap());
        let app = super::super::app(node.clone());
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap();
                    if p["in"] == "path" {
                        assert!(p["schema"]["pattern"].is_string(), "{method} {path}: {name} has no pattern");
                        continue;
                    }
                    if method != "get" {
                        continue;
                    }
                    let concrete: String = path
                        .split('/')
                        .map(|s| {
                            if s == "{sha256}" {
                                "ab".repeat(32)
                            } else if s.starts_with('{') {
                                "x".into()
                            } else {
                                s.into()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("/");
                    let schema = &p["schema"];
                    assert!(CANDIDATES.iter().any(|v| matches(schema, v)), "{path} {name}: no allowed value");
                    for value in CANDIDATES {
                        let allowed = matches(schema, value);
                        let encoded: String = value
                            .bytes()
                            .map(|b| if b == b' ' { "%20".into() } else { (b as char).to_string() })
                            .collect();
                        let uri = format!("{concrete}?{name}={}", encoded.replace('+', "%2B"));
                        let req = Request::get(&uri)
                            .header("host", "localhost")
                            .header("authorization", format!("Bearer {}", node.identity.token))
                            .body(HttpBody::empty())
                            .unwrap();
                        let resp = app.clone().oneshot(req).await.unwrap();
                        let status = resp.status().as_u16();
                        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
                        let text = String::from_utf8_lossy(&body);
                        if allowed {
                            assert!(status != 422 && status < 500, "GET {uri}: {status} {text}");
                        } else {
                            assert_eq!(status, 422, "GET {uri}: {text}");
                            assert!(text.contains(&format!("\"field\":\"{name}\"")), "GET {uri}: {text}");
                        }
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 15, "only {checked} query parameters");
        let list = &doc["paths"]["/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        assert_eq!(list["properties"]["next_cursor"]["type"], serde_json::json!(["string", "null"]), "{list}");
        assert!(doc["paths"]["/v1/portfolios/{member_id}/entries"]["get"].is_object());
    }
}
