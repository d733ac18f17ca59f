//! Retention on a kiosk (`node::retention`) with a real central node and kiosk in one process:
//! nothing is dropped before the event is over and the central node holds it, everything of
//! it is dropped after, and no sync brings it back, before or after a restart.

use cec_core::event::RosterMember;
use cec_core::ident::{Scope, Scopes};
use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::node::Identity;
use crate::node::credential::{Credential, Enrolment, encode_public_key};
use crate::node::retention::RetiredEvent;

/// A name that appears nowhere but in the event's roster.
const NAME: &str = "Zelda Quillfeather-Oyelaran";

/// The end of `with_event`'s only session: 09:00 plus 75 minutes.
fn ended() -> Timestamp {
    "2027-03-01T10:15:00Z".parse().unwrap()
}

/// When the event is due for retention with the default `retention_days` (7).
fn due() -> Timestamp {
    ended() + SignedDuration::from_hours(7 * 24)
}

/// The organization's central node, and a kiosk enrolled for event E1 that knows the central
/// node as its `central` peer.
async fn central_and_kiosk(central_dir: &std::path::Path, kiosk_dir: &std::path::Path) -> (Arc<Node>, Arc<Node>) {
    let now = Timestamp::now();
    let id = Identity::load_or_create(central_dir).unwrap();
    Enrolment::init_central(central_dir, "ACA", id.signing_key(), now).unwrap();
    let central = node(central_dir).await;
    let org = Enrolment::load(central_dir).unwrap().org_signing.unwrap();
    let kiosk_key = Identity::load_or_create(kiosk_dir).unwrap().signing_key().verifying_key();
    let scopes = Scopes::new(["event:E1".parse::<Scope>().unwrap()]);
    let cred = Credential::issue(&org, "ACA", &kiosk_key, Role::Kiosk, &scopes, now, Timestamp::MAX);
    let kiosk = node(kiosk_dir).await;
    kiosk.install_credential(&cred.encoded, &encode_public_key(&org.verifying_key())).unwrap();
    let (cid, url) = (central.node_id().to_string(), format!("https://127.0.0.1:9/{}", central.node_id()));
    kiosk.store.write(move |tx| crate::storage::put_peer(tx, &cid, &url, "central")).await.unwrap();
    (central, kiosk)
}

/// The kiosk syncs with the central node (the kiosk opens the session).
async fn sync(kiosk: &Arc<Node>, central: &Arc<Node>, at_central: &Arc<Responders>) -> Stats {
    let mut t = direct(central, at_central, kiosk);
    let stats =
        run_initiator(kiosk, central.node_id().as_str(), Role::Central, PeerScope::all(), Config::default(), &mut t)
            .await
            .unwrap();
    assert!(stats.refused.is_empty() && stats.errors.is_empty(), "{stats:?}");
    stats
}

async fn stored_docs(node: &Node) -> Vec<String> {
    node.store.read(|c| crate::storage::list_docs(c, "")).await.unwrap()
}

/// The bytes of the node's database and its write-ahead log.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let db = dir.join(crate::storage::DB_FILE);
    let mut bytes = std::fs::read(&db).unwrap();
    bytes.extend(std::fs::read(db.with_extension("sqlite3-wal")).unwrap_or_default());
    bytes
}

fn holds_name(bytes: &[u8]) -> bool {
    bytes.windows(NAME.len()).any(|w| w == NAME.as_bytes())
}

/// A kiosk holding E1 (roster, two scans) that the central node has all of.
async fn kiosk_with_an_acknowledged_event(
    dirs: &[tempfile::TempDir],
) -> (Arc<Node>, Arc<Node>, Arc<Responders>, Arc<cec_core::Event>) {
    let (central, kiosk) = central_and_kiosk(dirs[0].path(), dirs[1].path()).await;
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    let member = RosterMember { member_id: "M1".into(), name: NAME.into(), email: None };
    central.add_roster("E1", &[member]).await.unwrap();
    sync(&kiosk, &central, &at_central).await;
    scan(&kiosk, "c-in", "M1", Direction::In, "2027-03-01T08:58:00Z").await;
    scan(&kiosk, "c-out", "M1", Direction::Out, "2027-03-01T10:15:00Z").await;
    let event = kiosk.require_event("E1").await.unwrap();

    // Long past due, but the central node has not seen the scans: nothing goes.
    let pass = kiosk.retire_due(due() + SignedDuration::from_hours(24 * 365)).await.unwrap();
    assert!(pass.retired.is_empty(), "{pass:?}");
    assert_eq!(pass.held.len(), 1, "{pass:?}");
    assert!(pass.held[0].reason.contains("attendance:E1:S1"), "{pass:?}");
    assert_eq!(listed(&kiosk).await, ["c-in", "c-out"]);

    sync(&kiosk, &central, &at_central).await;
    assert_eq!(listed(&central).await, ["c-in", "c-out"]);
    // Acknowledged, but the retention time has not passed: nothing goes.
    let pass = kiosk.retire_due(due() - SignedDuration::from_secs(1)).await.unwrap();
    assert_eq!((pass.retired.len(), pass.held.len()), (0, 0), "{pass:?}");
    assert_eq!(stored_docs(&kiosk).await, ["attendance:E1:S1", "event:E1"]);
    (central, kiosk, at_central, event)
}

#[tokio::test]
async fn a_kiosk_drops_an_ended_event_once_the_central_node_holds_it_and_never_gets_it_back() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk, at_central, event) = kiosk_with_an_acknowledged_event(&dirs).await;
    assert!(holds_name(&database_bytes(dirs[1].path())), "the roster is stored before");

    let pass = kiosk.retire_due(due()).await.unwrap();
    assert_eq!(pass.retired, [RetiredEvent { event_id: "E1".into(), documents: 2, checkins: 2 }], "{pass:?}");
    // Everything of it is gone: documents, index rows, sync states, feed entries.
    assert!(kiosk.event("E1").await.unwrap().is_none());
    assert!(listed(&kiosk).await.is_empty());
    assert!(kiosk.attendance("M1", None).await.unwrap().is_empty());
    assert!(stored_docs(&kiosk).await.is_empty());
    let cid = central.node_id().to_string();
    let states = kiosk.store.read(move |c| crate::storage::sync_states_for_peer(c, &cid)).await.unwrap();
    assert!(states.is_empty(), "{states:?}");
    let feed: Vec<_> = kiosk.changes(0, 100).await.unwrap().into_iter().map(|c| (c.doc_id, c.kind, c.id)).collect();
    assert_eq!(feed, [("event:E1".to_owned(), "retired".to_owned(), "E1".to_owned())]);
    let pending = kiosk.unacknowledged().await.unwrap().unwrap();
    assert_eq!((pending.checkins, pending.documents), (0, 0));
    let retired = kiosk.retired_events().await.unwrap();
    assert_eq!(retired.len(), 1);
    assert_eq!((retired[0].documents, retired[0].checkins), (2, 2));
    assert_eq!(retired[0].ended_at, ended().as_millisecond());
    let docs = kiosk.store.read(|c| crate::storage::retired_docs(c, "E1")).await.unwrap();
    assert_eq!(docs, ["attendance:E1:S1", "event:E1"]);

    // The next sync does not fetch them back: the central node, not told, lists them and the
    // kiosk leaves them out (no refusal, no error).
    let stats = sync(&kiosk, &central, &at_central).await;
    assert_eq!(stats.retired, [DocId::attendance("E1", "S1"), DocId::event("E1")].into(), "{stats:?}");
    assert!(stored_docs(&kiosk).await.is_empty());
    assert_eq!(listed(&central).await, ["c-in", "c-out"], "the central node keeps everything");
    // Told, as the hello tells it, the central node leaves them out too: one round trip.
    assert_eq!(kiosk.retired_to_tell().await, ["E1"]);
    central.retention.note_peer(kiosk.node_id().as_str(), kiosk.retired_to_tell().await);
    let stats = sync(&kiosk, &central, &at_central).await;
    assert_eq!((stats.frames_sent, stats.frames_received), (1, 1), "{stats:?}");
    assert!(stats.retired.is_empty());
    // The central node opening a session and offering them: left out on arrival.
    central.retention.note_peer(kiosk.node_id().as_str(), Vec::new());
    let at_kiosk = Arc::new(Responders::default());
    let mut t = direct(&kiosk, &at_kiosk, &central);
    let stats =
        run_initiator(&central, kiosk.node_id().as_str(), Role::Kiosk, PeerScope::all(), Config::default(), &mut t)
            .await
            .unwrap();
    assert!(stats.docs_sent.contains(&DocId::event("E1")), "{stats:?}");
    assert!(stored_docs(&kiosk).await.is_empty());

    // Local writes to it are refused, including one that looked the event up before.
    let refused = kiosk.add_roster("E1", &[]).await.unwrap_err();
    assert!(matches!(&refused, NodeError::NotFound(_) | NodeError::Docs(_)), "{refused:?}");
    let late = NewCheckIn {
        checkin: CheckIn {
            id: "c-late".into(),
            event_id: "E1".into(),
            session_id: "S1".into(),
            member_id: "M1".into(),
            direction: Direction::Out,
            at: ended(),
            method: Method::Badge,
            kiosk_id: kiosk.node_id().to_string(),
            recorded_at: ended(),
        },
        at_given: true,
        method_given: true,
    };
    let refused = kiosk.record_checkins(&event, "S1", vec![late]).await.unwrap_err();
    assert!(matches!(&refused, NodeError::Docs(e) if matches!(**e, DocsError::Retired { .. })), "{refused:?}");
    assert!(stored_docs(&kiosk).await.is_empty());

    // The central node never drops anything.
    let pass = central.retire_due(due() + SignedDuration::from_hours(24 * 365)).await.unwrap();
    assert!(pass.inactive.is_some() && pass.retired.is_empty(), "{pass:?}");
    assert_eq!(listed(&central).await, ["c-in", "c-out"]);

    // Nothing of the roster is left in the kiosk's files (secure_delete).
    kiosk.close().await;
    assert!(!holds_name(&database_bytes(dirs[1].path())), "the roster's bytes are overwritten");
    central.close().await;
}

/// Retired stays retired across a restart: the node reads what it retired back, and a sync
/// still does not bring it back.
#[tokio::test]
async fn a_retired_event_stays_retired_after_a_restart() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk, at_central, _) = kiosk_with_an_acknowledged_event(&dirs).await;
    assert_eq!(kiosk.retire_due(due()).await.unwrap().retired.len(), 1);
    kiosk.close().await;
    drop(kiosk);

    let kiosk = node(dirs[1].path()).await;
    assert!(kiosk.docs.is_retired(&DocId::event("E1")));
    assert_eq!(kiosk.retired_events().await.unwrap().len(), 1);
    let stats = sync(&kiosk, &central, &at_central).await;
    assert_eq!(stats.retired.len(), 2, "{stats:?}");
    assert!(stored_docs(&kiosk).await.is_empty());
    assert!(kiosk.event("E1").await.unwrap().is_none());
    let recreated = kiosk.create_event((*central.require_event("E1").await.unwrap()).clone()).await.unwrap_err();
    assert!(matches!(&recreated, NodeError::Docs(e) if matches!(**e, DocsError::Retired { .. })), "{recreated:?}");
    assert!(stored_docs(&kiosk).await.is_empty());
    // A second pass finds nothing to do and keeps the record.
    let pass = kiosk.retire_due(due() + SignedDuration::from_hours(24)).await.unwrap();
    assert!(pass.retired.is_empty() && pass.held.is_empty(), "{pass:?}");
    assert_eq!(kiosk.retired_events().await.unwrap().len(), 1);
    kiosk.close().await;
    central.close().await;
}

/// A check-in racing the retirement (into a session with no attendance document yet, so no
/// lock orders the two) is either kept with the whole event or refused: never acknowledged and
/// then dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_racing_the_retirement_is_refused_or_kept() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk) = central_and_kiosk(dirs[0].path(), dirs[1].path()).await;
    let at_central = Arc::new(Responders::default());
    with_event(&central).await;
    let mut s2 = central.require_event("E1").await.unwrap().sessions["S1"].clone();
    s2.id = "S2".into();
    central.create_session("E1", s2).await.unwrap();
    sync(&kiosk, &central, &at_central).await;
    scan(&kiosk, "c-in", "M1", Direction::In, "2027-03-01T08:58:00Z").await;
    sync(&kiosk, &central, &at_central).await;
    let event = kiosk.require_event("E1").await.unwrap();

    // The check-in log's writer is busy; the check-in's job waits behind it, then the
    // retirement's count of the event's logged check-ins.
    let (started_tx, started) = std::sync::mpsc::channel();
    let busy = kiosk.log_store.write(move |_| {
        let _ = started_tx.send(());
        std::thread::sleep(std::time::Duration::from_millis(500));
        Ok(())
    });
    started.recv().unwrap();
    let checkin = {
        let (kiosk, event) = (kiosk.clone(), event.clone());
        let racing = NewCheckIn {
            checkin: CheckIn {
                id: "c-race".into(),
                event_id: "E1".into(),
                session_id: "S2".into(),
                member_id: "M2".into(),
                direction: Direction::In,
                at: ended(),
                method: Method::Badge,
                kiosk_id: kiosk.node_id().to_string(),
                recorded_at: ended(),
            },
            at_given: true,
            method_given: true,
        };
        tokio::spawn(async move { kiosk.record_checkins(&event, "S2", vec![racing]).await })
    };
    while kiosk.log_store.stats().queued_jobs == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let pass = kiosk.retire_due(due()).await.unwrap();
    busy.await.unwrap();
    let answer = checkin.await.unwrap();
    let kept = matches!(&answer, Ok(items) if items.iter().all(Result::is_ok));
    if kept {
        assert!(pass.retired.is_empty(), "{pass:?}");
        assert_eq!(listed(&kiosk).await, ["c-in", "c-race"]);
    } else {
        assert!(matches!(&answer, Err(NodeError::Docs(e)) if matches!(**e, DocsError::Retired { .. })), "{answer:?}");
        assert_eq!(pass.retired.len(), 1, "{pass:?}");
        assert!(stored_docs(&kiosk).await.is_empty());
    }
    kiosk.close().await;
    central.close().await;
}

/// A kiosk that does not know its central node drops nothing, however old the event.
#[tokio::test]
async fn no_central_node_known_nothing_dropped() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let (central, kiosk, _, _) = kiosk_with_an_acknowledged_event(&dirs).await;
    kiosk.remove_peer(central.node_id().as_str()).await.unwrap();
    let pass = kiosk.retire_due(due() + SignedDuration::from_hours(24 * 365)).await.unwrap();
    assert!(pass.inactive.is_some() && pass.retired.is_empty(), "{pass:?}");
    assert_eq!(stored_docs(&kiosk).await.len(), 2);
    kiosk.close().await;
    central.close().await;
}
