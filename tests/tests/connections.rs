//! Connections a hostile local process holds open: idle ones, half a header, idle keep-alive.
//! They are closed after the header timeout, the node answers others meanwhile, and the
//! connection cap holds with a warning in the log.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use cec_e2e::Node;

/// Opens `n` connections of each kind: silent, half a header, one request then idle.
fn hold(node: &Node, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpStream::connect(node.addr()).expect("connect"));
        let mut half = TcpStream::connect(node.addr()).expect("connect");
        half.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").expect("write");
        held.push(half);
        let mut idle = TcpStream::connect(node.addr()).expect("connect");
        idle.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("write");
        let mut buf = [0u8; 4096];
        let got = idle.read(&mut buf).expect("read the answer");
        assert!(buf[..got].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..got]));
        held.push(idle);
    }
    held
}

/// Whether the server closed `s` within `within`: a read sees EOF or a reset.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // an error answer before closing is fine
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

#[track_caller]
fn health_within(node: &Node, limit: Duration) {
    let start = Instant::now();
    let r = node.request("GET", "/v1/health").send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(start.elapsed() < limit, "health took {:?}:\n{}", start.elapsed(), node.log_tail());
}

#[test]
fn idle_connections_are_closed_and_others_served() {
    let node = Node::start_configured("header_timeout_ms = 1500\n", &[]);
    let mut held = hold(&node, 100);
    health_within(&node, Duration::from_secs(1));
    // Before the fix these stayed open for good.
    let deadline = Instant::now() + Duration::from_secs(6);
    for (i, s) in held.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
        assert!(closed_within(s, left), "connection {i} (kind {}) still open after the header timeout", i % 3);
    }
    health_within(&node, Duration::from_secs(1));
}

#[test]
fn long_polls_outlive_the_header_timeout() {
    let node = Node::start_configured("header_timeout_ms = 1000\n", &[]);
    let start = Instant::now();
    let r = node.get("/v1/changes?since=999999&wait=3");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(start.elapsed() >= Duration::from_secs(3), "long poll ended after {:?}", start.elapsed());
}

#[test]
fn the_connection_cap_holds_and_clears() {
    let node = Node::start_configured("max_connections = 30\nheader_timeout_ms = 1000\n", &[]);
    let held = hold(&node, 15); // 45 connections, more than the cap
    // The ones over the cap wait in the backlog; the others are closed by the timeout, and
    // then the waiting ones and a newcomer are served.
    health_within(&node, Duration::from_secs(5));
    drop(held);
    health_within(&node, Duration::from_secs(1));
    let log = std::fs::read_to_string(node.data_dir().join("../cecd.log")).expect("log");
    assert!(log.contains("connection limit reached"), "no warning about the cap:\n{}", node.log_tail());
}

/// A body that stops arriving is answered `408` in the envelope, and the connection closed.
#[test]
fn a_stalled_body_times_out() {
    let node = Node::start_configured("header_timeout_ms = 1000\n", &[]);
    let mut s = TcpStream::connect(node.addr()).expect("connect");
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":",
        node.token()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"request_timeout\""), "{text}");
}

/// Out of file descriptors, the node logs it, keeps its listener, and serves again as soon
/// as descriptors are free (the review saw `accept error: Too many open files` for good).
#[test]
fn serving_resumes_after_descriptor_exhaustion() {
    let node = Node::start_configured("header_timeout_ms = 60000\n", &[]);
    let pid = node.pid().to_string();
    let lowered = std::process::Command::new("prlimit").args(["--pid", &pid, "--nofile=64:64"]).status();
    if !lowered.is_ok_and(|s| s.success()) {
        eprintln!("SKIPPED: cannot lower the node's descriptor limit with prlimit");
        return;
    }
    // Far more connections than descriptors: the kernel queues them, the node cannot accept.
    let held: Vec<TcpStream> = (0..120).filter_map(|_| TcpStream::connect(node.addr()).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match node.request("GET", "/v1/health").try_send() {
            Ok(r) if r.status == 200 => break,
            other => assert!(Instant::now() < deadline, "no answer after the descriptors were freed: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = std::fs::read_to_string(node.data_dir().join("../cecd.log")).expect("log");
    assert!(log.contains("accept failed"), "exhaustion not logged:\n{}", node.log_tail());
}

/// Sends a request head announcing a body, and the body only after `delay`; answers the head of
/// the answer read and the stream.
fn request_with_late_body(node: &Node, head: &str, body: &str, delay: Duration) -> (String, TcpStream) {
    let mut s = TcpStream::connect(node.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let head = format!(
        "{head}\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        node.addr(),
        node.token(),
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write the head");
    std::thread::sleep(delay);
    let _ = s.write_all(body.as_bytes());
    let mut buf = [0u8; 8192];
    let got = s.read(&mut buf).expect("read the answer");
    (String::from_utf8_lossy(&buf[..got]).to_lowercase(), s)
}

/// An answer given before the request's body arrived (a method not allowed, an unknown route,
/// no token) tells the client the connection closes, so that it does not send its next request
/// into a closed connection and get no answer (schemathesis: "Remote end closed connection
/// without response"); an answer to a request whose body was read keeps the connection.
#[test]
fn an_answer_before_the_body_says_the_connection_closes() {
    let node = Node::start();
    let body = r#"{"id": "x", "event_id": "e", "session_id": "s", "member_id": "m", "direction": "in"}"#;
    for head in ["OPTIONS /v1/checkins HTTP/1.1", "POST /v1/no-such-route HTTP/1.1", "PUT /v1/health HTTP/1.1"] {
        let (answer, mut s) = request_with_late_body(&node, head, body, Duration::from_millis(300));
        assert!(answer.starts_with("http/1.1 4"), "{head}: {answer}");
        assert!(answer.contains("connection: close"), "{head}: the answer must say it closes: {answer}");
        assert!(closed_within(&mut s, Duration::from_secs(5)), "{head}: and it does close");
    }
    // A body the handler read (then refused): the connection stays open for the next request.
    let (answer, mut s) = request_with_late_body(&node, "POST /v1/checkins HTTP/1.1", body, Duration::from_millis(300));
    assert!(answer.starts_with("http/1.1 4") && !answer.contains("connection: close"), "{answer}");
    s.write_all(format!("GET /v1/health HTTP/1.1\r\nHost: {}\r\n\r\n", node.addr()).as_bytes()).expect("write");
    let mut buf = [0u8; 4096];
    let got = s.read(&mut buf).expect("read");
    assert!(buf[..got].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..got]));
}
