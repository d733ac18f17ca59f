//! One-time tickets that open a page of the node in a browser (`cec open`).
//!
//! A client that holds the API token asks for a ticket; the browser trades it once, within
//! [`TICKET_TTL`], for a session cookie: a day's, or a paired device's ([`Grant::pair`],
//! `cec open kiosk --pair`). Tickets live only in memory (a restart forgets them)
//! and only their SHA-256 is kept, so not even a memory dump of a running node gives one away
//! after use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// How long a ticket works.
pub const TICKET_TTL: Duration = Duration::from_secs(60);

/// The most tickets outstanding at once; issuing more drops the oldest.
const MAX_TICKETS: usize = 64;

/// What spending a ticket gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The page it opens.
    pub page: String,
    /// `Some(label)`: the browser is paired (a long-lived, renewed session), under that label.
    pub pair: Option<String>,
}

impl Grant {
    /// A day's session for `page`.
    pub fn page(page: &str) -> Self {
        Self { page: page.to_owned(), pair: None }
    }
}

/// Outstanding tickets: the SHA-256 of each, with what it grants and its expiry.
#[derive(Debug, Default)]
pub struct Tickets(Mutex<HashMap<[u8; 32], (Grant, Instant)>>);

fn digest(ticket: &str) -> [u8; 32] {
    Sha256::digest(ticket.as_bytes()).into()
}

/// Why a ticket was not issued.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a ticket: {0}")]
pub struct NoRandomness(String);

impl Tickets {
    /// A new ticket for `grant`, valid for [`TICKET_TTL`] from `now`, usable once.
    pub fn issue(&self, grant: Grant, now: Instant) -> Result<String, NoRandomness> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| NoRandomness(e.to_string()))?;
        let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, (_, until)| *until > now);
        while map.len() >= MAX_TICKETS {
            let Some(oldest) = map.iter().min_by_key(|(_, (_, until))| *until).map(|(k, _)| *k) else { break };
            map.remove(&oldest);
        }
        map.insert(digest(&ticket), (grant, now + TICKET_TTL));
        Ok(ticket)
    }

    /// Spends `ticket`: what it grants if it was issued, is unspent and has not expired at
    /// `now`. A ticket works once, whatever the answer.
    pub fn redeem(&self, ticket: &str, now: Instant) -> Option<Grant> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (grant, until) = map.remove(&digest(ticket))?;
        (until > now).then_some(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_works_once_and_not_after_it_expires() {
        let t = Tickets::default();
        let now = Instant::now();
        let a = t.issue(Grant::page("kiosk"), now).unwrap();
        let b = t.issue(Grant::page("kiosk"), now).unwrap();
        let paired = Grant { page: "kiosk".into(), pair: Some("door A".into()) };
        let c = t.issue(paired.clone(), now).unwrap();
        assert_ne!(a, b);
        assert_eq!(t.redeem(&a, now), Some(Grant::page("kiosk")));
        assert_eq!(t.redeem(&c, now), Some(paired), "a pairing ticket says so");
        assert_eq!(t.redeem(&a, now), None, "single use");
        assert_eq!(t.redeem(&b, now + TICKET_TTL + Duration::from_secs(1)), None, "expired");
        assert_eq!(t.redeem("made-up", now), None);
        for _ in 0..(MAX_TICKETS * 2) {
            t.issue(Grant::page("kiosk"), now).unwrap();
        }
        assert!(t.0.lock().unwrap().len() <= MAX_TICKETS);
    }
}
