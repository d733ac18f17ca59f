//! Check-ins: immutable facts recorded at a session door (or imported from an online log).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;

use crate::event::{UnknownName, parse_name};

/// Whether a scan enters or leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Entering (sorts before `Out` at the same instant).
    In,
    /// Leaving.
    Out,
}

impl Direction {
    /// Both directions.
    pub const ALL: [Direction; 2] = [Self::In, Self::Out];

    /// `in` or `out`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::In => "in",
            Self::Out => "out",
        }
    }
}

impl FromStr for Direction {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("direction", s, &Self::ALL, Self::as_str)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check-in was captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Method {
    /// A badge scan.
    #[default]
    Badge,
    /// A QR code scan.
    Qr,
    /// Typed in by staff.
    Manual,
    /// Imported from an online platform's join/leave log.
    OnlineLog,
}

impl Method {
    /// Every method.
    pub const ALL: [Method; 4] = [Self::Badge, Self::Qr, Self::Manual, Self::OnlineLog];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Badge => "badge",
            Self::Qr => "qr",
            Self::Manual => "manual",
            Self::OnlineLog => "online_log",
        }
    }
}

impl FromStr for Method {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name("method", s, &Self::ALL, Self::as_str)
    }
}

/// One scan: a member entering or leaving a session at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckIn {
    /// Unique id (a UUIDv7 when the node makes it), so concurrent kiosks never conflict.
    pub id: String,
    /// The event.
    pub event_id: String,
    /// The session.
    pub session_id: String,
    /// The member scanned.
    pub member_id: String,
    /// In or out.
    pub direction: Direction,
    /// When the member passed the door.
    pub at: Timestamp,
    /// How it was captured.
    pub method: Method,
    /// The node that recorded it.
    pub kiosk_id: String,
    /// When the node stored it.
    pub recorded_at: Timestamp,
}

impl CheckIn {
    /// The order in which check-ins are replayed: by time, `in` before `out`, then by id.
    pub fn replay_key(&self) -> (Timestamp, Direction, &str) {
        (self.at, self.direction, &self.id)
    }
}

/// A correction: a check-in that should not have been recorded (a mistaken scan). The check-in
/// stays, as every fact does; credit and listings treat it as void. A void is a fact of its
/// own, keyed by the check-in's id, so it replicates and merges like a check-in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Void {
    /// The check-in voided.
    pub checkin_id: String,
    /// The node that voided it.
    pub by: String,
    /// When.
    pub at: Timestamp,
    /// Why, as staff wrote it (may be empty).
    pub reason: String,
}

/// The check-ins that count: those without a void in `voided` (check-in ids). Credit is
/// computed from these only (a void is a correction, never a deletion).
pub fn without_voided<S: VoidedIds + ?Sized>(checkins: &[CheckIn], voided: &S) -> Vec<CheckIn> {
    checkins.iter().filter(|c| !voided.is_voided(&c.id)).cloned().collect()
}

/// A set of voided check-in ids.
pub trait VoidedIds {
    /// Whether check-in `id` is voided.
    fn is_voided(&self, id: &str) -> bool;
}

impl VoidedIds for std::collections::BTreeSet<String> {
    fn is_voided(&self, id: &str) -> bool {
        self.contains(id)
    }
}

impl VoidedIds for std::collections::HashSet<String> {
    fn is_voided(&self, id: &str) -> bool {
        self.contains(id)
    }
}

impl<V> VoidedIds for std::collections::BTreeMap<String, V> {
    fn is_voided(&self, id: &str) -> bool {
        self.contains_key(id)
    }
}

impl<V> VoidedIds for std::collections::HashMap<String, V> {
    fn is_voided(&self, id: &str) -> bool {
        self.contains_key(id)
    }
}
