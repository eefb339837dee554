//! Writes: create, update, delete (Parse Server's RestWrite), with schema evolution and ACLs.

use super::{clp, validate, Core, Ctx};
use crate::acl;
use crate::error::{code, Error, Result};
use crate::hooks::Trigger;
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
        // Parse reads an array's indexes as field names.
        Value::Array(a) if a.is_empty() => Ok(Object::new()),
        Value::Array(_) => Err(Error::new(code::INVALID_KEY_NAME, "Invalid field name: 0.")),
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
            let ops = update::parse_ops(&value)?;
            if let Some(t) = FieldType::of_value(&value)? {
                match schema.and_then(|s| s.field(&key)) {
                    Some(existing) => validate::check_type(class, &key, existing, &t)?,
                    None => p.new_fields.push((key.clone(), t)),
                }
            }
            for op in ops {
                // Parse stores no value for `null`: the key reads back as absent.
                let op = match op {
                    UpdateOp::Set(Value::Null) => UpdateOp::Delete,
                    op => op,
                };
                p.updates.push((key.clone(), op));
            }
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
                // Parse's system classes (`_Installation`, …) may be created by any client.
                let system = crate::schema::SYSTEM_CLASSES.contains(&class);
                if !ctx.auth.master && !self.config.allow_client_class_creation && !system {
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
        super::enforce_class_security("create", class, &ctx.auth)?;
        let mut body = body_object(body)?;
        if class == "_Installation" {
            // An installation already known by its ids is updated instead (Parse's rules).
            if let Some(id) = self.resolve_installation(ctx, None, &mut body).await? {
                return self
                    .update_resolved(ctx, class, &id, Value::Object(body))
                    .await;
            }
        }
        match class {
            "_User" => {}
            "_Role" => super::roles::check_new_role(&body)?,
            "_Session" if !ctx.auth.master => {
                return Err(Error::new(
                    code::SESSION_MISSING,
                    "Sessions are created by signing up or logging in.",
                ))
            }
            _ => {}
        }
        if class != "_User" {
            if let Some(s) = self.schema_fresh(class).await {
                clp::check_full(&s, "create", &ctx.auth)?;
            }
        }
        let existing = self.schema(class);
        let mut saved = self
            .before_save(ctx, class, existing.as_deref(), body, None)
            .await?;
        // After beforeSave, as Parse's setRequiredFieldsIfNeeded: defaults, required fields.
        let defaulted = super::field_rules::apply(existing.as_deref(), &mut saved.body, true)?;
        let mut result = if class == "_User" {
            // What the trigger set is echoed, as for other classes (the stored user is not read).
            let echoed: Object = saved
                .changed
                .iter()
                .filter(|k| k.as_str() != "password")
                .filter_map(|k| saved.body.get(k).map(|v| (k.clone(), v.clone())))
                .filter(|(_, v)| v.get("__op").is_none())
                .collect();
            let mut r = self.signup(ctx, saved.body).await?;
            r.body.extend(echoed);
            r
        } else {
            let prep = self.prepare(class, existing.as_deref(), saved.body, true, None)?;
            let schema = self.writable_schema(ctx, class, &prep.new_fields).await?;
            let (obj, mut echo) = new_object(&prep)?;
            for k in &saved.changed {
                if let Some(v) = obj.get(k).or_else(|| saved.deletes.get(k)) {
                    echo.insert(k.clone(), v.clone());
                }
            }
            self.insert_with_relations(ctx, &schema, obj, &prep.updates, echo)
                .await?
        };
        // As Parse: the answer lists the fields the server set from their defaults.
        result.body.extend(defaulted);
        if let Some(id) = &result.created_id {
            if self.has_hook(class, Trigger::AfterSave) {
                if let Some((schema, stored)) = self.stored_object(ctx, class, id).await? {
                    self.after_save(ctx, &schema, &stored, None, saved.context.as_ref())
                        .await;
                }
            }
        }
        Ok(result)
    }

    /// An object as stored, read as the master (what triggers are given).
    async fn stored_object(
        &self,
        ctx: &Ctx,
        class: &str,
        id: &str,
    ) -> Result<Option<(std::sync::Arc<ClassSchema>, Object)>> {
        let Some(schema) = self.schema(class) else {
            return Ok(None);
        };
        let found = self
            .first_match(ctx, &schema, Filter::object_id(id))
            .await?;
        Ok(found.map(|o| (schema, o)))
    }

    /// The first object `filter` matches, in the request's transaction.
    async fn first_match(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        filter: Filter,
    ) -> Result<Option<Object>> {
        let mut q = crate::query::StoreQuery::filter(filter);
        q.limit = Some(1);
        Ok(self.store.find(schema, &q, ctx.tx).await?.pop())
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
        self.store_insert(ctx, schema, obj).await?;
        let relations: Updates = updates
            .iter()
            .filter(|(_, op)| op.is_relation())
            .cloned()
            .collect();
        if !relations.is_empty() {
            self.store_update(ctx, schema, &Filter::object_id(&id), &relations)
                .await?;
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
        if class == "_Installation" {
            ctx.auth.check_writable("update")?;
            let mut body = body_object(body)?;
            let target = self.resolve_installation(ctx, Some(id), &mut body).await?;
            let id = target.as_deref().unwrap_or(id);
            return self
                .update_resolved(ctx, class, id, Value::Object(body))
                .await;
        }
        self.update_resolved(ctx, class, id, body).await
    }

    /// An update of the object `id` once the target is known.
    async fn update_resolved(
        &self,
        ctx: &Ctx,
        class: &str,
        id: &str,
        body: Value,
    ) -> Result<WriteResult> {
        ctx.auth.check_writable("update")?;
        super::enforce_class_security("update", class, &ctx.auth)?;
        let schema = self
            .schema_fresh(class)
            .await
            .ok_or_else(Error::not_found)?;
        let body = body_object(body)?;
        if class == "_Role" {
            super::roles::check_role_update(&body)?;
        }
        let access = clp::check(&schema, "update", &ctx.auth)?;
        let filter = self.write_filter(ctx, class, id, access.filter(&ctx.auth))?;
        // Triggers see the object as it is: read with the caller's write rights (Parse's rest.update).
        let original = if self.has_hook(class, Trigger::BeforeSave)
            || self.has_hook(class, Trigger::AfterSave)
        {
            Some(
                self.first_match(ctx, &schema, filter.clone())
                    .await?
                    .ok_or_else(Error::not_found)?,
            )
        } else {
            None
        };
        let mut saved = self
            .before_save(ctx, class, Some(&schema), body, original.as_ref())
            .await?;
        // A required field may not be emptied (Parse's setRequiredFieldsIfNeeded).
        super::field_rules::apply(Some(&schema), &mut saved.body, false)?;
        let mut prep = self.prepare(class, Some(&schema), saved.body, false, Some(id))?;
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
        let Updated {
            before,
            after: stored,
        } = self
            .store_update(ctx, &schema, &filter, &updates)
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
        for k in &saved.changed {
            if let Some(v) = stored.get(k).or_else(|| saved.deletes.get(k)) {
                body.insert(k.clone(), v.clone());
            }
        }
        if !saved.changed.is_empty() {
            // A whole field echoed already holds what its dotted paths changed.
            body.retain(|k, _| {
                k.split_once('.')
                    .is_none_or(|(root, _)| !saved.changed.iter().any(|c| c == root))
            });
        }
        body.insert("updatedAt".into(), Value::String(now));
        if class == "_User" {
            self.after_user_update(ctx, id, &mut body, extra).await?;
        }
        self.after_save(ctx, &schema, &stored, Some(&before), saved.context.as_ref())
            .await;
        Ok(WriteResult {
            body,
            created_id: None,
        })
    }

    /// The objects a caller may write: the id, the class-level filter, and unless master the
    /// ACL write check (and for sessions, the caller's own).
    fn write_filter(&self, ctx: &Ctx, class: &str, id: &str, access: Filter) -> Result<Filter> {
        let mut filter = Filter::object_id(id).and(access);
        if !ctx.auth.master {
            filter = filter.and(Filter::WritableBy(ctx.auth.principals()));
            if class == "_Session" {
                filter = filter.and(own_sessions(ctx)?);
            }
        }
        Ok(filter)
    }

    pub async fn delete(&self, ctx: &Ctx, class: &str, id: &str) -> Result<()> {
        ctx.auth.check_writable("delete")?;
        super::enforce_class_security("delete", class, &ctx.auth)?;
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
        let filter = self.write_filter(ctx, class, id, access.filter(&ctx.auth))?;
        let doomed = if self.has_hook(class, Trigger::BeforeDelete)
            || self.has_hook(class, Trigger::AfterDelete)
        {
            let object = self
                .first_match(ctx, &schema, filter.clone())
                .await?
                .ok_or_else(Error::not_found)?;
            self.object_trigger(ctx, &schema, Trigger::BeforeDelete, &object)
                .await?;
            Some(object)
        } else {
            None
        };
        if self.store_delete(ctx, &schema, &filter).await? == 0 {
            return Err(Error::not_found());
        }
        if class == "_User" {
            self.delete_sessions_of(ctx, id).await?;
        }
        if let Some(object) = doomed {
            self.object_trigger(ctx, &schema, Trigger::AfterDelete, &object)
                .await?;
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
            self.role_written(ctx);
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
