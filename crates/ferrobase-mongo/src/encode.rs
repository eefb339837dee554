//! Parse objects in wire form ↔ MongoDB documents in Parse Server's layout
//! (`MongoTransform.js`): `_id`, `_created_at`/`_updated_at` as dates, `_p_<field>: "Class$id"`,
//! `_acl`, `_auth_data_<provider>`, `_session_token`, GeoPoints as `[lng, lat]`, Polygons as
//! GeoJSON, Bytes as binary, Files as their name, Dates (at any depth) as BSON dates.

use base64::Engine;
use ferrobase_core::schema::{ClassSchema, FieldType};
use ferrobase_core::types::{iso, parse_iso, type_tag, Object};
use mongodb::bson::{spec::BinarySubtype, Binary, Bson, DateTime, Document};
use serde_json::{json, Map, Number, Value};

/// Internal `_User` fields Parse keeps as BSON dates (the core hands them as ISO strings).
const INTERNAL_DATES: &[&str] = &[
    "_email_verify_token_expires_at",
    "_perishable_token_expires_at",
    "_account_lockout_expires_at",
    "_password_changed_at",
];

pub fn number(n: &Number) -> Bson {
    match n.as_i64() {
        Some(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
        None => Bson::Double(n.as_f64().unwrap_or(0.0)),
    }
}

pub fn date(iso_text: &str) -> Option<Bson> {
    parse_iso(iso_text).map(|t| Bson::DateTime(DateTime::from_millis(t.timestamp_millis())))
}

pub fn date_iso(d: &DateTime) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(d.timestamp_millis())
        .map(iso)
        .unwrap_or_default()
}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

/// A value inside an object or array: Dates become BSON dates, Bytes binary, Pointers are
/// normalised to `{__type, className, objectId}` (so that equality on them works).
pub fn interior(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number(n),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(interior).collect()),
        Value::Object(o) => {
            match type_tag(v) {
                Some("Date") => {
                    if let Some(d) = o.get("iso").and_then(Value::as_str).and_then(date) {
                        return d;
                    }
                }
                Some("Bytes") => {
                    if let Some(bytes) = o
                        .get("base64")
                        .and_then(Value::as_str)
                        .and_then(|s| b64().decode(s).ok())
                    {
                        return Bson::Binary(Binary {
                            subtype: BinarySubtype::Generic,
                            bytes,
                        });
                    }
                }
                Some("Pointer") => {
                    let mut d = Document::new();
                    d.insert("__type", "Pointer");
                    d.insert(
                        "className",
                        interior(o.get("className").unwrap_or(&Value::Null)),
                    );
                    d.insert(
                        "objectId",
                        interior(o.get("objectId").unwrap_or(&Value::Null)),
                    );
                    return Bson::Document(d);
                }
                _ => {}
            }
            Bson::Document(o.iter().map(|(k, x)| (k.clone(), interior(x))).collect())
        }
    }
}

/// A query value in wire form.
pub fn scalar_json(s: &ferrobase_core::query::Scalar) -> Value {
    use ferrobase_core::query::Scalar;
    match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(*b),
        Scalar::Number(n) => Value::Number(n.clone()),
        Scalar::String(x) => Value::String(x.clone()),
        Scalar::Date(d) => ferrobase_core::types::date_value(d),
        Scalar::Pointer { class, id } => ferrobase_core::types::pointer_value(class, id),
        Scalar::Json(j) => j.clone(),
    }
}

/// `{"*": {"read": true}}` → `{"*": {"r": true}}`.
fn acl_to_mongo(v: &Value) -> Bson {
    let mut out = Document::new();
    if let Some(o) = v.as_object() {
        for (who, perms) in o {
            let mut p = Document::new();
            if perms.get("read") == Some(&Value::Bool(true)) {
                p.insert("r", true);
            }
            if perms.get("write") == Some(&Value::Bool(true)) {
                p.insert("w", true);
            }
            out.insert(who.clone(), p);
        }
    }
    Bson::Document(out)
}

fn acl_from_mongo(d: &Document) -> Value {
    let mut out = Map::new();
    for (who, perms) in d {
        let mut p = Map::new();
        if let Bson::Document(pd) = perms {
            if pd.get_bool("r").unwrap_or(false) {
                p.insert("read".into(), Value::Bool(true));
            }
            if pd.get_bool("w").unwrap_or(false) {
                p.insert("write".into(), Value::Bool(true));
            }
        }
        out.insert(who.clone(), Value::Object(p));
    }
    Value::Object(out)
}

/// The document key of a top-level field (pointers by schema or by value).
pub fn field_key(schema: &ClassSchema, key: &str, value_is_pointer: bool) -> String {
    match key {
        "objectId" => "_id".into(),
        "createdAt" => "_created_at".into(),
        "updatedAt" => "_updated_at".into(),
        "sessionToken" => "_session_token".into(),
        "ACL" => "_acl".into(),
        k if value_is_pointer || matches!(schema.field(k), Some(FieldType::Pointer(_))) => {
            format!("_p_{k}")
        }
        k => k.to_string(),
    }
}

/// A dotted path as a document path (queries, sorts, updates of nested keys).
pub fn path_key(schema: &ClassSchema, path: &str, value_is_pointer: bool) -> String {
    match path.split_once('.') {
        None => field_key(schema, path, value_is_pointer),
        Some(("authData", rest)) => match rest.split_once('.') {
            Some((provider, tail)) => format!("_auth_data_{provider}.{tail}"),
            None => format!("_auth_data_{rest}"),
        },
        Some((root, rest)) => format!("{}.{rest}", field_key(schema, root, false)),
    }
}

/// One top-level field in document form: `(key, Some(value))` to set, `(key, None)` to unset.
pub fn top_level(schema: &ClassSchema, key: &str, v: &Value) -> Vec<(String, Option<Bson>)> {
    let tag = type_tag(v);
    let k = field_key(schema, key, tag == Some("Pointer"));
    let b = match (key, v) {
        ("createdAt" | "updatedAt", Value::String(s)) => date(s).unwrap_or_else(|| interior(v)),
        ("ACL", _) => acl_to_mongo(v),
        ("authData", Value::Object(providers)) => {
            return providers
                .iter()
                .map(|(p, data)| {
                    let key = format!("_auth_data_{p}");
                    (key, (!data.is_null()).then(|| interior(data)))
                })
                .collect()
        }
        (k, Value::String(s)) if INTERNAL_DATES.contains(&k) => {
            date(s).unwrap_or_else(|| interior(v))
        }
        _ => match (tag, v) {
            (Some("Pointer"), Value::Object(o)) => Bson::String(format!(
                "{}${}",
                o.get("className")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                o.get("objectId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )),
            (Some("GeoPoint"), Value::Object(o)) => {
                let f = |n: &str| o.get(n).and_then(Value::as_f64).unwrap_or(0.0);
                Bson::Array(vec![
                    Bson::Double(f("longitude")),
                    Bson::Double(f("latitude")),
                ])
            }
            (Some("File"), Value::Object(o)) if !o.contains_key("url") => {
                interior(o.get("name").unwrap_or(&Value::Null))
            }
            (Some("Polygon"), Value::Object(o)) => polygon(o.get("coordinates")),
            _ if schema.field(key) == Some(&FieldType::GeoPoint) && v.is_null() => Bson::Null,
            _ => interior(v),
        },
    };
    vec![(k, Some(b))]
}

/// Parse's `[[lat, lng], …]` → a closed GeoJSON ring of `[lng, lat]`.
fn polygon(coords: Option<&Value>) -> Bson {
    let mut ring: Vec<(f64, f64)> = coords
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((p.first()?.as_f64()?, p.get(1)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    if let (Some(first), Some(last)) = (ring.first().copied(), ring.last().copied()) {
        if first != last {
            ring.push(first);
        }
    }
    let ring: Vec<Bson> = ring
        .into_iter()
        .map(|(lat, lng)| Bson::Array(vec![Bson::Double(lng), Bson::Double(lat)]))
        .collect();
    let mut d = Document::new();
    d.insert("type", "Polygon");
    d.insert("coordinates", Bson::Array(vec![Bson::Array(ring)]));
    Bson::Document(d)
}

/// A whole object for insertion.
pub fn to_document(schema: &ClassSchema, obj: &Object) -> Document {
    let mut d = Document::new();
    for (k, v) in obj {
        if matches!(k.as_str(), "_rperm" | "_wperm") && v.is_null() {
            continue;
        }
        for (key, b) in top_level(schema, k, v) {
            if let Some(b) = b {
                d.insert(key, b);
            }
        }
    }
    d
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// A stored value back in wire form (dates and binaries at any depth).
pub fn interior_out(b: &Bson) -> Value {
    match b {
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::Boolean(x) => Value::Bool(*x),
        Bson::Int32(i) => json!(i),
        Bson::Int64(i) => json!(i),
        Bson::Double(f) => float(*f),
        Bson::String(s) => Value::String(s.clone()),
        Bson::Array(a) => Value::Array(a.iter().map(interior_out).collect()),
        Bson::Document(d) => Value::Object(
            d.iter()
                .map(|(k, x)| (k.clone(), interior_out(x)))
                .collect(),
        ),
        Bson::DateTime(d) => json!({"__type": "Date", "iso": date_iso(d)}),
        Bson::Binary(bin) => json!({"__type": "Bytes", "base64": b64().encode(&bin.bytes)}),
        Bson::ObjectId(o) => Value::String(o.to_hex()),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        other => other.clone().into_relaxed_extjson(),
    }
}

fn geo_point_out(b: &Bson) -> Option<Value> {
    let a = b.as_array()?;
    let num = |x: &Bson| match x {
        Bson::Double(f) => Some(*f),
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        _ => None,
    };
    let lng = num(a.first()?)?;
    let lat = num(a.get(1)?)?;
    Some(json!({"__type": "GeoPoint", "latitude": lat, "longitude": lng}))
}

fn polygon_out(b: &Bson) -> Option<Value> {
    let d = b.as_document()?;
    let ring = d.get_array("coordinates").ok()?.first()?.as_array()?;
    let mut pts: Vec<Value> = ring
        .iter()
        .filter_map(|p| {
            let v = interior_out(p);
            let a = v.as_array()?;
            Some(json!([a.first()?, a.get(1)?]))
        })
        .map(|p| json!([p[1], p[0]]))
        .collect();
    if pts.len() > 3 && pts.first() == pts.last() {
        pts.pop();
    }
    Some(json!({"__type": "Polygon", "coordinates": pts}))
}

/// A stored document back in the wire form the core expects.
pub fn from_document(schema: &ClassSchema, doc: &Document) -> Object {
    let mut out = Object::new();
    let mut auth = Map::new();
    for (k, b) in doc {
        match k.as_str() {
            "_id" => {
                out.insert("objectId".into(), interior_out(b));
            }
            "_created_at" | "_updated_at" => {
                let name = if k == "_created_at" {
                    "createdAt"
                } else {
                    "updatedAt"
                };
                let v = match b {
                    Bson::DateTime(d) => Value::String(date_iso(d)),
                    other => interior_out(other),
                };
                out.insert(name.into(), v);
            }
            "_acl" => {
                if let Bson::Document(d) = b {
                    out.insert("ACL".into(), acl_from_mongo(d));
                }
            }
            "_session_token" => {
                out.insert("sessionToken".into(), interior_out(b));
            }
            k if k.starts_with("_auth_data_") => {
                auth.insert(k["_auth_data_".len()..].to_string(), interior_out(b));
            }
            k if k.starts_with("_p_") => {
                if let Bson::String(s) = b {
                    if let Some((class, id)) = s.split_once('$') {
                        out.insert(
                            k[3..].to_string(),
                            json!({"__type": "Pointer", "className": class, "objectId": id}),
                        );
                    }
                }
            }
            k if k.starts_with('_') => {
                let v = match b {
                    Bson::DateTime(d) => Value::String(date_iso(d)),
                    other => interior_out(other),
                };
                out.insert(k.to_string(), v);
            }
            k => {
                let v = match (schema.field(k), b) {
                    (Some(FieldType::GeoPoint), Bson::Array(_)) => geo_point_out(b),
                    (Some(FieldType::Polygon), Bson::Document(_)) => polygon_out(b),
                    (Some(FieldType::File), Bson::String(name)) => {
                        Some(json!({"__type": "File", "name": name}))
                    }
                    _ => None,
                };
                out.insert(k.to_string(), v.unwrap_or_else(|| interior_out(b)));
            }
        }
    }
    if !auth.is_empty() {
        out.insert("authData".into(), Value::Object(auth));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "AA==", "AAECAw==", "aGVsbG8gd29ybGQ="] {
            let bytes = b64().decode(s).unwrap_or_default();
            assert_eq!(b64().encode(&bytes), s);
        }
    }

    #[test]
    fn object_round_trip() {
        let mut s = ClassSchema::new("T");
        s.fields.insert("g".into(), FieldType::GeoPoint);
        s.fields.insert("f".into(), FieldType::File);
        s.fields.insert("poly".into(), FieldType::Polygon);
        let o = json!({
            "objectId": "x", "createdAt": "2024-01-01T00:00:00.001Z", "updatedAt": "2024-01-01T00:00:00.000Z",
            "p": {"__type": "Pointer", "className": "A", "objectId": "b"},
            "d": {"__type": "Date", "iso": "2024-02-29T12:34:56.789Z"},
            "g": {"__type": "GeoPoint", "latitude": 48.85, "longitude": 2.35},
            "by": {"__type": "Bytes", "base64": "AAECAw=="},
            "f": {"__type": "File", "name": "a.jpg"},
            "poly": {"__type": "Polygon", "coordinates": [[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]]},
            "arr": [1, {"d": {"__type": "Date", "iso": "2024-02-29T12:34:56.789Z"}}],
            "ACL": {"*": {"read": true}, "u": {"read": true, "write": true}},
            "authData": {"anonymous": {"id": "z"}},
            "_rperm": ["*"], "_hashed_password": "h",
            "_account_lockout_expires_at": "2024-01-01T00:00:00.000Z"
        });
        let obj = o.as_object().cloned().unwrap_or_default();
        let d = to_document(&s, &obj);
        assert_eq!(d.get_str("_p_p").ok(), Some("A$b"));
        assert!(d.get_datetime("_account_lockout_expires_at").is_ok());
        assert_eq!(Value::Object(from_document(&s, &d)), o);
    }

    /// A user Parse Server 9 wrote after "Sign in with Apple" (its layout: one `_auth_data_<provider>`
    /// field per provider) reads back as `authData.apple`, and the paths the authData flow queries
    /// (`authData.apple.id`) and writes (`authData.apple`, set or unset) name those fields.
    #[test]
    fn parse_server_auth_data_layout() {
        let s = ClassSchema::new("_User");
        let mut d = Document::new();
        d.insert("_id", "u1");
        d.insert("username", "Zr8kq");
        let mut apple = Document::new();
        apple.insert("id", "001234.abcd");
        apple.insert("token", "eyJ.x.y");
        d.insert("_auth_data_apple", apple);
        let o = from_document(&s, &d);
        assert_eq!(o["authData"]["apple"]["id"], json!("001234.abcd"));
        assert_eq!(
            path_key(&s, "authData.apple.id", false),
            "_auth_data_apple.id"
        );
        assert_eq!(path_key(&s, "authData.apple", false), "_auth_data_apple");
        let back = to_document(&s, &o);
        assert!(back.get_document("_auth_data_apple").is_ok());
    }
}
