//! `cec attendance` and `cec cecs`.

use clap::Args;
use jiff::civil::Date;

use cec_client::wire::CreditRecordJson;

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
        outln!();
        print_records(&s.records)
    })
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

    use super::category_lines;

    #[test]
    fn category_amounts_line_up_whatever_the_names() {
        let by = [("ethics".to_owned(), dec!(1.25)), ("risk_management".to_owned(), dec!(0.75))].into();
        let lines = category_lines(&by);
        assert_eq!(lines, ["  ethics          1.25 CEC", "  risk_management 0.75 CEC"]);
        let short = category_lines(&[("ethics".to_owned(), dec!(2))].into());
        assert_eq!(short, ["  ethics       2 CEC"], "short names keep the totals' column");
    }
}
