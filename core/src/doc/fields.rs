//! Typed reads and change-only writes of Automerge values.

use std::str::FromStr;

use automerge::{AutoCommit, ObjId, ObjType, ReadDoc, ScalarValue, Value, transaction::Transactable};
use jiff::Timestamp;
use jiff::civil::Date;
use rust_decimal::Decimal;

/// Why a document cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// Automerge refused an operation.
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    /// A required field is missing.
    #[error("missing field {0}")]
    Missing(&'static str),
    /// A field holds a value of the wrong type or form.
    #[error("field {field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The document was written by a newer schema.
    #[error("document schema {0} is newer than this build understands")]
    NewerSchema(i64),
    /// A write would change an immutable record.
    #[error("{0} already exists with different content")]
    Conflict(String),
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> DocError {
    DocError::Invalid { field, message: message.into() }
}

fn scalar(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ScalarValue>, DocError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Scalar(s), _)) => Some(s.into_owned()),
        _ => None,
    })
}

pub(crate) fn get_str(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Option<String>, DocError> {
    str_at(doc, obj, key, key)
}

/// The string at a dynamic `key`, reporting errors against `field`.
pub(crate) fn str_at(
    doc: &AutoCommit,
    obj: &ObjId,
    key: &str,
    field: &'static str,
) -> Result<Option<String>, DocError> {
    match scalar(doc, obj, key)? {
        None | Some(ScalarValue::Null) => Ok(None),
        Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
        Some(other) => Err(invalid(field, format!("expected a string, found {other}"))),
    }
}

pub(crate) fn req_str(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<String, DocError> {
    get_str(doc, obj, key)?.ok_or(DocError::Missing(key))
}

pub(crate) fn get_i64(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Option<i64>, DocError> {
    match scalar(doc, obj, key)? {
        None | Some(ScalarValue::Null) => Ok(None),
        Some(ScalarValue::Int(i)) => Ok(Some(i)),
        Some(ScalarValue::Uint(u)) => i64::try_from(u).map(Some).map_err(|_| invalid(key, "out of range")),
        Some(other) => Err(invalid(key, format!("expected an integer, found {other}"))),
    }
}

pub(crate) fn req_u32(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<u32, DocError> {
    let v = get_i64(doc, obj, key)?.ok_or(DocError::Missing(key))?;
    u32::try_from(v).map_err(|_| invalid(key, "out of range"))
}

pub(crate) fn get_u32(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Option<u32>, DocError> {
    get_i64(doc, obj, key)?.map(|v| u32::try_from(v).map_err(|_| invalid(key, "out of range"))).transpose()
}

pub(crate) fn get_bool(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Option<bool>, DocError> {
    match scalar(doc, obj, key)? {
        None | Some(ScalarValue::Null) => Ok(None),
        Some(ScalarValue::Boolean(b)) => Ok(Some(b)),
        Some(other) => Err(invalid(key, format!("expected a boolean, found {other}"))),
    }
}

pub(crate) fn get_parsed<T: FromStr>(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Option<T>, DocError>
where
    T::Err: std::fmt::Display,
{
    get_str(doc, obj, key)?.map(|s| s.parse::<T>().map_err(|e| invalid(key, e.to_string()))).transpose()
}

pub(crate) fn req_parsed<T: FromStr>(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<T, DocError>
where
    T::Err: std::fmt::Display,
{
    get_parsed(doc, obj, key)?.ok_or(DocError::Missing(key))
}

pub(crate) fn req_decimal(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Decimal, DocError> {
    req_parsed::<Decimal>(doc, obj, key)
}

pub(crate) fn req_timestamp(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Timestamp, DocError> {
    req_parsed::<Timestamp>(doc, obj, key)
}

pub(crate) fn req_date(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Date, DocError> {
    req_parsed::<Date>(doc, obj, key)
}

/// The object at `key` if it is a map.
pub(crate) fn get_map(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>, DocError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Some(id),
        _ => None,
    })
}

pub(crate) fn req_map(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<ObjId, DocError> {
    get_map(doc, obj, key)?.ok_or(DocError::Missing(key))
}

/// The map at `key`, created if absent.
pub(crate) fn ensure_map(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<ObjId, DocError> {
    match get_map(doc, obj, key)? {
        Some(id) => Ok(id),
        None => Ok(doc.put_object(obj, key, ObjType::Map)?),
    }
}

/// Puts a scalar unless the same value is already there (and not in conflict).
pub(crate) fn put(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: impl Into<ScalarValue>) -> Result<(), DocError> {
    let value = value.into();
    let all = doc.get_all(obj, key)?;
    let same = all.len() == 1 && matches!(&all[0], (Value::Scalar(s), _) if s.as_ref() == &value);
    if !same {
        doc.put(obj, key, value)?;
    }
    Ok(())
}

/// Puts an optional string: `None` deletes the key.
pub(crate) fn put_opt(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: Option<String>) -> Result<(), DocError> {
    match value {
        Some(v) => put(doc, obj, key, v),
        None => {
            if doc.get(obj, key)?.is_some() {
                doc.delete(obj, key)?;
            }
            Ok(())
        }
    }
}

/// Deletes `key` if present.
pub(crate) fn delete(doc: &mut AutoCommit, obj: &ObjId, key: &str) -> Result<bool, DocError> {
    if doc.get(obj, key)?.is_some() {
        doc.delete(obj, key)?;
        Ok(true)
    } else {
        Ok(false)
    }
}

/// The keys of a map, sorted.
pub(crate) fn keys(doc: &AutoCommit, obj: &ObjId) -> Vec<String> {
    doc.keys(obj).collect()
}

/// The list at `key` if it is a list.
pub(crate) fn get_list(doc: &AutoCommit, obj: &ObjId, key: &str) -> Result<Option<ObjId>, DocError> {
    Ok(match doc.get(obj, key)? {
        Some((Value::Object(ObjType::List), id)) => Some(id),
        _ => None,
    })
}

/// The maps of a list, in order.
pub(crate) fn list_maps(doc: &AutoCommit, list: &ObjId) -> Result<Vec<ObjId>, DocError> {
    let mut out = Vec::new();
    for i in 0..doc.length(list) {
        match doc.get(list, i)? {
            Some((Value::Object(ObjType::Map), id)) => out.push(id),
            _ => return Err(invalid("list", "expected a map")),
        }
    }
    Ok(out)
}

/// The strings of the list at `key` (empty if absent).
pub(crate) fn get_str_list(doc: &AutoCommit, obj: &ObjId, key: &'static str) -> Result<Vec<String>, DocError> {
    let Some(list) = get_list(doc, obj, key)? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for i in 0..doc.length(&list) {
        match doc.get(&list, i)? {
            Some((Value::Scalar(s), _)) => match s.as_ref() {
                ScalarValue::Str(v) => out.push(v.to_string()),
                other => return Err(invalid(key, format!("expected strings, found {other}"))),
            },
            _ => return Err(invalid(key, "expected strings")),
        }
    }
    Ok(out)
}

/// Replaces the list of strings at `key` when it differs.
pub(crate) fn put_str_list(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &'static str,
    values: &[String],
) -> Result<(), DocError> {
    if get_list(doc, obj, key)?.is_some() && get_str_list(doc, obj, key)? == values {
        return Ok(());
    }
    let list = doc.put_object(obj, key, ObjType::List)?;
    for (i, v) in values.iter().enumerate() {
        doc.insert(&list, i, v.as_str())?;
    }
    Ok(())
}

/// A decimal as stored: normalized, so `2.00` and `2` are the same value.
pub(crate) fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}
