//! `cec session add|list`.

use clap::{Args, Subcommand};

use cec_client::wire::{NewSession, SegmentJson, SessionJson};

use super::Ctx;
use super::args::{self, When};
use super::output::{self, cec, outln};

#[derive(Debug, Subcommand)]
pub(crate) enum SessionCmd {
    /// Add a session laid out as segments, e.g. --segment meal:30 --segment keynote:30
    Add(AddArgs),
    /// List an event's sessions with their creditable minutes and most CECs
    List {
        /// The event id
        event: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The event id
    pub(crate) event: String,
    /// Session id (default: the node makes one)
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// Title
    #[arg(long)]
    pub(crate) title: String,
    /// When the first segment starts: 2026-05-01T09:00 in the event's time zone, or with an
    /// offset (2026-05-01T09:00:00-05:00)
    #[arg(long, value_name = "TIME", value_parser = args::when)]
    pub(crate) starts_at: When,
    /// A segment KIND:MINUTES (or "KIND MINUTES"), in order; repeat it or separate with commas,
    /// e.g. --segment "meal 30, keynote 30, meal 30". Creditable kinds:
    /// instruction, keynote, practice, panel, demonstration; not creditable: meal, break,
    /// open_forum, networking, exhibit, business
    #[arg(long = "segment", value_name = "KIND:MINUTES", required = true, value_delimiter = ',', value_parser = args::segment)]
    pub(crate) segments: Vec<SegmentJson>,
    /// Credit category, e.g. ethics (default: general)
    #[arg(long)]
    pub(crate) category: Option<String>,
    /// in_person (default) or online_live
    #[arg(long, value_parser = ["in_person", "online_live"])]
    pub(crate) format: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: SessionCmd) -> anyhow::Result<()> {
    match cmd {
        SessionCmd::Add(a) => {
            // The event's zone reads a local --starts-at and shows the session's times.
            let event = ctx.client.event(&a.event).await?;
            let starts_at = if a.starts_at.is_local() {
                a.starts_at.resolve(&event.timezone).map_err(anyhow::Error::msg)?
            } else {
                a.starts_at.resolve("UTC").map_err(anyhow::Error::msg)?
            };
            let new = NewSession {
                id: a.id,
                title: a.title,
                category: a.category,
                format: a.format,
                starts_at,
                segments: a.segments,
            };
            let s = ctx.client.create_session(&a.event, &new).await?;
            ctx.emit(&s, |s| {
                let total: u32 = s.segments.iter().map(|x| x.minutes).sum();
                outln!("session {} of {}: {}", s.id, s.event_id, s.title);
                outln!(
                    "  {} to {} ({total} min: {})",
                    output::event_time_and_utc(s.starts_at, &event.timezone),
                    output::event_time(s.ends_at, &event.timezone),
                    segments(&s.segments)
                );
                outln!("  {} creditable minutes, at most {} ({})", s.creditable_minutes, cec(s.max_cecs), s.category);
                Ok(())
            })
        }
        SessionCmd::List { event } => {
            let sessions = ctx.client.all_sessions(&event).await?;
            let json = serde_json::json!({ "items": sessions, "next_cursor": null });
            if ctx.json {
                return output::json(&json);
            }
            let timezone = ctx.client.event(&event).await?.timezone;
            print_sessions(&sessions, &timezone)
        }
    }
}

fn segments(s: &[SegmentJson]) -> String {
    s.iter().map(|x| format!("{} {}", x.kind, x.minutes)).collect::<Vec<_>>().join(", ")
}

/// A table of sessions, their starts on the event's clocks (`timezone`).
pub(crate) fn print_sessions(sessions: &[SessionJson], timezone: &str) -> anyhow::Result<()> {
    let starts = format!("starts ({timezone})");
    let mut t = output::table(&["session", "title", &starts, "segments", "category", "creditable", "max"]);
    for s in sessions {
        t.add_row(vec![
            s.id.clone(),
            s.title.clone(),
            output::event_time(s.starts_at, timezone),
            segments(&s.segments),
            s.category.clone(),
            format!("{} min", s.creditable_minutes),
            cec(s.max_cecs),
        ]);
    }
    output::print_table(&t, "no sessions")
}
