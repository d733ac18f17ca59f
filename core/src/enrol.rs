//! Enrolment codes: what the central node hands an organizer so that a new node (a kiosk, a
//! member's laptop) can fetch its credential by itself.
//!
//! A code carries where the central node's peer listener is and which node must answer there
//! (its node id, pinned by TLS), a fingerprint of the organization public key (the enrolling
//! node refuses a central node that presents another key) and a random secret of 128 bits (the
//! central node stores only its SHA-256). Text form: `cecenrol` and the lowercase RFC 4648
//! base32 (no padding) of
//!
//! ```text
//! version (1) | central node id (12) | org fingerprint (16) | secret (16)
//!   | authority length (1) | authority, ASCII `host:port` | checksum (4)
//! ```
//!
//! where the checksum is the first 4 bytes of the SHA-256 of everything before it, so that a
//! mistyped code is refused here instead of being tried against the central node. Letters and
//! digits only: a double-click selects the whole code. Decoding ignores case, spaces and `-`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::ident::NodeId;

/// The prefix of every code's text.
pub const PREFIX: &str = "cecenrol";
/// The bytes of a code's secret (128 bits).
pub const SECRET_BYTES: usize = 16;
/// The bytes of an organization key's fingerprint.
pub const FINGERPRINT_BYTES: usize = 16;

const VERSION: u8 = 1;
const NODE_ID_BYTES: usize = 12;
const CHECKSUM_BYTES: usize = 4;
const MAX_AUTHORITY: usize = 255;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The fingerprint of an organization public key: the first 16 bytes of its SHA-256.
pub fn fingerprint(org_public_key: &[u8; 32]) -> [u8; FINGERPRINT_BYTES] {
    let digest = Sha256::digest(org_public_key);
    let mut out = [0; FINGERPRINT_BYTES];
    out.copy_from_slice(&digest[..FINGERPRINT_BYTES]);
    out
}

/// An enrolment code, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrolmentCode {
    /// Where the central node's peer listener is, `host:port`.
    pub authority: String,
    /// The central node: the key that must answer at `authority`.
    pub central: NodeId,
    /// The fingerprint of the organization public key (see [`fingerprint`]).
    pub org_fingerprint: [u8; FINGERPRINT_BYTES],
    /// The secret the central node checks.
    pub secret: [u8; SECRET_BYTES],
}

impl fmt::Debug for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("EnrolmentCode")
            .field("authority", &self.authority)
            .field("central", &self.central)
            .finish_non_exhaustive()
    }
}

/// Why a string is not an enrolment code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// It does not start with `cecenrol`.
    #[error("not an enrolment code (it starts with {PREFIX})")]
    Prefix,
    /// A character outside the code's alphabet.
    #[error("an enrolment code holds only letters and the digits 2-7, not {0:?}")]
    Character(char),
    /// Too short, too long, or a version this build does not know.
    #[error("not an enrolment code of this version: {0}")]
    Layout(&'static str),
    /// The checksum does not match: a character is wrong or missing.
    #[error("the enrolment code is mistyped or cut short (its checksum does not match)")]
    Checksum,
    /// The central node's address is not `host:port`.
    #[error("the enrolment code's central address is not HOST:PORT")]
    Authority,
}

/// Whether `s` is a `host:port` a peer URL can hold.
pub fn valid_authority(s: &str) -> bool {
    let Some((host, port)) = s.rsplit_once(':') else { return false };
    !host.is_empty()
        && s.len() <= MAX_AUTHORITY
        && port.parse::<u16>().is_ok_and(|p| p > 0)
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-[]:_".contains(&b))
}

impl EnrolmentCode {
    /// A code for the central node `central` listening at `authority`, for the organization
    /// whose key has `org_fingerprint`, with `secret` (random, from the caller).
    pub fn new(
        authority: &str,
        central: NodeId,
        org_fingerprint: [u8; FINGERPRINT_BYTES],
        secret: [u8; SECRET_BYTES],
    ) -> Result<Self, CodeError> {
        if !valid_authority(authority) {
            return Err(CodeError::Authority);
        }
        Ok(Self { authority: authority.to_owned(), central, org_fingerprint, secret })
    }

    /// The central node's peer URL, `https://host:port/node_id`.
    pub fn central_url(&self) -> String {
        format!("https://{}/{}", self.authority, self.central)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(1 + NODE_ID_BYTES + 2 * SECRET_BYTES + 1 + self.authority.len() + 4);
        b.push(VERSION);
        let hex = &self.central.as_str()[1..];
        for i in 0..NODE_ID_BYTES {
            b.push(u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0));
        }
        b.extend_from_slice(&self.org_fingerprint);
        b.extend_from_slice(&self.secret);
        // `new` and `from_str` keep the authority within 255 bytes.
        b.push(u8::try_from(self.authority.len()).unwrap_or(u8::MAX));
        b.extend_from_slice(self.authority.as_bytes());
        let sum = Sha256::digest(&b);
        b.extend_from_slice(&sum[..CHECKSUM_BYTES]);
        b
    }
}

impl fmt::Display for EnrolmentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PREFIX)?;
        f.write_str(&base32_encode(&self.to_bytes()))
    }
}

impl FromStr for EnrolmentCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: String =
            s.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        if cleaned.len() > 1024 {
            return Err(CodeError::Layout("too long"));
        }
        let body = cleaned.strip_prefix(PREFIX).ok_or(CodeError::Prefix)?;
        let bytes = base32_decode(body)?;
        let fixed = 1 + NODE_ID_BYTES + FINGERPRINT_BYTES + SECRET_BYTES + 1;
        if bytes.len() < fixed + CHECKSUM_BYTES {
            return Err(CodeError::Layout("too short"));
        }
        let (content, sum) = bytes.split_at(bytes.len() - CHECKSUM_BYTES);
        if Sha256::digest(content)[..CHECKSUM_BYTES] != *sum {
            return Err(CodeError::Checksum);
        }
        if content[0] != VERSION {
            return Err(CodeError::Layout("unknown version"));
        }
        let mut at = 1;
        let mut take = |n: usize| {
            let part = &content[at..at + n];
            at += n;
            part
        };
        let node: String = std::iter::once('n')
            .chain(take(NODE_ID_BYTES).iter().flat_map(|b| format!("{b:02x}").into_bytes()).map(char::from))
            .collect();
        let central: NodeId = node.parse().map_err(|_| CodeError::Layout("node id"))?;
        let mut org_fingerprint = [0; FINGERPRINT_BYTES];
        org_fingerprint.copy_from_slice(take(FINGERPRINT_BYTES));
        let mut secret = [0; SECRET_BYTES];
        secret.copy_from_slice(take(SECRET_BYTES));
        let len = usize::from(take(1)[0]);
        if content.len() != fixed + len {
            return Err(CodeError::Layout("authority length"));
        }
        let authority = std::str::from_utf8(&content[fixed..]).map_err(|_| CodeError::Authority)?;
        Self::new(authority, central, org_fingerprint, secret)
    }
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

fn base32_decode(text: &str) -> Result<Vec<u8>, CodeError> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars() {
        let v = match c {
            'a'..='z' => u32::from(c) - u32::from('a'),
            '2'..='7' => u32::from(c) - u32::from('2') + 26,
            other => return Err(CodeError::Character(other)),
        };
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    // Leftover bits are the encoder's zero padding: nonzero ones mean a mangled code.
    if bits >= 5 || buffer != 0 {
        return Err(CodeError::Layout("trailing characters"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn code(authority: &str) -> EnrolmentCode {
        EnrolmentCode::new(authority, NodeId::from_public_key(&[7; 32]), fingerprint(&[9; 32]), [0xab; SECRET_BYTES])
            .unwrap()
    }

    #[test]
    fn a_code_round_trips_and_reads_back_its_parts() {
        let c = code("127.0.0.1:7421");
        let text = c.to_string();
        assert!(text.starts_with(PREFIX) && text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
        let back: EnrolmentCode = text.parse().unwrap();
        assert_eq!(back, c);
        assert_eq!(back.central_url(), format!("https://127.0.0.1:7421/{}", NodeId::from_public_key(&[7; 32])));
        // Typed by hand: upper case, spaces and dashes are fine.
        let spaced: String = text
            .to_uppercase()
            .chars()
            .enumerate()
            .flat_map(|(i, ch)| if i > 0 && i % 8 == 0 { vec!['-', ch] } else { vec![ch] })
            .collect();
        assert_eq!(format!(" {spaced}\n").parse::<EnrolmentCode>().unwrap(), c);
        let v6 = code("[::1]:7421");
        assert_eq!(v6.to_string().parse::<EnrolmentCode>().unwrap(), v6);
        assert!(!format!("{c:?}").contains(&"ab".repeat(4)), "the secret stays out of Debug");
    }

    #[test]
    fn garbage_and_typos_are_refused() {
        let text = code("central.example.org:7421").to_string();
        assert_eq!("".parse::<EnrolmentCode>(), Err(CodeError::Prefix));
        assert_eq!("cecsync-cred-v1.x.y".parse::<EnrolmentCode>(), Err(CodeError::Prefix));
        assert_eq!(format!("{PREFIX}abc!").parse::<EnrolmentCode>(), Err(CodeError::Character('!')));
        assert_eq!(format!("{PREFIX}aaaa").parse::<EnrolmentCode>(), Err(CodeError::Layout("too short")));
        assert!(format!("{PREFIX}{}", "a".repeat(2000)).parse::<EnrolmentCode>().is_err());
        // Every single-character change is caught.
        for i in PREFIX.len()..text.len() {
            let mut b = text.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(b).unwrap();
            assert!(typo.parse::<EnrolmentCode>().is_err(), "typo at {i} accepted");
        }
        // Cut short.
        assert!(text[..text.len() - 3].parse::<EnrolmentCode>().is_err());
        for bad in ["", "nohost", ":7421", "h:0", "h:99999", "h/x:1", "a b:1"] {
            assert!(!valid_authority(bad), "{bad}");
        }
        assert!(EnrolmentCode::new("h/x:1", NodeId::from_public_key(&[1; 32]), [0; 16], [0; 16]).is_err());
    }

    #[test]
    fn fingerprints_tell_keys_apart() {
        assert_eq!(fingerprint(&[1; 32]), fingerprint(&[1; 32]));
        assert_ne!(fingerprint(&[1; 32]), fingerprint(&[2; 32]));
    }

    proptest! {
        #[test]
        fn codes_round_trip(host in "[a-z0-9.-]{1,60}", port in 1u16.., key in any::<[u8; 32]>(),
                            fp in any::<[u8; 16]>(), secret in any::<[u8; 16]>()) {
            let c = EnrolmentCode::new(&format!("{host}:{port}"), NodeId::from_public_key(&key), fp, secret).unwrap();
            prop_assert_eq!(c.to_string().parse::<EnrolmentCode>().unwrap(), c);
        }

        #[test]
        fn decoding_anything_never_panics(s in "\\PC{0,200}") {
            let _ = s.parse::<EnrolmentCode>();
            let _ = format!("{PREFIX}{s}").parse::<EnrolmentCode>();
        }

        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            prop_assert_eq!(base32_decode(&base32_encode(&bytes)).unwrap(), bytes);
        }
    }
}
