//! Check-ins: recording them idempotently, and listing them.
//!
//! A check-in id names one fact across every session of the node: the same id with the same
//! content is a retry (answered with what is stored), with other content a conflict, and in
//! another session a conflict too. Ids being written are claimed node-wide until their change
//! commits, so two requests racing with one id in two sessions cannot both succeed.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use cec_core::doc::{self, DocId};
use cec_core::{CheckIn, Event};

use super::Node;
use super::error::{NodeError, NodeResult};
use super::index::{self, CheckInFilter};

/// A check-in to record, and which of its fields the client gave (a retry without `at` must
/// not conflict with the `at` the node filled in the first time).
#[derive(Debug, Clone)]
pub struct NewCheckIn {
    /// The check-in as it would be stored.
    pub checkin: CheckIn,
    /// Whether the client gave `at`.
    pub at_given: bool,
    /// Whether the client gave `method`.
    pub method_given: bool,
}

impl NewCheckIn {
    /// Whether a stored check-in answers this request.
    fn is_answered_by(&self, stored: &CheckIn) -> bool {
        let c = &self.checkin;
        stored.event_id == c.event_id
            && stored.session_id == c.session_id
            && stored.member_id == c.member_id
            && stored.direction == c.direction
            && (!self.at_given || stored.at == c.at)
            && (!self.method_given || stored.method == c.method)
    }
}

/// What recording one check-in did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Newly stored.
    Created(CheckIn),
    /// Already stored with the same content (a retry).
    Existing(CheckIn),
}

impl Recorded {
    /// The check-in as stored.
    pub fn checkin(&self) -> &CheckIn {
        match self {
            Self::Created(c) | Self::Existing(c) => c,
        }
    }
}

/// One answer of a batch: what was recorded, with its event.
pub type BatchAnswer = NodeResult<(Recorded, Arc<Event>)>;

/// Check-in ids being written now, with the session each is written to.
#[derive(Debug, Default)]
pub struct Claims(Mutex<HashMap<String, (String, String)>>);

/// Releases the claims it holds when dropped.
struct Claimed<'a> {
    claims: &'a Claims,
    ids: Vec<String>,
}

impl Drop for Claimed<'_> {
    fn drop(&mut self) {
        let mut map = self.claims.0.lock().unwrap_or_else(|p| p.into_inner());
        for id in &self.ids {
            map.remove(id);
        }
    }
}

impl Claims {
    /// Claims `ids` for `place`; returns the guard and, per id, the other session already
    /// claiming it (if any).
    fn claim(&self, ids: &[String], place: &(String, String)) -> (Claimed<'_>, Vec<Option<String>>) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut mine = Vec::new();
        let others = ids
            .iter()
            .map(|id| match map.get(id) {
                Some(p) if p != place => Some(format!("{}/{}", p.0, p.1)),
                Some(_) => None,
                None => {
                    map.insert(id.clone(), place.clone());
                    mine.push(id.clone());
                    None
                }
            })
            .collect();
        (Claimed { claims: self, ids: mine }, others)
    }
}

fn elsewhere(id: &str, place: &str) -> NodeError {
    NodeError::Conflict(format!("check-in {id:?} exists in session {place} with other content"))
}

impl Node {
    /// Records check-ins of one session of `event` in one document change (one durable write).
    /// Answers per item, in order.
    pub async fn record_checkins(
        &self,
        event: &Event,
        session_id: &str,
        items: Vec<NewCheckIn>,
    ) -> NodeResult<Vec<NodeResult<Recorded>>> {
        if !event.sessions.contains_key(session_id) {
            let msg = format!("no session {session_id:?} in event {:?}", event.id);
            return Ok(items.iter().map(|_| Err(NodeError::NotFound(msg.clone()))).collect());
        }
        let place = (event.id.clone(), session_id.to_owned());
        let ids: Vec<String> = items.iter().map(|i| i.checkin.id.clone()).collect();
        let (_claimed, claimed_elsewhere) = self.claims.claim(&ids, &place);
        // Claimed first, then the committed index: a racing writer is in one or the other.
        let committed: BTreeMap<String, String> = self
            .store
            .read(move |c| index::checkin_places(c, &ids))
            .await?
            .into_iter()
            .filter(|(_, e, s)| (e.as_str(), s.as_str()) != (place.0.as_str(), place.1.as_str()))
            .map(|(id, e, s)| (id, format!("{e}/{s}")))
            .collect();
        let doc_id = DocId::attendance(&event.id, session_id);
        self.docs
            .update(&doc_id, |d| {
                // Look up only the ids being written: decoding the whole session on every scan
                // made a session's check-ins cost O(n^2) (BENCHMARKS.md).
                let mut stored: BTreeMap<String, CheckIn> = BTreeMap::new();
                for inc in &items {
                    if let Some(c) = doc::attendance::get(d, &inc.checkin.id)? {
                        stored.insert(c.id.clone(), c);
                    }
                }
                let mut results = Vec::with_capacity(items.len());
                for (inc, other) in items.into_iter().zip(claimed_elsewhere) {
                    let id = inc.checkin.id.clone();
                    if let Some(place) = other.as_ref().or_else(|| committed.get(&id)) {
                        results.push(Err(elsewhere(&id, place)));
                        continue;
                    }
                    results.push(match stored.get(&id) {
                        Some(existing) if inc.is_answered_by(existing) => Ok(Recorded::Existing(existing.clone())),
                        Some(_) => Err(NodeError::Conflict(format!("check-in {id:?} exists with other content"))),
                        None => {
                            doc::attendance::add_checkin(d, &inc.checkin)?;
                            stored.insert(id, inc.checkin.clone());
                            Ok(Recorded::Created(inc.checkin))
                        }
                    });
                }
                Ok::<_, NodeError>(results)
            })
            .await
    }

    /// Records a kiosk's buffered check-ins, any sessions and events: each session's in one
    /// change, the sessions concurrently so their commits share a transaction. `items` holds
    /// the requests in order (an item that did not parse stays an error); answers per item in
    /// the same order, each with its event.
    pub async fn record_batch(self: &Arc<Self>, items: Vec<NodeResult<NewCheckIn>>) -> NodeResult<Vec<BatchAnswer>> {
        let mut results: Vec<Option<BatchAnswer>> = Vec::with_capacity(items.len());
        let mut groups: BTreeMap<(String, String), Vec<(usize, NewCheckIn)>> = BTreeMap::new();
        // Sessions are written concurrently: one id in two sessions of one batch is refused here.
        let mut placed: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (index, item) in items.into_iter().enumerate() {
            results.push(None);
            let inc = match item {
                Ok(inc) => inc,
                Err(e) => {
                    results[index] = Some(Err(e));
                    continue;
                }
            };
            let place = (inc.checkin.event_id.clone(), inc.checkin.session_id.clone());
            match placed.get(&inc.checkin.id) {
                Some(p) if *p != place => {
                    let msg = format!("check-in {:?} appears in two sessions of this batch", inc.checkin.id);
                    results[index] = Some(Err(NodeError::Conflict(msg)));
                    continue;
                }
                Some(_) => {}
                None => {
                    placed.insert(inc.checkin.id.clone(), place.clone());
                }
            }
            groups.entry(place).or_default().push((index, inc));
        }
        let mut events: BTreeMap<String, Option<Arc<Event>>> = BTreeMap::new();
        let mut pending = Vec::new();
        for ((event_id, session_id), group) in groups {
            if !events.contains_key(&event_id) {
                events.insert(event_id.clone(), self.event(&event_id).await?);
            }
            let Some(Some(event)) = events.get(&event_id) else {
                for (index, _) in group {
                    results[index] = Some(Err(NodeError::NotFound(format!("no event {event_id:?} on this node"))));
                }
                continue;
            };
            let (indexes, incs): (Vec<usize>, Vec<NewCheckIn>) = group.into_iter().unzip();
            let (event, node) = (event.clone(), self.clone());
            pending.push(async move {
                let out = node.record_checkins(&event, &session_id, incs).await;
                (indexes, event, out)
            });
        }
        // Each session's write stands or falls alone: a failed one answers each of its items
        // with its error, and the items of the other sessions keep their answers.
        for (indexes, event, out) in futures_util::future::join_all(pending).await {
            match out {
                Ok(items) => {
                    for (index, r) in indexes.into_iter().zip(items) {
                        results[index] = Some(r.map(|rec| (rec, event.clone())));
                    }
                }
                Err(e) => {
                    let shared = Arc::new(e);
                    for index in indexes {
                        results[index] = Some(Err(NodeError::Shared(shared.clone())));
                    }
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(NodeError::Conflict("check-in not recorded".into()))))
            .collect())
    }

    /// Check-ins matching `filter`, ordered by id, at most `limit`, each with its event when
    /// this node holds it; and the cursor of the next page.
    pub async fn checkins(
        &self,
        filter: CheckInFilter,
        limit: usize,
    ) -> NodeResult<(Vec<(CheckIn, Option<Arc<Event>>)>, Option<String>)> {
        let mut rows = self.store.read(move |c| index::list_checkins(c, &filter, limit + 1)).await?;
        let next = (rows.len() > limit).then(|| rows[limit - 1].id.clone());
        rows.truncate(limit);
        let mut events: BTreeMap<String, Option<Arc<Event>>> = BTreeMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for c in rows {
            if !events.contains_key(&c.event_id) {
                let e = self.event(&c.event_id).await.ok().flatten();
                events.insert(c.event_id.clone(), e);
            }
            let e = events.get(&c.event_id).cloned().flatten();
            out.push((c, e));
        }
        Ok((out, next))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
    use cec_core::{Direction, Method};

    use super::*;
    use crate::config::Config;

    fn session(id: &str, at: jiff::Timestamp) -> Session {
        Session {
            id: id.into(),
            title: id.into(),
            category: "general".into(),
            format: SessionFormat::InPerson,
            starts_at: at,
            segments: vec![Segment::new(SegmentKind::Instruction, 60)],
        }
    }

    /// One check-in id sent to two sessions at once: one request records it, the other is
    /// told it exists elsewhere; never two 201s with one of them missing from the index.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_id_racing_into_two_sessions_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        let at: jiff::Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let event = Event {
            id: "E1".into(),
            title: "E".into(),
            provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
            venue: None,
            timezone: "UTC".into(),
            policy: Policy::default(),
            sessions: BTreeMap::new(),
            roster: BTreeMap::new(),
        };
        node.create_event(event).await.unwrap();
        for s in ["S1", "S2"] {
            node.create_session("E1", session(s, at)).await.unwrap();
        }
        let event = node.require_event("E1").await.unwrap();
        let new = |id: &str, s: &str| NewCheckIn {
            checkin: CheckIn {
                id: id.into(),
                event_id: "E1".into(),
                session_id: s.into(),
                member_id: "M1".into(),
                direction: Direction::In,
                at,
                method: Method::Badge,
                kiosk_id: "k".into(),
                recorded_at: at,
            },
            at_given: true,
            method_given: true,
        };
        let mut races = Vec::new();
        for i in 0..40 {
            let id = format!("c{i}");
            for s in ["S1", "S2"] {
                let (node, event, inc) = (node.clone(), event.clone(), new(&id, s));
                races.push(tokio::spawn(async move { node.record_checkins(&event, s, vec![inc]).await }));
            }
        }
        let mut created = BTreeMap::<String, usize>::new();
        for r in races {
            let mut out = r.await.unwrap().unwrap();
            match out.pop().unwrap() {
                Ok(Recorded::Created(c)) => *created.entry(c.id).or_default() += 1,
                Ok(Recorded::Existing(c)) => panic!("{} was not there before", c.id),
                Err(NodeError::Conflict(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(created.len(), 40, "every id recorded once");
        assert!(created.values().all(|n| *n == 1), "{created:?}");
        let (listed, _) = node.checkins(CheckInFilter::default(), 1000).await.unwrap();
        assert_eq!(listed.len(), 40);
        node.store.close().await;
    }

    /// A batch whose storage fails for one session answers per item: the other session's
    /// scans are stored and say so, the failed ones carry the storage error.
    #[tokio::test]
    async fn a_batch_failing_part_way_answers_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        let at: jiff::Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
        let event = Event {
            id: "E1".into(),
            title: "E".into(),
            provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
            venue: None,
            timezone: "UTC".into(),
            policy: Policy::default(),
            sessions: BTreeMap::new(),
            roster: BTreeMap::new(),
        };
        node.create_event(event).await.unwrap();
        for s in ["S1", "S2"] {
            node.create_session("E1", session(s, at)).await.unwrap();
        }
        // The disk refuses the write that holds check-in "lost".
        node.store
            .write(|tx| {
                tx.execute_batch(
                    "CREATE TEMP TRIGGER refuse BEFORE INSERT ON changes WHEN NEW.id = 'lost'
                     BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let item = |id: &str, s: &str| {
            Ok(NewCheckIn {
                checkin: CheckIn {
                    id: id.into(),
                    event_id: "E1".into(),
                    session_id: s.into(),
                    member_id: "M1".into(),
                    direction: Direction::In,
                    at,
                    method: Method::Badge,
                    kiosk_id: "k".into(),
                    recorded_at: at,
                },
                at_given: true,
                method_given: true,
            })
        };
        let out = node
            .record_batch(vec![item("kept", "S1"), item("lost", "S2"), item("also-lost", "S2")])
            .await
            .expect("a batch answers per item");
        assert!(matches!(&out[0], Ok((Recorded::Created(c), _)) if c.id == "kept"), "{:?}", out[0]);
        assert!(matches!(&out[1], Err(NodeError::Shared(_))), "{:?}", out[1]);
        assert!(matches!(&out[2], Err(NodeError::Shared(_))), "{:?}", out[2]);
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        assert_eq!(listed.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["kept"]);
        node.store.close().await;
    }
}
