//! `cec sync`: one sync round now, with every peer or one.

use clap::Args;

use cec_client::ClientError;
use cec_client::wire::{SyncPeerJson, SyncResult};

use super::Ctx;
use super::output::outln;

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Only this peer (its node id, the ID column of `cec peers`)
    #[arg(long, value_name = "ID")]
    peer: Option<String>,
}

pub(crate) async fn run(ctx: &Ctx, a: SyncArgs) -> anyhow::Result<()> {
    let result = match ctx.client.sync(a.peer.as_deref()).await {
        Ok(r) => r,
        // The node's own message names its API; this one names the commands.
        Err(ClientError::Api { status: 409, message, .. }) if message.starts_with("this node is not enrolled") => {
            anyhow::bail!(
                "cannot sync: this node is not enrolled. Enrol it with a code from the central node \
                 (`cec enroll CODE`; `cec enrolment create` there makes one), or install a credential \
                 with `cec credential install CREDENTIAL --org-key KEY`"
            )
        }
        Err(e) => return Err(e.into()),
    };
    ctx.emit(&result, print)?;
    let failed = result.peers.iter().filter(|p| p.error.is_some()).count();
    if failed > 0 {
        anyhow::bail!("sync failed with {failed} of {} peers", result.peers.len());
    }
    Ok(())
}

fn print(r: &SyncResult) -> anyhow::Result<()> {
    if r.peers.is_empty() {
        outln!("no peers to sync with: add one with `cec peers add URL`");
        return Ok(());
    }
    let width = r.peers.iter().map(|p| p.peer_id.len()).max().unwrap_or(0);
    for p in &r.peers {
        outln!("{:width$}  {}", p.peer_id, line(p));
    }
    Ok(())
}

/// What moved with one peer, or why nothing did.
fn line(p: &SyncPeerJson) -> String {
    match &p.error {
        Some(e) => format!("failed: {e}"),
        None => format!(
            "sent {} ({}), received {} ({})",
            docs(p.docs_sent),
            bytes(p.bytes_sent),
            docs(p.docs_received),
            bytes(p.bytes_received)
        ),
    }
}

fn docs(n: usize) -> String {
    if n == 1 { "1 document".into() } else { format!("{n} documents") }
}

fn bytes(n: u64) -> String {
    if n == 1 { "1 byte".into() } else { format!("{n} bytes") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(error: Option<&str>) -> SyncPeerJson {
        SyncPeerJson {
            peer_id: "N1".into(),
            docs_sent: 1,
            docs_received: 3,
            bytes_sent: 120,
            bytes_received: 4096,
            frames_sent: 2,
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn lines_say_what_moved_or_why_not() {
        assert_eq!(line(&report(None)), "sent 1 document (120 bytes), received 3 documents (4096 bytes)");
        assert_eq!(line(&report(Some("connection refused"))), "failed: connection refused");
    }
}
