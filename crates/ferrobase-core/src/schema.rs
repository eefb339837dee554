//! Class schemas in Parse's JSON form: field types, class-level permissions, indexes.

use crate::error::{code, Error, Result};
use crate::types::type_tag;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// A field's Parse type, with the target class for pointers and relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Boolean,
    Date,
    Object,
    Array,
    GeoPoint,
    File,
    Bytes,
    Polygon,
    Acl,
    Pointer(String),
    Relation(String),
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "String",
            FieldType::Number => "Number",
            FieldType::Boolean => "Boolean",
            FieldType::Date => "Date",
            FieldType::Object => "Object",
            FieldType::Array => "Array",
            FieldType::GeoPoint => "GeoPoint",
            FieldType::File => "File",
            FieldType::Bytes => "Bytes",
            FieldType::Polygon => "Polygon",
            FieldType::Acl => "ACL",
            FieldType::Pointer(_) => "Pointer",
            FieldType::Relation(_) => "Relation",
        }
    }

    /// `{"type": "...", "targetClass": "..."}`
    pub fn to_json(&self) -> Value {
        match self {
            FieldType::Pointer(t) | FieldType::Relation(t) => {
                json!({"type": self.name(), "targetClass": t})
            }
            _ => json!({"type": self.name()}),
        }
    }

    pub fn from_json(v: &Value) -> Result<FieldType> {
        let bad = || Error::new(code::INCORRECT_TYPE, format!("invalid field type: {v}"));
        let o = v.as_object().ok_or_else(bad)?;
        let t = o.get("type").and_then(Value::as_str).ok_or_else(bad)?;
        let target = || {
            o.get("targetClass")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| {
                    Error::new(
                        code::MISSING_REQUIRED_FIELD,
                        format!("type {t} needs a class name"),
                    )
                })
        };
        Ok(match t {
            "String" => FieldType::String,
            "Number" => FieldType::Number,
            "Boolean" => FieldType::Boolean,
            "Date" => FieldType::Date,
            "Object" => FieldType::Object,
            "Array" => FieldType::Array,
            "GeoPoint" => FieldType::GeoPoint,
            "File" => FieldType::File,
            "Bytes" => FieldType::Bytes,
            "Polygon" => FieldType::Polygon,
            "ACL" => FieldType::Acl,
            "Pointer" => FieldType::Pointer(target()?),
            "Relation" => FieldType::Relation(target()?),
            _ => {
                return Err(Error::new(
                    code::INCORRECT_TYPE,
                    format!("invalid field type: {t}"),
                ))
            }
        })
    }

    /// The type a (possibly `__op`) value would give a new field, or `None` for a delete.
    pub fn of_value(v: &Value) -> Result<Option<FieldType>> {
        Ok(Some(match v {
            Value::Null => return Ok(None),
            Value::Bool(_) => FieldType::Boolean,
            Value::Number(_) => FieldType::Number,
            Value::String(_) => FieldType::String,
            Value::Array(_) => FieldType::Array,
            Value::Object(o) => {
                if let Some(op) = o.get("__op").and_then(Value::as_str) {
                    return Ok(match op {
                        "Delete" => None,
                        "Increment" => Some(FieldType::Number),
                        "Add" | "AddUnique" | "Remove" => Some(FieldType::Array),
                        "AddRelation" | "RemoveRelation" => {
                            let target = o
                                .get("objects")
                                .and_then(Value::as_array)
                                .and_then(|a| a.first())
                                .and_then(|p| p.get("className"))
                                .and_then(Value::as_str)
                                .ok_or_else(|| {
                                    Error::new(code::INVALID_JSON, "relation op needs objects")
                                })?;
                            Some(FieldType::Relation(target.to_string()))
                        }
                        "Batch" => {
                            let first = o
                                .get("ops")
                                .and_then(Value::as_array)
                                .and_then(|a| a.first())
                                .ok_or_else(|| Error::new(code::INVALID_JSON, "empty Batch op"))?;
                            return FieldType::of_value(first);
                        }
                        other => {
                            return Err(Error::new(
                                code::INVALID_JSON,
                                format!("The {other} operator is not supported."),
                            ))
                        }
                    });
                }
                match type_tag(v) {
                    Some("Date") => FieldType::Date,
                    Some("GeoPoint") => FieldType::GeoPoint,
                    Some("File") => FieldType::File,
                    Some("Bytes") => FieldType::Bytes,
                    Some("Polygon") => FieldType::Polygon,
                    Some("Pointer") => {
                        let t = o.get("className").and_then(Value::as_str).ok_or_else(|| {
                            Error::new(code::INCORRECT_TYPE, "Pointer needs a className")
                        })?;
                        FieldType::Pointer(t.to_string())
                    }
                    Some("Relation") => {
                        let t = o
                            .get("className")
                            .and_then(Value::as_str)
                            .unwrap_or_default();
                        FieldType::Relation(t.to_string())
                    }
                    Some(other) => {
                        return Err(Error::new(
                            code::INCORRECT_TYPE,
                            format!("invalid type: {other}"),
                        ))
                    }
                    None => FieldType::Object,
                }
            }
        }))
    }
}

/// One class's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSchema {
    pub class_name: String,
    pub fields: BTreeMap<String, FieldType>,
    pub clp: Value,
    pub indexes: Map<String, Value>,
    /// Per-field options beside the type (Parse ≥ 3.7): `required` and `defaultValue`, as set.
    pub field_options: BTreeMap<String, Map<String, Value>>,
}

/// The field options Parse keeps beside a field's type.
pub const FIELD_OPTIONS: &[&str] = &["required", "defaultValue"];

pub const SYSTEM_CLASSES: &[&str] = &[
    "_User",
    "_Installation",
    "_Role",
    "_Session",
    "_Product",
    "_PushStatus",
    "_JobStatus",
    "_JobSchedule",
    "_Audience",
    "_Idempotency",
    "_GlobalConfig",
    "_GraphQLConfig",
    "_Hooks",
];

/// Parse's "volatile" classes (SchemaController's `volatileClasses`): Parse Server keeps their
/// schemas in memory, never in `_SCHEMA`, so `GET /schemas` never lists them (Parse Dashboard's
/// class list does not show them) even when they hold rows.
pub const VOLATILE_CLASSES: &[&str] = &[
    "_JobStatus",
    "_PushStatus",
    "_Hooks",
    "_GlobalConfig",
    "_GraphQLConfig",
    "_JobSchedule",
    "_Audience",
    "_Idempotency",
];

/// Fields every class has.
pub const BASE_FIELDS: &[&str] = &["objectId", "createdAt", "updatedAt", "ACL"];

pub fn default_clp() -> Value {
    json!({
        "ACL": {"*": {"read": true, "write": true}},
        "find": {"*": true}, "count": {"*": true}, "get": {"*": true}, "create": {"*": true},
        "update": {"*": true}, "delete": {"*": true}, "addField": {"*": true},
        "protectedFields": {"*": []}
    })
}

fn class_default_fields(class: &str) -> Vec<(&'static str, FieldType)> {
    let mut f = vec![
        ("objectId", FieldType::String),
        ("createdAt", FieldType::Date),
        ("updatedAt", FieldType::Date),
        ("ACL", FieldType::Acl),
    ];
    match class {
        "_User" => f.extend([
            ("username", FieldType::String),
            ("password", FieldType::String),
            ("email", FieldType::String),
            ("emailVerified", FieldType::Boolean),
            ("authData", FieldType::Object),
        ]),
        "_Session" => f.extend([
            ("user", FieldType::Pointer("_User".into())),
            ("installationId", FieldType::String),
            ("sessionToken", FieldType::String),
            ("expiresAt", FieldType::Date),
            ("createdWith", FieldType::Object),
        ]),
        "_Role" => f.extend([
            ("name", FieldType::String),
            ("users", FieldType::Relation("_User".into())),
            ("roles", FieldType::Relation("_Role".into())),
        ]),
        "_Installation" => f.extend([
            ("installationId", FieldType::String),
            ("deviceToken", FieldType::String),
            ("channels", FieldType::Array),
            ("deviceType", FieldType::String),
            ("pushType", FieldType::String),
            ("GCMSenderId", FieldType::String),
            ("timeZone", FieldType::String),
            ("localeIdentifier", FieldType::String),
            ("badge", FieldType::Number),
            ("appVersion", FieldType::String),
            ("appName", FieldType::String),
            ("appIdentifier", FieldType::String),
            ("parseVersion", FieldType::String),
        ]),
        _ => {}
    }
    f
}

impl ClassSchema {
    /// A new class with the default fields for its name and Parse's default permissions.
    pub fn new(class_name: &str) -> ClassSchema {
        ClassSchema {
            class_name: class_name.to_string(),
            fields: class_default_fields(class_name)
                .into_iter()
                .map(|(k, t)| (k.to_string(), t))
                .collect(),
            clp: default_clp(),
            indexes: Map::new(),
            field_options: BTreeMap::new(),
        }
    }

    /// `fields` in Parse's JSON form: each type with its options (`required`, `defaultValue`).
    pub fn fields_json(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(k, t)| {
                let mut v = t.to_json();
                if let (Some(o), Some(opts)) = (v.as_object_mut(), self.field_options.get(k)) {
                    for (name, value) in opts {
                        o.insert(name.clone(), value.clone());
                    }
                }
                (k.clone(), v)
            })
            .collect()
    }

    /// A field's `defaultValue`, if it has one.
    pub fn default_value(&self, field: &str) -> Option<&Value> {
        self.field_options
            .get(field)?
            .get("defaultValue")
            .filter(|v| !v.is_null())
    }

    /// Whether a field is declared `required: true`.
    pub fn is_required(&self, field: &str) -> bool {
        self.field_options
            .get(field)
            .and_then(|o| o.get("required"))
            .and_then(Value::as_bool)
            == Some(true)
    }

    pub fn field(&self, name: &str) -> Option<&FieldType> {
        self.fields.get(name)
    }

    /// The type of the top-level field a dotted path starts in.
    pub fn root_type(&self, path: &str) -> Option<&FieldType> {
        self.fields.get(path.split('.').next().unwrap_or(path))
    }

    /// Parse's JSON form, as `GET /schemas/:className` answers it.
    pub fn to_json(&self) -> Value {
        let fields = self.fields_json();
        let mut out = json!({
            "className": self.class_name,
            "fields": fields,
            "classLevelPermissions": self.clp,
        });
        // As Parse Server: `indexes` appears once the class has indexes of its own.
        if !self.indexes.is_empty() {
            let mut indexes = Map::new();
            indexes.insert("_id_".into(), json!({"_id": 1}));
            for (k, v) in &self.indexes {
                indexes.insert(k.clone(), v.clone());
            }
            out["indexes"] = Value::Object(indexes);
        }
        out
    }

    /// The stored form: everything needed to rebuild the schema (also used by the MongoDB `_SCHEMA`).
    pub fn from_stored(
        class_name: &str,
        fields: &Map<String, Value>,
        clp: Option<&Value>,
        indexes: Option<&Map<String, Value>>,
    ) -> Result<ClassSchema> {
        let mut s = ClassSchema::new(class_name);
        for (k, v) in fields {
            s.fields.insert(k.clone(), FieldType::from_json(v)?);
            let opts: Map<String, Value> = v
                .as_object()
                .map(|o| {
                    o.iter()
                        .filter(|(name, _)| FIELD_OPTIONS.contains(&name.as_str()))
                        .map(|(name, value)| (name.clone(), value.clone()))
                        .collect()
                })
                .unwrap_or_default();
            if !opts.is_empty() {
                s.field_options.insert(k.clone(), opts);
            }
        }
        if let Some(c) = clp {
            s.clp = c.clone();
        }
        if let Some(i) = indexes {
            s.indexes = i.clone();
        }
        Ok(s)
    }
}

/// Parse's class-name rule: system classes, join tables, or a letter followed by letters, digits and `_`.
pub fn class_name_is_valid(name: &str) -> bool {
    SYSTEM_CLASSES.contains(&name) || join_class_parts(name).is_some() || field_name_is_valid(name)
}

pub fn invalid_class_name_message(name: &str) -> String {
    format!("Invalid classname: {name}, classnames can only have alphanumeric characters and _, and must start with an alpha character ")
}

/// `_Join:<field>:<Class>` → (field, class).
pub fn join_class_parts(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("_Join:")?;
    let (field, class) = rest.split_once(':')?;
    (field_name_is_valid(field) && (field_name_is_valid(class) || SYSTEM_CLASSES.contains(&class)))
        .then_some((field, class))
}

/// Parse's field-name rule: a letter, then letters, digits and `_`.
pub fn field_name_is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        assert!(class_name_is_valid("Product"));
        assert!(class_name_is_valid("_User"));
        assert!(class_name_is_valid("_Join:users:_Role"));
        assert!(!class_name_is_valid("_Secret"));
        assert!(!class_name_is_valid("1abc"));
        assert!(!class_name_is_valid("a-b"));
        assert!(!class_name_is_valid(""));
    }

    #[test]
    fn value_types() -> Result<()> {
        assert_eq!(FieldType::of_value(&json!(1))?, Some(FieldType::Number));
        assert_eq!(
            FieldType::of_value(&json!({"__op": "Increment", "amount": 1}))?,
            Some(FieldType::Number)
        );
        assert_eq!(FieldType::of_value(&json!({"__op": "Delete"}))?, None);
        assert_eq!(
            FieldType::of_value(&json!({"__type": "Pointer", "className": "A", "objectId": "x"}))?,
            Some(FieldType::Pointer("A".into()))
        );
        assert_eq!(
            FieldType::of_value(&json!({"a": 1}))?,
            Some(FieldType::Object)
        );
        assert!(FieldType::of_value(&json!({"__op": "Explode"})).is_err());
        Ok(())
    }

    #[test]
    fn user_schema_lists_parse_fields() {
        // Parse Server lists `password` among `_User`'s fields (the value itself is never sent).
        let s = ClassSchema::new("_User").to_json();
        assert_eq!(s["fields"]["password"]["type"], "String");
        assert_eq!(s["fields"]["username"]["type"], "String");
    }
}
