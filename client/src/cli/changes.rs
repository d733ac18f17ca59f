//! `cec changes`: the change feed.

use clap::Args;

use cec_client::wire::Changes;

use super::Ctx;
use super::output::{self, outln};

#[derive(Debug, Args)]
pub(crate) struct ChangesArgs {
    /// Only changes after this cursor (from a previous answer; default: from the start)
    #[arg(long, value_name = "CURSOR")]
    since: Option<String>,
    /// Wait up to this many seconds for a change when there is none yet (long poll)
    #[arg(long, value_name = "SECONDS")]
    wait: Option<u32>,
    /// Keep waiting and print changes as they come (with --json: one JSON answer per line)
    #[arg(long)]
    follow: bool,
}

pub(crate) async fn run(ctx: &Ctx, a: ChangesArgs) -> anyhow::Result<()> {
    let mut since = a.since;
    if !a.follow {
        let c = ctx.client.changes(since.as_deref(), a.wait).await?;
        return ctx.emit(&c, |c| {
            print(c)?;
            outln!("next: cec changes --since {}", c.cursor);
            Ok(())
        });
    }
    let wait = a.wait.unwrap_or(30).max(1);
    loop {
        let c = ctx.client.changes(since.as_deref(), Some(wait)).await?;
        if ctx.json {
            outln!("{}", serde_json::to_string(&c)?);
        } else {
            print(&c)?;
        }
        since = Some(c.cursor);
    }
}

fn print(c: &Changes) -> anyhow::Result<()> {
    let mut t = output::table(&["kind", "id", "document"]);
    for ch in &c.changes {
        t.add_row(vec![ch.kind.as_str(), ch.id.as_str(), ch.doc_id.as_str()]);
    }
    if !c.changes.is_empty() {
        output::print_table(&t, "")?;
    }
    Ok(())
}
