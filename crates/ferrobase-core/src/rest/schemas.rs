//! The schema API (`/schemas`, master key only).

use super::{Core, Ctx};
use crate::error::{code, Error, Result};
use crate::query::Filter;
use crate::schema::{
    class_name_is_valid, field_name_is_valid, invalid_class_name_message, ClassSchema, FieldType,
    BASE_FIELDS,
};
use serde_json::{Map, Value};

fn schema_error(message: impl Into<String>) -> Error {
    Error::new(code::INVALID_SCHEMA_OPERATION, message)
}

fn require_master(ctx: &Ctx) -> Result<()> {
    if ctx.auth.master {
        Ok(())
    } else {
        Err(Error::Forbidden("Permission denied".into()))
    }
}

fn body_class_name<'a>(class: &'a str, body: &'a Map<String, Value>) -> Result<&'a str> {
    match body.get("className").and_then(Value::as_str) {
        Some(n) if n != class && !class.is_empty() => Err(Error::new(
            code::INVALID_CLASS_NAME,
            format!("Class name mismatch between {n} and {class}."),
        )),
        Some(n) => Ok(n),
        None if class.is_empty() => Err(Error::new(
            code::MISSING_OBJECT_ID,
            "POST /schemas needs a class name.",
        )),
        None => Ok(class),
    }
}

fn check_indexes(schema: &ClassSchema, indexes: &Map<String, Value>) -> Result<()> {
    for (name, spec) in indexes {
        let keys = spec
            .as_object()
            .filter(|k| !k.is_empty())
            .ok_or_else(|| schema_error(format!("Index {name} must list its keys.")))?;
        for (k, dir) in keys {
            let root = k.split('.').next().unwrap_or(k);
            if !schema.fields.contains_key(root) {
                return Err(schema_error(format!(
                    "Field {k} does not exist, cannot add index."
                )));
            }
            if !(dir == &Value::from(1) || dir == &Value::from(-1) || dir == &Value::from("text")) {
                return Err(schema_error(format!(
                    "Index {name}: direction of {k} must be 1, -1 or \"text\"."
                )));
            }
        }
    }
    Ok(())
}

impl Core {
    pub fn list_schemas(&self, ctx: &Ctx) -> Result<Vec<Value>> {
        require_master(ctx)?;
        Ok(self
            .all_schemas()
            .iter()
            .filter(|s| !crate::schema::VOLATILE_CLASSES.contains(&s.class_name.as_str()))
            .map(|s| s.to_json())
            .collect())
    }

    pub fn get_schema(&self, ctx: &Ctx, class: &str) -> Result<Value> {
        require_master(ctx)?;
        self.schema(class).map(|s| s.to_json()).ok_or_else(|| {
            Error::new(
                code::INVALID_CLASS_NAME,
                format!("Class {class} does not exist."),
            )
        })
    }

    pub async fn create_schema(&self, ctx: &Ctx, class: &str, body: Value) -> Result<Value> {
        require_master(ctx)?;
        ctx.auth.check_writable("addField")?;
        let body = body.as_object().cloned().unwrap_or_default();
        let class = body_class_name(class, &body)?.to_string();
        if !class_name_is_valid(&class) || class.starts_with("_Join:") {
            return Err(Error::new(
                code::INVALID_CLASS_NAME,
                invalid_class_name_message(&class),
            ));
        }
        let _guard = self.schema_changes.lock().await;
        if self.schema(&class).is_some() {
            return Err(Error::new(
                code::INVALID_CLASS_NAME,
                format!("Class {class} already exists."),
            ));
        }
        let mut schema = ClassSchema::new(&class);
        self.apply_schema_body(&mut schema, &body, false)?;
        Ok(self.store_schema(schema, None).await?.to_json())
    }

    pub async fn update_schema(&self, ctx: &Ctx, class: &str, body: Value) -> Result<Value> {
        require_master(ctx)?;
        ctx.auth.check_writable("addField")?;
        let body = body.as_object().cloned().unwrap_or_default();
        body_class_name(class, &body)?;
        let _guard = self.schema_changes.lock().await;
        let current = self.schema(class).ok_or_else(|| {
            Error::new(
                code::INVALID_CLASS_NAME,
                format!("Class {class} does not exist."),
            )
        })?;
        let mut schema = (*current).clone();
        let deleted = self.apply_schema_body(&mut schema, &body, true)?;
        for f in &deleted {
            self.store.delete_field(&schema, f).await?;
        }
        Ok(self.store_schema(schema, None).await?.to_json())
    }

    /// Applies `fields`, `classLevelPermissions` and `indexes` from a schema body; returns deleted fields.
    fn apply_schema_body(
        &self,
        schema: &mut ClassSchema,
        body: &Map<String, Value>,
        updating: bool,
    ) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        if let Some(fields) = body.get("fields") {
            let fields = fields
                .as_object()
                .ok_or_else(|| Error::invalid_json("fields must be an object"))?;
            for (name, spec) in fields {
                let is_delete = spec.get("__op").and_then(Value::as_str) == Some("Delete");
                if is_delete {
                    if !updating || !schema.fields.contains_key(name) {
                        return Err(schema_error(format!(
                            "Field {name} does not exist, cannot delete."
                        )));
                    }
                    if BASE_FIELDS.contains(&name.as_str())
                        || ClassSchema::new(&schema.class_name)
                            .fields
                            .contains_key(name)
                    {
                        return Err(schema_error(format!("field {name} cannot be changed")));
                    }
                    schema.fields.remove(name);
                    schema.field_options.remove(name);
                    deleted.push(name.clone());
                    continue;
                }
                if !field_name_is_valid(name) {
                    return Err(Error::new(
                        code::INVALID_KEY_NAME,
                        format!("invalid field name: {name}"),
                    ));
                }
                if schema.fields.contains_key(name) {
                    return Err(schema_error(format!("Field {name} exists, cannot update.")));
                }
                let t = FieldType::from_json(spec)?;
                if let FieldType::Pointer(target) | FieldType::Relation(target) = &t {
                    if !class_name_is_valid(target) {
                        return Err(Error::new(
                            code::INVALID_CLASS_NAME,
                            invalid_class_name_message(target),
                        ));
                    }
                }
                let options =
                    super::field_rules::field_options(&schema.class_name, name, &t, spec)?;
                super::field_rules::check_one_geopoint(schema, name, &t, true)?;
                schema.fields.insert(name.clone(), t);
                if !options.is_empty() {
                    schema.field_options.insert(name.clone(), options);
                }
            }
        }
        if let Some(clp) = body.get("classLevelPermissions") {
            if !clp.is_object() {
                return Err(Error::invalid_json(
                    "classLevelPermissions must be an object",
                ));
            }
            // Stored and read back exactly as set (an operation left out is not restricted).
            schema.clp = clp.clone();
        }
        if let Some(indexes) = body.get("indexes") {
            let indexes = indexes
                .as_object()
                .ok_or_else(|| Error::invalid_json("indexes must be an object"))?;
            for (name, spec) in indexes {
                if spec.get("__op").and_then(Value::as_str) == Some("Delete") {
                    if schema.indexes.remove(name).is_none() {
                        return Err(schema_error(format!(
                            "Index {name} does not exist, cannot delete."
                        )));
                    }
                } else if schema.indexes.contains_key(name) {
                    return Err(schema_error(format!("Index {name} exists, cannot update.")));
                } else {
                    let mut one = Map::new();
                    one.insert(name.clone(), spec.clone());
                    check_indexes(schema, &one)?;
                    schema.indexes.insert(name.clone(), spec.clone());
                }
            }
        }
        Ok(deleted)
    }

    pub async fn delete_schema(&self, ctx: &Ctx, class: &str) -> Result<()> {
        require_master(ctx)?;
        ctx.auth.check_writable("delete")?;
        if !class_name_is_valid(class) {
            return Err(Error::new(
                code::INVALID_CLASS_NAME,
                invalid_class_name_message(class),
            ));
        }
        let _guard = self.schema_changes.lock().await;
        let Some(schema) = self.schema(class) else {
            return Ok(());
        };
        let n = self.store.count(&schema, &Filter::True, None).await?;
        if n > 0 {
            return Err(schema_error(format!(
                "Class {class} is not empty, contains {n} objects, cannot drop schema."
            )));
        }
        self.store.delete_class(class).await?;
        self.forget_schema(class)
    }
}
