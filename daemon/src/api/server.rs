//! Serving the API: an accept loop over hyper's HTTP/1.1 server with the limits a hostile
//! local process cannot get around.
//!
//! - A connection that has not sent a whole request header within `header_timeout_ms` of
//!   opening, or of finishing its previous request, is closed: hyper's header-read timeout
//!   runs whenever the connection waits for a request, so it is the idle keep-alive timeout
//!   too. Request bodies get the same time between their bytes (tower-http's body timeout).
//! - At most `max_connections` connections are open; while the cap is reached, new ones wait
//!   in the listen backlog (and a warning says so) until one closes.
//! - An accept error (such as running out of file descriptors) is logged and retried after a
//!   pause, so the node keeps serving once descriptors are free again.
//!
//! - An answer given before its request's body was read to the end (a refusal: no token, no
//!   such route, a method not allowed) says `Connection: close`. hyper closes such a connection
//!   after the answer unless the rest of the body was already buffered, and a client that was
//!   not told would send its next request on a closed connection and get no answer at all
//!   (schemathesis saw exactly that under load). The body is not read on the client's behalf:
//!   an unauthenticated client must not make the node read or hold what it sends.
//!
//! Responses, long polls included, are not timed: `/v1/changes` bounds its own `wait`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::{debug, warn};

use super::{AppState, app};

/// A request body that records when it was read to its end.
struct Tracked {
    inner: Incoming,
    read: Arc<AtomicBool>,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// How long the accept loop pauses after an accept error before it tries again.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Serves `app(node)` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for open connections to finish their requests.
pub(super) async fn serve(
    listener: TcpListener,
    node: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = Duration::from_millis(node.config.header_timeout_ms.max(1));
    let max_connections = node.config.max_connections.max(1);
    let service = tower::ServiceBuilder::new().layer(RequestBodyTimeoutLayer::new(header_timeout)).service(app(node));
    let slots = Arc::new(Semaphore::new(max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    let mut accept_failing = false;
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                warn!(max_connections, "connection limit reached: new connections wait until one closes");
                tokio::select! {
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    if accept_failing {
                        warn!("accepting connections again");
                        accept_failing = false;
                    }
                    stream
                }
                Err(e) => {
                    if !accept_failing {
                        warn!(cause = %e, "accept failed; retrying every {ACCEPT_RETRY:?}");
                        accept_failing = true;
                    }
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let handler = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let service = service.clone();
            async move {
                let has_body = !req.body().is_end_stream();
                let read = Arc::new(AtomicBool::new(false));
                let req = req.map(|inner| Tracked { inner, read: read.clone() });
                let mut resp = service.oneshot(req).await.unwrap_or_else(|e| match e {});
                if has_body && !read.load(Ordering::Acquire) {
                    resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(resp)
            }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), handler));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(cause = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
