//! Check-ins: recording them idempotently, and listing them.
//!
//! A check-in id names one fact across every session of the node: the same id with the same
//! content is a retry (answered with what is stored), with other content a conflict, and in
//! another session a conflict too. Ids being written are claimed node-wide until their change
//! commits, so two requests racing with one id in two sessions cannot both succeed.
//!
//! A check-in is acknowledged once its row in the check-in log commits (one row appended to one
//! B-tree, fsynced), before it is in its attendance document, the index or the change feed. The
//! log is a database of its own ([`crate::storage::LOG_FILE`], `Node::log_store`) with a writer
//! thread of its own, so an acknowledgement does not wait behind a transaction of the main
//! database (a fold, a sync, a checkpoint). One exception: a round with a document whose
//! check-ins the writer must read again (its version moved: a sync merged a change, a void;
//! or it left the writer's memory) waits for that document's lock, which a fold of it holds
//! until the fold's commit. A fold task of its own moves the log into the
//! documents later (about [`FOLD_AFTER`] after a check-in was logged, at most [`FOLD_PIECE`]
//! check-ins a fold), many check-ins per Automerge change; the fold's transaction writes their
//! index rows and feed entries, and once it committed, the fold deletes their log rows (a stop
//! in between leaves rows whose check-ins the next start finds in their documents, and only
//! deletes). The writer does not wait for a fold, nor lock the documents being folded: what it
//! keeps of each document ([`Known`]) holds what is in it and what is logged for it, and stays
//! valid across folds. A read of the index (a listing, a member's check-ins) adds the logged
//! check-ins it asks about ([`Ingest::logged_where`]) without waiting for a fold, so a read
//! after an acknowledgement sees the check-in, even while its fold fails (a full disk); what
//! reads documents for their check-ins (a sync, a void, a retirement) folds everything first.
//! A start folds whatever a crash left in the log. So an Automerge change and the index pages cost once
//! per fold, not once per request.
//!
//! A check-in with a logged id that arrives by sync before the fold is the same fact when its
//! content is the same, and the fold leaves the logged one out. With other content (two
//! kiosks giving one id to two check-ins: a client's bug) the peer's stands, as it would had it
//! arrived first, and the fold leaves the logged one out with a warning that names it, so the
//! document, the index and every node agree.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use automerge::AutoCommit;
use tokio::sync::oneshot;

use cec_core::doc::{self, DocId};
use cec_core::{CheckIn, Event};

use super::Node;
use super::docs::ExtraJob;
use super::error::{NodeError, NodeResult};
use super::index::{self, CheckInFilter};
use crate::storage::{StorageError, Store};

/// How long an acknowledged check-in stays in the log before the fold task folds it into its
/// document (a little longer when many documents fall due at once: see [`FOLD_PIECE`]).
pub const FOLD_AFTER: Duration = Duration::from_millis(100);

/// How often the fold task is asked to look for documents due while check-ins wait in the
/// log.
const FOLD_TICK: Duration = Duration::from_millis(25);

/// A session with this many check-ins in the log is due for a fold, whatever their age.
const FOLD_AT: usize = 2048;

/// A fold takes whole documents due, oldest first, until this many check-ins (the next fold
/// follows at once while documents are due). Larger folds cost less per check-in (the index
/// rows of many check-ins share the pages they dirty: BENCHMARKS.md measured 14 µs a row in
/// transactions of 256 against 7 in transactions of 4,096), and hold up no acknowledgement,
/// which commits in the log's own database; a fold holds the main database's writer and the
/// documents it folds for its length. A caller waiting for everything to be folded
/// (`Node::fold_logged`) gets everything.
const FOLD_PIECE: usize = 4096;

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

/// What a waiting request is answered with: per item, in order.
type Answer = NodeResult<Vec<NodeResult<Recorded>>>;

/// A request waiting for its document's next change.
struct Waiting {
    items: Vec<NewCheckIn>,
    reply: oneshot::Sender<Answer>,
}

/// An acknowledged check-in in the log: its entry number (`checkin_log.seq`), when it was
/// logged, the check-in, and the version of its document ([`Known::version`]) whose check-ins
/// its id was found new to (0, never a version, when read back from disk at a start, or when
/// its fold committed and its log row could not be deleted: the next fold looks it up).
#[derive(Debug, Clone)]
struct Logged {
    seq: i64,
    at: Instant,
    checkin: CheckIn,
    version: u64,
}

/// The check-in log as the writer keeps it: what is logged (durable, acknowledged) and not yet
/// in its document, per document in the order logged.
#[derive(Debug, Default)]
struct Log {
    by_doc: BTreeMap<DocId, Vec<Logged>>,
    /// The document each logged id is logged for: an id is one fact node-wide, and the index
    /// holds a logged check-in only once it is folded.
    places: HashMap<String, DocId>,
    /// The next entry number.
    next_seq: i64,
    /// Documents whose fold failed: when they are due again at the earliest (however many
    /// check-ins they hold), and why it failed.
    deferred: HashMap<DocId, (Instant, Arc<NodeError>)>,
}

impl Log {
    fn add(&mut self, doc: &DocId, entries: Vec<Logged>) {
        for e in &entries {
            self.places.insert(e.checkin.id.clone(), doc.clone());
            self.next_seq = self.next_seq.max(e.seq + 1);
        }
        self.by_doc.entry(doc.clone()).or_default().extend(entries);
    }

    /// Forgets the entries of `doc` with these numbers (folded, or their event retired).
    fn remove(&mut self, doc: &DocId, seqs: &HashSet<i64>) {
        let Some(v) = self.by_doc.get_mut(doc) else { return };
        v.retain(|e| {
            let keep = !seqs.contains(&e.seq);
            if !keep && self.places.get(&e.checkin.id) == Some(doc) {
                self.places.remove(&e.checkin.id);
            }
            keep
        });
        if v.is_empty() {
            self.by_doc.remove(doc);
            self.deferred.remove(doc);
        }
    }

    /// Puts the entries of `docs` back at the end of the queue for a fold (their fold failed):
    /// they are due again [`FOLD_AFTER`] from now, [`FOLD_AT`] or not, and the other
    /// documents' folds go first.
    fn defer(&mut self, docs: impl IntoIterator<Item = DocId>, cause: &Arc<NodeError>) {
        let now = Instant::now();
        for doc in docs {
            for e in self.by_doc.get_mut(&doc).into_iter().flatten() {
                e.at = now;
            }
            if self.by_doc.contains_key(&doc) {
                self.deferred.insert(doc, (now + FOLD_AFTER, cause.clone()));
            }
        }
    }

    /// Has the next fold of `docs` look their entries up in their documents: they are there
    /// already (their fold committed, their log rows stayed), and must not be added again (as
    /// new, they would be written again, under another key once the actor changed).
    fn refold(&mut self, docs: &[DocId]) {
        for doc in docs {
            for e in self.by_doc.get_mut(doc).into_iter().flatten() {
                e.version = 0;
            }
        }
    }

    fn remove_doc(&mut self, doc: &DocId) {
        let seqs = self.by_doc.get(doc).map(|v| v.iter().map(|e| e.seq).collect()).unwrap_or_default();
        self.remove(doc, &seqs);
    }
}

/// Which logged check-ins a round folds.
#[derive(Debug, Default)]
struct FoldAsk {
    /// Everything logged (a caller waits for that); else the documents due.
    all: bool,
}

/// Check-ins waiting for the node's next check-in write, and the log's fold. One writer task
/// runs while any request waits: it takes everything queued, logs every document's new
/// check-ins in one storage job, and answers each request once that is durable; requests that
/// arrive meanwhile wait for its next round (group commit across documents). One fold task
/// runs while a fold is due or asked for: each fold writes a document's logged check-ins as
/// one change (one Automerge change, one chunk), built only on what is durable.
///
/// The writer keeps what each document holds ([`Known`]), so a new check-in is sorted without
/// looking it up in the document, and without its lock.
#[derive(Default)]
pub struct Ingest {
    queue: Mutex<Queue>,
    known: Mutex<HashMap<DocId, Known>>,
    clock: AtomicU64,
    /// Check-ins acknowledged (in the log, durable) and not yet in their documents. Only the
    /// writer adds to it; only the fold task (and the start) folds it.
    log: Mutex<Log>,
    /// Whether a fold of the log is scheduled.
    fold_armed: AtomicBool,
    /// The node, so that a fold asked for by a caller without an `Arc` can start the fold
    /// task (set by the first check-in or [`Node::start_ingest`]).
    node: OnceLock<Weak<Node>>,
}

#[derive(Default)]
struct Queue {
    /// Whether a writer task runs.
    writing: bool,
    waiting: Vec<(DocId, Waiting)>,
    /// Whether a fold task runs.
    folding: bool,
    /// Callers waiting for every logged check-in to be folded into its document.
    folds: Vec<oneshot::Sender<()>>,
    /// Whether the fold timer (or a fold that left documents due) asked for a fold.
    poked: bool,
}

/// How many attendance documents' check-ins are kept in memory for the writer.
const KNOWN_DOCUMENTS: usize = 256;

/// The check-ins of an attendance document and of its log, as of the document's `version`
/// ([`Docs::version`](super::Docs::version)), kept by the writer: valid while the document's
/// version is still this one. The fold leaves the version as it is (it moves check-ins from
/// the log into the document, and this holds both); any other change of the document (one
/// that arrived by sync, a void) gives it a new version, and the next write reads the
/// document again.
struct Known {
    version: u64,
    /// A B-tree, not a hash map: a document's check-ins grow by thousands a minute at a busy
    /// door, and a hash map that doubles rehashes every entry at once (its new table's pages
    /// faulted in too): 20–100 ms of one writer round, with 20 sessions' maps doubling at
    /// about the same time, where a B-tree grows a node at a time (BENCHMARKS.md).
    by_id: BTreeMap<String, CheckIn>,
    used: u64,
}

impl Known {
    /// What `d` holds at `version` (nothing when this node holds no such document yet), and
    /// the check-ins logged for it and not yet in it.
    fn read(version: u64, d: Option<&AutoCommit>, logged: &[Logged]) -> Result<Self, NodeError> {
        let mut by_id: BTreeMap<String, CheckIn> = match d {
            Some(d) => doc::attendance::read(d)?.into_iter().map(|c| (c.id.clone(), c)).collect(),
            None => BTreeMap::new(),
        };
        // What the document holds stands over a logged check-in with its id: the fold leaves
        // such a check-in out (see `fold_into`).
        for e in logged {
            by_id.entry(e.checkin.id.clone()).or_insert_with(|| e.checkin.clone());
        }
        Ok(Self { version, by_id, used: 0 })
    }
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest").field("waiting", &self.lock().waiting.len()).finish_non_exhaustive()
    }
}

impl Ingest {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<DocId, Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether check-ins wait in the log.
    pub(super) fn has_logged(&self) -> bool {
        !self.log().by_doc.is_empty()
    }

    /// How many acknowledged check-ins wait in the log for their documents.
    fn logged_count(&self) -> usize {
        self.log().by_doc.values().map(Vec::len).sum()
    }

    /// The logged check-ins matching `pred`, in no set order: what a read of the index adds,
    /// as they are not indexed before their fold.
    fn logged_where(&self, pred: impl Fn(&CheckIn) -> bool) -> Vec<CheckIn> {
        let log = self.log();
        log.by_doc.values().flatten().filter(|e| pred(&e.checkin)).map(|e| e.checkin.clone()).collect()
    }

    /// Whether check-in `id` is logged, and if its document's last fold failed, why.
    fn logged_state(&self, id: &str) -> Option<Option<Arc<NodeError>>> {
        let log = self.log();
        let doc = log.places.get(id)?;
        Some(log.deferred.get(doc).map(|(_, cause)| cause.clone()))
    }

    /// The logged check-ins to fold this round: everything when `ask.all`; else the documents
    /// due (logged [`FOLD_AFTER`] ago, or [`FOLD_AT`] of them) oldest first, whole documents
    /// until [`FOLD_PIECE`] check-ins. Answers also whether documents due were left for
    /// another round.
    fn to_fold(&self, ask: &FoldAsk) -> (BTreeMap<DocId, Vec<Logged>>, bool) {
        let log = self.log();
        if ask.all {
            return (log.by_doc.clone(), false);
        }
        let mut out: BTreeMap<DocId, Vec<Logged>> = BTreeMap::new();
        let mut count = 0;
        let now = Instant::now();
        let mut due: Vec<(&DocId, &Vec<Logged>)> = log
            .by_doc
            .iter()
            .filter(|(d, v)| {
                log.deferred.get(*d).is_none_or(|(until, _)| now >= *until)
                    && (v.len() >= FOLD_AT || v.first().is_some_and(|e| now.duration_since(e.at) >= FOLD_AFTER))
            })
            .collect();
        due.sort_by_key(|(_, v)| v.first().map(|e| e.at));
        let mut due = due.into_iter();
        for (d, v) in due.by_ref() {
            count += v.len();
            out.insert(d.clone(), v.clone());
            if count >= FOLD_PIECE {
                break;
            }
        }
        (out, due.next().is_some())
    }

    /// The logged check-ins of `doc`, in the order logged.
    fn logged_of(&self, doc: &DocId) -> Vec<Logged> {
        self.log().by_doc.get(doc).cloned().unwrap_or_default()
    }

    /// Numbers the new check-ins of a round for the log, in order: found new to their
    /// document at `version`.
    fn number(&self, new: Vec<CheckIn>, version: u64) -> Vec<Logged> {
        let mut log = self.log();
        let at = Instant::now();
        new.into_iter()
            .map(|checkin| {
                let seq = log.next_seq;
                log.next_seq += 1;
                Logged { seq, at, checkin, version }
            })
            .collect()
    }

    /// Takes what the writer last kept for `doc`.
    fn take_known(&self, doc: &DocId) -> Option<Known> {
        self.known().remove(doc)
    }

    /// Keeps `known` for the next write of `doc`, dropping the least recently written
    /// documents' beyond [`KNOWN_DOCUMENTS`].
    fn keep_known(&self, doc: &DocId, mut known: Known) {
        known.used = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut all = self.known();
        all.insert(doc.clone(), known);
        while all.len() > KNOWN_DOCUMENTS {
            let Some(oldest) = all.iter().min_by_key(|(_, k)| k.used).map(|(id, _)| id.clone()) else { break };
            all.remove(&oldest);
        }
    }

    /// Forgets what the writer kept of the documents of `event_id` (retired from this node).
    pub(super) fn forget_event(&self, event_id: &str) {
        self.known().retain(|doc, _| doc.event_id() != Some(event_id));
        let mut log = self.log();
        let docs: Vec<DocId> = log.by_doc.keys().filter(|doc| doc.event_id() == Some(event_id)).cloned().collect();
        for doc in docs {
            log.remove_doc(&doc);
        }
    }

    /// Queues a request; true when no writer runs yet (the caller starts one).
    fn enqueue(&self, doc: DocId, waiting: Waiting) -> bool {
        let mut queue = self.lock();
        queue.waiting.push((doc, waiting));
        !std::mem::replace(&mut queue.writing, true)
    }

    /// Queues a request to fold all of the log; true when no fold task runs yet (the caller
    /// starts one).
    fn enqueue_fold(&self, done: oneshot::Sender<()>) -> bool {
        let mut queue = self.lock();
        queue.folds.push(done);
        !std::mem::replace(&mut queue.folding, true)
    }

    /// Asks for a fold of the documents due; true when no fold task runs yet (the caller
    /// starts one).
    fn poke(&self) -> bool {
        let mut queue = self.lock();
        queue.poked = true;
        !std::mem::replace(&mut queue.folding, true)
    }

    /// Every request waiting, by document in arrival order; `None` (and the writer's turn
    /// ends) when none is.
    fn take(&self) -> Option<BTreeMap<DocId, Vec<Waiting>>> {
        let mut queue = self.lock();
        if queue.waiting.is_empty() {
            queue.writing = false;
            return None;
        }
        let mut by_doc: BTreeMap<DocId, Vec<Waiting>> = BTreeMap::new();
        for (doc, w) in queue.waiting.drain(..) {
            by_doc.entry(doc).or_default().push(w);
        }
        Some(by_doc)
    }

    /// What the next fold is asked for, and who waits for it; `None` (and the fold task's
    /// turn ends) when nothing is asked.
    fn take_fold(&self) -> Option<(FoldAsk, Vec<oneshot::Sender<()>>)> {
        let mut queue = self.lock();
        let poked = std::mem::take(&mut queue.poked);
        if queue.folds.is_empty() && !poked {
            queue.folding = false;
            return None;
        }
        let folds: Vec<_> = queue.folds.drain(..).collect();
        Some((FoldAsk { all: !folds.is_empty() }, folds))
    }
}

/// Ends a task's turn (the writer's, or the fold's) however the task stops: one that panicked
/// drops the requests still waiting for it (they are answered with an error) and the next
/// request starts anew.
struct Turn<'a> {
    ingest: &'a Ingest,
    fold: bool,
    ended: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if !self.ended {
            let mut queue = self.ingest.lock();
            let dropped = if self.fold {
                queue.folding = false;
                (Vec::new(), std::mem::take(&mut queue.folds))
            } else {
                queue.writing = false;
                (std::mem::take(&mut queue.waiting), Vec::new())
            };
            drop(queue);
            drop(dropped);
        }
    }
}

/// What [`sort_items`] answers for one document: per item, what the writer now knows of the
/// document, and the new check-ins.
type Written = (Vec<NodeResult<Recorded>>, Known, Vec<CheckIn>);

/// One document's share of a writer round: its requests' items, in order, and where each
/// request's answers end.
struct DocRound {
    items: Vec<NewCheckIn>,
    sizes: Vec<usize>,
    replies: Vec<oneshot::Sender<Answer>>,
}

impl DocRound {
    fn of(batch: Vec<Waiting>) -> Self {
        let sizes: Vec<usize> = batch.iter().map(|w| w.items.len()).collect();
        let mut items = Vec::with_capacity(sizes.iter().sum());
        let mut replies = Vec::with_capacity(batch.len());
        for w in batch {
            items.extend(w.items);
            replies.push(w.reply);
        }
        Self { items, sizes, replies }
    }

    /// Answers each request with its share of `results`.
    fn answer(self, results: Vec<NodeResult<Recorded>>) {
        let mut results = results.into_iter();
        for (size, reply) in self.sizes.into_iter().zip(self.replies) {
            let _ = reply.send(Ok(results.by_ref().take(size).collect()));
        }
    }

    /// Answers every request with `err`.
    fn fail(mut self, err: NodeError) {
        if self.replies.len() == 1 {
            let _ = self.replies.pop().map(|r| r.send(Err(err)));
            return;
        }
        let shared = Arc::new(err);
        for reply in self.replies {
            let _ = reply.send(Err(NodeError::Shared(shared.clone())));
        }
    }
}

impl Node {
    /// Records check-ins of one session of `event`; answers per item, in order, once they are
    /// durable. Requests that arrive while the previous check-ins commit are written together
    /// in the next round: one change per session, all sessions' changes in one transaction, so
    /// check-ins never wait for one fsync each, and no change is built on one that is not yet
    /// durable.
    pub async fn record_checkins(self: &Arc<Self>, event: &Event, session_id: &str, items: Vec<NewCheckIn>) -> Answer {
        if !event.sessions.contains_key(session_id) {
            let msg = format!("no session {session_id:?} in event {:?}", event.id);
            return Ok(items.iter().map(|_| Err(NodeError::NotFound(msg.clone()))).collect());
        }
        self.ingest.node.get_or_init(|| Arc::downgrade(self));
        let doc_id = DocId::attendance(&event.id, session_id);
        let (reply, answer) = oneshot::channel();
        if self.ingest.enqueue(doc_id, Waiting { items, reply }) {
            // In a task of its own: a client that goes away does not stop its neighbours' writes.
            let node = self.clone();
            tokio::spawn(async move { node.write_waiting().await });
        }
        answer.await.unwrap_or_else(|_| Err(StorageError::Panicked.into()))
    }

    /// Folds every logged check-in into its document now, and answers once that committed (or
    /// failed: a document that could not take them keeps them logged, and the next fold tries
    /// again). What reads documents for their check-ins (sync, voids, retirement) calls this
    /// first.
    pub async fn fold_logged(&self) {
        if self.ingest.has_logged() {
            self.fold_and_wait().await;
        }
    }

    /// The acknowledged check-ins matching `pred` whose fold has not committed yet (their
    /// documents and the index do not hold them). A read of the index takes these first, then
    /// reads the index: a fold removes a check-in from the log only once its index rows are
    /// committed, so every acknowledged check-in is in one read or both.
    pub(crate) fn logged_where(&self, pred: impl Fn(&CheckIn) -> bool) -> Vec<CheckIn> {
        self.ingest.logged_where(pred)
    }

    /// Folds everything logged, as [`Node::fold_logged`], and then answers why check-in `id`
    /// is still logged, if it is: its document's fold failed (a full disk), with that failure.
    /// One logged after the fold began (a request racing its own check-in) is folded by a
    /// second fold; one still logged after a fold that ended without saying why (a panic) is
    /// a storage failure.
    pub(crate) async fn fold_logged_with(&self, id: &str) -> NodeResult<()> {
        for second in [false, true] {
            self.fold_logged().await;
            match self.ingest.logged_state(id) {
                None => return Ok(()),
                Some(Some(cause)) => return Err(NodeError::Shared(cause)),
                Some(None) if second => return Err(StorageError::Panicked.into()),
                Some(None) => {}
            }
        }
        Ok(())
    }

    async fn fold_and_wait(&self) {
        let (done, folded) = oneshot::channel();
        if self.ingest.enqueue_fold(done) {
            self.start_folder();
        }
        let _ = folded.await;
    }

    /// Starts the fold task for a turn the caller began (`enqueue_fold`, `poke`).
    fn start_folder(&self) {
        match self.ingest.node.get().and_then(Weak::upgrade) {
            Some(node) => {
                tokio::spawn(async move { node.fold_waiting().await });
            }
            // The node is going away: end the turn this call began.
            None => drop(Turn { ingest: &self.ingest, fold: true, ended: false }),
        }
    }

    /// Lets the fold run for this node before any check-in arrives: what a start left in the
    /// log (a document whose fold failed at open) is folded by the timer, and a read that
    /// asks for a fold is answered. The daemon calls it once the node is shared.
    pub fn start_ingest(self: &Arc<Self>) {
        self.ingest.node.get_or_init(|| Arc::downgrade(self));
        self.arm_fold();
    }

    /// How many acknowledged check-ins are in the log, not yet in their documents (a gauge
    /// of `/metrics`).
    pub fn checkins_in_log(&self) -> usize {
        self.ingest.logged_count()
    }

    /// While check-ins wait in the log, asks for a fold of the documents due every
    /// [`FOLD_TICK`], unless such a timer runs already.
    fn arm_fold(self: &Arc<Self>) {
        if !self.ingest.has_logged() || self.ingest.fold_armed.swap(true, Ordering::AcqRel) {
            return;
        }
        let node = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FOLD_TICK).await;
                let Some(node) = node.upgrade() else { return };
                if !node.ingest.has_logged() {
                    node.ingest.fold_armed.store(false, Ordering::Release);
                    // A check-in logged after the check above arms a timer of its own.
                    if node.ingest.has_logged() {
                        node.arm_fold();
                    }
                    return;
                }
                if node.ingest.poke() {
                    node.start_folder();
                }
            }
        });
    }

    /// The check-in writer: logs what waits, a round at a time, until nothing does.
    async fn write_waiting(self: Arc<Self>) {
        let mut turn = Turn { ingest: &self.ingest, fold: false, ended: false };
        while let Some(by_doc) = self.ingest.take() {
            let round = by_doc.into_iter().map(|(doc, waiting)| (doc, DocRound::of(waiting))).collect();
            self.write_round(round).await;
            self.arm_fold();
        }
        turn.ended = true; // `take` ended the turn
    }

    /// The fold task: folds what is asked for and due, a fold at a time, until nothing is.
    async fn fold_waiting(self: Arc<Self>) {
        let mut turn = Turn { ingest: &self.ingest, fold: true, ended: false };
        while let Some((ask, waiting)) = self.ingest.take_fold() {
            // A fold of thousands of check-ins is tens of milliseconds of CPU (Automerge, the
            // projection): on a runtime of several workers, this worker hands its other tasks
            // (the HTTP connections it serves) to another thread for that time, instead of
            // holding them until the fold yields (BENCHMARKS.md: p99 7.0–7.4 ms against
            // 8.9–9.1). A runtime of one thread (tests) awaits the fold as any other future.
            let more = match tokio::runtime::Handle::current().runtime_flavor() {
                tokio::runtime::RuntimeFlavor::MultiThread => {
                    tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(self.fold_round(&ask)))
                }
                _ => self.fold_round(&ask).await,
            };
            for done in waiting {
                let _ = done.send(());
            }
            if more {
                self.ingest.lock().poked = true;
            }
        }
        turn.ended = true; // `take_fold` ended the turn
    }

    /// Logs one round's new check-ins, every document's in one storage job, and answers each
    /// request once its check-ins are durable. No document is locked when what the writer
    /// keeps of it ([`Known`]) is still the document's version: a fold of it in flight (which
    /// holds its lock until its commit) does not hold up the check-ins that arrive meanwhile.
    async fn write_round(&self, mut round: BTreeMap<DocId, DocRound>) {
        // Claimed first, then the log, then the committed index: a racing writer is in the
        // first, and a fold moves an id from the log to the index only once its commit is
        // visible, so an id being folded meanwhile is in one of the other two.
        let mut claimed = Vec::with_capacity(round.len());
        let mut elsewhere_by_doc = BTreeMap::new();
        let mut all_ids = Vec::new();
        for (doc_id, r) in &round {
            let DocId::Attendance { event_id, session_id } = doc_id else { continue };
            let ids: Vec<String> = r.items.iter().map(|i| i.checkin.id.clone()).collect();
            let (guard, others) = self.claims.claim(&ids, &(event_id.clone(), session_id.clone()));
            claimed.push(guard);
            elsewhere_by_doc.insert(doc_id.clone(), others);
            all_ids.extend(ids);
        }
        let logged_places: HashMap<String, DocId> = {
            let log = self.ingest.log();
            all_ids.iter().filter_map(|id| Some((id.clone(), log.places.get(id)?.clone()))).collect()
        };
        // A few rows by primary key, read on this task: the hop to the blocking pool and back
        // cost more than the read, on every round.
        let committed = if all_ids.is_empty() {
            Vec::new()
        } else {
            match self.store.read_here(move |c| index::checkin_places(c, &all_ids)).await {
                Ok(rows) => rows,
                Err(e) => return fail_all(round, e.into()),
            }
        };
        let mut committed_places: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for (id, e, s) in committed {
            committed_places.entry(id).or_default().push((e, s));
        }
        let mut knowns = BTreeMap::new();
        let mut stale = Vec::new();
        for doc_id in round.keys() {
            let version = self.docs.version(doc_id);
            match self.ingest.take_known(doc_id) {
                Some(known) if known.version == version => {
                    knowns.insert(doc_id.clone(), known);
                }
                _ => stale.push(doc_id.clone()),
            }
        }
        if !stale.is_empty() {
            match self.read_known(&stale).await {
                Ok(read) => knowns.extend(read),
                Err(e) => {
                    let failed = stale.iter().filter_map(|d| Some((d.clone(), round.remove(d)?))).collect();
                    fail_all(failed, e);
                }
            }
        }
        let mut written: BTreeMap<DocId, Written> = BTreeMap::new();
        for (doc_id, r) in &mut round {
            let DocId::Attendance { event_id, session_id } = doc_id else { continue };
            let Some(known) = knowns.remove(doc_id) else { continue };
            let items = std::mem::take(&mut r.items);
            let others = elsewhere_by_doc.remove(doc_id).unwrap_or_default();
            let out = sort_items(known, items, others, |id| {
                // Logged for another session (not indexed until its fold), or indexed there.
                if let Some(DocId::Attendance { event_id: e, session_id: s }) = logged_places.get(id)
                    && (e, s) != (event_id, session_id)
                {
                    return Some(format!("{e}/{s}"));
                }
                committed_places
                    .get(id)?
                    .iter()
                    .find(|(e, s)| (e, s) != (event_id, session_id))
                    .map(|(e, s)| format!("{e}/{s}"))
            });
            written.insert(doc_id.clone(), out);
        }
        let acks: Vec<(DocId, Vec<Logged>)> = written
            .iter_mut()
            .filter(|(_, (_, _, new))| !new.is_empty())
            .map(|(d, (_, known, new))| (d.clone(), self.ingest.number(std::mem::take(new), known.version)))
            .collect();
        let ack_writes =
            if acks.is_empty() { Vec::new() } else { self.log_store.write_all(vec![self.ack_job(acks.clone())]) };
        let mut acked = self.settle_acks(acks, ack_writes).await;
        for (doc_id, (results, known, _)) in written {
            let Some(r) = round.remove(&doc_id) else { continue };
            match acked.remove(&doc_id).unwrap_or_else(|| Ok(Vec::new())) {
                Ok(new) => {
                    // In the log before the answer: a read that follows it finds them there
                    // (`Node::logged_where`), or in the index once folded.
                    if !new.is_empty() {
                        self.ingest.log().add(&doc_id, new);
                    }
                    r.answer(results);
                    self.ingest.keep_known(&doc_id, known);
                }
                // What the writer kept holds the refused check-ins: the next write reads again.
                Err(e) => r.fail(e),
            }
        }
        drop(claimed);
        // A request for a document that holds no check-ins (none in practice) is answered too.
        fail_all(round, NodeError::NotFound("not an attendance document".into()));
    }

    /// What the writer keeps of `docs`, read under their locks (no commit of them in flight,
    /// so their versions are those of what they hold).
    async fn read_known(&self, docs: &[DocId]) -> NodeResult<Vec<(DocId, Known)>> {
        let mut locked = self.docs.lock_many(docs.iter().cloned()).await?;
        docs.iter()
            .map(|id| {
                let version = self.docs.version(id);
                let d = locked.get_mut(id).map(|d| &*d);
                Ok((id.clone(), Known::read(version, d, &self.ingest.logged_of(id))?))
            })
            .collect()
    }

    /// Folds logged check-ins into their documents: everything when `ask.all`, else those due
    /// (see [`Ingest::to_fold`]), each document's in one Automerge change, built on what is durable
    /// (every logged check-in committed before it entered the log, and each document's last
    /// fold committed before the next began). The fold's jobs write the folded check-ins'
    /// index rows and feed entries (the projection of their documents' change) in the main
    /// database; once that committed, the fold deletes their log rows in the log's database.
    /// Answers whether the next fold should follow at once: documents due were left for it,
    /// and this one deleted the rows of what it folded (folds that keep failing, a full disk,
    /// wait for the timer rather than spin).
    async fn fold_round(&self, ask: &FoldAsk) -> bool {
        let (mut to_fold, more) = self.ingest.to_fold(ask);
        if to_fold.is_empty() {
            return false;
        }
        let mut locked = match self.docs.lock_many(to_fold.keys().cloned()).await {
            Ok(locked) => locked,
            Err(e) => {
                // Which documents do not load: their fold waits, at the back of the queue, and
                // the others' goes on.
                tracing::warn!(cause = %e, "documents due for a fold could not be loaded");
                for id in to_fold.keys().cloned().collect::<Vec<_>>() {
                    if let Err(e) = self.docs.lock_many([id.clone()]).await {
                        tracing::warn!(doc = %id, cause = %e, "logged check-ins wait: their document does not load");
                        to_fold.remove(&id);
                        self.ingest.log().defer([id], &Arc::new(e.into()));
                    }
                }
                match self.docs.lock_many(to_fold.keys().cloned()).await {
                    Ok(locked) => locked,
                    Err(e) => {
                        self.ingest.log().defer(to_fold.into_keys(), &Arc::new(e.into()));
                        return false;
                    }
                }
            }
        };
        let mut folding: BTreeMap<DocId, Vec<Logged>> = BTreeMap::new();
        // Documents whose logged check-ins were all in them already: only their log rows go.
        let mut unchanged: Vec<(DocId, Vec<Logged>)> = Vec::new();
        for (doc_id, entries) in to_fold {
            let version = self.docs.version(&doc_id);
            let Some(d) = locked.get_or_create(&doc_id) else { continue };
            match fold_into(d, version, &entries) {
                Ok(true) => {
                    folding.insert(doc_id, entries);
                }
                Ok(false) => unchanged.push((doc_id, entries)),
                Err(e) => {
                    d.rollback();
                    tracing::warn!(doc = %doc_id, cause = %e, "logged check-ins could not be folded into their document");
                    self.ingest.log().defer([doc_id], &Arc::new(e.into()));
                }
            }
        }
        let (stored, _) = locked.commit_each(|_, _| None, Vec::new()).await;
        // Whose documents hold their check-ins now (with their index rows and feed entries).
        let mut in_documents = unchanged;
        for (doc_id, result) in stored {
            let Some(entries) = folding.remove(&doc_id) else { continue };
            match result {
                Ok(_) => in_documents.push((doc_id, entries)),
                // Retired, or being retired: a retirement is held while their log rows exist
                // (`Node::retire_due` counts them), and unmarks the event; the next fold tries again.
                Err(e) => {
                    tracing::warn!(doc = %doc_id, cause = %e, "logged check-ins stay logged: their fold was not stored");
                    self.ingest.log().defer([doc_id], &Arc::new(e.into()));
                }
            }
        }
        if in_documents.is_empty() {
            return false;
        }
        // Their log rows go only now, in the log's database: a stop before this leaves rows
        // whose check-ins the next start finds in their documents, and drops.
        let entries: Vec<Logged> = in_documents.iter().flat_map(|(_, v)| v.iter().cloned()).collect();
        match self.log_store.write(unlog_job(&entries)).await {
            Ok(()) => {
                let mut log = self.ingest.log();
                for (doc_id, entries) in &in_documents {
                    log.remove(doc_id, &entries.iter().map(|e| e.seq).collect());
                }
                more
            }
            // They stay logged, to be found in their documents and unlogged by a later fold.
            Err(e) => {
                tracing::warn!(cause = %e, "folded check-ins stay in the log: their log rows could not be deleted");
                let cause = Arc::new(NodeError::from(e));
                let mut log = self.ingest.log();
                let docs: Vec<DocId> = in_documents.into_iter().map(|(doc_id, _)| doc_id).collect();
                log.refold(&docs);
                log.defer(docs, &cause);
                false
            }
        }
    }

    /// Whether each document's new check-ins were logged: `writes` are the futures of the
    /// round's one job for `acks`. If that job failed, each document's share is tried again in
    /// a job of its own, so that one session's failed write does not take the other sessions'
    /// check-ins with it.
    async fn settle_acks<W>(
        &self,
        acks: Vec<(DocId, Vec<Logged>)>,
        writes: Vec<W>,
    ) -> HashMap<DocId, Result<Vec<Logged>, NodeError>>
    where
        W: std::future::Future<Output = Result<(), StorageError>>,
    {
        let mut acked = HashMap::new();
        match futures_util::future::join_all(writes).await.into_iter().next() {
            None | Some(Ok(())) => acked.extend(acks.into_iter().map(|(d, new)| (d, Ok(new)))),
            Some(Err(e)) if acks.len() == 1 => {
                if let Some((doc_id, _)) = acks.into_iter().next() {
                    acked.insert(doc_id, Err(super::docs::retired_or(e).into()));
                }
            }
            Some(Err(_)) => {
                let jobs = acks.iter().map(|one| self.ack_job(vec![one.clone()])).collect();
                let results = futures_util::future::join_all(self.log_store.write_all(jobs)).await;
                for ((doc_id, new), result) in acks.into_iter().zip(results) {
                    acked.insert(doc_id, result.map(|()| new).map_err(|e| super::docs::retired_or(e).into()));
                }
            }
        }
        acked
    }

    /// A storage job logging new check-ins of these documents. A document whose event was
    /// retired meanwhile fails the job (its check-ins must not be acknowledged).
    fn ack_job(&self, acks: Vec<(DocId, Vec<Logged>)>) -> ExtraJob {
        let retired = self.docs.retired().clone();
        Box::new(move |tx: &rusqlite::Transaction<'_>| {
            for (doc_id, new) in acks {
                retired.check_in_job(&doc_id)?;
                for e in &new {
                    index::log_checkin(tx, e.seq, &e.checkin)?;
                }
            }
            Ok(())
        })
    }

    /// Folds what the check-in log holds (what a stop left there: acknowledged check-ins not
    /// yet in their documents) into the documents, at open, before anything else writes.
    /// Answers how many were folded; those that could not be stay logged for the writer.
    pub(super) async fn fold_log_at_open(&self) -> NodeResult<usize> {
        let logged = self.log_store.read(index::logged_checkins).await?;
        if logged.is_empty() {
            return Ok(0);
        }
        let at = Instant::now();
        let mut by_doc: BTreeMap<DocId, Vec<Logged>> = BTreeMap::new();
        for (seq, c) in logged {
            self.ingest.log().next_seq = seq + 1;
            by_doc.entry(DocId::attendance(&c.event_id, &c.session_id)).or_default().push(Logged {
                seq,
                at,
                checkin: c,
                version: 0,
            });
        }
        // An event retired meanwhile takes its logged check-ins with it.
        let retired: Vec<Logged> =
            by_doc.iter().filter(|(id, _)| self.docs.is_retired(id)).flat_map(|(_, v)| v.iter().cloned()).collect();
        by_doc.retain(|id, _| !self.docs.is_retired(id));
        let mut locked = self.docs.lock_many(by_doc.keys().cloned()).await?;
        let mut unchanged = retired;
        let mut held = Vec::new();
        for (doc_id, entries) in &by_doc {
            let version = self.docs.version(doc_id);
            let Some(d) = locked.get_or_create(doc_id) else { continue };
            if !fold_into(d, version, entries)? {
                unchanged.extend(entries.iter().cloned());
                held.push(doc_id.clone());
            }
        }
        // Only their rows go: they are not counted as folded.
        for doc_id in held {
            by_doc.remove(&doc_id);
        }
        let (stored, _) = locked.commit_each(|_, _| None, Vec::new()).await;
        // Retired, or in their documents already, or now.
        let mut unlog = unchanged;
        let mut folded = 0;
        for (doc_id, result) in stored {
            let Some(entries) = by_doc.remove(&doc_id) else { continue };
            match result {
                Ok(_) => {
                    folded += entries.len();
                    unlog.extend(entries);
                }
                Err(e) => {
                    tracing::warn!(doc = %doc_id, cause = %e, "logged check-ins stay logged: their fold was not stored");
                    self.ingest.log().add(&doc_id, entries);
                }
            }
        }
        self.log_store.write(unlog_job(&unlog)).await?;
        Ok(folded)
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
        let after = filter.after.clone();
        let logged = self.logged_where(|c| filter.matches(c) && after.as_ref().is_none_or(|a| c.id > *a));
        let ids = logged_ids(&logged);
        let (mut rows, indexed) = self
            .store
            .read(move |c| Ok((index::list_checkins(c, &filter, limit + 1)?, index::indexed_ids(c, &ids)?)))
            .await?;
        if !logged.is_empty() {
            // The index's page, and what is logged after the cursor: the first `limit + 1` of
            // both are the first of all, as the index's page holds its first `limit + 1`.
            rows = merge_logged(rows, logged, &indexed);
            rows.sort_by(|a, b| a.id.cmp(&b.id));
            rows.truncate(limit + 1);
        }
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

/// The ids of `logged`, to look up in the index (`index::indexed_ids`) in the read that
/// follows the log's snapshot.
pub(crate) fn logged_ids(logged: &[CheckIn]) -> Vec<String> {
    logged.iter().map(|c| c.id.clone()).collect()
}

/// The rows a read found in the index, with the `logged` check-ins (taken before that read)
/// whose ids the index did not hold then (`indexed`, looked up in the same read), in no set
/// order. An indexed id is either the same check-in, folded since, or a peer's check-in with
/// that id that arrived by sync first: that one stands, in whichever rows the read matched,
/// and the fold will leave the logged one out.
pub(crate) fn merge_logged(mut rows: Vec<CheckIn>, logged: Vec<CheckIn>, indexed: &HashSet<String>) -> Vec<CheckIn> {
    rows.extend(logged.into_iter().filter(|c| !indexed.contains(&c.id)));
    rows
}

/// Writes into attendance document `d`, at `version` and locked, the logged check-ins
/// `entries` that it does not hold yet, as one batch; answers whether it wrote any. An entry
/// found new at `version` is new; one found new at an older version (a change arrived by sync
/// since) is looked up among what `d` holds now, and left out if there: with the same content
/// it is the same fact, with other content a peer's check-in took the id first (as when two
/// kiosks record one id at once) and the peer's stands.
fn fold_into(d: &mut AutoCommit, version: u64, entries: &[Logged]) -> Result<bool, cec_core::doc::DocError> {
    let new: Vec<CheckIn> = if entries.iter().all(|e| e.version == version) {
        entries.iter().map(|e| e.checkin.clone()).collect()
    } else {
        let held: HashMap<String, CheckIn> = doc::attendance::read(d)?.into_iter().map(|c| (c.id.clone(), c)).collect();
        let mut new = Vec::with_capacity(entries.len());
        for e in entries {
            match held.get(&e.checkin.id) {
                None => new.push(e.checkin.clone()),
                Some(c) if *c == e.checkin => {}
                Some(_) => tracing::warn!(
                    checkin = %e.checkin.id,
                    "a check-in acknowledged here arrived meanwhile from a peer with other content; the peer's stands"
                ),
            }
        }
        new
    };
    if new.is_empty() {
        return Ok(false);
    }
    doc::attendance::checkins_map(d).and_then(|m| doc::attendance::insert_new(d, &m, &new))?;
    Ok(true)
}

/// Moves what an older version of the node left in the main database's check-in log into the
/// log's own database, at open: copied with their entry numbers (again, after a stop between
/// the copy and the delete), then deleted from the main one.
pub(super) async fn move_main_log(store: &Store, log: &Store) -> Result<(), StorageError> {
    let rows = store.read(index::logged_checkins).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    log.write(move |tx| {
        index::unlog_checkins(tx, rows.iter().map(|(seq, _)| *seq))?;
        for (seq, c) in &rows {
            index::log_checkin(tx, *seq, c)?;
        }
        Ok(())
    })
    .await?;
    store.write(index::clear_log).await?;
    tracing::info!(checkins = n, "the check-in log moved into its own database");
    Ok(())
}

/// A storage job deleting the log rows of `entries` (folded, or their event retired).
fn unlog_job(entries: &[Logged]) -> ExtraJob {
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    Box::new(move |tx| index::unlog_checkins(tx, seqs))
}

/// Answers every request of `round` with `err`.
fn fail_all(round: BTreeMap<DocId, DocRound>, err: NodeError) {
    let mut rounds = round.into_values();
    let Some(first) = rounds.next() else { return };
    let shared = Arc::new(err);
    first.fail(NodeError::Shared(shared.clone()));
    for r in rounds {
        r.fail(NodeError::Shared(shared.clone()));
    }
}

/// Sorts `items` for an attendance document, whose check-ins (in it and logged for it) the
/// writer `known`: a new id is accepted (to be logged), a retry answered with what is stored,
/// an id stored with other content (here, in a session being written by a racing request, or
/// stored elsewhere) refused. Answers per item, what the writer now knows of the document, and
/// the new check-ins.
fn sort_items(
    mut known: Known,
    items: Vec<NewCheckIn>,
    claimed_elsewhere: Vec<Option<String>>,
    stored_elsewhere: impl Fn(&str) -> Option<String>,
) -> Written {
    let mut results = Vec::with_capacity(items.len());
    let mut new = Vec::new();
    for (inc, other) in items.into_iter().zip(claimed_elsewhere) {
        let id = inc.checkin.id.clone();
        if let Some(place) = other.or_else(|| stored_elsewhere(&id)) {
            results.push(Err(elsewhere(&id, &place)));
            continue;
        }
        results.push(match known.by_id.get(&id) {
            Some(existing) if inc.is_answered_by(existing) => Ok(Recorded::Existing(existing.clone())),
            Some(_) => Err(NodeError::Conflict(format!("check-in {id:?} exists with other content"))),
            None => match doc::attendance::check_encodable(&inc.checkin) {
                Err(e) => Err(e.into()),
                Ok(()) => {
                    known.by_id.insert(id, inc.checkin.clone());
                    new.push(inc.checkin.clone());
                    Ok(Recorded::Created(inc.checkin))
                }
            },
        });
    }
    (results, known, new)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use cec_core::event::{Policy, Provider, Segment, SegmentKind, Session, SessionFormat};
    use cec_core::{Direction, Method};

    use super::*;
    use crate::config::Config;

    const AT: &str = "2027-03-01T09:00:00Z";

    /// A node in `dir` holding event E1 with `sessions`.
    async fn node_with(dir: &std::path::Path, sessions: &[&str]) -> (Arc<Node>, Arc<Event>) {
        let node = Arc::new(Node::open(dir, Config::default()).await.unwrap());
        let at: jiff::Timestamp = AT.parse().unwrap();
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
        for s in sessions {
            let session = Session {
                id: (*s).into(),
                title: (*s).into(),
                category: "general".into(),
                format: SessionFormat::InPerson,
                starts_at: at,
                segments: vec![Segment::new(SegmentKind::Instruction, 60)],
            };
            node.create_session("E1", session).await.unwrap();
        }
        let event = node.require_event("E1").await.unwrap();
        (node, event)
    }

    /// Records one check-in in session S1 of `event` and answers its result.
    async fn record_one(node: &Arc<Node>, event: &Event, inc: NewCheckIn) -> NodeResult<Recorded> {
        node.record_checkins(event, "S1", vec![inc]).await.and_then(|mut v| v.pop().unwrap())
    }

    fn checkin(id: &str, session: &str, member: &str) -> CheckIn {
        let at: jiff::Timestamp = AT.parse().unwrap();
        CheckIn {
            id: id.into(),
            event_id: "E1".into(),
            session_id: session.into(),
            member_id: member.into(),
            direction: Direction::In,
            at,
            method: Method::Badge,
            kiosk_id: "k".into(),
            recorded_at: at,
        }
    }

    fn new(id: &str, session: &str, member: &str) -> NewCheckIn {
        NewCheckIn { checkin: checkin(id, session, member), at_given: true, method_given: true }
    }

    /// One check-in id sent to two sessions at once: one request records it, the other is
    /// told it exists elsewhere; never two 201s with one of them missing from the index.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_id_racing_into_two_sessions_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1", "S2"]).await;
        let mut races = Vec::new();
        for i in 0..40 {
            let id = format!("c{i}");
            for s in ["S1", "S2"] {
                let (node, event, inc) = (node.clone(), event.clone(), new(&id, s, "M1"));
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
        node.close().await;
    }

    /// Requests for one session that arrive while its change commits go into its next change
    /// together, each answered for its own items, and all of them durable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_sessions_requests_share_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        let jobs_before = node.log_store.stats().jobs_committed;
        // The writer is busy: everything sent meanwhile waits for one change.
        let (started_tx, started) = std::sync::mpsc::channel();
        let busy = node.log_store.write(move |_| {
            let _ = started_tx.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        });
        started.recv().unwrap();
        let mut requests = Vec::new();
        for i in 0..50 {
            let (node, event) = (node.clone(), event.clone());
            // Request 49 repeats request 0's id with other content: a conflict, alone.
            let inc = if i == 49 { new("c0", "S1", "other") } else { new(&format!("c{i}"), "S1", "M1") };
            requests.push(tokio::spawn(async move { node.record_checkins(&event, "S1", vec![inc]).await }));
        }
        busy.await.unwrap();
        // Requests 0 and 49 race (tasks start in no set order): whichever is written first is
        // created, the other refused.
        let mut created = Vec::new();
        let mut conflicts = 0;
        for r in requests {
            match r.await.unwrap().unwrap().pop().unwrap() {
                Ok(Recorded::Created(c)) => created.push((c.id, c.member_id)),
                Err(NodeError::Conflict(_)) => conflicts += 1,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((created.len(), conflicts), (49, 1));
        let changes = node.log_store.stats().jobs_committed - jobs_before - 1;
        assert!(changes <= 3, "49 check-ins took {changes} jobs");
        // Folded into the document, they are one value: one operation, not one per check-in.
        node.fold_logged().await;
        let id = DocId::attendance("E1", "S1");
        let mut locked = node.docs.lock_many([id.clone()]).await.unwrap();
        let actor = node.docs.actor();
        let d = locked.get_mut(&id).unwrap();
        let ops: usize = d.get_changes(&[]).iter().filter(|c| c.actor_id() == &actor).map(|c| c.len()).sum();
        drop(locked);
        assert!((1..=2).contains(&ops), "49 check-ins took {ops} operations");
        node.close().await;
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        let (listed, _) = node.checkins(CheckInFilter::default(), 1000).await.unwrap();
        let mut stored: Vec<_> = listed.into_iter().map(|(c, _)| (c.id, c.member_id)).collect();
        stored.sort();
        created.sort();
        assert_eq!(stored, created, "every acknowledged check-in is on disk, as acknowledged");
        node.close().await;
    }

    /// Requests for many sessions that arrive while a commit is in flight are written in the
    /// writer's next round: one change per session, and all of them in one transaction.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_sessions_requests_share_a_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..10).map(|i| format!("S{i}")).collect();
        let sessions: Vec<&str> = names.iter().map(String::as_str).collect();
        let (node, event) = node_with(dir.path(), &sessions).await;
        // The writer thread is busy while every request arrives.
        let (started_tx, started) = std::sync::mpsc::channel();
        let busy = node.log_store.write(move |_| {
            let _ = started_tx.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        });
        started.recv().unwrap();
        let before = node.log_store.stats();
        let mut requests = Vec::new();
        for i in 0..60 {
            let (node, event, s) = (node.clone(), event.clone(), names[i % 10].clone());
            requests.push(tokio::spawn(async move {
                node.record_checkins(&event, &s, vec![new(&format!("c{i}"), &s, "M1")]).await
            }));
        }
        busy.await.unwrap();
        for r in requests {
            assert!(matches!(r.await.unwrap().unwrap().pop().unwrap(), Ok(Recorded::Created(_))));
        }
        let after = node.log_store.stats();
        // The busy job's transaction, then at most two rounds: the first request's (its
        // writer may start before the others arrive) and everything else's.
        let transactions = after.batches_committed - before.batches_committed;
        assert!(transactions <= 3, "60 check-ins in 10 sessions took {transactions} transactions");
        let changes = after.jobs_committed - before.jobs_committed - 1;
        assert!(changes <= 11, "60 check-ins in 10 sessions took {changes} changes");
        let (listed, _) = node.checkins(CheckInFilter::default(), 1000).await.unwrap();
        assert_eq!(listed.len(), 60);
        node.close().await;
    }

    /// What a session's writer keeps in memory follows the document: a check-in that arrived
    /// by sync is known to the next write, and one whose commit failed is not.
    #[tokio::test]
    async fn the_writers_memory_follows_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        let one = |inc: NewCheckIn| record_one(&node, &event, inc);
        assert!(matches!(one(new("local", "S1", "M1")).await, Ok(Recorded::Created(_))));
        // Another kiosk's check-in is merged in, as a sync round does.
        let mut remote = doc::attendance::new_doc("E1", "S1", &doc::actor_for("other-kiosk"));
        doc::attendance::add_checkin(&mut remote, &checkin("synced", "S1", "M2")).unwrap();
        remote.commit();
        let id = DocId::attendance("E1", "S1");
        let mut locked = node.docs.lock_many([id.clone()]).await.unwrap();
        locked.get_or_create_empty(&id).unwrap().merge(&mut remote).unwrap();
        locked.commit(None).await.unwrap();
        assert!(matches!(one(new("synced", "S1", "M2")).await, Ok(Recorded::Existing(_))));
        assert!(matches!(one(new("synced", "S1", "M9")).await, Err(NodeError::Conflict(_))));
        // A change the disk refuses leaves nothing behind, in the document or in memory.
        crate::storage::test_util::refuse_row(&node.log_store, "checkin_log", "refused").await;
        assert!(one(new("refused", "S1", "M3")).await.is_err());
        crate::storage::test_util::accept_all(&node.log_store).await;
        assert!(matches!(one(new("refused", "S1", "M4")).await, Ok(Recorded::Created(c)) if c.member_id == "M4"));
        node.close().await;
    }

    /// A batch whose storage fails for one session answers per item: the other session's
    /// scans are stored and say so, the failed ones carry the storage error.
    #[tokio::test]
    async fn a_batch_failing_part_way_answers_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let (node, _) = node_with(dir.path(), &["S1", "S2"]).await;
        // The disk refuses the write that holds check-in "lost".
        crate::storage::test_util::refuse_row(&node.log_store, "checkin_log", "lost").await;
        let item = |id: &str, s: &str| Ok(new(id, s, "M1"));
        let out = node
            .record_batch(vec![item("kept", "S1"), item("lost", "S2"), item("also-lost", "S2")])
            .await
            .expect("a batch answers per item");
        assert!(matches!(&out[0], Ok((Recorded::Created(c), _)) if c.id == "kept"), "{:?}", out[0]);
        assert!(matches!(&out[1], Err(NodeError::Shared(_))), "{:?}", out[1]);
        assert!(matches!(&out[2], Err(NodeError::Shared(_))), "{:?}", out[2]);
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        assert_eq!(listed.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["kept"]);
        node.close().await;
    }

    /// The logged check-ins of `node`, as stored.
    async fn log_rows(node: &Node) -> Vec<String> {
        node.log_store.read(index::logged_checkins).await.unwrap().into_iter().map(|(_, c)| c.id).collect()
    }

    /// The check-ins attendance document E1/`session` holds.
    async fn in_document(node: &Node, session: &str) -> Vec<String> {
        let id = DocId::attendance("E1", session);
        let read = node.docs.read(&id, |d| doc::attendance::read(d).unwrap()).await.unwrap().unwrap_or_default();
        let mut ids: Vec<String> = read.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    }

    /// An acknowledged check-in is in the log and the index at once, in its document after the
    /// fold (and out of the log), and the feed names it once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_checkins_are_folded_into_their_documents() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1", "S2"]).await;
        let feed_before = node.changes(0, 10_000).await.unwrap().len();
        let items = |s: &str, n: usize| (0..n).map(|i| new(&format!("{s}-c{i}"), s, "M1")).collect::<Vec<_>>();
        let one = node.record_checkins(&event, "S1", items("S1", 30)).await.unwrap();
        let two = node.record_checkins(&event, "S2", items("S2", 20)).await.unwrap();
        assert!(one.iter().chain(&two).all(|r| matches!(r, Ok(Recorded::Created(_)))));
        let (listed, _) = node.checkins(CheckInFilter::default(), 1000).await.unwrap();
        assert_eq!(listed.len(), 50, "indexed when acknowledged");
        // The timer folds them soon without being asked (FOLD_AFTER), or a reader asks first.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !log_rows(&node).await.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the log was never folded");
            tokio::time::sleep(FOLD_AFTER).await;
        }
        assert_eq!(in_document(&node, "S1").await.len(), 30);
        assert_eq!(in_document(&node, "S2").await.len(), 20);
        let feed: Vec<_> = node.changes(0, 10_000).await.unwrap().into_iter().skip(feed_before).collect();
        assert_eq!(feed.len(), 50, "one feed entry per check-in, not another for the fold: {feed:?}");
        // A retry after the fold is answered from the document.
        let again = node.record_checkins(&event, "S1", vec![new("S1-c3", "S1", "M1")]).await.unwrap();
        assert!(matches!(&again[0], Ok(Recorded::Existing(c)) if c.id == "S1-c3"), "{again:?}");
        let clash = node.record_checkins(&event, "S1", vec![new("S1-c4", "S1", "M9")]).await.unwrap();
        assert!(matches!(&clash[0], Err(NodeError::Conflict(_))), "{clash:?}");
        node.close().await;
    }

    /// A retry while its check-in is still in the log is answered as stored; other content is
    /// refused; a fold asked for by a reader writes everything logged at once.
    #[tokio::test]
    async fn a_retry_of_a_logged_checkin_is_answered_as_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: folded when asked
        node.record_checkins(&event, "S1", vec![new("a", "S1", "M1")]).await.unwrap();
        node.record_checkins(&event, "S1", vec![new("b", "S1", "M2")]).await.unwrap();
        assert_eq!(log_rows(&node).await.len(), 2, "not folded yet");
        assert_eq!(node.checkins_in_log(), 2);
        let again = node.record_checkins(&event, "S1", vec![new("a", "S1", "M1"), new("b", "S1", "M3")]).await.unwrap();
        assert!(matches!(&again[0], Ok(Recorded::Existing(c)) if c.member_id == "M1"), "{again:?}");
        assert!(matches!(&again[1], Err(NodeError::Conflict(_))), "{again:?}");
        node.fold_logged().await;
        assert!(log_rows(&node).await.is_empty());
        assert_eq!(node.checkins_in_log(), 0);
        assert_eq!(in_document(&node, "S1").await, ["a", "b"]);
        node.close().await;
    }

    /// An id in the log is one fact node-wide before its fold indexes it: the same id in
    /// another session is refused, and a retry in its own session is answered as stored.
    #[tokio::test]
    async fn an_id_in_the_log_is_refused_in_another_session() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1", "S2"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: folded when asked
        node.record_checkins(&event, "S1", vec![new("x", "S1", "M1")]).await.unwrap();
        assert_eq!(node.store.read(index::count).await.unwrap(), 0, "not indexed before its fold");
        let there = node.record_checkins(&event, "S2", vec![new("x", "S2", "M1")]).await.unwrap();
        assert!(matches!(&there[0], Err(NodeError::Conflict(m)) if m.contains("E1/S1")), "{there:?}");
        let again = node.record_checkins(&event, "S1", vec![new("x", "S1", "M1")]).await.unwrap();
        assert!(matches!(&again[0], Ok(Recorded::Existing(_))), "{again:?}");
        node.fold_logged().await;
        let there = node.record_checkins(&event, "S2", vec![new("x", "S2", "M1")]).await.unwrap();
        assert!(matches!(&there[0], Err(NodeError::Conflict(m)) if m.contains("E1/S1")), "{there:?}");
        node.close().await;
    }

    /// A read of check-ins sees every acknowledged one it asks about without waiting for a
    /// fold: the logged ones it asks about, with the index. So it does also while their fold
    /// fails (a full disk), and a void of one answers why it cannot be written.
    #[tokio::test]
    async fn a_read_sees_logged_checkins_without_a_fold() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1", "S2"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: folded when asked
        node.record_checkins(&event, "S1", vec![new("a", "S1", "M1"), new("c", "S1", "M2")]).await.unwrap();
        node.record_checkins(&event, "S2", vec![new("b", "S2", "M2")]).await.unwrap();
        // Never due by age, however slow this machine.
        for e in node.ingest.log().by_doc.values_mut().flatten() {
            e.at = Instant::now() + Duration::from_secs(3600);
        }
        let ids =
            |listed: &[(CheckIn, Option<Arc<Event>>)]| listed.iter().map(|(c, _)| c.id.clone()).collect::<Vec<_>>();
        let member_ids =
            |m: &[(Arc<Event>, Vec<CheckIn>)]| m.iter().flat_map(|(_, v)| v).map(|c| c.id.clone()).collect::<Vec<_>>();
        let page = |after: Option<&str>| CheckInFilter { after: after.map(str::to_owned), ..Default::default() };
        let reads = async |node: &Arc<Node>| {
            let by_m3 = CheckInFilter { member_id: Some("M3".into()), ..Default::default() };
            assert!(node.checkins(by_m3, 10).await.unwrap().0.is_empty());
            let in_s2 = CheckInFilter { session_id: Some("S2".into()), ..Default::default() };
            assert_eq!(ids(&node.checkins(in_s2, 10).await.unwrap().0), ["b"]);
            // Pages by id, across the log and the index.
            let (first, next) = node.checkins(page(None), 2).await.unwrap();
            assert_eq!((ids(&first), next.as_deref()), (vec!["a".to_owned(), "b".to_owned()], Some("b")));
            let (rest, next) = node.checkins(page(Some("b")), 2).await.unwrap();
            assert_eq!((ids(&rest), next), (vec!["c".to_owned()], None));
            assert_eq!(
                member_ids(&node.member_checkins("M2", None).await.unwrap()),
                ["c", "b"],
                "by session: S1 first"
            );
            assert_eq!(node.checkin_count().await.unwrap(), 3, "stored, logged or indexed");
        };
        reads(&node).await;
        assert_eq!(node.checkins_in_log(), 3, "no read folded anything");
        // S2 folds, and S1's fold is refused.
        crate::storage::test_util::refuse_row(&node.store, "checkin_index", "a").await;
        node.fold_logged().await;
        assert_eq!(node.checkins_in_log(), 2, "S1 still logged");
        reads(&node).await;
        let refused =
            node.void_checkin("c", "scanned twice", "2026-04-16T10:00:00Z".parse::<jiff::Timestamp>().unwrap()).await;
        assert!(matches!(refused, Err(NodeError::Shared(_))), "{refused:?}");
        crate::storage::test_util::accept_all(&node.store).await;
        node.fold_logged().await;
        assert_eq!(node.checkins_in_log(), 0);
        assert_eq!(log_rows(&node).await, Vec::<String>::new());
        reads(&node).await;
        let voided =
            node.void_checkin("c", "scanned twice", "2026-04-16T10:00:00Z".parse::<jiff::Timestamp>().unwrap()).await;
        assert!(voided.unwrap().new);
        node.close().await;
    }

    fn logged(seq: i64, ago: Duration, c: CheckIn) -> Logged {
        Logged { seq, at: Instant::now() - ago, checkin: c, version: 1 }
    }

    /// A round folds the documents due, oldest first, whole, until [`FOLD_PIECE`] check-ins;
    /// everything when asked.
    #[test]
    fn a_round_folds_a_bounded_piece_of_the_log() {
        let ingest = Ingest::default();
        let old = FOLD_AFTER * 2;
        let doc = |s: &str| DocId::attendance("E1", s);
        let mut seq = 0;
        let mut entries = |s: &str, n: usize, ago: Duration| -> Vec<Logged> {
            (0..n)
                .map(|i| {
                    seq += 1;
                    let older = Duration::from_millis((n - 1 - i) as u64);
                    logged(seq, ago + older, checkin(&format!("{s}-{i}"), s, "M1"))
                })
                .collect()
        };
        // C is the oldest, then A; B is due but younger than both.
        let (a, b, c, young) = (
            entries("A", FOLD_PIECE - 1, old * 2),
            entries("B", 2, old),
            entries("C", 5, old * 4),
            entries("Y", 3, Duration::ZERO),
        );
        {
            let mut log = ingest.log();
            log.add(&doc("A"), a);
            log.add(&doc("B"), b);
            log.add(&doc("C"), c);
            log.add(&doc("Y"), young);
        }
        let (due, more) = ingest.to_fold(&FoldAsk::default());
        // C first, then A reaches the piece's size; B waits for the next round.
        assert_eq!(due.keys().cloned().collect::<Vec<_>>(), [doc("A"), doc("C")]);
        assert!(more, "B is left for the next fold");
        assert_eq!(due.values().map(Vec::len).sum::<usize>(), FOLD_PIECE + 4);
        // A document whose fold failed goes to the back.
        let full = Arc::new(NodeError::Conflict("disk full".into()));
        ingest.log().defer([doc("C")], &full);
        let (due, more) = ingest.to_fold(&FoldAsk::default());
        assert_eq!(due.keys().cloned().collect::<Vec<_>>(), [doc("A"), doc("B")]);
        assert!(!more, "C, put back, is not due again yet");
        // A document with FOLD_AT check-ins is due at once, unless its fold just failed.
        ingest.log().add(&doc("F"), entries("F", FOLD_AT, Duration::ZERO));
        let (due, _) = ingest.to_fold(&FoldAsk::default());
        assert!(due.contains_key(&doc("F")));
        ingest.log().defer([doc("F")], &full);
        let (due, _) = ingest.to_fold(&FoldAsk::default());
        assert!(!due.contains_key(&doc("F")), "deferred, however many it holds");
        ingest.log().remove_doc(&doc("F"));
        let (due, _) = ingest.to_fold(&FoldAsk::default());
        assert!(!due.contains_key(&doc("Y")), "young");
        let (all, more) = ingest.to_fold(&FoldAsk { all: true });
        assert!(!more);
        assert_eq!(all.len(), 4);
        assert_eq!(ingest.log().places.get("B-1"), Some(&doc("B")));
        ingest.log().remove_doc(&doc("B"));
        assert_eq!(ingest.log().places.get("B-1"), None);
        assert_eq!(ingest.log().next_seq, seq + 1);
    }

    /// A fold holds its documents' locks until its commit; check-ins of those documents
    /// arriving meanwhile are acknowledged without waiting for it, and their ids are still
    /// checked against what the documents hold.
    #[tokio::test]
    async fn a_fold_in_flight_does_not_hold_up_acknowledgements() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: the test folds
        node.record_checkins(&event, "S1", vec![new("a", "S1", "M1")]).await.unwrap();
        node.fold_logged().await;
        assert_eq!(in_document(&node, "S1").await, ["a"]);
        let id = DocId::attendance("E1", "S1");
        // Held as a fold in flight holds it.
        let locked = node.docs.lock_many([id.clone()]).await.unwrap();
        let record = |inc: NewCheckIn| tokio::time::timeout(Duration::from_secs(10), record_one(&node, &event, inc));
        let answered = record(new("b", "S1", "M2")).await.expect("answered while the document is locked");
        assert!(matches!(answered, Ok(Recorded::Created(_))), "{answered:?}");
        let retry = record(new("a", "S1", "M1")).await.expect("answered while the document is locked");
        assert!(matches!(retry, Ok(Recorded::Existing(_))), "{retry:?}");
        let other = record(new("a", "S1", "M9")).await.expect("answered while the document is locked");
        assert!(matches!(other, Err(NodeError::Conflict(_))), "{other:?}");
        drop(locked);
        assert_eq!(log_rows(&node).await, ["b"]);
        node.fold_logged().await;
        assert_eq!(in_document(&node, "S1").await, ["a", "b"]);
        node.close().await;
    }

    /// Check-ins with ids logged here and not folded yet arrive from a peer (a sync round):
    /// the fold leaves out what the document then holds, so the index and the document agree:
    /// the same fact once, and with other content the peer's.
    #[tokio::test]
    async fn a_peers_checkin_arriving_before_the_fold_stands() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: the test folds
        let (same, theirs) = (new("same", "S1", "M1"), new("theirs", "S1", "M2"));
        let mine = node.record_checkins(&event, "S1", vec![same.clone(), theirs, new("mine", "S1", "M3")]).await;
        assert!(mine.unwrap().iter().all(|r| matches!(r, Ok(Recorded::Created(_)))));
        let mut remote = doc::attendance::new_doc("E1", "S1", &doc::actor_for("other-kiosk"));
        doc::attendance::add_checkin(&mut remote, &same.checkin).unwrap();
        doc::attendance::add_checkin(&mut remote, &checkin("theirs", "S1", "M9")).unwrap();
        remote.commit();
        let id = DocId::attendance("E1", "S1");
        let mut locked = node.docs.lock_many([id.clone()]).await.unwrap();
        locked.get_or_create_empty(&id).unwrap().merge(&mut remote).unwrap();
        locked.commit(None).await.unwrap();
        // A round before the fold reads the document again: what it holds stands over the log.
        let later = node.record_checkins(&event, "S1", vec![new("later", "S1", "M4")]).await.unwrap();
        assert!(matches!(&later[0], Ok(Recorded::Created(_))), "{later:?}");
        // Reads before the fold: the logged "theirs" is M2's in the log only; the peer's, M9's,
        // stands, however the read is filtered.
        let reads = async || {
            let by_m2 = CheckInFilter { member_id: Some("M2".into()), ..Default::default() };
            assert!(node.checkins(by_m2, 10).await.unwrap().0.is_empty());
            assert!(node.member_checkins("M2", None).await.unwrap().is_empty());
            let m9 = node.member_checkins("M9", None).await.unwrap();
            assert_eq!(m9.iter().flat_map(|(_, v)| v).map(|c| c.id.as_str()).collect::<Vec<_>>(), ["theirs"]);
        };
        reads().await;
        assert!(!log_rows(&node).await.is_empty(), "the reads folded nothing");
        node.fold_logged().await;
        assert!(log_rows(&node).await.is_empty());
        reads().await;
        assert_eq!(in_document(&node, "S1").await, ["later", "mine", "same", "theirs"]);
        let one = |inc: NewCheckIn| record_one(&node, &event, inc);
        let as_stored = one(new("theirs", "S1", "M9")).await;
        assert!(matches!(&as_stored, Ok(Recorded::Existing(c)) if c.member_id == "M9"), "{as_stored:?}");
        let as_logged = one(new("theirs", "S1", "M2")).await;
        assert!(matches!(as_logged, Err(NodeError::Conflict(_))), "{as_logged:?}");
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        let listed: Vec<(&str, &str)> = listed.iter().map(|(c, _)| (c.id.as_str(), c.member_id.as_str())).collect();
        assert_eq!(listed, [("later", "M4"), ("mine", "M3"), ("same", "M1"), ("theirs", "M9")]);
        let stored = node.docs.read(&id, doc::attendance::read).await.unwrap().unwrap().unwrap();
        assert_eq!(stored.iter().find(|c| c.id == "theirs").unwrap().member_id, "M9");
        node.close().await;
    }

    /// What a stop leaves in the log (acknowledged, not folded) is folded at the next start:
    /// in the document, out of the log, still indexed, and a retry finds it.
    #[tokio::test]
    async fn a_stop_before_the_fold_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (node, event) = node_with(dir.path(), &["S1", "S2"]).await;
            node.ingest.fold_armed.store(true, Ordering::Release); // no timer: stopped before a fold
            node.record_checkins(&event, "S1", vec![new("a", "S1", "M1"), new("b", "S1", "M2")]).await.unwrap();
            node.record_checkins(&event, "S2", vec![new("c", "S2", "M1")]).await.unwrap();
            // Stopped before the fold's timer: the log holds them.
            node.close().await;
        }
        assert_eq!(count_rows(&dir.path().join(crate::storage::LOG_FILE), "checkin_log"), 3, "stopped before the fold");
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        assert!(log_rows(&node).await.is_empty());
        assert_eq!(in_document(&node, "S1").await, ["a", "b"]);
        assert_eq!(in_document(&node, "S2").await, ["c"]);
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        assert_eq!(listed.len(), 3);
        let event = node.require_event("E1").await.unwrap();
        let again = node.record_checkins(&event, "S1", vec![new("a", "S1", "M1")]).await.unwrap();
        assert!(matches!(&again[0], Ok(Recorded::Existing(_))), "{again:?}");
        node.close().await;
    }

    /// The rows of `table` in database file `path`.
    fn count_rows(path: &std::path::Path, table: &str) -> i64 {
        let conn = rusqlite::Connection::open(path).unwrap();
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap()
    }

    /// The heads of attendance document E1/`session`.
    async fn heads(node: &Node, session: &str) -> Vec<automerge::ChangeHash> {
        let id = DocId::attendance("E1", session);
        node.docs.read(&id, |d| d.clone().get_heads()).await.unwrap().unwrap()
    }

    /// A fold whose log rows cannot be deleted (the log's disk full) leaves its check-ins
    /// logged, in memory and on disk; they are counted and listed once, and the next fold finds
    /// them in their document and only deletes their rows: the document takes no new change.
    #[tokio::test]
    async fn a_fold_whose_log_rows_stay_is_finished_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let (node, event) = node_with(dir.path(), &["S1"]).await;
        node.ingest.fold_armed.store(true, Ordering::Release); // no timer: the folds below only
        node.record_checkins(&event, "S1", vec![new("a", "S1", "M1"), new("b", "S1", "M2")]).await.unwrap();
        let refuse =
            "CREATE TEMP TRIGGER keep BEFORE DELETE ON checkin_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;";
        node.log_store.write(move |tx| Ok(tx.execute_batch(refuse)?)).await.unwrap();
        node.fold_logged().await;
        assert_eq!(in_document(&node, "S1").await, ["a", "b"]);
        assert_eq!(log_rows(&node).await, ["a", "b"], "their rows stay");
        assert_eq!(node.checkins_in_log(), 2, "and they stay logged");
        assert_eq!(node.checkin_count().await.unwrap(), 2, "counted once");
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        assert_eq!(listed.iter().map(|(c, _)| c.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let folded = heads(&node, "S1").await;
        node.log_store.write(|tx| Ok(tx.execute_batch("DROP TRIGGER keep")?)).await.unwrap();
        node.ingest.log().deferred.clear(); // due now, not after the pause a failed fold waits
        node.fold_logged().await;
        assert!(log_rows(&node).await.is_empty());
        assert_eq!(node.checkins_in_log(), 0);
        assert_eq!(heads(&node, "S1").await, folded, "nothing written into the document again");
        assert_eq!(node.checkin_count().await.unwrap(), 2);
        node.close().await;
    }

    /// A stop between a fold's commit and the deletion of its log rows leaves rows whose
    /// check-ins are in their document: the next start drops them and writes nothing again.
    #[tokio::test]
    async fn log_rows_of_folded_checkins_are_dropped_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let folded = {
            let (node, event) = node_with(dir.path(), &["S1"]).await;
            node.record_checkins(&event, "S1", vec![new("a", "S1", "M1")]).await.unwrap();
            node.fold_logged().await;
            // The row the fold deleted, back as a stop before the deletion would have left it.
            let c = checkin("a", "S1", "M1");
            node.log_store.write(move |tx| index::log_checkin(tx, 7, &c)).await.unwrap();
            let h = heads(&node, "S1").await;
            node.close().await;
            h
        };
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        assert!(log_rows(&node).await.is_empty());
        assert_eq!(heads(&node, "S1").await, folded);
        assert_eq!(node.checkin_count().await.unwrap(), 1);
        node.close().await;
    }

    /// Check-ins an older version left logged in the main database move into the log's own
    /// database at open, and are folded there like any other.
    #[tokio::test]
    async fn a_log_left_in_the_main_database_moves_at_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (node, _) = node_with(dir.path(), &["S1"]).await;
            let c = checkin("old", "S1", "M1");
            node.store.write(move |tx| index::log_checkin(tx, 3, &c)).await.unwrap();
            node.close().await;
        }
        let node = Arc::new(Node::open(dir.path(), Config::default()).await.unwrap());
        assert_eq!(count_rows(&dir.path().join(crate::storage::DB_FILE), "checkin_log"), 0, "moved");
        assert!(log_rows(&node).await.is_empty(), "and folded");
        assert_eq!(in_document(&node, "S1").await, ["old"]);
        let (listed, _) = node.checkins(CheckInFilter::default(), 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        node.close().await;
    }

    /// A data directory whose check-in log went missing is refused at open, not given an empty
    /// log: the missing one may have held acknowledged check-ins.
    #[tokio::test]
    async fn a_missing_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (node, _) = node_with(dir.path(), &["S1"]).await;
            node.close().await;
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("{}{suffix}", crate::storage::LOG_FILE)));
        }
        let Err(err) = Node::open(dir.path(), Config::default()).await else { panic!("a missing log is refused") };
        assert!(matches!(err, crate::node::OpenError::LogMissing(_)), "{err}");
        assert!(err.to_string().contains("Put it back"), "{err}");
    }
}
