//! Typed identities of the sync layer: [`NodeId`], [`Role`], [`Scope`] and [`Scopes`].
//!
//! Strings stay at the edges (credentials, flags, the wire); inside the node these types cross
//! module boundaries. A scope decides which documents two nodes exchange: a document is
//! exchanged when it is inside both nodes' scopes (`docs/design.md`, Authorization).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::doc::{DocId, DocIdError, validate_scope_id};
use crate::id::{IdError, validate};

/// The number of hex digits after the `n` of a node id.
const NODE_ID_HEX: usize = 24;

/// A node's id: `n` followed by 24 lowercase hex digits of the SHA-256 of its ed25519 public
/// key. Derived, never chosen, so a credential naming a key names exactly one node id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(String);

/// Why a string is not a node id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeIdError {
    /// The string does not start with `n`.
    #[error("node id must start with 'n'")]
    Prefix,
    /// The string has the wrong length.
    #[error("node id must be 'n' and {NODE_ID_HEX} hex digits, got {0} characters")]
    Length(usize),
    /// A character after the `n` is not a lowercase hex digit.
    #[error("node id holds {0:?}, only lowercase hex digits may follow 'n'")]
    BadChar(char),
}

impl NodeId {
    /// The node id of the ed25519 public key `key`.
    pub fn from_public_key(key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(key);
        let mut s = String::with_capacity(1 + NODE_ID_HEX);
        s.push('n');
        for b in &digest[..NODE_ID_HEX / 2] {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        Self(s)
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NodeId {
    type Err = NodeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix('n').ok_or(NodeIdError::Prefix)?;
        if let Some(c) = hex.chars().find(|c| !matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(NodeIdError::BadChar(c));
        }
        if hex.len() != NODE_ID_HEX {
            return Err(NodeIdError::Length(s.chars().count()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a node is for; carried in its credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The central node: holds the organization key, sees everything, derives records.
    Central,
    /// A door kiosk: records check-ins.
    Kiosk,
    /// A member's own device.
    Member,
    /// A provider's or the association's field staff.
    Staff,
}

/// Why a string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}, expected central, kiosk, member or staff")]
pub struct RoleError(String);

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Self::Central, Self::Kiosk, Self::Member, Self::Staff];

    /// `central`, `kiosk`, `member` or `staff`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Central => "central",
            Self::Kiosk => "kiosk",
            Self::Member => "member",
            Self::Staff => "staff",
        }
    }
}

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| RoleError(s.to_owned()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One grant of a credential: which documents a node may hold and exchange.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `*`: every document (the central node).
    All,
    /// `event:<event_id>`: the event document and its attendance documents.
    Event(String),
    /// `provider:<provider_id>`: every event of that provider and its attendance.
    Provider(String),
    /// `member:<member_id>`: that member's portfolio.
    Member(String),
}

/// Why a string is not a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// Not `*`, `event:`, `provider:` or `member:`.
    #[error("not a scope: {0:?}, expected '*', 'event:<id>', 'provider:<id>' or 'member:<id>'")]
    Form(String),
    /// The id of an `event:` scope is not a valid event id.
    #[error("bad event id in scope: {0}")]
    EventId(#[from] DocIdError),
    /// The id of a `provider:` or `member:` scope is not a valid id.
    #[error("bad id in scope: {0}")]
    Id(#[from] IdError),
}

impl Scope {
    /// Whether this grant covers `doc`. A `provider:` grant depends on the event's content:
    /// `provider_of(event_id)` answers the provider id of an event this node knows, and an
    /// event it does not know is not covered.
    pub fn covers(&self, doc: &DocId, provider_of: impl Fn(&str) -> Option<String>) -> bool {
        match (self, doc) {
            (Self::All, _) => true,
            (Self::Event(e), DocId::Event { event_id } | DocId::Attendance { event_id, .. }) => e == event_id,
            (Self::Provider(p), DocId::Event { event_id } | DocId::Attendance { event_id, .. }) => {
                provider_of(event_id).as_deref() == Some(p.as_str())
            }
            (Self::Member(m), DocId::Portfolio { member_id }) => m == member_id,
            _ => false,
        }
    }

    /// Whether this grant covers `doc` for some provider: as [`Scope::covers`], except that a
    /// `provider:` grant may cover any event and its attendance. A node asks this of an event
    /// it does not hold yet, whose provider only its content will tell.
    pub fn may_cover(&self, doc: &DocId) -> bool {
        match (self, doc) {
            (Self::Provider(_), DocId::Event { .. } | DocId::Attendance { .. }) => true,
            _ => self.covers(doc, |_| None),
        }
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "*" {
            return Ok(Self::All);
        }
        let (kind, id) = s.split_once(':').ok_or_else(|| ScopeError::Form(s.to_owned()))?;
        match kind {
            "event" => {
                validate_scope_id(id)?;
                Ok(Self::Event(id.to_owned()))
            }
            "provider" => {
                validate(id)?;
                Ok(Self::Provider(id.to_owned()))
            }
            "member" => {
                validate(id)?;
                Ok(Self::Member(id.to_owned()))
            }
            _ => Err(ScopeError::Form(s.to_owned())),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Event(id) => write!(f, "event:{id}"),
            Self::Provider(id) => write!(f, "provider:{id}"),
            Self::Member(id) => write!(f, "member:{id}"),
        }
    }
}

/// The scopes of one credential: a document is covered when any of them covers it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// The scopes `scopes`.
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Parses a comma-separated list such as `event:E1,member:M7`; empty parts are skipped.
    pub fn parse_list(s: &str) -> Result<Self, ScopeError> {
        s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::parse).collect::<Result<_, _>>().map(Self)
    }

    /// The scopes, ordered.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Whether any scope covers `doc` (see [`Scope::covers`]).
    pub fn covers(&self, doc: &DocId, provider_of: impl Fn(&str) -> Option<String>) -> bool {
        self.0.iter().any(|s| s.covers(doc, &provider_of))
    }

    /// Whether any scope may cover `doc` for some provider (see [`Scope::may_cover`]).
    pub fn may_cover(&self, doc: &DocId) -> bool {
        self.0.iter().any(|s| s.may_cover(doc))
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_provider(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn node_id_matches_the_daemons_derivation() {
        let key = [7u8; 32];
        let digest = Sha256::digest(key);
        let expected = format!("n{}", digest.iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
        let id = NodeId::from_public_key(&key);
        assert_eq!(id.as_str(), expected);
        assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
        assert_ne!(NodeId::from_public_key(&[8u8; 32]), NodeId::from_public_key(&key));
    }

    #[test]
    fn bad_node_ids_are_refused() {
        assert_eq!("x0123456789abcdef01234567".parse::<NodeId>(), Err(NodeIdError::Prefix));
        assert_eq!("n0123".parse::<NodeId>(), Err(NodeIdError::Length(5)));
        assert_eq!("n0123456789abcdef0123456789".parse::<NodeId>(), Err(NodeIdError::Length(27)));
        assert_eq!("n0123456789ABCDEF01234567".parse::<NodeId>(), Err(NodeIdError::BadChar('A')));
        assert_eq!("n0123456789abcdef0123456é".parse::<NodeId>(), Err(NodeIdError::BadChar('é')));
        assert!("n0123456789abcdef01234567".parse::<NodeId>().is_ok());
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
            assert_eq!(r.to_string(), r.as_str());
        }
        assert!("Central".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }

    #[test]
    fn scopes_round_trip() {
        for s in ["*", "event:E1", "provider:P-1", "member:M.1", "member:urn:m:1"] {
            let scope: Scope = s.parse().expect(s);
            assert_eq!(scope.to_string(), s);
        }
        assert_eq!("event:E1".parse::<Scope>(), Ok(Scope::Event("E1".into())));
    }

    #[test]
    fn bad_scopes_are_refused() {
        for s in ["", "**", "event", "event:", "event:a:b", "portfolio:M1", "provider:a b", "member:", "all"] {
            assert!(s.parse::<Scope>().is_err(), "{s}");
        }
        assert!(matches!("event:a:b".parse::<Scope>(), Err(ScopeError::EventId(DocIdError::Colon))));
    }

    #[test]
    fn all_covers_everything() {
        for d in [DocId::event("E"), DocId::attendance("E", "S"), DocId::portfolio("M")] {
            assert!(Scope::All.covers(&d, no_provider), "{d}");
        }
    }

    #[test]
    fn event_covers_the_event_and_its_attendance_only() {
        let s = Scope::Event("E1".into());
        assert!(s.covers(&DocId::event("E1"), no_provider));
        assert!(s.covers(&DocId::attendance("E1", "S1"), no_provider));
        assert!(s.covers(&DocId::attendance("E1", "S2"), no_provider));
        assert!(!s.covers(&DocId::event("E2"), no_provider));
        assert!(!s.covers(&DocId::attendance("E2", "S1"), no_provider));
        assert!(!s.covers(&DocId::event("E10"), no_provider));
        assert!(!s.covers(&DocId::portfolio("E1"), no_provider));
    }

    #[test]
    fn member_covers_only_that_portfolio() {
        let s = Scope::Member("M1".into());
        assert!(s.covers(&DocId::portfolio("M1"), no_provider));
        assert!(!s.covers(&DocId::portfolio("M2"), no_provider));
        assert!(!s.covers(&DocId::event("M1"), no_provider));
        assert!(!s.covers(&DocId::attendance("M1", "S"), no_provider));
    }

    #[test]
    fn provider_covers_its_events_by_content() {
        let lookup = |e: &str| match e {
            "E1" | "E2" => Some("P1".to_owned()),
            "E3" => Some("P2".to_owned()),
            _ => None,
        };
        let s = Scope::Provider("P1".into());
        assert!(s.covers(&DocId::event("E1"), lookup));
        assert!(s.covers(&DocId::attendance("E2", "S9"), lookup));
        assert!(!s.covers(&DocId::event("E3"), lookup));
        assert!(!s.covers(&DocId::attendance("E3", "S1"), lookup));
        assert!(!s.covers(&DocId::event("E4"), lookup), "an unknown event is not covered");
        assert!(!s.covers(&DocId::portfolio("P1"), lookup));
    }

    #[test]
    fn what_a_scope_may_cover_before_the_content_is_known() {
        let p = Scopes::parse_list("provider:P1").expect("scopes");
        assert!(p.may_cover(&DocId::event("E4")));
        assert!(p.may_cover(&DocId::attendance("E4", "S1")));
        assert!(!p.may_cover(&DocId::portfolio("M1")));
        let e = Scopes::parse_list("event:E1,member:M1").expect("scopes");
        assert!(e.may_cover(&DocId::attendance("E1", "S")));
        assert!(!e.may_cover(&DocId::event("E2")), "an event scope names its event");
        assert!(e.may_cover(&DocId::portfolio("M1")));
        assert!(!Scopes::default().may_cover(&DocId::event("E1")));
    }

    #[test]
    fn a_set_covers_what_any_member_covers() {
        let scopes = Scopes::parse_list("event:E1, member:M1").expect("scopes");
        assert_eq!(scopes.to_string(), "event:E1,member:M1");
        assert!(scopes.covers(&DocId::attendance("E1", "S"), no_provider));
        assert!(scopes.covers(&DocId::portfolio("M1"), no_provider));
        assert!(!scopes.covers(&DocId::portfolio("M2"), no_provider));
        assert!(!scopes.covers(&DocId::event("E2"), no_provider));
        assert!(!Scopes::default().covers(&DocId::event("E1"), no_provider));
        assert!(Scopes::parse_list("event:E1,nope").is_err());
    }
}
