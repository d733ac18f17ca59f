//! `cec event create|list|show`.

use clap::{Args, Subcommand};
use jiff::civil::Date;

use cec_client::wire::{EndorsementJson, EventJson, NewEvent, PolicyJson, ProviderJson};

use super::Ctx;
use super::args;
use super::output::{self, opt, outln};

#[derive(Debug, Subcommand)]
pub(crate) enum EventCmd {
    /// Create an event (idempotent by --id)
    Create(CreateArgs),
    /// List events
    List,
    /// Show an event and its sessions
    Show {
        /// The event id
        event: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Event id (default: the node makes one)
    #[arg(long)]
    id: Option<String>,
    /// Title
    #[arg(long)]
    title: String,
    /// Provider id
    #[arg(long, value_name = "ID")]
    provider_id: String,
    /// Provider name
    #[arg(long, value_name = "NAME")]
    provider_name: String,
    /// The provider's endorsement number; without it the event's credit is not verified
    #[arg(long, value_name = "NUMBER", requires_all = ["endorsed_from", "endorsed_until"])]
    endorsement: Option<String>,
    /// First day the endorsement is valid (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date, requires = "endorsement")]
    endorsed_from: Option<Date>,
    /// Last day the endorsement is valid (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date, requires = "endorsement")]
    endorsed_until: Option<Date>,
    /// Venue
    #[arg(long)]
    venue: Option<String>,
    /// IANA time zone of the venue, e.g. America/Chicago (default: this machine's)
    #[arg(long, value_name = "TZ")]
    timezone: Option<String>,
    /// Minutes of grace at the door: a late scan-in or early scan-out within them counts fully
    #[arg(long, value_name = "MINUTES", default_value_t = 0)]
    grace: u32,
    /// Anything short of full attendance of a session earns nothing for it
    #[arg(long)]
    full_attendance: bool,
}

pub(crate) async fn run(ctx: &Ctx, cmd: EventCmd) -> anyhow::Result<()> {
    match cmd {
        EventCmd::Create(a) => create(ctx, a).await,
        EventCmd::List => {
            let events = ctx.client.all_events().await?;
            ctx.emit(&serde_json::json!({ "items": events, "next_cursor": null }), |_| {
                let mut t = output::table(&["id", "title", "provider", "endorsed", "timezone", "sessions", "roster"]);
                for e in &events {
                    t.add_row(vec![
                        e.id.clone(),
                        e.title.clone(),
                        e.provider.name.clone(),
                        e.provider.endorsement.as_ref().map_or("-".into(), |x| x.number.clone()),
                        e.timezone.clone(),
                        e.session_count.to_string(),
                        e.roster_count.to_string(),
                    ]);
                }
                output::print_table(&t, "no events")
            })
        }
        EventCmd::Show { event } => {
            let e = ctx.client.event(&event).await?;
            let sessions = ctx.client.all_sessions(&event).await?;
            if ctx.json {
                return output::json(&serde_json::json!({ "event": e, "sessions": sessions }));
            }
            print_event(&e)?;
            outln!();
            super::session::print_sessions(&sessions, &e.timezone)
        }
    }
}

async fn create(ctx: &Ctx, a: CreateArgs) -> anyhow::Result<()> {
    let timezone = match a.timezone {
        Some(tz) => tz,
        None => jiff::tz::TimeZone::system()
            .iana_name()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("cannot tell this machine's time zone: pass --timezone"))?,
    };
    let endorsement = match (a.endorsement, a.endorsed_from, a.endorsed_until) {
        (Some(number), Some(valid_from), Some(valid_until)) => {
            Some(EndorsementJson { number, valid_from, valid_until })
        }
        _ => None,
    };
    let new = NewEvent {
        id: a.id,
        title: a.title,
        provider: ProviderJson { id: a.provider_id, name: a.provider_name, endorsement },
        venue: a.venue,
        timezone,
        policy: Some(PolicyJson { grace_minutes: a.grace, full_attendance_required: a.full_attendance }),
    };
    let e = ctx.client.create_event(&new).await?;
    ctx.emit(&e, print_event)
}

fn print_event(e: &EventJson) -> anyhow::Result<()> {
    outln!("event     {}: {}", e.id, e.title);
    let endorsed = match &e.provider.endorsement {
        Some(x) => format!("endorsement {}, valid {} to {}", x.number, x.valid_from, x.valid_until),
        None => "not endorsed: attendance earns no verified credit".into(),
    };
    outln!("provider  {} ({}), {endorsed}", e.provider.name, e.provider.id);
    outln!("venue     {}", opt(e.venue.as_deref()));
    outln!("timezone  {}", e.timezone);
    let full = if e.policy.full_attendance_required { "full attendance required" } else { "partial attendance counts" };
    outln!("policy    {} min grace at the door, {full}", e.policy.grace_minutes);
    outln!("sessions  {}, roster {} members", e.session_count, e.roster_count);
    Ok(())
}
