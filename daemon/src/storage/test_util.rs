//! Helpers shared by the storage tests.

use tempfile::TempDir;

use super::Store;

/// A fresh store in a new temporary directory (kept alive by the returned guard).
pub(crate) async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).await.expect("open store");
    (dir, store)
}
