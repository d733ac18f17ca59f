//! `cec enroll`, `cec enrolment create`, `cec revoke`, `cec revocations`: joining the
//! organization with a code, and withdrawing a node from it.

use clap::{Args, Subcommand};
use jiff::Timestamp;

use cec_client::wire::{EnrolledJson, EnrolmentJson, NewEnrolment, RevocationJson};

use super::Ctx;
use super::args;
use super::output::{self, outln};
use super::peers::time;

#[derive(Debug, Subcommand)]
pub(crate) enum EnrolmentCmd {
    /// Issue an enrolment code for new nodes (on the central node only)
    #[command(long_about = "Issue an enrolment code: up to --uses nodes (kiosks, a member's laptop) run \
`cec enroll CODE` and each gets a credential with this role and these scopes, without anyone copying \
keys around. The code carries the central node's peer URL, its organization key's fingerprint and a \
128-bit secret; the central node keeps only a hash of the secret, so the code is shown once. It can \
be used until --expires; the credentials it gives expire at --credential-expires (default: the same \
instant).\n\n\
Only the organization's central node issues codes, and only while its peer listener is on (cecd \
--peer-listen). If it listens on every address (0.0.0.0), give --peer-address, the HOST:PORT the new \
nodes reach it at.\n\n\
Scopes: `event:ID`, `provider:ID`, `member:ID`, `*` (everything).\n\n\
Examples:\n  cec enrolment create --role kiosk --scope event:conf --uses 10 --expires 2027-06-01\n  \
cec enrolment create --role member --scope member:M-1001 --uses 1 --expires 2027-01-15T00:00:00Z \\\n      \
--credential-expires 2028-01-01")]
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// The role the new nodes get
    #[arg(long, value_parser = ["kiosk", "member", "staff"])]
    role: String,
    /// What they may sync: *, event:ID, provider:ID or member:ID; repeat for more
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    scopes: Vec<String>,
    /// How many nodes may enrol with the code
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    uses: u32,
    /// Until when the code may be used: 2027-06-01 (00:00 UTC) or 2027-06-01T00:00:00Z
    #[arg(long, value_name = "WHEN", value_parser = args::expiry)]
    expires: Timestamp,
    /// When the credentials it gives expire (default: --expires)
    #[arg(long, value_name = "WHEN", value_parser = args::expiry)]
    credential_expires: Option<Timestamp>,
    /// HOST:PORT where new nodes reach this node's peer listener (default: where it listens)
    #[arg(long, value_name = "HOST:PORT")]
    peer_address: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct EnrollArgs {
    /// The enrolment code, cecenrol… (from `cec enrolment create` on the central node)
    code: String,
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    /// The node's id (`node` in `cec status` there, or the id column of `cec peers`)
    node_id: String,
}

pub(crate) async fn enrolment(ctx: &Ctx, cmd: EnrolmentCmd) -> anyhow::Result<()> {
    match cmd {
        EnrolmentCmd::Create(a) => {
            let req = NewEnrolment {
                role: a.role,
                scopes: a.scopes,
                uses: a.uses,
                expires_at: a.expires,
                credential_expires_at: a.credential_expires,
                peer_address: a.peer_address,
            };
            let e = ctx.client.create_enrolment(&req).await?;
            ctx.emit(&e, print_code)
        }
    }
}

fn print_code(e: &EnrolmentJson) -> anyhow::Result<()> {
    let nodes = if e.uses == 1 { "1 node".to_owned() } else { format!("up to {} nodes", e.uses) };
    outln!("enrolment code for {nodes}: role {}, scopes {}", e.role, e.scopes.join(" "));
    outln!("code        {}", e.code);
    outln!("usable      until {}", e.expires_at);
    outln!("credentials expire {}", e.credential_expires_at);
    outln!("central     {}", e.central_url);
    outln!("on each new node run (this code is shown only once):");
    outln!("  cec enroll {}", e.code);
    Ok(())
}

pub(crate) async fn enroll(ctx: &Ctx, a: EnrollArgs) -> anyhow::Result<()> {
    let e = ctx.client.enroll(&a.code).await?;
    ctx.emit(&e, print_enrolled)
}

fn print_enrolled(e: &EnrolledJson) -> anyhow::Result<()> {
    let c = &e.credential;
    outln!("enrolled: this node ({}) is now a {} of {}", c.node_id, c.role, c.org);
    outln!("scopes      {}", c.scopes.join(" "));
    outln!("expires     {}", c.expires_at);
    outln!("central     {}", e.central_url);
    outln!("it syncs with the central node by itself; `cec sync` syncs now");
    Ok(())
}

pub(crate) async fn revoke(ctx: &Ctx, a: RevokeArgs) -> anyhow::Result<()> {
    let r = ctx.client.revoke(&a.node_id).await?;
    ctx.emit(&r, |r| {
        outln!("revoked node {} at {}", r.node_id, r.revoked_at);
        outln!("nodes refuse it once they hear of it: each learns it when it next syncs with a node that knows");
        Ok(())
    })
}

pub(crate) async fn revocations(ctx: &Ctx) -> anyhow::Result<()> {
    let list = ctx.client.revocations().await?;
    ctx.emit(&serde_json::json!({ "items": list, "next_cursor": null }), |_| print_revocations(&list))
}

fn print_revocations(list: &[RevocationJson]) -> anyhow::Result<()> {
    let mut t = output::table(&["node", "revoked at"]);
    for r in list {
        t.add_row(vec![r.node_id.clone(), time(Some(r.revoked_at))]);
    }
    output::print_table(&t, "no revocations known to this node")
}
