//! `cec petition create|list|status|packet`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use rust_decimal::Decimal;

use cec_client::ReportFormat;
use cec_client::wire::{NewPetition, PacketJson, PetitionJson, PetitionPatch};

use super::Ctx;
use super::args;
use super::credit::records_lines;
use super::output::{self, cec};
use super::transcript::{Choice, FORMAT_HELP, Format, pick};

#[derive(Debug, Subcommand)]
pub(crate) enum PetitionCmd {
    /// Ask another association to accept chosen credit records (ids from `cec cecs`)
    Create(CreateArgs),
    /// List a member's petitions
    List {
        /// The member id
        member: String,
    },
    /// Show a petition's status, or record a new one (e.g. `accepted`, or
    /// `partially_accepted --accepted 5.5`)
    Status(StatusArgs),
    /// The petition packet: records with contact hours, CEUs, providers, endorsement numbers
    /// and verification codes
    #[command(after_help = FORMAT_HELP)]
    Packet(PacketArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The member id
    member: String,
    /// The association asked
    #[arg(long = "to", value_name = "ASSOCIATION")]
    target: String,
    /// A credit record id (see `cec cecs MEMBER`); repeat for more
    #[arg(long = "record", value_name = "ID", required = true)]
    records: Vec<String>,
    /// A note to the association
    #[arg(long)]
    note: Option<String>,
    /// Petition id (default: the node makes one)
    #[arg(long)]
    id: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The member id
    member: String,
    /// The petition id
    petition: String,
    /// The new status (omit to show the current one)
    #[arg(value_parser = ["draft", "submitted", "accepted", "partially_accepted", "denied"])]
    status: Option<String>,
    /// CECs the association accepted (required with partially_accepted)
    #[arg(long, value_name = "CECS", value_parser = args::cecs, requires = "status")]
    accepted: Option<Decimal>,
}

#[derive(Debug, Args)]
pub(crate) struct PacketArgs {
    /// The member id
    member: String,
    /// The petition id
    petition: String,
    /// The file format (default: from the -o file's extension; on stdout, the table)
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Write to this file (- for stdout)
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

impl PetitionCmd {
    /// What clap cannot check: the packet's format is known and agrees with the file's
    /// extension.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            PetitionCmd::Packet(a) => pick(a.format, a.output.as_deref()).map(|_| ()),
            _ => Ok(()),
        }
    }
}

pub(crate) async fn run(ctx: &Ctx, cmd: PetitionCmd) -> anyhow::Result<()> {
    match cmd {
        PetitionCmd::Create(a) => {
            let new = NewPetition { id: a.id, target_association: a.target, record_ids: a.records, note: a.note };
            let p = ctx.client.create_petition(&a.member, &new).await?;
            ctx.emit(&p, print_petition)
        }
        PetitionCmd::List { member } => {
            let list = ctx.client.petitions(&member).await?;
            ctx.emit(&serde_json::json!({ "items": list, "next_cursor": null }), |_| print_petitions(&list))
        }
        PetitionCmd::Status(a) => {
            let p = match a.status {
                Some(status) => {
                    let answer = ["accepted", "partially_accepted", "denied"].contains(&status.as_str());
                    let patch = PetitionPatch { status, accepted_cecs: a.accepted };
                    match ctx.client.patch_petition(&a.member, &a.petition, &patch).await {
                        // An answer comes to a petition that was sent: say the step in between.
                        Err(e) if answer && e.code() == Some("conflict") => {
                            let draft =
                                ctx.client.petition(&a.member, &a.petition).await.is_ok_and(|p| p.status == "draft");
                            let e = anyhow::Error::from(e);
                            return Err(if draft {
                                e.context(format!(
                                    "mark it sent first: cec petition status {} {} submitted",
                                    a.member, a.petition
                                ))
                            } else {
                                e
                            });
                        }
                        other => other?,
                    }
                }
                None => ctx.client.petition(&a.member, &a.petition).await?,
            };
            ctx.emit(&p, print_petition)
        }
        PetitionCmd::Packet(a) => match pick(a.format, a.output.as_deref()).map_err(anyhow::Error::msg)? {
            Choice::Report(f) => {
                let bytes = ctx.client.petition_packet_bytes(&a.member, &a.petition, f).await?;
                output::write_report(a.output.as_deref(), &bytes, f == ReportFormat::Pdf)
            }
            Choice::Table => {
                let packet = ctx.client.petition_packet(&a.member, &a.petition).await?;
                match a.output.as_deref().filter(|p| p.as_os_str() != "-") {
                    Some(path) => output::write_report(Some(path), &output::text_file(&packet_lines(&packet)), false),
                    None => ctx.emit(&packet, |k| output::print_lines(&packet_lines(k))),
                }
            }
        },
    }
}

/// The packet for people: the petition, the member, the records and the total.
fn packet_lines(k: &PacketJson) -> Vec<String> {
    let mut lines = petition_lines(&k.petition);
    let name = k.member_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    lines.push(format!("member {}{name}", k.member_id));
    lines.extend(records_lines(&k.records));
    lines.push(format!("total {} = {} CEU", cec(k.totals.total_cecs), output::dec(k.totals.ceus)));
    lines
}

fn print_petition(p: &PetitionJson) -> anyhow::Result<()> {
    output::print_lines(&petition_lines(p))
}

fn petition_lines(p: &PetitionJson) -> Vec<String> {
    let mut lines = vec![format!("petition {} to {}: {}", p.id, p.target_association, p.status.replace('_', " "))];
    let accepted = p.accepted_cecs.map(|d| format!(", accepted {}", cec(d))).unwrap_or_default();
    lines.push(format!(
        "  requested {}{accepted}; {} records; created {}",
        cec(p.requested_cecs),
        p.record_ids.len(),
        p.created
    ));
    if let Some(note) = &p.note {
        lines.push(format!("  note: {note}"));
    }
    lines
}

/// A table of petitions.
pub(crate) fn print_petitions(list: &[PetitionJson]) -> anyhow::Result<()> {
    let mut t = output::table(&["petition", "to", "status", "requested", "accepted", "records", "created"]);
    for p in list {
        t.add_row(vec![
            p.id.clone(),
            p.target_association.clone(),
            p.status.clone(),
            cec(p.requested_cecs),
            p.accepted_cecs.map_or("-".into(), cec),
            p.record_ids.len().to_string(),
            p.created.to_string(),
        ]);
    }
    output::print_table(&t, "no petitions")
}
