//! Rows of a class table ↔ Parse objects.

use ferrobase_core::types::Object;
use ferrobase_core::{Error, Result};
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

pub const COLUMNS: &str = "objectId, createdAt, updatedAt, _rperm, _wperm, data";

/// Reads a row selected with `COLUMNS`.
pub fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Object>> {
    let id: String = row.get(0)?;
    let created: String = row.get(1)?;
    let updated: String = row.get(2)?;
    let rperm: Option<String> = row.get(3)?;
    let wperm: Option<String> = row.get(4)?;
    let data: String = row.get(5)?;
    Ok(assemble(id, created, updated, rperm, wperm, &data))
}

/// A row selected with `COLUMNS` as the object's JSON text, without parsing `data`: the three
/// columns are written in front of the stored fields (`_rperm`/`_wperm` are left out).
pub fn json_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<String>> {
    let id: String = row.get(0)?;
    let created: String = row.get(1)?;
    let updated: String = row.get(2)?;
    let data = row.get_ref(5)?.as_str()?;
    let Some(fields) = data.trim().strip_prefix('{') else {
        return Ok(Err(Error::internal("stored object is not a JSON object")));
    };
    let mut out = String::with_capacity(data.len() + id.len() + 96);
    out.push_str("{\"objectId\":");
    out.push_str(&Value::String(id).to_string());
    out.push_str(",\"createdAt\":");
    out.push_str(&Value::String(created).to_string());
    out.push_str(",\"updatedAt\":");
    out.push_str(&Value::String(updated).to_string());
    if fields.trim_start() != "}" {
        out.push(',');
    }
    out.push_str(fields);
    Ok(Ok(out))
}

fn assemble(
    id: String,
    created: String,
    updated: String,
    rperm: Option<String>,
    wperm: Option<String>,
    data: &str,
) -> Result<Object> {
    let mut obj: Object = serde_json::from_str(data).map_err(Error::internal)?;
    obj.insert("objectId".into(), Value::String(id));
    obj.insert("createdAt".into(), Value::String(created));
    obj.insert("updatedAt".into(), Value::String(updated));
    for (k, v) in [("_rperm", rperm), ("_wperm", wperm)] {
        if let Some(s) = v {
            obj.insert(k.into(), serde_json::from_str(&s).map_err(Error::internal)?);
        }
    }
    Ok(obj)
}

/// Splits an object into the column values (in `COLUMNS` order).
pub fn to_row(mut obj: Object) -> Result<[SqlValue; 6]> {
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Ok(SqlValue::Text(s)),
        _ => Err(Error::internal("object lacks objectId/createdAt/updatedAt")),
    };
    let perm = |v: Option<Value>| match v {
        None | Some(Value::Null) => SqlValue::Null,
        Some(v) => SqlValue::Text(v.to_string()),
    };
    let id = text(obj.remove("objectId"))?;
    let created = text(obj.remove("createdAt"))?;
    let updated = text(obj.remove("updatedAt"))?;
    let rperm = perm(obj.remove("_rperm"));
    let wperm = perm(obj.remove("_wperm"));
    let data = SqlValue::Text(Value::Object(obj).to_string());
    Ok([id, created, updated, rperm, wperm, data])
}
