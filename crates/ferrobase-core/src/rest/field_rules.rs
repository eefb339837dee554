//! Per-field schema rules applied to writes (Parse Server's `setRequiredFieldsIfNeeded` and the
//! field checks of `SchemaController`): `defaultValue` fills a field absent on create,
//! `required: true` refuses a create without the field and an update that empties it, and a
//! class holds at most one GeoPoint field.

use crate::error::{code, Error, Result};
use crate::schema::{ClassSchema, FieldType};
use crate::types::{type_tag, Object};
use serde_json::{Map, Value};

/// Parse's `typeToString`: `Pointer<_User>`, `Relation<Item>`, `String`…
fn type_string(t: &FieldType) -> String {
    match t {
        FieldType::Pointer(c) | FieldType::Relation(c) => format!("{}<{c}>", t.name()),
        other => other.name().to_string(),
    }
}

/// The `required` / `defaultValue` options of a field declared through the schema API, checked
/// as Parse checks them (111 when the default's type is not the field's, or for a Relation).
pub(super) fn field_options(
    class: &str,
    name: &str,
    t: &FieldType,
    spec: &Value,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let Some(spec) = spec.as_object() else {
        return Ok(out);
    };
    let relation = matches!(t, FieldType::Relation(_));
    if let Some(default) = spec.get("defaultValue") {
        if relation {
            return Err(Error::new(
                code::INCORRECT_TYPE,
                format!(
                    "The 'default value' option is not applicable for {}",
                    type_string(t)
                ),
            ));
        }
        if !default.is_null() {
            let got = FieldType::of_value(default).ok().flatten();
            if got.as_ref() != Some(t) {
                let got = got.map_or_else(|| "null".to_string(), |g| type_string(&g));
                return Err(Error::new(
                    code::INCORRECT_TYPE,
                    format!(
                        "schema mismatch for {class}.{name} default value; expected {} but got {got}",
                        type_string(t)
                    ),
                ));
            }
        }
        out.insert("defaultValue".into(), default.clone());
    }
    if let Some(required) = spec.get("required") {
        if relation && required.as_bool() == Some(true) && !out.contains_key("defaultValue") {
            return Err(Error::new(
                code::INCORRECT_TYPE,
                format!(
                    "The 'required' option is not applicable for {}",
                    type_string(t)
                ),
            ));
        }
        out.insert("required".into(), required.clone());
    }
    Ok(out)
}

/// A class may hold only one GeoPoint field. `schema_api`: the field is declared through
/// `/schemas` (Parse's `validateSchemaData` message), else added by saving an object (the
/// MongoDB adapter's message).
pub(super) fn check_one_geopoint(
    schema: &ClassSchema,
    name: &str,
    t: &FieldType,
    schema_api: bool,
) -> Result<()> {
    if *t != FieldType::GeoPoint {
        return Ok(());
    }
    let Some(existing) = schema
        .fields
        .iter()
        .find(|(k, ft)| k.as_str() != name && **ft == FieldType::GeoPoint)
        .map(|(k, _)| k)
    else {
        return Ok(());
    };
    let message = if schema_api {
        format!("currently, only one GeoPoint field may exist in an object. Adding {name} when {existing} already exists.")
    } else {
        "MongoDB only supports one GeoPoint field in a class.".to_string()
    };
    Err(Error::new(code::INCORRECT_TYPE, message))
}

fn is_delete_op(v: &Value) -> bool {
    v.get("__op").and_then(Value::as_str) == Some("Delete")
}

/// Checks a create or update body against the class's field rules and fills defaults on
/// create. Returns the fields set from their `defaultValue` (the create answer lists them, as
/// Parse lists fields it changed).
pub(super) fn apply(
    schema: Option<&ClassSchema>,
    body: &mut Object,
    creating: bool,
) -> Result<Vec<(String, Value)>> {
    let geopoints = body
        .values()
        .filter(|v| type_tag(v) == Some("GeoPoint"))
        .count();
    if geopoints > 1 {
        return Err(Error::new(
            code::INCORRECT_TYPE,
            "there can only be one geopoint field in a class",
        ));
    }
    let Some(schema) = schema else {
        return Ok(Vec::new());
    };
    let empty = |v: Option<&Value>| match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(v) => is_delete_op(v),
    };
    let required = |field: &str| Error::new(code::VALIDATION_ERROR, format!("{field} is required"));
    let mut defaulted = Vec::new();
    if creating {
        for field in schema.field_options.keys() {
            let value = body.get(field);
            if !empty(value) {
                continue;
            }
            let absent = value.is_none_or(is_delete_op);
            match schema.default_value(field) {
                Some(d) if absent => {
                    body.insert(field.clone(), d.clone());
                    defaulted.push((field.clone(), d.clone()));
                }
                _ if schema.is_required(field) => return Err(required(field)),
                _ => {}
            }
        }
    } else {
        for (field, value) in body.iter() {
            if schema.is_required(field) && empty(Some(value)) {
                return Err(required(field));
            }
        }
    }
    Ok(defaulted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shop() -> ClassSchema {
        let mut s = ClassSchema::new("Shop");
        s.fields.insert("name".into(), FieldType::String);
        s.fields.insert("stars".into(), FieldType::Number);
        s.field_options.insert(
            "name".into(),
            json!({"required": true})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        s.field_options.insert(
            "stars".into(),
            json!({"defaultValue": 3})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        s
    }

    #[test]
    fn defaults_and_required_on_create_and_update() {
        let s = shop();
        let mut body = json!({"name": "x"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            apply(Some(&s), &mut body, true),
            Ok(vec![("stars".to_string(), json!(3))])
        );
        assert_eq!(body.get("stars"), Some(&json!(3)));
        let mut body = json!({"stars": 1}).as_object().cloned().unwrap_or_default();
        assert_eq!(
            apply(Some(&s), &mut body, true).map_err(|e| e.code()),
            Err(Some(142))
        );
        let mut body = json!({"name": {"__op": "Delete"}})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(apply(Some(&s), &mut body, false).is_err());
        let mut body = json!({"stars": null})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(apply(Some(&s), &mut body, false), Ok(Vec::new()));
    }

    #[test]
    fn default_value_types_are_checked() {
        let e = field_options("C", "n", &FieldType::Number, &json!({"defaultValue": "x"}));
        assert_eq!(e.map_err(|e| e.code()), Err(Some(111)));
        let ok = field_options(
            "C",
            "p",
            &FieldType::Pointer("_User".into()),
            &json!({"defaultValue": {"__type": "Pointer", "className": "_User", "objectId": "a"}, "required": true}),
        );
        assert_eq!(ok.map(|o| o.len()), Ok(2));
    }
}
