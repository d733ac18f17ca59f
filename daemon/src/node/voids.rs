//! Voiding check-ins: a correction is a fact of its own (`design.md`: a correction voids, never
//! deletes). The void is written into the check-in's attendance document; the projection
//! indexes it and names the check-in in the change feed, like a new check-in.

use std::collections::HashMap;

use cec_core::doc::{self, DocId};
use cec_core::{CheckIn, Void};
use jiff::Timestamp;

use super::Node;
use super::error::{NodeError, NodeResult};
use super::index;

/// The most characters a void's reason may hold.
pub const MAX_REASON_CHARS: usize = 500;

/// What voiding answered.
#[derive(Debug, Clone)]
pub struct VoidAnswer {
    /// The check-in, as stored.
    pub checkin: CheckIn,
    /// Its void (the first one, when it was voided before).
    pub void: Void,
    /// Whether this request voided it (false: it was voided before).
    pub new: bool,
}

impl Node {
    /// Voids check-in `id` with `reason`, as this node, at `now`. Idempotent: voiding a voided
    /// check-in answers the void that stands. `NotFound` when this node holds no such check-in.
    pub async fn void_checkin(&self, id: &str, reason: &str, now: Timestamp) -> NodeResult<VoidAnswer> {
        cec_core::id::validate(id).map_err(|e| NodeError::invalid("id", e.to_string()))?;
        if reason.chars().count() > MAX_REASON_CHARS {
            return Err(NodeError::invalid("reason", format!("at most {MAX_REASON_CHARS} characters")));
        }
        if reason.chars().any(char::is_control) {
            return Err(NodeError::invalid("reason", "control characters are not allowed"));
        }
        // The check-in may still be in the log: the document is read below. One whose fold
        // failed is acknowledged but not in its document, where the void would be written.
        self.fold_logged_with(id).await?;
        let ids = vec![id.to_owned()];
        let places = self.store.read(move |c| index::checkin_places(c, &ids)).await?;
        let Some((_, event_id, session_id)) = places.into_iter().next() else {
            return Err(NodeError::NotFound(format!("no check-in {id:?}")));
        };
        let v = Void {
            checkin_id: id.to_owned(),
            by: self.identity.node_id.to_string(),
            at: now,
            reason: reason.to_owned(),
        };
        let doc_id = DocId::attendance(&event_id, &session_id);
        self.docs
            .update(&doc_id, |d| {
                let Some(checkin) = doc::attendance::get(d, id)? else {
                    return Err(NodeError::NotFound(format!("no check-in {id:?}")));
                };
                Ok(match doc::attendance::void(d, &v)? {
                    doc::attendance::Voided::New(void) => VoidAnswer { checkin, void, new: true },
                    doc::attendance::Voided::Existing(void) => VoidAnswer { checkin, void, new: false },
                })
            })
            .await
    }

    /// The voids of those of `ids` that are voided, by check-in id.
    pub async fn voids_of(&self, ids: Vec<String>) -> NodeResult<HashMap<String, Void>> {
        let voids = self.store.read(move |c| index::voids_of(c, &ids)).await?;
        Ok(voids.into_iter().map(|v| (v.checkin_id.clone(), v)).collect())
    }
}

#[cfg(test)]
mod tests {
    use cec_core::doc::actor_for;
    use cec_core::{Direction, Method};

    use super::*;
    use crate::node::projection::{FeedKind, Projection};

    /// A void that arrives from a peer projects like a local one: the feed names its check-in
    /// (so the index, listings and the central node's derivation follow).
    #[test]
    fn a_merged_void_names_its_checkin() {
        let at: Timestamp = "2027-03-01T09:00:00Z".parse().expect("instant");
        let c = CheckIn {
            id: "c1".into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: "M1".into(),
            direction: Direction::In,
            at,
            method: Method::Badge,
            kiosk_id: "k".into(),
            recorded_at: at,
        };
        let id = DocId::attendance("E1", "S1");
        let mut here = doc::attendance::new_doc("E1", "S1", &actor_for("here"));
        doc::attendance::add_checkin(&mut here, &c).expect("recorded");
        here.commit();
        here.update_diff_cursor();
        let mut there = here.fork().with_actor(actor_for("there"));
        let v = Void { checkin_id: "c1".into(), by: "there".into(), at, reason: "typo".into() };
        doc::attendance::void(&mut there, &v).expect("voided");
        there.commit();
        here.merge(&mut there).expect("merged");
        let p = Projection::of_change(&id, &mut here).expect("projection");
        assert_eq!(p.feed(), [(FeedKind::CheckIn, "c1".to_owned())]);
        let rebuilt = Projection::rebuild(&id, &mut here).expect("rebuild");
        assert!(rebuilt.feed().is_empty());
    }
}
