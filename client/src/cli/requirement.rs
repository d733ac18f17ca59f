//! `cec requirement set|list`.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use jiff::civil::Date;
use rust_decimal::Decimal;

use cec_client::wire::{ProgramInput, ProgramJson};

use super::Ctx;
use super::args;
use super::output::{cec, outln};

#[derive(Debug, Subcommand)]
pub(crate) enum RequirementCmd {
    /// Set (create or replace) a requirement program: a total over a window, minimums per category
    Set(SetArgs),
    /// List a member's programs: what is met and what is missing
    List {
        /// The member id
        member: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SetArgs {
    /// The member id
    member: String,
    /// The program id (setting it again replaces it)
    program: String,
    /// Title, e.g. "License renewal 2025-2026"
    #[arg(long)]
    title: String,
    /// First day credit counts (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    from: Date,
    /// Last day credit counts (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    to: Date,
    /// CECs needed in all
    #[arg(long, value_name = "CECS", value_parser = args::cecs)]
    total: Decimal,
    /// A minimum CATEGORY:CECS, e.g. ethics:3; repeat for more
    #[arg(long = "min", value_name = "CATEGORY:CECS", value_parser = args::minimum)]
    minimums: Vec<(String, Decimal)>,
    /// Only verified credit counts
    #[arg(long)]
    verified_only: bool,
}

pub(crate) async fn run(ctx: &Ctx, cmd: RequirementCmd) -> anyhow::Result<()> {
    match cmd {
        RequirementCmd::Set(a) => {
            let minimums: BTreeMap<String, Decimal> = a.minimums.into_iter().collect();
            let input = ProgramInput {
                title: a.title,
                window_start: a.from,
                window_end: a.to,
                total_cecs: a.total,
                minimums,
                verified_only: a.verified_only,
            };
            let p = ctx.client.put_requirement(&a.member, &a.program, &input).await?;
            ctx.emit(&p, |p| print_programs(std::slice::from_ref(p)))
        }
        RequirementCmd::List { member } => {
            let programs = ctx.client.requirements(&member).await?;
            ctx.emit(&serde_json::json!({ "items": programs, "next_cursor": null }), |_| {
                if programs.is_empty() {
                    outln!("no requirement programs");
                    return Ok(());
                }
                print_programs(&programs)
            })
        }
    }
}

/// Each program with what is met and what is missing.
pub(crate) fn print_programs(programs: &[ProgramJson]) -> anyhow::Result<()> {
    for p in programs {
        let only = if p.verified_only { ", verified credit only" } else { "" };
        outln!("{} {}: {} to {}{only}", p.id, p.title, p.window_start, p.window_end);
        let state = if p.met { "met".to_owned() } else { format!("missing {}", cec(p.missing_cecs)) };
        outln!("  total     {} of {}: {state}", cec(p.earned_cecs), cec(p.total_cecs));
        for c in &p.categories {
            let state = if c.met { "met".to_owned() } else { format!("missing {}", cec(c.missing_cecs)) };
            outln!("  {:<9} {} of {}: {state}", c.category, cec(c.earned_cecs), cec(c.required_cecs));
        }
        outln!("  {}", if p.met { "everything is met" } else { "not met yet" });
    }
    Ok(())
}
