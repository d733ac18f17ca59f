//! Peers' clock offsets: measured at each sync, kept as runs, and judged against a bound.
//!
//! Kiosk clocks drift and some are set by hand, and a check-in carries the recording node's
//! own clock (`recorded_at`, and `at` when the door gave no time). Each sync therefore measures
//! how far the peer's wall clock is from this node's, NTP-style, from the four instants of one
//! request and its answer:
//!
//! ```text
//!  local  t0 ──request──▶ t1  peer
//!  local  t3 ◀──answer─── t2  peer
//!  offset     = ((t1 − t0) + (t2 − t3)) / 2     (peer clock − local clock)
//!  round trip = (t3 − t0) − (t2 − t1)           (the error bound: the truth is within ± round trip / 2)
//! ```
//!
//! Measurements of one peer that agree (within [`RUN_TOLERANCE_MS`] or their own error) extend
//! one [`ClockRun`]; a jump (the clock was set, or drifted further) starts a new one. Which
//! offset applies to a check-in is the run measured closest in time to its recording
//! ([`run_at`]); a run counts as skewed only when its offset exceeds the bound by more than its
//! own error ([`ClockRun::exceeds`]). Nothing here reads a clock: every instant is passed in,
//! in milliseconds since the Unix epoch on the clock named.

/// Measurements closer than this (or than their own error) to a run's offset extend the run.
pub const RUN_TOLERANCE_MS: i64 = 1_000;

/// One measurement of a peer's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockSample {
    /// The peer's clock minus this node's, in milliseconds.
    pub offset_ms: i64,
    /// The exchange's round trip without the peer's own time, in milliseconds: the offset is
    /// exact to within half of it.
    pub round_trip_ms: i64,
}

impl ClockSample {
    /// The sample of one exchange this node initiated: `t0` it sent (local clock), `t1` the peer
    /// received and `t2` answered (peer clock), `t3` the answer arrived (local clock). `None`
    /// when the instants are impossible (a negative round trip: a clock stepped during the
    /// exchange, or the peer's instants are made up).
    pub fn measure(t0: i64, t1: i64, t2: i64, t3: i64) -> Option<Self> {
        let (t0, t1, t2, t3) = (i128::from(t0), i128::from(t1), i128::from(t2), i128::from(t3));
        let round_trip = (t3 - t0) - (t2 - t1);
        if round_trip < 0 || t2 < t1 || t3 < t0 {
            return None;
        }
        // Rounded toward negative infinity; half a millisecond is far below any bound.
        let offset = ((t1 - t0) + (t2 - t3)).div_euclid(2);
        Some(Self { offset_ms: i64::try_from(offset).ok()?, round_trip_ms: i64::try_from(round_trip).ok()? })
    }

    /// The same measurement seen from the peer: the answering side learns the initiator's
    /// instants `t0` and `t3` afterwards and measures the initiator's clock as the negated
    /// offset, with the same round trip.
    pub fn inverse(self) -> Self {
        Self { offset_ms: self.offset_ms.saturating_neg(), round_trip_ms: self.round_trip_ms }
    }
}

/// Consistent measurements of one peer's clock over a stretch of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockRun {
    /// The first measurement of the run (this node's clock, ms since the epoch).
    pub first_at_ms: i64,
    /// The last measurement of the run (this node's clock).
    pub last_at_ms: i64,
    /// The last measurement's offset (peer − local), in milliseconds.
    pub offset_ms: i64,
    /// The last measurement's round trip, in milliseconds.
    pub round_trip_ms: i64,
}

impl ClockRun {
    /// A run of one measurement taken at `at_ms`.
    pub fn new(at_ms: i64, s: ClockSample) -> Self {
        Self { first_at_ms: at_ms, last_at_ms: at_ms, offset_ms: s.offset_ms, round_trip_ms: s.round_trip_ms }
    }

    /// Whether the offset is surely beyond `bound_ms` either way: by more than the
    /// measurement's own error (half its round trip).
    pub fn exceeds(&self, bound_ms: i64) -> bool {
        self.offset_ms.saturating_abs().saturating_sub(self.round_trip_ms / 2) > bound_ms
    }

    /// The run as seen from the other side (this node's clock relative to the peer's).
    pub fn inverse(self) -> Self {
        Self { offset_ms: self.offset_ms.saturating_neg(), ..self }
    }

    /// How far `local_ms` (this node's clock) lies outside the run's time span; 0 within it.
    fn distance(&self, local_ms: i64) -> i64 {
        if local_ms < self.first_at_ms {
            self.first_at_ms.saturating_sub(local_ms)
        } else {
            local_ms.saturating_sub(self.last_at_ms).max(0)
        }
    }
}

/// What a new measurement does to the peer's latest run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// It agrees with the latest run, which now ends at the measurement and carries its offset.
    Extend(ClockRun),
    /// It starts a new run (the first, or the clock moved).
    Start(ClockRun),
}

/// Folds the measurement `s`, taken at `at_ms` (local clock), into the peer's latest run.
pub fn merge(latest: Option<&ClockRun>, at_ms: i64, s: ClockSample) -> Merge {
    match latest {
        Some(r) if at_ms >= r.last_at_ms && agrees(r, s) => {
            Merge::Extend(ClockRun { last_at_ms: at_ms, offset_ms: s.offset_ms, round_trip_ms: s.round_trip_ms, ..*r })
        }
        _ => Merge::Start(ClockRun::new(at_ms, s)),
    }
}

fn agrees(r: &ClockRun, s: ClockSample) -> bool {
    let tolerance = RUN_TOLERANCE_MS.max(r.round_trip_ms.saturating_add(s.round_trip_ms) / 2);
    r.offset_ms.abs_diff(s.offset_ms) <= tolerance.unsigned_abs()
}

/// The run that applies to an instant `peer_ms` read on the peer's clock (a check-in's
/// `recorded_at`): each run maps it to local time with its own offset, and the run whose span
/// holds it, or else lies closest to it, wins (the later run on a tie). `None` without runs.
pub fn run_at(runs: &[ClockRun], peer_ms: i64) -> Option<&ClockRun> {
    runs.iter().min_by_key(|r| (r.distance(peer_ms.saturating_sub(r.offset_ms)), std::cmp::Reverse(r.last_at_ms)))
}

/// The run measured closest to `local_ms`, an instant on this node's own clock (for this
/// node's own check-ins, against its measurements of the central node); the later on a tie.
pub fn run_near(runs: &[ClockRun], local_ms: i64) -> Option<&ClockRun> {
    runs.iter().min_by_key(|r| (r.distance(local_ms), std::cmp::Reverse(r.last_at_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_delays_give_the_exact_offset() {
        // The peer is 5 s ahead; 40 ms each way; the peer takes 20 ms to answer.
        let s = ClockSample::measure(1_000, 6_040, 6_060, 1_100).unwrap();
        assert_eq!(s, ClockSample { offset_ms: 5_000, round_trip_ms: 80 });
        // Behind works the same way.
        let s = ClockSample::measure(100_000, 40_010, 40_015, 100_025).unwrap();
        assert_eq!(s, ClockSample { offset_ms: -60_000, round_trip_ms: 20 });
        assert_eq!(s.inverse(), ClockSample { offset_ms: 60_000, round_trip_ms: 20 });
    }

    #[test]
    fn asymmetric_delays_err_within_half_the_round_trip() {
        // True offset 3 s; 10 ms out, 90 ms back.
        let (t0, true_offset) = (50_000i64, 3_000i64);
        let t1 = t0 + 10 + true_offset;
        let t2 = t1 + 5;
        let t3 = t2 - true_offset + 90;
        let s = ClockSample::measure(t0, t1, t2, t3).unwrap();
        assert_eq!(s.round_trip_ms, 100);
        assert!((s.offset_ms - true_offset).abs() <= s.round_trip_ms / 2, "{s:?}");
        assert_eq!(s.offset_ms, true_offset - 40);
    }

    #[test]
    fn impossible_instants_are_no_sample() {
        // The answer left before the request arrived.
        assert_eq!(ClockSample::measure(0, 10, 5, 20), None);
        // The local clock went backwards.
        assert_eq!(ClockSample::measure(100, 10, 10, 50), None);
        // The peer claims it took longer than the whole exchange.
        assert_eq!(ClockSample::measure(0, 0, 100, 50), None);
        // Extreme values do not overflow.
        assert_eq!(ClockSample::measure(i64::MIN, i64::MAX, i64::MAX, i64::MIN), None);
        let s = ClockSample::measure(0, i64::MAX, i64::MAX, 0).unwrap();
        assert_eq!(s.offset_ms, i64::MAX);
    }

    #[test]
    fn the_bound_counts_the_error_against_the_offset() {
        let run = |offset_ms, round_trip_ms| ClockRun { first_at_ms: 0, last_at_ms: 0, offset_ms, round_trip_ms };
        assert!(!run(120_000, 0).exceeds(120_000));
        assert!(run(120_001, 0).exceeds(120_000));
        assert!(run(-120_001, 0).exceeds(120_000));
        // Off by 121 s give or take 2 s: not surely beyond 120 s.
        assert!(!run(121_000, 4_000).exceeds(120_000));
        assert!(run(123_000, 4_000).exceeds(120_000));
        assert!(!run(i64::MIN, i64::MAX).exceeds(i64::MAX));
    }

    #[test]
    fn agreeing_measurements_extend_a_run_and_a_jump_starts_one() {
        let s = |offset_ms| ClockSample { offset_ms, round_trip_ms: 10 };
        let Merge::Start(first) = merge(None, 1_000, s(3_600_000)) else { panic!() };
        assert_eq!(first, ClockRun { first_at_ms: 1_000, last_at_ms: 1_000, offset_ms: 3_600_000, round_trip_ms: 10 });
        // 400 ms of drift: the same run.
        let Merge::Extend(r) = merge(Some(&first), 31_000, s(3_600_400)) else { panic!() };
        assert_eq!((r.first_at_ms, r.last_at_ms, r.offset_ms), (1_000, 31_000, 3_600_400));
        // Someone set the clock: a new run.
        let Merge::Start(r2) = merge(Some(&r), 61_000, s(2)) else { panic!() };
        assert_eq!((r2.first_at_ms, r2.offset_ms), (61_000, 2));
        // A slow exchange widens the tolerance to its error.
        let slow = ClockSample { offset_ms: 3_603_000, round_trip_ms: 8_000 };
        assert!(matches!(merge(Some(&r), 91_000, slow), Merge::Extend(_)));
        // A measurement older than the run (a clock stepped back here) never rewrites it.
        assert!(matches!(merge(Some(&r), 500, s(3_600_400)), Merge::Start(_)));
    }

    #[test]
    fn the_run_closest_to_the_recording_applies() {
        let hour = 3_600_000;
        // Off by an hour from 10:00 to 12:00 (local), then set right and measured 13:00–17:00.
        let runs = [
            ClockRun { first_at_ms: 10 * hour, last_at_ms: 12 * hour, offset_ms: hour, round_trip_ms: 5 },
            ClockRun { first_at_ms: 13 * hour, last_at_ms: 17 * hour, offset_ms: 0, round_trip_ms: 5 },
        ];
        // Recorded at 12:00 on the peer's clock (11:00 here): the first run.
        assert_eq!(run_at(&runs, 12 * hour).unwrap().offset_ms, hour);
        // Recorded at 15:00 on the peer's clock, whichever run maps it: the second holds it.
        assert_eq!(run_at(&runs, 15 * hour).unwrap().offset_ms, 0);
        // Before any measurement: the earliest run is closest.
        assert_eq!(run_at(&runs, 2 * hour).unwrap().offset_ms, hour);
        // Long after: the latest.
        assert_eq!(run_at(&runs, 30 * hour).unwrap().offset_ms, 0);
        assert_eq!(run_at(&[], 0), None);
        // Equally close to two runs: the later one.
        let gap = [
            ClockRun { first_at_ms: 0, last_at_ms: 10, offset_ms: 7, round_trip_ms: 0 },
            ClockRun { first_at_ms: 30, last_at_ms: 40, offset_ms: 7, round_trip_ms: 0 },
        ];
        assert_eq!(run_at(&gap, 27).unwrap().first_at_ms, 30);
        // On this node's own clock, no mapping: 11:30 lies between the runs, closer to the first.
        assert_eq!(run_near(&runs, 11 * hour + hour / 2).unwrap().offset_ms, hour);
        assert_eq!(run_near(&runs, 12 * hour + 40 * 60_000).unwrap().offset_ms, 0);
        assert_eq!(ClockRun::new(5, ClockSample { offset_ms: 9, round_trip_ms: 1 }).inverse().offset_ms, -9);
    }
}
