//! `cec portfolio show|add|edit|rm`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use jiff::civil::Date;
use rust_decimal::Decimal;

use cec_client::wire::{EntryJson, EntryPatch, NewEntry};

use super::Ctx;
use super::args;
use super::blob::upload;
use super::credit::print_records;
use super::output::{self, cec, dec, opt, outln};

#[derive(Debug, Subcommand)]
pub(crate) enum PortfolioCmd {
    /// Show a member's portfolio: totals, verified history, entries, goals, petitions
    Show {
        /// The member id
        member: String,
    },
    /// Add an entry; --evidence files are uploaded first
    Add(AddArgs),
    /// Change an entry's fields, add or remove evidence, or clear optional fields
    Edit(EditArgs),
    /// Remove an entry
    Rm {
        /// The member id
        member: String,
        /// The entry id
        entry: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The member id
    pub(crate) member: String,
    /// Entry id (default: the node makes one)
    #[arg(long)]
    pub(crate) id: Option<String>,
    /// What it is; only an activity carries self-reported CECs
    #[arg(long, value_parser = ["activity", "experience", "work_sample", "learning_activity", "note"])]
    pub(crate) kind: String,
    /// Title
    #[arg(long)]
    pub(crate) title: String,
    /// Description
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// When (YYYY-MM-DD; default today)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    pub(crate) date: Option<Date>,
    /// Self-reported CECs, a multiple of 0.25 (activities only)
    #[arg(long, value_name = "CECS", value_parser = args::cecs)]
    pub(crate) cecs: Option<Decimal>,
    /// Contact minutes (CECs are derived from them when --cecs is not given)
    #[arg(long, value_name = "MINUTES")]
    pub(crate) contact_minutes: Option<u32>,
    /// Credit category, e.g. ethics
    #[arg(long)]
    pub(crate) category: Option<String>,
    /// Provider
    #[arg(long)]
    pub(crate) provider: Option<String>,
    /// An evidence file (certificate PDF, photo); repeat for more
    #[arg(long, value_name = "FILE")]
    pub(crate) evidence: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct EditArgs {
    /// The member id
    member: String,
    /// The entry id
    entry: String,
    /// New title
    #[arg(long)]
    title: Option<String>,
    /// New description
    #[arg(long)]
    description: Option<String>,
    /// New date (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    date: Option<Date>,
    /// New self-reported CECs
    #[arg(long, value_name = "CECS", value_parser = args::cecs)]
    cecs: Option<Decimal>,
    /// New contact minutes
    #[arg(long, value_name = "MINUTES")]
    contact_minutes: Option<u32>,
    /// New category
    #[arg(long)]
    category: Option<String>,
    /// New provider
    #[arg(long)]
    provider: Option<String>,
    /// Upload a file and add it as evidence; repeat for more
    #[arg(long, value_name = "FILE")]
    evidence: Vec<PathBuf>,
    /// Remove evidence by SHA-256; repeat for more
    #[arg(long, value_name = "SHA256")]
    remove_evidence: Vec<String>,
    /// Clear an optional field; repeat for more
    #[arg(long, value_enum, value_name = "FIELD")]
    clear: Vec<Clearable>,
}

/// Optional fields of an entry that `edit --clear` empties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Clearable {
    /// The description
    Description,
    /// The self-reported CECs
    Cecs,
    /// The contact minutes
    ContactMinutes,
    /// The category
    Category,
    /// The provider
    Provider,
}

pub(crate) async fn run(ctx: &Ctx, cmd: PortfolioCmd) -> anyhow::Result<()> {
    match cmd {
        PortfolioCmd::Show { member } => show(ctx, &member).await,
        PortfolioCmd::Add(a) => {
            let mut evidence = Vec::new();
            for f in &a.evidence {
                evidence.push(upload(ctx, f).await?.sha256);
            }
            let new = NewEntry {
                id: a.id,
                kind: a.kind,
                title: a.title,
                description: a.description,
                date: a.date.unwrap_or_else(|| jiff::ZonedDateTime::now().date()),
                cecs: a.cecs,
                contact_minutes: a.contact_minutes,
                category: a.category,
                provider: a.provider,
                evidence,
            };
            let e = ctx.client.create_entry(&a.member, &new).await?;
            ctx.emit(&e, |e| print_entry("added", e))
        }
        PortfolioCmd::Edit(a) => edit(ctx, a).await,
        PortfolioCmd::Rm { member, entry } => {
            ctx.client.delete_entry(&member, &entry).await?;
            ctx.emit(&serde_json::json!({ "deleted": entry }), |_| {
                outln!("removed entry {entry} from the portfolio of {member}");
                Ok(())
            })
        }
    }
}

async fn edit(ctx: &Ctx, a: EditArgs) -> anyhow::Result<()> {
    let clear = |f: Clearable| a.clear.contains(&f);
    let mut patch = EntryPatch {
        title: a.title,
        description: if clear(Clearable::Description) { Some(None) } else { a.description.map(Some) },
        date: a.date,
        cecs: if clear(Clearable::Cecs) { Some(None) } else { a.cecs.map(|d| Some(dec(d))) },
        contact_minutes: if clear(Clearable::ContactMinutes) { Some(None) } else { a.contact_minutes.map(Some) },
        category: if clear(Clearable::Category) { Some(None) } else { a.category.map(Some) },
        provider: if clear(Clearable::Provider) { Some(None) } else { a.provider.map(Some) },
        evidence: None,
    };
    if !a.evidence.is_empty() || !a.remove_evidence.is_empty() {
        let portfolio = ctx.client.portfolio(&a.member).await?;
        let current = portfolio
            .entries
            .iter()
            .find(|e| e.id == a.entry)
            .ok_or_else(|| anyhow::anyhow!("no entry {} in the portfolio of {}", a.entry, a.member))?;
        let mut evidence: Vec<String> =
            current.evidence.iter().filter(|s| !a.remove_evidence.contains(s)).cloned().collect();
        for f in &a.evidence {
            let sha = upload(ctx, f).await?.sha256;
            if !evidence.contains(&sha) {
                evidence.push(sha);
            }
        }
        patch.evidence = Some(evidence);
    }
    if patch == EntryPatch::default() {
        anyhow::bail!("nothing to change: give at least one of --title, --date, --cecs, --evidence, --clear, ...");
    }
    let e = ctx.client.patch_entry(&a.member, &a.entry, &patch).await?;
    ctx.emit(&e, |e| print_entry("updated", e))?;
    let kept: Vec<&str> = [
        (Clearable::Description, e.description.is_some(), "description"),
        (Clearable::Cecs, e.cecs.is_some(), "cecs"),
        (Clearable::ContactMinutes, e.contact_minutes.is_some(), "contact-minutes"),
        (Clearable::Category, e.category.is_some(), "category"),
        (Clearable::Provider, e.provider.is_some(), "provider"),
    ]
    .into_iter()
    .filter(|(f, still_set, _)| clear(*f) && *still_set)
    .map(|(_, _, name)| name)
    .collect();
    if !kept.is_empty() {
        anyhow::bail!("the node kept {} although asked to clear it", kept.join(", "));
    }
    Ok(())
}

fn print_entry(verb: &str, e: &EntryJson) -> anyhow::Result<()> {
    outln!("{verb} {} {}: {} ({})", e.kind.replace('_', " "), e.id, e.title, e.date);
    if let Some(c) = e.credited_cecs {
        outln!("  counts for {} self-reported", cec(c));
    }
    for sha in &e.evidence {
        outln!("  evidence {sha}");
    }
    Ok(())
}

async fn show(ctx: &Ctx, member: &str) -> anyhow::Result<()> {
    let p = ctx.client.portfolio(member).await?;
    ctx.emit(&p, |p| {
        let name = p.profile.name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        outln!("portfolio of {}{name}", p.member_id);
        let t = &p.totals;
        outln!(
            "credit: {} verified, {} self-reported, {} in all ({} CEU)",
            cec(t.verified_cecs),
            cec(t.self_reported_cecs),
            cec(t.total_cecs),
            dec(t.ceus)
        );
        outln!("\nverified history");
        print_records(&p.verified)?;
        outln!("\nentries");
        let mut table = output::table(&["entry", "date", "kind", "title", "CECs", "category", "evidence"]);
        for e in &p.entries {
            table.add_row(vec![
                e.id.clone(),
                e.date.to_string(),
                e.kind.clone(),
                e.title.clone(),
                e.credited_cecs.map_or("-".into(), cec),
                opt(e.category.as_deref()).to_owned(),
                e.evidence.len().to_string(),
            ]);
        }
        output::print_table(&table, "no entries")?;
        if !p.goals.is_empty() {
            outln!("\ngoals");
            super::goal::print_goals(&p.goals)?;
        }
        if !p.requirements.is_empty() {
            outln!("\nrequirements");
            super::requirement::print_programs(&p.requirements)?;
        }
        if !p.petitions.is_empty() {
            outln!("\npetitions");
            super::petition::print_petitions(&p.petitions)?;
        }
        Ok(())
    })
}
