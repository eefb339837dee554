//! Checks on incoming values: field names, types against the schema, encoded values.

use crate::error::{code, Error, Result};
use crate::schema::{field_name_is_valid, FieldType};
use crate::types::{canonical_iso, type_tag};
use serde_json::{Map, Value};

/// Error 111 when a value's type does not fit the field's schema type.
pub(super) fn check_type(
    class: &str,
    key: &str,
    expected: &FieldType,
    got: &FieldType,
) -> Result<()> {
    if expected == got {
        return Ok(());
    }
    let show = |t: &FieldType| match t {
        FieldType::Pointer(c) | FieldType::Relation(c) => format!("{}<{c}>", t.name()),
        _ => t.name().to_string(),
    };
    Err(Error::new(
        code::INCORRECT_TYPE,
        format!(
            "schema mismatch for {class}.{key}; expected {} but got {}",
            show(expected),
            show(got)
        ),
    ))
}

/// Validates and normalises an encoded value (canonical dates, GeoPoint bounds, nested keys).
pub(super) fn normalize(v: &Value, depth: usize) -> Result<Value> {
    if depth > 64 {
        return Err(Error::invalid_json("value is nested too deeply"));
    }
    Ok(match v {
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| normalize(x, depth + 1))
                .collect::<Result<_>>()?,
        ),
        Value::Object(o) => {
            match type_tag(v) {
                Some("Date") => {
                    let iso = o.get("iso").and_then(Value::as_str).ok_or_else(|| {
                        Error::new(code::INCORRECT_TYPE, "Date needs an iso string")
                    })?;
                    crate::types::date_value(&canonical_iso(iso)?)
                }
                Some("GeoPoint") => {
                    let lat = o.get("latitude").and_then(Value::as_f64);
                    let lng = o.get("longitude").and_then(Value::as_f64);
                    match (lat, lng) {
                        (Some(la), Some(ln))
                            if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&ln) =>
                        {
                            serde_json::json!({"__type": "GeoPoint", "latitude": la, "longitude": ln})
                        }
                        _ => {
                            return Err(Error::new(
                                code::INCORRECT_TYPE,
                                "GeoPoint latitude/longitude out of bounds or missing",
                            ))
                        }
                    }
                }
                Some("Pointer") => {
                    let ok = o
                        .get("className")
                        .and_then(Value::as_str)
                        .is_some_and(|c| !c.is_empty())
                        && o.get("objectId")
                            .and_then(Value::as_str)
                            .is_some_and(|i| !i.is_empty());
                    if !ok {
                        return Err(Error::new(
                            code::INVALID_POINTER,
                            "Pointer needs className and objectId",
                        ));
                    }
                    let mut p = o.clone();
                    p.retain(|k, _| k == "__type" || k == "className" || k == "objectId");
                    Value::Object(p)
                }
                Some("Bytes") => {
                    use base64::Engine;
                    let ok = o.get("base64").and_then(Value::as_str).is_some_and(|b| {
                        base64::engine::general_purpose::STANDARD.decode(b).is_ok()
                    });
                    if !ok {
                        return Err(Error::new(
                            code::INCORRECT_TYPE,
                            "Bytes needs a base64 string",
                        ));
                    }
                    v.clone()
                }
                Some("File") => {
                    if o.get("name").and_then(Value::as_str).is_none() {
                        return Err(Error::new(code::INCORRECT_TYPE, "File needs a name"));
                    }
                    // Stored by name only; the `url` is made on read (so it follows the server).
                    let mut f = o.clone();
                    f.retain(|k, _| k == "__type" || k == "name");
                    Value::Object(f)
                }
                Some("Polygon") | Some("Relation") | Some("Object") => v.clone(),
                Some(other) => {
                    return Err(Error::new(
                        code::INCORRECT_TYPE,
                        format!("invalid type: {other}"),
                    ))
                }
                None => {
                    let mut out = Map::new();
                    for (k, x) in o {
                        if k.contains('$') || k.contains('.') {
                            return Err(Error::new(
                                code::INVALID_NESTED_KEY,
                                "Nested keys should not contain the '$' or '.' characters",
                            ));
                        }
                        out.insert(k.clone(), normalize(x, depth + 1)?);
                    }
                    Value::Object(out)
                }
            }
        }
        _ => v.clone(),
    })
}

/// A top-level field name a client may write.
pub(super) fn check_field_name(key: &str) -> Result<()> {
    if field_name_is_valid(key) {
        Ok(())
    } else {
        Err(Error::new(
            code::INVALID_KEY_NAME,
            format!("Invalid field name: {key}."),
        ))
    }
}
