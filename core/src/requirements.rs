//! Requirement programs: a specialty certificate or a license renewal cycle, with a total over a
//! window and minimums per category.

use std::collections::BTreeMap;

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::portfolio::{CreditRecord, Source};

/// A requirement program ("3 CECs in ethics within a 2-year cycle, 40 in all").
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Program {
    /// Program id.
    pub id: String,
    /// Title.
    pub title: String,
    /// First day credit counts.
    pub window_start: Date,
    /// Last day credit counts (inclusive).
    pub window_end: Date,
    /// CECs needed in all.
    pub total_cecs: Decimal,
    /// CECs needed per category.
    pub minimums: BTreeMap<String, Decimal>,
    /// Whether only verified credit counts.
    pub verified_only: bool,
}

/// Why a program is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProgramError {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: &'static str,
}

impl Program {
    /// Checks the window and amounts.
    pub fn validate(&self) -> Result<(), ProgramError> {
        if self.window_end < self.window_start {
            return Err(ProgramError { field: "window_end", message: "must not be before window_start" });
        }
        if self.total_cecs < Decimal::ZERO {
            return Err(ProgramError { field: "total_cecs", message: "must not be negative" });
        }
        if self.minimums.values().any(|m| *m < Decimal::ZERO) {
            return Err(ProgramError { field: "minimums", message: "must not be negative" });
        }
        Ok(())
    }

    /// Whether a credit line counts toward the program.
    pub fn counts(&self, r: &CreditRecord) -> bool {
        r.date >= self.window_start
            && r.date <= self.window_end
            && (!self.verified_only || r.source == Source::Verified)
    }
}

/// Progress in one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CategoryProgress {
    /// The category.
    pub category: String,
    /// CECs required.
    pub required: Decimal,
    /// CECs earned in the window.
    pub earned: Decimal,
    /// CECs still missing (never negative).
    pub missing: Decimal,
    /// Whether the minimum is met.
    pub met: bool,
}

/// What is met and what is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramProgress {
    /// CECs counted in the window.
    pub earned_total: Decimal,
    /// CECs still missing toward the total (never negative).
    pub missing_total: Decimal,
    /// Whether the total is met.
    pub total_met: bool,
    /// Per-category minimums.
    pub categories: Vec<CategoryProgress>,
    /// Whether everything is met.
    pub met: bool,
    /// The ids of the records counted.
    pub counted: Vec<String>,
}

/// The progress of `program` given the member's credit lines.
pub fn progress(program: &Program, records: &[CreditRecord]) -> ProgramProgress {
    let counted: Vec<&CreditRecord> = records.iter().filter(|r| program.counts(r)).collect();
    let earned_total: Decimal = counted.iter().map(|r| r.cecs).sum();
    let categories: Vec<CategoryProgress> = program
        .minimums
        .iter()
        .map(|(category, required)| {
            let earned: Decimal =
                counted.iter().filter(|r| crate::event::same_category(&r.category, category)).map(|r| r.cecs).sum();
            CategoryProgress {
                category: category.clone(),
                required: *required,
                earned,
                missing: (*required - earned).max(Decimal::ZERO),
                met: earned >= *required,
            }
        })
        .collect();
    let total_met = earned_total >= program.total_cecs;
    ProgramProgress {
        earned_total,
        missing_total: (program.total_cecs - earned_total).max(Decimal::ZERO),
        total_met,
        met: total_met && categories.iter().all(|c| c.met),
        categories,
        counted: counted.iter().map(|r| r.id.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use rust_decimal_macros::dec;

    fn rec(id: &str, d: Date, cecs: Decimal, category: &str, source: Source) -> CreditRecord {
        CreditRecord {
            id: id.into(),
            source,
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

    fn program() -> Program {
        Program {
            id: "LPC".into(),
            title: "License renewal".into(),
            window_start: date(2026, 1, 1),
            window_end: date(2027, 12, 31),
            total_cecs: dec!(10),
            minimums: [("ethics".to_string(), dec!(3))].into(),
            verified_only: false,
        }
    }

    #[test]
    fn a_minimum_counts_its_category_whatever_the_case() {
        let recs = [
            rec("a", date(2026, 5, 1), dec!(1), "Ethics", Source::Verified),
            rec("b", date(2026, 6, 1), dec!(2), "ethics", Source::SelfReported),
        ];
        let p = progress(&Program { minimums: [("ETHICS".to_string(), dec!(3))].into(), ..program() }, &recs);
        assert_eq!(p.categories[0].earned, dec!(3));
        assert!(p.categories[0].met);
    }

    #[test]
    fn reports_what_is_met_and_what_is_missing() {
        let recs = [
            rec("a", date(2026, 5, 1), dec!(6), "general", Source::Verified),
            rec("b", date(2027, 5, 1), dec!(1.5), "ethics", Source::SelfReported),
            rec("old", date(2025, 5, 1), dec!(10), "ethics", Source::Verified),
        ];
        let p = progress(&program(), &recs);
        assert_eq!(p.earned_total, dec!(7.5));
        assert_eq!(p.missing_total, dec!(2.5));
        assert!(!p.total_met && !p.met);
        assert_eq!(p.categories[0].earned, dec!(1.5));
        assert_eq!(p.categories[0].missing, dec!(1.5));
        assert_eq!(p.counted, ["a", "b"]);
    }

    #[test]
    fn met_when_total_and_every_minimum_are_met() {
        let recs = [
            rec("a", date(2026, 5, 1), dec!(7), "general", Source::Verified),
            rec("b", date(2027, 12, 31), dec!(3), "ethics", Source::Verified),
        ];
        let p = progress(&program(), &recs);
        assert!(p.met);
        assert_eq!(p.missing_total, dec!(0));
        assert_eq!(p.categories[0].missing, dec!(0));
    }

    #[test]
    fn verified_only_programs_ignore_self_reported_credit() {
        let recs = [rec("b", date(2027, 5, 1), dec!(3), "ethics", Source::SelfReported)];
        let p = progress(&Program { verified_only: true, ..program() }, &recs);
        assert_eq!(p.earned_total, dec!(0));
    }

    #[test]
    fn validation() {
        assert!(program().validate().is_ok());
        let bad = Program { window_end: date(2025, 1, 1), ..program() };
        assert_eq!(bad.validate().expect_err("window").field, "window_end");
    }
}
