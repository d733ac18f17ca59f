//! The writer thread: one connection, group commit.
//!
//! Jobs arrive on an unbounded channel in call order. The thread blocks for the first job, drains
//! whatever else is queued (up to `max_batch`), and runs them all in one `BEGIN IMMEDIATE`
//! transaction, each inside its own savepoint: a job that fails (or panics) is rolled back alone
//! and gets its own error, the others commit together. A job alone in its transaction runs
//! without a savepoint, and the transaction is rolled back if it fails. Replies go out only
//! after `COMMIT` returned, so an acknowledged write is durable (`synchronous=FULL`).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{mpsc, oneshot, watch};

use super::StorageError;
use super::changes::latest_change_seq;

/// Upper bounds (inclusive) of the batch-size buckets of [`StoreStats::batch_size_buckets`];
/// the last bucket counts every larger batch.
const BATCH_SIZE_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, u64::MAX];

/// A snapshot of the writer's counters, for metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Jobs submitted and not yet picked up by the writer thread.
    pub queued_jobs: u64,
    /// Transactions committed.
    pub batches_committed: u64,
    /// Transactions that failed to begin or commit, or that SQLite rolled back by itself.
    pub batches_failed: u64,
    /// Jobs whose writes were committed.
    pub jobs_committed: u64,
    /// Jobs that returned an error, panicked, or were in a failed batch.
    pub jobs_failed: u64,
    /// Sum of the sizes (jobs run) of committed batches.
    pub batch_size_sum: u64,
    /// The largest committed batch.
    pub batch_size_max: u64,
    /// Committed batches by size: entry `i` counts batches whose size is at most
    /// `BATCH_SIZE_BUCKETS[i]` and more than the bound before it (not cumulative).
    pub batch_size_buckets: [u64; BATCH_SIZE_BUCKETS.len()],
    /// Total time spent in committed batches, from `BEGIN` to the end of `COMMIT`, in
    /// microseconds.
    pub batch_micros_sum: u64,
}

impl StoreStats {
    /// Committed batches by size, as (largest size in the bucket, batches); the last bucket's
    /// bound is `None` (no limit). Not cumulative.
    pub fn batch_sizes(&self) -> impl Iterator<Item = (Option<u64>, u64)> + '_ {
        BATCH_SIZE_BUCKETS
            .iter()
            .zip(self.batch_size_buckets)
            .map(|(&bound, count)| ((bound != u64::MAX).then_some(bound), count))
    }
}

#[derive(Debug, Default)]
pub(crate) struct WriterStats {
    queued_jobs: AtomicU64,
    batches_committed: AtomicU64,
    batches_failed: AtomicU64,
    jobs_committed: AtomicU64,
    jobs_failed: AtomicU64,
    batch_size_sum: AtomicU64,
    batch_size_max: AtomicU64,
    batch_size_buckets: [AtomicU64; BATCH_SIZE_BUCKETS.len()],
    batch_micros_sum: AtomicU64,
}

impl WriterStats {
    pub(crate) fn snapshot(&self) -> StoreStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StoreStats {
            queued_jobs: load(&self.queued_jobs),
            batches_committed: load(&self.batches_committed),
            batches_failed: load(&self.batches_failed),
            jobs_committed: load(&self.jobs_committed),
            jobs_failed: load(&self.jobs_failed),
            batch_size_sum: load(&self.batch_size_sum),
            batch_size_max: load(&self.batch_size_max),
            batch_size_buckets: std::array::from_fn(|i| load(&self.batch_size_buckets[i])),
            batch_micros_sum: load(&self.batch_micros_sum),
        }
    }

    fn committed(&self, size: u64, ok_jobs: u64, failed_jobs: u64, started: Instant) {
        self.batches_committed.fetch_add(1, Ordering::Relaxed);
        self.jobs_committed.fetch_add(ok_jobs, Ordering::Relaxed);
        self.jobs_failed.fetch_add(failed_jobs, Ordering::Relaxed);
        self.batch_size_sum.fetch_add(size, Ordering::Relaxed);
        self.batch_size_max.fetch_max(size, Ordering::Relaxed);
        let bucket = BATCH_SIZE_BUCKETS.iter().position(|bound| size <= *bound).unwrap_or(BATCH_SIZE_BUCKETS.len() - 1);
        self.batch_size_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.batch_micros_sum.fetch_add(micros, Ordering::Relaxed);
    }

    fn failed(&self, jobs: u64) {
        self.batches_failed.fetch_add(1, Ordering::Relaxed);
        self.jobs_failed.fetch_add(jobs, Ordering::Relaxed);
    }
}

/// How the batch a job ran in ended.
enum BatchEnd<'a> {
    Committed,
    Failed(&'a Arc<rusqlite::Error>),
    Aborted,
}

/// A job waiting to run.
trait Job: Send {
    /// Runs the job inside its savepoint; the result waits in the returned completion.
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Completion>;
    /// Answers the job without running it.
    fn reject(self: Box<Self>, err: StorageError);
}

/// A job that ran and waits for its batch to end.
trait Completion: Send {
    fn succeeded(&self) -> bool;
    fn finish(self: Box<Self>, end: BatchEnd<'_>);
}

/// Answers a caller exactly once; if dropped unanswered it sends `Panicked` during a panic and
/// `Closed` otherwise (the writer thread went away).
struct Reply<T>(Option<oneshot::Sender<Result<T, StorageError>>>);

impl<T> Reply<T> {
    fn send(mut self, result: Result<T, StorageError>) {
        if let Some(tx) = self.0.take() {
            // The caller may have stopped waiting; its write stands all the same.
            let _ = tx.send(result);
        }
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let err = if std::thread::panicking() { StorageError::Panicked } else { StorageError::Closed };
            let _ = tx.send(Err(err));
        }
    }
}

/// A job for `f` and where its answer arrives.
fn job<T, F>(f: F) -> (Box<dyn Job>, oneshot::Receiver<Result<T, StorageError>>)
where
    F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    let (reply_tx, reply_rx) = oneshot::channel();
    (Box::new(WriteJob { f, reply: Reply(Some(reply_tx)) }), reply_rx)
}

struct WriteJob<F, T> {
    f: F,
    reply: Reply<T>,
}

impl<F, T> Job for WriteJob<F, T>
where
    F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Completion> {
        let WriteJob { f, reply } = *self;
        let result = f(tx);
        Box::new(Ran { result, reply })
    }

    fn reject(self: Box<Self>, err: StorageError) {
        self.reply.send(Err(err));
    }
}

struct Ran<T> {
    result: Result<T, StorageError>,
    reply: Reply<T>,
}

impl<T: Send + 'static> Completion for Ran<T> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    fn finish(self: Box<Self>, end: BatchEnd<'_>) {
        let Ran { result, reply } = *self;
        let result = match (result, end) {
            (result, BatchEnd::Committed) | (result @ Err(_), _) => result,
            (Ok(_), BatchEnd::Failed(err)) => Err(StorageError::BatchFailed(Arc::clone(err))),
            (Ok(_), BatchEnd::Aborted) => Err(StorageError::BatchAborted),
        };
        reply.send(result);
    }
}

enum Msg {
    Job(Box<dyn Job>),
    /// Jobs that arrive together, so they run in one transaction (each in its savepoint).
    Jobs(Vec<Box<dyn Job>>),
    Shutdown,
}

/// The handle to the writer thread.
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<Msg>,
    stats: Arc<WriterStats>,
    exited: watch::Receiver<bool>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("stats", &self.stats)
            .field("exited", &*self.exited.borrow())
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the thread, named `name`. It owns `conn`, publishes the latest change-feed seq on
    /// `changes` after each commit (a database with a feed: the main one), and exits when shut
    /// down or when every handle is dropped, after running every job already queued.
    pub(crate) fn spawn(
        conn: Connection,
        name: &str,
        max_batch: usize,
        changes: Option<watch::Sender<i64>>,
    ) -> Result<Self, StorageError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(WriterStats::default());
        let (exited_tx, exited) = watch::channel(false);
        let thread_stats = Arc::clone(&stats);
        std::thread::Builder::new().name(name.into()).spawn(move || {
            let _exit = ExitSignal(exited_tx);
            let mut thread = WriterThread { conn, rx, stats: thread_stats, changes, max_batch: max_batch.max(1) };
            thread.run();
        })?;
        Ok(Self { tx, stats, exited })
    }

    /// Queues a job now; the returned future resolves once its batch has ended.
    pub(crate) fn submit<T, F>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<T, StorageError>> + Send + 'static + use<T, F>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (job, reply) = job(f);
        let sent = self.send(Msg::Job(job), 1);
        async move {
            sent?;
            reply.await.unwrap_or(Err(StorageError::Closed))
        }
    }

    /// Queues jobs now, together: the writer runs them in one transaction, each in its own
    /// savepoint, so one failing is rolled back alone. Each future resolves once the batch has
    /// ended.
    pub(crate) fn submit_all<T, F>(
        &self,
        jobs: Vec<F>,
    ) -> Vec<impl Future<Output = Result<T, StorageError>> + Send + 'static + use<T, F>>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let (jobs, replies): (Vec<Box<dyn Job>>, Vec<_>) = jobs.into_iter().map(job).unzip();
        let n = jobs.len() as u64;
        // A closed writer answered each job through its reply already.
        let _ = self.send(Msg::Jobs(jobs), n);
        replies.into_iter().map(|reply| async move { reply.await.unwrap_or(Err(StorageError::Closed)) }).collect()
    }

    /// Sends `msg` holding `jobs` jobs; a closed writer answers them itself.
    fn send(&self, msg: Msg, jobs: u64) -> Result<(), StorageError> {
        self.stats.queued_jobs.fetch_add(jobs, Ordering::Relaxed);
        match self.tx.send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(msg)) => {
                self.stats.queued_jobs.fetch_sub(jobs, Ordering::Relaxed);
                // Answer through the jobs so their replies are not reported as a lost thread.
                match msg {
                    Msg::Job(job) => job.reject(StorageError::Closed),
                    Msg::Jobs(jobs) => jobs.into_iter().for_each(|job| job.reject(StorageError::Closed)),
                    Msg::Shutdown => {}
                }
                Err(StorageError::Closed)
            }
        }
    }

    pub(crate) fn stats(&self) -> StoreStats {
        self.stats.snapshot()
    }

    /// Stops accepting jobs, lets the queued ones finish, and waits for the thread to exit.
    pub(crate) async fn shutdown(&self) {
        // An error means the thread is already gone.
        let _ = self.tx.send(Msg::Shutdown);
        let mut exited = self.exited.clone();
        // An error means the signal's sender is gone, which happens only when the thread ended.
        let _ = exited.wait_for(|done| *done).await;
    }
}

/// Flips the `exited` flag when the thread ends, however it ends.
struct ExitSignal(watch::Sender<bool>);

impl Drop for ExitSignal {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

struct WriterThread {
    conn: Connection,
    rx: mpsc::UnboundedReceiver<Msg>,
    stats: Arc<WriterStats>,
    changes: Option<watch::Sender<i64>>,
    max_batch: usize,
}

impl WriterThread {
    fn run(&mut self) {
        let mut queue: VecDeque<Box<dyn Job>> = VecDeque::with_capacity(self.max_batch);
        while let Some(msg) = self.rx.blocking_recv() {
            self.accept(msg, &mut queue);
            while queue.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(msg) => self.accept(msg, &mut queue),
                    Err(_) => break,
                }
            }
            while !queue.is_empty() {
                self.run_batch(&mut queue);
            }
        }
        tracing::debug!("storage writer thread exiting");
    }

    fn accept(&mut self, msg: Msg, queue: &mut VecDeque<Box<dyn Job>>) {
        match msg {
            Msg::Job(job) => {
                self.stats.queued_jobs.fetch_sub(1, Ordering::Relaxed);
                queue.push_back(job);
            }
            Msg::Jobs(jobs) => {
                self.stats.queued_jobs.fetch_sub(jobs.len() as u64, Ordering::Relaxed);
                queue.extend(jobs);
            }
            // Refuse new jobs; the ones already queued are still received and run.
            Msg::Shutdown => self.rx.close(),
        }
    }

    /// Runs jobs from the front of `queue` in one transaction. Returns with the queue empty,
    /// unless SQLite abandoned the transaction midway: then the jobs not yet run stay queued
    /// for a fresh batch.
    fn run_batch(&mut self, queue: &mut VecDeque<Box<dyn Job>>) {
        let started = Instant::now();
        let Self { conn, stats, changes, .. } = self;
        let ends = Ends { stats, changes };
        let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(err) => {
                tracing::error!(cause = %err, jobs = queue.len(), "could not begin a write batch");
                let err = Arc::new(err);
                stats.failed(queue.len() as u64);
                for job in queue.drain(..) {
                    job.reject(StorageError::BatchFailed(Arc::clone(&err)));
                }
                return;
            }
        };
        // A job alone in its transaction needs no savepoint: if it fails, the transaction is
        // rolled back instead. A savepoint copies every page the job touches into its journal
        // first, which was an eighth of this thread's time under a load of check-ins.
        if queue.len() == 1
            && let Some(job) = queue.pop_front()
        {
            return ends.run_alone(tx, job, started);
        }
        let mut ran: Vec<Box<dyn Completion>> = Vec::with_capacity(queue.len());
        let mut ok_jobs = 0_u64;
        let mut size = 0_u64;
        let mut aborted = false;
        while let Some(job) = queue.pop_front() {
            size += 1;
            if let Err(err) = savepoint(&tx, "SAVEPOINT cecd_job") {
                job.reject(StorageError::Sqlite(err));
                aborted = true;
                break;
            }
            let completion = match catch_unwind(AssertUnwindSafe(|| job.run(&tx))) {
                Ok(completion) => Some(completion),
                Err(_) => {
                    tracing::error!("a storage job panicked; its savepoint is rolled back");
                    None
                }
            };
            let succeeded = completion.as_ref().is_some_and(|c| c.succeeded());
            let ended = if tx.is_autocommit() {
                // SQLite rolled back the whole transaction (e.g. out of disk).
                Err(None)
            } else if succeeded {
                savepoint(&tx, "RELEASE cecd_job").map_err(Some)
            } else {
                savepoint(&tx, "ROLLBACK TO cecd_job").and_then(|()| savepoint(&tx, "RELEASE cecd_job")).map_err(Some)
            };
            match (ended, completion) {
                (Ok(()), Some(completion)) => {
                    if succeeded {
                        ok_jobs += 1;
                    }
                    ran.push(completion);
                }
                (Ok(()), None) => {}
                (Err(err), completion) => {
                    if let Some(err) = err {
                        tracing::error!(cause = %err, "could not end a job's savepoint");
                    }
                    if let Some(completion) = completion {
                        completion.finish(BatchEnd::Aborted);
                    }
                    aborted = true;
                    break;
                }
            }
        }
        if aborted {
            tracing::error!(jobs = size, "write batch abandoned; its jobs did not commit");
            drop(tx);
            stats.failed(size);
            for completion in ran {
                completion.finish(BatchEnd::Aborted);
            }
            return;
        }
        ends.commit(tx, ran, size, ok_jobs, started);
    }
}

/// How a transaction ends: its counters, and the change feed's watch.
struct Ends<'a> {
    stats: &'a WriterStats,
    changes: &'a Option<watch::Sender<i64>>,
}

impl Ends<'_> {
    /// Runs one job as the whole transaction: committed if it succeeded, rolled back if it
    /// failed or panicked (its error is its answer, as in a batch).
    fn run_alone(&self, tx: Transaction<'_>, job: Box<dyn Job>, started: Instant) {
        let completion = match catch_unwind(AssertUnwindSafe(|| job.run(&tx))) {
            Ok(completion) => Some(completion),
            Err(_) => {
                tracing::error!("a storage job panicked; its transaction is rolled back");
                None
            }
        };
        match completion {
            Some(completion) if completion.succeeded() && !tx.is_autocommit() => {
                self.commit(tx, vec![completion], 1, 1, started);
            }
            completion => {
                let aborted = tx.is_autocommit();
                if aborted {
                    // Nothing left to roll back: ROLLBACK would only fail.
                    drop(tx);
                } else if let Err(err) = tx.rollback() {
                    tracing::error!(cause = %err, "could not roll back a failed job");
                }
                // As in a batch: a job that failed is counted in a committed batch, unless
                // SQLite rolled the transaction back by itself (e.g. out of disk).
                if aborted {
                    self.stats.failed(1);
                } else {
                    self.stats.committed(1, 0, 1, started);
                }
                if let Some(completion) = completion {
                    completion.finish(if aborted { BatchEnd::Aborted } else { BatchEnd::Committed });
                }
            }
        }
    }

    /// Commits `tx`, whose `size` jobs ran (`ok_jobs` of them succeeded), and answers them.
    fn commit(&self, tx: Transaction<'_>, ran: Vec<Box<dyn Completion>>, size: u64, ok_jobs: u64, started: Instant) {
        let latest_change = self.changes.as_ref().map(|changes| (changes, latest_change_seq(&tx)));
        match tx.commit() {
            Ok(()) => {
                self.stats.committed(size, ok_jobs, size - ok_jobs, started);
                match latest_change {
                    Some((changes, Ok(seq))) => {
                        changes.send_if_modified(|current| {
                            let newer = seq > *current;
                            if newer {
                                *current = seq;
                            }
                            newer
                        });
                    }
                    Some((_, Err(err))) => tracing::warn!(cause = %err, "could not read the change feed seq"),
                    None => {}
                }
                for completion in ran {
                    completion.finish(BatchEnd::Committed);
                }
            }
            Err(err) => {
                tracing::error!(cause = %err, jobs = size, "write batch failed to commit");
                let err = Arc::new(err);
                self.stats.failed(size);
                for completion in ran {
                    completion.finish(BatchEnd::Failed(&err));
                }
            }
        }
    }
}

fn savepoint(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(|_| ())
}
