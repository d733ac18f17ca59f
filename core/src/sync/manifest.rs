//! What a node holds, summarized so that documents that agree cost nothing to compare.
//!
//! A [`Manifest`] maps each document in scope to a [`HeadsDigest`] of its heads. Its
//! [`Summary`] splits the documents into [`BUCKETS`] buckets by a hash of the document id and
//! keeps an 8-byte digest per bucket: two nodes whose summaries agree hold the same documents
//! at the same heads, and when they differ only the entries of the differing buckets are sent.

use std::collections::BTreeMap;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use crate::doc::DocId;

/// The number of buckets of a [`Summary`] (bits of a `u32` mask).
pub const BUCKETS: usize = 32;

/// The digest of one document's heads: SHA-256 of the sorted change hashes, truncated to 16
/// bytes. A document with no changes has the digest of no hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadsDigest(pub [u8; 16]);

impl HeadsDigest {
    /// The digest of `heads`, in any order.
    pub fn of(heads: &[ChangeHash]) -> Self {
        let mut sorted: Vec<&ChangeHash> = heads.iter().collect();
        sorted.sort();
        let mut h = Sha256::new();
        for c in sorted {
            h.update(c.0);
        }
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize()[..16]);
        Self(out)
    }
}

/// The bucket digests of a manifest; an empty bucket's digest is all zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Summary(pub [[u8; 8]; BUCKETS]);

impl Summary {
    /// Its encoding outside a frame: the bucket digests in order, `8 × BUCKETS` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.concat()
    }

    /// The summary [`Summary::to_bytes`] encoded, if `bytes` is one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 8 * BUCKETS {
            return None;
        }
        let mut out = [[0u8; 8]; BUCKETS];
        for (slot, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            slot.copy_from_slice(chunk);
        }
        Some(Self(out))
    }

    /// The mask of buckets whose digests differ between `self` and `other` (bit `i` for
    /// bucket `i`); zero when they agree.
    pub fn differing(&self, other: &Summary) -> u32 {
        let mut mask = 0u32;
        for (i, (a, b)) in self.0.iter().zip(other.0.iter()).enumerate() {
            if a != b {
                mask |= 1 << i;
            }
        }
        mask
    }
}

/// The bucket of `doc`, from a hash of its id (the same on every node).
pub fn bucket_of(doc: &DocId) -> usize {
    let digest = Sha256::digest(format!("cecsync-bucket-v1:{doc}").as_bytes());
    usize::from(digest[0]) % BUCKETS
}

/// The documents a node offers one peer, each with the digest of its heads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    entries: BTreeMap<DocId, HeadsDigest>,
}

impl Manifest {
    /// An empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// The manifest of documents at the given heads.
    pub fn from_heads<H: AsRef<[ChangeHash]>>(docs: impl IntoIterator<Item = (DocId, H)>) -> Self {
        docs.into_iter().map(|(d, h)| (d, HeadsDigest::of(h.as_ref()))).collect()
    }

    /// Keeps only the documents for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&DocId) -> bool) {
        self.entries.retain(|d, _| keep(d));
    }

    /// Adds or replaces the entry of `doc`.
    pub fn insert(&mut self, doc: DocId, digest: HeadsDigest) {
        self.entries.insert(doc, digest);
    }

    /// The digest of `doc`, if listed.
    pub fn get(&self, doc: &DocId) -> Option<HeadsDigest> {
        self.entries.get(doc).copied()
    }

    /// The number of documents.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no document is listed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, ordered by document id.
    pub fn iter(&self) -> impl Iterator<Item = (&DocId, &HeadsDigest)> {
        self.entries.iter()
    }

    /// The bucket digests.
    pub fn summary(&self) -> Summary {
        let mut hashers: Vec<Option<Sha256>> = (0..BUCKETS).map(|_| None).collect();
        for (doc, digest) in &self.entries {
            let h = hashers[bucket_of(doc)].get_or_insert_with(Sha256::new);
            let id = doc.to_string();
            h.update((id.len() as u64).to_be_bytes());
            h.update(id.as_bytes());
            h.update(digest.0);
        }
        let mut out = [[0u8; 8]; BUCKETS];
        for (slot, h) in out.iter_mut().zip(hashers) {
            if let Some(h) = h {
                slot.copy_from_slice(&h.finalize()[..8]);
            }
        }
        Summary(out)
    }

    /// The entries in the buckets of `mask`.
    pub fn entries_in(&self, mask: u32) -> Vec<(DocId, HeadsDigest)> {
        self.entries.iter().filter(|(d, _)| mask & (1 << bucket_of(d)) != 0).map(|(d, h)| (d.clone(), *h)).collect()
    }

    /// The documents of the buckets in `mask` that are not at the same heads on both sides,
    /// given the peer's entries of those buckets: listed by one side only, or with different
    /// digests. Ordered by document id.
    pub fn diff(&self, mask: u32, theirs: &[(DocId, HeadsDigest)]) -> Vec<DocId> {
        let theirs: BTreeMap<&DocId, HeadsDigest> =
            theirs.iter().filter(|(d, _)| mask & (1 << bucket_of(d)) != 0).map(|(d, h)| (d, *h)).collect();
        let mut out: Vec<DocId> = self
            .entries
            .iter()
            .filter(|(d, h)| mask & (1 << bucket_of(d)) != 0 && theirs.get(d) != Some(*h))
            .map(|(d, _)| d.clone())
            .collect();
        out.extend(theirs.keys().filter(|d| !self.entries.contains_key(**d)).map(|d| (*d).clone()));
        out.sort();
        out
    }
}

impl FromIterator<(DocId, HeadsDigest)> for Manifest {
    fn from_iter<T: IntoIterator<Item = (DocId, HeadsDigest)>>(iter: T) -> Self {
        Self { entries: iter.into_iter().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(b: u8) -> ChangeHash {
        ChangeHash([b; 32])
    }

    #[test]
    fn heads_digest_ignores_order_and_sees_every_hash() {
        assert_eq!(HeadsDigest::of(&[hash(1), hash(2)]), HeadsDigest::of(&[hash(2), hash(1)]));
        assert_ne!(HeadsDigest::of(&[hash(1), hash(2)]), HeadsDigest::of(&[hash(1)]));
        assert_ne!(HeadsDigest::of(&[]), HeadsDigest::of(&[hash(0)]));
    }

    fn manifest(n: usize, bump: Option<usize>) -> Manifest {
        (0..n)
            .map(|i| {
                let b = if Some(i) == bump { 200 } else { (i % 100) as u8 };
                (DocId::attendance("E1", format!("S{i}")), HeadsDigest::of(&[hash(b)]))
            })
            .collect()
    }

    #[test]
    fn equal_manifests_have_equal_summaries() {
        let a = manifest(100, None);
        assert_eq!(a.summary().differing(&manifest(100, None).summary()), 0);
        assert_eq!(a.diff(u32::MAX, &manifest(100, None).entries_in(u32::MAX)), Vec::<DocId>::new());
    }

    #[test]
    fn one_changed_document_differs_in_one_bucket_and_the_diff_names_it() {
        let a = manifest(100, None);
        let b = manifest(100, Some(42));
        let mask = a.summary().differing(&b.summary());
        assert_eq!(mask.count_ones(), 1);
        let changed = DocId::attendance("E1", "S42");
        assert_eq!(mask, 1 << bucket_of(&changed));
        assert!(b.entries_in(mask).len() < 100);
        assert_eq!(a.diff(mask, &b.entries_in(mask)), vec![changed]);
    }

    #[test]
    fn documents_on_one_side_only_are_in_the_diff() {
        let a = manifest(10, None);
        let b = manifest(12, None);
        let mask = a.summary().differing(&b.summary());
        let diff = a.diff(mask, &b.entries_in(mask));
        assert_eq!(diff, vec![DocId::attendance("E1", "S10"), DocId::attendance("E1", "S11")]);
        let back = b.diff(mask, &a.entries_in(mask));
        assert_eq!(back, diff);
    }
}
