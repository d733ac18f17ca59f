//! `PUT /v1/blobs` (streamed from a file, with progress) and `GET /v1/blobs/{sha256}`.

use std::path::Path;

use futures_util::stream;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Body, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Client, Progress};
use crate::error::ClientError;
use crate::wire::BlobJson;

/// Bytes read from the file per chunk of the upload.
const CHUNK: usize = 64 * 1024;

impl Client {
    /// `PUT /v1/blobs` with these bytes.
    pub async fn put_blob(&self, bytes: Vec<u8>) -> Result<BlobJson, ClientError> {
        let url = self.url(&["blobs"]);
        let rb = self.request(Method::PUT, &url).header(CONTENT_TYPE, "application/octet-stream").body(bytes);
        let resp = self.execute(&url, rb).await?;
        self.decode(&url, resp).await
    }

    /// `PUT /v1/blobs` streamed from a file, calling `progress(sent, total)` as chunks go out.
    pub async fn put_blob_file(&self, path: &Path, progress: Option<Progress>) -> Result<BlobJson, ClientError> {
        let io_err = |source| ClientError::Io { path: path.to_owned(), source };
        let file = tokio::fs::File::open(path).await.map_err(io_err)?;
        let total = file.metadata().await.map_err(io_err)?.len();
        if let Some(p) = &progress {
            p(0, total);
        }
        let chunks = stream::try_unfold((file, 0u64, progress), move |(mut file, sent, progress)| async move {
            let mut buf = vec![0u8; CHUNK];
            let n = file.read(&mut buf).await?;
            if n == 0 {
                return Ok::<_, std::io::Error>(None);
            }
            buf.truncate(n);
            let sent = sent + n as u64;
            if let Some(p) = &progress {
                p(sent, total);
            }
            Ok(Some((buf, (file, sent, progress))))
        });
        let url = self.url(&["blobs"]);
        let rb = self
            .request(Method::PUT, &url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, total)
            .body(Body::wrap_stream(chunks));
        let resp = self.execute(&url, rb).await?;
        self.decode(&url, resp).await
    }

    /// `GET /v1/blobs/{sha256}` into memory.
    pub async fn get_blob(&self, sha256: &str) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&["blobs", sha256], Vec::new()).await
    }

    /// `GET /v1/blobs/{sha256}` streamed into a file; answers the bytes written.
    pub async fn get_blob_to_file(&self, sha256: &str, path: &Path) -> Result<u64, ClientError> {
        let url = self.url(&["blobs", sha256]);
        let rb = self.request(Method::GET, &url);
        let mut resp = self.execute(&url, rb).await?;
        let io_err = |source| ClientError::Io { path: path.to_owned(), source };
        let mut file = tokio::fs::File::create(path).await.map_err(io_err)?;
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(&url, &e))? {
            file.write_all(&chunk).await.map_err(io_err)?;
            written += chunk.len() as u64;
        }
        file.flush().await.map_err(io_err)?;
        Ok(written)
    }
}
