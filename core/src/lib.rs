//! `cec-core`: the sans-IO domain of cecsync.
//!
//! Everything here is deterministic: no sockets, files, clocks or async runtime. Time comes in
//! as a parameter (`now`, `today`). The daemon performs the effects.
//!
//! - [`rules`]: credit rule sets as data (ACA, full hours, IACET CEU).
//! - [`event`], [`checkin`]: events, sessions, segments, providers, endorsements, check-ins.
//! - [`attendance`]: check-ins to presence, creditable time and credit, with flags and reasons.
//! - [`portfolio`]: a member's records and entries, self-reported credit, totals.
//! - [`goals`], [`requirements`], [`petition`]: progress and the petition packet.
//! - [`derive`]: endorsed attendance to verified records in portfolios.
//! - [`doc`]: the Automerge schemas of the `event:`, `attendance:` and `portfolio:` documents.
//! - [`sync`]: the sans-IO sync session between two nodes (manifest, rounds, bounded frames).
//! - [`ident`]: typed node ids, roles and scopes (which documents two nodes exchange).
//! - [`enrol`]: enrolment codes (the central node's address, the organization key's
//!   fingerprint and a secret), their text form and its checks.

pub mod attendance;
pub mod checkin;
pub mod derive;
pub mod doc;
pub mod enrol;
pub mod event;
pub mod goals;
pub mod id;
pub mod ident;
pub mod petition;
pub mod portfolio;
pub mod requirements;
pub mod rules;
pub mod sync;

pub use attendance::{Attendance, Flag, SessionCredit, Verification, attend, attend_all, credit_session};
pub use checkin::{CheckIn, Direction, Method, Void, without_voided};
pub use event::{
    Endorsement, EndorsementStatus, Event, Policy, Provider, RosterMember, Segment, SegmentKind, Session,
    SessionFormat, Span,
};
pub use ident::{NodeId, Role, Scope, Scopes};
pub use rules::{CreditRule, CreditUnit, Rounding, ceus_from_cecs};
