//! The central node's derivation: endorsed attendance becomes verified records in members'
//! portfolios, which then travel to the members' devices with sync.
//!
//! It follows the change feed: every check-in that arrives (from a kiosk by sync, or recorded
//! here) names its event and member; that member's records of that event are derived again
//! from all the check-ins held (`cec_core::derive`) and written with
//! `cec_core::derive::apply`, which also lowers or removes records that no longer hold. Applying
//! the same records again changes nothing, so deriving twice, or after a restart, is harmless.
//! A change of the event itself (its fields, a session, the roster) derives every member with
//! check-ins there again, since the records depend on it (check-ins that arrived before their
//! event earn their records then). A member with credit whose portfolio names no one is named
//! as the roster has them, so that the member's own devices show the name.
//!
//! Where it got in the feed is saved after each page ([`DERIVATION_CURSOR`]), so a restart
//! resumes there: going through the whole feed again at every start would decode every
//! portfolio of a large central node, minutes of work competing with the reads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;

use cec_core::CreditRule;
use cec_core::doc::DocId;

use super::Node;
use super::error::NodeResult;
use super::index;

/// The derivation's name in the store's feed cursors.
pub const DERIVATION_CURSOR: &str = "derivation";

impl Node {
    /// Makes the verified records of `event_id` in the portfolios of `members` follow the
    /// check-ins this node holds; returns how many portfolios changed. A member with nothing
    /// verified and no portfolio here gets none made.
    pub async fn derive_event(&self, event_id: &str, members: &BTreeSet<String>) -> NodeResult<usize> {
        // As of every change the feed has announced (a view read at once could lag the head).
        let Some(event) = self.docs.event_settled(event_id).await? else { return Ok(0) };
        let mut changed = 0;
        for member in members {
            let (m, e) = (member.clone(), event_id.to_owned());
            let (checkins, voided) = self
                .store
                .read(move |c| Ok((index::member_checkins(c, &m, Some(&e))?, index::member_voided(c, &m, Some(&e))?)))
                .await?;
            let checkins = cec_core::without_voided(&checkins, &voided);
            let derived = cec_core::derive::derive(&event, &checkins, &CreditRule::aca());
            let records = derived.get(member).cloned().unwrap_or_default();
            let held = self.stored_portfolio(member).await?;
            let has_event = held.as_ref().is_some_and(|p| p.verified.values().any(|r| r.event_id == event_id));
            if records.is_empty() && !has_event {
                continue;
            }
            let id = DocId::portfolio(member.as_str());
            // A member with credit here is named in the portfolio as registered, unless named.
            let name = event.roster.get(member).filter(|_| !records.is_empty()).map(|m| m.name.clone());
            let did = self
                .docs
                .update(&id, |d| {
                    let applied = cec_core::derive::apply(d, event_id, &records)?;
                    let named = match &name {
                        Some(n) => cec_core::doc::portfolio::name_if_unnamed(d, n)?,
                        None => false,
                    };
                    Ok::<_, super::NodeError>(applied || named)
                })
                .await?;
            changed += usize::from(did);
        }
        Ok(changed)
    }

    /// Where the derivation saved its place in the change feed (0 when it never did).
    pub async fn derivation_cursor(&self) -> NodeResult<i64> {
        Ok(self.store.read(|c| crate::storage::feed_cursor(c, DERIVATION_CURSOR)).await?.unwrap_or(0))
    }

    /// Saves that what the feed holds up to `seq` is derived; [`Node::derive_since`] does it
    /// after each page. (A tool that writes verified records the way derivation does, such as
    /// the scale benchmark's seeder, may say so too.)
    pub async fn set_derivation_cursor(&self, seq: i64) -> NodeResult<()> {
        self.store.write(move |tx| crate::storage::set_feed_cursor(tx, DERIVATION_CURSOR, seq)).await?;
        self.derived_through.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    /// Whether the derivation has written everything the change feed holds now: then every
    /// verified record the check-ins held here imply is in its member's stored portfolio (except
    /// those of check-ins still in the log, which are not in the feed yet). Read before the
    /// portfolio, this lets a read take the stored portfolio as it is. A portfolio written
    /// after this answered was written after the derivation, so it has those records too.
    ///
    /// The head is the store's latest committed seq, which the writer publishes before it
    /// answers a commit's jobs: a fold is answered, and its check-ins leave the log, only after
    /// the head covers their feed entries.
    pub(super) fn derivation_current(&self) -> bool {
        self.derived_through.load(Ordering::Acquire) >= self.store.latest_change_seq()
    }

    /// Derives what the check-ins and event changes fed after `after` imply, saving the
    /// position reached after each page; returns it.
    pub async fn derive_since(&self, after: i64) -> NodeResult<i64> {
        let mut cursor = after;
        loop {
            let page = self.feed_page(cursor, 1000).await?;
            let Some(last) = page.last() else {
                self.derived_through.fetch_max(cursor, Ordering::AcqRel);
                return Ok(cursor);
            };
            let next = last.seq;
            let ids: Vec<String> = page.iter().filter(|c| c.kind == "checkin").map(|c| c.id.clone()).collect();
            let events: BTreeSet<String> = page
                .iter()
                .filter(|c| matches!(c.kind.as_str(), "event" | "session" | "roster"))
                .filter_map(|c| c.doc_id.strip_prefix("event:").map(str::to_owned))
                .collect();
            let (places, everyone) = self
                .store
                .read(move |c| {
                    let mut everyone = Vec::new();
                    for e in events {
                        let members = index::event_members(c, &e)?;
                        everyone.push((e, members));
                    }
                    Ok((index::checkin_members(c, &ids)?, everyone))
                })
                .await?;
            let mut by_event: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (event, member) in places {
                by_event.entry(event).or_default().insert(member);
            }
            for (event, members) in everyone {
                by_event.entry(event).or_default().extend(members);
            }
            for (event, members) in by_event {
                let n = self.derive_event(&event, &members).await?;
                if n > 0 {
                    tracing::info!(event = %event, portfolios = n, "verified records derived");
                }
            }
            self.set_derivation_cursor(next).await?;
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use cec_core::event::{Endorsement, Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
    use cec_core::{CheckIn, Direction, Event, Method};

    use super::*;
    use crate::config::Config;
    use crate::node::{NewCheckIn, NodeError};

    fn checkin(id: &str, direction: Direction, at: &str) -> NewCheckIn {
        checkin_at("s1", id, direction, at)
    }

    fn checkin_at(session: &str, id: &str, direction: Direction, at: &str) -> NewCheckIn {
        let at: jiff::Timestamp = at.parse().unwrap();
        let checkin = CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: session.into(),
            member_id: "M1".into(),
            direction,
            at,
            method: Method::Badge,
            kiosk_id: "k1".into(),
            recorded_at: at,
        };
        NewCheckIn { checkin, at_given: true, method_given: true }
    }

    fn event(endorsement: Option<Endorsement>) -> Event {
        Event {
            id: "E1".into(),
            title: "Conference".into(),
            provider: Provider { id: "P".into(), name: "Provider".into(), endorsement },
            venue: None,
            timezone: "UTC".into(),
            policy: Policy::default(),
            sessions: BTreeMap::new(),
            roster: BTreeMap::new(),
        }
    }

    fn endorsement() -> Endorsement {
        Endorsement {
            number: "ACA-1".into(),
            valid_from: jiff::civil::date(2026, 1, 1),
            valid_until: jiff::civil::date(2026, 12, 31),
        }
    }

    /// A one-hour session `id` of E1, starting at `starts_at`.
    fn session(id: &str, starts_at: &str) -> Session {
        Session {
            id: id.into(),
            title: "Ethics".into(),
            category: "ethics".into(),
            format: SessionFormat::InPerson,
            starts_at: starts_at.parse().unwrap(),
            segments: vec![Segment::new(SegmentKind::Instruction, 60)],
        }
    }

    /// A central node holding event E1, endorsed, with M1 (Ada) on its roster.
    async fn central_with_event() -> (tempfile::TempDir, Arc<Node>) {
        let dir = tempfile::tempdir().unwrap();
        let id = crate::node::Identity::load_or_create(dir.path()).unwrap();
        crate::node::credential::Enrolment::init_central(dir.path(), "ACA", id.signing_key(), jiff::Timestamp::now())
            .unwrap();
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        assert_eq!(node.role(), "central");
        node.create_event(event(Some(endorsement()))).await.unwrap();
        let ada = cec_core::event::RosterMember { member_id: "M1".into(), name: "Ada".into(), email: None };
        node.add_roster("E1", &[ada]).await.unwrap();
        (dir, node)
    }

    async fn record(node: &Arc<Node>, session: &str, items: Vec<NewCheckIn>) {
        let ev = node.require_event("E1").await.unwrap();
        for answer in node.record_checkins(&ev, session, items).await.unwrap() {
            answer.unwrap();
        }
    }

    /// The saved place is where the next start resumes, and a change of the event alone (here
    /// its endorsement, which decides what is verified) derives its members again.
    #[tokio::test]
    async fn derivation_saves_its_place_and_follows_event_changes() {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        let mut event = event(None);
        node.create_event(event.clone()).await.unwrap();
        node.create_session("E1", session("s1", "2026-04-16T09:00:00Z")).await.unwrap();
        let items = vec![
            checkin("c1", Direction::In, "2026-04-16T09:00:00Z"),
            checkin("c2", Direction::Out, "2026-04-16T10:00:00Z"),
        ];
        record(&node, "s1", items).await;
        node.fold_logged().await; // their feed entries come with the fold
        assert_eq!(node.derivation_cursor().await.unwrap(), 0, "never derived");
        let reached = node.derive_since(0).await.unwrap();
        assert!(reached > 0);
        assert_eq!(node.derivation_cursor().await.unwrap(), reached);
        assert!(node.stored_portfolio("M1").await.unwrap().is_none(), "nothing verified without an endorsement");

        event.provider.endorsement = Some(endorsement());
        node.docs
            .update(&DocId::event("E1"), |d| cec_core::doc::event::put_event(d, &event).map_err(NodeError::from))
            .await
            .unwrap();
        let again = node.derive_since(reached).await.unwrap();
        assert!(again > reached);
        assert_eq!(node.derivation_cursor().await.unwrap(), again);
        let p = node.stored_portfolio("M1").await.unwrap().expect("a portfolio with the derived record");
        assert_eq!(p.verified.len(), 1);
        assert_eq!(p.verified.values().next().unwrap().cecs, rust_decimal::Decimal::ONE);
        node.close().await;
    }

    /// On the central node, a member's effective portfolio is the stored one as it is only
    /// while the derivation is current: a check-in acknowledged (in the log) or folded since
    /// counts at once, from the index; once derived, the index is not read for it.
    #[tokio::test]
    async fn a_central_node_reads_the_stored_portfolio_alone_only_while_derivation_is_current() {
        let (_dir, node) = central_with_event().await;
        for (s, at) in [("s1", "2026-04-16T09:00:00Z"), ("s2", "2026-04-16T11:00:00Z"), ("s3", "2026-04-16T13:00:00Z")]
        {
            node.create_session("E1", session(s, at)).await.unwrap();
        }
        let pair = |s: &str, n: u32, from: &str, to: &str| {
            vec![
                checkin_at(s, &format!("c{n}"), Direction::In, from),
                checkin_at(s, &format!("c{}", n + 1), Direction::Out, to),
            ]
        };
        // (records, of them taken from check-ins rather than the stored portfolio, whether
        // the derivation is current)
        let effective = || async {
            let current = node.derivation_current();
            let (p, _, local) = node.effective_portfolio_and_local("M1").await.unwrap();
            assert_eq!(p.profile.name.as_deref(), Some("Ada"));
            (p.verified.len(), local.len(), current)
        };

        record(&node, "s1", pair("s1", 1, "2026-04-16T09:00:00Z", "2026-04-16T10:00:00Z")).await;
        assert_eq!(effective().await, (1, 1, false), "logged, never derived");
        node.fold_logged().await;
        assert_eq!(effective().await, (1, 1, false), "folded, not derived");
        let reached = node.derive_since(0).await.unwrap();
        assert_eq!(effective().await, (1, 0, true), "derived");

        record(&node, "s2", pair("s2", 3, "2026-04-16T11:00:00Z", "2026-04-16T12:00:00Z")).await;
        // The feed has not moved (a logged check-in has no entry yet), but the log is not empty.
        assert_eq!(effective().await, (2, 1, true), "a check-in acknowledged after the derivation counts");
        node.fold_logged().await;
        assert_eq!(effective().await, (2, 1, false), "and once folded, until derived");
        node.derive_since(reached).await.unwrap();
        assert_eq!(effective().await, (2, 0, true));

        // Index rows written without a feed entry (no fold does that) are not read while the
        // derivation is current: the stored portfolio is the whole answer.
        let rows: Vec<CheckIn> =
            pair("s3", 5, "2026-04-16T13:00:00Z", "2026-04-16T14:00:00Z").into_iter().map(|c| c.checkin).collect();
        node.store.write(move |tx| rows.iter().try_for_each(|c| index::put_checkin(tx, c))).await.unwrap();
        assert_eq!(effective().await, (2, 0, true), "the index was read");
        node.close().await;
    }

    /// The writer publishes the feed's head before a change's view is set: a derivation woken
    /// by the head reads the event as of that change, not before it. (Here a session arrives
    /// after check-ins of it, as from a kiosk by sync; the derivation runs the moment the head
    /// covers the session, before the change has settled.)
    #[tokio::test]
    async fn a_derivation_woken_by_the_head_reads_the_event_as_of_that_change() {
        let (_dir, node) = central_with_event().await;
        node.create_session("E1", session("s1", "2026-04-16T09:00:00Z")).await.unwrap();
        record(
            &node,
            "s1",
            vec![
                checkin_at("s1", "c1", Direction::In, "2026-04-16T09:00:00Z"),
                checkin_at("s1", "c2", Direction::Out, "2026-04-16T10:00:00Z"),
            ],
        )
        .await;
        node.fold_logged().await;
        let reached = node.derive_since(0).await.unwrap();
        let s2: Vec<CheckIn> = [
            checkin_at("s2", "k1", Direction::In, "2026-04-16T11:00:00Z"),
            checkin_at("s2", "k2", Direction::Out, "2026-04-16T12:00:00Z"),
        ]
        .into_iter()
        .map(|c| c.checkin)
        .collect();
        node.docs
            .update(&DocId::attendance("E1", "s2"), |d| {
                s2.iter()
                    .try_for_each(|c| cec_core::doc::attendance::add_checkin(d, c).map(|_| ()))
                    .map_err(NodeError::from)
            })
            .await
            .unwrap();
        node.derive_since(reached).await.unwrap();

        // The session's change, committed: once the head covers it, derive at once (this test's
        // runtime has one thread, so the change's own task has not run again yet).
        let before = node.store.latest_change_seq();
        let n = node.clone();
        let add = tokio::spawn(async move { n.create_session("E1", session("s2", "2026-04-16T11:00:00Z")).await });
        tokio::task::yield_now().await;
        let t0 = std::time::Instant::now();
        while node.store.latest_change_seq() == before {
            assert!(t0.elapsed() < std::time::Duration::from_secs(10), "the session was never committed");
            std::hint::spin_loop();
        }
        node.derive_event("E1", &BTreeSet::from(["M1".to_owned()])).await.unwrap();
        add.await.unwrap().unwrap();
        let p = node.stored_portfolio("M1").await.unwrap().unwrap();
        assert_eq!(p.verified.len(), 2, "the derivation read the event before its new session");
        node.close().await;
    }
}
