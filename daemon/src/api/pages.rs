//! The node's web pages (issue 8): static assets embedded in the binary and served on the
//! API's own origin, nothing loaded from other hosts. Pages hold no data and no token: they
//! call the API with the page session cookie (`session.rs`).
//!
//! Open without a session: the pages' HTML, CSS and JS (`/kiosk`, `/organize`, `/portfolio`, `/assets/...`)
//! and `/open`, which trades a one-time ticket for the session. `POST /v1/open-tickets` (token or session)
//! issues tickets; `cec open` prints the link.
//!
//! Pages share one shell (`app.css`, `app.js`: the API wrapper, the sync indicator, the
//! offline queue); each page adds its own script. Adding a page: its HTML and script here,
//! its name in [`PAGES`].

use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cec_client::wire::{Ticket, TicketRequest};
use jiff::Timestamp;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Query};
use super::session;

/// The pages a ticket can open.
pub(super) const PAGES: &[&str] = &["kiosk", "organize", "portfolio"];

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
    Router::new().route("/v1/open-tickets", post(new_ticket))
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

/// Spends a ticket: sets the session cookie and redirects to the page.
async fn open(State(node): State<AppState>, Query(q): Query<OpenQuery>) -> ApiResult<Response> {
    let Some(page) = node.tickets.redeem(&q.ticket, Instant::now()) else {
        return Err(ApiError::forbidden("this link was used already or has expired; run `cec open` again"));
    };
    let cookie =
        session::new_session(&node, Timestamp::now()).ok_or_else(|| ApiError::internal("session", "no randomness"))?;
    let mut resp = StatusCode::SEE_OTHER.into_response();
    let h = resp.headers_mut();
    let location = HeaderValue::from_str(&format!("/{page}")).map_err(|e| ApiError::internal("redirect", e))?;
    h.insert(header::LOCATION, location);
    let set = HeaderValue::from_str(&session::set_cookie(&cookie)).map_err(|e| ApiError::internal("cookie", e))?;
    h.insert(header::SET_COOKIE, set);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(resp)
}

/// Issues a one-time ticket for a page.
async fn new_ticket(
    State(node): State<AppState>,
    JsonBody(req): JsonBody<TicketRequest>,
) -> ApiResult<(StatusCode, Json<Ticket>)> {
    let page = req.page.unwrap_or_else(|| "kiosk".into());
    if !PAGES.contains(&page.as_str()) {
        return Err(ApiError::invalid("page", format!("one of {}", PAGES.join(", "))));
    }
    let ticket = node.tickets.issue(&page, Instant::now()).map_err(|e| ApiError::internal("ticket", e))?;
    Ok((
        StatusCode::CREATED,
        Json(Ticket {
            path: format!("/open?ticket={ticket}"),
            page,
            expires_in_secs: crate::node::tickets::TICKET_TTL.as_secs(),
        }),
    ))
}
