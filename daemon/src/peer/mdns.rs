//! Finding peers on the local network: mDNS (DNS-SD) advertising and browsing of
//! `_cecsync._tcp.local.`, on the interfaces named in `mdns_interfaces` only.
//!
//! A node with its peer listener open advertises one instance named by its node id, with TXT
//! `id` (the node id) and `role`, at the listener's port. Every instance it resolves on the
//! network becomes a peer of source `mdns` (`GET /v1/peers` kind `mdns`) at
//! `https://ADDRESS:PORT/NODE_ID`, and wakes the background sync. What mDNS says is only a
//! hint: the peer channel still pins the advertised node id and checks its credential, so a
//! false advertisement gets nothing.
//!
//! Off unless interfaces are named. `mdns-sd` opens its sockets on every interface when its
//! thread starts and leaves those not named right after; nothing is advertised or asked before
//! the allowlist is applied.

use std::net::IpAddr;
use std::sync::Arc;

use mdns_sd::{IfKind, ResolvedService, ServiceDaemon, ServiceEvent, ServiceInfo};
use tracing::{debug, info, warn};

use super::PeerUrl;
use crate::node::Node;

/// The DNS-SD service type of cecsync's peer listener.
pub const SERVICE: &str = "_cecsync._tcp.local.";

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
#[error("mDNS: {0}")]
pub struct MdnsError(String);

impl From<mdns_sd::Error> for MdnsError {
    fn from(e: mdns_sd::Error) -> Self {
        Self(e.to_string())
    }
}

/// Advertising and browsing while it lives; stopped on drop.
pub struct Discovery {
    daemon: ServiceDaemon,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").finish_non_exhaustive()
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.task.abort();
        let _ = self.daemon.shutdown();
    }
}

/// Starts advertising `node`'s peer listener (its `port`) and browsing for other nodes, on
/// `interfaces` only.
pub fn start(node: Arc<Node>, interfaces: &[String], port: u16) -> Result<Discovery, MdnsError> {
    if interfaces.is_empty() {
        return Err(MdnsError("no interfaces named".into()));
    }
    let daemon = ServiceDaemon::new()?;
    daemon.disable_interface(IfKind::All)?;
    for name in interfaces {
        let kind = match name.as_str() {
            "lo" => IfKind::LoopbackV4,
            _ => IfKind::Name(name.clone()),
        };
        daemon.enable_interface(kind)?;
        if name == "lo" {
            daemon.enable_interface(IfKind::LoopbackV6)?;
        }
    }
    let node_id = node.identity.node_id.clone();
    let role = node.role();
    let host = format!("{node_id}.local.");
    let txt = [("id", node_id.as_str()), ("role", role)];
    let info = ServiceInfo::new(SERVICE, node_id.as_str(), &host, "", port, &txt[..])?.enable_addr_auto();
    daemon.register(info)?;
    let events = daemon.browse(SERVICE)?;
    info!(interfaces = %interfaces.join(","), service = SERVICE, "mDNS discovery on");
    let task = tokio::spawn(async move {
        while let Ok(event) = events.recv_async().await {
            let ServiceEvent::ServiceResolved(found) = event else { continue };
            let Some(url) = peer_url(&found) else {
                debug!(name = %found.fullname, "an mDNS advertisement without a usable node id or address");
                continue;
            };
            match node.discovered_peer(&url).await {
                Ok(true) => info!(peer_url = %url, "peer found by mDNS"),
                Ok(false) => debug!(peer_url = %url, "peer seen again by mDNS"),
                Err(e) => warn!(cause = %e, peer_url = %url, "could not record a peer found by mDNS"),
            }
        }
    });
    Ok(Discovery { daemon, task })
}

/// The peer URL an advertisement stands for (one: the first usable address, IPv4 first).
fn peer_url(found: &ResolvedService) -> Option<PeerUrl> {
    let id = found.txt_properties.get_property_val_str("id")?;
    let node_id = id.parse().ok()?;
    let mut addrs: Vec<IpAddr> = found.addresses.iter().map(mdns_sd::ScopedIp::to_ip_addr).collect();
    addrs.sort_by_key(|a| (a.is_ipv6(), *a));
    let addr = addrs.into_iter().find(|a| !a.is_unspecified() && !a.is_multicast())?;
    let authority = match addr {
        IpAddr::V4(a) => format!("{a}:{}", found.port),
        // A link-local IPv6 address needs its interface, which a URL authority cannot carry.
        IpAddr::V6(a) if (a.segments()[0] & 0xffc0) == 0xfe80 => return None,
        IpAddr::V6(a) => format!("[{a}]:{}", found.port),
    };
    Some(PeerUrl { authority, node_id })
}
