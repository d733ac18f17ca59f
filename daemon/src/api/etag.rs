//! ETags and `304 Not Modified` on GETs, so a phone re-fetching an unchanged portfolio pays
//! only for headers. The tag is a digest of the (uncompressed) body.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Bodies larger than this are passed through untagged.
const MAX_TAGGED: usize = 8 * 1024 * 1024;

pub(super) async fn etag(req: Request, next: Next) -> Response {
    let tag_wanted =
        req.method() == Method::GET && !req.uri().path().starts_with("/v1/blobs/") && req.uri().path() != "/v1/changes";
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    let resp = next.run(req).await;
    if !tag_wanted || resp.status() != StatusCode::OK {
        return resp;
    }
    // Tag only bodies of known, bounded size; anything else passes through untouched.
    let size = http_body::Body::size_hint(resp.body()).exact();
    if size.is_none_or(|n| n > MAX_TAGGED as u64) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_TAGGED).await {
        Ok(b) => b,
        Err(e) => return super::ApiError::internal("response body", e).into_response(),
    };
    let digest = Sha256::digest(&bytes);
    let tag = format!("\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>());
    let Ok(value) = HeaderValue::from_str(&tag) else { return Response::from_parts(parts, Body::from(bytes)) };
    let matches = if_none_match
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*" || t.trim() == format!("W/{tag}")));
    parts.headers.insert(header::ETAG, value);
    if matches {
        let mut not_modified = Response::from_parts(parts, Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified.headers_mut().remove(header::CONTENT_LENGTH);
        return not_modified;
    }
    Response::from_parts(parts, Body::from(bytes))
}
