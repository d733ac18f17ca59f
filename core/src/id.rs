//! Identifiers: strings of 1–128 characters from `[A-Za-z0-9._:-]`.
//!
//! Every id that appears in a document key or a URL path goes through [`Id::parse`], so a
//! document id such as `attendance:<event>:<session>` can be split unambiguously only when the
//! parts themselves are valid ids.

use std::fmt;
use std::str::FromStr;

/// The longest id accepted.
pub const MAX_ID_LEN: usize = 128;

/// A validated identifier.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(String);

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The string is empty.
    #[error("id is empty")]
    Empty,
    /// The string is longer than [`MAX_ID_LEN`].
    #[error("id is longer than {MAX_ID_LEN} characters")]
    TooLong,
    /// The string holds a character outside `[A-Za-z0-9._:-]`.
    #[error("id holds {0:?}, only letters, digits and . _ : - are allowed")]
    BadChar(char),
}

impl Id {
    /// Validates `s` as an id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        validate(s)?;
        Ok(Self(s.to_owned()))
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Checks that `s` is a valid id without allocating.
pub fn validate(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    match s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))) {
        Some(c) => Err(IdError::BadChar(c)),
        None => Ok(()),
    }
}

impl FromStr for Id {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["E1", "aca-2027", "session_3.b", "urn:x:1", &"a".repeat(128)] {
            assert!(Id::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        assert_eq!(Id::parse(""), Err(IdError::Empty));
        assert_eq!(Id::parse(&"a".repeat(129)), Err(IdError::TooLong));
        assert_eq!(Id::parse("a/b"), Err(IdError::BadChar('/')));
        assert_eq!(Id::parse("a b"), Err(IdError::BadChar(' ')));
        assert_eq!(Id::parse("é"), Err(IdError::BadChar('é')));
    }
}
