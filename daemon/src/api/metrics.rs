//! `GET /metrics`: Prometheus text. Request counts and latencies by route, check-ins stored,
//! and the writer's group-commit batch sizes.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::error::ApiError;

/// The process-wide recorder (metrics are per process; a test process may run several nodes).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The `method` label: one of the methods the API serves, or `other`. Labels come from a fixed
/// set, so no request (authenticated or not) can grow the recorder's memory.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request by method, route template and status. A request that
/// matches no route is labelled `unmatched` for both, whatever its path and method.
pub(super) async fn track(req: Request, next: Next) -> Response {
    let _ = handle();
    let start = Instant::now();
    let (method, route) = match req.extensions().get::<MatchedPath>() {
        Some(p) => (method_label(req.method()), p.as_str().to_owned()),
        None => ("unmatched", "unmatched".to_owned()),
    };
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("cecd_http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("cecd_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

pub(super) async fn render(State(node): State<AppState>) -> Result<Response, ApiError> {
    let Some(h) = handle() else { return Err(ApiError::internal("metrics", "no recorder")) };
    let checkins = node.checkin_count().await?;
    let s = node.write_stats();
    metrics::gauge!("cecd_checkins_stored").set(checkins as f64);
    metrics::gauge!("cecd_checkins_logged").set(node.checkins_in_log() as f64);
    metrics::counter!("cecd_write_batches_total").absolute(s.batches_committed);
    metrics::counter!("cecd_write_jobs_total").absolute(s.jobs_committed);
    metrics::counter!("cecd_write_batches_failed_total").absolute(s.batches_failed);
    metrics::gauge!("cecd_write_queue_jobs").set(s.queued_jobs as f64);
    metrics::gauge!("cecd_write_batch_size_max").set(s.batch_size_max as f64);
    for (bound, count) in s.batch_sizes() {
        let le = bound.map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
        metrics::counter!("cecd_write_batch_size_count", "up_to" => le).absolute(count);
    }
    // The check-in log's own writer (acknowledgements, and the folds' deletions).
    let l = node.log_store.stats();
    metrics::counter!("cecd_log_write_batches_total").absolute(l.batches_committed);
    metrics::counter!("cecd_log_write_jobs_total").absolute(l.jobs_committed);
    metrics::counter!("cecd_log_write_batches_failed_total").absolute(l.batches_failed);
    let mut resp = h.render().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    /// Many requests with invented methods, on routes and off them, without a token, add no
    /// series: before, each one added a label value, and the heap grew without bound.
    #[tokio::test]
    async fn invented_methods_and_paths_add_no_series() {
        let dir = tempfile::tempdir().unwrap();
        let node =
            std::sync::Arc::new(crate::node::Node::open(dir.path(), crate::config::Config::default()).await.unwrap());
        let app = super::super::app(node);
        // Series of requests that matched no route: one per status at most.
        let unmatched = || {
            let text = super::handle().unwrap().render();
            text.lines().filter(|l| l.starts_with("cecd_http_requests_total{") && l.contains("unmatched")).count()
        };
        let send = |method: String, path: String| {
            let req = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(path)
                .header("host", "localhost")
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(req)
        };
        for i in 0..2000 {
            send(format!("M1X{i:06}"), "/v1/events".into()).await.unwrap();
            send(format!("M2X{i:06}"), format!("/nowhere/{i}")).await.unwrap();
            send("GET".into(), format!("/nowhere/else/{i}")).await.unwrap();
        }
        let text = super::handle().unwrap().render();
        assert!(!text.contains("M1X") && !text.contains("M2X"), "invented methods became labels");
        assert!(!text.contains("/nowhere"), "unmatched paths became labels");
        assert!(unmatched() <= 3, "{} series for unmatched requests", unmatched());
    }
}
