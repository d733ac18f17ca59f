//! `cec credential issue|install`: what lets a node sync with the organization's nodes.

use clap::{Args, Subcommand};
use jiff::Timestamp;

use cec_client::wire::{CredentialJson, InstallCredential, IssueCredential};

use super::Ctx;
use super::args;
use super::output::outln;

#[derive(Debug, Subcommand)]
pub(crate) enum CredentialCmd {
    /// Sign a credential for another node (on the central node only)
    #[command(long_about = "Sign a credential for another node: its public key (the `public key` line of \
`cec status` on that node), its role and what it may sync. Only the organization's central node \
(`cecd init-central --org NAME`) issues credentials; elsewhere the node refuses (forbidden).\n\n\
Prints the credential and the organization public key, and the `cec credential install` command \
to run on that node. With --json: the API's credential object plus `org_public_key`.\n\n\
Scopes: `*` (everything), `event:ID`, `provider:ID`, `member:ID`.\n\n\
Example:\n  cec credential issue --public-key KIOSK_PUBLIC_KEY --role kiosk --scope event:conf \\\n      \
--expires 2027-06-01T00:00:00Z")]
    Issue(IssueArgs),
    /// Install this node's credential and pin the organization key
    #[command(long_about = "Install this node's credential, as `cec credential issue` printed it on the \
central node, and pin the organization public key: from then on this node syncs with nodes whose \
credentials that organization signed. A credential for another node's key, or not signed by that \
organization key, is refused.\n\n\
Example:\n  cec credential install cecsync-cred-v1.eyJvcmc... --org-key ORG_PUBLIC_KEY")]
    Install(InstallArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IssueArgs {
    /// The node's public key, base64url (the `public key` line of `cec status` there)
    // A base64url key may begin with '-': it is a value, not a flag.
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    public_key: String,
    /// The node's role
    #[arg(long, value_parser = ["kiosk", "member", "staff", "central"])]
    role: String,
    /// What it may sync: *, event:ID, provider:ID or member:ID; repeat for more
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    scopes: Vec<String>,
    /// When it stops being accepted, with its offset, e.g. 2027-06-01T00:00:00Z
    #[arg(long, value_name = "INSTANT", value_parser = args::instant)]
    expires: Timestamp,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// The credential, cecsync-cred-v1.…
    credential: String,
    /// The organization's public key, base64url (printed with the credential)
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    org_key: String,
}

pub(crate) async fn run(ctx: &Ctx, cmd: CredentialCmd) -> anyhow::Result<()> {
    match cmd {
        CredentialCmd::Issue(a) => issue(ctx, a).await,
        CredentialCmd::Install(a) => {
            let req = InstallCredential { credential: a.credential, org_public_key: a.org_key };
            let c = ctx.client.install_credential(&req).await?;
            ctx.emit(&c, |c| {
                outln!("installed: this node ({}) is now a {} of {}", c.node_id, c.role, c.org);
                outln!("scopes      {}", c.scopes.join(" "));
                outln!("expires     {}", c.expires_at);
                outln!("next: add a peer with `cec peers add URL`, then `cec sync`");
                Ok(())
            })
        }
    }
}

async fn issue(ctx: &Ctx, a: IssueArgs) -> anyhow::Result<()> {
    let req = IssueCredential { node_public_key: a.public_key, role: a.role, scopes: a.scopes, expires_at: a.expires };
    let c = ctx.client.issue_credential(&req).await?;
    let org_key =
        ctx.client.node().await?.org_public_key.ok_or_else(|| {
            anyhow::anyhow!("the credential was issued but this node shows no organization public key")
        })?;
    if ctx.json {
        let mut v = serde_json::to_value(&c)?;
        v["org_public_key"] = serde_json::Value::String(org_key);
        return super::output::json(&v);
    }
    print_issued(&c, &org_key)
}

fn print_issued(c: &CredentialJson, org_key: &str) -> anyhow::Result<()> {
    outln!("issued a {} credential of {} for node {}", c.role, c.org, c.node_id);
    outln!("scopes      {}", c.scopes.join(" "));
    outln!("expires     {}", c.expires_at);
    outln!("credential  {}", c.credential);
    outln!("org key     {org_key}");
    outln!("install it on that node with:");
    outln!("  cec credential install {} --org-key {org_key}", c.credential);
    Ok(())
}
