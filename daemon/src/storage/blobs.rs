//! Content-addressed blobs (evidence files): `blobs/ab/abcdef…` named by their SHA-256.
//!
//! A put streams into `blobs/tmp/` while hashing, fsyncs, renames into place, fsyncs the
//! directory, and only then records the blob in the `blobs` table: a recorded blob is always
//! complete on disk. The table is the source of truth for [`Store::has_blob`]; a file without a
//! row (a crash between rename and commit) is harmless and is adopted by the next put of the
//! same content.

use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::{Stream, StreamExt};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::{StorageError, Store, now_ms};

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    /// SHA-256 of the content, 64 lowercase hex characters.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Whether `s` is a well-formed blob hash: exactly 64 lowercase hex characters. Anything else
/// is refused before it gets near a path.
pub fn is_valid_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_sha256(s: &str) -> Result<(), StorageError> {
    if is_valid_sha256(s) { Ok(()) } else { Err(StorageError::InvalidHash) }
}

/// Where a blob with a valid hash lives.
fn blob_path(blob_dir: &Path, sha256: &str) -> PathBuf {
    blob_dir.join(&sha256[..2]).join(sha256)
}

/// Creates `blobs/` and `blobs/tmp/`, and deletes temp files a crash left behind.
pub(crate) fn prepare_dir(blob_dir: &Path) -> Result<(), StorageError> {
    use std::os::unix::fs::DirBuilderExt;
    let tmp = blob_dir.join("tmp");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&tmp)?;
    for entry in std::fs::read_dir(&tmp)? {
        let path = entry?.path();
        if let Err(err) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), cause = %err, "could not remove a stale temp blob");
        }
    }
    Ok(())
}

/// Deletes the temp file unless disarmed, also when the put's future is dropped midway.
struct TempFile {
    path: Option<PathBuf>,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{}-{n}.tmp", std::process::id(), now_ms())
}

async fn sync_dir(dir: PathBuf) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
        .await
        .map_err(|_| StorageError::Panicked)??;
    Ok(())
}

impl Store {
    /// Stores the bytes of `stream` as a blob and returns its hash and size. Fails with
    /// [`StorageError::TooLarge`] as soon as more than `max_size` bytes arrive, and with
    /// [`StorageError::Stream`] if the stream fails; either way nothing is left behind.
    /// Putting content that is already stored is fine and returns the same hash.
    pub async fn put_blob<S, B, E>(&self, stream: S, max_size: u64) -> Result<BlobInfo, StorageError>
    where
        S: Stream<Item = Result<B, E>>,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    {
        let blob_dir = self.blob_dir();
        let tmp_path = blob_dir.join("tmp").join(temp_name());
        let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp_path).await?;
        let mut guard = TempFile { path: Some(tmp_path.clone()) };
        let mut hasher = Sha256::new();
        let mut size = 0_u64;
        let mut stream = pin!(stream);
        while let Some(item) = stream.next().await {
            let chunk = item.map_err(|err| StorageError::Stream(err.into()))?;
            let chunk = chunk.as_ref();
            size = size.saturating_add(chunk.len() as u64);
            if size > max_size {
                return Err(StorageError::TooLarge { limit: max_size });
            }
            hasher.update(chunk);
            file.write_all(chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);

        let sha256 = hex(&hasher.finalize());
        let shard = blob_dir.join(&sha256[..2]);
        let final_path = blob_path(&blob_dir, &sha256);
        if tokio::fs::try_exists(&final_path).await? {
            // Same hash, same content: the temp copy is dropped by the guard.
            drop(guard);
        } else {
            match tokio::fs::DirBuilder::new().mode(0o700).create(&shard).await {
                Ok(()) => sync_dir(blob_dir.clone()).await?,
                Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(err) => return Err(err.into()),
            }
            tokio::fs::rename(&tmp_path, &final_path).await?;
            guard.path = None;
            sync_dir(shard).await?;
        }

        let size_i64 = i64::try_from(size).map_err(|_| StorageError::TooLarge { limit: max_size })?;
        let hash = sha256.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO blobs (sha256, size, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sha256) DO NOTHING",
            )?
            .execute(params![hash, size_i64, now_ms()])?;
            Ok(())
        })
        .await?;
        Ok(BlobInfo { sha256, size })
    }

    /// Whether a blob with this hash is stored. Fails on a malformed hash.
    pub async fn has_blob(&self, sha256: &str) -> Result<bool, StorageError> {
        Ok(self.blob_size(sha256).await?.is_some())
    }

    /// Opens a stored blob for reading, with its size; `None` if it is not stored. Fails on a
    /// malformed hash, and with [`StorageError::MissingBlobFile`] if the file went missing.
    pub async fn open_blob(&self, sha256: &str) -> Result<Option<(tokio::fs::File, u64)>, StorageError> {
        let Some(size) = self.blob_size(sha256).await? else {
            return Ok(None);
        };
        match tokio::fs::File::open(blob_path(&self.blob_dir(), sha256)).await {
            Ok(file) => Ok(Some((file, size))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::MissingBlobFile { sha256: sha256.to_owned() })
            }
            Err(err) => Err(err.into()),
        }
    }

    async fn blob_size(&self, sha256: &str) -> Result<Option<u64>, StorageError> {
        check_sha256(sha256)?;
        let hash = sha256.to_owned();
        let size: Option<i64> = self
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT size FROM blobs WHERE sha256 = ?1")?
                    .query_row([hash], |row| row.get(0))
                    .optional()?)
            })
            .await?;
        Ok(size.map(|s| u64::try_from(s).unwrap_or(0)))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use tokio::io::AsyncReadExt;

    use super::super::test_util::temp_store;
    use super::*;

    fn chunks(data: &[u8], size: usize) -> Vec<Result<Vec<u8>, Infallible>> {
        data.chunks(size).map(|c| Ok(c.to_vec())).collect()
    }

    fn tmp_files(store: &Store) -> usize {
        std::fs::read_dir(store.blob_dir().join("tmp")).unwrap().count()
    }

    #[tokio::test]
    async fn round_trip_and_dedup() {
        let (_dir, store) = temp_store().await;
        let data: Vec<u8> = (0..100_000_u32).map(|i| (i % 251) as u8).collect();
        let expected = hex(&Sha256::digest(&data));
        let info = store.put_blob(stream::iter(chunks(&data, 7_000)), 1 << 20).await.unwrap();
        assert_eq!(info.sha256, expected);
        assert_eq!(info.size, data.len() as u64);
        assert!(store.has_blob(&expected).await.unwrap());
        let path = blob_path(&store.blob_dir(), &expected);
        assert!(path.ends_with(format!("{}/{}", &expected[..2], expected)));

        let (mut file, size) = store.open_blob(&expected).await.unwrap().unwrap();
        assert_eq!(size, data.len() as u64);
        let mut back = Vec::new();
        file.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, data);

        // Same content again, chunked differently: same hash, one row, no temp files.
        let again = store.put_blob(stream::iter(chunks(&data, 999)), 1 << 20).await.unwrap();
        assert_eq!(again, info);
        assert_eq!(tmp_files(&store), 0);

        // The empty blob is a blob too.
        let empty = store.put_blob(stream::iter(Vec::<Result<Vec<u8>, Infallible>>::new()), 0).await.unwrap();
        assert_eq!(empty.sha256, hex(&Sha256::digest(b"")));
        assert_eq!(empty.size, 0);

        let absent = "0".repeat(64);
        assert!(!store.has_blob(&absent).await.unwrap());
        assert!(store.open_blob(&absent).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn over_limit_is_rejected_and_leaves_nothing() {
        let (_dir, store) = temp_store().await;
        let data = vec![7_u8; 10_000];
        // The stream would go on forever; the put must stop at the limit.
        let endless = stream::repeat_with(|| Ok::<_, Infallible>(vec![7_u8; 1_000]));
        let err = store.put_blob(endless, 9_999).await.unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { limit: 9_999 }), "{err}");
        assert_eq!(tmp_files(&store), 0);
        let sha = hex(&Sha256::digest(&data));
        assert!(!store.has_blob(&sha).await.unwrap());
        assert!(!blob_path(&store.blob_dir(), &sha).exists());
        // Exactly at the limit is fine.
        let ok = store.put_blob(stream::iter(chunks(&data, 1_000)), 10_000).await.unwrap();
        assert_eq!(ok.sha256, sha);
    }

    #[tokio::test]
    async fn failing_stream_leaves_nothing() {
        let (_dir, store) = temp_store().await;
        let items: Vec<Result<Vec<u8>, std::io::Error>> =
            vec![Ok(b"part".to_vec()), Err(std::io::Error::other("client went away"))];
        let err = store.put_blob(stream::iter(items), 1 << 20).await.unwrap_err();
        assert!(matches!(err, StorageError::Stream(_)), "{err}");
        assert_eq!(tmp_files(&store), 0);
    }

    #[tokio::test]
    async fn bad_hashes_are_refused() {
        let (_dir, store) = temp_store().await;
        let upper = "A".repeat(64);
        let traversal = format!("../../{}", "a".repeat(58));
        for bad in ["", "abc", upper.as_str(), traversal.as_str(), &"g".repeat(64), &"a".repeat(65)] {
            assert!(!is_valid_sha256(bad), "{bad}");
            assert!(matches!(store.has_blob(bad).await, Err(StorageError::InvalidHash)));
            assert!(matches!(store.open_blob(bad).await, Err(StorageError::InvalidHash)));
        }
        assert!(is_valid_sha256(&"0123456789abcdef".repeat(4)));
    }

    #[tokio::test]
    async fn stale_temp_files_are_cleaned_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let stale = store.blob_dir().join("tmp").join("123-0-0.tmp");
        std::fs::write(&stale, b"half a pdf").unwrap();
        store.close().await;
        let store = Store::open(dir.path()).await.unwrap();
        assert!(!stale.exists());
        assert_eq!(tmp_files(&store), 0);
    }
}
