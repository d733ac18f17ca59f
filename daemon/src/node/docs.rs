//! Loaded Automerge documents and the one write path into storage.
//!
//! A document is loaded on first use (snapshot and chunks concatenated, one `load`), kept in
//! memory while in use, and evicted in least-recently-used order when the documents held
//! weigh more than the cache's budget. A change is made in memory under the document's write
//! lock, then the bytes since the last saved heads (`save_after`, never `save_incremental`,
//! see automerge#592) are queued to the writer with the document's projection (index rows and
//! change-feed entries) and its new heads, all in one transaction. The write lock is held until
//! that transaction commits, so no change is built on one that might not reach the disk;
//! writes to different documents share group commits. [`Docs::lock_many`] takes several
//! documents at once for changes that arrive by sync and commits them in one storage job.
//!
//! Reads of an event or a portfolio come from a decoded view of the document as last
//! committed ([`Docs::event`], [`Docs::portfolio`]): they never take the write lock, so they
//! never wait for a commit in flight.
//!
//! Changes are written as an actor made fresh for each opening of the store (and after a
//! refused change): a data directory restored from a backup and written again must never
//! reissue an (actor, seq) pair that peers already hold with other content.
//!
//! The documents of an event **retired** from this node ([`RetiredEvents`], see
//! `node::retention`) are never written again: every write path refuses them
//! ([`DocsError::Retired`]), before the change and again inside its storage job. The event is
//! marked retired before the retirement's own job is queued, so a write's job either runs
//! before that job (which then sees it and retires nothing) or sees the mark.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use automerge::{ActorId, AutoCommit, ChangeHash};
use cec_core::Event;
use cec_core::doc::{self, DocId};
use cec_core::portfolio::Portfolio;
use rusqlite::Transaction;
use tokio::sync::OwnedMutexGuard;

use super::projection::{self, Projection};
use crate::storage::{self, StorageError, Store};

/// Why a document could not be loaded or stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocsError {
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The document's content does not follow its schema.
    #[error("document {doc_id}: {source}")]
    Schema {
        /// The document.
        doc_id: String,
        /// What is wrong.
        source: cec_core::doc::DocError,
    },
    /// The stored bytes do not load.
    #[error("document {doc_id} does not load: {message}")]
    Corrupt {
        /// The document.
        doc_id: String,
        /// Automerge's complaint.
        message: String,
    },
    /// The document's event was retired from this node: it is never written here again.
    #[error(
        "{doc_id} belongs to event {event_id}, which this node retired once the central node held it: \
         it is not written here again"
    )]
    Retired {
        /// The document.
        doc_id: String,
        /// Its event.
        event_id: String,
    },
}

impl DocsError {
    fn retired(id: &DocId) -> Self {
        Self::Retired { doc_id: id.to_string(), event_id: id.event_id().unwrap_or_default().to_owned() }
    }
}

/// The events retired from this node (`node::retention`): shared with sync sessions, which
/// ask it at every use, and checked by every write path.
#[derive(Debug, Default)]
pub struct RetiredEvents(RwLock<HashSet<String>>);

impl RetiredEvents {
    fn read(&self) -> RwLockReadGuard<'_, HashSet<String>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `doc` belongs to a retired event.
    pub fn contains_doc(&self, doc: &DocId) -> bool {
        doc.event_id().is_some_and(|e| self.read().contains(e))
    }

    /// Inside a write's storage job: refuses the write when `id` was retired since the write
    /// was checked.
    pub(crate) fn check_in_job(&self, id: &DocId) -> Result<(), StorageError> {
        if self.contains_doc(id) { Err(StorageError::job(RetiredDoc(id.clone()))) } else { Ok(()) }
    }
}

/// A write's storage job refused because the document's event was retired meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("{0} was retired")]
struct RetiredDoc(DocId);

/// [`DocsError::Retired`] for a job [`RetiredEvents::check_in_job`] refused, else `err`.
pub(crate) fn retired_or(err: StorageError) -> DocsError {
    match err.downcast_job::<RetiredDoc>() {
        Some(RetiredDoc(id)) => DocsError::retired(id),
        None => DocsError::Storage(err),
    }
}

/// A document as the write path holds it.
#[derive(Default)]
struct State {
    loaded: bool,
    doc: Option<AutoCommit>,
    /// The heads of what is on disk.
    saved: Vec<ChangeHash>,
}

/// The decoded view of a document as last committed.
#[derive(Clone, Default)]
enum View {
    /// Not decoded yet (or dropped after a refused change).
    #[default]
    Unknown,
    /// This node does not hold the document.
    Absent,
    /// An event document.
    Event(Arc<Event>),
    /// A portfolio document.
    Portfolio(Arc<Portfolio>),
    /// A document without a decoded view (attendance: read through the index).
    Undecoded,
}

/// The form of the views stored beside documents (`doc_views`): the JSON of `cec_core`'s
/// [`Event`] and [`Portfolio`]. Bump it whenever those types (or anything they hold) change
/// shape: views of another version are ignored, and written again when next decoded.
pub const VIEW_VERSION: i64 = 1;

impl View {
    /// The portfolio, if this is one.
    fn portfolio(&self) -> Option<&Portfolio> {
        match self {
            Self::Portfolio(p) => Some(p),
            _ => None,
        }
    }

    /// What is stored of this view; `None` for a document without a decoded view.
    fn stored(&self) -> Option<Vec<u8>> {
        let bytes = match self {
            Self::Event(e) => serde_json::to_vec(&**e),
            Self::Portfolio(p) => serde_json::to_vec(&**p),
            Self::Unknown | Self::Absent | Self::Undecoded => return None,
        };
        bytes.map_err(|e| tracing::warn!(error = %e, "a document view does not serialize")).ok()
    }

    /// The view of `id` from its stored form; `None` when it does not read as one (the
    /// document is then decoded instead).
    fn from_stored(id: &DocId, bytes: &[u8]) -> Option<Self> {
        match id {
            DocId::Event { .. } => serde_json::from_slice(bytes).ok().map(|e| Self::Event(Arc::new(e))),
            DocId::Portfolio { .. } => serde_json::from_slice(bytes).ok().map(|p| Self::Portfolio(Arc::new(p))),
            DocId::Attendance { .. } => None,
        }
    }
}

/// Where a view's stored form is read and decoded.
#[derive(Clone, Copy, Debug)]
enum Reader {
    /// On the calling thread (a request's own read: one row by key, cheaper than a hop).
    Here,
    /// On the store's blocking pool (reading ahead, beside requests).
    Pool,
}

/// The estimated memory of a view read from its stored form (the document not loaded).
fn view_weight(stored_bytes: usize) -> usize {
    1024_usize.saturating_add(stored_bytes.saturating_mul(2))
}

struct Slot {
    state: Arc<tokio::sync::Mutex<State>>,
    view: Mutex<View>,
    /// Estimated memory of the loaded document (or of its view alone), in bytes.
    weight: AtomicUsize,
    /// The cache's running total of weights, which every change of `weight` adjusts.
    total: Arc<AtomicUsize>,
    /// The cache's clock when last used.
    used: AtomicU64,
    /// The document's version (see [`Docs::version`]), drawn from `versions`.
    version: AtomicU64,
    /// The cache's source of versions, shared by every slot: no two values alike.
    versions: Arc<AtomicU64>,
}

impl Slot {
    fn new(total: Arc<AtomicUsize>, versions: Arc<AtomicU64>) -> Self {
        Self {
            state: Arc::new(tokio::sync::Mutex::new(State::default())),
            view: Mutex::new(View::Unknown),
            weight: AtomicUsize::new(0),
            total,
            used: AtomicU64::new(0),
            version: AtomicU64::new(versions.fetch_add(1, Ordering::Relaxed)),
            versions,
        }
    }

    /// Gives the document a version it never had: its content changed.
    fn bump_version(&self) {
        self.version.store(self.versions.fetch_add(1, Ordering::Relaxed), Ordering::Release);
    }

    fn set_weight(&self, w: usize) {
        let old = self.weight.swap(w, Ordering::Relaxed);
        self.adjust_total(old, w);
    }

    /// Adds a change of `bytes` saved bytes to a loaded document's weight.
    fn grow_weight(&self, bytes: usize) {
        let add = bytes.saturating_mul(DOC_WEIGHT_FACTOR);
        let grown = |w: usize| if w == 0 { weight(bytes) } else { w.saturating_add(add) };
        if let Ok(old) = self.weight.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| Some(grown(w))) {
            self.adjust_total(old, grown(old));
        }
    }

    fn adjust_total(&self, old: usize, new: usize) {
        if new >= old {
            self.total.fetch_add(new - old, Ordering::Relaxed);
        } else {
            let _ =
                self.total.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(t.saturating_sub(old - new)));
        }
    }

    /// The view as last set, unless not decoded yet.
    fn known_view(&self) -> Option<View> {
        let view = self.view.lock().unwrap_or_else(|p| p.into_inner()).clone();
        (!matches!(view, View::Unknown)).then_some(view)
    }

    fn set_view(&self, view: View) {
        *self.view.lock().unwrap_or_else(|p| p.into_inner()) = view;
    }
}

/// What a loaded document costs beyond its saved bytes (an empty one costs about 10 KB).
const DOC_BASE_WEIGHT: usize = 10 * 1024;
/// In memory, a document takes several times its compressed saved size.
const DOC_WEIGHT_FACTOR: usize = 8;
/// The default budget of loaded documents.
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

fn weight(saved_bytes: usize) -> usize {
    DOC_BASE_WEIGHT.saturating_add(saved_bytes.saturating_mul(DOC_WEIGHT_FACTOR))
}

/// A fresh actor for this opening of the store.
fn epoch_actor(node_id: &str) -> ActorId {
    let mut nonce = [0u8; 16];
    // Without randomness the clock still separates epochs; never the same as an earlier one.
    if getrandom::fill(&mut nonce).is_err() {
        nonce[..16].copy_from_slice(
            &std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes(),
        );
    }
    let mut seed = node_id.as_bytes().to_vec();
    seed.extend_from_slice(&nonce);
    use sha2::Digest;
    let digest = sha2::Sha256::digest(&seed);
    ActorId::from(&digest[..16])
}

/// The loaded documents of a node.
pub struct Docs {
    store: Store,
    node_id: String,
    actor: Mutex<ActorId>,
    slots: Mutex<HashMap<DocId, Arc<Slot>>>,
    /// The weights of the slots, as they changed: exact while no slot out of the map changes
    /// weight; recounted whenever it says the budget is exceeded.
    total: Arc<AtomicUsize>,
    clock: AtomicU64,
    /// The source of documents' versions.
    versions: Arc<AtomicU64>,
    budget: usize,
    retired: Arc<RetiredEvents>,
}

impl std::fmt::Debug for Docs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Docs").field("actor", &self.actor()).field("budget", &self.budget).finish_non_exhaustive()
    }
}

/// Heads as stored beside a document: the sorted 32-byte change hashes, concatenated.
pub fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    let mut sorted = heads.to_vec();
    sorted.sort();
    sorted.iter().flat_map(|h| h.0).collect()
}

fn schema(id: &DocId) -> impl FnOnce(cec_core::doc::DocError) -> DocsError + '_ {
    move |source| DocsError::Schema { doc_id: id.to_string(), source }
}

impl Docs {
    /// Documents over `store` of node `node_id`, keeping at most about `budget` bytes of
    /// documents loaded that nobody is using.
    pub fn new(store: Store, node_id: &str, budget: usize) -> Self {
        let actor = epoch_actor(node_id);
        tracing::info!(actor = %actor, "documents open; changes written as a new actor");
        Self {
            store,
            node_id: node_id.to_owned(),
            actor: Mutex::new(actor),
            slots: Mutex::new(HashMap::new()),
            total: Arc::default(),
            clock: AtomicU64::new(0),
            versions: Arc::new(AtomicU64::new(1)),
            budget,
            retired: Arc::default(),
        }
    }

    /// The events retired from this node.
    pub fn retired(&self) -> &Arc<RetiredEvents> {
        &self.retired
    }

    /// Whether `id` belongs to an event retired from this node.
    pub fn is_retired(&self, id: &DocId) -> bool {
        self.retired.contains_doc(id)
    }

    /// Marks events retired without a storage job (at start, from what storage recorded).
    pub(crate) fn load_retired(&self, events: impl IntoIterator<Item = String>) {
        self.retired.0.write().unwrap_or_else(|p| p.into_inner()).extend(events);
    }

    /// Marks `event_id` retired, then queues `job` (the retirement's storage job): the job of a
    /// write that runs after it sees the mark and is refused. If the job does not retire the
    /// event after all, call [`Docs::unretire`].
    pub(crate) fn retire_with<T, F>(
        &self,
        event_id: &str,
        job: F,
    ) -> impl std::future::Future<Output = Result<T, StorageError>> + Send + 'static + use<T, F>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        self.mark_retired(event_id);
        self.store.write(job)
    }

    /// Marks `event_id` retired (as [`Docs::retire_with`] does) before its retirement's job
    /// is queued: a write checked after the mark is refused. Take it back with
    /// [`Docs::unretire`] if the event is not retired after all.
    pub(crate) fn mark_retired(&self, event_id: &str) {
        self.retired.0.write().unwrap_or_else(|p| p.into_inner()).insert(event_id.to_owned());
    }

    /// Takes back the mark of [`Docs::retire_with`] when its job retired nothing.
    pub(crate) fn unretire(&self, event_id: &str) {
        self.retired.0.write().unwrap_or_else(|p| p.into_inner()).remove(event_id);
    }

    /// The actor this node's changes are written as now.
    pub fn actor(&self) -> ActorId {
        self.actor.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// After a refused change: later changes are written as a new actor, so the sequence
    /// number the refused change used is never reissued with other content.
    fn rotate_actor(&self) {
        let next = epoch_actor(&self.node_id);
        tracing::warn!(actor = %next, "a change was refused; changes now written as a new actor");
        *self.actor.lock().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// The estimated memory of the documents loaded now, in bytes.
    pub fn loaded_weight(&self) -> usize {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.values().map(|s| s.weight.load(Ordering::Relaxed)).sum()
    }

    fn slot(&self, id: &DocId) -> Arc<Slot> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let slot = slots
            .entry(id.clone())
            .or_insert_with(|| Arc::new(Slot::new(self.total.clone(), self.versions.clone())))
            .clone();
        slot.used.store(tick, Ordering::Relaxed);
        // The running total spares a sum over every slot on each use; the eviction decides on
        // the exact sum.
        if self.total.load(Ordering::Relaxed) > self.budget {
            let total: usize = slots.values().map(|s| s.weight.load(Ordering::Relaxed)).sum();
            let left = if total > self.budget {
                // Down to 7/8 of the budget: the sort of every idle document is paid once per
                // eighth of the cache turned over, not on every miss of a full cache.
                Self::evict(&mut slots, total, self.budget - self.budget / 8)
            } else {
                total
            };
            self.total.store(left, Ordering::Relaxed);
        }
        slot
    }

    /// The version of document `id`, read without its lock: it changes whenever a change of
    /// the document commits, except a change by [`Locked::commit_each`], whose callers (the folds
    /// of the check-in log, at a start and in the fold task) write into a document only
    /// check-ins the check-in writer already counts as the document's. A document evicted from the cache and loaded again
    /// has a new version too. Two versions of one document are never alike, so what was read
    /// of a document at one version is still what it holds (beside those folds) while its
    /// version is the same.
    pub fn version(&self, id: &DocId) -> u64 {
        self.slot(id).version.load(Ordering::Acquire)
    }

    /// Drops idle documents, least recently used first, until the rest fit the budget, and
    /// answers the weight left. A document in use (its slot held elsewhere, locked or not) is
    /// never dropped.
    fn evict(slots: &mut HashMap<DocId, Arc<Slot>>, mut total: usize, budget: usize) -> usize {
        let mut idle: Vec<(u64, DocId, usize)> = slots
            .iter()
            .filter(|(_, s)| Arc::strong_count(s) == 1 && Arc::strong_count(&s.state) == 1)
            .map(|(id, s)| (s.used.load(Ordering::Relaxed), id.clone(), s.weight.load(Ordering::Relaxed)))
            .collect();
        idle.sort();
        for (_, id, w) in idle {
            if total <= budget {
                break;
            }
            slots.remove(&id);
            total = total.saturating_sub(w);
        }
        total
    }

    async fn load(&self, id: &DocId, slot: &Slot, state: &mut State) -> Result<(), DocsError> {
        if state.loaded {
            return Ok(());
        }
        let key = id.to_string();
        let bytes = self.store.read(move |c| storage::load_doc(c, &key)).await?;
        if let Some(bytes) = bytes {
            let mut doc = AutoCommit::load(&bytes)
                .map_err(|e| DocsError::Corrupt { doc_id: id.to_string(), message: e.to_string() })?;
            doc.set_actor(self.actor());
            doc.update_diff_cursor();
            state.saved = doc.get_heads();
            state.doc = Some(doc);
            slot.set_weight(weight(bytes.len()));
        }
        state.loaded = true;
        Ok(())
    }

    /// The decoded view of `doc` as it is now (call with the write lock held, after commit).
    fn decode(id: &DocId, doc: Option<&AutoCommit>) -> View {
        match (id, doc) {
            (_, None) => View::Absent,
            (DocId::Event { .. }, Some(d)) => doc::event::read(d).map_or(View::Undecoded, |e| View::Event(Arc::new(e))),
            (DocId::Portfolio { .. }, Some(d)) => {
                doc::portfolio::read(d).map_or(View::Undecoded, |p| View::Portfolio(Arc::new(p)))
            }
            (DocId::Attendance { .. }, Some(_)) => View::Undecoded,
        }
    }

    /// The committed view of `id`, decoding it once if needed.
    async fn view(&self, id: &DocId) -> Result<View, DocsError> {
        self.view_read(id, Reader::Here).await
    }

    /// [`Docs::view`], its stored form read and decoded by `reader`.
    async fn view_read(&self, id: &DocId, reader: Reader) -> Result<View, DocsError> {
        let slot = self.slot(id);
        if let Some(view) = slot.known_view() {
            return Ok(view);
        }
        let mut state = slot.state.clone().lock_owned().await;
        // Under the write lock no change of `id` is in flight, so what storage holds is what
        // was last committed; another reader may have set the view meanwhile.
        if let Some(view) = slot.known_view() {
            return Ok(view);
        }
        if !state.loaded && !matches!(id, DocId::Attendance { .. }) {
            let (key, of) = (id.to_string(), id.clone());
            let read = move |c: &rusqlite::Connection| {
                let stored = storage::load_doc_view(c, &key, VIEW_VERSION)?;
                Ok(stored.and_then(|b| View::from_stored(&of, &b).map(|v| (v, b.len()))))
            };
            let stored = match reader {
                Reader::Here => self.store.read_here(read).await?,
                Reader::Pool => self.store.read(read).await?,
            };
            if let Some((view, len)) = stored {
                slot.set_weight(view_weight(len));
                slot.set_view(view.clone());
                return Ok(view);
            }
        }
        self.load(id, &slot, &mut state).await?;
        let view = Self::decode(id, state.doc.as_ref());
        slot.set_view(view.clone());
        if let Some(bytes) = view.stored() {
            // Stored for the next read that finds the document not loaded (the view was
            // missing, of another version, or older than the document). Not waited for: a
            // view that fails to store is decoded again next time.
            let (key, heads) = (id.to_string(), encode_heads(&state.saved));
            let stored = self.store.write(move |tx| storage::put_doc_view(tx, &key, &heads, VIEW_VERSION, &bytes));
            tokio::spawn(async move {
                if let Err(e) = stored.await {
                    tracing::debug!(error = %e, "a document view was not stored");
                }
            });
        }
        Ok(view)
    }

    /// The event of document `id` as last committed; `None` when this node does not hold it
    /// (or it holds no event yet). Never waits for a commit in flight.
    pub async fn event(&self, event_id: &str) -> Result<Option<Arc<Event>>, DocsError> {
        Ok(match self.view(&DocId::event(event_id)).await? {
            View::Event(e) => Some(e),
            _ => None,
        })
    }

    /// [`Docs::event`] once any change of it in flight has settled. The writer publishes the
    /// change feed's head before the change's view is set here, so what follows the feed (the
    /// central node's derivation) reads the event through this: a change its feed entries
    /// announce is in the answer.
    pub async fn event_settled(&self, event_id: &str) -> Result<Option<Arc<Event>>, DocsError> {
        // A change in flight holds its document's slot locked until its view is set.
        drop(self.slot(&DocId::event(event_id)).state.clone().lock_owned().await);
        self.event(event_id).await
    }

    /// Reads the views of the events stored here into memory, in id order, until they fill
    /// half of the cache's budget, and returns how many it read. Every member's summary and
    /// attendance needs the events they attended, and a first read of an event's view costs
    /// its stored row plus the decode of its roster (about 0.5 ms at 1,000 members): done here
    /// once after a start rather than in the first few hundred requests. Each view goes
    /// through its document's slot as [`Docs::event`] does, so a read or a change of the same
    /// event meanwhile waits for it or finds it done, never decodes it twice.
    pub async fn warm_events(&self) -> Result<usize, DocsError> {
        let mut read = 0;
        for id in self.list("event:").await? {
            if self.total.load(Ordering::Relaxed) >= self.budget / 2 {
                break;
            }
            let Ok(id) = id.parse::<DocId>() else { continue };
            if !matches!(id, DocId::Event { .. }) {
                continue;
            }
            if self.is_retired(&id) {
                continue;
            }
            // Read and decoded on the blocking pool, not on the thread that runs requests: a
            // cold view's read from the disk and its decode would hold them up.
            if matches!(self.view_read(&id, Reader::Pool).await?, View::Event(_)) {
                read += 1;
            }
            // Let requests go between the views (a view not stored is decoded here).
            tokio::task::yield_now().await;
        }
        Ok(read)
    }

    /// The portfolio of `member_id` as last committed; `None` when this node does not hold
    /// it. Never waits for a commit in flight.
    pub async fn portfolio(&self, member_id: &str) -> Result<Option<Arc<Portfolio>>, DocsError> {
        let id = DocId::portfolio(member_id);
        match self.view(&id).await? {
            View::Portfolio(p) => Ok(Some(p)),
            View::Absent => Ok(None),
            // Held but not decodable: say why.
            _ => Err(self.read(&id, doc::portfolio::read).await?.and_then(Result::err).map_or_else(
                || DocsError::Corrupt { doc_id: id.to_string(), message: "not a portfolio".into() },
                schema(&id),
            )),
        }
    }

    /// Reads a document under its write lock; `None` when this node does not hold it.
    pub async fn read<T>(&self, id: &DocId, f: impl FnOnce(&AutoCommit) -> T) -> Result<Option<T>, DocsError> {
        let slot = self.slot(id);
        let mut state = slot.state.clone().lock_owned().await;
        self.load(id, &slot, &mut state).await?;
        Ok(state.doc.as_ref().map(f))
    }

    /// Changes a document (created from its skeleton when absent) and stores the change
    /// durably with its projection (index rows and change-feed entries). `f` returning an
    /// error leaves the document as it was. Returns once the change is committed.
    pub async fn update<T, E>(&self, id: &DocId, f: impl FnOnce(&mut AutoCommit) -> Result<T, E>) -> Result<T, E>
    where
        E: From<DocsError>,
    {
        Ok(self.update_with_heads(id, f).await?.0)
    }

    /// [`Docs::update`], answering also the document's heads once the change is committed.
    pub async fn update_with_heads<T, E>(
        &self,
        id: &DocId,
        f: impl FnOnce(&mut AutoCommit) -> Result<T, E>,
    ) -> Result<(T, Vec<ChangeHash>), E>
    where
        E: From<DocsError>,
    {
        let mut locked = self.lock_many([id.clone()]).await?;
        if self.is_retired(id) {
            return Err(DocsError::retired(id).into());
        }
        let entry = locked
            .entries
            .get_mut(id)
            .ok_or_else(|| DocsError::Corrupt { doc_id: id.to_string(), message: "not locked".into() })?;
        let fresh = entry.state.doc.is_none();
        let actor = self.actor();
        let doc = entry.state.doc.get_or_insert_with(|| {
            let mut d = doc::new_doc(id, &actor);
            d.update_diff_cursor();
            d
        });
        match f(doc) {
            Err(e) => {
                doc.rollback();
                if fresh {
                    entry.state.doc = None;
                }
                Err(e)
            }
            Ok(value) => {
                doc.commit();
                let heads = doc.get_heads();
                locked.commit(None).await?;
                Ok((value, heads))
            }
        }
    }

    /// Locks documents for a change made of many (a sync round), in id order so two callers
    /// never deadlock, loading each. Commit with [`Locked::commit`].
    pub async fn lock_many(&self, ids: impl IntoIterator<Item = DocId>) -> Result<Locked<'_>, DocsError> {
        let ids: std::collections::BTreeSet<DocId> = ids.into_iter().collect();
        let mut entries = BTreeMap::new();
        for id in ids {
            let slot = self.slot(&id);
            let mut state = slot.state.clone().lock_owned().await;
            self.load(&id, &slot, &mut state).await?;
            entries.insert(id, LockedDoc { slot, state });
        }
        Ok(Locked { docs: self, entries })
    }

    /// Rebuilds the derived rows (index, not the feed) of one stored document from its
    /// content, replacing what the index holds for it, and records its heads.
    pub async fn reproject(&self, id: &DocId) -> Result<(), DocsError> {
        let slot = self.slot(id);
        let mut state = slot.state.clone().lock_owned().await;
        self.load(id, &slot, &mut state).await?;
        let Some(doc) = state.doc.as_mut() else { return Ok(()) };
        let projection = Projection::rebuild(id, doc).map_err(schema(id))?;
        let heads = encode_heads(&doc.get_heads());
        let view = Self::decode(id, Some(doc));
        let stored = view.stored();
        let key = id.to_string();
        self.store
            .write(move |tx| {
                projection.write(tx)?;
                storage::set_doc_heads(tx, &key, &heads, projection::VERSION)?;
                stored.map_or(Ok(()), |v| storage::put_doc_view(tx, &key, &heads, VIEW_VERSION, &v))
            })
            .await?;
        slot.set_view(view);
        Ok(())
    }

    /// The ids of stored documents starting with `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, DocsError> {
        let prefix = prefix.to_owned();
        Ok(self.store.read(move |c| storage::list_docs(c, &prefix)).await?)
    }
}

struct LockedDoc {
    slot: Arc<Slot>,
    state: OwnedMutexGuard<State>,
}

/// Documents locked for one change made of many; see [`Docs::lock_many`].
pub struct Locked<'a> {
    docs: &'a Docs,
    entries: BTreeMap<DocId, LockedDoc>,
}

impl std::fmt::Debug for Locked<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locked").field("docs", &self.entries.keys().collect::<Vec<_>>()).finish()
    }
}

/// What a [`Locked::commit_checked`] stored and refused.
#[derive(Debug, Default)]
pub struct Committed {
    /// The documents whose changes were stored.
    pub changed: Vec<DocId>,
    /// The documents whose changes were refused, and why.
    pub refused: Vec<(DocId, String)>,
}

/// A storage job run in the same transaction as a [`Locked::commit`] (a peer's sync state).
pub type ExtraJob = Box<dyn FnOnce(&Transaction<'_>) -> Result<(), StorageError> + Send>;

impl Locked<'_> {
    /// The locked document `id`, if this node holds it.
    pub fn get_mut(&mut self, id: &DocId) -> Option<&mut AutoCommit> {
        self.entries.get_mut(id).and_then(|e| e.state.doc.as_mut())
    }

    /// The locked document `id`, created empty (no skeleton: a peer's changes bring it) when
    /// this node does not hold it. `None` if `id` was not locked.
    pub fn get_or_create_empty(&mut self, id: &DocId) -> Option<&mut AutoCommit> {
        let actor = self.docs.actor();
        let entry = self.entries.get_mut(id)?;
        Some(entry.state.doc.get_or_insert_with(|| AutoCommit::new().with_actor(actor)))
    }

    /// The locked document `id`, created from its skeleton when this node does not hold it
    /// (as [`Docs::update`] does). `None` if `id` was not locked.
    pub fn get_or_create(&mut self, id: &DocId) -> Option<&mut AutoCommit> {
        let actor = self.docs.actor();
        let entry = self.entries.get_mut(id)?;
        Some(entry.state.doc.get_or_insert_with(|| {
            let mut d = doc::new_doc(id, &actor);
            d.update_diff_cursor();
            d
        }))
    }

    /// Forgets the locked documents, and every other loaded document of `event_id`, for good:
    /// their event was retired and nothing of them is stored any more. Holders of a document
    /// find it absent; no write of it is taken again ([`DocsError::Retired`]).
    pub(crate) fn forget_retired(mut self, event_id: &str) {
        for e in self.entries.values_mut() {
            *e.state = State { loaded: true, ..State::default() };
            e.slot.set_view(View::Absent);
            e.slot.set_weight(0);
            e.slot.bump_version();
        }
        let mut slots = self.docs.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.retain(|id, _| id.event_id() != Some(event_id));
    }

    /// Forgets the in-memory copy of `id` (a change that failed half-way): the next user
    /// reloads it from disk.
    pub fn discard(&mut self, id: &DocId) {
        if let Some(e) = self.entries.get_mut(id) {
            e.discard();
        }
    }

    /// Stores what changed in the locked documents since they were saved, with their
    /// projections and heads and `extra`, in one storage job; answers once committed, with the
    /// documents that changed. A document that changed in a way its schema refuses fails the
    /// whole commit; a refused commit discards every changed document (reloaded by the next
    /// user).
    pub async fn commit(self, extra: Option<ExtraJob>) -> Result<Vec<DocId>, DocsError> {
        Ok(self.commit_checked(extra, |_, _| None).await?.changed)
    }

    /// [`Locked::commit`], first asking `refuse` about each changed document: one it refuses
    /// (with a reason) is discarded, not stored, and named in the answer; the others commit.
    pub async fn commit_checked(
        mut self,
        extra: Option<ExtraJob>,
        refuse: impl Fn(&DocId, &Projection) -> Option<String>,
    ) -> Result<Committed, DocsError> {
        let mut writes = Vec::new();
        let mut views = HashMap::new();
        let mut changed = Vec::new();
        let mut refused = Vec::new();
        let mut failed = None;
        for (id, entry) in &mut self.entries {
            let State { doc: slot_doc, saved, .. } = &mut *entry.state;
            let Some(doc) = slot_doc.as_mut() else { continue };
            doc.commit();
            let heads = doc.get_heads();
            if heads == *saved {
                if heads.is_empty() {
                    *slot_doc = None; // created empty, and nothing arrived
                }
                continue;
            }
            changed.push((id.clone(), heads.clone()));
            if self.docs.is_retired(id) {
                failed = Some(DocsError::retired(id));
                break;
            }
            let bytes = doc.save_after(saved);
            let view = Docs::decode(id, Some(doc));
            match Projection::of_decoded_change(id, doc, view.portfolio()) {
                Ok(projection) => {
                    if let Some(reason) = refuse(id, &projection) {
                        changed.pop();
                        refused.push((id.clone(), reason));
                        continue;
                    }
                    entry.slot.grow_weight(bytes.len());
                    let stored = view.stored();
                    views.insert(id.clone(), view);
                    writes.push((id.clone(), bytes, encode_heads(&heads), projection, stored));
                }
                Err(source) => {
                    failed = Some(DocsError::Schema { doc_id: id.to_string(), source });
                    break;
                }
            }
        }
        for (id, _) in &refused {
            self.discard(id);
        }
        if let Some(err) = failed {
            for (id, _) in &changed {
                self.discard(id);
            }
            return Err(err);
        }
        if writes.is_empty() && extra.is_none() {
            return Ok(Committed { changed: Vec::new(), refused });
        }
        let retired = self.docs.retired.clone();
        let write = self.docs.store.write(move |tx| {
            for (id, bytes, heads, projection, view) in &writes {
                retired.check_in_job(id)?;
                let key = id.to_string();
                storage::append_chunk(tx, &key, bytes)?;
                storage::set_doc_heads(tx, &key, heads, projection::VERSION)?;
                projection.write(tx)?;
                if let Some(view) = view {
                    storage::put_doc_view(tx, &key, heads, VIEW_VERSION, view)?;
                }
            }
            if let Some(job) = extra {
                job(tx)?;
            }
            Ok(())
        });
        // The documents stay locked until their change is committed or refused, in a task of
        // its own so a caller that goes away cannot cut this short: no other change is ever
        // built on one that might not reach the disk, and a locked document is never evicted.
        // A refused change leaves the in-memory documents ahead of the disk, so they are
        // dropped under the lock and reloaded by the next user.
        let mut entries = std::mem::take(&mut self.entries);
        let settled = tokio::spawn(async move {
            let result = write.await;
            for (id, heads) in &changed {
                let Some(e) = entries.get_mut(id) else { continue };
                if result.is_ok() {
                    e.state.saved.clone_from(heads);
                    e.slot.set_view(views.remove(id).unwrap_or_else(|| Docs::decode(id, e.state.doc.as_ref())));
                    e.slot.bump_version();
                } else {
                    e.discard();
                }
            }
            result.map(|()| changed.into_iter().map(|(id, _)| id).collect())
        });
        let result = match settled.await {
            Ok(r) => r,
            Err(e) => Err(StorageError::Job(Box::new(e))),
        };
        if result.is_err() {
            self.docs.rotate_actor();
        }
        Ok(Committed { changed: result.map_err(retired_or)?, refused })
    }
}

/// What [`Locked::commit_each`] did with one document: its heads once its change is
/// committed (or when it had none), or why it was not stored.
pub type EachCommitted = (DocId, Result<Vec<ChangeHash>, DocsError>);

impl Locked<'_> {
    /// Stores each locked document's change as a storage job of its own, all queued at once so
    /// that they share the writer's next transaction, each in its own savepoint: one document
    /// whose write fails (its schema, the disk refusing its rows) is discarded alone and the
    /// others stand. Answers per document once every job has ended.
    ///
    /// Unlike every other commit it leaves the documents' versions ([`Docs::version`]) as they
    /// were: its callers, the folds of the check-in log, write into a document only check-ins
    /// the check-in writer already counts as the document's.
    ///
    /// `shape` sees each changed document's projection before it is written and may add a job
    /// of its own, run in the document's job after the projection. `extra` jobs share the
    /// transaction, each alone (their results come second, in order).
    pub async fn commit_each(
        mut self,
        mut shape: impl FnMut(&DocId, &mut Projection) -> Option<ExtraJob>,
        extra: Vec<ExtraJob>,
    ) -> (Vec<EachCommitted>, Vec<Result<(), StorageError>>) {
        let mut out: Vec<EachCommitted> = Vec::new();
        let mut pending = Vec::new();
        let mut jobs: Vec<ExtraJob> = Vec::new();
        for (id, entry) in &mut self.entries {
            let State { doc: slot_doc, saved, .. } = &mut *entry.state;
            let Some(doc) = slot_doc.as_mut() else { continue };
            doc.commit();
            let heads = doc.get_heads();
            if heads == *saved {
                out.push((id.clone(), Ok(heads)));
                continue;
            }
            if self.docs.is_retired(id) {
                entry.discard();
                out.push((id.clone(), Err(DocsError::retired(id))));
                continue;
            }
            let bytes = doc.save_after(saved);
            let view = Docs::decode(id, Some(doc));
            let mut projection = match Projection::of_decoded_change(id, doc, view.portfolio()) {
                Ok(p) => p,
                Err(source) => {
                    entry.discard();
                    out.push((id.clone(), Err(DocsError::Schema { doc_id: id.to_string(), source })));
                    continue;
                }
            };
            entry.slot.grow_weight(bytes.len());
            let also = shape(id, &mut projection);
            let stored = view.stored();
            let (doc_id, key, encoded) = (id.clone(), id.to_string(), encode_heads(&heads));
            let retired = self.docs.retired.clone();
            jobs.push(Box::new(move |tx: &Transaction<'_>| {
                retired.check_in_job(&doc_id)?;
                storage::append_chunk(tx, &key, &bytes)?;
                storage::set_doc_heads(tx, &key, &encoded, projection::VERSION)?;
                projection.write(tx)?;
                if let Some(view) = stored {
                    storage::put_doc_view(tx, &key, &encoded, VIEW_VERSION, &view)?;
                }
                also.map_or(Ok(()), |job| job(tx))
            }) as ExtraJob);
            pending.push((id.clone(), heads, view));
        }
        let extras = extra.len();
        jobs.extend(extra);
        if jobs.is_empty() {
            return (out, Vec::new());
        }
        // The documents stay locked until their jobs end. Unlike `commit_checked` this waits
        // here rather than in a task of its own (a thread switch on every fold): its callers,
        // the fold task and the node's start, run where no client can drop them.
        // Dropped before the jobs end all the same (the runtime shutting down), `Unsettled`
        // discards the documents and retires the actor, so nothing is built on a change that
        // might not reach the disk and no (actor, seq) is reused.
        let writes = self.docs.store.write_all(jobs);
        let mut unsettled = Unsettled { docs: self.docs, entries: std::mem::take(&mut self.entries), settled: false };
        let mut results = futures_util::future::join_all(writes).await;
        unsettled.settled = true;
        let extra_results = results.split_off(results.len() - extras);
        let mut answers = Vec::with_capacity(pending.len());
        for ((id, heads, view), result) in pending.into_iter().zip(results) {
            let Some(e) = unsettled.entries.get_mut(&id) else { continue };
            match result {
                Ok(()) => {
                    e.state.saved.clone_from(&heads);
                    e.slot.set_view(view);
                    answers.push((id, Ok(heads)));
                }
                Err(err) => {
                    e.discard();
                    answers.push((id, Err(retired_or(err))));
                }
            }
        }
        if answers.iter().any(|(_, r)| r.is_err()) {
            self.docs.rotate_actor();
        }
        out.extend(answers);
        (out, extra_results)
    }
}

/// Locked documents whose changes are queued to storage (see [`Locked::commit_each`]).
struct Unsettled<'a> {
    docs: &'a Docs,
    entries: BTreeMap<DocId, LockedDoc>,
    settled: bool,
}

impl Drop for Unsettled<'_> {
    fn drop(&mut self) {
        if !self.settled {
            for e in self.entries.values_mut() {
                e.discard();
            }
            self.docs.rotate_actor();
        }
    }
}

impl LockedDoc {
    fn discard(&mut self) {
        *self.state = State::default();
        self.slot.set_view(View::Unknown);
        self.slot.set_weight(0);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cec_core::doc;
    use cec_core::portfolio::{Entry, EntryKind};

    use super::*;

    fn note(id: &str) -> Entry {
        Entry {
            id: id.into(),
            kind: EntryKind::Note,
            title: id.into(),
            description: None,
            date: jiff::civil::date(2027, 1, 1),
            cecs: None,
            contact_minutes: None,
            category: None,
            provider: None,
            evidence: vec![],
        }
    }

    /// A change whose commit fails leaves nothing behind: concurrent writers to the same
    /// document never build on it, and what was acknowledged loads from disk.
    #[tokio::test]
    async fn a_refused_change_is_never_built_upon() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        // The disk refuses exactly the change that records entry "refused".
        crate::storage::test_util::refuse_row(&store, "changes", "refused").await;
        let docs = Arc::new(Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES));
        let actor_before = docs.actor();
        let id = DocId::portfolio("M1");
        let put = |name: &'static str| {
            let docs = docs.clone();
            let id = id.clone();
            tokio::spawn(async move {
                docs.update(&id, |d| Ok::<_, crate::api::ApiError>(doc::portfolio::put_entry(d, &note(name))?)).await
            })
        };
        put("first").await.unwrap().unwrap();
        // Change A fails in its transaction; B and C race in behind it.
        let failing = put("refused");
        let others = [put("b"), put("c")];
        assert!(failing.await.unwrap().is_err());
        for o in others {
            o.await.unwrap().unwrap();
        }
        // In memory and on disk alike: the acknowledged entries, not the refused one.
        let in_memory = docs.read(&id, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        let keys = |p: &cec_core::portfolio::Portfolio| p.entries.keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&in_memory), ["b", "c", "first"]);
        assert_ne!(docs.actor(), actor_before, "a refused change retires its actor");
        let fresh = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        let on_disk = fresh.read(&id, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        assert_eq!(keys(&on_disk), ["b", "c", "first"]);
        // The projection followed the documents: three entries indexed, fed once each.
        let indexed = store.read(|c| crate::node::index::list_entries(c, "M1", None, None, 10)).await.unwrap();
        assert_eq!(indexed.len(), 3);
        let feed = store.read(|c| storage::changes_since(c, 0, 100)).await.unwrap();
        let fed: Vec<_> = feed.iter().map(|c| (c.kind.as_str(), c.id.as_str())).collect();
        assert_eq!(fed.len(), 3);
        assert!(fed.iter().all(|(k, _)| *k == "entry"), "{fed:?}");
        store.close().await;
    }

    /// `commit_each` dropped while its jobs wait for the writer (only the runtime stopping
    /// does that) discards the documents and retires the actor: the change may still reach the
    /// disk, so no later change may reuse its (actor, seq) or be built on it in memory.
    #[tokio::test]
    async fn commit_each_dropped_before_its_commit_leaves_nothing_to_build_on() {
        use futures_util::FutureExt as _;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let docs = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        let id = DocId::portfolio("M1");
        docs.update(&id, add_entry("first")).await.unwrap();
        let actor_before = docs.actor();
        // The writer is busy, so the jobs queued below cannot have ended when they are dropped.
        let (busy_tx, busy_rx) = std::sync::mpsc::channel::<()>();
        let busy = store.write(move |_| {
            let _ = busy_rx.recv_timeout(std::time::Duration::from_secs(10));
            Ok(())
        });
        let mut locked = docs.lock_many([id.clone()]).await.unwrap();
        doc::portfolio::put_entry(locked.get_or_create(&id).unwrap(), &note("second")).unwrap();
        assert!(locked.commit_each(|_, _| None, Vec::new()).now_or_never().is_none(), "the writer is busy");
        assert_ne!(docs.actor(), actor_before, "the actor of a change that may reach the disk is retired");
        busy_tx.send(()).unwrap();
        busy.await.unwrap();
        // Queued after the dropped jobs, so it ends after them.
        store.write(|_| Ok(())).await.unwrap();
        // The dropped change still committed; the document reloads with it from disk, and the
        // next change is written by the new actor.
        docs.update(&id, add_entry("third")).await.unwrap();
        let p = docs.read(&id, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        assert_eq!(p.entries.keys().cloned().collect::<Vec<_>>(), ["first", "second", "third"]);
        store.close().await;
    }

    /// A document's version moves with every committed change but the check-in writer's
    /// folds (`commit_each`), and never comes back: not after a refused change, nor for a
    /// document evicted and loaded again.
    #[tokio::test]
    async fn a_documents_version_follows_its_other_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        let id = DocId::portfolio("M1");
        let mut seen = vec![docs.version(&id)];
        docs.update(&id, add_entry("first")).await.unwrap();
        seen.push(docs.version(&id));
        let mut locked = docs.lock_many([id.clone()]).await.unwrap();
        doc::portfolio::put_entry(locked.get_mut(&id).unwrap(), &note("folded")).unwrap();
        let (stored, _) = locked.commit_each(|_, _| None, Vec::new()).await;
        assert!(stored[0].1.is_ok());
        assert_eq!(docs.version(&id), seen[1], "commit_each leaves the version");
        // A change the disk refuses is discarded: the document is what it was.
        crate::storage::test_util::refuse_row(&store, "changes", "refused").await;
        assert!(docs.update(&id, add_entry("refused")).await.is_err());
        assert_eq!(docs.version(&id), seen[1], "nothing changed");
        crate::storage::test_util::accept_all(&store).await;
        docs.update(&id, add_entry("second")).await.unwrap();
        seen.push(docs.version(&id));
        docs.slots.lock().unwrap().clear(); // evicted
        seen.push(docs.version(&id));
        let distinct: std::collections::HashSet<u64> = seen.iter().copied().collect();
        assert_eq!(distinct.len(), seen.len(), "{seen:?}");
        store.close().await;
    }

    async fn store_in(dir: &std::path::Path) -> Store {
        Store::open(dir).await.unwrap()
    }

    fn add_entry(name: &str) -> impl FnOnce(&mut AutoCommit) -> Result<(), crate::api::ApiError> + '_ {
        move |d| Ok(doc::portfolio::put_entry(d, &note(name))?)
    }

    /// Whether `id`'s Automerge document is loaded (not only its view).
    fn is_loaded(docs: &Docs, id: &DocId) -> bool {
        let slot = docs.slots.lock().unwrap().get(id).cloned();
        slot.is_some_and(|s| s.state.try_lock().is_ok_and(|st| st.loaded))
    }

    /// Waits (at most 2 s) until `doc_id`'s view, stored without being waited for, is there.
    async fn view_stored_again(store: &Store, doc_id: &'static str) {
        for _ in 0..200 {
            if store.read(move |c| storage::load_doc_view(c, doc_id, VIEW_VERSION)).await.unwrap().is_some() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the view of {doc_id} was not stored again");
    }

    fn rich_event() -> Event {
        use cec_core::event::{
            Endorsement, Policy, Provider, RosterMember, Segment, SegmentKind, Session, SessionFormat,
        };
        let session = Session {
            id: "s1".into(),
            title: "Ethics".into(),
            category: "ethics".into(),
            format: SessionFormat::InPerson,
            starts_at: "2026-04-16T09:00:00Z".parse().unwrap(),
            segments: vec![Segment::new(SegmentKind::Instruction, 50), Segment::new(SegmentKind::Break, 10)],
        };
        let member = RosterMember { member_id: "M1".into(), name: "Ada".into(), email: Some("ada@example.org".into()) };
        Event {
            id: "E1".into(),
            title: "Conference".into(),
            provider: Provider {
                id: "P".into(),
                name: "Provider".into(),
                endorsement: Some(Endorsement {
                    number: "ACA-1".into(),
                    valid_from: jiff::civil::date(2026, 1, 1),
                    valid_until: jiff::civil::date(2026, 12, 31),
                }),
            },
            venue: Some("Hall A".into()),
            timezone: "Europe/Berlin".into(),
            policy: Policy { grace_minutes: 5, full_attendance_required: true },
            sessions: [("s1".to_owned(), session)].into(),
            roster: [("M1".to_owned(), member)].into(),
        }
    }

    /// After a start the events' views are read ahead into memory, from their stored rows
    /// (no document loaded), until they fill half the budget; portfolios are left to be read
    /// on use.
    #[tokio::test]
    async fn event_views_are_read_ahead_until_half_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        for id in ["E1", "E2", "E3"] {
            let event = Event { id: id.into(), ..rich_event() };
            docs.update(&DocId::event(id), |d| Ok::<_, crate::api::ApiError>(doc::event::put_all(d, &event)?))
                .await
                .unwrap();
        }
        docs.update(&DocId::portfolio("M1"), add_entry("n1")).await.unwrap();
        let has_view =
            |docs: &Docs, id: &DocId| docs.slots.lock().unwrap().get(id).is_some_and(|s| s.known_view().is_some());

        let fresh = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        assert_eq!(fresh.warm_events().await.unwrap(), 3);
        for id in ["E1", "E2", "E3"] {
            let id = DocId::event(id);
            assert!(has_view(&fresh, &id) && !is_loaded(&fresh, &id), "{id}: view read, document not loaded");
        }
        assert!(!has_view(&fresh, &DocId::portfolio("M1")), "portfolios are not read ahead");

        // One view's weight is more than half this budget: reading stops after the first.
        let small = Docs::new(store.clone(), "n1", 2 * 1024);
        assert_eq!(small.warm_events().await.unwrap(), 1);
        assert!(has_view(&small, &DocId::event("E1")) && !has_view(&small, &DocId::event("E2")));
    }

    /// Every change of an event or a portfolio stores its decoded view beside it, so a node
    /// that has not loaded the document reads the view without loading it; a view that does
    /// not match the document (older heads, another version) is ignored, the document decoded
    /// and the view stored again.
    #[tokio::test]
    async fn views_are_stored_with_each_change_and_read_without_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        let event = rich_event();
        docs.update(&DocId::event("E1"), |d| Ok::<_, crate::api::ApiError>(doc::event::put_all(d, &event)?))
            .await
            .unwrap();
        let (pid, eid) = (DocId::portfolio("M1"), DocId::event("E1"));
        let mut entry = note("n1");
        entry.cecs = Some("1.25".parse().unwrap());
        docs.update(&pid, |d| Ok::<_, crate::api::ApiError>(doc::portfolio::put_entry(d, &entry)?)).await.unwrap();
        docs.update(&pid, add_entry("n2")).await.unwrap();
        let decoded = docs.read(&pid, doc::portfolio::read).await.unwrap().unwrap().unwrap();
        assert_eq!(decoded.entries.len(), 2);

        // Stored as JSON, credit as a decimal string.
        let stored = store.read(|c| storage::load_doc_view(c, "portfolio:M1", VIEW_VERSION)).await.unwrap().unwrap();
        assert!(String::from_utf8(stored).unwrap().contains(r#""cecs":"1.25""#));

        // A node that has not loaded them reads both views, and loads neither document.
        let fresh = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        assert_eq!(*fresh.portfolio("M1").await.unwrap().unwrap(), decoded);
        assert_eq!(*fresh.event("E1").await.unwrap().unwrap(), event);
        assert!(!is_loaded(&fresh, &pid) && !is_loaded(&fresh, &eid), "read from the stored views");
        // A change loads the document and stores the new view.
        fresh.update(&pid, add_entry("n3")).await.unwrap();
        let again = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
        assert_eq!(again.portfolio("M1").await.unwrap().unwrap().entries.len(), 3);
        assert!(!is_loaded(&again, &pid));

        // A view of other heads, or of another version, is not used: the document is.
        for tamper in ["UPDATE doc_views SET heads = x'00'", "UPDATE doc_views SET version = version + 1"] {
            store.write(move |tx| Ok(tx.execute_batch(tamper)?)).await.unwrap();
            let stale = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
            assert_eq!(stale.portfolio("M1").await.unwrap().unwrap().entries.len(), 3, "{tamper}");
            assert_eq!(*stale.event("E1").await.unwrap().unwrap(), event, "{tamper}");
            assert!(is_loaded(&stale, &pid), "{tamper}: decoded from the document");
            // ... and the views are stored again for the next reader.
            view_stored_again(&store, "portfolio:M1").await;
            view_stored_again(&store, "event:E1").await;
        }
        store.close().await;
    }

    /// Every field path of a view's JSON, maps of ids collapsed to `*`.
    fn shape(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        const MAPS: [&str; 8] =
            ["verified", "entries", "goals", "requirements", "petitions", "sessions", "roster", "minimums"];
        match v {
            serde_json::Value::Object(m) => {
                let by_id = MAPS.iter().any(|k| path.ends_with(&format!(".{k}")));
                for (k, v) in m {
                    shape(v, &format!("{path}.{}", if by_id { "*" } else { k }), out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| shape(v, &format!("{path}[]"), out)),
            _ => out.push(path.to_owned()),
        }
        out.sort();
        out.dedup();
    }

    /// The stored views' form is pinned to [`VIEW_VERSION`]: a field added to (or renamed in)
    /// `cec_core`'s event or portfolio types changes this list, and then the version must be
    /// bumped, or views stored before would be read without the field (an `Option` missing
    /// from old JSON reads as `None`).
    #[test]
    fn the_form_of_stored_views_is_pinned_to_its_version() {
        use cec_core::goals::{Benchmark, Goal};
        use cec_core::petition::{Petition, PetitionStatus};
        use cec_core::portfolio::{Profile, VerifiedRecord};
        use cec_core::requirements::Program;
        let d = jiff::civil::date(2026, 4, 16);
        let dec = |s: &str| s.parse::<rust_decimal::Decimal>().unwrap();
        let mut entry = note("n1");
        entry.cecs = Some(dec("1.5"));
        entry.evidence = vec!["a".repeat(64)];
        let record = VerifiedRecord {
            event_id: "E1".into(),
            session_id: "s1".into(),
            event_title: "Conference".into(),
            session_title: "Ethics".into(),
            provider_id: "P".into(),
            provider_name: "Provider".into(),
            endorsement_number: "ACA-1".into(),
            date: d,
            category: "ethics".into(),
            contact_minutes: 50,
            cecs: dec("1"),
            verification_code: "V".into(),
        };
        let goal = Goal {
            id: "g1".into(),
            title: "Ethics".into(),
            target_cecs: dec("6"),
            category: Some("ethics".into()),
            start: Some(d),
            due: d,
            benchmarks: vec![Benchmark { title: "half".into(), target_cecs: dec("3"), due: d }],
        };
        let program = Program {
            id: "p1".into(),
            title: "Renewal".into(),
            window_start: d,
            window_end: d,
            total_cecs: dec("40"),
            minimums: [("ethics".to_owned(), dec("3"))].into(),
            verified_only: false,
        };
        let petition = Petition {
            id: "t1".into(),
            target_association: "Other".into(),
            record_ids: vec!["E1/s1".into()],
            note: Some("note".into()),
            status: PetitionStatus::Submitted,
            accepted_cecs: Some(dec("1")),
            created: d,
        };
        let portfolio = Portfolio {
            member_id: "M1".into(),
            profile: Profile { name: Some("Ada".into()), email: Some("ada@example.org".into()) },
            verified: [("E1/s1".to_owned(), record)].into(),
            entries: [("n1".to_owned(), entry)].into(),
            goals: [("g1".to_owned(), goal)].into(),
            requirements: [("p1".to_owned(), program)].into(),
            petitions: [("t1".to_owned(), petition)].into(),
        };
        let mut paths = Vec::new();
        for (name, view) in
            [("event", View::Event(Arc::new(rich_event()))), ("portfolio", View::Portfolio(Arc::new(portfolio)))]
        {
            let json: serde_json::Value = serde_json::from_slice(&view.stored().unwrap()).unwrap();
            shape(&json, name, &mut paths);
        }
        let expected = [
            "event.id",
            "event.policy.full_attendance_required",
            "event.policy.grace_minutes",
            "event.provider.endorsement.number",
            "event.provider.endorsement.valid_from",
            "event.provider.endorsement.valid_until",
            "event.provider.id",
            "event.provider.name",
            "event.roster.*.email",
            "event.roster.*.member_id",
            "event.roster.*.name",
            "event.sessions.*.category",
            "event.sessions.*.format",
            "event.sessions.*.id",
            "event.sessions.*.segments[].kind",
            "event.sessions.*.segments[].minutes",
            "event.sessions.*.starts_at",
            "event.sessions.*.title",
            "event.timezone",
            "event.title",
            "event.venue",
            "portfolio.entries.*.category",
            "portfolio.entries.*.cecs",
            "portfolio.entries.*.contact_minutes",
            "portfolio.entries.*.date",
            "portfolio.entries.*.description",
            "portfolio.entries.*.evidence[]",
            "portfolio.entries.*.id",
            "portfolio.entries.*.kind",
            "portfolio.entries.*.provider",
            "portfolio.entries.*.title",
            "portfolio.goals.*.benchmarks[].due",
            "portfolio.goals.*.benchmarks[].target_cecs",
            "portfolio.goals.*.benchmarks[].title",
            "portfolio.goals.*.category",
            "portfolio.goals.*.due",
            "portfolio.goals.*.id",
            "portfolio.goals.*.start",
            "portfolio.goals.*.target_cecs",
            "portfolio.goals.*.title",
            "portfolio.member_id",
            "portfolio.petitions.*.accepted_cecs",
            "portfolio.petitions.*.created",
            "portfolio.petitions.*.id",
            "portfolio.petitions.*.note",
            "portfolio.petitions.*.record_ids[]",
            "portfolio.petitions.*.status",
            "portfolio.petitions.*.target_association",
            "portfolio.profile.email",
            "portfolio.profile.name",
            "portfolio.requirements.*.id",
            "portfolio.requirements.*.minimums.*",
            "portfolio.requirements.*.title",
            "portfolio.requirements.*.total_cecs",
            "portfolio.requirements.*.verified_only",
            "portfolio.requirements.*.window_end",
            "portfolio.requirements.*.window_start",
            "portfolio.verified.*.category",
            "portfolio.verified.*.cecs",
            "portfolio.verified.*.contact_minutes",
            "portfolio.verified.*.date",
            "portfolio.verified.*.endorsement_number",
            "portfolio.verified.*.event_id",
            "portfolio.verified.*.event_title",
            "portfolio.verified.*.provider_id",
            "portfolio.verified.*.provider_name",
            "portfolio.verified.*.session_id",
            "portfolio.verified.*.session_title",
            "portfolio.verified.*.verification_code",
        ];
        assert_eq!(
            paths, expected,
            "the stored views' form changed: bump VIEW_VERSION (now {VIEW_VERSION}) and update this list"
        );
    }

    /// Idle documents are dropped least recently used first once the cache is over budget;
    /// the one just used stays.
    #[tokio::test]
    async fn eviction_follows_memory_in_lru_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Docs::new(store.clone(), "n1", 4 * DOC_BASE_WEIGHT);
        for i in 0..12 {
            docs.update(&DocId::portfolio(format!("M{i}")), add_entry("x")).await.unwrap();
        }
        assert!(docs.loaded_weight() <= 5 * DOC_BASE_WEIGHT + 64 * 1024, "{}", docs.loaded_weight());
        // M11 was used last: still loaded. M0 is long gone and comes back from disk.
        let loaded = |id: &str| docs.slots.lock().unwrap().contains_key(&DocId::portfolio(id));
        assert!(loaded("M11"));
        assert!(!loaded("M0"));
        assert_eq!(docs.portfolio("M0").await.unwrap().unwrap().entries.len(), 1);
        assert_eq!(docs.total.load(Ordering::Relaxed), docs.loaded_weight(), "the running total is the sum");
        store.close().await;
    }

    /// Many documents changed at once (as a sync round does) commit in one job with the
    /// caller's extra rows, and their projections follow.
    #[tokio::test]
    async fn many_documents_commit_together_with_their_projections() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Docs::new(store.clone(), "here", DEFAULT_CACHE_BYTES);
        // Changes made on another node.
        let mut remote = doc::portfolio::new_doc("M1", &doc::actor_for("there"));
        doc::portfolio::put_entry(&mut remote, &note("from-there")).unwrap();
        remote.commit();
        let mut remote2 = doc::portfolio::new_doc("M2", &doc::actor_for("there"));
        doc::portfolio::put_entry(&mut remote2, &note("also")).unwrap();
        remote2.commit();
        let (a, b) = (DocId::portfolio("M1"), DocId::portfolio("M2"));
        let mut locked = docs.lock_many([b.clone(), a.clone()]).await.unwrap();
        locked.get_or_create_empty(&a).unwrap().merge(&mut remote).unwrap();
        locked.get_or_create_empty(&b).unwrap().merge(&mut remote2).unwrap();
        let before = store.stats().batches_committed;
        let changed = locked
            .commit(Some(Box::new(|tx| storage::put_sync_state(tx, "peer", "portfolio:M1", b"state"))))
            .await
            .unwrap();
        assert_eq!(changed, [a.clone(), b.clone()]);
        assert_eq!(store.stats().batches_committed - before, 1, "one transaction");
        let indexed = store.read(|c| crate::node::index::list_entries(c, "M1", None, None, 10)).await.unwrap();
        assert_eq!(indexed, [("2027-01-01".to_owned(), "from-there".to_owned())]);
        let state = store.read(|c| storage::get_sync_state(c, "peer", "portfolio:M1")).await.unwrap();
        assert_eq!(state.as_deref(), Some(&b"state"[..]));
        let heads = store.read(|c| storage::doc_heads(c, "portfolio:")).await.unwrap();
        assert_eq!(heads[0].1, encode_heads(&remote.get_heads()));
        assert_eq!(docs.portfolio("M2").await.unwrap().unwrap().entries.len(), 1);
        // Changes that arrive by sync store their views too, as of the heads just stored.
        let view = store.read(|c| storage::load_doc_view(c, "portfolio:M1", VIEW_VERSION)).await.unwrap();
        let view: Portfolio = serde_json::from_slice(&view.expect("a view of the synced change")).unwrap();
        assert_eq!(view.entries.keys().collect::<Vec<_>>(), ["from-there"]);
        store.close().await;
    }

    /// A read of a committed view does not wait for a commit in flight on that document.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_for_a_commit_in_flight() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let docs = Arc::new(Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES));
        docs.update(&DocId::portfolio("M1"), add_entry("first")).await.unwrap();
        // The writer thread is busy for a while: the next commit waits behind it.
        let (started_tx, started) = std::sync::mpsc::channel();
        let busy = store.write(move |_| {
            let _ = started_tx.send(());
            std::thread::sleep(std::time::Duration::from_millis(800));
            Ok(())
        });
        started.recv().unwrap();
        let writer = {
            let docs = docs.clone();
            tokio::spawn(async move { docs.update(&DocId::portfolio("M1"), add_entry("second")).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let read = tokio::time::timeout(std::time::Duration::from_millis(300), docs.portfolio("M1")).await;
        let p = read.expect("the read waited for the commit").unwrap().unwrap();
        assert_eq!(p.entries.len(), 1, "the committed state, not the change in flight");
        busy.await.unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(docs.portfolio("M1").await.unwrap().unwrap().entries.len(), 2);
        store.close().await;
    }

    /// A data directory restored from a backup and written again never reissues an (actor,
    /// seq) that the original already used with other content: the two histories merge.
    #[tokio::test]
    async fn a_restored_backup_writes_as_a_new_actor() {
        let dir = tempfile::tempdir().unwrap();
        let id = DocId::portfolio("M1");
        {
            let store = store_in(dir.path()).await;
            Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES).update(&id, add_entry("before")).await.unwrap();
            store.close().await;
        }
        let backup = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap();
            if f.file_type().unwrap().is_file() {
                std::fs::copy(f.path(), backup.path().join(f.file_name())).unwrap();
            }
        }
        let mut heads = Vec::new();
        let mut saved = Vec::new();
        for (d, name) in [(dir.path(), "original"), (backup.path(), "restored")] {
            let store = store_in(d).await;
            let docs = Docs::new(store.clone(), "n1", DEFAULT_CACHE_BYTES);
            docs.update(&id, add_entry(name)).await.unwrap();
            saved.push(docs.read(&id, |d| d.clone().save()).await.unwrap().unwrap());
            heads.push(docs.actor());
            store.close().await;
        }
        assert_ne!(heads[0], heads[1]);
        let mut a = AutoCommit::load(&saved[0]).unwrap();
        let mut b = AutoCommit::load(&saved[1]).unwrap();
        a.merge(&mut b).expect("the histories merge");
        let p = doc::portfolio::read(&a).unwrap();
        assert_eq!(p.entries.keys().cloned().collect::<Vec<_>>(), ["before", "original", "restored"]);
    }
}
