//! `GET /metrics`: Prometheus text. Request counts and latencies by route, check-ins stored,
//! and the writer's group-commit batch sizes.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::AppState;
use super::error::ApiError;
use crate::storage::BATCH_SIZE_BUCKETS;

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

/// Counts and times every request by method, route template and status.
pub(super) async fn track(req: Request, next: Next) -> Response {
    let _ = handle();
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("cecd_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("cecd_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

pub(super) async fn render(State(node): State<AppState>) -> Result<Response, ApiError> {
    let Some(h) = handle() else { return Err(ApiError::internal("metrics", "no recorder")) };
    let checkins = node.checkin_count().await?;
    let s = node.store.stats();
    metrics::gauge!("cecd_checkins_stored").set(checkins as f64);
    metrics::counter!("cecd_write_batches_total").absolute(s.batches_committed);
    metrics::counter!("cecd_write_jobs_total").absolute(s.jobs_committed);
    metrics::counter!("cecd_write_batches_failed_total").absolute(s.batches_failed);
    metrics::gauge!("cecd_write_queue_jobs").set(s.queued_jobs as f64);
    metrics::gauge!("cecd_write_batch_size_max").set(s.batch_size_max as f64);
    for (le, count) in BATCH_SIZE_BUCKETS.iter().zip(s.batch_size_buckets) {
        let le = if *le == u64::MAX { "+Inf".to_owned() } else { le.to_string() };
        metrics::counter!("cecd_write_batch_size_count", "up_to" => le).absolute(count);
    }
    let mut resp = h.render().into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    Ok(resp)
}
