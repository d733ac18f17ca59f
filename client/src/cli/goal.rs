//! `cec goal set|list`.

use clap::{Args, Subcommand};
use jiff::civil::Date;
use rust_decimal::Decimal;

use cec_client::ClientError;
use cec_client::wire::{BenchmarkJson, GoalInput, GoalJson};

use super::Ctx;
use super::args;
use super::output::{self, cec, opt, outln, yes_no};

#[derive(Debug, Subcommand)]
pub(crate) enum GoalCmd {
    /// Set (create or replace) a development-plan goal, e.g. 12 CECs by June (--category for a
    /// goal in one category)
    Set(SetArgs),
    /// List a member's goals with their progress and whether they are on track
    List {
        /// The member id
        member: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The member id
    member: String,
    /// The goal id (setting it again replaces the goal)
    goal: String,
    /// Title
    #[arg(long)]
    title: String,
    /// CECs wanted
    #[arg(long, value_name = "CECS", value_parser = args::cecs)]
    target: Decimal,
    /// Only credit in this category counts
    #[arg(long)]
    category: Option<String>,
    /// Credit from this day counts, and pace is measured from it (YYYY-MM-DD; default: today)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    start: Option<Date>,
    /// Due date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    due: Date,
    /// A checkpoint DATE:CECS[:TITLE], e.g. 2026-03-31:6:halfway; repeat for more
    #[arg(long = "benchmark", value_name = "DATE:CECS[:TITLE]", value_parser = args::benchmark)]
    benchmarks: Vec<BenchmarkJson>,
}

pub(crate) async fn run(ctx: &Ctx, cmd: GoalCmd) -> anyhow::Result<()> {
    match cmd {
        GoalCmd::Set(a) => {
            let input = GoalInput {
                title: a.title,
                target_cecs: a.target,
                category: a.category,
                start: a.start,
                due: a.due,
                benchmarks: a.benchmarks,
            };
            let g = match ctx.client.put_goal(&a.member, &a.goal, &input).await {
                // Without --start the node counts a new goal from today, so a goal due in the
                // past is refused for a start nobody typed.
                Err(e @ ClientError::Api { .. }) if a.start.is_none() && e.field() == Some("start") => {
                    return Err(anyhow::Error::from(e).context(format!(
                        "without --start a new goal counts from today, which is after --due {}: give --start",
                        a.due
                    )));
                }
                other => other?,
            };
            ctx.emit(&g, |g| {
                outln!("goal {}: {}", g.id, g.title);
                outln!(
                    "  {} of {} by {}, {} to go",
                    cec(g.earned_cecs),
                    cec(g.target_cecs),
                    g.due,
                    cec(g.remaining_cecs)
                );
                outln!("  {}", track(g));
                Ok(())
            })
        }
        GoalCmd::List { member } => {
            let goals = ctx.client.goals(&member).await?;
            ctx.emit(&serde_json::json!({ "items": goals, "next_cursor": null }), |_| print_goals(&goals))
        }
    }
}

fn track(g: &GoalJson) -> String {
    if g.met {
        "met".into()
    } else if g.on_track {
        format!("on track (a steady pace would have {})", cec(g.expected_cecs))
    } else {
        format!("behind: a steady pace would have {} by now", cec(g.expected_cecs))
    }
}

/// A table of goals, and their benchmarks.
pub(crate) fn print_goals(goals: &[GoalJson]) -> anyhow::Result<()> {
    let mut t = output::table(&["goal", "title", "category", "earned", "target", "remaining", "due", "on track"]);
    for g in goals {
        t.add_row(vec![
            g.id.clone(),
            g.title.clone(),
            opt(g.category.as_deref()).to_owned(),
            cec(g.earned_cecs),
            cec(g.target_cecs),
            cec(g.remaining_cecs),
            g.due.to_string(),
            if g.met { "met".into() } else { yes_no(g.on_track).to_owned() },
        ]);
    }
    output::print_table(&t, "no goals")?;
    for g in goals {
        for b in &g.benchmarks {
            outln!(
                "  {} benchmark {:?}: {} of {} by {} ({})",
                g.id,
                b.title,
                cec(b.earned_cecs),
                cec(b.target_cecs),
                b.due,
                b.status
            );
        }
    }
    Ok(())
}
