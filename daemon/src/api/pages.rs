//! The node's web pages (issue 8): static assets embedded in the binary and served on the
//! API's own origin, nothing loaded from other hosts. Pages hold no data and no token: they
//! call the API with the page session cookie (`session.rs`).
//!
//! Open without a session: the pages' HTML, CSS and JS (`/kiosk`, `/organize`, `/portfolio`, `/assets/...`)
//! and `/open`, which trades a one-time ticket for the session. `POST /v1/open-tickets` (token or session)
//! issues tickets; `cec open` prints the link. A ticket with `pair` pairs the browser that spends it
//! (the kiosk screen only, `node/pairings.rs`); `GET /v1/pairings` lists the paired browsers and
//! `DELETE /v1/pairings/{id}` ends one.
//!
//! Pages share one shell (`app.css`, `app.js`: the API wrapper, the sync indicator, the
//! offline queue); each page adds its own script. Adding a page: its HTML and script here,
//! its name in [`PAGES`].

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use cec_client::wire::{Page, PairingJson, Ticket, TicketRequest};
use jiff::Timestamp;
use tracing::{info, warn};

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Query, check_id};
use super::session;
use crate::node::Node;
use crate::node::clock;
use crate::node::pairings::{Pairing, new_pairing_id};
use crate::node::tickets::Grant;

/// The pages a ticket can open.
pub(super) const PAGES: &[&str] = &["kiosk", "organize", "portfolio"];

/// The pages a browser can be paired for.
const PAIRED_PAGES: &[&str] = &["kiosk"];

/// The longest label of a pairing, in characters.
const MAX_LABEL: usize = 100;

/// `(path under /assets/, content type, bytes)`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("pages/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("pages/app.js")),
    ("kiosk.js", "text/javascript; charset=utf-8", include_str!("pages/kiosk.js")),
    ("organize.js", "text/javascript; charset=utf-8", include_str!("pages/organize.js")),
    ("portfolio.js", "text/javascript; charset=utf-8", include_str!("pages/portfolio.js")),
];

const KIOSK_HTML: &str = include_str!("pages/kiosk.html");
const ORGANIZE_HTML: &str = include_str!("pages/organize.html");
const PORTFOLIO_HTML: &str = include_str!("pages/portfolio.html");

/// Everything script, style, images and connections may use: this origin only.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The routes open without a session.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/kiosk", get(kiosk))
        .route("/organize", get(organize))
        .route("/portfolio", get(portfolio))
        .route("/assets/{file}", get(asset))
        .route("/open", get(open))
}

/// The routes that need the token or a session.
pub(super) fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/open-tickets", post(new_ticket))
        .route("/v1/pairings", get(list_pairings))
        .route("/v1/pairings/{pairing_id}", delete(end_pairing))
}

/// Headers every page and asset carries.
fn page(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn kiosk() -> Response {
    page("text/html; charset=utf-8", KIOSK_HTML)
}

async fn organize() -> Response {
    page("text/html; charset=utf-8", ORGANIZE_HTML)
}

/// The member's portfolio page: which member comes from the node's credential or the URL
/// fragment (`#member=ID`), never from the server.
async fn portfolio() -> Response {
    page("text/html; charset=utf-8", PORTFOLIO_HTML)
}

async fn asset(Path(file): Path<String>) -> ApiResult<Response> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::not_found(format!("no asset {file:?}")))?;
    Ok(page(content_type, body))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenQuery {
    ticket: String,
}

/// Spends a ticket: sets the session cookie and redirects to the page. A pairing ticket pairs
/// the browser; one that was paired before has its old pairing ended (its cookie is replaced).
/// A day's session leaves a pairing alone (another cookie).
async fn open(State(node): State<AppState>, headers: HeaderMap, Query(q): Query<OpenQuery>) -> ApiResult<Response> {
    let Some(grant) = node.tickets.redeem(&q.ticket, Instant::now()) else {
        return Err(ApiError::forbidden("this link was used already or has expired; run `cec open` again"));
    };
    let now = clock::now();
    let token = &node.identity.token;
    let (name, cookie, max_age) = match &grant.pair {
        None => (session::COOKIE, session::new_session(token, now), session::SESSION_SECS),
        Some(label) => {
            let before = session::paired_id(&node, &headers);
            let id = new_pairing_id().map_err(|e| ApiError::internal("pairing", e))?;
            let pairing = node.pair(id, &grant.page, label, now).await?;
            info!(pairing = %pairing.id, page = %pairing.page, label = %pairing.label, "a browser was paired");
            if let Some(old) = before {
                let ended = node.end_pairing(&old, now).await?;
                info!(pairing = %ended.id, "ended: its browser was paired again");
            }
            let cookie = session::new_paired(token, &pairing.id, pairing.expires_at.as_second());
            (session::PAIRED_COOKIE, cookie, node.pairing_lifetime_secs())
        }
    };
    let cookie = cookie.ok_or_else(|| ApiError::internal("session", "no randomness"))?;
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    let location = HeaderValue::from_str(&format!("/{}", grant.page)).map_err(|e| ApiError::internal("redirect", e))?;
    h.insert(header::LOCATION, location);
    let set = HeaderValue::from_str(&session::set_cookie(name, &cookie, max_age))
        .map_err(|e| ApiError::internal("cookie", e))?;
    h.insert(header::SET_COOKIE, set);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

/// Gives a paired browser a new cookie on `resp` when its cookie (expiring at `expires`) is due
/// for renewal: the pairing's lifetime starts again. Nothing when the pairing was ended
/// meanwhile; a storage failure is logged and the answer goes out as it is (the cookie still
/// holds; the next request tries again).
pub(super) async fn renew(node: &Node, id: &str, expires: i64, resp: &mut Response) {
    let at = clock::now();
    let now = at.as_second();
    let lifetime = node.pairing_lifetime_secs();
    if !session::renewal_due(expires, now, lifetime) {
        return;
    }
    let until = now + lifetime;
    match node.renew_pairing(id, at, until).await {
        Ok(true) => {
            let set = session::new_paired(&node.identity.token, id, until)
                .and_then(|c| HeaderValue::from_str(&session::set_cookie(session::PAIRED_COOKIE, &c, lifetime)).ok());
            if let Some(set) = set {
                resp.headers_mut().append(header::SET_COOKIE, set);
            }
        }
        Ok(false) => {}
        Err(e) => warn!(pairing = %id, error = %e, "renewing a paired browser's session failed"),
    }
}

/// Issues a one-time ticket for a page, or for pairing a browser with it.
async fn new_ticket(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<TicketRequest>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let page = req.page.unwrap_or_else(|| "kiosk".into());
    if !PAGES.contains(&page.as_str()) {
        return Err(ApiError::invalid("page", format!("one of {}", PAGES.join(", "))));
    }
    if !req.pair && req.label.is_some() {
        return Err(ApiError::invalid("label", "only a pairing has a label (pair: true)"));
    }
    if req.pair && !PAIRED_PAGES.contains(&page.as_str()) {
        return Err(ApiError::invalid("pair", "only the kiosk screen can be paired"));
    }
    let label = req.label.unwrap_or_default();
    if label.chars().count() > MAX_LABEL || label.chars().any(char::is_control) {
        return Err(ApiError::invalid("label", format!("at most {MAX_LABEL} characters, no control characters")));
    }
    let grant = Grant { page: page.clone(), pair: req.pair.then_some(label) };
    let ticket = node.tickets.issue(grant, Instant::now()).map_err(|e| ApiError::internal("ticket", e))?;
    let session_secs = if req.pair { node.pairing_lifetime_secs() } else { session::SESSION_SECS };
    Ok((
        StatusCode::CREATED,
        Json(Ticket {
            path: format!("/open?ticket={ticket}"),
            page,
            expires_in_secs: crate::node::tickets::TICKET_TTL.as_secs(),
            pair: req.pair,
            session_secs: u64::try_from(session_secs).unwrap_or(0),
        }),
    ))
}

fn pairing_json(p: Pairing, now: Timestamp) -> PairingJson {
    let state = p.state(now).as_str().into();
    PairingJson {
        id: p.id,
        page: p.page,
        label: p.label,
        paired_at: p.paired_at,
        expires_at: p.expires_at,
        ended_at: p.ended_at,
        state,
    }
}

/// The browsers paired with this node, oldest first.
async fn list_pairings(State(node): State<AppState>) -> Json<Page<PairingJson>> {
    let now = clock::now();
    Json(Page { items: node.pairings().into_iter().map(|p| pairing_json(p, now)).collect(), next_cursor: None })
}

/// Ends a pairing: its browser is signed out at its next request.
async fn end_pairing(State(node): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<PairingJson>> {
    check_id("pairing_id", &id)?;
    let now = clock::now();
    let row = node.end_pairing(&id, now).await?;
    info!(pairing = %id, "pairing ended");
    Ok(Json(pairing_json(row, now)))
}
