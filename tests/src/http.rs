//! A small HTTP/1.1 client over `std::net::TcpStream`, for loopback only.
//!
//! Hand-rolled on purpose: the tests need to send what a real client library would refuse or
//! fix up (a foreign `Host`, broken JSON, a body over the limit, no token), and to see exactly
//! what the daemon answers. One connection per request (`Connection: close`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// How long a request may take before the test fails (long polls wait at most a few seconds).
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A request to send with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    addr: SocketAddr,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names in lowercase, values as sent.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// A request to `addr` (which must be a loopback address).
    pub fn new(addr: SocketAddr, method: &str, path: &str) -> Self {
        assert!(addr.ip().is_loopback(), "the tests talk to loopback only, not {addr}");
        Self {
            addr,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: vec![("host".into(), addr.to_string())],
            body: Vec::new(),
        }
    }

    /// Sets a header, replacing one of the same name.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Adds a header, keeping any of the same name (to send duplicates).
    #[must_use]
    pub fn add_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Removes a header.
    #[must_use]
    pub fn without_header(mut self, name: &str) -> Self {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    /// A raw body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body with its content type.
    #[must_use]
    pub fn json(self, value: &Value) -> Self {
        self.header("content-type", "application/json").body(value.to_string())
    }

    /// Sends the request and reads the whole answer. A 5xx fails the test here: the API
    /// answers bad input with a 4xx, never a 500.
    #[track_caller]
    pub fn send(self) -> Response {
        let r = self.try_send().unwrap_or_else(|e| panic!("{} {}: {e}", self.method, self.path));
        assert!(r.status < 500, "{} {}: {} {}", self.method, self.path, r.status, r.text());
        r
    }

    /// Sends the request; an I/O failure is an error.
    pub fn try_send(&self) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.path);
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", self.body.len()));
        stream.write_all(head.as_bytes())?;
        // A server may answer (413) and close before it has read the whole body: keep what it
        // said rather than the broken pipe.
        let wrote = stream.write_all(&self.body).and_then(|()| stream.flush());
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw);
        match (parse(&raw), wrote, read) {
            (Some(r), _, _) => Ok(r),
            (None, Err(e), _) | (None, _, Err(e)) => Err(e),
            (None, Ok(()), Ok(_)) => Err(std::io::Error::other(format!(
                "not an HTTP answer: {:?}",
                String::from_utf8_lossy(&raw[..raw.len().min(200)])
            ))),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete answer; `None` if it is not one (yet).
fn parse(raw: &[u8]) -> Option<Response> {
    let end = find(raw, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len.parse().ok()?;
        rest.get(..len)?.to_vec()
    } else {
        rest.to_vec()
    };
    Some(Response { status, headers, body })
}

fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(rest, b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

impl Response {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics, showing the body, if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("status {}: body is not JSON ({e}): {}", self.status, self.text()))
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        if self.body.is_empty() { Value::Null } else { self.json() }
    }

    /// Asserts that this is an API error with `status` and `code` in the documented shape,
    /// served as JSON; returns the error object.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text());
        let v = self.assert_error_shape();
        assert_eq!(v["code"], code, "unexpected error code: {v}");
        v
    }

    /// Asserts the documented error shape (`{"error": {"code", "message"}}`, JSON content
    /// type, a 4xx status) whatever the code; returns the error object.
    #[track_caller]
    pub fn assert_error_shape(&self) -> Value {
        assert!((400..500).contains(&self.status), "expected a 4xx error, got {}: {}", self.status, self.text());
        let ct = self.header("content-type").unwrap_or("");
        assert!(ct.starts_with("application/json"), "error content-type {ct:?}: {}", self.text());
        let body = self.json();
        let err = &body["error"];
        let code = err["code"].as_str().unwrap_or_else(|| panic!("no error.code: {body}"));
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "code not snake_case: {code:?}"
        );
        let message = err["message"].as_str().unwrap_or_else(|| panic!("no error.message: {body}"));
        assert!(!message.is_empty(), "empty message: {body}");
        assert_eq!(body.as_object().map(|o| o.len()), Some(1), "extra top-level keys: {body}");
        err.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_answers() {
        let r = parse(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice(), r.header("x-a")), (201, b"{}".as_slice(), Some("b")));
        let r = parse(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n")
            .unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(parse(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab").is_none());
        assert!(parse(b"garbage").is_none());
    }
}
