//! The bytes two sync sessions exchange: one [`Frame`] per message.
//!
//! ```text
//! frame    = "CS" version:u8 kind:u8 body            (integers big-endian)
//! Hello    = kind 1, 32 × 8-byte bucket digests
//! Manifest = kind 2, mask:u32 count:u32 count × (id_len:u16 id digest:[u8;16])
//! Round    = kind 3, flags:u8 count:u32 count × (id_len:u16 id msg_len:u32 msg)
//! Done     = kind 4
//! Push     = kind 5, 32 × 8-byte bucket digests, then a Round's count and entries
//! Agreed   = kind 6, a Round's count and entries
//! ```
//!
//! `Push` and `Agreed` are the one-request resync (see [`crate::sync`]): a node sends a `Push`
//! only to a peer whose hello answer can carry the reply, so a peer that does not know them
//! never receives one.
//!
//! `id` is a document id (`event:E1`, ...) in UTF-8, validated on decode; `msg` is an encoded
//! Automerge sync message, opaque here. Decoding checks every length against the bytes left
//! and a frame against a maximum size, refuses duplicate documents, unknown kinds and flags
//! and trailing bytes, and never panics.

use std::collections::BTreeSet;

use crate::doc::{DocId, DocIdError};

use super::manifest::{BUCKETS, HeadsDigest, Summary};

const MAGIC: [u8; 2] = *b"CS";
/// The protocol version this build speaks.
pub const VERSION: u8 = 1;
/// The longest document id on the wire, in bytes.
pub const MAX_DOC_ID_BYTES: usize = 1024;
/// The bytes of a frame's header.
pub const HEADER_BYTES: usize = 4;
/// The bytes of a Round's fixed part after the header.
pub const ROUND_FIXED_BYTES: usize = 5;

const KIND_HELLO: u8 = 1;
const KIND_MANIFEST: u8 = 2;
const KIND_ROUND: u8 = 3;
const KIND_DONE: u8 = 4;
const KIND_PUSH: u8 = 5;
const KIND_AGREED: u8 = 6;
const FLAG_MORE: u8 = 1;

/// One message between two sync sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The initiator's opening: the summary of its manifest. Also the responder's answer when
    /// the summaries agree.
    Hello(Box<Summary>),
    /// The responder's answer when the summaries differ: its entries in the differing buckets.
    Manifest {
        /// The buckets these entries cover (bit `i` for bucket `i`).
        mask: u32,
        /// The sender's documents in those buckets.
        entries: Vec<(DocId, HeadsDigest)>,
    },
    /// Automerge sync messages, at most one per document.
    Round {
        /// `(document, encoded automerge::sync::Message)`.
        docs: Vec<(DocId, Vec<u8>)>,
        /// The sender has more to send than fit in this frame.
        more: bool,
    },
    /// The initiator ends a quiescent session; no answer.
    Done,
    /// The initiator's opening with its changes: the summary of its manifest, and Automerge
    /// sync messages carrying the changes it made to these documents since its last sync with
    /// the peer. The responder applies them before it compares summaries.
    Push {
        /// The initiator's summary, as in `Hello`.
        summary: Box<Summary>,
        /// `(document, encoded automerge::sync::Message)`.
        docs: Vec<(DocId, Vec<u8>)>,
    },
    /// The responder's answer to a `Push` after which the summaries agree: its sync messages
    /// for the pushed documents (acknowledging their changes). The session ends with it.
    Agreed {
        /// `(document, encoded automerge::sync::Message)`.
        docs: Vec<(DocId, Vec<u8>)>,
    },
}

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The frame is longer than the receiver accepts.
    #[error("frame of {len} bytes is over the limit of {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The frame ends before a field it announces.
    #[error("frame is truncated")]
    Truncated,
    /// Not a cecsync frame.
    #[error("not a sync frame")]
    Magic,
    /// A protocol version this build does not speak.
    #[error("unsupported sync protocol version {0}")]
    Version(u8),
    /// An unknown frame kind.
    #[error("unknown frame kind {0}")]
    Kind(u8),
    /// Unknown flag bits.
    #[error("unknown frame flags {0:#04x}")]
    Flags(u8),
    /// A document id that is too long or not UTF-8.
    #[error("malformed document id")]
    DocIdBytes,
    /// A document id that does not parse.
    #[error("bad document id: {0}")]
    DocId(#[from] DocIdError),
    /// The same document twice in one frame.
    #[error("document {0} appears twice in one frame")]
    Duplicate(DocId),
    /// Bytes after the end of the frame.
    #[error("{0} bytes after the end of the frame")]
    Trailing(usize),
}

impl Frame {
    /// The frame's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Hello(_) => "hello",
            Self::Manifest { .. } => "manifest",
            Self::Round { .. } => "round",
            Self::Done => "done",
            Self::Push { .. } => "push",
            Self::Agreed { .. } => "agreed",
        }
    }

    /// The frame's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![MAGIC[0], MAGIC[1], VERSION];
        match self {
            Self::Hello(summary) => {
                out.push(KIND_HELLO);
                put_summary(&mut out, summary);
            }
            Self::Manifest { mask, entries } => {
                out.push(KIND_MANIFEST);
                out.extend_from_slice(&mask.to_be_bytes());
                out.extend_from_slice(&len_u32(entries.len()).to_be_bytes());
                for (doc, digest) in entries {
                    put_doc_id(&mut out, doc);
                    out.extend_from_slice(&digest.0);
                }
            }
            Self::Round { docs, more } => {
                out.push(KIND_ROUND);
                out.push(if *more { FLAG_MORE } else { 0 });
                put_messages(&mut out, docs);
            }
            Self::Done => out.push(KIND_DONE),
            Self::Push { summary, docs } => {
                out.push(KIND_PUSH);
                put_summary(&mut out, summary);
                put_messages(&mut out, docs);
            }
            Self::Agreed { docs } => {
                out.push(KIND_AGREED);
                put_messages(&mut out, docs);
            }
        }
        out
    }

    /// Decodes one frame of at most `max_bytes` bytes.
    pub fn decode(bytes: &[u8], max_bytes: usize) -> Result<Self, WireError> {
        if bytes.len() > max_bytes {
            return Err(WireError::TooLarge { len: bytes.len(), max: max_bytes });
        }
        let mut r = Reader(bytes);
        if r.take(2)? != MAGIC {
            return Err(WireError::Magic);
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(WireError::Version(version));
        }
        let frame = match r.u8()? {
            KIND_HELLO => Self::Hello(r.summary()?),
            KIND_MANIFEST => {
                let mask = r.u32()?;
                let count = r.count(2 + 1 + 16)?;
                let mut entries = Vec::with_capacity(count);
                let mut seen = BTreeSet::new();
                for _ in 0..count {
                    let doc = r.doc_id()?;
                    let mut digest = [0u8; 16];
                    digest.copy_from_slice(r.take(16)?);
                    if !seen.insert(doc.clone()) {
                        return Err(WireError::Duplicate(doc));
                    }
                    entries.push((doc, HeadsDigest(digest)));
                }
                Self::Manifest { mask, entries }
            }
            KIND_ROUND => {
                let flags = r.u8()?;
                if flags & !FLAG_MORE != 0 {
                    return Err(WireError::Flags(flags));
                }
                Self::Round { docs: r.messages()?, more: flags & FLAG_MORE != 0 }
            }
            KIND_DONE => Self::Done,
            KIND_PUSH => {
                let summary = r.summary()?;
                Self::Push { summary, docs: r.messages()? }
            }
            KIND_AGREED => Self::Agreed { docs: r.messages()? },
            kind => return Err(WireError::Kind(kind)),
        };
        if !r.0.is_empty() {
            return Err(WireError::Trailing(r.0.len()));
        }
        Ok(frame)
    }
}

/// The bytes one document's entry adds to a Round frame.
pub fn round_entry_bytes(doc_id: &str, msg_len: usize) -> usize {
    2 + doc_id.len() + 4 + msg_len
}

fn len_u32(n: usize) -> u32 {
    // Frames are bounded far below 4 GiB by the session's limit; saturate rather than wrap.
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn put_doc_id(out: &mut Vec<u8>, doc: &DocId) {
    let id = doc.to_string();
    // Document ids are validated ids of at most a few hundred bytes.
    out.extend_from_slice(&u16::try_from(id.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(id.as_bytes());
}

fn put_summary(out: &mut Vec<u8>, summary: &Summary) {
    for b in &summary.0 {
        out.extend_from_slice(b);
    }
}

fn put_messages(out: &mut Vec<u8>, docs: &[(DocId, Vec<u8>)]) {
    out.extend_from_slice(&len_u32(docs.len()).to_be_bytes());
    for (doc, msg) in docs {
        put_doc_id(out, doc);
        out.extend_from_slice(&len_u32(msg.len()).to_be_bytes());
        out.extend_from_slice(msg);
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A count of entries of at least `min_entry` bytes each, checked against what is left so
    /// that a forged count never reserves memory.
    fn count(&mut self, min_entry: usize) -> Result<usize, WireError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_entry) > self.0.len() {
            return Err(WireError::Truncated);
        }
        Ok(n)
    }

    fn summary(&mut self) -> Result<Box<Summary>, WireError> {
        let mut summary = [[0u8; 8]; BUCKETS];
        for b in &mut summary {
            b.copy_from_slice(self.take(8)?);
        }
        Ok(Box::new(Summary(summary)))
    }

    /// A count and that many `(document, message)` entries, no document twice.
    fn messages(&mut self) -> Result<Vec<(DocId, Vec<u8>)>, WireError> {
        let count = self.count(2 + 1 + 4)?;
        let mut docs = Vec::with_capacity(count);
        let mut seen = BTreeSet::new();
        for _ in 0..count {
            let doc = self.doc_id()?;
            let len = self.u32()? as usize;
            let msg = self.take(len)?.to_vec();
            if !seen.insert(doc.clone()) {
                return Err(WireError::Duplicate(doc));
            }
            docs.push((doc, msg));
        }
        Ok(docs)
    }

    fn doc_id(&mut self) -> Result<DocId, WireError> {
        let len = usize::from(self.u16()?);
        if len > MAX_DOC_ID_BYTES {
            return Err(WireError::DocIdBytes);
        }
        let s = std::str::from_utf8(self.take(len)?).map_err(|_| WireError::DocIdBytes)?;
        Ok(s.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MAX: usize = 1 << 20;

    fn round() -> Frame {
        Frame::Round {
            docs: vec![(DocId::event("E1"), vec![0x42, 1, 2, 3]), (DocId::attendance("E1", "S1"), vec![])],
            more: true,
        }
    }

    fn samples() -> Vec<Frame> {
        let mut summary = [[0u8; 8]; BUCKETS];
        summary[3] = [9; 8];
        vec![
            Frame::Hello(Box::new(Summary(summary))),
            Frame::Manifest {
                mask: 0b1010,
                entries: vec![
                    (DocId::portfolio("urn:m:1"), HeadsDigest([7; 16])),
                    (DocId::event("E"), HeadsDigest([0; 16])),
                ],
            },
            Frame::Manifest { mask: 0, entries: vec![] },
            round(),
            Frame::Round { docs: vec![], more: false },
            Frame::Done,
            Frame::Push {
                summary: Box::new(Summary(summary)),
                docs: vec![(DocId::attendance("E1", "S1"), vec![0x42, 9]), (DocId::event("E1"), vec![])],
            },
            Frame::Push { summary: Box::new(Summary(summary)), docs: vec![] },
            Frame::Agreed { docs: vec![(DocId::attendance("E1", "S1"), vec![0x42])] },
            Frame::Agreed { docs: vec![] },
        ]
    }

    #[test]
    fn frames_round_trip() {
        for f in samples() {
            assert_eq!(Frame::decode(&f.encode(), MAX), Ok(f.clone()), "{f:?}");
        }
    }

    #[test]
    fn every_truncation_is_refused() {
        for f in samples() {
            let bytes = f.encode();
            for n in 0..bytes.len() {
                assert!(Frame::decode(&bytes[..n], MAX).is_err(), "{f:?} cut at {n}");
            }
        }
    }

    #[test]
    fn oversize_and_trailing_input_is_refused() {
        let bytes = round().encode();
        assert_eq!(
            Frame::decode(&bytes, bytes.len() - 1),
            Err(WireError::TooLarge { len: bytes.len(), max: bytes.len() - 1 })
        );
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(Frame::decode(&extra, MAX), Err(WireError::Trailing(1)));
    }

    #[test]
    fn malformed_headers_and_fields_are_refused() {
        let good = round().encode();
        let with = |i: usize, b: u8| {
            let mut v = good.clone();
            v[i] = b;
            v
        };
        assert_eq!(Frame::decode(&with(0, b'X'), MAX), Err(WireError::Magic));
        assert_eq!(Frame::decode(&with(2, 9), MAX), Err(WireError::Version(9)));
        assert_eq!(Frame::decode(&with(3, 77), MAX), Err(WireError::Kind(77)));
        assert_eq!(Frame::decode(&with(4, 0x80), MAX), Err(WireError::Flags(0x80)));
        // A count far beyond the bytes that follow is refused before any allocation.
        let mut forged = good[..5].to_vec();
        forged.extend_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(Frame::decode(&forged, MAX), Err(WireError::Truncated));
        let dup = Frame::Round { docs: vec![(DocId::event("E"), vec![]), (DocId::event("E"), vec![1])], more: false };
        assert_eq!(Frame::decode(&dup.encode(), MAX), Err(WireError::Duplicate(DocId::event("E"))));
        let mut bad_id = vec![b'C', b'S', VERSION, KIND_ROUND, 0, 0, 0, 0, 1, 0, 5];
        bad_id.extend_from_slice(b"nope!");
        bad_id.extend_from_slice(&0u32.to_be_bytes());
        assert!(matches!(Frame::decode(&bad_id, MAX), Err(WireError::DocId(_))));
    }

    fn doc_id() -> impl Strategy<Value = DocId> {
        let id = "[A-Za-z0-9._-]{1,12}";
        prop_oneof![
            id.prop_map(DocId::event),
            (id, id).prop_map(|(e, s)| DocId::attendance(e, s)),
            "[A-Za-z0-9._:-]{1,20}".prop_map(DocId::portfolio),
        ]
    }

    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            proptest::array::uniform32(any::<[u8; 8]>()).prop_map(|s| Frame::Hello(Box::new(Summary(s)))),
            (any::<u32>(), proptest::collection::btree_map(doc_id(), any::<[u8; 16]>(), 0..8)).prop_map(|(mask, m)| {
                Frame::Manifest { mask, entries: m.into_iter().map(|(d, h)| (d, HeadsDigest(h))).collect() }
            }),
            (
                proptest::collection::btree_map(doc_id(), proptest::collection::vec(any::<u8>(), 0..64), 0..8),
                any::<bool>()
            )
                .prop_map(|(m, more)| Frame::Round { docs: m.into_iter().collect(), more }),
            Just(Frame::Done),
            (
                proptest::array::uniform32(any::<[u8; 8]>()),
                proptest::collection::btree_map(doc_id(), proptest::collection::vec(any::<u8>(), 0..64), 0..8)
            )
                .prop_map(|(s, m)| Frame::Push { summary: Box::new(Summary(s)), docs: m.into_iter().collect() }),
            proptest::collection::btree_map(doc_id(), proptest::collection::vec(any::<u8>(), 0..64), 0..8)
                .prop_map(|m| Frame::Agreed { docs: m.into_iter().collect() }),
        ]
    }

    proptest! {
        #[test]
        fn encode_decode_round_trips(f in frame()) {
            prop_assert_eq!(Frame::decode(&f.encode(), MAX), Ok(f));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = Frame::decode(&bytes, MAX);
        }

        #[test]
        fn corrupted_frames_never_panic(f in frame(), i in any::<usize>(), b in any::<u8>()) {
            let mut bytes = f.encode();
            let i = i % bytes.len();
            bytes[i] = b;
            if let Ok(g) = Frame::decode(&bytes, MAX) {
                // Whatever decodes re-encodes to the same bytes: nothing is silently dropped.
                prop_assert_eq!(g.encode(), bytes);
            }
        }
    }
}
