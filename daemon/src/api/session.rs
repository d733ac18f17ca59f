//! Page sessions: how the node's own web pages reach the API without ever holding the token.
//!
//! `cec open` (holding the token) asks `POST /v1/open-tickets` for a one-time ticket
//! (`node/tickets.rs`); the browser opens `/open?ticket=...`, which spends the ticket and sets
//! an `HttpOnly`, `SameSite=Strict` session cookie, then redirects to the page. The cookie
//! stands for the token: `cecsync-session-v1.<expiry>.<nonce>.<mac>`, the MAC an HMAC-SHA256
//! keyed by the API token, so it survives a restart of the node (a kiosk keeps working) and
//! a new token ends every session. The token itself is never in a URL, a page or anything
//! script can read.
//!
//! A request that changes something and is authenticated by the cookie must also carry
//! `X-CEC-Request: 1` (a header another site cannot send without a CORS preflight, which this
//! node never grants), and must not come from another site by `Origin` or `Sec-Fetch-Site`.

use axum::http::{HeaderMap, Method, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use crate::node::Node;

/// The session cookie's name.
pub(super) const COOKIE: &str = "cec_session";

/// How long a page session lasts: a conference day.
pub(super) const SESSION_SECS: i64 = 24 * 3600;

/// The header a page sends with every request that changes something.
pub(super) const REQUEST_HEADER: &str = "x-cec-request";

const PREFIX: &str = "cecsync-session-v1";

fn mac(token: &str, payload: &str) -> Option<Vec<u8>> {
    let mut m = Hmac::<Sha256>::new_from_slice(token.as_bytes()).ok()?;
    m.update(payload.as_bytes());
    Some(m.finalize().into_bytes().to_vec())
}

/// A new session cookie's value, valid until `now` + [`SESSION_SECS`].
pub(super) fn new_session(node: &Node, now: Timestamp) -> Option<String> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).ok()?;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = format!("{PREFIX}.{}.{}", now.as_second() + SESSION_SECS, b64.encode(nonce));
    let tag = mac(&node.identity.token, &payload)?;
    Some(format!("{payload}.{}", b64.encode(tag)))
}

/// The `Set-Cookie` value of a session.
pub(super) fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECS}")
}

/// Whether `value` is a session this node made (with its current token) that has not expired.
fn valid_session(node: &Node, value: &str, now: Timestamp) -> bool {
    let Some((payload, tag)) = value.rsplit_once('.') else { return false };
    let mut parts = payload.split('.');
    let (Some(PREFIX), Some(expiry), Some(_nonce), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(expiry) = expiry.parse::<i64>() else { return false };
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else { return false };
    let Some(expected) = mac(&node.identity.token, payload) else { return false };
    super::constant_time_eq(&tag, &expected) && expiry > now.as_second()
}

/// The session cookie's value among the request's cookies.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// How a request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Auth {
    /// The bearer token.
    Token,
    /// A page session, allowed for this request.
    Session,
    /// A page session, but the request changes something without the page's header, or comes
    /// from another site: refused (CSRF).
    CrossSite,
    /// Neither.
    None,
}

/// Whether a cookie-authenticated request that changes something is the page's own.
fn same_site(headers: &HeaderMap) -> bool {
    let header_ok = headers.get(REQUEST_HEADER).is_some_and(|v| v == "1");
    let fetch_site_ok =
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_none_or(|s| s == "same-origin" || s == "none");
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let authority = origin.strip_prefix("http://");
            authority.is_some_and(|a| Some(a) == host && super::is_loopback_host(a))
        }
    };
    header_ok && fetch_site_ok && origin_ok
}

/// How `headers` authenticate a `method` request. The token is taken only from the
/// `Authorization` header, never from a query string.
pub(super) fn auth(node: &Node, method: &Method, headers: &HeaderMap) -> Auth {
    if super::has_token(node, headers) {
        return Auth::Token;
    }
    let Some(cookie) = session_cookie(headers) else { return Auth::None };
    if !valid_session(node, cookie, Timestamp::now()) {
        return Auth::None;
    }
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || same_site(headers) { Auth::Session } else { Auth::CrossSite }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_site_needs_the_header_and_no_foreign_origin() {
        let host = ("host", "127.0.0.1:7420");
        assert!(same_site(&headers(&[host, ("x-cec-request", "1")])));
        assert!(same_site(&headers(&[host, ("x-cec-request", "1"), ("origin", "http://127.0.0.1:7420")])));
        assert!(same_site(&headers(&[host, ("x-cec-request", "1"), ("sec-fetch-site", "same-origin")])));
        assert!(!same_site(&headers(&[host])));
        assert!(!same_site(&headers(&[host, ("x-cec-request", "1"), ("origin", "http://evil.example")])));
        assert!(!same_site(&headers(&[host, ("x-cec-request", "1"), ("origin", "http://127.0.0.1:9999")])));
        assert!(!same_site(&headers(&[host, ("x-cec-request", "1"), ("sec-fetch-site", "cross-site")])));
        assert!(!same_site(&headers(&[host, ("x-cec-request", "1"), ("origin", "null")])));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; cec_session=abc.def ; b=2")]);
        assert_eq!(session_cookie(&h), Some("abc.def"));
        assert_eq!(session_cookie(&headers(&[("cookie", "xcec_session=1")])), None);
    }
}
