//! Credit rule sets as data.
//!
//! A [`CreditRule`] says how creditable contact time becomes credit: the unit, how many contact
//! minutes one unit is, the step credit is granted in, the minimum award, the rounding, whether
//! anything short of full attendance earns nothing, and the door grace. The ACA rule of
//! `docs/cec-rules.md` is the default; the same attendance can be credited under another body's
//! rule when a member petitions for credit.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

/// The unit a rule awards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CreditUnit {
    /// Continuing education credit: one contact hour.
    Cec,
    /// IACET continuing education unit: ten contact hours.
    Ceu,
}

impl CreditUnit {
    /// Stable lowercase name (`cec`, `ceu`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cec => "cec",
            Self::Ceu => "ceu",
        }
    }
}

/// How an exact amount of units is brought to a multiple of the rule's increment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rounding {
    /// Down to the increment: only completed steps count (the ACA rule).
    Floor,
    /// To the nearest increment, halves up.
    HalfUp,
}

/// A rule by which creditable contact time becomes credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditRule {
    /// Stable id (`aca`, `full_hours`, `iacet_ceu`, or a custom one).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The unit awarded.
    pub unit: CreditUnit,
    /// Contact minutes in one unit (60 for a CEC, 600 for a CEU).
    pub minutes_per_unit: Decimal,
    /// Credit is a multiple of this many units.
    pub increment: Decimal,
    /// Less credit than this (after rounding) earns nothing.
    pub minimum: Decimal,
    /// How exact credit is brought to the increment.
    pub rounding: Rounding,
    /// When true, a member with less than the session's full creditable time earns nothing.
    pub all_or_nothing: bool,
    /// An `in` this many minutes after the start counts from the start; an `out` this many
    /// minutes before the end counts to the end.
    pub grace_minutes: u32,
}

impl Default for CreditRule {
    fn default() -> Self {
        Self::aca()
    }
}

/// Why a rule is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A rule needs a positive length for its unit.
    #[error("minutes per unit must be positive")]
    MinutesPerUnit,
    /// A rule needs a positive increment.
    #[error("increment must be positive")]
    Increment,
    /// The minimum award cannot be negative.
    #[error("minimum must not be negative")]
    Minimum,
}

impl CreditRule {
    /// The ACA rule: CECs = floor(creditable seconds / 900) × 0.25, minimum 0.25.
    pub fn aca() -> Self {
        Self {
            id: "aca".into(),
            name: "ACA: quarter-hour steps, 15-minute minimum".into(),
            unit: CreditUnit::Cec,
            minutes_per_unit: Decimal::from(60),
            increment: Decimal::new(25, 2),
            minimum: Decimal::new(25, 2),
            rounding: Rounding::Floor,
            all_or_nothing: false,
            grace_minutes: 0,
        }
    }

    /// Only complete 60-minute hours count, as some psychology sponsors require.
    pub fn full_hours() -> Self {
        Self {
            id: "full_hours".into(),
            name: "Full hours only".into(),
            unit: CreditUnit::Cec,
            minutes_per_unit: Decimal::from(60),
            increment: Decimal::ONE,
            minimum: Decimal::ONE,
            rounding: Rounding::Floor,
            all_or_nothing: false,
            grace_minutes: 0,
        }
    }

    /// IACET CEU: contact hours / 10, to one decimal place.
    ///
    /// Decided here: rounding is down, like the ACA rule, so a CEU award never claims more
    /// contact than took place; 0.1 CEU (one contact hour) is the smallest award.
    pub fn iacet_ceu() -> Self {
        Self {
            id: "iacet_ceu".into(),
            name: "IACET CEU: contact hours / 10, one decimal place".into(),
            unit: CreditUnit::Ceu,
            minutes_per_unit: Decimal::from(600),
            increment: Decimal::new(1, 1),
            minimum: Decimal::new(1, 1),
            rounding: Rounding::Floor,
            all_or_nothing: false,
            grace_minutes: 0,
        }
    }

    /// The built-in rules, by id.
    pub fn builtin(id: &str) -> Option<Self> {
        match id {
            "aca" => Some(Self::aca()),
            "full_hours" => Some(Self::full_hours()),
            "iacet_ceu" => Some(Self::iacet_ceu()),
            _ => None,
        }
    }

    /// The ids of the built-in rules.
    pub const BUILTIN: [&'static str; 3] = ["aca", "full_hours", "iacet_ceu"];

    /// This rule under an event's door policy: the event's grace, and all-or-nothing when
    /// either the rule or the event asks for it.
    pub fn with_policy(mut self, policy: &crate::Policy) -> Self {
        self.grace_minutes = policy.grace_minutes;
        self.all_or_nothing |= policy.full_attendance_required;
        self
    }

    /// Checks the rule's numbers.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.minutes_per_unit <= Decimal::ZERO {
            return Err(RuleError::MinutesPerUnit);
        }
        if self.increment <= Decimal::ZERO {
            return Err(RuleError::Increment);
        }
        if self.minimum < Decimal::ZERO {
            return Err(RuleError::Minimum);
        }
        Ok(())
    }

    /// Credit for `creditable_seconds` (exact, may be fractional) of contact, before the
    /// all-or-nothing check. Always a multiple of the increment; zero below the minimum.
    pub fn credit_for_seconds(&self, creditable_seconds: Decimal) -> Decimal {
        if creditable_seconds <= Decimal::ZERO || self.validate().is_err() {
            return Decimal::ZERO;
        }
        let seconds_per_unit = self.minutes_per_unit * Decimal::from(60);
        let steps = creditable_seconds / (seconds_per_unit * self.increment);
        let steps = match self.rounding {
            Rounding::Floor => steps.floor(),
            Rounding::HalfUp => steps.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        };
        let credit = (steps * self.increment).normalize();
        if credit < self.minimum { Decimal::ZERO } else { credit }
    }

    /// Credit for whole contact minutes.
    pub fn credit_for_minutes(&self, minutes: u32) -> Decimal {
        self.credit_for_seconds(Decimal::from(minutes) * Decimal::from(60))
    }

    /// Whether `credit` is a non-negative multiple of the increment.
    pub fn is_step(&self, credit: Decimal) -> bool {
        credit >= Decimal::ZERO && self.increment > Decimal::ZERO && (credit % self.increment).is_zero()
    }

    /// The step of this rule in seconds, for people (900 for ACA); `None` if not whole.
    pub fn step_seconds(&self) -> Option<u64> {
        (self.minutes_per_unit * Decimal::from(60) * self.increment).to_u64()
    }
}

/// CEU equivalent of a number of CECs: CECs / 10, exact.
pub fn ceus_from_cecs(cecs: Decimal) -> Decimal {
    (cecs / Decimal::TEN).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn secs(minutes: i64) -> Decimal {
        Decimal::from(minutes * 60)
    }

    #[test]
    fn aca_is_quarter_hours_with_a_quarter_minimum() {
        let r = CreditRule::aca();
        assert_eq!(r.credit_for_seconds(secs(14)), dec!(0));
        assert_eq!(r.credit_for_seconds(dec!(899.999)), dec!(0));
        assert_eq!(r.credit_for_seconds(secs(15)), dec!(0.25));
        assert_eq!(r.credit_for_seconds(secs(29)), dec!(0.25));
        assert_eq!(r.credit_for_seconds(secs(75)), dec!(1.25));
        assert_eq!(r.credit_for_seconds(secs(120)), dec!(2));
        assert_eq!(r.step_seconds(), Some(900));
    }

    #[test]
    fn full_hours_counts_only_complete_hours() {
        let r = CreditRule::full_hours();
        assert_eq!(r.credit_for_minutes(59), dec!(0));
        assert_eq!(r.credit_for_minutes(60), dec!(1));
        assert_eq!(r.credit_for_minutes(75), dec!(1));
        assert_eq!(r.credit_for_minutes(119), dec!(1));
        assert_eq!(r.credit_for_minutes(120), dec!(2));
    }

    #[test]
    fn iacet_is_tenths_of_ten_hours() {
        let r = CreditRule::iacet_ceu();
        assert_eq!(r.credit_for_minutes(59), dec!(0));
        assert_eq!(r.credit_for_minutes(60), dec!(0.1));
        assert_eq!(r.credit_for_minutes(75), dec!(0.1));
        assert_eq!(r.credit_for_minutes(90), dec!(0.1));
        assert_eq!(r.credit_for_minutes(600), dec!(1));
        assert_eq!(r.credit_for_minutes(750), dec!(1.2));
    }

    #[test]
    fn half_up_rounds_to_the_nearest_step() {
        let r = CreditRule { rounding: Rounding::HalfUp, ..CreditRule::aca() };
        assert_eq!(r.credit_for_minutes(22), dec!(0.25));
        assert_eq!(r.credit_for_minutes(23), dec!(0.5));
        assert_eq!(r.credit_for_minutes(7), dec!(0));
        assert_eq!(r.credit_for_minutes(8), dec!(0.25));
    }

    #[test]
    fn ceus_are_cecs_over_ten_exactly() {
        assert_eq!(ceus_from_cecs(dec!(1.25)), dec!(0.125));
        assert_eq!(ceus_from_cecs(dec!(0)), dec!(0));
        assert_eq!(ceus_from_cecs(dec!(12)), dec!(1.2));
    }

    #[test]
    fn builtins_are_found_by_id_and_valid() {
        for id in CreditRule::BUILTIN {
            let rule = CreditRule::builtin(id).expect("builtin");
            assert_eq!(rule.id, id);
            assert_eq!(rule.validate(), Ok(()));
        }
        assert!(CreditRule::builtin("nope").is_none());
    }

    #[test]
    fn invalid_rules_award_nothing() {
        let r = CreditRule { increment: dec!(0), ..CreditRule::aca() };
        assert_eq!(r.validate(), Err(RuleError::Increment));
        assert_eq!(r.credit_for_minutes(60), dec!(0));
    }
}
