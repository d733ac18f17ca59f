//! What the wire types' derived schemas cannot say: the API's validation rules, added to the
//! OpenAPI document so that it is exact: every request it describes passes validation but for
//! rules that relate two fields, data that must exist, or a name the time-zone database must
//! know (each a documented `422` or `404`), and every request it does not describe is refused
//! (schemathesis's `negative_data_rejection` check holds the node to both). Names come from
//! `cec-core`'s own lists, patterns mirror the validators; `tests` checks the patterns against
//! them.

use cec_core::checkin::{Direction, Method};
use cec_core::event::{MAX_SESSION_MINUTES, SegmentKind, SessionFormat};
use cec_core::petition::PetitionStatus;
use cec_core::portfolio::EntryKind;
use serde_json::{Map, Value, json};

use super::convert::MAX_ENTRY_MINUTES;

/// An id (api.md): 1–128 of `[A-Za-z0-9._:-]`.
pub(super) const ID: &str = "^[A-Za-z0-9._:-]{1,128}$";
/// An event or session id: an id without `:`.
pub(super) const SCOPE_ID: &str = "^[A-Za-z0-9._-]{1,128}$";
/// A blob's SHA-256, lowercase hex.
pub(super) const SHA256: &str = "^[0-9a-f]{64}$";
/// Credit in a request: the one decimal grammar (`[0-9]+(\.[0-9]+)?`), at most 10000, at most
/// two decimal places once trailing zeros are dropped (leading zeros and trailing zeros are
/// taken, as the validator takes them).
pub(super) const CREDIT: &str = r"^0*([0-9]{1,4}(\.[0-9]{1,2}0*)?|10000(\.0+)?)$";
/// Credit above zero (a goal's target): [`CREDIT`] less the spellings of zero.
pub(super) const POSITIVE_CREDIT: &str =
    r"^0*([1-9][0-9]{0,3}(\.[0-9]{1,2}0*)?|10000(\.0+)?|0\.(0[1-9]|[1-9][0-9]?)0*)$";
/// An activity's self-reported CECs: credit in steps of 0.25.
pub(super) const ENTRY_CECS: &str = r"^0*([0-9]{1,4}(\.(00?|25|50?|75)0*)?|10000(\.0+)?)$";
/// A credit record id: a verified record's `<event_id>/<session_id>` or an entry id.
pub(super) const RECORD_ID: &str = "^([A-Za-z0-9._-]{1,128}/[A-Za-z0-9._-]{1,128}|[A-Za-z0-9._:-]{1,128})$";
/// Text with something in it besides white space: a character outside Unicode's White_Space
/// set (what `str::trim` removes), spelled out because regex engines disagree on `\s`.
pub(super) const TEXT: &str = r"[^\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]";
/// An IANA time-zone name's shape (see `convert::is_time_zone_shape`); at most 64 characters.
pub(super) const TIME_ZONE: &str = "^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$";
/// A scope of a credential or an enrolment code.
pub(super) const SCOPE: &str = r"^(\*|event:[A-Za-z0-9._-]{1,128}|(provider|member):[A-Za-z0-9._:-]{1,128})$";
/// A node id.
pub(super) const NODE_ID: &str = "^n[0-9a-f]{24}$";
/// An enrolment code as the node writes it (it also takes upper case, spaces and dashes).
pub(super) const ENROLMENT_CODE: &str = "^cecenrol[a-z2-7]{80,500}$";
/// `HOST:PORT` of a peer listener, as the document offers it.
const PEER_ADDRESS: &str = "^[a-z0-9.-]{1,63}:[1-9][0-9]{0,3}$";
/// A void's reason: at most 500 characters, none a control character.
pub(super) const VOID_REASON: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]{0,500}$";
/// A pairing's label: at most 100 characters, none a control character.
pub(super) const PAIRING_LABEL: &str = "^[^\\x00-\\x1f\\x7f-\\x9f]{0,100}$";
/// A `limit` query value: 1 to 1000.
pub(super) const LIMIT: &str = "^([1-9][0-9]{0,2}|1000)$";
/// A `wait` query value: 0 to 60 seconds.
pub(super) const WAIT: &str = "^([0-9]|[1-5][0-9]|60)$";
/// A `since` query value: a feed cursor, at most 18 digits.
pub(super) const SINCE: &str = "^(0|[1-9][0-9]{0,17})$";
/// A date in query strings: `YYYY-MM-DD`, a real date from year 1 (months' lengths and leap
/// years spelled out, as generators do not combine `format` with `pattern`).
pub(super) const DATE: &str = concat!(
    "^(",
    // Year 0001 to 9999, a day every month has, the 29th and 30th but in February, the 31st.
    "([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)-",
    "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)",
    // 29 February of a leap year: divisible by 4 but not by 100, or by 400.
    "|([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)-02-29",
    ")$"
);
/// An entries page's cursor: `<date>/<entry id>`.
pub(super) const ENTRY_CURSOR: &str = "^(-[0-9]{6}|[0-9]{4})-[0-9]{2}-[0-9]{2}/[A-Za-z0-9._:-]{1,128}$";
/// Time zones a generator should try most (the pattern takes every other name shaped so; one
/// the time-zone database does not know is `422`).
const TIME_ZONES: &[&str] = &["UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"];

fn string(pattern: &str) -> Value {
    json!({"type": "string", "pattern": pattern})
}

fn names<T: Copy>(all: &[T], name: impl Fn(T) -> &'static str) -> Value {
    json!({"type": "string", "enum": all.iter().map(|v| name(*v)).collect::<Vec<_>>()})
}

/// Replaces `schema`'s property `prop` (keeping a `null` alternative where it was optional
/// and nullable) with `rule`.
fn set(schemas: &mut Map<String, Value>, schema: &str, prop: &str, rule: Value) {
    let Some(props) = schemas.get_mut(schema).and_then(|s| s.get_mut("properties")).and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(old) = props.get_mut(prop) else { return };
    let nullable = old["type"].as_array().is_some_and(|t| t.iter().any(|t| t == "null"));
    let description = old.get("description").cloned();
    // `anyOf` rather than a type list, so that generators apply the rule's format.
    let mut rule = if nullable && rule["type"] != "null" { json!({"anyOf": [rule, {"type": "null"}]}) } else { rule };
    if let (Some(obj), Some(desc)) = (rule.as_object_mut(), description) {
        obj.insert("description".into(), desc);
    }
    *old = rule;
}

/// The request schemas' rules.
fn refine_schemas(schemas: &mut Map<String, Value>) {
    let id = || string(ID);
    let scope = || string(SCOPE_ID);
    let text = || json!({"type": "string", "minLength": 1, "pattern": TEXT});
    let credit = || string(CREDIT);
    let date = || json!({"type": "string", "format": "date"});

    set(schemas, "NewEvent", "id", scope());
    set(schemas, "NewEvent", "title", text());
    // The enum is inside the pattern; it is there so that generated events mostly use zones
    // the database knows.
    set(
        schemas,
        "NewEvent",
        "timezone",
        json!({"anyOf": [
            {"type": "string", "enum": TIME_ZONES},
            {"type": "string", "pattern": TIME_ZONE, "maxLength": super::convert::MAX_TIME_ZONE_LEN},
        ], "description": "IANA time zone of the venue; a name the time-zone database does not know is 422"}),
    );
    // Schemas that answers share (ProviderJson, PolicyJson, SegmentJson, RosterMemberJson,
    // EndorsementJson) get only rules the node enforces on every value it stores.
    set(schemas, "ProviderJson", "id", id());
    set(schemas, "ProviderJson", "name", text());
    set(schemas, "EndorsementJson", "number", text());
    set(schemas, "PolicyJson", "grace_minutes", json!({"type": "integer", "minimum": 0, "maximum": 120}));

    set(schemas, "NewSession", "id", scope());
    set(schemas, "NewSession", "title", text());
    set(schemas, "NewSession", "category", id());
    set(schemas, "NewSession", "format", names(&SessionFormat::ALL, SessionFormat::as_str));
    // Segments' total minutes must stay within the longest session too (422, between items).
    set(
        schemas,
        "NewSession",
        "segments",
        json!({"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/SegmentJson"},
               "description": "The segments, in order; more minutes in all than the longest session is 422"}),
    );
    set(schemas, "SegmentJson", "kind", names(&SegmentKind::ALL, SegmentKind::as_str));
    set(schemas, "SegmentJson", "minutes", json!({"type": "integer", "minimum": 1, "maximum": MAX_SESSION_MINUTES}));

    set(schemas, "RosterMemberJson", "member_id", id());
    set(schemas, "RosterMemberJson", "name", text());

    set(schemas, "VoidRequest", "reason", json!({"type": "string", "pattern": VOID_REASON}));
    set(schemas, "TicketRequest", "page", json!({"type": "string", "enum": super::pages::PAGES}));
    // Only with `pair`, and `pair` only for the kiosk screen (422 otherwise: two fields).
    set(schemas, "TicketRequest", "label", string(PAIRING_LABEL));
    set(schemas, "NewCheckIn", "id", id());
    set(schemas, "NewCheckIn", "event_id", scope());
    set(schemas, "NewCheckIn", "session_id", scope());
    set(schemas, "NewCheckIn", "member_id", id());
    set(schemas, "NewCheckIn", "direction", names(&Direction::ALL, Direction::as_str));
    set(schemas, "NewCheckIn", "method", names(&Method::ALL, Method::as_str));
    // Each item is a NewCheckIn; one that is not gets its own 422 in the results.
    set(
        schemas,
        "CheckInBatch",
        "checkins",
        json!({"type": "array", "maxItems": 1000, "items": {},
               "description": "NewCheckIn objects; an item that is not one is answered 422 in its result"}),
    );
    set(schemas, "NewCheckIn", "at", json!({"type": "string", "format": "date-time"}));

    let minutes = json!({"type": "integer", "minimum": 0, "maximum": MAX_ENTRY_MINUTES});
    let evidence = json!({"type": "array", "items": string(SHA256), "description": "blobs (SHA-256, lowercase hex)"});
    for schema in ["NewEntry", "EntryPatch"] {
        set(schemas, schema, "title", text());
        set(schemas, schema, "date", date());
        set(schemas, schema, "contact_minutes", minutes.clone());
        set(schemas, schema, "category", id());
        set(schemas, schema, "evidence", evidence.clone());
    }
    set(schemas, "NewEntry", "id", id());
    set(schemas, "NewEntry", "kind", names(&EntryKind::ALL, EntryKind::as_str));
    // Only an activity carries CECs, no more than its contact minutes earn: 422 otherwise.
    for schema in ["NewEntry", "EntryPatch"] {
        set(schemas, schema, "cecs", string(ENTRY_CECS));
    }

    for schema in ["GoalInput", "BenchmarkJson"] {
        set(schemas, schema, "title", text());
        set(schemas, schema, "due", date());
    }
    // A goal aims at something; a benchmark on the way may be zero.
    set(schemas, "GoalInput", "target_cecs", string(POSITIVE_CREDIT));
    set(schemas, "BenchmarkJson", "target_cecs", credit());
    set(schemas, "GoalInput", "category", id());
    set(schemas, "GoalInput", "start", date());
    set(
        schemas,
        "GoalInput",
        "benchmarks",
        json!({"type": "array", "items": {"$ref": "#/components/schemas/BenchmarkJson"}}),
    );

    set(schemas, "ProgramInput", "title", text());
    set(schemas, "ProgramInput", "window_start", date());
    set(schemas, "ProgramInput", "window_end", date());
    set(schemas, "ProgramInput", "total_cecs", credit());
    set(
        schemas,
        "ProgramInput",
        "minimums",
        json!({"type": "object", "propertyNames": {"pattern": ID}, "additionalProperties": credit()}),
    );

    set(schemas, "NewEnrolment", "role", json!({"type": "string", "enum": ["kiosk", "member", "staff"]}));
    set(
        schemas,
        "NewEnrolment",
        "scopes",
        json!({"type": "array", "minItems": 1, "maxItems": 20, "items": string(SCOPE)}),
    );
    set(schemas, "NewEnrolment", "uses", json!({"type": "integer", "minimum": 1, "maximum": 10000}));
    set(schemas, "NewEnrolment", "peer_address", string(PEER_ADDRESS));
    set(schemas, "EnrollRequest", "code", string(ENROLMENT_CODE));
    set(schemas, "NewRevocation", "node_id", string(NODE_ID));

    set(schemas, "NewPetition", "id", id());
    set(schemas, "NewPetition", "target_association", text());
    // Each must name a credit record of the member (422 otherwise).
    set(schemas, "NewPetition", "record_ids", json!({"type": "array", "minItems": 1, "items": string(RECORD_ID)}));
    set(schemas, "PetitionPatch", "status", names(&PetitionStatus::ALL, PetitionStatus::as_str));
    set(schemas, "PetitionPatch", "accepted_cecs", credit());
}

/// The query parameters of an operation: `(name, schema)`.
fn query_parameters(method: &str, path: &str) -> Vec<(&'static str, Value)> {
    // A `cursor` is a page's `next_cursor`: the last key of that page, so shaped like the list's
    // keys (any other shape is 422; one that names nothing starts after where it would be).
    let page = |cursor: &str| vec![("cursor", string(cursor)), ("limit", string(LIMIT))];
    let date = || json!({"type": "string", "format": "date", "pattern": DATE});
    let range = || vec![("from", date()), ("to", date())];
    let format = || ("format", json!({"type": "string", "enum": ["json", "csv", "pdf"]}));
    if method != "get" {
        return Vec::new();
    }
    match path {
        "/v1/events" | "/v1/events/{event_id}/sessions" => page(SCOPE_ID),
        "/v1/admin/revocations" => page(NODE_ID),
        "/v1/checkins" => {
            let mut p =
                vec![("event_id", string(SCOPE_ID)), ("session_id", string(SCOPE_ID)), ("member_id", string(ID))];
            p.extend(page(ID));
            p
        }
        "/v1/portfolios/{member_id}/entries" => {
            let mut p = vec![("kind", names(&EntryKind::ALL, EntryKind::as_str))];
            p.extend(page(ENTRY_CURSOR));
            p
        }
        "/v1/members/{member_id}/attendance" => vec![("event_id", string(SCOPE_ID))],
        "/v1/members/{member_id}/cecs" => range(),
        "/v1/portfolios/{member_id}/transcript" => {
            let mut p = vec![format()];
            p.extend(range());
            p
        }
        "/v1/portfolios/{member_id}/petitions/{petition_id}/packet" => vec![format()],
        "/v1/changes" => vec![("since", string(SINCE)), ("wait", string(WAIT)), ("limit", string(LIMIT))],
        _ => Vec::new(),
    }
}

/// The schema of a path parameter.
fn path_parameter(name: &str) -> Value {
    match name {
        "event_id" | "session_id" => string(SCOPE_ID),
        "sha256" => string(SHA256),
        _ => string(ID),
    }
}

/// Adds the rules to `doc`, the OpenAPI document as JSON.
pub(super) fn refine(doc: &mut Value) {
    if let Some(schemas) = doc.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        refine_schemas(schemas);
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                if let Some(op) = op.as_object_mut() {
                    let query: Vec<Value> = query_parameters(method, path)
                        .into_iter()
                        .map(|(n, s)| json!({"name": n, "in": "query", "required": false, "schema": s}))
                        .collect();
                    if !query.is_empty() {
                        op.insert("parameters".into(), Value::Array(query));
                    }
                }
                continue;
            };
            for p in params.iter_mut() {
                if p["in"] == "path"
                    && let Some(name) = p["name"].as_str().map(str::to_owned)
                {
                    p["schema"] = path_parameter(&name);
                }
            }
            for (n, s) in query_parameters(method, path) {
                params.push(json!({"name": n, "in": "query", "required": false, "schema": s}));
            }
        }
    }
    nullable_cursors(doc);
    // Revoking a node revoked before answers the first revocation with 200.
    if let Some(responses) = doc
        .pointer_mut(&format!("/paths/{}/post/responses", escape("/v1/admin/revocations")))
        .and_then(Value::as_object_mut)
        && let Some(created) = responses.get("201").cloned()
    {
        responses.insert("200".into(), created);
    }
    // Enrolling needs the central node: it may be unreachable.
    if let Some(responses) =
        doc.pointer_mut(&format!("/paths/{}/post/responses", escape("/v1/node/enroll"))).and_then(Value::as_object_mut)
    {
        responses.insert(
            "502".into(),
            json!({"description": "central_unreachable (the central node the code names did not answer)",
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}),
        );
    }
    for path in ["/v1/portfolios/{member_id}/transcript", "/v1/portfolios/{member_id}/petitions/{petition_id}/packet"] {
        if let Some(content) = doc.pointer_mut(&format!("/paths/{}/get/responses/200/content", escape(path)))
            && let Some(content) = content.as_object_mut()
        {
            content.insert("text/csv".into(), json!({"schema": {"type": "string"}}));
            content.insert("application/pdf".into(), json!({"schema": {"type": "string", "format": "binary"}}));
        }
    }
}

/// A path as one JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// `next_cursor` is `null` on the last page.
fn nullable_cursors(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if let Some(cursor) = map.get_mut("properties").and_then(|p| p.get_mut("next_cursor")) {
                cursor["type"] = json!(["string", "null"]);
            }
            map.values_mut().for_each(nullable_cursors);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_cursors),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;
    use crate::api::convert::check_credit;

    fn re(p: &str) -> Regex {
        Regex::new(p).unwrap()
    }

    fn credit_ok(s: &str) -> bool {
        cec_client::wire::dec_str::parse(s).is_ok_and(|d| check_credit("x", d).is_ok())
    }

    const SAMPLES: &[&str] = &[
        "",
        "a",
        "A-1._:z",
        "a b",
        "é",
        "a/b",
        "a:b",
        "conf/s75",
        "0",
        "1",
        "1.5",
        "1.25",
        "1.125",
        "0.75",
        "10000",
        "10000.0",
        "10000.25",
        "10001",
        "01",
        " 1",
        "+1",
        ".5",
        "5.",
        "1e2",
        "-1",
        "99999",
        "9999.99",
        "00001",
        "1.250",
        "1.2500000",
        "010000.000",
        "0.000",
        "5",
        "05",
        "60",
        "61",
        "+5",
        "١",
        "2026-01-01/x",
        "-000001-12-31/e:1",
        "2026-1-01/x",
        "2026-01-01/",
        "2026-01-01/a/b",
        "+02026-01-01/x",
        "UTC",
        "America/New_York",
        "Etc/GMT+5",
        "Etc/GMT-14",
        "EST5EDT",
        "utc",
        "America//New_York",
        "/UTC",
        "UTC/",
        " UTC",
        "Europe/Kyiv ",
        "a.b",
        "Mars/Olympus_Mons",
        "\u{85}",
        "\u{feff}",
        "\u{3000}",
        " \t\n",
        "李",
        "x\u{a0}",
        "\u{200b}",
        "\u{1c}",
    ];

    /// The document's patterns accept exactly what the validators accept, on samples and
    /// on generated strings.
    fn agree(s: &str) {
        assert_eq!(re(ID).is_match(s), cec_core::id::validate(s).is_ok(), "id {s:?}");
        assert_eq!(re(SCOPE_ID).is_match(s), cec_core::doc::validate_scope_id(s).is_ok(), "scope id {s:?}");
        assert_eq!(re(SHA256).is_match(s), crate::node::is_valid_sha256(s), "sha256 {s:?}");
        assert_eq!(re(CREDIT).is_match(s), credit_ok(s), "credit {s:?}");
        let positive =
            credit_ok(s) && cec_client::wire::dec_str::parse(s).is_ok_and(|d| d > rust_decimal::Decimal::ZERO);
        assert_eq!(re(POSITIVE_CREDIT).is_match(s), positive, "positive credit {s:?}");
        let step = || cec_client::wire::dec_str::parse(s).is_ok_and(|d| cec_core::CreditRule::aca().is_step(d));
        assert_eq!(re(ENTRY_CECS).is_match(s), credit_ok(s) && step(), "entry cecs {s:?}");
        assert_eq!(re(RECORD_ID).is_match(s), record_id_ok(s), "record id {s:?}");
        assert_eq!(re(SCOPE).is_match(s), s.parse::<cec_core::ident::Scope>().is_ok(), "scope {s:?}");
        assert_eq!(re(NODE_ID).is_match(s), s.parse::<cec_core::ident::NodeId>().is_ok(), "node id {s:?}");
        // Text: something besides white space, as `str::trim` sees it.
        assert_eq!(re(TEXT).is_match(s), !s.trim().is_empty(), "text {s:?}");
        // Numbers in query strings: the one way of writing each.
        use crate::api::extract::{MAX_LIMIT, parse_whole};
        assert_eq!(re(LIMIT).is_match(s), parse_whole(s, MAX_LIMIT as u64).is_some_and(|n| n >= 1), "limit {s:?}");
        let wait = parse_whole(s, crate::api::feed::MAX_WAIT_SECS).is_some();
        assert_eq!(re(WAIT).is_match(s), wait, "wait {s:?}");
        assert_eq!(re(SINCE).is_match(s), parse_whole(s, crate::api::feed::MAX_SINCE).is_some(), "since {s:?}");
        assert_eq!(re(ENTRY_CURSOR).is_match(s), crate::api::portfolio::is_entry_cursor(s), "entry cursor {s:?}");
        let date = crate::api::credit::parse_date("from", Some(s)).is_ok();
        assert_eq!(re(DATE).is_match(s), date, "date {s:?}");
        // A time zone: the shape the node looks up is the pattern's, and every name it accepts has it.
        let shape = super::super::convert::is_time_zone_shape(s);
        assert_eq!(re(TIME_ZONE).is_match(s) && s.len() <= super::super::convert::MAX_TIME_ZONE_LEN, shape, "tz {s:?}");
        assert!(shape || time_zone_refused(s), "tz {s:?}");
        if shape && cec_core::event::parse_tz(s).is_ok() {
            assert!(!time_zone_refused(s), "tz {s:?}");
        }
    }

    /// Whether the node refuses `timezone` in an event (the shape check, then the lookup).
    fn time_zone_refused(tz: &str) -> bool {
        let req: cec_client::wire::NewEvent = serde_json::from_value(serde_json::json!({
            "title": "t", "provider": {"id": "p", "name": "P"}, "timezone": tz,
        }))
        .unwrap();
        super::super::convert::event_from(req, "e".into()).is_err()
    }

    #[test]
    fn the_date_pattern_is_the_calendar() {
        let mut n = 0;
        for year in [0, 1, 4, 99, 100, 200, 400, 1600, 1900, 1999, 2000, 2024, 2026, 2100, 2400, 9996, 9999] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let s = format!("{year:04}-{month:02}-{day:02}");
                    agree(&s);
                    n += usize::from(re(DATE).is_match(&s));
                }
            }
        }
        // Every day of those years from 1 on, and nothing else.
        let real = [1, 4, 99, 100, 200, 400, 1600, 1900, 1999, 2000, 2024, 2026, 2100, 2400, 9996, 9999]
            .iter()
            .map(|y| usize::try_from(jiff::civil::date(*y, 1, 1).days_in_year()).unwrap())
            .sum::<usize>();
        assert_eq!(n, real);
    }

    #[test]
    fn every_time_zone_of_the_database_fits_the_pattern() {
        let mut n = 0;
        for name in jiff::tz::db().available() {
            let name = name.as_str();
            assert!(re(TIME_ZONE).is_match(name) && name.len() <= 64, "{name}");
            assert!(!time_zone_refused(name), "{name}");
            n += 1;
        }
        assert!(n > 300, "only {n} time zones");
        for tz in TIME_ZONES {
            assert!(!time_zone_refused(tz), "{tz}");
        }
        // Shaped right but unknown, or not shaped right though jiff might find it: refused.
        for tz in ["Mars/Olympus_Mons", " UTC", "UTC ", "America//New_York", "/UTC", "UTC/", "Etc/../UTC", ""] {
            assert!(time_zone_refused(tz), "{tz:?}");
        }
    }

    fn record_id_ok(s: &str) -> bool {
        match s.split_once('/') {
            Some((e, sess)) => {
                cec_core::doc::validate_scope_id(e).is_ok() && cec_core::doc::validate_scope_id(sess).is_ok()
            }
            None => cec_core::id::validate(s).is_ok(),
        }
    }

    #[test]
    fn patterns_agree_with_the_validators() {
        for s in SAMPLES {
            agree(s);
        }
        agree(&"x".repeat(128));
        agree(&"x".repeat(129));
        agree(&"ab".repeat(32));
        for s in [
            "*",
            "event:E1",
            "event:a:b",
            "provider:P:1",
            "member:M-1",
            "member:",
            "other:x",
            "n0123456789abcdef01234567",
        ] {
            agree(s);
        }
        // A code the node makes fits the document's pattern.
        let code = cec_core::enrol::EnrolmentCode::new(
            "central.example.org:7421",
            cec_core::ident::NodeId::from_public_key(&[1; 32]),
            [2; 16],
            [3; 16],
        )
        .unwrap();
        assert!(re(ENROLMENT_CODE).is_match(&code.to_string()));
    }

    proptest! {
        #[test]
        fn patterns_agree_on_generated_strings(
            s in "[0-9a-fA-F.:/_ é+-]{0,10}|0{0,40}[0-9]{1,6}(\\.[0-9]{0,3}0{0,40})?|[ \t\u{85}\u{a0}\u{feff}\u{2000}-\u{200b}a李]{0,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}(/[a-z:]{0,2})?"
        ) {
            agree(&s);
        }
    }

    #[test]
    fn names_come_from_the_domain() {
        let mut doc = serde_json::to_value(super::super::openapi::spec_raw()).unwrap();
        refine(&mut doc);
        let kinds = &doc["components"]["schemas"]["SegmentJson"]["properties"]["kind"]["enum"];
        assert_eq!(kinds.as_array().map(Vec::len), Some(SegmentKind::ALL.len()), "{kinds}");
        for k in kinds.as_array().unwrap() {
            assert!(k.as_str().unwrap().parse::<SegmentKind>().is_ok(), "{k}");
        }
    }
}
