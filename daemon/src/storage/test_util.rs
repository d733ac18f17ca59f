//! Helpers shared by the storage tests.

use tempfile::TempDir;

use super::Store;

/// A fresh store in a new temporary directory (kept alive by the returned guard).
pub(crate) async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).await.expect("open store");
    (dir, store)
}

/// Has the disk refuse (as a full one would) every insert into `table` of a row whose `id` is
/// `id`, until [`accept_all`]: the write holding it fails and rolls back.
pub(crate) async fn refuse_row(store: &Store, table: &str, id: &str) {
    let sql = format!(
        "CREATE TEMP TRIGGER refuse BEFORE INSERT ON {table} WHEN NEW.id = '{id}'
         BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
    );
    store.write(move |tx| Ok(tx.execute_batch(&sql)?)).await.expect("a refusing trigger");
}

/// Takes back [`refuse_row`].
pub(crate) async fn accept_all(store: &Store) {
    store.write(|tx| Ok(tx.execute_batch("DROP TRIGGER refuse")?)).await.expect("the trigger dropped");
}
