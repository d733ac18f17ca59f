//! Two real nodes (storage, documents, projections) syncing in one process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session as EventSession, SessionFormat};
use cec_core::{CheckIn, Direction, Event, Method};

use super::*;
use crate::config::Config as NodeConfig;
use crate::node::index::CheckInFilter;
use crate::node::{NewCheckIn, NodeError};
use cec_core::ident::{Role, Scope, Scopes};

mod retention;

/// Frames handed straight to the other node's responder.
struct Direct {
    to: Arc<Node>,
    responders: Arc<Responders>,
    from: String,
    /// Drop the connection after this many frames (a lost link mid-session).
    cut_after: Option<usize>,
    sent: usize,
}

impl Transport for Direct {
    async fn exchange(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        if self.cut_after.is_some_and(|n| self.sent >= n) {
            return Err(SyncError::Transport("link cut".into()));
        }
        self.sent += 1;
        self.responders
            .answer(&self.to, &self.from, Role::Central, async { PeerScope::all() }, Config::default(), &frame)
            .await
    }
}

async fn node(dir: &std::path::Path) -> Arc<Node> {
    Arc::new(Node::open(dir, NodeConfig::default()).await.unwrap())
}

async fn with_event(node: &Node) {
    let at: jiff::Timestamp = "2027-03-01T09:00:00Z".parse().unwrap();
    let event = Event {
        id: "E1".into(),
        title: "Spring".into(),
        provider: Provider { id: "P".into(), name: "P".into(), endorsement: None },
        venue: None,
        timezone: "UTC".into(),
        policy: Policy::default(),
        sessions: BTreeMap::new(),
        roster: BTreeMap::new(),
    };
    node.create_event(event).await.unwrap();
    let session = EventSession {
        id: "S1".into(),
        title: "Talk".into(),
        category: "general".into(),
        format: SessionFormat::InPerson,
        starts_at: at,
        segments: vec![Segment::new(SegmentKind::Instruction, 75)],
    };
    node.create_session("E1", session).await.unwrap();
}

async fn scan(node: &Arc<Node>, id: &str, member: &str, direction: Direction, at: &str) {
    let at: jiff::Timestamp = at.parse().unwrap();
    let event = node.require_event("E1").await.unwrap();
    let inc = NewCheckIn {
        checkin: CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: member.into(),
            direction,
            at,
            method: Method::Badge,
            kiosk_id: node.identity.node_id.to_string(),
            recorded_at: at,
        },
        at_given: true,
        method_given: true,
    };
    let r = node.record_checkins(&event, "S1", vec![inc]).await.unwrap();
    r.into_iter().next().unwrap().unwrap();
}

fn direct(to: &Arc<Node>, responders: &Arc<Responders>, from: &Node) -> Direct {
    Direct {
        to: to.clone(),
        responders: responders.clone(),
        from: from.identity.node_id.to_string(),
        cut_after: None,
        sent: 0,
    }
}

async fn listed(node: &Node) -> Vec<String> {
    let (rows, _) = node.checkins(CheckInFilter::default(), 1000).await.unwrap();
    rows.into_iter().map(|(c, _)| c.id).collect()
}

/// An in-scan at one kiosk and an out-scan at another make one attendance on both, after
/// each syncs with the central node; remote check-ins are indexed, fed and credited.
#[tokio::test]
async fn check_ins_from_two_kiosks_meet_at_the_central_node() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, a, b) = (node(dirs[0].path()).await, node(dirs[1].path()).await, node(dirs[2].path()).await);
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    // Both kiosks pick the event up from the central node.
    for k in [&a, &b] {
        run_initiator(
            k,
            central.identity.node_id.as_str(),
            Role::Central,
            PeerScope::all(),
            Config::default(),
            &mut direct(&central, &at_central, k),
        )
        .await
        .unwrap();
        assert!(k.event("E1").await.unwrap().is_some());
    }
    scan(&a, "c-in", "M1", Direction::In, "2027-03-01T08:58:00Z").await;
    scan(&b, "c-out", "M1", Direction::Out, "2027-03-01T10:15:00Z").await;
    for k in [&a, &b, &a] {
        let stats = run_initiator(
            k,
            central.identity.node_id.as_str(),
            Role::Central,
            PeerScope::all(),
            Config::default(),
            &mut direct(&central, &at_central, k),
        )
        .await
        .unwrap();
        assert!(stats.errors.is_empty(), "{:?}", stats.errors);
    }
    for n in [&central, &a] {
        assert_eq!(listed(n).await, ["c-in", "c-out"]);
        let att = n.attendance("M1", None).await.unwrap();
        assert_eq!(att.len(), 1);
        assert_eq!(att[0].0.credit.credit.to_string(), "1.25", "75 minutes attended");
        let feed = n.changes(0, 100).await.unwrap();
        assert!(feed.iter().any(|c| c.kind == "checkin" && c.id == "c-out"), "{feed:?}");
    }
    // Nothing new: one round trip, and nothing sent but the summaries.
    let stats = run_initiator(
        &a,
        central.identity.node_id.as_str(),
        Role::Central,
        PeerScope::all(),
        Config::default(),
        &mut direct(&central, &at_central, &a),
    )
    .await
    .unwrap();
    assert_eq!((stats.frames_sent, stats.frames_received), (1, 1), "{stats:?}");
    for n in [central, a, b] {
        n.close().await;
    }
}

/// A link cut mid-session loses nothing: what arrived is stored, and the next session
/// completes the exchange.
#[tokio::test]
async fn a_cut_link_resumes_on_the_next_session() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk) = (node(dirs[0].path()).await, node(dirs[1].path()).await);
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    let mut t = direct(&central, &at_central, &kiosk);
    run_initiator(
        &kiosk,
        central.identity.node_id.as_str(),
        Role::Central,
        PeerScope::all(),
        Config::default(),
        &mut t,
    )
    .await
    .unwrap();
    for i in 0..30 {
        scan(&kiosk, &format!("c{i:02}"), &format!("M{i}"), Direction::In, "2027-03-01T09:00:00Z").await;
    }
    let mut cut = direct(&central, &at_central, &kiosk);
    cut.cut_after = Some(2);
    let err = run_initiator(
        &kiosk,
        central.identity.node_id.as_str(),
        Role::Central,
        PeerScope::all(),
        Config::default(),
        &mut cut,
    )
    .await;
    assert!(matches!(err, Err(SyncError::Transport(_))), "{err:?}");
    let mut t = direct(&central, &at_central, &kiosk);
    run_initiator(
        &kiosk,
        central.identity.node_id.as_str(),
        Role::Central,
        PeerScope::all(),
        Config::default(),
        &mut t,
    )
    .await
    .unwrap();
    assert_eq!(listed(&central).await.len(), 30);
    central.close().await;
    kiosk.close().await;
}

/// A scope keeps documents outside it at home.
#[tokio::test]
async fn nothing_outside_the_scope_is_sent() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk) = (node(dirs[0].path()).await, node(dirs[1].path()).await);
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    central.create_entry("M1", note()).await.unwrap();
    let only_events = PeerScope::of(&kiosk, Scopes::parse_list("event:E1").unwrap(), Scopes::new([Scope::All])).await;
    let mut t = direct(&central, &at_central, &kiosk);
    run_initiator(&kiosk, central.identity.node_id.as_str(), Role::Central, only_events, Config::default(), &mut t)
        .await
        .unwrap();
    assert!(kiosk.event("E1").await.unwrap().is_some());
    assert!(kiosk.stored_portfolio("M1").await.unwrap().is_none(), "a kiosk never receives a portfolio");
    central.close().await;
    kiosk.close().await;
}

fn note() -> cec_core::portfolio::Entry {
    cec_core::portfolio::Entry {
        id: "n1".into(),
        kind: cec_core::portfolio::EntryKind::Note,
        title: "private".into(),
        description: None,
        date: jiff::civil::date(2027, 1, 1),
        cecs: None,
        contact_minutes: None,
        category: None,
        provider: None,
        evidence: vec![],
    }
}

/// A verified record of event E9, which no node holds.
fn unheld_record() -> cec_core::portfolio::VerifiedRecord {
    cec_core::portfolio::VerifiedRecord {
        event_id: "E9".into(),
        session_id: "S9".into(),
        event_title: "Never held".into(),
        session_title: "Never held".into(),
        provider_id: "P".into(),
        provider_name: "P".into(),
        endorsement_number: "X".into(),
        date: jiff::civil::date(2027, 1, 1),
        category: "ethics".into(),
        contact_minutes: 600,
        cecs: rust_decimal::Decimal::from(10),
        verification_code: "forged".into(),
    }
}

/// A member node cannot forge verified history: its change to the verified records of its
/// own portfolio is refused at the central node, while its own entries are taken.
#[tokio::test]
async fn a_member_cannot_forge_verified_records() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, laptop) = (node(dirs[0].path()).await, node(dirs[1].path()).await);
    let at_central = Arc::new(Responders::default());
    let member = Scopes::parse_list("member:M1").unwrap();
    let member_scope = || PeerScope::new(member.clone(), Scopes::new([Scope::All]), HashMap::new(), HashSet::new());
    let as_member = |to: &Arc<Node>| Direct {
        to: to.clone(),
        responders: at_central.clone(),
        from: laptop.identity.node_id.to_string(),
        cut_after: None,
        sent: 0,
    };
    laptop.create_entry("M1", note()).await.unwrap();
    // The central node answers this peer as a member.
    struct AsMember(Direct);
    impl Transport for AsMember {
        async fn exchange(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
            let d = &self.0;
            d.responders
                .answer(&d.to, &d.from, Role::Member, async { PeerScope::all() }, Config::default(), &frame)
                .await
        }
    }
    let mut t = AsMember(as_member(&central));
    run_initiator(&laptop, central.identity.node_id.as_str(), Role::Central, member_scope(), Config::default(), &mut t)
        .await
        .unwrap();
    assert_eq!(central.stored_portfolio("M1").await.unwrap().unwrap().entries.len(), 1, "its own entry is taken");
    // Now a forged verified record.
    let forged = unheld_record();
    laptop
        .docs
        .update(&DocId::portfolio("M1"), |d| {
            cec_core::doc::portfolio::apply_verified(d, "E9", std::slice::from_ref(&forged)).map_err(NodeError::from)
        })
        .await
        .unwrap();
    let mut t = AsMember(as_member(&central));
    run_initiator(&laptop, central.identity.node_id.as_str(), Role::Central, member_scope(), Config::default(), &mut t)
        .await
        .unwrap();
    let p = central.stored_portfolio("M1").await.unwrap().unwrap();
    assert!(p.verified.is_empty(), "the forged record was refused");
    assert_eq!(p.entries.len(), 1);
    central.close().await;
    laptop.close().await;
}

/// A staff laptop under `provider:P` receives an event of P that it did not hold, with its
/// attendance, in one session; an event of another provider that the peer sends anyway is
/// judged by its content, refused and not stored, and neither is its sync state.
#[tokio::test]
async fn events_a_node_did_not_hold_are_judged_by_their_content() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, staff) = (node(dirs[0].path()).await, node(dirs[1].path()).await);
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    scan(&central, "c-in", "M1", Direction::In, "2027-03-01T08:58:00Z").await;
    let mut other = (*central.require_event("E1").await.unwrap()).clone();
    other.id = "E2".into();
    other.sessions.clear();
    other.provider = Provider { id: "Q".into(), name: "Q".into(), endorsement: None };
    central.create_event(other).await.unwrap();

    // The central side answers as if the staff laptop could have everything: only the
    // laptop's own check keeps E2 out.
    let run = |staff: Arc<Node>, central: Arc<Node>, at_central: Arc<Responders>| async move {
        let scope = PeerScope::of(&staff, Scopes::parse_list("provider:P").unwrap(), Scopes::new([Scope::All])).await;
        let mut t = direct(&central, &at_central, &staff);
        run_initiator(&staff, central.identity.node_id.as_str(), Role::Central, scope, Config::default(), &mut t)
            .await
            .unwrap()
    };
    let stats = run(staff.clone(), central.clone(), at_central.clone()).await;
    assert!(staff.event("E1").await.unwrap().is_some(), "an event of its provider, never held before");
    assert_eq!(listed(&staff).await, ["c-in"], "and its attendance, in the same session");
    assert!(staff.event("E2").await.unwrap().is_none(), "another provider's event is not kept");
    assert!(stats.refused.contains(&DocId::event("E2")), "{stats:?}");
    assert!(!stats.docs_changed.contains(&DocId::event("E2")));
    let central_id = central.identity.node_id.to_string();
    let c = central_id.clone();
    let state = staff.store.read(move |conn| storage::get_sync_state(conn, &c, "event:E2")).await.unwrap();
    assert_eq!(state, None, "no sync state claims what was refused");
    let docs = staff.store.read(|c| storage::list_docs(c, "")).await.unwrap();
    assert!(!docs.iter().any(|d| d.contains("E2")), "{docs:?}");

    // The next session: E1 is known now, E2 is refused again and still not stored.
    let stats = run(staff.clone(), central.clone(), at_central.clone()).await;
    assert!(stats.docs_changed.is_empty(), "{stats:?}");
    assert!(staff.event("E2").await.unwrap().is_none());
    central.close().await;
    staff.close().await;
}

/// Frames to the other node's responder, noting after each answer whether the answering
/// node's turn with the sender is taken.
struct Watching {
    inner: Direct,
    turn_taken: Vec<bool>,
}

impl Transport for Watching {
    async fn exchange(&mut self, frame: Vec<u8>) -> Result<Option<Vec<u8>>, SyncError> {
        let answer = self.inner.exchange(frame).await;
        self.turn_taken.push(self.inner.to.sync_turn(&self.inner.from).try_lock().is_err());
        answer
    }
}

/// One round at a time per pair of nodes, whichever side opened it: an opening that arrives
/// while the answering node's own round toward the sender runs is answered Busy; a session
/// the peer opened holds the answering node's turn from its opening to its end; one the peer
/// abandoned gives the turn back once idle past its timeout.
#[tokio::test]
async fn one_round_at_a_time_between_two_nodes_whichever_side_opened_it() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk) = (node(dirs[0].path()).await, node(dirs[1].path()).await);
    let at_central = Arc::new(Responders::default());
    let (central_id, kiosk_id) = (central.identity.node_id.to_string(), kiosk.identity.node_id.to_string());
    with_event(&central).await;
    let open = |t: Direct| {
        let kiosk = kiosk.clone();
        let central_id = central_id.clone();
        async move {
            let mut t = Watching { inner: t, turn_taken: Vec::new() };
            let r =
                run_initiator(&kiosk, &central_id, Role::Central, PeerScope::all(), Config::default(), &mut t).await;
            (r, t.turn_taken)
        }
    };

    // The central node is in a round of its own toward the kiosk.
    let own_round = central.sync_turn(&kiosk_id).try_lock_owned().unwrap();
    let (r, _) = open(direct(&central, &at_central, &kiosk)).await;
    assert!(matches!(r, Err(SyncError::Busy)), "{r:?}");
    assert!(kiosk.event("E1").await.unwrap().is_none(), "nothing moved");
    drop(own_round);

    let (r, taken) = open(direct(&central, &at_central, &kiosk)).await;
    r.unwrap();
    assert!(kiosk.event("E1").await.unwrap().is_some());
    assert!(taken.len() >= 3, "{taken:?}");
    assert!(taken[..taken.len() - 1].iter().all(|t| *t), "held from the opening: {taken:?}");
    assert!(!taken[taken.len() - 1], "given back at the end: {taken:?}");

    // The kiosk leaves in the middle of a session.
    scan(&central, "c-in", "M1", Direction::In, "2027-03-01T08:58:00Z").await;
    let mut cut = direct(&central, &at_central, &kiosk);
    cut.cut_after = Some(1);
    let (r, taken) = open(cut).await;
    assert!(matches!(r, Err(SyncError::Transport(_))), "{r:?}");
    assert!(taken.iter().all(|t| *t), "the session the kiosk opened is waiting for it: {taken:?}");
    // The kiosk's next opening replaces its abandoned session, turn and all.
    let (r, _) = open(direct(&central, &at_central, &kiosk)).await;
    r.unwrap();
    assert_eq!(listed(&kiosk).await, ["c-in"]);
    // Abandoned again: this time nothing comes back, and the idle session expires.
    scan(&central, "c-out", "M1", Direction::Out, "2027-03-01T10:15:00Z").await;
    let mut cut = direct(&central, &at_central, &kiosk);
    cut.cut_after = Some(1);
    let (r, _) = open(cut).await;
    assert!(matches!(r, Err(SyncError::Transport(_))), "{r:?}");
    assert!(!at_central.expire_idle(&kiosk_id, now_ms()), "not idle yet");
    assert!(central.sync_turn(&kiosk_id).try_lock().is_err());
    assert!(at_central.expire_idle(&kiosk_id, now_ms() + Config::default().idle_timeout_ms));
    assert!(central.sync_turn(&kiosk_id).try_lock().is_ok(), "the abandoned session gave the turn back");
    central.close().await;
    kiosk.close().await;
}

/// A member node may not write verified records, one by one or by putting the map of them
/// whole (which names none of them): either change to its portfolio is refused.
#[test]
fn a_member_replacing_its_verified_records_whole_is_refused() {
    use automerge::transaction::Transactable as _;
    let id = DocId::portfolio("M1");
    let mut central = cec_core::doc::new_doc(&id, &cec_core::doc::actor_for("central"));
    cec_core::doc::portfolio::apply_verified(&mut central, "E9", &[unheld_record()]).unwrap();
    central.update_diff_cursor();
    for wipe in [true, false] {
        let mut member = central.fork().with_actor(cec_core::doc::actor_for("member"));
        if wipe {
            member.put_object(automerge::ROOT, "verified", automerge::ObjType::Map).unwrap();
        } else {
            member.delete(automerge::ROOT, "verified").unwrap();
        }
        member.commit();
        let mut at_central = central.fork();
        at_central.update_diff_cursor();
        at_central.merge(&mut member).unwrap();
        let projection = Projection::of_change(&id, &mut at_central).unwrap();
        let why = refusal(Role::Member, &id, &projection);
        assert!(why.as_deref().is_some_and(|w| w.contains("verified records")), "wipe={wipe}: {why:?}");
        assert_eq!(refusal(Role::Central, &id, &projection), None);
    }
}
