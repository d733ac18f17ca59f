//! Paired browsers: a kiosk screen that opens without a terminal.
//!
//! `cec open kiosk --pair` asks for a pairing ticket; the browser that spends it gets a session
//! cookie naming a new pairing (`api/session.rs`), valid for `kiosk_pairing_days` and renewed
//! while the screen is in use, so the device opens `/kiosk` from a bookmark or at start-up from
//! then on. A pairing holds until it expires unused, is ended (`DELETE /v1/pairings/{id}`,
//! `cec pairings end`), or the API token changes (the cookie's MAC is keyed by it).
//!
//! It expires `kiosk_pairing_days` after its last renewal as the setting stands now, whatever
//! its cookie says: each start cuts the stored expiries to the current setting
//! ([`storage::apply_pairing_lifetime`]), and a request is refused once its pairing's expiry or
//! its cookie's has passed, so lowering the setting (a kiosk was lost) shortens the pairings
//! already issued at the next start.
//!
//! The pairings live in storage (`storage/pairings.rs`) and, for the check on every request,
//! in memory: a change is written first and takes effect in memory once committed.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use jiff::Timestamp;

use super::Node;
use super::error::{NodeError, NodeResult};
use crate::storage::{self, PairingRow};

/// A paired browser as node services answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    /// Random, 128 bits, base64url: the cookie names it.
    pub id: String,
    /// The page it opens (`kiosk`).
    pub page: String,
    /// What the operator called the device (may be empty).
    pub label: String,
    /// When the browser was paired.
    pub paired_at: Timestamp,
    /// When it expires unless renewed.
    pub expires_at: Timestamp,
    /// When it was ended, if it was.
    pub ended_at: Option<Timestamp>,
}

/// Whether a pairing still opens its page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingState {
    /// Its browser's cookie is accepted.
    Active,
    /// It was not renewed in time.
    Expired,
    /// It was ended (`DELETE /v1/pairings/{id}`).
    Ended,
}

impl PairingState {
    /// As the API names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Ended => "ended",
        }
    }
}

impl Pairing {
    /// Its state at `now`.
    pub fn state(&self, now: Timestamp) -> PairingState {
        match self.ended_at {
            Some(_) => PairingState::Ended,
            None if self.expires_at <= now => PairingState::Expired,
            None => PairingState::Active,
        }
    }
}

impl From<PairingRow> for Pairing {
    fn from(r: PairingRow) -> Self {
        let ts = |ms: i64| Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        Self {
            id: r.id,
            page: r.page,
            label: r.label,
            paired_at: ts(r.paired_at),
            expires_at: ts(r.expires_at),
            ended_at: r.ended_at.map(ts),
        }
    }
}

/// The pairings this node knows, by id.
#[derive(Debug, Default)]
pub struct Pairings(RwLock<HashMap<String, PairingRow>>);

impl Pairings {
    /// The pairings read from storage at start.
    pub fn load(rows: Vec<PairingRow>) -> Self {
        Self(RwLock::new(rows.into_iter().map(|r| (r.id.clone(), r)).collect()))
    }

    fn set(&self, row: PairingRow) {
        self.0.write().unwrap_or_else(|p| p.into_inner()).insert(row.id.clone(), row);
    }

    /// When pairing `id` expires (ms on the node's clock), if it exists and has not been ended.
    /// A cookie naming it holds until the earlier of this and its own expiry.
    pub fn expiry(&self, id: &str) -> Option<i64> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(id).filter(|p| p.ended_at.is_none()).map(|p| p.expires_at)
    }
}

/// A new pairing id: 128 random bits, base64url.
pub fn new_pairing_id() -> Result<String, getrandom::Error> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id))
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

impl Node {
    /// How long a paired browser's session lasts without use: `kiosk_pairing_days`.
    pub fn pairing_lifetime_secs(&self) -> i64 {
        i64::from(self.config.kiosk_pairing_days) * 86_400
    }

    /// Pairs a browser for `page` at `now` under `id` (from [`new_pairing_id`]): the new
    /// pairing, stored, with its first expiry.
    pub async fn pair(&self, id: String, page: &str, label: &str, now: Timestamp) -> NodeResult<Pairing> {
        let row = PairingRow {
            id,
            page: page.to_owned(),
            label: label.to_owned(),
            paired_at: ms(now),
            expires_at: ms(now) + self.pairing_lifetime_secs() * 1000,
            renewed_at: ms(now),
            ended_at: None,
        };
        let r = row.clone();
        self.store.write(move |tx| storage::put_pairing(tx, &r)).await?;
        self.pairings.set(row.clone());
        Ok(row.into())
    }

    /// Records that pairing `id` got a cookie at `now` valid until `expires_at` (seconds); false
    /// if the pairing is unknown or was ended meanwhile.
    pub async fn renew_pairing(&self, id: &str, now: Timestamp, expires_at: i64) -> NodeResult<bool> {
        let (owned, at, until) = (id.to_owned(), ms(now), expires_at.saturating_mul(1000));
        let renewed = self.store.write(move |tx| storage::renew_pairing(tx, &owned, at, until)).await?;
        if renewed {
            let mut map = self.pairings.0.write().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = map.get_mut(id) {
                p.expires_at = p.expires_at.max(until);
                p.renewed_at = p.renewed_at.max(at);
            }
        }
        Ok(renewed)
    }

    /// Ends pairing `id` at `now`: its browser's cookie is refused from then on. Ending one
    /// that was ended already changes nothing.
    pub async fn end_pairing(&self, id: &str, now: Timestamp) -> NodeResult<Pairing> {
        let owned = id.to_owned();
        let at = ms(now);
        let row = self
            .store
            .write(move |tx| storage::end_pairing(tx, &owned, at))
            .await?
            .ok_or_else(|| NodeError::NotFound(format!("no pairing {id}")))?;
        self.pairings.set(row.clone());
        Ok(row.into())
    }

    /// Every pairing, oldest first.
    pub fn pairings(&self) -> Vec<Pairing> {
        let mut all: Vec<Pairing> =
            self.pairings.0.read().unwrap_or_else(|p| p.into_inner()).values().cloned().map(Pairing::from).collect();
        all.sort_by(|a, b| (a.paired_at, &a.id).cmp(&(b.paired_at, &b.id)));
        all
    }
}
