//! The JSON shapes of the local API (`docs/api.md`), shared by the daemon and the client.
//!
//! Only the HTTP layer knows these: the daemon converts them to and from `cec-core`'s domain
//! types. Credit values are decimal strings (never JSON numbers, never floats); instants are
//! RFC 3339 (responses in UTC); dates are `YYYY-MM-DD`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Instants in request bodies: RFC 3339 `date-time` exactly, what the OpenAPI document's
/// `format: date-time` names. jiff alone takes more (a space for `T`, an offset without its
/// colon or minutes, a `[time zone]` annotation, a comma before the fraction); a client that
/// sends those would work here and fail against any other implementation of the contract.
pub mod rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer};

    /// Whether `s` is an RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS`, an optional fraction,
    /// then `Z` or `+HH:MM`/`-HH:MM` (`T` and `Z` in either case, as RFC 3339 allows).
    pub fn is_date_time(s: &str) -> bool {
        let b = s.as_bytes();
        let digits = |from: usize, n: usize| b.get(from..from + n).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
        let head = digits(0, 4)
            && at(4, b"-")
            && digits(5, 2)
            && at(7, b"-")
            && digits(8, 2)
            && at(10, b"Tt")
            && digits(11, 2)
            && at(13, b":")
            && digits(14, 2)
            && at(16, b":")
            && digits(17, 2);
        if !head {
            return false;
        }
        let mut i = 19;
        if at(i, b".") {
            let start = i + 1;
            i = start;
            while at(i, b"0123456789") {
                i += 1;
            }
            if i == start {
                return false;
            }
        }
        match b.len() - i {
            1 => at(i, b"Zz"),
            6 => at(i, b"+-") && digits(i + 1, 2) && at(i + 3, b":") && digits(i + 4, 2),
            _ => false,
        }
    }

    /// Parses an RFC 3339 `date-time` (see [`is_date_time`]).
    pub fn parse(s: &str) -> Result<Timestamp, String> {
        let err = || format!("{s:?} is not an RFC 3339 date-time like \"2027-03-01T09:00:00Z\"");
        if !is_date_time(s) {
            return Err(err());
        }
        s.parse::<Timestamp>().map_err(|e| format!("{}: {e}", err()))
    }

    /// Reads an RFC 3339 `date-time` string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    /// [`deserialize`] for an optional field (`#[serde(default)]` covers its absence).
    pub mod option {
        use jiff::Timestamp;
        use serde::{Deserialize, Deserializer};

        /// Reads `null` or an RFC 3339 `date-time` string.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            Option::<String>::deserialize(d)?.map(|s| super::parse(&s)).transpose().map_err(serde::de::Error::custom)
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn exactly_rfc_3339() {
            for ok in [
                "2027-03-01T09:00:00Z",
                "2027-03-01t09:00:00z",
                "2027-03-01T09:00:00.5Z",
                "2027-03-01T09:00:00.123456789+05:30",
                "2027-03-01T09:00:00-00:00",
            ] {
                assert!(super::parse(ok).is_ok(), "{ok}");
            }
            for bad in [
                "",
                "2027-03-01",
                "2027-03-01 09:00:00Z",
                "2027-03-01T09:00Z",
                "2027-03-01T09:00:00",
                "2027-03-01T09:00:00+0530",
                "2027-03-01T09:00:00+05",
                "2027-03-01T09:00:00Z[UTC]",
                "2027-03-01T09:00:00,5Z",
                "2027-03-01T09:00:00.Z",
                "2027-03-01T09:00:00Z ",
                " 2027-03-01T09:00:00Z",
                "2027-13-01T09:00:00Z",
                "2027-02-30T09:00:00Z",
                "2027-03-01T25:00:00Z",
                "+002027-03-01T09:00:00Z",
                "２０２７-03-01T09:00:00Z",
            ] {
                assert!(super::parse(bad).is_err(), "{bad:?}");
            }
        }
    }
}

/// Credit as a decimal string. Deserializing accepts only strings, so no client can send a
/// float where credit is concerned.
pub mod dec_str {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `"1.25"`.
    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&d.normalize())
    }

    /// Reads `"1.25"`; a JSON number is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).map_err(serde::de::Error::custom)
    }

    /// The one grammar of credit strings: digits, optionally a point and more digits
    /// (`[0-9]+(\.[0-9]+)?`). No sign, no spaces, no exponent, no bare point.
    pub fn parse(s: &str) -> Result<Decimal, String> {
        let err = || format!("{s:?} is not a decimal string like \"1.25\"");
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let ok = match s.split_once('.') {
            Some((int, frac)) => digits(int) && digits(frac),
            None => digits(s),
        };
        if !ok {
            return Err(err());
        }
        s.parse::<Decimal>().map_err(|_| err())
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn one_grammar() {
            for ok in ["0", "1", "1.25", "0.5", "10000", "007.50"] {
                assert!(super::parse(ok).is_ok(), "{ok}");
            }
            for bad in [
                "", " 1", "1 ", "+1", "-1", ".5", "5.", "1e-28", "1E2", "1_000", "1,5", "0x10", "NaN", "inf", "1.2.3",
                "١",
            ] {
                assert!(super::parse(bad).is_err(), "{bad:?}");
            }
        }
    }

    /// The same for `Option<Decimal>`.
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `"1.25"` or `null`.
        pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.collect_str(&d.normalize()),
                None => s.serialize_none(),
            }
        }

        /// Reads `"1.25"` or `null`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
            Option::<String>::deserialize(d)?.map(|s| super::parse(&s).map_err(serde::de::Error::custom)).transpose()
        }
    }

    /// The same for maps of decimals.
    pub mod map {
        use std::collections::BTreeMap;

        use rust_decimal::Decimal;
        use serde::ser::SerializeMap;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `{"ethics": "1.5"}`.
        pub fn serialize<S: Serializer>(m: &BTreeMap<String, Decimal>, s: S) -> Result<S::Ok, S::Error> {
            let mut out = s.serialize_map(Some(m.len()))?;
            for (k, v) in m {
                out.serialize_entry(k, &v.normalize().to_string())?;
            }
            out.end()
        }

        /// Reads `{"ethics": "1.5"}`.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Decimal>, D::Error> {
            BTreeMap::<String, String>::deserialize(d)?
                .into_iter()
                .map(|(k, v)| super::parse(&v).map(|d| (k, d)).map_err(serde::de::Error::custom))
                .collect()
        }
    }
}

/// Reads a present field as `Some(value)`, so `null` becomes `Some(None)` (clear) while an
/// absent field stays `None` (leave as is, via `#[serde(default)]`).
fn double_option<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The error body: `{"error": {"code", "message", "field"?}}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// A stable code and a message for people.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// `bad_request`, `invalid_json`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `too_large`, `invalid`, `internal`, `unavailable`.
    pub code: String,
    /// For people.
    pub message: String,
    /// The offending field, with `invalid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A page of a list.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/health`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// This node.
    pub node_id: String,
    /// `central`, `kiosk`, `member`, `staff`, or `none` before enrollment.
    pub role: String,
    /// The daemon's version.
    pub version: String,
}

/// `GET /v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NodeInfo {
    /// This node.
    pub node_id: String,
    /// Its role.
    pub role: String,
    /// Its public key, base64url.
    pub public_key: String,
    /// The organization key it pins, base64url.
    pub org_public_key: Option<String>,
    /// Its credential.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<serde_json::Value>,
    /// Its data directory.
    pub data_dir: String,
    /// The address the API listens on.
    pub listen: String,
    /// What another node passes to `POST /v1/peers` to sync with this one (null while the
    /// peer listener is off).
    #[serde(default)]
    pub peer_url: Option<String>,
}

/// A node's credential, as the local API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CredentialJson {
    /// The organization's name.
    pub org: String,
    /// The node it is for.
    pub node_id: String,
    /// Its role: `central`, `kiosk`, `member` or `staff`.
    pub role: String,
    /// What it may sync: `*`, `event:<id>`, `provider:<id>`, `member:<id>`.
    pub scopes: Vec<String>,
    /// When it was signed.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_at: Timestamp,
    /// When it stops being accepted.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    /// The signed credential, to install with `POST /v1/node/credential`.
    pub credential: String,
    /// On a node's own credential: when the organization revoked it, if this node heard of it
    /// (a revoked node syncs with no one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Timestamp>,
}

/// `POST /v1/admin/enrolments`: an enrolment code to issue (central node only).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEnrolment {
    /// The role it grants: `kiosk`, `member` or `staff`.
    pub role: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// How many nodes may enrol with it (1 to 10000).
    pub uses: u32,
    /// Until when it may be used.
    #[serde(deserialize_with = "rfc3339::deserialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    /// When the credentials it gives expire; default `expires_at`, never before it.
    #[serde(default, deserialize_with = "rfc3339::option::deserialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub credential_expires_at: Option<Timestamp>,
    /// `HOST:PORT` where new nodes reach this node's peer listener; default the address it
    /// listens on (required when that is every address, `0.0.0.0` or `[::]`).
    #[serde(default)]
    pub peer_address: Option<String>,
}

/// An enrolment code the central node issued.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolmentJson {
    /// The code, for `POST /v1/node/enroll` (`cec enroll CODE`) on the new nodes. Shown once:
    /// the central node keeps only a hash of its secret.
    pub code: String,
    /// The role it grants.
    pub role: String,
    /// The scopes it grants.
    pub scopes: Vec<String>,
    /// How many nodes may enrol with it.
    pub uses: u32,
    /// Until when it may be used.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    /// When the credentials it gives expire.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub credential_expires_at: Timestamp,
    /// The central node's peer URL the code carries.
    pub central_url: String,
}

/// `POST /v1/node/enroll`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrolment code (`cecenrol…`).
    pub code: String,
}

/// What enrolling gave this node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrolledJson {
    /// The installed credential.
    pub credential: CredentialJson,
    /// The organization key now pinned, base64url.
    pub org_public_key: String,
    /// The central node, now a peer of source `central`.
    pub central_id: String,
    /// Its peer URL.
    pub central_url: String,
}

/// `POST /v1/admin/revocations`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewRevocation {
    /// The node whose credentials to revoke.
    pub node_id: String,
}

/// A revocation: signed by the organization key, it travels with sync.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevocationJson {
    /// The revoked node.
    pub node_id: String,
    /// When the organization revoked it.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub revoked_at: Timestamp,
    /// The signed revocation.
    pub revocation: String,
}

/// `POST /v1/admin/credentials`: a credential to issue (central node only).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IssueCredential {
    /// The node's public key, base64url (its `public_key` in `GET /v1/node`).
    pub node_public_key: String,
    /// `kiosk`, `member`, `staff` or `central`.
    pub role: String,
    /// What it may sync.
    pub scopes: Vec<String>,
    /// When it expires.
    #[serde(deserialize_with = "rfc3339::deserialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
}

/// `POST /v1/node/credential`: installs a credential and pins the organization key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InstallCredential {
    /// The signed credential.
    pub credential: String,
    /// The organization's public key, base64url.
    pub org_public_key: String,
}

/// `POST /v1/peers`: a static peer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPeer {
    /// The peer's `peer_url` (from its `GET /v1/node`).
    pub url: String,
}

/// A peer this node syncs with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PeerJson {
    /// Its node id.
    pub peer_id: String,
    /// Its peer URL.
    pub url: String,
    /// Its role, once a sync saw its credential.
    pub role: Option<String>,
    /// `static`, `central` or `mdns`.
    pub source: String,
    /// When it last answered.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_seen: Option<Timestamp>,
    /// When a sync with it last completed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_sync: Option<Timestamp>,
    /// `ok`, `failing` or `never_synced`.
    pub state: String,
    /// The last sync's error.
    pub last_error: Option<String>,
    /// Its clock as last measured at a sync, or null before any.
    #[serde(default)]
    pub clock: Option<PeerClockJson>,
}

/// `POST /v1/sync`: one peer, or all of them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SyncRequest {
    /// Only this peer.
    #[serde(default)]
    pub peer_id: Option<String>,
}

/// What a sync round moved with one peer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncPeerJson {
    /// The peer.
    pub peer_id: String,
    /// Documents something was sent for.
    pub docs_sent: usize,
    /// Documents the peer's changes changed here.
    pub docs_received: usize,
    /// Bytes of sync frames sent (the hello and TLS not counted).
    pub bytes_sent: u64,
    /// Bytes of sync frames received.
    pub bytes_received: u64,
    /// Requests made to the peer, the hello included: 1 when nothing differed (the hello's
    /// answer showed it) or when this node's changes went with the hello and the peer's answer
    /// ended the round, otherwise one more per sync frame.
    #[serde(default)]
    pub frames_sent: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// `POST /v1/sync`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncResult {
    /// One entry per peer synced.
    pub peers: Vec<SyncPeerJson>,
}

/// `GET /v1/sync/status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SyncStatus {
    /// This node.
    pub node_id: String,
    /// Whether it has a credential (without one it syncs with no one).
    pub enrolled: bool,
    /// What another node passes to `POST /v1/peers` (null while the peer listener is off).
    #[serde(default)]
    pub peer_url: Option<String>,
    /// Its peers.
    pub peers: Vec<PeerJson>,
    /// What the central node has not acknowledged yet (null on the central node itself).
    #[serde(default)]
    pub central: Option<CentralStatus>,
    /// Every node whose clock this node measured (peers, and nodes that synced with it), by id.
    #[serde(default)]
    pub clocks: Vec<PeerClockJson>,
    /// The bound beyond which a node's clock flags its check-ins `clock_skew`, in seconds.
    #[serde(default)]
    pub clock_skew_bound_secs: u64,
    /// What retention dropped from this node, and what it keeps for now.
    #[serde(default)]
    pub retention: RetentionStatus,
}

/// In `GET /v1/sync/status`: retention. A kiosk drops an event's documents (roster and
/// attendance) `retention_days` after the event's end, once the central node holds every one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RetentionStatus {
    /// Whether this node drops ended events: a kiosk that knows its central node.
    pub active: bool,
    /// Why it does not, when it does not.
    #[serde(default)]
    pub inactive_reason: Option<String>,
    /// Days after an event's end before a kiosk drops it (cecd.toml `retention_days`).
    pub retention_days: u32,
    /// How many events were retired from this node.
    pub retired_count: u64,
    /// The events retired from this node, most recently retired first (at most 100).
    pub retired: Vec<RetiredEventJson>,
    /// Events due that the last pass kept, and why (something the central node has not
    /// acknowledged yet).
    pub held: Vec<HeldEventJson>,
    /// When the last pass ran, by the clock it judged with (null before the first).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_pass_at: Option<Timestamp>,
}

/// An event retired from this node: its documents are gone from it and no sync brings them
/// back.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RetiredEventJson {
    /// The event.
    pub event_id: String,
    /// When it ended (the end of its last session).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ended_at: Timestamp,
    /// When it was retired (this node's clock).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub retired_at: Timestamp,
    /// The central node that held every document.
    pub central_id: String,
    /// Documents dropped (the event's and its sessions' attendance).
    pub documents: u64,
    /// Check-ins dropped.
    pub checkins: u64,
}

/// An event due for retention that the last pass kept.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct HeldEventJson {
    /// The event.
    pub event_id: String,
    /// When it became due (its end plus `retention_days`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub due_at: Timestamp,
    /// Why it was kept.
    pub reason: String,
}

/// In `GET /v1/sync/status`: the check-ins this node holds that the central node did not have
/// at their last sync (every check-in, before the first).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CentralStatus {
    /// The central node's id, once this node knows it (enrolment or a sync).
    #[serde(default)]
    pub peer_id: Option<String>,
    /// Check-ins not yet at the central node.
    pub checkins_pending: u64,
    /// Attendance documents holding them.
    pub documents_pending: u64,
}

/// An endorsement of the provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EndorsementJson {
    /// Endorsement number.
    pub number: String,
    /// First valid day.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub valid_from: Date,
    /// Last valid day.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub valid_until: Date,
}

/// An event's provider.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderJson {
    /// Provider id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Endorsement, or null.
    #[serde(default)]
    pub endorsement: Option<EndorsementJson>,
}

/// An event's door policy.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyJson {
    /// Minutes of grace at the door.
    #[serde(default)]
    pub grace_minutes: u32,
    /// Whether anything short of full attendance earns nothing.
    #[serde(default)]
    pub full_attendance_required: bool,
}

/// `POST /v1/events`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    /// Id; made by the node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Title.
    pub title: String,
    /// Provider.
    pub provider: ProviderJson,
    /// Venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
    /// IANA time zone of the venue.
    pub timezone: String,
    /// Door policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyJson>,
}

/// An event.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EventJson {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Provider.
    pub provider: ProviderJson,
    /// Venue.
    pub venue: Option<String>,
    /// IANA time zone.
    pub timezone: String,
    /// Door policy.
    pub policy: PolicyJson,
    /// Number of sessions.
    pub session_count: usize,
    /// Number of members on the roster.
    pub roster_count: usize,
}

/// A segment of a session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SegmentJson {
    /// `instruction`, `keynote`, `practice`, `panel`, `demonstration`, `meal`, `break`,
    /// `open_forum`, `networking`, `exhibit`, `business`.
    pub kind: String,
    /// Minutes.
    pub minutes: u32,
}

/// `POST /v1/events/{event_id}/sessions`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// Id; made by the node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Title.
    pub title: String,
    /// Credit category (default `general`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// `in_person` (default) or `online_live`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// When the first segment starts.
    #[serde(deserialize_with = "rfc3339::deserialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Timestamp,
    /// The segments, in order.
    pub segments: Vec<SegmentJson>,
}

/// A session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionJson {
    /// Id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// Title.
    pub title: String,
    /// Credit category.
    pub category: String,
    /// Format.
    pub format: String,
    /// Start.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub starts_at: Timestamp,
    /// End.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub ends_at: Timestamp,
    /// Segments.
    pub segments: Vec<SegmentJson>,
    /// Creditable minutes.
    pub creditable_minutes: u32,
    /// The most CECs the session earns.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.25"))]
    pub max_cecs: Decimal,
}

/// A member on a roster.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RosterMemberJson {
    /// Member id.
    pub member_id: String,
    /// Name.
    pub name: String,
    /// Email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// `POST /v1/events/{event_id}/roster` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// Members.
    pub members: Vec<RosterMemberJson>,
}

/// `POST /v1/checkins`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCheckIn {
    /// Id; made by the node (UUIDv7) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The member.
    pub member_id: String,
    /// `in` or `out`.
    pub direction: String,
    /// When; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "rfc3339::option::deserialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub at: Option<Timestamp>,
    /// `badge` (default), `qr`, `manual`, `online_log`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// A recorded check-in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CheckInJson {
    /// Id.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The member.
    pub member_id: String,
    /// The member's name from the roster, when on it.
    pub member_name: Option<String>,
    /// `in` or `out`.
    pub direction: String,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// How.
    pub method: String,
    /// The node that recorded it.
    pub kiosk_id: String,
    /// When it was stored.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub recorded_at: Timestamp,
    /// `unknown_member` when the member is not on the roster; `clock_skew` when the node that
    /// recorded it had a clock off by more than the bound (see `clock_skew`).
    pub flags: Vec<String>,
    /// The correction that voided this check-in, or null: a voided check-in stays listed but
    /// earns no credit.
    #[serde(default)]
    pub voided: Option<VoidJson>,
    /// The recording node's clock offset when it was off by more than `clock_skew_bound_secs`
    /// around the time of this check-in, or null (within the bound, or never measured). Derived
    /// when read; the check-in and its credit are unchanged.
    #[serde(default)]
    pub clock_skew: Option<ClockSkewJson>,
}

/// How far a node's clock was off, as measured at a sync.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ClockSkewJson {
    /// The node's clock minus the reference clock, in milliseconds (positive: ahead). The
    /// reference is the answering node's clock; for its own check-ins, a node that is not the
    /// central node answers its clock against the central node's.
    pub offset_ms: i64,
    /// The measurement's round trip in milliseconds: the offset is exact within half of it.
    pub round_trip_ms: i64,
    /// When this offset was last measured (the answering node's clock).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub measured_at: Timestamp,
}

/// A node's clock as this node last measured it, in `GET /v1/peers` and `GET /v1/sync/status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PeerClockJson {
    /// The node.
    pub node_id: String,
    /// Its clock minus this node's, in milliseconds (positive: ahead).
    pub offset_ms: i64,
    /// The measurement's round trip in milliseconds: the offset is exact within half of it.
    pub round_trip_ms: i64,
    /// When it was last measured (this node's clock).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub measured_at: Timestamp,
    /// Whether the offset is beyond `clock_skew_bound_secs` by more than its error: the
    /// check-ins this node records now are flagged `clock_skew`.
    pub skewed: bool,
}

/// Why and by whom a check-in was voided.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct VoidJson {
    /// When it was voided.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// The node that voided it.
    pub by: String,
    /// Why (may be empty).
    pub reason: String,
}

/// `POST /v1/checkins/{id}/void`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VoidRequest {
    /// Why the check-in is voided (at most 500 characters, no control characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /v1/open-tickets`: a one-time link that opens a page of the node in a browser.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// The page to open: `kiosk` (the default), `organize` or `portfolio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// Pair the browser that opens the link (the kiosk screen only): its session lasts
    /// `kiosk_pairing_days`, is renewed while in use and reaches only the kiosk screen's routes,
    /// so the device opens `/kiosk` from then on without a link.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pair: bool,
    /// With `pair`: what to call the device in `GET /v1/pairings` (at most 100 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A one-time link: open `url` in a browser within `expires_in_secs` seconds, once.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Ticket {
    /// `/open?ticket=...` on this node; the client puts its own scheme, host and port before it.
    pub path: String,
    /// The page it opens.
    pub page: String,
    /// Seconds until the ticket stops working.
    pub expires_in_secs: u64,
    /// Whether the link pairs the browser that opens it.
    #[serde(default)]
    pub pair: bool,
    /// How long the session it opens lasts, in seconds: a day, or (paired) the pairing's
    /// lifetime, which starts again each day the screen is used.
    #[serde(default)]
    pub session_secs: u64,
}

/// `GET /v1/pairings`: a browser paired with this node (`cec open kiosk --pair`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PairingJson {
    /// The pairing's id (`DELETE /v1/pairings/{id}` ends it).
    pub id: String,
    /// The page it opens.
    pub page: String,
    /// What the device was called when it was paired (may be empty).
    pub label: String,
    /// When the browser was paired.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub paired_at: Timestamp,
    /// When its session ends unless the screen is used before (each day of use moves it).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: Timestamp,
    /// When it was ended, if it was.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_at: Option<Timestamp>,
    /// `active`, `expired` or `ended`.
    pub state: String,
}

/// `POST /v1/checkins/batch`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckInBatch {
    /// The check-ins, at most 1000.
    pub checkins: Vec<serde_json::Value>,
}

/// One item's result in a batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BatchItem {
    /// Position in the request.
    pub index: usize,
    /// The HTTP status this item alone would have had (201, 200, 404, 409, 422, ...).
    pub status: u16,
    /// The check-in, when stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin: Option<CheckInJson>,
    /// The error, when not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to a batch.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BatchResult {
    /// One per item, in order.
    pub results: Vec<BatchItem>,
}

/// A member's attendance at one session.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceJson {
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The session's title.
    pub session_title: String,
    /// Minutes present within the session.
    pub attended_minutes: u64,
    /// Minutes present during creditable segments.
    pub creditable_minutes: u64,
    /// CECs earned.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.25"))]
    pub cecs: Decimal,
    /// The most the session offers.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.25"))]
    pub max_cecs: Decimal,
    /// Whether the credit is verified (valid endorsement on the session's date).
    pub verified: bool,
    /// `no_checkout`, `stray_checkout`, `partial_attendance`, `below_minimum`, ...
    pub flags: Vec<String>,
    /// Why the credit is less than the most, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `GET /v1/members/{member_id}/attendance`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceList {
    /// One per session attended.
    pub items: Vec<AttendanceJson>,
}

/// One line of credit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreditRecordJson {
    /// Record id: `<event_id>/<session_id>` for verified credit, the entry id otherwise.
    pub id: String,
    /// `verified` or `self_reported`.
    pub source: String,
    /// Date.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// Title.
    pub title: String,
    /// Provider.
    pub provider: Option<String>,
    /// Endorsement number (verified).
    pub endorsement_number: Option<String>,
    /// Category.
    pub category: String,
    /// Contact minutes.
    pub contact_minutes: Option<u64>,
    /// Contact hours.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.25"))]
    pub contact_hours: Decimal,
    /// CECs.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.25"))]
    pub cecs: Decimal,
    /// CEU equivalent.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "0.125"))]
    pub ceus: Decimal,
    /// Verification code (verified).
    pub verification_code: Option<String>,
}

/// `GET /v1/members/{member_id}/cecs`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CecSummary {
    /// The member.
    pub member_id: String,
    /// Verified CECs.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub verified_cecs: Decimal,
    /// Self-reported CECs.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub self_reported_cecs: Decimal,
    /// Both.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total_cecs: Decimal,
    /// CEU equivalent of the total.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ceus: Decimal,
    /// Total by category.
    #[serde(with = "dec_str::map")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub by_category: BTreeMap<String, Decimal>,
    /// The lines counted.
    pub records: Vec<CreditRecordJson>,
    /// Of the verified credit counted, what this node derived from check-ins it holds and the
    /// member's portfolio does not hold yet: the central node has not verified it. Present on
    /// every node but the central one (which verifies); absent from older nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed: Option<UnconfirmedCredit>,
}

/// Verified credit a node counts from its own check-ins before the central node verifies it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UnconfirmedCredit {
    /// How many sessions (records).
    pub sessions: u32,
    /// Their CECs.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub cecs: Decimal,
    /// Their record ids (`<event_id>/<session_id>`).
    pub record_ids: Vec<String>,
}

/// `PUT /v1/blobs`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BlobJson {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// One change in the feed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangeJson {
    /// The document changed.
    pub doc_id: String,
    /// What changed: `event`, `session`, `roster`, `checkin`, `entry`, `goal`, `requirement`,
    /// `petition`, `profile`, `verified`, or `retired` (a kiosk dropped the event `id` and
    /// everything of it: its listings, check-ins included, are gone from this node).
    pub kind: String,
    /// The id of what changed.
    pub id: String,
}

/// `GET /v1/changes`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Changes {
    /// Changes after `since`, oldest first.
    pub changes: Vec<ChangeJson>,
    /// Pass as `since` next time.
    pub cursor: String,
}

/// `POST /v1/portfolios/{member_id}/entries`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEntry {
    /// Id; made by the node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `activity`, `experience`, `work_sample`, `learning_activity`, `note`.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// Self-reported CECs (activities only), a multiple of 0.25.
    #[serde(default, with = "dec_str::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "1.5"))]
    pub cecs: Option<Decimal>,
    /// Contact minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_minutes: Option<u32>,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Evidence blobs (SHA-256).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

/// `PATCH /v1/portfolios/{member_id}/entries/{entry_id}`: fields to change; `null` clears an
/// optional field (absent leaves it as it is).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntryPatch {
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Option<Option<String>>,
    /// Date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub date: Option<Date>,
    /// CECs (string).
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub cecs: Option<Option<String>>,
    /// Contact minutes.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub contact_minutes: Option<Option<u32>>,
    /// Category.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub category: Option<Option<String>>,
    /// Provider.
    #[serde(default, deserialize_with = "double_option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub provider: Option<Option<String>>,
    /// Evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<String>>,
}

/// A portfolio entry.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EntryJson {
    /// Id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Date.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub date: Date,
    /// Self-reported CECs as given.
    #[serde(with = "dec_str::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub cecs: Option<Decimal>,
    /// Contact minutes.
    pub contact_minutes: Option<u32>,
    /// Category.
    pub category: Option<String>,
    /// Provider.
    pub provider: Option<String>,
    /// Evidence.
    pub evidence: Vec<String>,
    /// The self-reported CECs this entry counts for (given, or from contact minutes), if any.
    #[serde(with = "dec_str::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub credited_cecs: Option<Decimal>,
}

/// A benchmark of a goal.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BenchmarkJson {
    /// Title.
    pub title: String,
    /// CECs by `due`.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub target_cecs: Decimal,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due: Date,
}

/// `PUT /v1/portfolios/{member_id}/goals/{goal_id}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    /// Title.
    pub title: String,
    /// CECs wanted.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub target_cecs: Decimal,
    /// Only this category counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Credit from this day counts; pace is measured from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub start: Option<Date>,
    /// Due date.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due: Date,
    /// Checkpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benchmarks: Vec<BenchmarkJson>,
}

/// A benchmark's progress.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct BenchmarkProgressJson {
    /// Title.
    pub title: String,
    /// Target.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub target_cecs: Decimal,
    /// Due.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due: Date,
    /// Earned by its due date.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub earned_cecs: Decimal,
    /// `met`, `missed`, `upcoming`.
    pub status: String,
}

/// A goal with its progress.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GoalJson {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Target.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub target_cecs: Decimal,
    /// Category.
    pub category: Option<String>,
    /// Start.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub start: Option<Date>,
    /// Due.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub due: Date,
    /// Earned toward it.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub earned_cecs: Decimal,
    /// Still needed.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub remaining_cecs: Decimal,
    /// What a steady pace would have by today.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expected_cecs: Decimal,
    /// Reached.
    pub met: bool,
    /// On track.
    pub on_track: bool,
    /// Benchmarks.
    pub benchmarks: Vec<BenchmarkProgressJson>,
}

/// `PUT /v1/portfolios/{member_id}/requirements/{program_id}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProgramInput {
    /// Title.
    pub title: String,
    /// First day credit counts.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub window_start: Date,
    /// Last day credit counts.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub window_end: Date,
    /// CECs needed in all.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total_cecs: Decimal,
    /// CECs needed per category.
    #[serde(default, with = "dec_str::map")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub minimums: BTreeMap<String, Decimal>,
    /// Only verified credit counts.
    #[serde(default)]
    pub verified_only: bool,
}

/// A category's progress in a program.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CategoryProgressJson {
    /// Category.
    pub category: String,
    /// Required.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub required_cecs: Decimal,
    /// Earned.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub earned_cecs: Decimal,
    /// Missing.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub missing_cecs: Decimal,
    /// Met.
    pub met: bool,
}

/// A program with what is met and what is missing.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProgramJson {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Window start.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub window_start: Date,
    /// Window end.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub window_end: Date,
    /// Total needed.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total_cecs: Decimal,
    /// Minimums.
    #[serde(with = "dec_str::map")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub minimums: BTreeMap<String, Decimal>,
    /// Only verified credit counts.
    pub verified_only: bool,
    /// Earned in the window.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub earned_cecs: Decimal,
    /// Missing toward the total.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub missing_cecs: Decimal,
    /// Everything met.
    pub met: bool,
    /// Per category.
    pub categories: Vec<CategoryProgressJson>,
}

/// `POST /v1/portfolios/{member_id}/petitions`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPetition {
    /// Id; made by the node when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The association asked.
    pub target_association: String,
    /// Chosen credit records (see `CreditRecordJson::id`).
    pub record_ids: Vec<String>,
    /// Note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `PATCH /v1/portfolios/{member_id}/petitions/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PetitionPatch {
    /// `draft`, `submitted`, `accepted`, `partially_accepted`, `denied`.
    pub status: String,
    /// Credit accepted (required for `partially_accepted`).
    #[serde(default, with = "dec_str::option", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub accepted_cecs: Option<Decimal>,
}

/// A petition.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PetitionJson {
    /// Id.
    pub id: String,
    /// The association asked.
    pub target_association: String,
    /// Chosen records.
    pub record_ids: Vec<String>,
    /// Note.
    pub note: Option<String>,
    /// Status.
    pub status: String,
    /// CECs requested (the chosen records' total).
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub requested_cecs: Decimal,
    /// CECs accepted, once answered.
    #[serde(with = "dec_str::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub accepted_cecs: Option<Decimal>,
    /// When created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    pub created: Date,
}

/// Totals of a set of credit lines.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TotalsJson {
    /// Verified.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub verified_cecs: Decimal,
    /// Self-reported.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub self_reported_cecs: Decimal,
    /// Both.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub total_cecs: Decimal,
    /// CEU equivalent.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub ceus: Decimal,
    /// Contact hours.
    #[serde(with = "dec_str")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub contact_hours: Decimal,
    /// By category.
    #[serde(with = "dec_str::map")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, String>))]
    pub by_category: BTreeMap<String, Decimal>,
}

/// `GET .../petitions/{id}/packet?format=json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PacketJson {
    /// The petition.
    pub petition: PetitionJson,
    /// The member.
    pub member_id: String,
    /// The member's name.
    pub member_name: Option<String>,
    /// The chosen records.
    pub records: Vec<CreditRecordJson>,
    /// Their totals.
    pub totals: TotalsJson,
}

/// `GET .../transcript?format=json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TranscriptJson {
    /// The member.
    pub member_id: String,
    /// The member's name.
    pub member_name: Option<String>,
    /// From (inclusive).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub from: Option<Date>,
    /// To (inclusive).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub to: Option<Date>,
    /// The lines.
    pub records: Vec<CreditRecordJson>,
    /// Their totals.
    pub totals: TotalsJson,
}

/// A member's profile.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ProfileJson {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
}

/// `GET /v1/portfolios/{member_id}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PortfolioJson {
    /// The member.
    pub member_id: String,
    /// Profile.
    pub profile: ProfileJson,
    /// Educational history: verified records.
    pub verified: Vec<CreditRecordJson>,
    /// Self-documented entries.
    pub entries: Vec<EntryJson>,
    /// Goals with progress.
    pub goals: Vec<GoalJson>,
    /// Requirement programs with progress.
    pub requirements: Vec<ProgramJson>,
    /// Petitions.
    pub petitions: Vec<PetitionJson>,
    /// Totals of all credit.
    pub totals: TotalsJson,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patch_tells_null_from_absent() {
        let p: EntryPatch = serde_json::from_str(r#"{"description": null, "cecs": "1.5"}"#).unwrap();
        assert_eq!(p.description, Some(None));
        assert_eq!(p.cecs, Some(Some("1.5".to_owned())));
        assert_eq!(p.category, None);
    }

    #[test]
    fn credit_is_a_string_never_a_number() {
        let ok: PetitionPatch = serde_json::from_str(r#"{"status": "accepted", "accepted_cecs": "5.5"}"#).unwrap();
        assert_eq!(ok.accepted_cecs, Some(Decimal::new(55, 1)));
        assert!(serde_json::from_str::<PetitionPatch>(r#"{"status": "accepted", "accepted_cecs": 5.5}"#).is_err());
        assert!(serde_json::from_str::<PetitionPatch>(r#"{"status": "accepted", "accepted_cecs": "1e3"}"#).is_err());
        let s = serde_json::to_string(&BlobJson { sha256: "a".into(), size: 1 }).unwrap();
        assert!(s.contains("\"size\":1"));
    }
}
