//! `ApiError`: every failure as `{"error": {"code", "message", "field"?}}` with a stable code.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cec_client::wire::{ErrorBody, ErrorDetail};
use tracing::error;

use crate::node::{DocsError, NodeError, StorageFault};

/// An API error.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// The offending field, with `invalid`.
    pub field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 400 `invalid_json`.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token (see `cecd token`)")
    }

    /// 401 `unauthorized` for a page session that no longer holds (expired, or its pairing
    /// ended): the page says how to sign in again.
    pub fn session_ended() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this browser's page session has expired or was ended: open the page again with `cec open` \
             (a kiosk screen: `cec open kiosk --pair`)",
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 408 `request_timeout`: the body stopped arriving.
    pub fn request_timeout() -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", "the request body stopped arriving")
    }

    /// 409 `conflict`.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413 `too_large`.
    pub fn too_large(limit: u64) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("request body is larger than {limit} bytes"))
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
    }

    /// 422 `invalid` with the field at fault.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: format!("{field}: {message}"),
            field: Some(field),
        }
    }

    /// 500 `internal`: logged here, with a message that does not leak internals.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        error!(context, cause = %err, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("{context} failed; see the node's log"))
    }

    /// The answer to a storage failure `cause` that the node sorted as `fault`: 413, 422, 507
    /// `insufficient_storage` (disk full) or 503 `storage_unavailable` (permission denied,
    /// read-only, I/O error) naming what failed, or 500; logged with the cause.
    pub fn storage(fault: StorageFault, cause: &dyn std::fmt::Display) -> Self {
        let (status, code, message) = match fault {
            StorageFault::TooLarge { limit } => return Self::too_large(limit),
            StorageFault::InvalidHash => return Self::invalid("sha256", "not a sha256 in lowercase hex"),
            StorageFault::Internal => return Self::internal("storage", cause),
            StorageFault::Full { what } => (
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                format!("the disk is full: could not write {what}; nothing was stored"),
            ),
            StorageFault::Unavailable { what } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                format!("could not write {what} (permission denied, read-only or failing); nothing was stored"),
            ),
        };
        error!(code, cause = %cause, "storage failed");
        Self::new(status, code, message)
    }

    /// 502 `central_unreachable`: the central node could not be reached (an enrolment).
    pub fn central_unreachable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "central_unreachable", message)
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this path")
    }

    /// The wire form of the error.
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail { code: self.code.into(), message: self.message.clone(), field: self.field.clone() }
    }
}

impl ApiError {
    /// The envelope for an answer some layer gave with `status` and a body that is not ours
    /// (axum's extractor rejections, a body limit): the code the status stands for, and the
    /// layer's text as the message.
    fn from_status(status: StatusCode, text: &str) -> Self {
        let code = match status.as_u16() {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "request_timeout",
            409 => "conflict",
            413 => "too_large",
            414 => "uri_too_long",
            415 => "unsupported_media_type",
            422 => "invalid",
            431 => "headers_too_large",
            400..=499 => "bad_request",
            _ => "internal",
        };
        let text = text.trim();
        let message = if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_ascii_lowercase()
        } else {
            let mut chars = text.chars();
            let first = chars.next().map(|c| c.to_lowercase().collect::<String>()).unwrap_or_default();
            let mut m = first + chars.as_str();
            if m.len() > 300 {
                let cut = (0..=300).rev().find(|&i| m.is_char_boundary(i)).unwrap_or(0);
                m.truncate(cut);
            }
            m
        };
        if code == "internal" {
            error!(status = status.as_u16(), cause = %message, "a layer answered with a server error");
        }
        Self::new(status, code, message)
    }
}

/// Rewrites every error answer that is not already JSON into the envelope, whatever layer
/// gave it, keeping its status and `Allow`.
pub(super) async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    let mut out = ApiError::from_status(status, &text.unwrap_or_default()).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        out.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        (status, axum::Json(ErrorBody { error: self.detail() })).into_response()
    }
}

impl From<DocsError> for ApiError {
    fn from(e: DocsError) -> Self {
        match e {
            DocsError::Storage(s) => Self::storage(StorageFault::of(&s), &s),
            e @ DocsError::Retired { .. } => Self::conflict(e.to_string()),
            other => Self::internal("document", other),
        }
    }
}

impl From<cec_core::doc::DocError> for ApiError {
    fn from(e: cec_core::doc::DocError) -> Self {
        match e {
            cec_core::doc::DocError::Conflict(what) => {
                Self::conflict(format!("{what} already exists with other content"))
            }
            other => Self::internal("document", other),
        }
    }
}

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::NotFound(m) => Self::not_found(m),
            NodeError::Conflict(m) => Self::conflict(m),
            NodeError::Forbidden(m) => Self::forbidden(m),
            NodeError::Invalid { field, message } => Self::invalid(field, message),
            NodeError::Docs(d) => (*d).into(),
            NodeError::Storage(s) => Self::storage(StorageFault::of(&s), &s),
            NodeError::Document(d) => (*d).into(),
            NodeError::Shared(shared) => Self::from_shared(&shared),
        }
    }
}

impl ApiError {
    /// The answer for one item of a write that failed as a whole.
    fn from_shared(e: &NodeError) -> Self {
        match e {
            NodeError::NotFound(m) => Self::not_found(m.clone()),
            NodeError::Conflict(m) => Self::conflict(m.clone()),
            NodeError::Forbidden(m) => Self::forbidden(m.clone()),
            NodeError::Invalid { field, message } => Self::invalid(field.clone(), message.clone()),
            NodeError::Storage(s) => Self::storage(StorageFault::of(s), s),
            NodeError::Docs(d) => match &**d {
                DocsError::Storage(s) => Self::storage(StorageFault::of(s), s),
                e @ DocsError::Retired { .. } => Self::conflict(e.to_string()),
                other => Self::internal("document", other),
            },
            NodeError::Document(d) => Self::internal("document", d),
            NodeError::Shared(inner) => Self::from_shared(inner),
        }
    }
}

/// A result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Disk full and unwritable storage have their own status, code and a message naming the
    /// file or directory (before: all `500 internal`).
    #[test]
    fn storage_faults_have_their_own_answers() {
        let what = || "the databases in the data directory (cecd.sqlite3, checkin-log.sqlite3)".to_owned();
        let cases = [
            (StorageFault::Full { what: what() }, 507, "insufficient_storage"),
            (StorageFault::Unavailable { what: what() }, 503, "storage_unavailable"),
            (StorageFault::TooLarge { limit: 10 }, 413, "too_large"),
            (StorageFault::InvalidHash, 422, "invalid"),
            (StorageFault::Internal, 500, "internal"),
        ];
        for (fault, status, code) in cases {
            let named = matches!(fault, StorageFault::Full { .. } | StorageFault::Unavailable { .. });
            let api = ApiError::storage(fault.clone(), &"cause");
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{fault:?}");
            assert_eq!(api.message.contains("cecd.sqlite3"), named, "{fault:?}: {}", api.message);
        }
    }
}
