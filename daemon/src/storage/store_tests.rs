//! Tests of the [`Store`] itself: group commit, job isolation, reads, shutdown, durability.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use rusqlite::params;

use super::test_util::temp_store;
use super::{StorageError, Store, StoreOptions, append_chunk, load_doc};

#[derive(Debug, thiserror::Error)]
#[error("check-in voids an unknown record")]
struct DomainError;

async fn create_scratch(store: &Store) {
    store
        .write(|tx| {
            tx.execute_batch("CREATE TABLE scratch (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn scratch_values(store: &Store) -> Vec<String> {
    store
        .read(|c| {
            let mut stmt = c.prepare("SELECT v FROM scratch ORDER BY v")?;
            let rows = stmt.query_map([], |row| row.get(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
}

fn insert(v: impl Into<String>) -> impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), StorageError> {
    let v = v.into();
    move |tx| {
        tx.execute("INSERT INTO scratch (v) VALUES (?1)", params![v])?;
        Ok(())
    }
}

/// Holds the writer thread inside a job until the returned sender is dropped or sent to, so
/// that jobs queue up behind it. Returns once the thread is in the job.
async fn block_writer(store: &Store) -> std_mpsc::Sender<()> {
    let (release_tx, release_rx) = std_mpsc::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let _done = store.write(move |_tx| {
        let _ = started_tx.send(());
        let _ = release_rx.recv();
        Ok(())
    });
    started_rx.await.unwrap();
    release_tx
}

async fn wait_until_queued(store: &Store, n: u64) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while store.stats().queued_jobs < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("jobs were not queued in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_are_group_committed() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    let before = store.stats();

    let gate = block_writer(&store).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.write(insert(format!("v{i:03}"))).await })
        })
        .collect();
    wait_until_queued(&store, 200).await;
    drop(gate);
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    assert_eq!(scratch_values(&store).await.len(), 200);
    let stats = store.stats();
    assert_eq!(stats.queued_jobs, 0);
    assert_eq!(stats.jobs_committed - before.jobs_committed, 201);
    assert_eq!(stats.jobs_failed, 0);
    // The 200 jobs that queued behind the gate committed as one transaction.
    assert_eq!(stats.batch_size_max, 200);
    assert_eq!(stats.batches_committed - before.batches_committed, 2);
    assert_eq!(stats.batch_size_buckets[8], 1, "one batch in the (128, 256] bucket");
    assert_eq!(stats.batch_size_sum, stats.jobs_committed);
    assert!(stats.batch_micros_sum > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_unsynchronized_writers_all_commit() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.write(insert(format!("w{i:03}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(scratch_values(&store).await.len(), 200);
    let stats = store.stats();
    assert_eq!(stats.jobs_committed, 201);
    assert!(stats.batches_committed <= stats.jobs_committed);
}

#[tokio::test]
async fn a_failing_job_is_rolled_back_alone() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    store.write(insert("taken")).await.unwrap();
    let before = store.stats();

    let gate = block_writer(&store).await;
    let ok1 = store.write(insert("ok1"));
    let domain = store.write(|tx| {
        insert("domain")(tx)?;
        Err::<(), _>(StorageError::job(DomainError))
    });
    let ok2 = store.write(insert("ok2"));
    let constraint = store.write(|tx| {
        insert("half")(tx)?;
        insert("taken")(tx)
    });
    let panics = store.write(|tx| -> Result<(), StorageError> {
        insert("panic")(tx)?;
        panic!("a bug in a job");
    });
    let ok3 = store.write(|tx| {
        insert("ok3")(tx)?;
        Ok(tx.last_insert_rowid())
    });
    drop(gate);

    ok1.await.unwrap();
    ok2.await.unwrap();
    assert!(ok3.await.unwrap() > 0);
    let err = domain.await.unwrap_err();
    assert!(err.downcast_job::<DomainError>().is_some(), "{err}");
    assert_eq!(err.to_string(), "check-in voids an unknown record");
    assert!(matches!(constraint.await, Err(StorageError::Sqlite(_))));
    assert!(matches!(panics.await, Err(StorageError::Panicked)));

    assert_eq!(scratch_values(&store).await, ["ok1", "ok2", "ok3", "taken"]);
    let stats = store.stats();
    assert_eq!(stats.batches_committed - before.batches_committed, 2);
    assert_eq!(stats.batch_size_max, 6, "all six ran in one transaction");
    assert_eq!(stats.jobs_failed - before.jobs_failed, 3);
    assert_eq!(stats.jobs_committed - before.jobs_committed, 4);
    // The writer thread survived the panic.
    store.write(insert("after")).await.unwrap();
}

#[tokio::test]
async fn a_failing_job_alone_in_its_transaction_is_rolled_back() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    store.write(insert("taken")).await.unwrap();
    let before = store.stats();
    // One at a time, so each is alone in its transaction (run without a savepoint).
    let err = store
        .write(|tx| {
            insert("domain")(tx)?;
            Err::<(), _>(StorageError::job(DomainError))
        })
        .await
        .unwrap_err();
    assert!(err.downcast_job::<DomainError>().is_some(), "{err}");
    let constraint = store
        .write(|tx| {
            insert("half")(tx)?;
            insert("taken")(tx)
        })
        .await;
    assert!(matches!(constraint, Err(StorageError::Sqlite(_))));
    let panics = store
        .write(|tx| -> Result<(), StorageError> {
            insert("panic")(tx)?;
            panic!("a bug in a job");
        })
        .await;
    assert!(matches!(panics, Err(StorageError::Panicked)));
    store.write(insert("after")).await.unwrap();

    assert_eq!(scratch_values(&store).await, ["after", "taken"]);
    let stats = store.stats();
    assert_eq!(stats.batches_committed - before.batches_committed, 4);
    assert_eq!(stats.jobs_failed - before.jobs_failed, 3);
    assert_eq!(stats.jobs_committed - before.jobs_committed, 1);
    assert_eq!(stats.batches_failed, before.batches_failed);
}

#[tokio::test]
async fn batches_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions { max_batch: 8, ..StoreOptions::default() };
    let store = Store::open_with(dir.path(), options).await.unwrap();
    create_scratch(&store).await;
    let gate = block_writer(&store).await;
    let jobs: Vec<_> = (0..20).map(|i| store.write(insert(format!("{i}")))).collect();
    drop(gate);
    for job in jobs {
        job.await.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.batch_size_max, 8);
    // Setup, the gate, then 8 + 8 + 4.
    assert_eq!(stats.batches_committed, 5);
}

#[tokio::test]
async fn close_lets_queued_jobs_finish_then_refuses() {
    let (dir, store) = temp_store().await;
    create_scratch(&store).await;
    let gate = block_writer(&store).await;
    let queued: Vec<_> = (0..50).map(|i| store.write(insert(format!("{i:02}")))).collect();
    let closing = tokio::spawn({
        let store = store.clone();
        async move { store.close().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!closing.is_finished(), "close waits for the queued jobs");
    drop(gate);
    closing.await.unwrap();
    for job in queued {
        job.await.unwrap();
    }
    assert!(matches!(store.write(|_| Ok(())).await, Err(StorageError::Closed)));
    assert!(matches!(store.read(|_| Ok(())).await, Err(StorageError::Closed)));
    store.close().await; // idempotent

    let store = Store::open(dir.path()).await.unwrap();
    assert_eq!(scratch_values(&store).await.len(), 50);
}

#[tokio::test]
async fn acknowledged_writes_survive_dropping_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    store.write(|tx| append_chunk(tx, "event:e1", b"durable")).await.unwrap();
    // Jobs still queued when the last handle drops are run, not lost.
    let pending = store.write(|tx| append_chunk(tx, "event:e1", b"-too"));
    drop(store);
    assert_eq!(pending.await.unwrap(), 2);

    let store = Store::open(dir.path()).await.unwrap();
    let bytes = store.read(|c| load_doc(c, "event:e1")).await.unwrap();
    assert_eq!(bytes.as_deref(), Some(&b"durable-too"[..]));
}

#[tokio::test]
async fn reads_are_read_only_and_the_pool_recovers() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    store.write(insert("x")).await.unwrap();

    let write_in_read = store.read(|c| Ok(c.execute("INSERT INTO scratch (v) VALUES ('y')", [])?)).await;
    assert!(matches!(write_in_read, Err(StorageError::Sqlite(_))));
    // A closure that leaves a transaction open, and one that panics, do not poison the pool.
    store.read(|c| Ok(c.execute_batch("BEGIN")?)).await.unwrap();
    assert!(matches!(
        store.read(|_| -> Result<(), _> { panic!("a bug in a read") }).await,
        Err(StorageError::Panicked)
    ));
    // More concurrent reads than connections.
    let reads: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { scratch_values(&store).await })
        })
        .collect();
    for read in reads {
        assert_eq!(read.await.unwrap(), ["x"]);
    }
    // Reads see each commit as soon as it is acknowledged.
    store.write(insert("z")).await.unwrap();
    assert_eq!(scratch_values(&store).await, ["x", "z"]);
}

#[tokio::test]
async fn a_failed_commit_fails_every_job_of_the_batch() {
    let (_dir, store) = temp_store().await;
    create_scratch(&store).await;
    // A deferred foreign key is only checked at COMMIT: the one way a job can make the commit
    // itself fail. (The schema's own constraints are immediate, so this is a test device.)
    store
        .write(|tx| {
            tx.execute_batch(
                "CREATE TABLE parent (id INTEGER PRIMARY KEY);
                 CREATE TABLE child (parent INTEGER REFERENCES parent (id)
                     DEFERRABLE INITIALLY DEFERRED);",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let before = store.stats();
    let gate = block_writer(&store).await;
    let innocent = store.write(insert("innocent"));
    let dangling = store.write(|tx| {
        tx.execute("INSERT INTO child (parent) VALUES (42)", [])?;
        Ok(())
    });
    drop(gate);
    assert!(matches!(innocent.await, Err(StorageError::BatchFailed(_))));
    assert!(matches!(dangling.await, Err(StorageError::BatchFailed(_))));
    let stats = store.stats();
    assert_eq!(stats.batches_failed - before.batches_failed, 1);
    assert_eq!(stats.jobs_failed - before.jobs_failed, 2);
    assert!(scratch_values(&store).await.is_empty());
    // The writer goes on.
    store.write(insert("later")).await.unwrap();
    assert_eq!(scratch_values(&store).await, ["later"]);
}
