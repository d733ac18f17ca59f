//! The node's wall clock, other nodes' clock offsets, and the `clock_skew` flag of check-ins.
//!
//! Each sync measures the peer's clock (`cec_core::sync::clock`): the initiator from the
//! hello's four instants (its request's send and the answer's arrival on its own clock, the
//! peer's receive and answer on the peer's); the answering side from the same exchange, once
//! the initiator tells it its two instants (the `cecsync-clock` header of its next request).
//! Measurements are stored as runs per node id (`storage::clocks`).
//!
//! A check-in's `clock_skew` is derived when it is read, never written: the recording node's
//! (`kiosk_id`) run measured closest to the check-in's `recorded_at`, when that run's offset is
//! beyond `clock_skew_bound_secs` by more than its own error. Offsets are known only for nodes
//! this node measured itself; for its own check-ins, a node that is not the central node uses
//! its measurements of the central node (its own clock against the organization's reference).
//! The flag never changes credit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use cec_core::CheckIn;
use cec_core::sync::clock::{ClockRun, ClockSample, run_at, run_near};
use jiff::Timestamp;
use tracing::{debug, warn};

use super::Node;
use super::error::NodeResult;
use crate::storage;

/// The header in which an initiator tells the answering side the two instants of the hello
/// it measured on its own clock: `<t0_ms> <t3_ms>` (request sent, answer received).
pub const CLOCK_HEADER: &str = "cecsync-clock";

/// Shift of this process's wall clock, for tests only (see [`set_test_offset_secs`]).
static TEST_OFFSET_MS: OnceLock<i64> = OnceLock::new();

/// Shifts this process's wall clock by `secs` (`cecd --clock-offset-secs`, env
/// `CECD_CLOCK_OFFSET_SECS`): a hidden option for tests that need a node with a wrong clock
/// without changing the machine's. It shifts the instants the node stamps check-ins and voids
/// with and shows peers in the clock exchange. Set once, at start.
pub fn set_test_offset_secs(secs: i64) {
    if secs != 0 {
        warn!(secs, "this node's clock is shifted for testing (--clock-offset-secs)");
    }
    let _ = TEST_OFFSET_MS.set(secs.saturating_mul(1000));
}

/// The node's wall clock, in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    real.saturating_add(TEST_OFFSET_MS.get().copied().unwrap_or(0))
}

/// The node's wall clock.
pub fn now() -> Timestamp {
    match TEST_OFFSET_MS.get().copied().unwrap_or(0) {
        0 => Timestamp::now(),
        _ => Timestamp::from_millisecond(now_ms()).unwrap_or_else(|_| Timestamp::now()),
    }
}

/// How long an answered hello waits for the initiator's instants.
const PENDING_FOR: Duration = Duration::from_secs(300);
/// Answered hellos remembered at most (one per peer; more are dropped oldest first).
const MAX_PENDING: usize = 4096;

/// Hellos this node answered: per peer node id, the instants it received the hello and
/// answered it (its own clock), until the peer's next request brings its two.
#[derive(Debug, Default)]
pub struct Clocks {
    answered: Mutex<HashMap<String, (i64, i64, Instant)>>,
    /// This node's instants (`<t0> <t3>`) of a hello it sent, per peer, when the round ended
    /// on the hello answer (nothing to sync): they go with the next round's hello.
    to_tell: Mutex<HashMap<String, (String, Instant)>>,
    /// Bumped after every stored clock measurement and every change to the peers: what
    /// [`SkewCache`] holds is valid while this has not moved.
    generation: AtomicU64,
    cache: Mutex<SkewCache>,
}

/// How many nodes' clock runs [`SkewCache`] keeps; more empties it.
const CACHED_NODES: usize = 1024;

/// What `clock_skews` read from storage, as of `generation`: every `POST /v1/checkins` answer
/// needs it, and it changes only when a clock is measured or a peer changes.
#[derive(Debug, Default)]
struct SkewCache {
    generation: u64,
    /// The central node, once read.
    central: Option<Option<String>>,
    /// Per node id, its clock runs (empty: never measured).
    runs: HashMap<String, Arc<Vec<ClockRun>>>,
}

impl Clocks {
    /// Forgets what [`SkewCache`] holds: a clock measurement was stored or a peer changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The current generation, read before reading storage: what was read is kept only if no
    /// change came in between.
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The cache as of `generation`; `None` when the caller's read is older than the cache.
    fn cache(&self, generation: u64) -> Option<std::sync::MutexGuard<'_, SkewCache>> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.generation();
        if cache.generation != current {
            *cache = SkewCache { generation: current, ..SkewCache::default() };
        }
        (generation == current).then_some(cache)
    }

    /// Remembers that a hello from `peer` arrived at `t1` and was answered at `t2`.
    pub fn answered(&self, peer: &str, t1: i64, t2: i64) {
        let mut m = self.answered.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_PENDING && !m.contains_key(peer) {
            m.retain(|_, (_, _, at)| at.elapsed() < PENDING_FOR);
            if m.len() >= MAX_PENDING
                && let Some(oldest) = m.iter().min_by_key(|(_, (_, _, at))| *at).map(|(k, _)| k.clone())
            {
                m.remove(&oldest);
            }
        }
        m.insert(peer.to_owned(), (t1, t2, Instant::now()));
    }

    /// Keeps this node's instants of a hello to `peer` (`<t0> <t3>`) for the next round's
    /// hello, when the round ended on the hello answer.
    pub fn keep_to_tell(&self, peer: &str, instants: String) {
        let mut m = self.to_tell.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= MAX_PENDING && !m.contains_key(peer) {
            m.retain(|_, (_, at)| at.elapsed() < PENDING_FOR);
            if m.len() >= MAX_PENDING {
                m.clear();
            }
        }
        m.insert(peer.to_owned(), (instants, Instant::now()));
    }

    /// This node's instants kept for `peer` ([`Clocks::keep_to_tell`]), if recent enough for
    /// the peer to still wait for them.
    pub fn take_to_tell(&self, peer: &str) -> Option<String> {
        let (instants, at) = self.to_tell.lock().unwrap_or_else(|p| p.into_inner()).remove(peer)?;
        (at.elapsed() < PENDING_FOR).then_some(instants)
    }

    /// The measurement of `peer`'s clock that its instants `header` (`<t0> <t3>`) complete, if
    /// a recent hello of `peer` is waiting for them and they make sense.
    pub fn complete(&self, peer: &str, header: &str) -> Option<ClockSample> {
        let mut parts = header.split_ascii_whitespace().map(str::parse::<i64>);
        let (Some(Ok(t0)), Some(Ok(t3)), None) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let (t1, t2, at) = self.answered.lock().unwrap_or_else(|p| p.into_inner()).remove(peer)?;
        if at.elapsed() > PENDING_FOR {
            return None;
        }
        // Measured by the peer, seen from here: the peer's clock relative to this one.
        ClockSample::measure(t0, t1, t2, t3).map(ClockSample::inverse)
    }
}

/// A check-in's recording node's clock, off by more than the bound when it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skew {
    /// The recording node's clock minus the reference clock (this node's; for this node's own
    /// check-ins, the central node's), in milliseconds.
    pub offset_ms: i64,
    /// The measurement's round trip: the offset is exact within half of it.
    pub round_trip_ms: i64,
    /// When that offset was last measured (this node's clock).
    pub measured_at: Timestamp,
}

impl Skew {
    fn of(run: &ClockRun) -> Self {
        Self {
            offset_ms: run.offset_ms,
            round_trip_ms: run.round_trip_ms,
            measured_at: Timestamp::from_millisecond(run.last_at_ms).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }
}

impl Node {
    /// The bound beyond which a recording node's clock marks its check-ins, in milliseconds.
    pub fn clock_skew_bound_ms(&self) -> i64 {
        i64::try_from(self.config.clock_skew_bound_secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000)
    }

    /// Stores a measurement of `node_id`'s clock taken now.
    pub async fn record_clock(&self, node_id: &str, sample: ClockSample) -> NodeResult<()> {
        let (id, at) = (node_id.to_owned(), now_ms());
        let run = self.store.write(move |tx| storage::record_clock_sample(tx, &id, at, sample)).await?;
        self.clocks.invalidate();
        let bound = self.clock_skew_bound_ms();
        if run.exceeds(bound) {
            warn!(peer = %node_id, offset_ms = sample.offset_ms, round_trip_ms = sample.round_trip_ms,
                "peer's clock is off by more than clock_skew_bound_secs: its check-ins are flagged clock_skew");
        } else {
            debug!(peer = %node_id, offset_ms = sample.offset_ms, round_trip_ms = sample.round_trip_ms, "peer clock");
        }
        Ok(())
    }

    /// Every node whose clock this node measured, with its latest run.
    pub async fn known_clocks(&self) -> NodeResult<Vec<(String, ClockRun)>> {
        Ok(self.store.read(storage::latest_clock_runs).await?)
    }

    /// The `clock_skew` of each of `checkins` whose recording node's clock was off by more
    /// than the bound, by check-in id. Check-ins of nodes never measured are absent (nothing
    /// is known of their clocks).
    pub async fn clock_skews<'a>(
        &self,
        checkins: impl IntoIterator<Item = &'a CheckIn>,
    ) -> NodeResult<HashMap<String, Skew>> {
        let checkins: Vec<&CheckIn> = checkins.into_iter().collect();
        let own = self.identity.node_id.as_str();
        let mut nodes: HashSet<String> = checkins.iter().map(|c| c.kiosk_id.clone()).collect();
        if checkins.is_empty() {
            return Ok(HashMap::new());
        }
        let generation = self.clocks.generation();
        // This node's own check-ins: its clock against the central node's, when it is not the
        // central node and has measured it.
        let central =
            if nodes.remove(own) && self.role() != "central" { self.cached_central(generation).await? } else { None };
        let mut ids: Vec<String> = nodes.into_iter().collect();
        ids.extend(central.iter().cloned());
        let runs = self.cached_runs(generation, ids).await?;
        if runs.values().all(|r| r.is_empty()) {
            return Ok(HashMap::new());
        }
        let central_runs = central.as_ref().and_then(|c| runs.get(c)).map(|r| r.as_slice());
        let bound = self.clock_skew_bound_ms();
        let mut out = HashMap::new();
        for c in checkins {
            let recorded = c.recorded_at.as_millisecond();
            let run = if c.kiosk_id == own {
                central_runs.and_then(|r| run_near(r, recorded)).map(|r| r.inverse())
            } else {
                runs.get(&c.kiosk_id).and_then(|r| run_at(r, recorded)).copied()
            };
            if let Some(run) = run.filter(|r| r.exceeds(bound)) {
                out.insert(c.id.clone(), Skew::of(&run));
            }
        }
        Ok(out)
    }

    /// The central node this node syncs with, from the cache when nothing changed since.
    async fn cached_central(&self, generation: u64) -> NodeResult<Option<String>> {
        if let Some(central) = self.clocks.cache(generation).and_then(|c| c.central.clone()) {
            return Ok(central);
        }
        let central = self.central_peer().await?;
        if let Some(mut cache) = self.clocks.cache(generation) {
            cache.central = Some(central.clone());
        }
        Ok(central)
    }

    /// The clock runs of `ids` (empty for a node never measured), read from storage only for
    /// those the cache does not hold.
    async fn cached_runs(&self, generation: u64, ids: Vec<String>) -> NodeResult<HashMap<String, Arc<Vec<ClockRun>>>> {
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        match self.clocks.cache(generation) {
            Some(cache) => {
                for id in ids {
                    match cache.runs.get(&id) {
                        Some(runs) => {
                            out.insert(id, runs.clone());
                        }
                        None => missing.push(id),
                    }
                }
            }
            None => missing = ids,
        }
        if missing.is_empty() {
            return Ok(out);
        }
        let wanted = missing.clone();
        let mut read = self.store.read(move |c| storage::clock_runs(c, &wanted)).await?;
        let mut cache = self.clocks.cache(generation);
        for id in missing {
            let runs = Arc::new(read.remove(&id).unwrap_or_default());
            if let Some(cache) = cache.as_mut() {
                if cache.runs.len() >= CACHED_NODES {
                    cache.runs.clear();
                }
                cache.runs.insert(id.clone(), runs.clone());
            }
            out.insert(id, runs);
        }
        Ok(out)
    }

    /// Per `(event_id, session_id)`, whether any of `member_id`'s check-ins there (voided ones
    /// left out) is flagged `clock_skew`.
    pub async fn skewed_sessions(
        &self,
        member_id: &str,
        event_id: Option<&str>,
    ) -> NodeResult<HashSet<(String, String)>> {
        let grouped = self.member_checkins(member_id, event_id).await?;
        let all: Vec<&CheckIn> = grouped.iter().flat_map(|(_, cs)| cs.iter()).collect();
        let skews = self.clock_skews(all.iter().copied()).await?;
        Ok(all
            .into_iter()
            .filter(|c| skews.contains_key(&c.id))
            .map(|c| (c.event_id.clone(), c.session_id.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hello_answered_completes_once_with_the_peers_instants() {
        let clocks = Clocks::default();
        // The peer is 10 s behind: it sent at 1_000 and received the answer at 1_060 (its
        // clock); this node received at 11_020 and answered at 11_030.
        clocks.answered("nP", 11_020, 11_030);
        assert_eq!(clocks.complete("nP", "1000 1060"), Some(ClockSample { offset_ms: -9_995, round_trip_ms: 50 }));
        // Spent.
        assert_eq!(clocks.complete("nP", "1000 1060"), None);
        clocks.answered("nP", 11_020, 11_030);
        for bad in ["", "1000", "1000 x", "1000 1060 7", "1060 1000"] {
            assert_eq!(clocks.complete("nP", bad), None, "{bad:?}");
            clocks.answered("nP", 11_020, 11_030);
        }
        assert_eq!(clocks.complete("nOther", "1000 1060"), None);
    }

    /// A check-in recorded at `recorded_at` by node `kiosk`.
    fn checkin(id: &str, kiosk: &str, recorded_at: Timestamp) -> CheckIn {
        CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: "s1".into(),
            member_id: "M1".into(),
            direction: cec_core::Direction::In,
            at: recorded_at,
            method: cec_core::Method::Manual,
            kiosk_id: kiosk.into(),
            recorded_at,
        }
    }

    #[tokio::test]
    async fn skews_follow_new_measurements_and_peers_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(dir.path(), crate::config::Config::default()).await.unwrap();
        let now = Timestamp::from_millisecond(now_ms()).unwrap();
        let theirs = checkin("c1", "nKiosk", now);
        let own = checkin("c2", node.identity.node_id.as_str(), now);
        // Nothing measured yet: read (and cached) as no flag.
        assert!(node.clock_skews([&theirs, &own]).await.unwrap().is_empty());
        // The kiosk's clock, measured an hour off: its check-in is flagged on the next read.
        node.record_clock("nKiosk", ClockSample { offset_ms: 3_600_000, round_trip_ms: 4 }).await.unwrap();
        let skews = node.clock_skews([&theirs, &own]).await.unwrap();
        assert_eq!(skews.get("c1").map(|s| s.offset_ms), Some(3_600_000));
        assert!(!skews.contains_key("c2"));
        // A central node learnt after its clock was measured: this node's own check-ins are
        // judged against it from then on.
        let central = "n0123456789abcdef01234567";
        node.record_clock(central, ClockSample { offset_ms: -7_200_000, round_trip_ms: 4 }).await.unwrap();
        assert!(!node.clock_skews([&own]).await.unwrap().contains_key("c2"));
        node.add_peer(&format!("https://127.0.0.1:9/{central}")).await.unwrap();
        assert!(!node.clock_skews([&own]).await.unwrap().contains_key("c2"), "a static peer is not the central node");
        node.record_peer_sync(central, Some("central"), None, true).await.unwrap();
        let skews = node.clock_skews([&own]).await.unwrap();
        assert_eq!(skews.get("c2").map(|s| s.offset_ms), Some(7_200_000));
    }

    #[test]
    fn instants_kept_for_the_next_hello_are_told_once() {
        let clocks = Clocks::default();
        assert_eq!(clocks.take_to_tell("p1"), None);
        clocks.keep_to_tell("p1", "10 20".into());
        clocks.keep_to_tell("p1", "30 40".into());
        assert_eq!(clocks.take_to_tell("p2"), None, "kept per peer");
        assert_eq!(clocks.take_to_tell("p1").as_deref(), Some("30 40"), "the latest hello's");
        assert_eq!(clocks.take_to_tell("p1"), None, "told once");
        for i in 0..=MAX_PENDING {
            clocks.keep_to_tell(&format!("n{i}"), "1 2".into());
        }
        assert!(clocks.to_tell.lock().expect("lock").len() <= MAX_PENDING, "bounded");
    }

    #[test]
    fn pending_hellos_are_bounded() {
        let clocks = Clocks::default();
        for i in 0..MAX_PENDING + 10 {
            clocks.answered(&format!("n{i}"), 0, 0);
        }
        assert_eq!(clocks.answered.lock().unwrap().len(), MAX_PENDING);
    }
}
