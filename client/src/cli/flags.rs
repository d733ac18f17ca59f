//! The flag a user typed, named in place of the API field when the node refuses a request.
//!
//! The node's `invalid` answers name the JSON field (`starts_at: ...`, with `"field":
//! "starts_at"`); the user typed `--starts-at`. Each command lists which flag (or argument)
//! fills which field, and [`name_flag`] rewrites a refusal of a listed field to start with
//! the flag. The code and status stay the node's; `--json` callers get the same error.

use cec_client::ClientError;

/// Field (or the head of a field path: `segments` covers `segments[2].kind`) → flag.
pub(crate) type FlagMap = &'static [(&'static str, &'static str)];

pub(crate) const EVENT_CREATE: FlagMap = &[
    ("id", "--id"),
    ("title", "--title"),
    ("provider.id", "--provider-id"),
    ("provider.name", "--provider-name"),
    ("provider.endorsement.number", "--endorsement"),
    ("provider.endorsement.valid_from", "--endorsed-from"),
    ("provider.endorsement.valid_until", "--endorsed-until"),
    ("provider.endorsement", "--endorsement"),
    ("venue", "--venue"),
    ("timezone", "--timezone"),
    ("policy.grace_minutes", "--grace"),
    ("policy.full_attendance_required", "--full-attendance"),
];

pub(crate) const SESSION_ADD: FlagMap = &[
    ("id", "--id"),
    ("title", "--title"),
    ("starts_at", "--starts-at"),
    ("segments", "--segment"),
    ("category", "--category"),
    ("format", "--format"),
];

pub(crate) const ROSTER_ADD: FlagMap = &[("members", "the roster's member (MEMBER_ID NAME, --email or --file)")];

pub(crate) const CHECKIN: FlagMap = &[
    ("id", "--id"),
    ("event_id", "EVENT"),
    ("session_id", "SESSION"),
    ("member_id", "MEMBER"),
    ("at", "--at"),
    ("method", "--method"),
];

pub(crate) const ENTRY: FlagMap = &[
    ("id", "--id"),
    ("kind", "--kind"),
    ("title", "--title"),
    ("description", "--description"),
    ("date", "--date"),
    ("cecs", "--cecs"),
    ("contact_minutes", "--contact-minutes"),
    ("category", "--category"),
    ("provider", "--provider"),
    ("evidence", "--evidence"),
    ("member_id", "MEMBER"),
];

pub(crate) const GOAL_SET: FlagMap = &[
    ("goal_id", "GOAL"),
    ("member_id", "MEMBER"),
    ("title", "--title"),
    ("target_cecs", "--target"),
    ("category", "--category"),
    ("start", "--start"),
    ("due", "--due"),
    ("benchmarks", "--benchmark"),
];

pub(crate) const REQUIREMENT_SET: FlagMap = &[
    ("program_id", "PROGRAM"),
    ("member_id", "MEMBER"),
    ("title", "--title"),
    ("window_start", "--from"),
    ("window_end", "--to"),
    ("total_cecs", "--total"),
    ("minimums", "--min"),
    ("verified_only", "--verified-only"),
];

pub(crate) const PETITION: FlagMap = &[
    ("id", "--id"),
    ("member_id", "MEMBER"),
    ("target_association", "--to"),
    ("record_ids", "--record"),
    ("note", "--note"),
    ("accepted_cecs", "--accepted"),
];

pub(crate) const ENROLMENT_CREATE: FlagMap = &[
    ("role", "--role"),
    ("scopes", "--scope"),
    ("uses", "--uses"),
    ("expires_at", "--expires"),
    ("credential_expires_at", "--credential-expires"),
    ("peer_address", "--peer-address"),
];

pub(crate) const CREDENTIAL: FlagMap = &[
    ("node_public_key", "--public-key"),
    ("role", "--role"),
    ("scopes", "--scope"),
    ("expires_at", "--expires"),
    ("org_public_key", "--org-key"),
];

/// The flag for `field`: an exact entry, else the longest entry that heads its path
/// (`segments` for `segments[1].kind`, `minimums` for `minimums.ethics`).
fn flag_for(field: &str, flags: FlagMap) -> Option<&'static str> {
    if let Some((_, flag)) = flags.iter().find(|(f, _)| *f == field) {
        return Some(flag);
    }
    flags
        .iter()
        .filter(|(f, _)| field.strip_prefix(f).is_some_and(|rest| rest.starts_with(['.', '['])))
        .max_by_key(|(f, _)| f.len())
        .map(|(_, flag)| *flag)
}

/// `text` with the other fields it names (`must not be before window_start`) named by their
/// flags too. Only API-looking names (with `_` or `.`) are replaced, as whole words, so a
/// plain word such as `title` in a sentence stays a word.
fn other_fields_named(text: &str, flags: FlagMap) -> String {
    let mut out = text.to_owned();
    for (field, flag) in flags.iter().filter(|(f, _)| f.contains(['_', '.'])) {
        let mut from = 0;
        while let Some(i) = out[from..].find(field).map(|i| i + from) {
            let end = i + field.len();
            let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
            let before = out[..i].chars().next_back().is_none_or(|c| !word(c));
            // A path goes on after a dot (`minimums.ethics`); a sentence ends at one.
            let mut next = out[end..].chars();
            let after = match next.next() {
                Some('.') => next.next().is_none_or(|c| !word(c)),
                c => c.is_none_or(|c| !word(c)),
            };
            if before && after {
                out.replace_range(i..end, flag);
                from = i + flag.len();
            } else {
                from = end;
            }
        }
    }
    out
}

/// A refusal of the node that names a field of `flags`, told with the flag first: `--starts-at:
/// too close to the end of representable time (invalid)`; a field deeper than the flag's
/// (`segments[1].kind`) stays named after it (`--segment (segments[1].kind): ...`). Anything
/// else, or an error that already carries a command's own explanation, is left as it is.
pub(crate) fn name_flag(e: anyhow::Error, flags: FlagMap) -> anyhow::Error {
    if e.chain().count() != 1 {
        return e;
    }
    let Some(ClientError::Api { status, code, message, field: Some(field) }) = e.downcast_ref::<ClientError>() else {
        return e;
    };
    let Some(flag) = flag_for(field, flags) else { return e };
    let rest = message.strip_prefix(field.as_str()).and_then(|m| m.strip_prefix(": ")).unwrap_or(message);
    let rest = other_fields_named(rest, flags);
    let exact = flags.iter().any(|(f, _)| f == field);
    let named = if exact { flag.to_owned() } else { format!("{flag} ({field})") };
    anyhow::Error::from(ClientError::Api {
        status: *status,
        code: code.clone(),
        message: format!("{named}: {rest}"),
        field: Some(field.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(field: &str, message: &str) -> anyhow::Error {
        let body = serde_json::json!({"error": {"code": "invalid", "message": message, "field": field}});
        ClientError::from_response(422, body.to_string().as_bytes()).into()
    }

    #[test]
    fn a_refused_field_is_named_by_its_flag() {
        let e = name_flag(refusal("starts_at", "starts_at: too close to the end of representable time"), SESSION_ADD);
        assert_eq!(format!("{e:#}"), "--starts-at: too close to the end of representable time (invalid)");
        let e = e.downcast_ref::<ClientError>().map(|c| (c.code(), c.field(), c.status()));
        assert_eq!(e, Some((Some("invalid"), Some("starts_at"), Some(422))), "the node's code and field stay");
        let e = name_flag(refusal("segments[1].kind", "segments[1].kind: unknown kind \"lunch\""), SESSION_ADD);
        assert_eq!(format!("{e:#}"), "--segment (segments[1].kind): unknown kind \"lunch\" (invalid)");
        let e = name_flag(refusal("window_end", "window_end: must not be before window_start"), REQUIREMENT_SET);
        assert_eq!(format!("{e:#}"), "--to: must not be before --from (invalid)", "other fields named too");
        let e =
            name_flag(refusal("provider.endorsement.valid_until", "provider.endorsement.valid_until: x"), EVENT_CREATE);
        assert_eq!(format!("{e:#}"), "--endorsed-until: x (invalid)", "the longest match wins");
    }

    /// Every `--flag` a map names is a flag of its command (or of one of its subcommands): a
    /// refusal must not send the user to a flag that does not exist.
    #[test]
    fn every_named_flag_exists_on_its_command() {
        use clap::CommandFactory;
        fn longs(c: &clap::Command, out: &mut Vec<String>) {
            out.extend(c.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")));
            for sub in c.get_subcommands() {
                longs(sub, out);
            }
        }
        let cli = super::super::Cli::command();
        let maps: [(&str, FlagMap); 10] = [
            ("event", EVENT_CREATE),
            ("session", SESSION_ADD),
            ("roster", ROSTER_ADD),
            ("checkin", CHECKIN),
            ("portfolio", ENTRY),
            ("goal", GOAL_SET),
            ("requirement", REQUIREMENT_SET),
            ("petition", PETITION),
            ("enrolment", ENROLMENT_CREATE),
            ("credential", CREDENTIAL),
        ];
        for (name, map) in maps {
            let command = cli.find_subcommand(name).unwrap_or_else(|| panic!("no command {name}"));
            let mut flags = Vec::new();
            longs(command, &mut flags);
            for (field, named) in map {
                for flag in
                    named.split(|c: char| c.is_whitespace() || c == ',' || c == ')').filter(|w| w.starts_with("--"))
                {
                    assert!(
                        flags.iter().any(|f| f == flag),
                        "cec {name}: {field} names {flag}, which it does not have"
                    );
                }
            }
        }
    }

    #[test]
    fn other_errors_stay_as_they_are() {
        let e = name_flag(refusal("something_else", "something_else: no"), SESSION_ADD);
        assert_eq!(format!("{e:#}"), "something_else: no (invalid)");
        let e = name_flag(refusal("starts_at", "starts_at: no").context("a command's own hint"), SESSION_ADD);
        assert_eq!(format!("{e:#}"), "a command's own hint: starts_at: no (invalid)");
        let missing = ClientError::from_response(404, br#"{"error": {"code": "not_found", "message": "no event"}}"#);
        assert_eq!(format!("{:#}", name_flag(missing.into(), SESSION_ADD)), "no event (not_found)");
        assert_eq!(flag_for("categoryx", SESSION_ADD), None, "a prefix is a path head only");
        assert_eq!(
            other_fields_named("x_window_start and window_start.", REQUIREMENT_SET),
            "x_window_start and --from."
        );
        assert_eq!(other_fields_named("the title", REQUIREMENT_SET), "the title", "plain words stay");
    }
}
