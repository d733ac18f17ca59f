//! Request extraction with the API's own errors: JSON bodies (400 `invalid_json` for syntax,
//! 422 `invalid` with the field for shape), bounded bodies (413), query strings, ids.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The largest JSON body accepted.
pub(super) const JSON_LIMIT: usize = 1024 * 1024;

/// A JSON body.
#[derive(Debug)]
pub(super) struct JsonBody<T>(pub(super) T);

/// Reads a body up to `limit` bytes.
pub(super) async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::request_timeout();
            }
            cause = c.source();
        }
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_large {
            ApiError::too_large(limit as u64)
        } else {
            ApiError::bad_request(format!("reading the body: {e}"))
        }
    })
}

/// Parses JSON into `T`, naming the field at fault.
///
/// A body is one JSON object and nothing after it but whitespace: an array (which serde would
/// read as the struct's fields in order) or trailing bytes are `400 invalid_json`.
pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(_) => return Err(ApiError::invalid_json("the body must be a JSON object")),
        None => return Err(ApiError::invalid_json("the body is empty; expected a JSON object")),
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::invalid_json(format!("malformed JSON: {inner}")),
            serde_json::error::Category::Data => {
                let msg = inner.to_string();
                let field = missing_field(&msg)
                    .map(|f| join(&path, &f))
                    .unwrap_or_else(|| if path == "." { "body".to_owned() } else { path.clone() });
                ApiError::invalid(field, strip_position(&msg))
            }
        }
    })?;
    de.end().map_err(|e| ApiError::invalid_json(format!("unexpected bytes after the JSON object: {e}")))?;
    Ok(value)
}

/// Whether a `Content-Type` names JSON: `application/json` or `application/<x>+json`, with
/// any parameters, in any case.
fn is_json_media_type(ct: &str) -> bool {
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.len() > 5 && sub.ends_with("+json"))
}

fn join(path: &str, field: &str) -> String {
    if path == "." || path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ct) = req.headers().get(axum::http::header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !is_json_media_type(ct) {
                return Err(ApiError::unsupported_media_type(format!(
                    "content-type must be application/json, not {ct:?}"
                )));
            }
        }
        let bytes = read_body(req.into_body(), JSON_LIMIT).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// A query string parsed with the API's errors.
#[derive(Debug)]
pub(super) struct Query<T>(pub(super) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        serde_urlencoded_query(q).map(Query)
    }
}

/// Parses a query string: every parameter at most once, none empty (`?limit=` or
/// `?limit=1&limit=2` is `422 invalid` naming it: neither is a value the document allows).
fn serde_urlencoded_query<T: DeserializeOwned>(q: &str) -> Result<T, ApiError> {
    let mut map = serde_json::Map::new();
    for (k, v) in url_pairs(q) {
        if v.is_empty() {
            return Err(ApiError::invalid(k, "must not be empty (leave the parameter out instead)"));
        }
        if map.contains_key(&k) {
            return Err(ApiError::invalid(k, "given more than once"));
        }
        map.insert(k, serde_json::Value::String(v));
    }
    let value = serde_json::Value::Object(map);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid(if path == "." { "query".into() } else { path }, strip_position(&e.into_inner().to_string()))
    })
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks an id from a path or body (422 `invalid` naming `field`).
pub(super) fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    cec_core::id::validate(id).map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// Checks an event or session id: also no `:`.
pub(super) fn check_scope_id(field: &str, id: &str) -> Result<(), ApiError> {
    cec_core::doc::validate_scope_id(id).map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// `limit` and `cursor` of a list.
#[derive(Debug, Clone, serde::Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    /// Items per page (default 100, at most 1000).
    pub(super) limit: Option<String>,
    /// Where the previous page ended.
    pub(super) cursor: Option<String>,
}

/// The default page size.
pub(super) const DEFAULT_LIMIT: usize = 100;
/// The largest page size.
pub(super) const MAX_LIMIT: usize = 1000;

/// Parses a whole number written the one way the document's patterns allow: ASCII digits,
/// no sign, no leading zero (but `0` itself), at most `max`.
pub(super) fn parse_whole(s: &str, max: u64) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if !canonical || s.len() > 19 {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| *n <= max)
}

/// Parses a `limit` (1–1000, default 100).
pub(super) fn parse_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    let err = || ApiError::invalid("limit", format!("must be a whole number from 1 to {MAX_LIMIT}"));
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match parse_whole(s, MAX_LIMIT as u64) {
            Some(n) if n >= 1 => usize::try_from(n).map_err(|_| err()),
            _ => Err(err()),
        },
    }
}

/// Checks a page's `cursor` with `valid`, the grammar of the key that list pages by (a cursor
/// is the last key of the page before): anything else is `422 invalid`.
pub(super) fn check_cursor(cursor: Option<&str>, valid: impl Fn(&str) -> bool) -> Result<(), ApiError> {
    match cursor {
        Some(c) if !valid(c) => Err(ApiError::invalid("cursor", "not a cursor from this list")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct T {
        title: String,
        n: u32,
    }

    #[test]
    fn json_errors_name_their_field() {
        assert_eq!(parse_json::<T>(b"{").unwrap_err().code, "invalid_json");
        let e = parse_json::<T>(br#"{"n": 1}"#).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("invalid", Some("title")));
        let e = parse_json::<T>(br#"{"title": "x", "n": "one"}"#).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("n"));
    }

    #[test]
    fn bodies_are_one_object() {
        let ok = br#"{"title": "x", "n": 1}"#;
        assert!(parse_json::<T>(ok).is_ok());
        assert!(parse_json::<T>(b" \n{\"title\": \"x\", \"n\": 1} \r\n").is_ok());
        for bad in [
            &br#"{"title": "x", "n": 1}{"id":"X"} <html>"#[..],
            br#"{"title": "x", "n": 1} x"#,
            br#"["x", 1]"#,
            b"  ",
            b"1",
        ] {
            let e = parse_json::<T>(bad).unwrap_err();
            assert_eq!(e.code, "invalid_json", "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn json_media_types() {
        for ok in ["application/json", "Application/JSON; charset=utf-8", "application/problem+json"] {
            assert!(is_json_media_type(ok), "{ok}");
        }
        for bad in
            ["application/jsonp", "application/json-seq", "text/json", "text/plain", "+json", "application/+json"]
        {
            assert!(!is_json_media_type(bad), "{bad}");
        }
    }

    #[test]
    fn queries_decode() {
        assert_eq!(
            url_pairs("a=1&b=x%3Ay+z&c"),
            vec![("a".into(), "1".into()), ("b".into(), "x:y z".into()), ("c".into(), "".into())]
        );
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert!(parse_limit(Some("0")).is_err());
        assert!(parse_limit(Some("1001")).is_err());
        assert_eq!(parse_limit(Some("5")).unwrap(), 5);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1000);
        // Only the one way of writing a number that the document's pattern allows.
        for bad in ["+5", "05", " 5", "5 ", "", "5.0", "-0", "1e2", "٥"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(parse_whole("0", 60), Some(0));
        assert_eq!(parse_whole("60", 60), Some(60));
        assert_eq!(parse_whole("61", 60), None);
        assert_eq!(parse_whole("99999999999999999999", u64::MAX), None);
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        a: Option<String>,
        b: Option<String>,
    }

    #[test]
    fn query_parameters_are_given_once_and_not_empty() {
        let q: Q = serde_urlencoded_query("a=1&b=x").unwrap();
        assert_eq!((q.a.as_deref(), q.b.as_deref()), (Some("1"), Some("x")));
        for (bad, field) in [("a=1&a=2", "a"), ("a=", "a"), ("a=1&b", "b"), ("c=1", "c")] {
            let e = serde_urlencoded_query::<Q>(bad).unwrap_err();
            assert_eq!((e.code, e.field.as_deref()), ("invalid", Some(field)), "{bad}");
        }
    }
}
