//! What can go wrong talking to a node.

use std::path::PathBuf;

use crate::wire::{ErrorBody, ErrorDetail};

/// An error of the client: the node answered with an error, or could not be reached, or the
/// local setup (data directory, token) is missing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with an error (`{"error": {...}}`).
    #[error("{message} ({code})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The stable code (`not_found`, `invalid`, ...).
        code: String,
        /// For people.
        message: String,
        /// The offending field, with `invalid`.
        field: Option<String>,
    },
    /// Nothing answered at the URL.
    #[error("the cecd node is not reachable at {url} ({cause}): start it with `{start}`")]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// What the transport said.
        cause: String,
        /// The command that starts the node: `cecd`, or `cecd --data-dir DIR`.
        start: String,
    },
    /// The request failed in transit after connecting, or timed out.
    #[error("request to {url} failed: {cause}")]
    Transport {
        /// The URL of the request.
        url: String,
        /// What the transport said.
        cause: String,
    },
    /// The node answered something this client does not understand.
    #[error("unexpected answer from {url}: {cause}")]
    Decode {
        /// The URL of the request.
        url: String,
        /// Why it did not decode.
        cause: String,
    },
    /// There is no data directory where one was looked for.
    #[error("{}", no_data_dir(path, *explicit))]
    NoDataDir {
        /// Where it was looked for.
        path: PathBuf,
        /// Whether it was named (`--data-dir`, `CECD_DATA_DIR`) rather than the default.
        explicit: bool,
    },
    /// The data directory has no API token.
    #[error(
        "no API token at {}: the node writes it on first start; start it with `cecd --data-dir {}`, or print it with `cecd token`",
        path.display(),
        data_dir.display()
    )]
    NoToken {
        /// The token file looked for.
        path: PathBuf,
        /// Its data directory.
        data_dir: PathBuf,
    },
    /// A local file could not be read or written. The message is the path; the cause is the
    /// `source`, which `{:#}` (anyhow) adds once.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The base URL is not usable.
    #[error("bad node URL {url:?}: {cause}")]
    BadUrl {
        /// The URL given.
        url: String,
        /// Why it is bad.
        cause: String,
    },
}

/// Why there is no data directory: a named one is where the node was to start (so say how);
/// only the default one calls for naming another.
fn no_data_dir(path: &std::path::Path, explicit: bool) -> String {
    if explicit {
        format!(
            "no cecd data directory at {p}: start the node there first (`cecd --data-dir {p}`), or check the path",
            p = path.display()
        )
    } else {
        format!(
            "no cecd data directory at {}: start the node with `cecd` first, or pass --data-dir DIR (or set CECD_DATA_DIR)",
            path.display()
        )
    }
}

impl ClientError {
    /// The stable API code, when the node answered with an error.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The offending field, when the node refused a request as `invalid`.
    pub fn field(&self) -> Option<&str> {
        match self {
            ClientError::Api { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status, when the node answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Decodes an error answer: the `{"error": {...}}` body when there is one, else a code
    /// made from the status (`http_502`) and the start of the body as the message.
    pub fn from_response(status: u16, body: &[u8]) -> ClientError {
        if let Ok(ErrorBody { error: ErrorDetail { code, message, field } }) = serde_json::from_slice(body) {
            return ClientError::Api { status, code, message, field };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        let message = if text.is_empty() {
            format!("the node answered HTTP {status} with no explanation")
        } else {
            let cut: String = text.chars().take(200).collect();
            format!("the node answered HTTP {status}: {cut}")
        };
        ClientError::Api { status, code: format!("http_{status}"), message, field: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_error_body() {
        let body = br#"{"error": {"code": "invalid", "message": "cecs must be a multiple of 0.25", "field": "cecs"}}"#;
        let e = ClientError::from_response(422, body);
        match &e {
            ClientError::Api { status, code, message, field } => {
                assert_eq!(*status, 422);
                assert_eq!(code, "invalid");
                assert_eq!(message, "cecs must be a multiple of 0.25");
                assert_eq!(field.as_deref(), Some("cecs"));
            }
            other => panic!("not an API error: {other:?}"),
        }
        assert_eq!(e.to_string(), "cecs must be a multiple of 0.25 (invalid)");
        assert_eq!(e.code(), Some("invalid"));
        assert_eq!(e.status(), Some(422));
        assert_eq!(e.field(), Some("cecs"));
    }

    #[test]
    fn decodes_an_error_without_field() {
        let body = br#"{"error": {"code": "not_found", "message": "no event E9"}}"#;
        let e = ClientError::from_response(404, body);
        assert!(matches!(&e, ClientError::Api { field: None, code, .. } if code == "not_found"));
    }

    #[test]
    fn falls_back_when_the_body_is_not_the_error_shape() {
        let e = ClientError::from_response(502, b"<html>Bad Gateway</html>");
        assert_eq!(e.code(), Some("http_502"));
        assert!(e.to_string().contains("HTTP 502: <html>Bad Gateway</html>"), "{e}");
        let e = ClientError::from_response(500, b"");
        assert!(e.to_string().contains("no explanation"), "{e}");
    }

    #[test]
    fn an_io_error_names_its_cause_once() {
        let e = ClientError::Io {
            path: "/home/ann/certificate.pdf".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory"),
        };
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(shown, "/home/ann/certificate.pdf: No such file or directory");
    }

    #[test]
    fn a_missing_data_directory_says_what_to_do_with_it() {
        let named = ClientError::NoDataDir { path: "/srv/kiosk".into(), explicit: true }.to_string();
        assert!(named.contains("`cecd --data-dir /srv/kiosk`"), "{named}");
        assert!(!named.contains("pass --data-dir"), "it was passed: {named}");
        let default = ClientError::NoDataDir { path: "/home/ann/.local/share/cecd".into(), explicit: false };
        let default = default.to_string();
        assert!(default.contains("start the node with `cecd`") && default.contains("pass --data-dir"), "{default}");
    }

    #[test]
    fn unreachable_says_how_to_start_the_node() {
        let e = ClientError::Unreachable {
            url: "http://127.0.0.1:7420".into(),
            cause: "connection refused".into(),
            start: "cecd".into(),
        };
        let s = e.to_string();
        assert!(s.contains("not reachable at http://127.0.0.1:7420"), "{s}");
        assert!(s.contains("`cecd`"), "{s}");
    }
}
