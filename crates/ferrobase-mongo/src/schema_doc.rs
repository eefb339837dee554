//! Class schemas as Parse Server stores them in `_SCHEMA`: `_id` = class name, one key per field
//! with Parse's type strings (`"string"`, `"*_User"`, `"relation<_Role>"`), and `_metadata` with
//! `class_permissions` and `indexes`.

use crate::encode::interior_out;
use ferrobase_core::schema::{ClassSchema, FieldType};
use ferrobase_core::Result;
use mongodb::bson::{Bson, Document};
use serde_json::{Map, Value};

pub fn type_string(t: &FieldType) -> String {
    match t {
        FieldType::Pointer(c) => format!("*{c}"),
        FieldType::Relation(c) => format!("relation<{c}>"),
        FieldType::Acl => "acl".into(),
        other => other.name().to_ascii_lowercase(),
    }
}

pub fn parse_type(s: &str) -> Option<FieldType> {
    if let Some(c) = s.strip_prefix('*') {
        return Some(FieldType::Pointer(c.to_string()));
    }
    if let Some(c) = s
        .strip_prefix("relation<")
        .and_then(|r| r.strip_suffix('>'))
    {
        return Some(FieldType::Relation(c.to_string()));
    }
    Some(match s {
        "string" => FieldType::String,
        "number" => FieldType::Number,
        "boolean" => FieldType::Boolean,
        "date" => FieldType::Date,
        "object" | "map" => FieldType::Object,
        "array" => FieldType::Array,
        "geopoint" => FieldType::GeoPoint,
        "file" => FieldType::File,
        "bytes" => FieldType::Bytes,
        "polygon" => FieldType::Polygon,
        "acl" => FieldType::Acl,
        _ => return None,
    })
}

/// The `_SCHEMA` document of a class.
pub fn to_document(schema: &ClassSchema) -> Document {
    let mut d = Document::new();
    d.insert("_id", schema.class_name.clone());
    d.insert("objectId", "string");
    d.insert("updatedAt", "date");
    d.insert("createdAt", "date");
    for (k, t) in &schema.fields {
        // Parse keeps `password` out of `_SCHEMA` (the hash lives in `_hashed_password`).
        if matches!(k.as_str(), "objectId" | "createdAt" | "updatedAt" | "ACL")
            || (schema.class_name == "_User" && k == "password")
        {
            continue;
        }
        d.insert(k.clone(), type_string(t));
    }
    let mut meta = Document::new();
    meta.insert("class_permissions", crate::encode::interior(&schema.clp));
    // As Parse Server: `_id_` is always listed.
    let mut idx = Document::new();
    idx.insert("_id_", mongodb::bson::doc! {"_id": 1});
    for (name, spec) in &schema.indexes {
        idx.insert(name.clone(), crate::encode::interior(spec));
    }
    meta.insert("indexes", idx);
    // As Parse Server: `required` and `defaultValue` live in `_metadata.fields_options`.
    if !schema.field_options.is_empty() {
        let mut opts = Document::new();
        for (field, o) in &schema.field_options {
            opts.insert(
                field.clone(),
                crate::encode::interior(&Value::Object(o.clone())),
            );
        }
        meta.insert("fields_options", opts);
    }
    d.insert("_metadata", meta);
    d
}

pub fn from_document(d: &Document) -> Result<Option<ClassSchema>> {
    let Ok(class) = d.get_str("_id") else {
        return Ok(None);
    };
    let mut fields = Map::new();
    for (k, v) in d {
        if k.starts_with('_')
            || matches!(k.as_str(), "objectId" | "createdAt" | "updatedAt" | "ACL")
        {
            continue;
        }
        if let Some(t) = v.as_str().and_then(parse_type) {
            fields.insert(k.clone(), t.to_json());
        }
    }
    let meta = d.get_document("_metadata").ok();
    if let Some(opts) = meta.and_then(|m| m.get_document("fields_options").ok()) {
        for (field, o) in opts {
            if let (Some(Value::Object(f)), Value::Object(o)) =
                (fields.get_mut(field), interior_out(o))
            {
                f.extend(o);
            }
        }
    }
    let clp = meta
        .and_then(|m| m.get("class_permissions"))
        .map(interior_out);
    let indexes: Option<Map<String, Value>> = meta
        .and_then(|m| m.get("indexes"))
        .and_then(Bson::as_document)
        .map(|i| {
            i.iter()
                .map(|(k, v)| (k.clone(), interior_out(v)))
                .collect()
        });
    ClassSchema::from_stored(class, &fields, clp.as_ref(), indexes.as_ref()).map(Some)
}
