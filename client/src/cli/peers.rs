//! `cec peers`, `cec peers add|remove`: the nodes this node syncs with.

use clap::{Args, Subcommand};
use jiff::{Timestamp, Unit};

use cec_client::wire::{PeerClockJson, PeerJson};

use super::Ctx;
use super::output::{self, opt, outln};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct PeersArgs {
    #[command(subcommand)]
    cmd: Option<PeersCmd>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PeersCmd {
    /// Add a peer by its peer URL (the `peer url` line of `cec status` on that node)
    #[command(long_about = "Add a peer by its peer URL, https://HOST:PORT/NODE_ID: what `cec status` shows as \
`peer url` on that node (it needs `cecd --peer-listen`). The node id in the URL pins the peer's \
key: a sync only talks to that node. Adding a peer does not sync; run `cec sync`.\n\n\
Example:\n  cec peers add https://192.168.1.20:7421/n3f9a6c21d0e4b7a85c1e2d90")]
    Add {
        /// The peer's URL, https://HOST:PORT/NODE_ID
        // Not `url`: that id is the global --url (the node's API), which it would shadow.
        #[arg(value_name = "URL")]
        peer_url: String,
    },
    /// Stop syncing with a peer (its node id, the ID column of `cec peers`)
    #[command(long_about = "Stop syncing with a peer and forget it. What was already synced stays.\n\n\
Example:\n  cec peers remove n3f9a6c21d0e4b7a85c1e2d90")]
    Remove {
        /// The peer's node id
        id: String,
    },
}

pub(crate) async fn run(ctx: &Ctx, a: PeersArgs) -> anyhow::Result<()> {
    match a.cmd {
        None => {
            let peers = ctx.client.peers().await?;
            // A node that is not enrolled syncs with no one: adding a peer comes after enrolling.
            let enrolled = !peers.is_empty() || ctx.client.node().await?.role != "none";
            ctx.emit(&serde_json::json!({ "items": peers, "next_cursor": null }), |_| print_peers(&peers, enrolled))
        }
        Some(PeersCmd::Add { peer_url }) => {
            let p = ctx.client.add_peer(&peer_url).await?;
            ctx.emit(&p, |p| {
                outln!("added peer {} at {}", p.peer_id, p.url);
                outln!("sync with it: cec sync --peer {}", p.peer_id);
                Ok(())
            })
        }
        Some(PeersCmd::Remove { id }) => {
            ctx.client.remove_peer(&id).await?;
            ctx.emit(&serde_json::json!({ "removed": id }), |_| {
                outln!("removed peer {id}");
                Ok(())
            })
        }
    }
}

fn print_peers(peers: &[PeerJson], enrolled: bool) -> anyhow::Result<()> {
    let mut t = output::table(&["id", "role", "state", "last sync", "clock", "last error", "url"]);
    for p in peers {
        t.add_row(vec![
            p.peer_id.clone(),
            opt(p.role.as_deref()).to_owned(),
            p.state.clone(),
            time(p.last_sync),
            p.clock.as_ref().map_or_else(|| "-".into(), clock),
            opt(p.last_error.as_deref()).to_owned(),
            p.url.clone(),
        ]);
    }
    let empty = if enrolled {
        "no peers: add one with `cec peers add URL`"
    } else {
        "no peers: this node is not enrolled, and syncs with no one until it is. Enrol it with a code \
         from the central node (`cec enroll CODE`; `cec enrolment create` there makes one), then add \
         peers with `cec peers add URL`"
    };
    output::print_table(&t, empty)
}

/// A peer's clock against this node's: `+3600.0s ±0.1s`, `skewed` when beyond the bound.
pub(crate) fn clock(c: &PeerClockJson) -> String {
    let tenths = |ms: i64| {
        let a = ms.unsigned_abs();
        format!("{}.{}", a / 1000, (a % 1000) / 100)
    };
    let sign = if c.offset_ms < 0 { "-" } else { "+" };
    let shown = format!("{sign}{}s ±{}s", tenths(c.offset_ms), tenths(c.round_trip_ms / 2));
    if c.skewed { format!("{shown} skewed") } else { shown }
}

/// An instant to the second, `-` when absent.
pub(crate) fn time(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| t.round(Unit::Second).unwrap_or(t).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_shown_in_seconds_with_their_error() {
        let c = |offset_ms, round_trip_ms, skewed| PeerClockJson {
            node_id: "n1".into(),
            offset_ms,
            round_trip_ms,
            measured_at: Timestamp::UNIX_EPOCH,
            skewed,
        };
        assert_eq!(clock(&c(3_600_049, 8, true)), "+3600.0s ±0.0s skewed");
        assert_eq!(clock(&c(-1_250, 400, false)), "-1.2s ±0.2s");
        assert_eq!(clock(&c(0, 0, false)), "+0.0s ±0.0s");
    }

    #[test]
    fn times_are_shown_to_the_second() {
        assert_eq!(time(None), "-");
        let t: Timestamp = "2026-05-01T14:00:00.734Z".parse().unwrap();
        assert_eq!(time(Some(t)), "2026-05-01T14:00:01Z");
    }
}
