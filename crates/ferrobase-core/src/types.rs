//! Parse's wire values: dates, ids, tokens and the `__type` encodings.

use crate::error::{Error, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde_json::{Map, Value};

/// A Parse object in its wire form (field name → encoded value).
pub type Object = Map<String, Value>;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A new 10-character alphanumeric objectId, as Parse Server makes them.
pub fn new_object_id() -> String {
    random_string(10)
}

pub fn random_string(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    hex::encode(buf)
}

/// A session token in Parse's revocable form: `r:` + 32 hex characters.
pub fn new_session_token() -> String {
    format!("r:{}", random_hex(16))
}

/// Formats a time as Parse does: ISO 8601, UTC, milliseconds, `Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_iso() -> String {
    iso(Utc::now())
}

/// Parses an ISO date the way Parse clients send them and returns the canonical form
/// (so that dates compare correctly as strings in the store).
pub fn canonical_iso(s: &str) -> Result<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(iso(t.with_timezone(&Utc)));
    }
    // Dates without a zone (`2024-01-01T00:00:00`) or date only are read as UTC.
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
        return Ok(iso(t.and_utc()));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(iso(t.and_utc()));
        }
    }
    Err(Error::new(
        crate::error::code::INCORRECT_TYPE,
        format!("invalid date: {s}"),
    ))
}

pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

pub fn date_value(iso: &str) -> Value {
    serde_json::json!({"__type": "Date", "iso": iso})
}

pub fn pointer_value(class: &str, id: &str) -> Value {
    serde_json::json!({"__type": "Pointer", "className": class, "objectId": id})
}

/// The `__type` of an encoded value, if it has one.
pub fn type_tag(v: &Value) -> Option<&str> {
    v.as_object()?.get("__type")?.as_str()
}

/// `(className, objectId)` of an encoded Pointer.
pub fn as_pointer(v: &Value) -> Option<(&str, &str)> {
    let o = v.as_object()?;
    if o.get("__type")?.as_str()? != "Pointer" {
        return None;
    }
    Some((o.get("className")?.as_str()?, o.get("objectId")?.as_str()?))
}

/// Whether a string is a valid objectId for lookups (we accept any id the client could have made).
pub fn valid_object_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_ten_alphanumerics() {
        let id = new_object_id();
        assert_eq!(id.len(), 10);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(id, new_object_id());
    }

    #[test]
    fn session_tokens_have_parse_form() {
        let t = new_session_token();
        assert!(t.starts_with("r:"));
        assert_eq!(t.len(), 34);
    }

    #[test]
    fn dates_are_canonicalised() {
        assert_eq!(
            canonical_iso("2024-03-01T10:00:00Z").ok().as_deref(),
            Some("2024-03-01T10:00:00.000Z")
        );
        assert_eq!(
            canonical_iso("2024-03-01T12:00:00.5+02:00").ok().as_deref(),
            Some("2024-03-01T10:00:00.500Z")
        );
        assert!(canonical_iso("yesterday").is_err());
    }
}
