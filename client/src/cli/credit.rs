//! `cec attendance` and `cec cecs`.

use clap::Args;
use jiff::civil::Date;

use cec_client::wire::{CecSummary, CreditRecordJson};

use super::Ctx;
use super::args;
use super::output::{self, cec, dec, opt, outln, yes_no};

#[derive(Debug, Args)]
pub(crate) struct AttendanceArgs {
    /// The member id
    member: String,
    /// Only this event
    #[arg(long)]
    event: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CecsArgs {
    /// The member id
    member: String,
    /// Only credit from this day on (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    from: Option<Date>,
    /// Only credit up to this day (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", value_parser = args::date)]
    to: Option<Date>,
}

impl CecsArgs {
    /// What clap cannot check: the span runs forward.
    pub(crate) fn check(&self) -> Result<(), String> {
        args::date_span(self.from, self.to)
    }
}

pub(crate) async fn attendance(ctx: &Ctx, a: AttendanceArgs) -> anyhow::Result<()> {
    let list = ctx.client.attendance(&a.member, a.event.as_deref()).await?;
    if list.items.is_empty()
        && let Some(event) = &a.event
    {
        // A mistyped event id is not an event the member missed: the node's 404 says so.
        ctx.client.event(event).await?;
    }
    ctx.emit(&list, |list| {
        if list.items.is_empty() {
            let within = a.event.as_ref().map(|e| format!(" in event {e}")).unwrap_or_default();
            outln!("no attendance recorded for {}{within} on this node", a.member);
            return Ok(());
        }
        let mut t = output::table(&["event/session", "title", "attended", "creditable", "CECs", "verified", "flags"]);
        for x in &list.items {
            t.add_row(vec![
                format!("{}/{}", x.event_id, x.session_id),
                x.session_title.clone(),
                format!("{} min", x.attended_minutes),
                format!("{} min", x.creditable_minutes),
                format!("{} of {}", dec(x.cecs), cec(x.max_cecs)),
                yes_no(x.verified).to_owned(),
                x.flags.join(" "),
            ]);
        }
        output::print_table(&t, "")?;
        for x in list.items.iter().filter(|x| x.reason.is_some()) {
            outln!("{}/{}: {}", x.event_id, x.session_id, opt(x.reason.as_deref()));
        }
        Ok(())
    })
}

pub(crate) async fn cecs(ctx: &Ctx, a: CecsArgs) -> anyhow::Result<()> {
    let s = ctx.client.cecs(&a.member, a.from, a.to).await?;
    ctx.emit(&s, |s| {
        outln!("member         {}", s.member_id);
        outln!("verified       {}", cec(s.verified_cecs));
        outln!("self-reported  {}", cec(s.self_reported_cecs));
        outln!("total          {} ({} CEU)", cec(s.total_cecs), dec(s.ceus));
        for line in category_lines(&s.by_category) {
            outln!("{line}");
        }
        for line in unconfirmed_lines(s) {
            outln!("{line}");
        }
        outln!();
        print_records(&s.records)
    })
}

/// What the central node has not verified yet, where this node is not the central one: the
/// credit counted here from check-ins on this node alone, and that credit recorded at doors
/// this node does not hear of shows up only once verified.
fn unconfirmed_lines(s: &CecSummary) -> Vec<String> {
    let Some(u) = &s.unconfirmed else { return Vec::new() };
    let mut lines = Vec::new();
    if u.sessions > 0 {
        let sessions = if u.sessions == 1 { "1 session".to_owned() } else { format!("{} sessions", u.sessions) };
        let shown: Vec<&str> = u.record_ids.iter().take(5).map(String::as_str).collect();
        let more = if u.record_ids.len() > shown.len() { ", ..." } else { "" };
        lines.push(format!(
            "not yet verified: {} of the verified credit ({sessions}: {}{more}) is from check-ins recorded on this \
             node; the central node has not verified it yet (`cec status` shows what has not reached it)",
            cec(u.cecs),
            shown.join(", ")
        ));
    }
    lines.push(
        "note: attendance recorded at other doors is not counted here until the central node has verified it and \
         this node has synced"
            .to_owned(),
    );
    lines
}

/// The credit per category, indented under the totals, the amounts in one column however long
/// a category's name.
fn category_lines(by_category: &std::collections::BTreeMap<String, rust_decimal::Decimal>) -> Vec<String> {
    let width = by_category.keys().map(|c| c.chars().count()).max().unwrap_or(0).max(12);
    by_category.iter().map(|(c, d)| format!("  {c:<width$} {}", cec(*d))).collect()
}

/// A table of credit lines.
pub(crate) fn print_records(records: &[CreditRecordJson]) -> anyhow::Result<()> {
    output::print_lines(&records_lines(records))
}

/// The lines of [`print_records`].
pub(crate) fn records_lines(records: &[CreditRecordJson]) -> Vec<String> {
    let mut t =
        output::table(&["record", "date", "title", "source", "category", "provider", "endorsement", "CECs", "code"]);
    for r in records {
        t.add_row(vec![
            r.id.clone(),
            r.date.to_string(),
            r.title.clone(),
            r.source.replace('_', "-"),
            r.category.clone(),
            opt(r.provider.as_deref()).to_owned(),
            opt(r.endorsement_number.as_deref()).to_owned(),
            cec(r.cecs),
            opt(r.verification_code.as_deref()).to_owned(),
        ]);
    }
    output::table_lines(&t, "no credit records")
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::{category_lines, unconfirmed_lines};
    use cec_client::wire::{CecSummary, UnconfirmedCredit};

    fn summary(unconfirmed: Option<UnconfirmedCredit>) -> CecSummary {
        CecSummary {
            member_id: "M1".into(),
            verified_cecs: dec!(3.25),
            self_reported_cecs: dec!(0),
            total_cecs: dec!(3.25),
            ceus: dec!(0.325),
            by_category: Default::default(),
            records: vec![],
            unconfirmed,
        }
    }

    #[test]
    fn credit_the_central_node_has_not_verified_is_named() {
        assert!(unconfirmed_lines(&summary(None)).is_empty(), "the central node verifies: nothing to say");
        let pending =
            UnconfirmedCredit { sessions: 2, cecs: dec!(2.5), record_ids: vec!["conf/a".into(), "conf/b".into()] };
        let lines = unconfirmed_lines(&summary(Some(pending)));
        assert!(
            lines[0].starts_with("not yet verified: 2.5 CEC of the verified credit (2 sessions: conf/a, conf/b)"),
            "{lines:?}"
        );
        assert!(lines[0].contains("the central node has not verified it yet"), "{lines:?}");
        let none = unconfirmed_lines(&summary(Some(UnconfirmedCredit::default())));
        assert_eq!(none.len(), 1, "only the note on other doors: {none:?}");
        assert!(none[0].contains("not counted here until the central node has verified it"), "{none:?}");
    }

    #[test]
    fn category_amounts_line_up_whatever_the_names() {
        let by = [("ethics".to_owned(), dec!(1.25)), ("risk_management".to_owned(), dec!(0.75))].into();
        let lines = category_lines(&by);
        assert_eq!(lines, ["  ethics          1.25 CEC", "  risk_management 0.75 CEC"]);
        let short = category_lines(&[("ethics".to_owned(), dec!(2))].into());
        assert_eq!(short, ["  ethics       2 CEC"], "short names keep the totals' column");
    }
}
