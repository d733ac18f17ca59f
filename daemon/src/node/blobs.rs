//! Blobs (evidence files, work samples): stored by content hash, within the node's size limit.

use futures_util::Stream;

use super::Node;
use super::error::{NodeError, NodeResult};
use crate::storage::{self, BlobInfo};

impl Node {
    /// Stores `stream` as a blob, refusing more than `blob_max_bytes` of it.
    pub async fn put_blob<S, B, E>(&self, stream: S) -> NodeResult<BlobInfo>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        Ok(self.store.put_blob(stream, self.config.blob_max_bytes).await?)
    }

    /// The blob `sha256` (lowercase hex) opened for reading, with its size.
    pub async fn open_blob(&self, sha256: &str) -> NodeResult<(tokio::fs::File, u64)> {
        if !storage::is_valid_sha256(sha256) {
            return Err(NodeError::invalid("sha256", "not a sha256 in lowercase hex"));
        }
        self.store.open_blob(sha256).await?.ok_or_else(|| NodeError::NotFound(format!("no blob {sha256}")))
    }
}
