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
use std::sync::{Mutex, OnceLock};
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
}

impl Clocks {
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
        // This node's own check-ins: its clock against the central node's, when it is not the
        // central node and has measured it.
        let central = if nodes.remove(own) && self.role() != "central" { self.central_peer().await? } else { None };
        let mut ids: Vec<String> = nodes.into_iter().collect();
        ids.extend(central.iter().cloned());
        let runs = self.store.read(move |c| storage::clock_runs(c, &ids)).await?;
        if runs.is_empty() {
            return Ok(HashMap::new());
        }
        let central_runs = central.as_ref().and_then(|c| runs.get(c));
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

    #[test]
    fn pending_hellos_are_bounded() {
        let clocks = Clocks::default();
        for i in 0..MAX_PENDING + 10 {
            clocks.answered(&format!("n{i}"), 0, 0);
        }
        assert_eq!(clocks.answered.lock().unwrap().len(), MAX_PENDING);
    }
}
