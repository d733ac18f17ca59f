//! `cec pairings`, `cec pairings end ID|--all`: the browsers paired with the kiosk screen.

use clap::{Args, Subcommand};

use cec_client::wire::PairingJson;

use super::Ctx;
use super::output::{self, outln};
use super::peers::time;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct PairingsArgs {
    #[command(subcommand)]
    cmd: Option<PairingsCmd>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PairingsCmd {
    /// End a pairing (its id, the ID column of `cec pairings`), or every active one with --all
    #[command(long_about = "End a pairing: the browser it belongs to is signed out at its next \
request, and its kiosk screen asks to be paired again. Ending one that ended already changes \
nothing. --all ends every active pairing (a new API token would too, but would also sign out \
every other page and script).\n\n\
Example:\n  cec pairings end 3q2-7wAAAEw_ZQ5mUO1Cdg\n  cec pairings end --all")]
    End {
        /// The pairing's id
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        /// Every active pairing
        #[arg(long)]
        all: bool,
    },
}

pub(crate) async fn run(ctx: &Ctx, a: PairingsArgs) -> anyhow::Result<()> {
    match a.cmd {
        None => {
            let items = ctx.client.pairings().await?;
            ctx.emit(&serde_json::json!({ "items": items, "next_cursor": null }), |_| print(&items))
        }
        Some(PairingsCmd::End { id: Some(id), .. }) => {
            let p = ctx.client.end_pairing(&id).await?;
            ctx.emit(&p, |p| {
                outln!("ended pairing {} ({}), at {}", p.id, describe(p), time(p.ended_at));
                Ok(())
            })
        }
        Some(PairingsCmd::End { id: None, .. }) => {
            let mut ended = Vec::new();
            for p in ctx.client.pairings().await?.into_iter().filter(|p| p.state == "active") {
                ended.push(ctx.client.end_pairing(&p.id).await?);
            }
            ctx.emit(&serde_json::json!({ "items": ended, "next_cursor": null }), |_| {
                for p in &ended {
                    outln!("ended pairing {} ({})", p.id, describe(p));
                }
                if ended.is_empty() {
                    outln!("no active pairings");
                }
                Ok(())
            })
        }
    }
}

fn describe(p: &PairingJson) -> String {
    if p.label.is_empty() { format!("the {} screen", p.page) } else { format!("{}, the {} screen", p.label, p.page) }
}

fn print(items: &[PairingJson]) -> anyhow::Result<()> {
    let mut t = output::table(&["id", "page", "label", "state", "paired", "ends unless used", "ended"]);
    for p in items {
        t.add_row(vec![
            p.id.clone(),
            p.page.clone(),
            p.label.clone(),
            p.state.clone(),
            time(Some(p.paired_at)),
            if p.state == "active" { time(Some(p.expires_at)) } else { "-".into() },
            time(p.ended_at),
        ]);
    }
    output::print_table(&t, "no paired browsers: pair a kiosk screen with `cec open kiosk --pair`")
}
