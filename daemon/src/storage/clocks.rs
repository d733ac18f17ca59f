//! Other nodes' clock offsets as measured at each sync: runs of agreeing measurements per node
//! (`cec_core::sync::clock`), on this node's clock.

use std::collections::HashMap;

use cec_core::sync::clock::{ClockRun, ClockSample, Merge, merge};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StorageError;

/// The runs kept per node; older ones are dropped (a clock that jumps this often is flagged
/// by its recent runs anyway).
pub const MAX_CLOCK_RUNS: i64 = 1_000;

fn run(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClockRun> {
    Ok(ClockRun { first_at_ms: r.get(0)?, last_at_ms: r.get(1)?, offset_ms: r.get(2)?, round_trip_ms: r.get(3)? })
}

const COLUMNS: &str = "first_at, last_at, offset_ms, round_trip_ms";

/// Records a measurement of `node_id`'s clock taken at `at_ms` (this node's clock): it extends
/// the node's latest run or starts a new one. Answers the run it is now part of.
pub fn record_clock_sample(
    tx: &Transaction<'_>,
    node_id: &str,
    at_ms: i64,
    sample: ClockSample,
) -> Result<ClockRun, StorageError> {
    let latest = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM clock_runs WHERE node_id = ?1 ORDER BY first_at DESC LIMIT 1"))?
        .query_row([node_id], run)
        .optional()?;
    let merged = match merge(latest.as_ref(), at_ms, sample) {
        Merge::Extend(r) => {
            tx.prepare_cached(
                "UPDATE clock_runs SET last_at = ?3, offset_ms = ?4, round_trip_ms = ?5
                 WHERE node_id = ?1 AND first_at = ?2",
            )?
            .execute(params![node_id, r.first_at_ms, r.last_at_ms, r.offset_ms, r.round_trip_ms])?;
            r
        }
        Merge::Start(r) => {
            // A measurement at the very instant a run starts (a clock stepped back) replaces it.
            tx.prepare_cached(
                "INSERT OR REPLACE INTO clock_runs (node_id, first_at, last_at, offset_ms, round_trip_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![node_id, r.first_at_ms, r.last_at_ms, r.offset_ms, r.round_trip_ms])?;
            tx.prepare_cached(
                "DELETE FROM clock_runs WHERE node_id = ?1 AND first_at NOT IN
                 (SELECT first_at FROM clock_runs WHERE node_id = ?1 ORDER BY first_at DESC LIMIT ?2)",
            )?
            .execute(params![node_id, MAX_CLOCK_RUNS])?;
            r
        }
    };
    Ok(merged)
}

/// The runs of each of `node_ids` (oldest first); nodes never measured are absent.
pub fn clock_runs(conn: &Connection, node_ids: &[String]) -> Result<HashMap<String, Vec<ClockRun>>, StorageError> {
    let mut stmt =
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clock_runs WHERE node_id = ?1 ORDER BY first_at"))?;
    let mut out = HashMap::new();
    for id in node_ids {
        let runs: Vec<ClockRun> = stmt.query_map([id], run)?.collect::<Result<_, _>>()?;
        if !runs.is_empty() {
            out.insert(id.clone(), runs);
        }
    }
    Ok(out)
}

/// Every measured node with its latest run, by node id.
pub fn latest_clock_runs(conn: &Connection) -> Result<Vec<(String, ClockRun)>, StorageError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS}, node_id FROM clock_runs AS c
         WHERE first_at = (SELECT max(first_at) FROM clock_runs WHERE node_id = c.node_id)
         ORDER BY node_id"
    ))?;
    let rows = stmt.query_map([], |r| Ok((r.get(4)?, run(r)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    #[tokio::test]
    async fn runs_extend_start_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let s = |offset_ms| ClockSample { offset_ms, round_trip_ms: 4 };
        store.write(move |tx| record_clock_sample(tx, "nA", 1_000, s(60_000))).await.unwrap();
        let r = store.write(move |tx| record_clock_sample(tx, "nA", 2_000, s(60_100))).await.unwrap();
        assert_eq!(r, ClockRun { first_at_ms: 1_000, last_at_ms: 2_000, offset_ms: 60_100, round_trip_ms: 4 });
        store.write(move |tx| record_clock_sample(tx, "nA", 3_000, s(5))).await.unwrap();
        store.write(move |tx| record_clock_sample(tx, "nB", 3_000, s(-7))).await.unwrap();
        let runs = store.read(|c| clock_runs(c, &["nA".into(), "nB".into(), "nC".into()])).await.unwrap();
        assert_eq!(runs["nA"].iter().map(|r| r.offset_ms).collect::<Vec<_>>(), [60_100, 5]);
        assert_eq!(runs["nB"].len(), 1);
        assert!(!runs.contains_key("nC"));
        let latest = store.read(latest_clock_runs).await.unwrap();
        assert_eq!(latest.iter().map(|(n, r)| (n.as_str(), r.offset_ms)).collect::<Vec<_>>(), [("nA", 5), ("nB", -7)]);
        // A clock that jumps at every sync keeps only the latest runs.
        store
            .write(move |tx| {
                for i in 0..MAX_CLOCK_RUNS + 5 {
                    record_clock_sample(tx, "nJ", 10_000 + i, s(if i % 2 == 0 { 0 } else { 100_000 }))?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let runs = store.read(|c| clock_runs(c, &["nJ".into()])).await.unwrap();
        assert_eq!(i64::try_from(runs["nJ"].len()).unwrap(), MAX_CLOCK_RUNS);
        assert_eq!(runs["nJ"].last().unwrap().first_at_ms, 10_000 + MAX_CLOCK_RUNS + 4);
        store.close().await;
    }
}
