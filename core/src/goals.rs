//! Development-plan goals and their benchmarks.
//!
//! Decided here: a goal counts credit dated on or before its due date (and on or after its
//! start, when it has one), in its category when it names one. It is on track when it is met,
//! or when it is not yet due, every benchmark already due was met, and the credit earned keeps
//! pace with a straight line from the start to the due date (rounded down to a quarter CEC).

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::portfolio::CreditRecord;

/// A checkpoint along the way to a goal.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Benchmark {
    /// Title.
    pub title: String,
    /// CECs expected by `due`.
    pub target_cecs: Decimal,
    /// When.
    pub due: Date,
}

/// A goal of the member's development plan ("12 CECs by June, 3 in risk management").
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Goal {
    /// Goal id.
    pub id: String,
    /// Title.
    pub title: String,
    /// CECs wanted.
    pub target_cecs: Decimal,
    /// Only credit in this category counts, when set.
    pub category: Option<String>,
    /// Credit from this date on counts, when set; pace is measured from here.
    pub start: Option<Date>,
    /// Due date.
    pub due: Date,
    /// Checkpoints.
    pub benchmarks: Vec<Benchmark>,
}

/// Why a goal is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct GoalError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

impl Goal {
    /// Checks targets and dates.
    pub fn validate(&self) -> Result<(), GoalError> {
        if self.target_cecs <= Decimal::ZERO {
            return Err(GoalError { field: "target_cecs", message: "must be positive" });
        }
        if self.start.is_some_and(|s| s > self.due) {
            return Err(GoalError { field: "start", message: "must not be after due" });
        }
        for b in &self.benchmarks {
            if b.target_cecs < Decimal::ZERO || b.target_cecs > self.target_cecs {
                return Err(GoalError {
                    field: "benchmarks",
                    message: "a benchmark's target must be between 0 and the goal's target",
                });
            }
            if b.due > self.due {
                return Err(GoalError {
                    field: "benchmarks",
                    message: "a benchmark must be due by the goal's due date",
                });
            }
        }
        Ok(())
    }

    fn counts(&self, r: &CreditRecord, until: Date) -> bool {
        r.date <= until
            && self.start.is_none_or(|s| r.date >= s)
            && self.category.as_deref().is_none_or(|c| crate::event::same_category(&r.category, c))
    }

    fn earned_by(&self, records: &[CreditRecord], until: Date) -> Decimal {
        records.iter().filter(|r| self.counts(r, until)).map(|r| r.cecs).sum()
    }
}

/// Where a benchmark stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchmarkStatus {
    /// Reached.
    Met,
    /// Due and not reached.
    Missed,
    /// Not yet due and not yet reached.
    Upcoming,
}

impl BenchmarkStatus {
    /// `met`, `missed` or `upcoming`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::Upcoming => "upcoming",
        }
    }
}

/// Progress of one benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchmarkProgress {
    /// The benchmark.
    pub benchmark: Benchmark,
    /// Credit counted by its due date (or today, if earlier).
    pub earned_cecs: Decimal,
    /// Where it stands.
    pub status: BenchmarkStatus,
}

/// Progress of a goal on a given day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoalProgress {
    /// Credit that counts toward the goal.
    pub earned_cecs: Decimal,
    /// What is still needed (never negative).
    pub remaining_cecs: Decimal,
    /// Whether the target is reached.
    pub met: bool,
    /// What a steady pace would have earned by today (zero without a start date).
    pub expected_cecs: Decimal,
    /// Whether the member is on track.
    pub on_track: bool,
    /// Each benchmark.
    pub benchmarks: Vec<BenchmarkProgress>,
}

/// The progress of `goal` on `today`, counting `records`.
pub fn progress(goal: &Goal, records: &[CreditRecord], today: Date) -> GoalProgress {
    let earned = goal.earned_by(records, goal.due);
    let met = earned >= goal.target_cecs;
    let benchmarks: Vec<BenchmarkProgress> = goal
        .benchmarks
        .iter()
        .map(|b| {
            let earned_cecs = goal.earned_by(records, b.due);
            let status = if earned_cecs >= b.target_cecs {
                BenchmarkStatus::Met
            } else if today > b.due {
                BenchmarkStatus::Missed
            } else {
                BenchmarkStatus::Upcoming
            };
            BenchmarkProgress { benchmark: b.clone(), earned_cecs, status }
        })
        .collect();
    let expected = expected_by(goal, today);
    let on_track = met
        || (today <= goal.due && benchmarks.iter().all(|b| b.status != BenchmarkStatus::Missed) && earned >= expected);
    GoalProgress {
        earned_cecs: earned,
        remaining_cecs: (goal.target_cecs - earned).max(Decimal::ZERO),
        met,
        expected_cecs: expected,
        on_track,
        benchmarks,
    }
}

/// A straight line from the start (0) to the due date (the target), rounded down to 0.25.
fn expected_by(goal: &Goal, today: Date) -> Decimal {
    let Some(start) = goal.start else { return Decimal::ZERO };
    if today <= start {
        return Decimal::ZERO;
    }
    if today >= goal.due {
        return goal.target_cecs;
    }
    let total = (goal.due - start).get_days();
    let elapsed = (today - start).get_days();
    if total <= 0 {
        return goal.target_cecs;
    }
    let exact = goal.target_cecs * Decimal::from(elapsed) / Decimal::from(total);
    let quarter = Decimal::new(25, 2);
    ((exact / quarter).floor() * quarter).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::Source;
    use jiff::civil::date;
    use rust_decimal_macros::dec;

    fn rec(id: &str, d: Date, cecs: Decimal, category: &str) -> CreditRecord {
        CreditRecord {
            id: id.into(),
            source: Source::Verified,
            date: d,
            title: id.into(),
            provider: None,
            endorsement_number: None,
            category: category.into(),
            contact_minutes: None,
            cecs,
            verification_code: None,
        }
    }

    fn goal() -> Goal {
        Goal {
            id: "G".into(),
            title: "12 by June".into(),
            target_cecs: dec!(12),
            category: None,
            start: Some(date(2027, 1, 1)),
            due: date(2027, 6, 30),
            benchmarks: vec![Benchmark { title: "half by March".into(), target_cecs: dec!(6), due: date(2027, 3, 31) }],
        }
    }

    #[test]
    fn earned_counts_until_due_and_in_category() {
        let recs = [
            rec("a", date(2027, 2, 1), dec!(4), "general"),
            rec("b", date(2027, 3, 1), dec!(3), "risk"),
            rec("late", date(2027, 7, 1), dec!(5), "general"),
            rec("early", date(2026, 12, 1), dec!(5), "general"),
        ];
        let p = progress(&goal(), &recs, date(2027, 4, 1));
        assert_eq!(p.earned_cecs, dec!(7));
        assert_eq!(p.remaining_cecs, dec!(5));
        assert!(!p.met);
        assert_eq!(p.benchmarks[0].status, BenchmarkStatus::Met);
        let risk = Goal { category: Some("risk".into()), target_cecs: dec!(3), benchmarks: vec![], ..goal() };
        let p = progress(&risk, &recs, date(2027, 4, 1));
        assert_eq!(p.earned_cecs, dec!(3));
        assert!(p.met && p.on_track);
        assert_eq!(p.remaining_cecs, dec!(0));
    }

    #[test]
    fn a_category_typed_with_capitals_is_the_same_category() {
        let recs = [rec("a", date(2027, 2, 1), dec!(2), "Risk"), rec("b", date(2027, 3, 1), dec!(1), "risk")];
        let risk = Goal { category: Some("RISK".into()), target_cecs: dec!(3), benchmarks: vec![], ..goal() };
        assert_eq!(progress(&risk, &recs, date(2027, 4, 1)).earned_cecs, dec!(3));
    }

    #[test]
    fn a_missed_benchmark_puts_the_goal_off_track() {
        let recs = [rec("a", date(2027, 2, 1), dec!(5), "general"), rec("b", date(2027, 4, 2), dec!(3), "general")];
        let p = progress(&goal(), &recs, date(2027, 4, 15));
        assert_eq!(p.benchmarks[0].status, BenchmarkStatus::Missed);
        assert_eq!(p.benchmarks[0].earned_cecs, dec!(5));
        assert!(!p.on_track);
        let before = progress(&goal(), &recs, date(2027, 3, 1));
        assert_eq!(before.benchmarks[0].status, BenchmarkStatus::Upcoming);
    }

    #[test]
    fn pace_is_a_straight_line_from_start_to_due() {
        let g = Goal { benchmarks: vec![], ..goal() };
        // 180 days; on day 90 a steady pace has 6 CECs.
        let day90 = date(2027, 4, 1);
        assert_eq!(expected_by(&g, day90), dec!(6));
        assert!(progress(&g, &[rec("a", date(2027, 2, 1), dec!(6), "general")], day90).on_track);
        assert!(!progress(&g, &[rec("a", date(2027, 2, 1), dec!(5.75), "general")], day90).on_track);
        assert_eq!(expected_by(&g, date(2026, 1, 1)), dec!(0));
    }

    #[test]
    fn an_overdue_unmet_goal_is_off_track() {
        let g = Goal { start: None, benchmarks: vec![], ..goal() };
        let recs = [rec("a", date(2027, 2, 1), dec!(11.75), "general")];
        assert!(progress(&g, &recs, date(2027, 6, 30)).on_track);
        assert!(!progress(&g, &recs, date(2027, 7, 1)).on_track);
    }

    #[test]
    fn validation() {
        assert!(goal().validate().is_ok());
        assert_eq!(Goal { target_cecs: dec!(0), ..goal() }.validate().expect_err("zero").field, "target_cecs");
        assert_eq!(Goal { start: Some(date(2028, 1, 1)), ..goal() }.validate().expect_err("start").field, "start");
        let mut g = goal();
        g.benchmarks[0].due = date(2028, 1, 1);
        assert_eq!(g.validate().expect_err("bench").field, "benchmarks");
    }
}
