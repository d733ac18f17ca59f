//! A member's portfolio: entries, goals, requirement programs, petitions.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use cec_client::wire::*;
use cec_core::goals::{Benchmark, Goal, progress as goal_progress};
use cec_core::petition::{Petition, PetitionStatus, packet};
use cec_core::portfolio::{Portfolio, totals};
use cec_core::requirements::{Program, progress as program_progress};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::AppState;
use super::convert::{
    check_credit, check_entry_bounds, entry_from, entry_json, new_id, non_empty, record_json, totals_json,
};
use super::credit::effective_portfolio;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonBody, Query, check_cursor, check_id, parse_limit};
use crate::node::{Created, NodeError};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/portfolios/{member_id}", get(get_portfolio))
        .route("/v1/portfolios/{member_id}/entries", post(create_entry).get(list_entries))
        .route("/v1/portfolios/{member_id}/entries/{entry_id}", patch(patch_entry).delete(delete_entry))
        .route("/v1/portfolios/{member_id}/goals", get(list_goals))
        .route("/v1/portfolios/{member_id}/goals/{goal_id}", put(put_goal))
        .route("/v1/portfolios/{member_id}/requirements", get(list_programs))
        .route("/v1/portfolios/{member_id}/requirements/{program_id}", put(put_program))
        .route("/v1/portfolios/{member_id}/petitions", post(create_petition).get(list_petitions))
        .route("/v1/portfolios/{member_id}/petitions/{petition_id}", patch(patch_petition).get(get_petition))
}

fn status(c: Created) -> StatusCode {
    match c {
        Created::New => StatusCode::CREATED,
        Created::Existing => StatusCode::OK,
    }
}

pub(super) fn today() -> Date {
    TimeZone::UTC.to_datetime(Timestamp::now()).date()
}

fn goal_json(g: &Goal, p: &Portfolio, today: Date) -> GoalJson {
    let pr = goal_progress(g, &p.credit_records(), today);
    GoalJson {
        id: g.id.clone(),
        title: g.title.clone(),
        target_cecs: g.target_cecs,
        category: g.category.clone(),
        start: g.start,
        due: g.due,
        earned_cecs: pr.earned_cecs,
        remaining_cecs: pr.remaining_cecs,
        expected_cecs: pr.expected_cecs,
        met: pr.met,
        on_track: pr.on_track,
        benchmarks: pr
            .benchmarks
            .iter()
            .map(|b| BenchmarkProgressJson {
                title: b.benchmark.title.clone(),
                target_cecs: b.benchmark.target_cecs,
                due: b.benchmark.due,
                earned_cecs: b.earned_cecs,
                status: b.status.as_str().into(),
            })
            .collect(),
    }
}

fn program_json(prog: &Program, p: &Portfolio) -> ProgramJson {
    let pr = program_progress(prog, &p.credit_records());
    ProgramJson {
        id: prog.id.clone(),
        title: prog.title.clone(),
        window_start: prog.window_start,
        window_end: prog.window_end,
        total_cecs: prog.total_cecs,
        minimums: prog.minimums.clone(),
        verified_only: prog.verified_only,
        earned_cecs: pr.earned_total,
        missing_cecs: pr.missing_total,
        met: pr.met,
        categories: pr
            .categories
            .iter()
            .map(|c| CategoryProgressJson {
                category: c.category.clone(),
                required_cecs: c.required,
                earned_cecs: c.earned,
                missing_cecs: c.missing,
                met: c.met,
            })
            .collect(),
    }
}

pub(super) fn petition_json(pt: &Petition, p: &Portfolio) -> PetitionJson {
    let requested = packet(p, pt).map(|k| k.total_cecs).unwrap_or_default();
    PetitionJson {
        id: pt.id.clone(),
        target_association: pt.target_association.clone(),
        record_ids: pt.record_ids.clone(),
        note: pt.note.clone(),
        status: pt.status.as_str().into(),
        requested_cecs: requested,
        accepted_cecs: pt.accepted_cecs,
        created: pt.created,
    }
}

async fn get_portfolio(State(node): State<AppState>, Path(member_id): Path<String>) -> ApiResult<Json<PortfolioJson>> {
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let today = today();
    let records = p.credit_records();
    Ok(Json(PortfolioJson {
        member_id: p.member_id.clone(),
        profile: ProfileJson { name: p.profile.name.clone(), email: p.profile.email.clone() },
        verified: p
            .verified
            .values()
            .map(|v| record_json(&cec_core::portfolio::CreditRecord::from_verified(v)))
            .collect(),
        entries: p.entries.values().map(entry_json).collect(),
        goals: p.goals.values().map(|g| goal_json(g, &p, today)).collect(),
        requirements: p.requirements.values().map(|r| program_json(r, &p)).collect(),
        petitions: p.petitions.values().map(|x| petition_json(x, &p)).collect(),
        totals: totals_json(&totals(&records), &records),
    }))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    kind: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// `GET /v1/portfolios/{member_id}/entries?kind=&cursor=&limit=`: entries by date, a page at a
/// time, from the entry index.
async fn list_entries(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    Query(q): Query<EntriesQuery>,
) -> ApiResult<Json<Page<EntryJson>>> {
    check_id("member_id", &member_id)?;
    let limit = parse_limit(q.limit.as_deref())?;
    if let Some(k) = &q.kind {
        k.parse::<cec_core::portfolio::EntryKind>()
            .map_err(|e: cec_core::event::UnknownName| ApiError::invalid("kind", e.to_string()))?;
    }
    check_cursor(q.cursor.as_deref(), is_entry_cursor)?;
    let after = q.cursor.as_deref().and_then(|c| c.split_once('/')).map(|(d, id)| (d.to_owned(), id.to_owned()));
    let (entries, next) = node.entries_page(&member_id, q.kind.clone(), after, limit).await?;
    let next_cursor = next.map(|(date, id)| format!("{date}/{id}"));
    let items = entries.iter().map(entry_json).collect();
    Ok(Json(Page { items, next_cursor }))
}

/// An entries page's cursor: `<date>/<entry id>`, the date as the node writes it
/// (`YYYY-MM-DD`, or `-YYYYYY-MM-DD` before year 0).
pub(super) fn is_entry_cursor(c: &str) -> bool {
    let Some((date, id)) = c.split_once('/') else { return false };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (unsigned, year_len) = date.strip_prefix('-').map_or((date, 4), |d| (d, 6));
    let mut parts = unsigned.split('-');
    let shape = matches!((parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(y), Some(m), Some(d), None) if digits(y, year_len) && digits(m, 2) && digits(d, 2));
    shape && cec_core::id::validate(id).is_ok()
}

async fn create_entry(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    JsonBody(req): JsonBody<NewEntry>,
) -> ApiResult<(StatusCode, Json<EntryJson>)> {
    let id = req.id.clone().unwrap_or_else(new_id);
    let entry = entry_from(req, id.clone())?;
    check_id("member_id", &member_id)?;
    let (created, stored) = node.create_entry(&member_id, entry).await?;
    Ok((status(created), Json(entry_json(&stored))))
}

async fn patch_entry(
    State(node): State<AppState>,
    Path((member_id, entry_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<EntryPatch>,
) -> ApiResult<Json<EntryJson>> {
    check_id("member_id", &member_id)?;
    let credit_changes = req.cecs.is_some() || req.contact_minutes.is_some() || req.date.is_some();
    let cecs = req
        .cecs
        .map(|v| v.map(|s| cec_client::wire::dec_str::parse(&s).map_err(|e| ApiError::invalid("cecs", e))).transpose())
        .transpose()?;
    let entry = node
        .edit_entry(&member_id, &entry_id, credit_changes, |e| {
            if let Some(t) = req.title {
                e.title = t;
            }
            if let Some(v) = req.description {
                e.description = v;
            }
            if let Some(v) = req.date {
                e.date = v;
            }
            if let Some(v) = cecs {
                e.cecs = v;
            }
            if let Some(v) = req.contact_minutes {
                e.contact_minutes = v;
            }
            if let Some(v) = req.category {
                e.category = v.as_deref().map(cec_core::event::category_key);
            }
            if let Some(v) = req.provider {
                e.provider = v;
            }
            if let Some(v) = req.evidence {
                e.evidence = v;
            }
            e.validate().map_err(|err| NodeError::invalid(err.field, err.message))?;
            check_entry_bounds(e).map_err(|err| NodeError::invalid(err.field.unwrap_or_default(), err.message))
        })
        .await?;
    Ok(Json(entry_json(&entry)))
}

async fn delete_entry(
    State(node): State<AppState>,
    Path((member_id, entry_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    check_id("member_id", &member_id)?;
    node.delete_entry(&member_id, &entry_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn put_goal(
    State(node): State<AppState>,
    Path((member_id, goal_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<GoalInput>,
) -> ApiResult<Json<GoalJson>> {
    check_id("goal_id", &goal_id)?;
    non_empty("title", &req.title)?;
    if let Some(c) = &req.category {
        check_id("category", c)?;
    }
    check_credit("target_cecs", req.target_cecs)?;
    for (i, b) in req.benchmarks.iter().enumerate() {
        check_credit(&format!("benchmarks[{i}].target_cecs"), b.target_cecs)?;
    }
    let start_given = req.start.is_some();
    let goal = Goal {
        id: goal_id.clone(),
        title: req.title,
        target_cecs: req.target_cecs,
        category: req.category.as_deref().map(cec_core::event::category_key),
        start: req.start.or_else(|| Some(today())),
        due: req.due,
        benchmarks: req
            .benchmarks
            .into_iter()
            .map(|b| Benchmark { title: b.title, target_cecs: b.target_cecs, due: b.due })
            .collect(),
    };
    check_id("member_id", &member_id)?;
    node.put_goal(&member_id, goal, start_given).await?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let g = p.goals.get(&goal_id).ok_or_else(|| ApiError::internal("goal", "not stored"))?;
    Ok(Json(goal_json(g, &p, today())))
}

async fn list_goals(State(node): State<AppState>, Path(member_id): Path<String>) -> ApiResult<Json<Page<GoalJson>>> {
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let today = today();
    Ok(Json(Page { items: p.goals.values().map(|g| goal_json(g, &p, today)).collect(), next_cursor: None }))
}

async fn put_program(
    State(node): State<AppState>,
    Path((member_id, program_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<ProgramInput>,
) -> ApiResult<Json<ProgramJson>> {
    check_id("program_id", &program_id)?;
    non_empty("title", &req.title)?;
    check_credit("total_cecs", req.total_cecs)?;
    // Categories are compared without case: `Ethics` and `ethics` would be one minimum twice.
    let mut minimums = std::collections::BTreeMap::new();
    for (category, min) in &req.minimums {
        check_id(&format!("minimums.{category}"), category)?;
        check_credit(&format!("minimums.{category}"), *min)?;
        if minimums.insert(cec_core::event::category_key(category), *min).is_some() {
            return Err(ApiError::invalid(
                format!("minimums.{category}"),
                "names a category already given with other capitals (categories are compared without case)",
            ));
        }
    }
    let program = Program {
        id: program_id.clone(),
        title: req.title,
        window_start: req.window_start,
        window_end: req.window_end,
        total_cecs: req.total_cecs,
        minimums,
        verified_only: req.verified_only,
    };
    check_id("member_id", &member_id)?;
    node.put_program(&member_id, &program).await?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    Ok(Json(program_json(&program, &p)))
}

async fn list_programs(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
) -> ApiResult<Json<Page<ProgramJson>>> {
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    Ok(Json(Page { items: p.requirements.values().map(|r| program_json(r, &p)).collect(), next_cursor: None }))
}

async fn create_petition(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
    JsonBody(req): JsonBody<NewPetition>,
) -> ApiResult<(StatusCode, Json<PetitionJson>)> {
    let id = req.id.clone().unwrap_or_else(new_id);
    check_id("id", &id)?;
    if req.target_association.trim().is_empty() {
        return Err(ApiError::invalid("target_association", "must not be empty"));
    }
    check_id("member_id", &member_id)?;
    let petition = Petition {
        id: id.clone(),
        target_association: req.target_association,
        record_ids: req.record_ids,
        note: req.note,
        status: PetitionStatus::Draft,
        accepted_cecs: None,
        created: today(),
    };
    let (created, stored) = node.create_petition(&member_id, petition).await?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    Ok((status(created), Json(petition_json(&stored, &p))))
}

async fn patch_petition(
    State(node): State<AppState>,
    Path((member_id, petition_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<PetitionPatch>,
) -> ApiResult<Json<PetitionJson>> {
    let status: PetitionStatus =
        req.status.parse().map_err(|e: cec_core::event::UnknownName| ApiError::invalid("status", e.to_string()))?;
    check_id("member_id", &member_id)?;
    let petition = node.answer_petition(&member_id, &petition_id, status, req.accepted_cecs).await?;
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    Ok(Json(petition_json(&petition, &p)))
}

async fn get_petition(
    State(node): State<AppState>,
    Path((member_id, petition_id)): Path<(String, String)>,
) -> ApiResult<Json<PetitionJson>> {
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    let pt =
        p.petitions.get(&petition_id).ok_or_else(|| ApiError::not_found(format!("no petition {petition_id:?}")))?;
    Ok(Json(petition_json(pt, &p)))
}

async fn list_petitions(
    State(node): State<AppState>,
    Path(member_id): Path<String>,
) -> ApiResult<Json<Page<PetitionJson>>> {
    let (p, _) = effective_portfolio(&node, &member_id).await?;
    Ok(Json(Page { items: p.petitions.values().map(|x| petition_json(x, &p)).collect(), next_cursor: None }))
}
