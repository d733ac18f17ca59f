//! `cec checkin in|out|import` and `cec checkins`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use cec_client::CheckInFilter;
use cec_client::wire::{BatchItem, BatchResult, CheckInJson, NewCheckIn};

use super::Ctx;
use super::args::{self, When};
use super::import;
use super::output::{self, cec, outln, warn};

/// Most check-ins per batch request (the API's limit).
const BATCH: usize = 1000;

#[derive(Debug, Subcommand)]
pub(crate) enum CheckinCmd {
    /// Scan a member in at a session door
    In(ScanArgs),
    /// Scan a member out, and show the credit earned and why it is not more
    Out(ScanArgs),
    /// Import a kiosk's buffered scans from CSV (header event_id,session_id,member_id,direction,at;
    /// optional id, method); importing the same file twice stores nothing new
    Import {
        /// The CSV file, or - for stdin
        file: PathBuf,
    },
    /// Void a mistaken scan: it stays listed, marked voided, and earns no credit (a correction
    /// is a new fact; nothing is deleted). Voiding it again changes nothing.
    Void {
        /// The check-in id (`cec checkins` lists them)
        id: String,
        /// Why it is voided
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScanArgs {
    /// The event id
    event: String,
    /// The session id
    session: String,
    /// The member id (badge or member number)
    member: String,
    /// When (default: now): 2026-05-01T09:02 in the event's time zone, or with an offset
    #[arg(long, value_name = "TIME", value_parser = args::when)]
    at: Option<When>,
    /// How the member was identified
    #[arg(long, default_value = "manual", value_parser = ["badge", "qr", "manual", "online_log"])]
    method: String,
    /// Check-in id, to make a retry idempotent (default: the node makes one)
    #[arg(long)]
    id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only this event
    #[arg(long)]
    event: Option<String>,
    /// Only this session
    #[arg(long)]
    session: Option<String>,
    /// Only this member
    #[arg(long)]
    member: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: CheckinCmd) -> anyhow::Result<()> {
    match cmd {
        CheckinCmd::In(a) => scan(ctx, a, "in").await,
        CheckinCmd::Out(a) => scan(ctx, a, "out").await,
        CheckinCmd::Import { file } => import_file(ctx, file).await,
        CheckinCmd::Void { id, reason } => void(ctx, &id, reason.as_deref()).await,
    }
}

async fn void(ctx: &Ctx, id: &str, reason: Option<&str>) -> anyhow::Result<()> {
    let c = ctx.client.void_checkin(id, reason).await?;
    if ctx.json {
        return output::json(&c);
    }
    let who = c.member_name.as_ref().map_or_else(|| c.member_id.clone(), |n| format!("{n} ({})", c.member_id));
    let timezone = event_timezone(ctx, &c.event_id).await;
    let at = output::event_time_and_utc(c.at, &timezone);
    outln!("voided: {} {who} at {}/{} {at}", c.direction, c.event_id, c.session_id);
    if let Some(v) = &c.voided {
        let reason = if v.reason.is_empty() { String::new() } else { format!(": {}", v.reason) };
        outln!("  by {} at {}{reason}", v.by, output::event_time_and_utc(v.at, &timezone));
    }
    Ok(())
}

/// The time zone of `event_id`, to show times on its clocks; UTC when the node does not
/// answer it (the times are still right, in UTC).
async fn event_timezone(ctx: &Ctx, event_id: &str) -> String {
    ctx.client.event(event_id).await.map_or_else(|_| "UTC".to_owned(), |e| e.timezone)
}

async fn scan(ctx: &Ctx, a: ScanArgs, direction: &str) -> anyhow::Result<()> {
    let at = match a.at {
        Some(w) if w.is_local() => {
            let event = ctx.client.event(&a.event).await?;
            Some(w.resolve(&event.timezone).map_err(anyhow::Error::msg)?)
        }
        Some(w) => Some(w.resolve("UTC").map_err(anyhow::Error::msg)?),
        None => None,
    };
    let new = NewCheckIn {
        id: a.id,
        event_id: a.event.clone(),
        session_id: a.session.clone(),
        member_id: a.member.clone(),
        direction: direction.to_owned(),
        at,
        method: Some(a.method),
    };
    let c = ctx.client.checkin(&new).await?;
    if ctx.json {
        return output::json(&c);
    }
    let who = match &c.member_name {
        Some(name) => format!("{name} ({})", c.member_id),
        None => c.member_id.clone(),
    };
    let at = output::event_time_and_utc(c.at, &event_timezone(ctx, &c.event_id).await);
    outln!("{}: {who} at {}/{} {at}", c.direction, c.event_id, c.session_id);
    if c.flags.iter().any(|f| f == "unknown_member") {
        warn(&format!(
            "{} is not on the roster of {}: accepted anyway, flagged unknown_member",
            c.member_id, c.event_id
        ));
    }
    if direction == "out" {
        match ctx.client.attendance(&c.member_id, Some(&c.event_id)).await {
            Ok(list) => {
                if let Some(att) = list.items.iter().find(|x| x.session_id == c.session_id) {
                    outln!("{who} earns {} for {} (at most {})", cec(att.cecs), att.session_title, cec(att.max_cecs));
                    if let Some(reason) = &att.reason {
                        outln!("  {reason}");
                    }
                }
            }
            Err(e) => warn(&format!("cannot show the credit: {e}")),
        }
    }
    Ok(())
}

async fn import_file(ctx: &Ctx, file: PathBuf) -> anyhow::Result<()> {
    let rows = if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("cannot read stdin")?;
        import::checkins(buf.as_slice()).map_err(|e| anyhow::anyhow!("stdin: {e}"))?
    } else {
        let f = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
        import::checkins(f).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
    };
    let bar = ProgressBar::new(rows.len() as u64);
    if ctx.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} importing [{bar:30}] {pos}/{len} check-ins ({eta})")?
            .progress_chars("=> "),
    );
    let mut results: Vec<BatchItem> = Vec::with_capacity(rows.len());
    for (n, chunk) in rows.chunks(BATCH).enumerate() {
        let answer = match ctx.client.checkin_batch(chunk).await {
            Ok(a) => a,
            Err(e) => {
                bar.abandon();
                eprintln!(
                    "{} of {} check-ins were sent before this failure; importing again is safe",
                    n * BATCH,
                    rows.len()
                );
                return Err(e.into());
            }
        };
        results.extend(answer.results.into_iter().map(|mut item| {
            item.index += n * BATCH;
            item
        }));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let answer = BatchResult { results };
    let summary = Summary::of(&answer.results);
    if ctx.json {
        output::json(&answer)?;
    } else {
        outln!(
            "{} check-ins: {} stored, {} already there, {} refused; {} not on the roster",
            rows.len(),
            summary.stored,
            summary.existing,
            summary.failed.len(),
            summary.unknown_members
        );
        for item in summary.failed.iter().take(20) {
            let (code, msg) =
                item.error.as_ref().map_or(("?", "no reason given"), |e| (e.code.as_str(), e.message.as_str()));
            eprintln!("  row {} (line {}): {msg} ({code})", item.index + 1, item.index + 2);
        }
        if summary.failed.len() > 20 {
            eprintln!("  ... and {} more", summary.failed.len() - 20);
        }
    }
    if !summary.failed.is_empty() {
        anyhow::bail!("{} of {} check-ins were refused", summary.failed.len(), rows.len());
    }
    Ok(())
}

/// What a batch import did.
#[derive(Debug, Default)]
struct Summary<'a> {
    stored: usize,
    existing: usize,
    unknown_members: usize,
    failed: Vec<&'a BatchItem>,
}

impl<'a> Summary<'a> {
    fn of(results: &'a [BatchItem]) -> Summary<'a> {
        let mut s = Summary::default();
        for item in results {
            match item.status {
                201 => s.stored += 1,
                200 => s.existing += 1,
                _ => s.failed.push(item),
            }
            if item.checkin.as_ref().is_some_and(|c| c.flags.iter().any(|f| f == "unknown_member")) {
                s.unknown_members += 1;
            }
        }
        s
    }
}

pub(crate) async fn list(ctx: &Ctx, a: ListArgs) -> anyhow::Result<()> {
    let filter = CheckInFilter { event_id: a.event, session_id: a.session, member_id: a.member };
    let items = ctx.client.all_checkins(&filter).await?;
    if items.is_empty()
        && let Some(event) = &filter.event_id
    {
        // A mistyped event id is not an event without scans: the node's 404 says so.
        ctx.client.event(event).await?;
    }
    let json = serde_json::json!({ "items": items, "next_cursor": null });
    if ctx.json {
        return output::json(&json);
    }
    let mut zones = std::collections::BTreeMap::new();
    for c in &items {
        if !zones.contains_key(&c.event_id) {
            zones.insert(c.event_id.clone(), event_timezone(ctx, &c.event_id).await);
        }
    }
    print_checkins(&items, &zones)
}

/// A table of check-ins, each at its event's clocks (`zones`: event id → time zone).
fn print_checkins(items: &[CheckInJson], zones: &std::collections::BTreeMap<String, String>) -> anyhow::Result<()> {
    let mut t =
        output::table(&["at (event time)", "dir", "member", "name", "event/session", "method", "kiosk", "flags"]);
    for c in items {
        t.add_row(vec![
            output::event_time(c.at, zones.get(&c.event_id).map_or("UTC", String::as_str)),
            c.direction.clone(),
            c.member_id.clone(),
            output::opt(c.member_name.as_deref()).to_owned(),
            format!("{}/{}", c.event_id, c.session_id),
            c.method.clone(),
            c.kiosk_id.clone(),
            c.flags.join(" "),
        ]);
    }
    output::print_table(&t, "no check-ins")
}

#[cfg(test)]
mod tests {
    use cec_client::wire::ErrorDetail;

    use super::*;

    fn item(index: usize, status: u16) -> BatchItem {
        let error =
            (status >= 400).then(|| ErrorDetail { code: "not_found".into(), message: "no".into(), field: None });
        BatchItem { index, status, checkin: None, error }
    }

    #[test]
    fn summarizes_a_batch() {
        let results = [item(0, 201), item(1, 200), item(2, 404), item(3, 201)];
        let s = Summary::of(&results);
        assert_eq!((s.stored, s.existing, s.failed.len()), (2, 1, 1));
        assert_eq!(s.failed[0].index, 2);
    }
}
