//! `cec roster add|show`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use cec_client::wire::{Roster, RosterMemberJson};

use super::Ctx;
use super::import;
use super::output::{self, opt, outln};

/// Members sent per request, to stay well under the 1 MiB body limit.
const CHUNK: usize = 1000;

#[derive(Debug, Subcommand)]
pub(crate) enum RosterCmd {
    /// Add one member (MEMBER_ID NAME), or many from a CSV file with --file
    Add(AddArgs),
    /// Show an event's roster
    Show {
        /// The event id
        event: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The event id
    event: String,
    /// The member's id (badge or member number)
    #[arg(required_unless_present = "file", requires = "name", conflicts_with = "file")]
    member_id: Option<String>,
    /// The member's name
    #[arg(conflicts_with = "file")]
    name: Option<String>,
    /// The member's email
    #[arg(long, conflicts_with = "file")]
    email: Option<String>,
    /// A CSV file (commas, semicolons or tabs) with a header row: member_id and name, or
    /// first_name and last_name; optionally email. The organizer page reads the same files
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: RosterCmd) -> anyhow::Result<()> {
    match cmd {
        RosterCmd::Add(a) => {
            let members = match (&a.file, a.member_id, a.name) {
                (Some(path), _, _) => {
                    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                    import::roster(f).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                }
                (None, Some(member_id), Some(name)) => vec![RosterMemberJson { member_id, name, email: a.email }],
                _ => anyhow::bail!("give MEMBER_ID NAME, or --file roster.csv"),
            };
            let mut stored = Vec::new();
            for chunk in members.chunks(CHUNK) {
                let answer = ctx.client.add_roster(&a.event, &Roster { members: chunk.to_vec() }).await?;
                stored.extend(answer.members);
            }
            ctx.emit(&Roster { members: stored }, |_| {
                match (&a.file, members.as_slice()) {
                    (None, [one]) => outln!("added {} ({}) to the roster of {}", one.name, one.member_id, a.event),
                    (_, [_]) => outln!("added 1 member to the roster of {}", a.event),
                    (_, many) => outln!("added {} members to the roster of {}", many.len(), a.event),
                }
                Ok(())
            })
        }
        RosterCmd::Show { event } => {
            let roster = ctx.client.roster(&event).await?;
            ctx.emit(&roster, |r| {
                let mut t = output::table(&["member", "name", "email"]);
                for m in &r.members {
                    t.add_row(vec![m.member_id.as_str(), m.name.as_str(), opt(m.email.as_deref())]);
                }
                output::print_table(&t, "the roster is empty")
            })
        }
    }
}
