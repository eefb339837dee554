//! Writes: create, update, delete (Parse Server's RestWrite), with schema evolution and ACLs.

use super::{clp, validate, Core, Ctx};
use crate::acl;
use crate::error::{code, Error, Result};
use crate::events::{ChangeEvent, ChangeKind};
use crate::query::Filter;
use crate::schema::{class_name_is_valid, invalid_class_name_message, ClassSchema, FieldType};
use crate::storage::Updated;
use crate::types::{new_object_id, now_iso, Object};
use crate::update::{self, get_path, parse_op, UpdateOp, Updates};
use serde_json::{json, Value};

/// A write's answer: the body to send and, for creates, the new object's id.
#[derive(Debug, Clone)]
pub struct WriteResult {
    pub body: Object,
    pub created_id: Option<String>,
}

/// What a body asks for, checked against the schema.
pub(super) struct Prepared {
    pub updates: Updates,
    pub new_fields: Vec<(String, FieldType)>,
    pub acl: Option<Value>,
    pub password: Option<String>,
}

pub(super) fn body_object(body: Value) -> Result<Object> {
    match body {
        Value::Object(o) => Ok(o),
        _ => Err(Error::invalid_json(
            "This request body is not a JSON object.",
        )),
    }
}

impl Core {
    /// Checks every field of a create/update body and turns it into typed updates.
    pub(super) fn prepare(
        &self,
        class: &str,
        schema: Option<&ClassSchema>,
        body: Object,
        creating: bool,
        id: Option<&str>,
    ) -> Result<Prepared> {
        let mut p = Prepared {
            updates: Vec::new(),
            new_fields: Vec::new(),
            acl: None,
            password: None,
        };
        for (key, value) in body {
            match key.as_str() {
                "objectId" => {
                    if creating || id != value.as_str() {
                        return Err(Error::new(
                            code::INVALID_KEY_NAME,
                            "objectId is an invalid field name.",
                        ));
                    }
                    continue;
                }
                "createdAt" | "updatedAt" => continue,
                "ACL" => {
                    if !value.is_null() {
                        acl::permissions(&value)?;
                    }
                    p.acl = Some(value);
                    continue;
                }
                "password" if class == "_User" => {
                    match value {
                        Value::String(s) if !s.is_empty() => p.password = Some(s),
                        _ => {
                            return Err(Error::new(code::PASSWORD_MISSING, "password is required."))
                        }
                    }
                    continue;
                }
                "sessionToken" if class == "_User" => continue,
                _ => {}
            }
            let root = key.split('.').next().unwrap_or(&key).to_string();
            validate::check_field_name(&root)?;
            if root != key {
                if creating {
                    return Err(Error::new(
                        code::INVALID_KEY_NAME,
                        format!("Invalid field name: {key}."),
                    ));
                }
                if key.split('.').any(|s| s.is_empty() || s.contains('$')) {
                    return Err(Error::new(
                        code::INVALID_KEY_NAME,
                        format!("Invalid field name: {key}."),
                    ));
                }
                match schema.and_then(|s| s.field(&root)) {
                    Some(FieldType::Object) => {}
                    Some(other) => validate::check_type(class, &root, other, &FieldType::Object)?,
                    None => p.new_fields.push((root.clone(), FieldType::Object)),
                }
                p.updates
                    .push((key, parse_op(&validate::normalize(&value, 0)?)?));
                continue;
            }
            let value = validate::normalize(&value, 0)?;
            // Parse stores no value for `null`: the key reads back as absent.
            let op = match parse_op(&value)? {
                UpdateOp::Set(Value::Null) => UpdateOp::Delete,
                op => op,
            };
            if let Some(t) = FieldType::of_value(&value)? {
                match schema.and_then(|s| s.field(&key)) {
                    Some(existing) => validate::check_type(class, &key, existing, &t)?,
                    None => p.new_fields.push((key.clone(), t)),
                }
            }
            p.updates.push((key, op));
        }
        Ok(p)
    }

    /// Resolves the schema to write into, creating the class or fields as permissions allow.
    pub(super) async fn writable_schema(
        &self,
        ctx: &Ctx,
        class: &str,
        new_fields: &[(String, FieldType)],
    ) -> Result<std::sync::Arc<ClassSchema>> {
        match self.schema(class) {
            Some(s) if new_fields.is_empty() => Ok(s),
            Some(s) => {
                clp::check_full(&s, "addField", &ctx.auth)?;
                self.ensure_fields(ctx, class, new_fields).await
            }
            None => {
                if !ctx.auth.master && !self.config.allow_client_class_creation {
                    // Parse 9 answers "Permission denied" (and logs the class name).
                    tracing::debug!(class, "client may not create a class");
                    return Err(Error::forbidden_op("Permission denied"));
                }
                self.ensure_fields(ctx, class, new_fields).await
            }
        }
    }

    pub async fn create(&self, ctx: &Ctx, class: &str, body: Value) -> Result<WriteResult> {
        if !class_name_is_valid(class) || class.starts_with("_Join:") {
            if ctx.auth.master {
                return Err(Error::new(
                    code::INVALID_JSON,
                    invalid_class_name_message(class),
                ));
            }
            return Err(Error::forbidden_op("Permission denied"));
        }
        ctx.auth.check_writable("create")?;
        let body = body_object(body)?;
        match class {
            "_User" => return self.signup(ctx, body).await,
            "_Role" => super::roles::check_new_role(&body)?,
            "_Session" if !ctx.auth.master => {
                return Err(Error::new(
                    code::SESSION_MISSING,
                    "Sessions are created by signing up or logging in.",
                ))
            }
            _ => {}
        }
        if let Some(s) = self.schema_fresh(class).await {
            clp::check_full(&s, "create", &ctx.auth)?;
        }
        let existing = self.schema(class);
        let prep = self.prepare(class, existing.as_deref(), body, true, None)?;
        let schema = self.writable_schema(ctx, class, &prep.new_fields).await?;
        let (obj, echo) = new_object(&prep)?;
        self.insert_with_relations(ctx, &schema, obj, &prep.updates, echo)
            .await
    }

    /// Inserts a prepared object, writes its relation ops, and builds the create answer.
    pub(super) async fn insert_with_relations(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        obj: Object,
        updates: &Updates,
        mut echo: Object,
    ) -> Result<WriteResult> {
        let id = obj
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let created = obj.get("createdAt").cloned().unwrap_or(Value::Null);
        let event_copy = self.changes.has_subscribers().then(|| obj.clone());
        self.store.insert(schema, obj, ctx.tx).await?;
        let relations: Updates = updates
            .iter()
            .filter(|(_, op)| op.is_relation())
            .cloned()
            .collect();
        if !relations.is_empty() {
            self.store
                .update(schema, &Filter::object_id(&id), &relations, ctx.tx)
                .await?;
        }
        if let Some(object) = event_copy {
            self.emit(
                ctx,
                ChangeEvent {
                    class: schema.class_name.clone(),
                    kind: ChangeKind::Create,
                    object,
                    original: None,
                },
            );
        }
        echo.insert("objectId".into(), Value::String(id.clone()));
        echo.insert("createdAt".into(), created);
        Ok(WriteResult {
            body: echo,
            created_id: Some(id),
        })
    }

    pub async fn update(
        &self,
        ctx: &Ctx,
        class: &str,
        id: &str,
        body: Value,
    ) -> Result<WriteResult> {
        ctx.auth.check_writable("update")?;
        let schema = self
            .schema_fresh(class)
            .await
            .ok_or_else(Error::not_found)?;
        let body = body_object(body)?;
        if class == "_Role" {
            super::roles::check_role_update(&body)?;
        }
        let access = clp::check(&schema, "update", &ctx.auth)?;
        let mut prep = self.prepare(class, Some(&schema), body, false, Some(id))?;
        let mut extra = Object::new();
        if class == "_User" {
            self.prepare_user_update(ctx, id, &mut prep, &mut extra)
                .await?;
        }
        let schema = self.writable_schema(ctx, class, &prep.new_fields).await?;
        let now = now_iso();
        let mut updates = std::mem::take(&mut prep.updates);
        if let Some(acl_value) = prep.acl.take() {
            updates.extend(acl_updates(&acl_value)?);
        }
        updates.push((
            "updatedAt".into(),
            UpdateOp::Set(Value::String(now.clone())),
        ));
        let mut filter = Filter::object_id(id).and(access.filter(&ctx.auth));
        if !ctx.auth.master {
            filter = filter.and(Filter::WritableBy(ctx.auth.principals()));
            if class == "_Session" {
                filter = filter.and(own_sessions(ctx)?);
            }
        }
        let Updated {
            before,
            after: stored,
        } = self
            .store
            .update(&schema, &filter, &updates, ctx.tx)
            .await?
            .ok_or_else(Error::not_found)?;
        let mut body = Object::new();
        for (path, op) in &updates {
            if op.echoes_result() {
                if let Some(v) = get_path(&stored, path) {
                    body.insert(path.clone(), v.clone());
                }
            }
        }
        body.insert("updatedAt".into(), Value::String(now));
        self.emit(
            ctx,
            ChangeEvent {
                class: class.to_string(),
                kind: ChangeKind::Update,
                object: stored,
                original: Some(before),
            },
        );
        match class {
            "_User" => self.after_user_update(ctx, id, &mut body, extra).await?,
            // Role membership may have changed: resolve every session's roles again.
            "_Role" => self.forget_sessions(|_| true),
            _ => {}
        }
        Ok(WriteResult {
            body,
            created_id: None,
        })
    }

    pub async fn delete(&self, ctx: &Ctx, class: &str, id: &str) -> Result<()> {
        ctx.auth.check_writable("delete")?;
        let schema = self
            .schema_fresh(class)
            .await
            .ok_or_else(Error::not_found)?;
        let access = clp::check(&schema, "delete", &ctx.auth)?;
        if class == "_User" && !ctx.auth.master && ctx.auth.user_id() != Some(id) {
            return Err(Error::new(
                code::SESSION_MISSING,
                format!("Cannot delete user {id}."),
            ));
        }
        let mut filter = Filter::object_id(id).and(access.filter(&ctx.auth));
        if !ctx.auth.master {
            filter = filter.and(Filter::WritableBy(ctx.auth.principals()));
            if class == "_Session" {
                filter = filter.and(own_sessions(ctx)?);
            }
        }
        let doomed = if self.changes.has_subscribers() {
            let mut q = crate::query::StoreQuery::filter(filter.clone());
            q.limit = Some(1);
            self.store.find(&schema, &q, ctx.tx).await?.pop()
        } else {
            None
        };
        if self.store.delete(&schema, &filter, ctx.tx).await? == 0 {
            return Err(Error::not_found());
        }
        if let Some(object) = doomed {
            self.emit(
                ctx,
                ChangeEvent {
                    class: class.to_string(),
                    kind: ChangeKind::Delete,
                    object,
                    original: None,
                },
            );
        }
        match class {
            "_User" => {
                self.delete_sessions_of(ctx, id).await?;
                self.forget_sessions(|u| u.user_id == id);
            }
            "_Session" | "_Role" => self.forget_sessions(|_| true),
            _ => {}
        }
        Ok(())
    }

    pub async fn purge(&self, ctx: &Ctx, class: &str) -> Result<()> {
        ctx.auth.check_writable("delete")?;
        if !ctx.auth.master {
            return Err(Error::Forbidden("Permission denied".into()));
        }
        let schema = self.schema(class).ok_or_else(|| {
            Error::new(
                code::INVALID_CLASS_NAME,
                format!("Class {class} does not exist."),
            )
        })?;
        self.store.purge(&schema).await?;
        if matches!(class, "_Session" | "_User" | "_Role") {
            self.forget_sessions(|_| true);
        }
        Ok(())
    }
}

/// `user = caller`: sessions are only ever their own user's (they carry no ACL, as in Parse).
fn own_sessions(ctx: &Ctx) -> Result<Filter> {
    let uid = ctx.auth.user_id().ok_or_else(Error::invalid_session)?;
    Ok(Filter::eq(
        "user",
        crate::query::Scalar::Pointer {
            class: "_User".into(),
            id: uid.into(),
        },
    ))
}

/// The `ACL`, `_rperm` and `_wperm` updates for an ACL value (`null` removes the ACL: public).
pub(super) fn acl_updates(acl_value: &Value) -> Result<Updates> {
    if acl_value.is_null() {
        return Ok(vec![
            ("ACL".into(), UpdateOp::Delete),
            ("_rperm".into(), UpdateOp::Delete),
            ("_wperm".into(), UpdateOp::Delete),
        ]);
    }
    let (r, w) = acl::permissions(acl_value)?;
    Ok(vec![
        ("ACL".into(), UpdateOp::Set(acl_value.clone())),
        ("_rperm".into(), UpdateOp::Set(json!(r))),
        ("_wperm".into(), UpdateOp::Set(json!(w))),
    ])
}

/// Builds a new object from a prepared body; returns it and the op results to echo.
pub(super) fn new_object(prep: &Prepared) -> Result<(Object, Object)> {
    let mut obj = Object::new();
    update::apply(&mut obj, &prep.updates)?;
    let mut echo = Object::new();
    for (path, op) in &prep.updates {
        if op.echoes_result() {
            if let Some(v) = obj.get(path) {
                echo.insert(path.clone(), v.clone());
            }
        }
    }
    let now = now_iso();
    obj.insert("objectId".into(), Value::String(new_object_id()));
    obj.insert("createdAt".into(), Value::String(now.clone()));
    obj.insert("updatedAt".into(), Value::String(now));
    if let Some(a) = &prep.acl {
        for (k, op) in acl_updates(a)? {
            if let UpdateOp::Set(v) = op {
                obj.insert(k, v);
            }
        }
    }
    Ok((obj, echo))
}
