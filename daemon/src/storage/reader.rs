//! A small pool of read-only connections, used from `spawn_blocking`.
//!
//! In WAL mode readers never block the writer nor each other; each read closure sees one
//! consistent snapshot per statement (wrap several statements in a transaction for more).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::StorageError;

pub(crate) struct ReadPool {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool")
            .field("path", &self.path)
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl ReadPool {
    /// A pool of at most `size` connections, opened on first use.
    pub(crate) fn new(path: PathBuf, size: usize, busy_timeout: Duration) -> Self {
        Self { path, busy_timeout, idle: Mutex::new(Vec::new()), permits: Arc::new(Semaphore::new(size.max(1))) }
    }

    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits).acquire_owned().await.map_err(|_| StorageError::Closed)?;
        let pool = Arc::clone(self);
        let joined = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            pool.with_conn(f)
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(err) if err.is_panic() => Err(StorageError::Panicked),
            Err(_) => Err(StorageError::Closed),
        }
    }

    /// Runs `f` on this thread when a connection is free, else on the blocking pool as
    /// [`ReadPool::run`] does.
    pub(crate) async fn run_here<T, F>(self: &Arc<Self>, f: F) -> Result<T, StorageError>
    where
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
        T: Send + 'static,
    {
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(_permit) => self.with_conn(f),
            Err(tokio::sync::TryAcquireError::NoPermits) => self.run(f).await,
            Err(tokio::sync::TryAcquireError::Closed) => Err(StorageError::Closed),
        }
    }

    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let idle = self.lock().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = f(&conn);
        // A closure that left a transaction open does not hand its connection on.
        if conn.is_autocommit() && !self.permits.is_closed() {
            self.lock().push(conn);
        }
        result
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(conn)
    }

    /// Refuses new reads and drops idle connections; reads in flight finish.
    pub(crate) fn close(&self) {
        self.permits.close();
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
