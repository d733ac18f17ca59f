//! Which documents two nodes exchange: those inside both credentials' scopes.
//!
//! Whether an event and its attendance are under a `provider:` scope depends on the event's
//! content. For the events this node holds, the provider is read when the session starts
//! ([`PeerScope::of`]) and the scope decides at once. An event this node does **not hold yet**
//! (a new event of the provider a staff laptop works for, created at the central node) cannot be
//! judged that way: it is *pending*. A pending document is taken from the peer for one turn
//! when both credentials may cover it for some provider ([`Scopes::may_cover`]), and its content
//! is checked before anything is committed ([`PeerScope::settle`]): an event of another
//! provider, or attendance whose event is still unknown, is refused and discarded, never
//! stored. Nothing is ever *sent* on trust: a document this node holds goes to the peer only
//! when its provider is known to be inside both scopes (attendance held without its event is
//! not pending, so it stays home).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use cec_core::doc::DocId;
use cec_core::ident::{Scope, Scopes};
use cec_core::sync::ScopeFilter;

use crate::node::Node;
use crate::storage;

/// The documents two nodes exchange (see the module documentation).
#[derive(Debug)]
pub struct PeerScope {
    mine: Scopes,
    theirs: Scopes,
    /// The provider of each event this node holds, and of each pending event accepted since.
    providers: Mutex<HashMap<String, String>>,
    /// Events whose attendance this node holds without the event: never pending.
    held_without_event: HashSet<String>,
}

impl PeerScope {
    /// The scope between two nodes whose credentials grant `mine` and `theirs`, knowing the
    /// providers of `providers` and holding attendance of the events of `held_without_event`
    /// without the event.
    pub fn new(
        mine: Scopes,
        theirs: Scopes,
        providers: HashMap<String, String>,
        held_without_event: HashSet<String>,
    ) -> Arc<Self> {
        Arc::new(Self { mine, theirs, providers: Mutex::new(providers), held_without_event })
    }

    /// Every document (two central nodes; tests).
    pub fn all() -> Arc<Self> {
        let all = Scopes::new([Scope::All]);
        Self::new(all.clone(), all, HashMap::new(), HashSet::new())
    }

    /// The scope between this node (`mine`) and a peer (`theirs`), reading the providers of
    /// the events this node holds.
    pub async fn of(node: &Node, mine: Scopes, theirs: Scopes) -> Arc<Self> {
        let mut providers = HashMap::new();
        let mut attendance_of = HashSet::new();
        match node.store.read(|c| storage::list_docs(c, "")).await {
            Ok(ids) => {
                for id in ids {
                    match id.parse::<DocId>() {
                        Ok(DocId::Event { event_id }) => {
                            if let Ok(Some(e)) = node.docs.event(&event_id).await {
                                providers.insert(event_id, e.provider.id.clone());
                            }
                        }
                        Ok(DocId::Attendance { event_id, .. }) => {
                            attendance_of.insert(event_id);
                        }
                        _ => {}
                    }
                }
            }
            Err(e) => tracing::warn!(cause = %e, "listing documents failed: events under a provider scope wait"),
        }
        attendance_of.retain(|e| !providers.contains_key(e));
        Self::new(mine, theirs, providers, attendance_of)
    }

    fn provider(&self, event_id: &str) -> Option<String> {
        self.providers.lock().unwrap_or_else(|p| p.into_inner()).get(event_id).cloned()
    }

    /// Whether both scopes cover `doc` by what is known now.
    pub fn covers(&self, doc: &DocId) -> bool {
        let provider_of = |e: &str| self.provider(e);
        self.mine.covers(doc, provider_of) && self.theirs.covers(doc, provider_of)
    }

    /// The event whose content decides whether `doc` is in scope, when this node does not
    /// know it yet and both scopes may cover it: the document may be taken from the peer, and
    /// must be settled ([`PeerScope::settle`]) before it is committed.
    pub fn pending(&self, doc: &DocId) -> Option<String> {
        let event_id = doc.event_id()?;
        let pending = self.provider(event_id).is_none()
            && !self.held_without_event.contains(event_id)
            && !self.covers(doc)
            && self.mine.may_cover(doc)
            && self.theirs.may_cover(doc);
        pending.then(|| event_id.to_owned())
    }

    /// The filter a sync session applies: documents both scopes cover, and pending ones.
    pub fn filter(self: &Arc<Self>) -> ScopeFilter {
        let scope = self.clone();
        ScopeFilter::new(move |doc| scope.covers(doc) || scope.pending(doc).is_some())
    }

    /// Judges a pending document by its content before it is committed. `provider` is the
    /// provider its event document now names, for an event document; attendance is judged by
    /// its event, which must have been settled first (events sort before attendance). An
    /// accepted event's provider is remembered for the rest of the session.
    pub fn settle(&self, doc: &DocId, provider: Option<&str>) -> Result<(), String> {
        let Some(event_id) = doc.event_id() else { return Ok(()) };
        let provider = match (doc, provider) {
            (DocId::Event { .. }, Some(p)) => p.to_owned(),
            (DocId::Event { .. }, None) => {
                return Err(format!("event {event_id} names no provider: it cannot be placed in a scope"));
            }
            _ => match self.provider(event_id) {
                Some(p) => p,
                None => {
                    return Err(format!(
                        "its event {event_id} is not held here yet: the attendance is taken once the event is"
                    ));
                }
            },
        };
        let provider_of = |_: &str| Some(provider.clone());
        if !self.mine.covers(doc, provider_of) {
            return Err(format!(
                "event {event_id} is of provider {provider}, outside this node's scopes ({})",
                self.mine
            ));
        }
        if !self.theirs.covers(doc, provider_of) {
            return Err(format!(
                "event {event_id} is of provider {provider}, outside the peer's scopes ({})",
                self.theirs
            ));
        }
        if matches!(doc, DocId::Event { .. }) {
            self.providers.lock().unwrap_or_else(|p| p.into_inner()).insert(event_id.to_owned(), provider);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(mine: &str, theirs: &str) -> Arc<PeerScope> {
        let providers = [("E1".to_owned(), "P1".to_owned()), ("E2".to_owned(), "P2".to_owned())].into();
        PeerScope::new(
            Scopes::parse_list(mine).expect("scopes"),
            Scopes::parse_list(theirs).expect("scopes"),
            providers,
            ["E8".to_owned()].into(),
        )
    }

    #[test]
    fn known_events_are_judged_at_once_and_unknown_ones_wait_for_their_content() {
        let s = scope("provider:P1", "*");
        assert!(s.covers(&DocId::event("E1")) && s.pending(&DocId::event("E1")).is_none());
        assert!(!s.covers(&DocId::event("E2")) && s.pending(&DocId::event("E2")).is_none(), "known: P2");
        assert_eq!(s.pending(&DocId::event("E9")).as_deref(), Some("E9"));
        assert_eq!(s.pending(&DocId::attendance("E9", "S1")).as_deref(), Some("E9"));
        assert!(s.pending(&DocId::attendance("E8", "S1")).is_none(), "held without its event: stays home");
        assert!(s.pending(&DocId::portfolio("M1")).is_none());
        let f = s.filter();
        assert!(f.allows(&DocId::event("E9")) && !f.allows(&DocId::event("E2")));

        // Attendance before its event is not taken; the event of the right provider is, and
        // then its attendance.
        assert!(s.settle(&DocId::attendance("E9", "S1"), None).is_err());
        assert!(s.settle(&DocId::event("E9"), Some("P2")).is_err());
        assert!(s.pending(&DocId::event("E9")).is_some(), "a refused event stays unknown");
        s.settle(&DocId::event("E9"), Some("P1")).expect("in scope");
        assert!(s.covers(&DocId::event("E9")) && s.pending(&DocId::event("E9")).is_none());
        s.settle(&DocId::attendance("E9", "S1"), None).expect("its event is known");
    }

    #[test]
    fn an_event_scope_never_waits_and_a_peer_without_a_provider_scope_gets_nothing_pending() {
        let kiosk = scope("event:E9", "*");
        assert!(kiosk.covers(&DocId::event("E9")) && kiosk.pending(&DocId::event("E9")).is_none());
        assert!(!kiosk.filter().allows(&DocId::event("E7")));
        let with_member = scope("provider:P1", "member:M1");
        assert!(with_member.pending(&DocId::event("E9")).is_none());
        let staff_pair = scope("provider:P1", "provider:P2");
        assert_eq!(staff_pair.pending(&DocId::event("E9")).as_deref(), Some("E9"));
        let err = staff_pair.settle(&DocId::event("E9"), Some("P1")).expect_err("not the peer's");
        assert!(err.contains("outside the peer's scopes"), "{err}");
    }
}
