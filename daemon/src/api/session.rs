//! Page sessions: how the node's own web pages reach the API without ever holding the token.
//!
//! `cec open` (holding the token) asks `POST /v1/open-tickets` for a one-time ticket
//! (`node/tickets.rs`); the browser opens `/open?ticket=...`, which spends the ticket and sets
//! an `HttpOnly`, `SameSite=Strict` session cookie, then redirects to the page. The cookie
//! stands for the token, keyed by it: a new token ends every session, and a restart of the
//! node ends none (a kiosk keeps working). The token itself is never in a URL, a page or
//! anything script can read. Two kinds:
//!
//! - a day's session, cookie `cec_session`, `cecsync-session-v1.<expiry>.<nonce>.<mac>`: 24
//!   hours, every API route;
//! - a paired kiosk, cookie `cec_paired`, `cecsync-paired-v1.<pairing>.<expiry>.<mac>` (`cec
//!   open kiosk --pair`, `node/pairings.rs`): `kiosk_pairing_days`, renewed (a new cookie on an
//!   answer) once a day while in use, refused once its pairing is ended, and only for the routes
//!   the kiosk screen calls ([`kiosk_allows`]), so a paired device cannot issue tickets or
//!   change events. Its own name, so that a day's session opened in the same browser (the
//!   organizer's page on the door laptop) does not replace the pairing; a request with both is
//!   taken as the day's session while that holds.
//!
//! The MAC is an HMAC-SHA256 keyed by the API token over everything before it; the expiry is
//! in seconds on the node's clock (`node::clock::now`, which tests can shift).
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

/// A day's session cookie's name.
pub(super) const COOKIE: &str = "cec_session";

/// A paired browser's cookie's name.
pub(super) const PAIRED_COOKIE: &str = "cec_paired";

/// How long a day's page session lasts: a conference day.
pub(super) const SESSION_SECS: i64 = 24 * 3600;

/// The header a page sends with every request that changes something.
pub(super) const REQUEST_HEADER: &str = "x-cec-request";

const PREFIX: &str = "cecsync-session-v1";
const PAIRED_PREFIX: &str = "cecsync-paired-v1";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn mac(token: &str, payload: &str) -> Option<Vec<u8>> {
    let mut m = Hmac::<Sha256>::new_from_slice(token.as_bytes()).ok()?;
    m.update(payload.as_bytes());
    Some(m.finalize().into_bytes().to_vec())
}

fn signed(token: &str, payload: String) -> Option<String> {
    let tag = mac(token, &payload)?;
    Some(format!("{payload}.{}", B64.encode(tag)))
}

/// A new day's session cookie value, valid until `now` + [`SESSION_SECS`].
pub(super) fn new_session(token: &str, now: Timestamp) -> Option<String> {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).ok()?;
    signed(token, format!("{PREFIX}.{}.{}", now.as_second() + SESSION_SECS, B64.encode(nonce)))
}

/// A paired device's cookie value for pairing `id`, valid until `expires` (seconds).
pub(super) fn new_paired(token: &str, id: &str, expires: i64) -> Option<String> {
    signed(token, format!("{PAIRED_PREFIX}.{id}.{expires}"))
}

/// The `Set-Cookie` value of cookie `name` that lasts `max_age` seconds.
pub(super) fn set_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// What a cookie this node made (with `token`) stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Cookie {
    /// A day's session.
    Day,
    /// A paired device: its pairing and the cookie's expiry (seconds).
    Paired { id: String, expires: i64 },
}

/// What `value` is, whether or not it expired: `None` for a cookie that is not this node's
/// (another token, altered, malformed); otherwise the cookie and its expiry.
fn parse(token: &str, value: &str) -> Option<(Cookie, i64)> {
    let (payload, tag) = value.rsplit_once('.')?;
    let tag = B64.decode(tag).ok()?;
    let expected = mac(token, payload)?;
    if !super::constant_time_eq(&tag, &expected) {
        return None;
    }
    let parts: Vec<&str> = payload.split('.').collect();
    match parts.as_slice() {
        [PREFIX, expiry, _nonce] => Some((Cookie::Day, expiry.parse().ok()?)),
        [PAIRED_PREFIX, id, expiry] => {
            let expires = expiry.parse().ok()?;
            Some((Cookie::Paired { id: (*id).to_owned(), expires }, expires))
        }
        _ => None,
    }
}

/// The pairing that a request's paired cookie names, if the cookie is this node's (expired or
/// not, its pairing ended or not).
pub(super) fn paired_id(node: &Node, headers: &HeaderMap) -> Option<String> {
    match parse(&node.identity.token, session_cookie(headers, PAIRED_COOKIE)?)? {
        (Cookie::Paired { id, .. }, _) => Some(id),
        (Cookie::Day, _) => None,
    }
}

/// Whether a paired device's cookie expiring at `expires` gets a new one at `now`: once it is a
/// day old (half its lifetime, for a lifetime under two days). Renewal keeps an open screen
/// signed in without sending a cookie with every answer.
pub(super) fn renewal_due(expires: i64, now: i64, lifetime: i64) -> bool {
    expires - now <= lifetime - (lifetime / 2).min(86_400)
}

/// The value of cookie `wanted` among the request's cookies.
fn session_cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim())
}

/// How a request is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Auth {
    /// The bearer token.
    Token,
    /// A page session, allowed for this request (a paired one still only on the kiosk's routes).
    Session(Cookie),
    /// A page session, but the request changes something without the page's header, or comes
    /// from another site: refused (CSRF).
    CrossSite,
    /// A session cookie of this node that no longer holds: expired, or its pairing ended.
    Ended,
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

/// How `headers` authenticate a `method` request at `now`. The token is taken only from the
/// `Authorization` header, never from a query string.
fn auth_at(node: &Node, method: &Method, headers: &HeaderMap, now: Timestamp) -> Auth {
    if super::has_token(node, headers) {
        return Auth::Token;
    }
    // The day's session first (it reaches more), then the pairing; each only under its own name.
    let mut ended = false;
    let mut held = None;
    for (name, kind_ok) in [(COOKIE, true), (PAIRED_COOKIE, false)] {
        let Some(value) = session_cookie(headers, name) else { continue };
        let Some((cookie, expires)) = parse(&node.identity.token, value) else { continue };
        // A paired cookie holds until the earlier of its own expiry and its pairing's (which a
        // lowered `kiosk_pairing_days` cuts); renewal is judged by the same.
        let (day, holds, cookie, expires) = match cookie {
            Cookie::Day => (true, true, Cookie::Day, expires),
            Cookie::Paired { id, expires } => match node.pairings.expiry(&id) {
                Some(until) => {
                    let expires = expires.min(until.div_euclid(1000));
                    (false, true, Cookie::Paired { id, expires }, expires)
                }
                None => (false, false, Cookie::Paired { id, expires }, expires),
            },
        };
        if day != kind_ok {
            continue;
        }
        if expires <= now.as_second() || !holds {
            ended = true;
            continue;
        }
        held = Some(cookie);
        break;
    }
    let Some(cookie) = held else { return if ended { Auth::Ended } else { Auth::None } };
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || same_site(headers) { Auth::Session(cookie) } else { Auth::CrossSite }
}

/// [`auth_at`] on the node's clock.
pub(super) fn auth(node: &Node, method: &Method, headers: &HeaderMap) -> Auth {
    auth_at(node, method, headers, crate::node::clock::now())
}

/// The routes (as the router matched them) a paired kiosk screen may call: what `kiosk.js`
/// needs to choose a session, scan, void a scan, show a member's credit and the sync bar.
const KIOSK_ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/v1/events"),
    (Method::GET, "/v1/events/{event_id}"),
    (Method::GET, "/v1/events/{event_id}/sessions"),
    (Method::GET, "/v1/events/{event_id}/sessions/{session_id}"),
    (Method::GET, "/v1/events/{event_id}/roster"),
    (Method::GET, "/v1/checkins"),
    (Method::POST, "/v1/checkins"),
    (Method::POST, "/v1/checkins/batch"),
    (Method::POST, "/v1/checkins/{checkin_id}/void"),
    (Method::GET, "/v1/members/{member_id}/attendance"),
    (Method::GET, "/v1/sync/status"),
];

/// Whether a paired kiosk screen may make a `method` request of the route `matched`.
pub(super) fn kiosk_allows(method: &Method, matched: Option<&str>) -> bool {
    let method = if *method == Method::HEAD { &Method::GET } else { method };
    matched.is_some_and(|path| KIOSK_ROUTES.iter().any(|(m, p)| m == method && *p == path))
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
        let h = headers(&[("cookie", "a=1; cec_session=abc.def ; b=2"), ("cookie", "cec_paired=p.q")]);
        assert_eq!(session_cookie(&h, COOKIE), Some("abc.def"));
        assert_eq!(session_cookie(&h, PAIRED_COOKIE), Some("p.q"));
        assert_eq!(session_cookie(&headers(&[("cookie", "xcec_session=1")]), COOKIE), None);
    }

    #[test]
    fn cookies_are_the_tokens_own_and_say_what_they_stand_for() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let day = new_session("token-a", now).unwrap();
        assert_eq!(parse("token-a", &day), Some((Cookie::Day, now.as_second() + SESSION_SECS)));
        assert_eq!(parse("token-b", &day), None, "a new token ends every session");
        let paired = new_paired("token-a", "p1", 1_900_000_000).unwrap();
        assert!(paired.starts_with("cecsync-paired-v1.p1.1900000000."), "{paired}");
        assert_eq!(
            parse("token-a", &paired),
            Some((Cookie::Paired { id: "p1".into(), expires: 1_900_000_000 }, 1_900_000_000))
        );
        assert_eq!(parse("token-b", &paired), None);
        // A later expiry or another pairing, with the old MAC, is nothing.
        let (_, tag) = paired.rsplit_once('.').unwrap();
        assert_eq!(parse("token-a", &format!("cecsync-paired-v1.p1.1999999999.{tag}")), None);
        assert_eq!(parse("token-a", &format!("cecsync-paired-v1.p2.1900000000.{tag}")), None);
        // The two kinds cannot pass for each other, nor can a malformed payload, signed or not.
        assert_eq!(parse("token-a", &signed("token-a", "cecsync-paired-v1.p1".into()).unwrap()), None);
        assert_eq!(parse("token-a", &signed("token-a", "cecsync-session-v1.1.n.extra".into()).unwrap()), None);
        assert_eq!(parse("token-a", &signed("token-a", "cecsync-paired-v1.p1.soon".into()).unwrap()), None);
        assert_eq!(parse("token-a", "cecsync-paired-v1.p1.1900000000.!!"), None);
        assert_eq!(parse("token-a", ""), None);
    }

    #[test]
    fn a_paired_cookie_is_renewed_once_a_day_of_its_lifetime_has_passed() {
        let day = 86_400;
        let life = 90 * day;
        let paired_at = 1_800_000_000;
        let expires = paired_at + life;
        assert!(!renewal_due(expires, paired_at, life));
        assert!(!renewal_due(expires, paired_at + day - 1, life));
        assert!(renewal_due(expires, paired_at + day, life));
        assert!(renewal_due(expires, paired_at + 89 * day, life));
        // A one-day pairing is renewed after half a day.
        assert!(!renewal_due(paired_at + day, paired_at + day / 2 - 1, day));
        assert!(renewal_due(paired_at + day, paired_at + day / 2, day));
    }

    #[test]
    fn a_paired_kiosk_reaches_only_the_kiosk_screens_routes() {
        assert!(kiosk_allows(&Method::POST, Some("/v1/checkins")));
        assert!(kiosk_allows(&Method::GET, Some("/v1/checkins")));
        assert!(kiosk_allows(&Method::HEAD, Some("/v1/events/{event_id}/roster")));
        assert!(kiosk_allows(&Method::POST, Some("/v1/checkins/{checkin_id}/void")));
        for (m, p) in [
            (Method::POST, "/v1/open-tickets"),
            (Method::POST, "/v1/events"),
            (Method::POST, "/v1/events/{event_id}/roster"),
            (Method::GET, "/v1/portfolios/{member_id}"),
            (Method::GET, "/v1/pairings"),
            (Method::DELETE, "/v1/pairings/{pairing_id}"),
            (Method::POST, "/v1/peers"),
            (Method::GET, "/v1/node"),
            (Method::GET, "/v1/peers"),
        ] {
            assert!(!kiosk_allows(&m, Some(p)), "{m} {p}");
        }
        assert!(!kiosk_allows(&Method::GET, None));
    }
}
