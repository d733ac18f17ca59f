//! Events, sessions and rosters: idempotent creates and the reads every other service needs.

use std::sync::Arc;

use cec_core::doc::{self, DocId};
use cec_core::{Event, RosterMember, Session};

use super::Node;
use super::error::{NodeError, NodeResult};

/// Whether a create made something new or found the same thing already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// Newly stored.
    New,
    /// The same content was already stored (a retried create).
    Existing,
}

/// Whether two events agree on their own fields (not sessions or roster).
fn same_event_fields(a: &Event, b: &Event) -> bool {
    a.id == b.id
        && a.title == b.title
        && a.provider == b.provider
        && a.venue == b.venue
        && a.timezone == b.timezone
        && a.policy == b.policy
}

impl Node {
    /// The event `event_id` as this node holds it, if it does.
    /// Never waits for a commit in flight: it reads the event as last committed.
    pub async fn event(&self, event_id: &str) -> NodeResult<Option<Arc<Event>>> {
        doc::validate_scope_id(event_id).map_err(|e| NodeError::invalid("event_id", e.to_string()))?;
        Ok(self.docs.event(event_id).await?)
    }

    /// The event `event_id`, or [`NodeError::NotFound`].
    pub async fn require_event(&self, event_id: &str) -> NodeResult<Arc<Event>> {
        self.event(event_id).await?.ok_or_else(|| NodeError::NotFound(format!("no event {event_id:?} on this node")))
    }

    /// The events this node holds, ordered by id, after `after` (an event id), at most `limit`;
    /// and whether more follow.
    pub async fn events(&self, after: Option<&str>, limit: usize) -> NodeResult<(Vec<Arc<Event>>, bool)> {
        let ids = self.docs.list("event:").await?;
        let after = after.map(|c| format!("event:{c}"));
        let mut items = Vec::new();
        for id in ids.iter().filter(|id| after.as_ref().is_none_or(|a| *id > a)) {
            let Ok(DocId::Event { event_id }) = id.parse::<DocId>() else { continue };
            let Some(event) = self.docs.event(&event_id).await? else { continue };
            if items.len() == limit {
                return Ok((items, true));
            }
            items.push(event);
        }
        Ok((items, false))
    }

    /// Creates an event; the same event again is [`Created::Existing`], other content under
    /// its id a conflict.
    pub async fn create_event(&self, event: Event) -> NodeResult<(Created, Event)> {
        let doc_id = DocId::event(&event.id);
        self.docs
            .update(&doc_id, |d| {
                if let Ok(existing) = doc::event::read(d) {
                    if same_event_fields(&existing, &event) {
                        return Ok((Created::Existing, existing));
                    }
                    return Err(NodeError::Conflict(format!("event {:?} exists with other content", event.id)));
                }
                doc::event::put_event(d, &event)?;
                Ok((Created::New, event))
            })
            .await
    }

    /// Adds a session to an event; idempotent like [`Node::create_event`].
    pub async fn create_session(&self, event_id: &str, session: Session) -> NodeResult<(Created, Session)> {
        self.require_event(event_id).await?;
        let doc_id = DocId::event(event_id);
        self.docs
            .update(&doc_id, |d| {
                let event = doc::event::read(d)?;
                if let Some(existing) = event.sessions.get(&session.id) {
                    // A session stored before categories were lowercased, sent again as it
                    // was first sent: the same session.
                    let mut folded = existing.clone();
                    folded.category = cec_core::event::category_key(&folded.category);
                    if folded == session {
                        return Ok((Created::Existing, existing.clone()));
                    }
                    return Err(NodeError::Conflict(format!("session {:?} exists with other content", session.id)));
                }
                doc::event::put_session(d, &session)?;
                Ok((Created::New, session))
            })
            .await
    }

    /// Adds or updates roster members; returns the event as it now is.
    pub async fn add_roster(&self, event_id: &str, members: &[RosterMember]) -> NodeResult<Arc<Event>> {
        self.require_event(event_id).await?;
        let doc_id = DocId::event(event_id);
        self.docs
            .update(&doc_id, |d| {
                for m in members {
                    doc::event::put_roster_member(d, m)?;
                }
                Ok::<_, NodeError>(())
            })
            .await?;
        self.require_event(event_id).await
    }
}
