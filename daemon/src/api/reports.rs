//! Transcripts and petition packets (JSON, CSV, PDF), and blobs.

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use cec_client::wire::{BlobJson, PacketJson, TranscriptJson};
use cec_core::petition::packet;
use cec_core::portfolio::{CreditRecord, transcript};
use futures_util::TryStreamExt;

use super::AppState;
use super::convert::{record_json, totals_json};
use super::credit::{RangeQuery, effective_portfolio, parse_date};
use super::error::{ApiError, ApiResult};
use super::extract::Query;
use super::portfolio::petition_json;
use crate::report::{Column, Report, Section, render_csv, render_pdf};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/portfolios/{member_id}/transcript", get(get_transcript))
        .route("/v1/portfolios/{member_id}/petitions/{petition_id}/packet", get(get_packet))
        .route("/v1/blobs", put(put_blob))
        .route("/v1/blobs/{sha256}", get(get_blob))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Pdf,
}

fn format(v: Option<&str>) -> ApiResult<Format> {
    match v.unwrap_or("json") {
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "pdf" => Ok(Format::Pdf),
        other => Err(ApiError::invalid("format", format!("{other:?} is not json, csv or pdf"))),
    }
}

fn section(heading: &str, records: &[CreditRecord]) -> Section {
    Section {
        heading: Some(heading.into()),
        // 170 mm, the printable width, so nothing is scaled down: the verification column
        // holds a whole code (16 hex digits and 3 dashes, at most 113 pt at 9 pt Helvetica)
        // on one line, so it is never split where someone has to read or copy it.
        columns: vec![
            Column::left("Date", 20.0),
            Column::left("Activity", 38.0),
            Column::left("Provider / endorsement", 34.0),
            Column::right("Hours", 12.0),
            Column::right("CECs", 11.0),
            Column::right("CEUs", 12.0),
            Column::left("Verification", 43.0),
        ],
        rows: records
            .iter()
            .map(|r| {
                vec![
                    r.date.to_string(),
                    r.title.clone(),
                    match (&r.provider, &r.endorsement_number) {
                        (Some(p), Some(e)) => format!("{p} ({e})"),
                        (Some(p), None) => p.clone(),
                        (None, _) => "self-reported".into(),
                    },
                    r.contact_hours().to_string(),
                    r.cecs.normalize().to_string(),
                    cec_core::ceus_from_cecs(r.cecs).to_string(),
                    r.verification_code.clone().unwrap_or_else(|| "self-reported".into()),
                ]
            })
            .collect(),
        totals: None,
    }
}

fn with_totals(mut s: Section, records: &[CreditRecord]) -> Section {
    let t = cec_core::portfolio::totals(records);
    let hours: rust_decimal::Decimal = records.iter().map(CreditRecord::contact_hours).sum();
    s.totals = Some(vec![
        String::new(),
        format!("Total ({} verified, {} self-reported)", t.verified.normalize(), t.self_reported.normalize()),
        String::new(),
        hours.normalize().to_string(),
        t.total.normalize().to_string(),
        t.ceus.to_string(),
        String::new(),
    ]);
    s
}

fn file(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn render(report: &Report, f: Format, name: &str) -> ApiResult<Response> {
    match f {
        Format::Pdf => {
            let pdf = render_pdf(report).map_err(|e| ApiError::internal("pdf", e))?;
            Ok(file(pdf, "application/pdf", &format!("{name}.pdf")))
        }
        _ => {
            let csv = report.sections.first().map(render_csv).unwrap_or_default();
            Ok(file(csv.into_bytes(), "text/csv; charset=utf-8", &format!("{name}.csv")))
        }
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TranscriptQuery {
    format: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

async fn get_transcript(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    Query(q): Query<TranscriptQuery>,
) -> ApiResult<Response> {
    let f = format(q.format.as_deref())?;
    let range = RangeQuery { from: q.from, to: q.to };
    let from = parse_date("from", range.from.as_deref())?;
    let to = parse_date("to", range.to.as_deref())?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let t = transcript(&p, from, to);
    if f == Format::Json {
        return Ok(Json(TranscriptJson {
            member_id: member_id.clone(),
            member_name: p.profile.name.clone(),
            from,
            to,
            records: t.records.iter().map(record_json).collect(),
            totals: totals_json(&t.totals, &t.records),
        })
        .into_response());
    }
    let who =
        p.profile.name.clone().map_or_else(|| format!("Member {member_id}"), |n| format!("{n} (member {member_id})"));
    let period = match (from, to) {
        (None, None) => "All dates".to_owned(),
        (a, b) => format!(
            "{} to {}",
            a.map_or("the start".into(), |d| d.to_string()),
            b.map_or("today".into(), |d| d.to_string())
        ),
    };
    let report = Report {
        title: "Continuing Education Transcript".into(),
        subtitle_lines: vec![who, period],
        sections: vec![with_totals(section("Credit", &t.records), &t.records)],
        footer_lines: vec![
            "1 CEC = 1 contact hour; 1 CEU = 10 contact hours. Verified records carry a verification code.".into(),
        ],
        created: None,
    };
    render(&report, f, &format!("transcript-{member_id}"))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatQuery {
    format: Option<String>,
}

async fn get_packet(
    State(node): State<AppState>,
    Path((member_id, petition_id)): Path<(String, String)>,
    Query(q): Query<FormatQuery>,
) -> ApiResult<Response> {
    let f = format(q.format.as_deref())?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let pt =
        p.petitions.get(&petition_id).ok_or_else(|| ApiError::not_found(format!("no petition {petition_id:?}")))?;
    let pk = packet(&p, pt).map_err(|e| ApiError::conflict(e.to_string()))?;
    let records: Vec<CreditRecord> = pk.lines.iter().map(|l| l.record.clone()).collect();
    if f == Format::Json {
        let t = cec_core::portfolio::totals(&records);
        return Ok(Json(PacketJson {
            petition: petition_json(pt, &p),
            member_id: member_id.clone(),
            member_name: p.profile.name.clone(),
            records: records.iter().map(record_json).collect(),
            totals: totals_json(&t, &records),
        })
        .into_response());
    }
    let who =
        p.profile.name.clone().map_or_else(|| format!("Member {member_id}"), |n| format!("{n} (member {member_id})"));
    let report = Report {
        title: format!("Petition for Credit: {}", pk.target_association),
        subtitle_lines: vec![who, format!("Petition {} ({})", pk.petition_id, pk.status)],
        sections: vec![with_totals(section("Records submitted", &records), &records)],
        footer_lines: vec![
            "Verified records can be confirmed with the issuing association using their verification codes.".into(),
            pk.note.clone().unwrap_or_default(),
        ],
        created: None,
    };
    render(&report, f, &format!("petition-{petition_id}"))
}

async fn put_blob(State(node): State<AppState>, req: Request) -> ApiResult<(StatusCode, Json<BlobJson>)> {
    let stream = req.into_body().into_data_stream().map_err(std::io::Error::other);
    let info = node.put_blob(stream).await?;
    Ok((StatusCode::CREATED, Json(BlobJson { sha256: info.sha256, size: info.size })))
}

async fn get_blob(State(node): State<AppState>, Path(sha): Path<String>) -> ApiResult<Response> {
    let (f, size) = node.open_blob(&sha).await?;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(f));
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    Ok(resp)
}
