//! The peers this node syncs with, and running a sync round with them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cec_core::ident::{NodeId, Role};
use jiff::Timestamp;
use tracing::debug;

use super::Node;
use super::credential::Credential;
use super::error::{NodeError, NodeResult};
use crate::peer::PeerUrl;
use crate::peer::client::PeerConnection;
use crate::storage::{self, PeerRow};
use crate::sync::{Driver, PeerScope, SyncError, drive, open_knowing, run_initiator_knowing};

/// How many times a round is opened while the peer answers that it is in a round toward this
/// node.
const BUSY_ATTEMPTS: u32 = 5;

/// The most a round's opening carries of the changes made since the last sync with the peer
/// (bytes of sync messages); what does not fit goes through the rounds.
const PUSH_BUDGET: usize = 64 << 10;

/// How often a round waiting for its turn looks again.
const TURN_POLL: Duration = Duration::from_millis(20);

/// A peer as node services answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Its node id.
    pub peer_id: String,
    /// Its peer URL.
    pub url: String,
    /// How it became known: `static`, `central` or `mdns`.
    pub source: String,
    /// Its role, once its credential was seen.
    pub role: Option<String>,
    /// When it last answered.
    pub last_seen: Option<Timestamp>,
    /// When a sync with it last completed.
    pub last_sync: Option<Timestamp>,
    /// The last sync's error, if it failed.
    pub last_error: Option<String>,
}

/// How syncing with a peer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Its last sync failed.
    Failing,
    /// Its last sync completed.
    Ok,
    /// No sync with it completed yet.
    NeverSynced,
}

impl PeerState {
    /// As the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failing => "failing",
            Self::Ok => "ok",
            Self::NeverSynced => "never_synced",
        }
    }
}

impl Peer {
    /// How syncing with it goes.
    pub fn state(&self) -> PeerState {
        match (&self.last_error, self.last_sync) {
            (Some(_), _) => PeerState::Failing,
            (None, Some(_)) => PeerState::Ok,
            (None, None) => PeerState::NeverSynced,
        }
    }
}

impl From<PeerRow> for Peer {
    fn from(r: PeerRow) -> Self {
        let ts = |ms: Option<i64>| ms.and_then(|ms| Timestamp::from_millisecond(ms).ok());
        Self {
            peer_id: r.peer_id,
            url: r.url,
            source: r.source,
            role: r.role,
            last_seen: ts(r.last_seen),
            last_sync: ts(r.last_sync),
            last_error: r.last_error,
        }
    }
}

/// What one sync with one peer moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// The peer.
    pub peer_id: String,
    /// Documents for which something was sent.
    pub docs_sent: usize,
    /// Documents the peer's changes changed here.
    pub docs_received: usize,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Requests made to the peer: the hello and each sync frame after it (1 when the hello
    /// showed nothing differs, or when the changes went with the hello and its answer ended
    /// the round).
    pub frames_sent: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

impl Node {
    /// Adds a static peer by its peer URL.
    pub async fn add_peer(&self, url: &str) -> NodeResult<Peer> {
        let url: PeerUrl =
            url.parse().map_err(|e: crate::peer::PeerUrlError| NodeError::invalid("url", e.to_string()))?;
        if url.node_id == self.identity.node_id {
            return Err(NodeError::invalid("url", "that is this node's own peer URL"));
        }
        let (id, u) = (url.node_id.to_string(), url.to_string());
        self.store.write(move |tx| storage::put_peer(tx, &id, &u, "static")).await?;
        self.clocks.invalidate();
        let id = url.node_id.to_string();
        self.store
            .read(move |c| storage::get_peer(c, &id))
            .await?
            .map(Peer::from)
            .ok_or_else(|| NodeError::NotFound("peer vanished".into()))
    }

    /// Records a peer found on the local network (mDNS); a new one wakes the background sync.
    /// Answers whether it was new.
    pub async fn discovered_peer(&self, url: &PeerUrl) -> NodeResult<bool> {
        if url.node_id == self.identity.node_id {
            return Ok(false);
        }
        let (id, u) = (url.node_id.to_string(), url.to_string());
        let new = self.store.write(move |tx| storage::put_discovered_peer(tx, &id, &u)).await?;
        self.clocks.invalidate();
        if new {
            self.peers_changed.notify_one();
        }
        Ok(new)
    }

    /// Forgets a peer and its sync states.
    pub async fn remove_peer(&self, peer_id: &str) -> NodeResult<()> {
        let id = peer_id.to_owned();
        if !self.store.write(move |tx| storage::delete_peer(tx, &id)).await? {
            return Err(NodeError::NotFound(format!("no peer {peer_id:?}")));
        }
        self.clocks.invalidate();
        Ok(())
    }

    /// The known peers.
    pub async fn peers(&self) -> NodeResult<Vec<Peer>> {
        Ok(self.store.read(storage::list_peers).await?.into_iter().map(Peer::from).collect())
    }

    /// Runs one sync round with `peer_id` and records how it went.
    pub async fn sync_peer(&self, peer_id: &str) -> NodeResult<SyncReport> {
        let id = peer_id.to_owned();
        let row = self
            .store
            .read(move |c| storage::get_peer(c, &id))
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no peer {peer_id:?}")))?;
        let started = Instant::now();
        let mut report = SyncReport { peer_id: row.peer_id.clone(), ..SyncReport::default() };
        let mut attempt = 0;
        let outcome = loop {
            // One round at a time with a peer: a round asked for (POST /v1/sync) waits for
            // the background one, and for a round the peer opened toward this node, instead
            // of opening a second session beside it.
            let turn = self.take_turn(&row.peer_id).await;
            let outcome = self.sync_url(&row.url).await;
            drop(turn);
            // Both nodes opened toward each other at once, and each answered the other Busy:
            // step back a random moment so one of the two goes first.
            attempt += 1;
            if !matches!(outcome, Err(SyncError::Busy)) || attempt >= BUSY_ATTEMPTS {
                break outcome;
            }
            let pause = 50 + u64::from(super::identity::random32().map_or(0, |b| b[0])) * 2;
            debug!(peer = %row.peer_id, attempt, pause_ms = pause, "the peer was in a round toward this node");
            tokio::time::sleep(Duration::from_millis(pause)).await;
        };
        report.millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (role, seen) = match &outcome {
            Ok((stats, role, requests)) => {
                report.docs_sent = stats.docs_sent.len();
                report.docs_received = stats.docs_changed.len();
                report.bytes_sent = stats.bytes_sent;
                report.bytes_received = stats.bytes_received;
                report.frames_sent = *requests;
                (Some(role.clone()), true)
            }
            Err(e) => {
                report.error = Some(e.to_string());
                (None, !matches!(e, SyncError::Transport(_)))
            }
        };
        let acknowledged = role.as_deref() == Some("central");
        self.record_peer_sync(&row.peer_id, role.as_deref(), report.error.as_deref(), seen).await?;
        // The central node may have acknowledged what retention waits for.
        if acknowledged {
            self.retention.wake.notify_one();
        }
        Ok(report)
    }

    /// Records how a sync with `peer_id` went (either side's): its role when known, its error
    /// if any, and whether it was seen.
    pub async fn record_peer_sync(
        &self,
        peer_id: &str,
        role: Option<&str>,
        error: Option<&str>,
        seen: bool,
    ) -> NodeResult<()> {
        let (id, role, error) = (peer_id.to_owned(), role.map(str::to_owned), error.map(str::to_owned));
        self.store.write(move |tx| storage::record_sync(tx, &id, role.as_deref(), error.as_deref(), seen)).await?;
        self.clocks.invalidate();
        Ok(())
    }

    /// Syncs with the node at `url`; answers what moved, the peer's role, and how many
    /// requests the round took.
    async fn sync_url(&self, url: &str) -> Result<(cec_core::sync::Stats, String, u64), SyncError> {
        let url: PeerUrl = url.parse().map_err(|e: crate::peer::PeerUrlError| SyncError::Transport(e.to_string()))?;
        let mine = self.credential().ok_or_else(|| SyncError::Transport("this node is not enrolled".into()))?;
        if let Some(r) = self.own_revocation() {
            return Err(SyncError::Transport(format!(
                "this node's credential was revoked by the organization at {}: it syncs with no one",
                r.revoked_at
            )));
        }
        let config = cec_core::sync::Config { max_frame_bytes: crate::peer::MAX_FRAME_BYTES, ..Default::default() };
        let peer = url.node_id.as_str();
        // A central node whose credential this node checked in an earlier round takes what
        // changed since with the hello itself: a resync after a few check-ins is one request.
        let proven = self.pushable_peer(&url.node_id);
        let mut early = match &proven {
            Some(c) => {
                let scope = PeerScope::of(self, mine.scopes.clone(), c.scopes.clone()).await;
                Some(Driver::initiator(self, peer, c.role, scope, config, Some(PUSH_BUDGET)).await?)
            }
            None => None,
        };
        let mut conn = PeerConnection::connect(self, &url).await?;
        let mut push = None;
        if let Some(driver) = &mut early
            && driver.may_push()
        {
            push = driver.step(self).await?.filter(|_| driver.pushed());
            if push.is_none() {
                // It opened without changes after all (none fitted): open afresh after the hello.
                early = None;
            }
        }
        let hello = conn.hello(push.as_deref()).await?;
        let theirs = hello.credential;
        self.proven_peers.lock().unwrap_or_else(|p| p.into_inner()).insert(theirs.node_id.to_string(), theirs.clone());
        let unchanged = proven.as_ref().is_some_and(|c| c.encoded == theirs.encoded);
        let role = theirs.role.as_str().to_owned();
        let (stats, requests) = match (early, hello.pushed) {
            (Some(mut driver), Some(answer)) if unchanged && driver.pushed() => {
                driver.input(&answer)?;
                let stats = drive(self, driver, &mut conn).await?;
                // The opening went with the hello.
                let requests = stats.frames_sent;
                (stats, requests)
            }
            (Some(driver), None) if unchanged && !driver.pushed() => {
                let stats = open_knowing(self, driver, hello.summary.as_ref(), &mut conn).await?;
                let requests = stats.frames_sent + 1;
                (stats, requests)
            }
            (_, answer) => {
                if push.is_some() && answer.is_none() {
                    debug!(%peer, "the peer did not take the changes with the hello: opening as usual");
                }
                if proven.is_some() && !unchanged {
                    debug!(%peer, "the peer's credential changed since the last round: opening under the new one");
                }
                let scope = PeerScope::of(self, mine.scopes, theirs.scopes).await;
                let stats =
                    run_initiator_knowing(self, peer, theirs.role, scope, config, hello.summary.as_ref(), &mut conn)
                        .await?;
                let requests = stats.frames_sent + 1;
                (stats, requests)
            }
        };
        conn.keep_unsent_clock();
        Ok((stats, role, requests))
    }

    /// The credential `peer` proved in this process's last hello with it, if a round may open
    /// with this node's changes under it: a central node's (which may hold every document),
    /// unexpired and not revoked. The push goes out before the hello answer shows the peer's
    /// current credential; its scope is checked against the one it had.
    fn pushable_peer(&self, peer: &NodeId) -> Option<Credential> {
        let c = self.proven_peers.lock().unwrap_or_else(|p| p.into_inner()).get(peer.as_str()).cloned()?;
        (c.role == Role::Central && c.expires_at > jiff::Timestamp::now() && !self.is_revoked(peer)).then_some(c)
    }

    /// The lock that makes sync rounds with `peer_id` take turns, whichever side opened them
    /// (see [`crate::sync::Responders`]).
    pub fn sync_turn(&self, peer_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = self.sync_turns.lock().unwrap_or_else(|p| p.into_inner());
        turns.entry(peer_id.to_owned()).or_default().clone()
    }

    /// Waits for this node's turn with `peer_id`: after a round of its own in flight, or one
    /// the peer opened (ended early if the peer left it idle past its timeout).
    async fn take_turn(&self, peer_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let turn = self.sync_turn(peer_id);
        loop {
            if let Ok(guard) = turn.clone().try_lock_owned() {
                return guard;
            }
            let now = u64::try_from(super::clock::now_ms()).unwrap_or(0);
            if !self.responders.expire_idle(peer_id, now) {
                tokio::time::sleep(TURN_POLL).await;
            }
        }
    }

    /// Runs a sync round with every known peer, one after another.
    pub async fn sync_all(&self) -> NodeResult<Vec<SyncReport>> {
        let mut out = Vec::new();
        for p in self.peers().await? {
            out.push(self.sync_peer(&p.peer_id).await?);
        }
        Ok(out)
    }

    /// This node's id, typed.
    pub fn node_id(&self) -> NodeId {
        self.identity.node_id.clone()
    }
}

#[cfg(test)]
mod tests {
    use cec_core::ident::{Role, Scope, Scopes};
    use jiff::{SignedDuration, Timestamp};

    use super::super::Identity;
    use super::super::credential::{Credential, Enrolment};
    use crate::config::Config;
    use crate::node::Node;

    /// A round opens with this node's changes only toward a central node whose credential it
    /// checked before, unexpired and not revoked: never toward a kiosk, staff or member node,
    /// whose scope may have narrowed since.
    #[tokio::test]
    async fn only_a_proven_central_node_is_pushed_to() {
        let now = Timestamp::now();
        let dir = tempfile::tempdir().unwrap();
        let id = Identity::load_or_create(dir.path()).unwrap();
        Enrolment::init_central(dir.path(), "ACA", id.signing_key(), now).unwrap();
        let node = Node::open(dir.path(), Config::default()).await.unwrap();
        let org = Enrolment::load(dir.path()).unwrap().org_signing.unwrap();
        let all = Scopes::new([Scope::All]);
        let proven = |seed: u8, role: Role, expires: Timestamp| {
            let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
            let c = Credential::issue(&org, "ACA", &key, role, &all, now, expires);
            node.proven_peers.lock().unwrap().insert(c.node_id.to_string(), c.clone());
            c.node_id
        };
        let later = now + SignedDuration::from_hours(24);

        let central = proven(1, Role::Central, later);
        assert!(node.pushable_peer(&central).is_some());
        for role in [Role::Kiosk, Role::Staff, Role::Member] {
            let other = proven(2, role, later);
            assert!(node.pushable_peer(&other).is_none(), "{role}");
        }
        let expired = proven(3, Role::Central, now - SignedDuration::from_secs(1));
        assert!(node.pushable_peer(&expired).is_none(), "expired");
        node.revoke(&central).await.unwrap();
        assert!(node.pushable_peer(&central).is_none(), "revoked");
        let unknown = cec_core::ident::NodeId::from_public_key(&[4; 32]);
        assert!(node.pushable_peer(&unknown).is_none(), "never proven in this process");
    }
}
