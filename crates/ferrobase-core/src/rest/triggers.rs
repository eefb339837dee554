//! Running Cloud Code triggers from the REST pipeline (Parse Server's `triggers.js`
//! `maybeRunTrigger`, and where RestWrite/RestQuery call it). Each helper is a no-op unless the
//! app registered that trigger on that class, so a class without hooks pays one map lookup.

use super::read::FindOptions;
use super::{output, Core, Ctx};
use crate::auth::Auth;
use crate::error::Result;
use crate::hooks::{Hooks, Trigger};
use crate::schema::ClassSchema;
use crate::types::Object;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// What a beforeFind trigger decided.
pub(super) enum BeforeFind {
    /// Run this query (the client's, or the trigger's change of it).
    Query(FindOptions),
    /// Answer these objects without querying (a beforeFind that returned objects).
    Objects(Vec<Object>),
}

/// A beforeSave's outcome: the body to save and the context afterSave will see.
pub(super) struct BeforeSave {
    pub body: Object,
    /// Keys whose value the trigger set or changed: echoed to the client, as Parse does.
    pub changed: Vec<String>,
    /// The trigger's `{"__op": "Delete"}` of changed keys: echoed as such, as Parse does.
    pub deletes: Object,
    pub context: Option<Map<String, Value>>,
}

impl Core {
    fn hook(&self, class: &str, trigger: Trigger) -> Option<&Arc<dyn Hooks>> {
        self.hooks.get().filter(|h| h.has(class, trigger))
    }

    pub(super) fn has_hook(&self, class: &str, trigger: Trigger) -> bool {
        self.hook(class, trigger).is_some()
    }

    /// What every Cloud Code request carries (for `/functions` and `/jobs`, which the HTTP layer
    /// sends to the runtime itself).
    pub fn cloud_request(&self, ctx: &Ctx) -> Map<String, Value> {
        self.hook_request(ctx, None)
    }

    /// The fields every trigger request carries: `master`, `user` (with its session token),
    /// `installationId`, `ip`, `headers`, `context`, `requestId`.
    fn hook_request(&self, ctx: &Ctx, context: Option<&Map<String, Value>>) -> Map<String, Value> {
        let mut r = Map::new();
        r.insert("master".into(), Value::Bool(ctx.auth.master));
        let user = match (&ctx.auth.user, self.schema("_User")) {
            (Some(u), Some(users)) => {
                let mut o = self.hook_object(&users, u.user.clone());
                if let Value::Object(m) = &mut o {
                    m.insert(
                        "sessionToken".into(),
                        Value::String(u.session_token.clone()),
                    );
                }
                o
            }
            _ => Value::Null,
        };
        r.insert("user".into(), user);
        r.insert(
            "installationId".into(),
            ctx.auth
                .installation_id
                .clone()
                .map_or(Value::Null, Value::String),
        );
        let meta = ctx.meta.as_deref();
        r.insert(
            "ip".into(),
            meta.map_or(Value::Null, |m| Value::String(m.ip.clone())),
        );
        r.insert(
            "headers".into(),
            Value::Object(meta.map(|m| m.headers.clone()).unwrap_or_default()),
        );
        let context = context
            .cloned()
            .or_else(|| meta.map(|m| m.context.clone()))
            .unwrap_or_default();
        r.insert("context".into(), Value::Object(context));
        r.insert(
            "requestId".into(),
            meta.and_then(|m| m.request_id.clone())
                .map_or(Value::Null, Value::String),
        );
        // Inside a transactional batch: the hook's own Parse calls join the transaction (they
        // would otherwise wait for it to end, and it for them).
        if let Some(tx) = ctx.tx {
            r.insert("txId".into(), Value::from(tx.0));
        }
        r
    }

    /// A stored object as triggers see it: the master's client view, with `className`.
    pub(super) fn hook_object(&self, schema: &ClassSchema, obj: Object) -> Value {
        let mut o = output::to_client(schema, obj, &Auth::master(), &self.config);
        o.insert("className".into(), Value::String(schema.class_name.clone()));
        Value::Object(o)
    }

    async fn run_hook(
        &self,
        ctx: &Ctx,
        class: &str,
        trigger: Trigger,
        extra: Value,
        context: Option<&Map<String, Value>>,
    ) -> Result<Option<Value>> {
        let Some(h) = self.hook(class, trigger) else {
            return Ok(None);
        };
        let mut request = self.hook_request(ctx, context);
        if let Value::Object(extra) = extra {
            request.extend(extra);
        }
        h.run(class, trigger, Value::Object(request))
            .await
            .map(Some)
    }

    /// A trigger whose failure is logged, not answered (afterSave, afterDelete, afterLogin, …).
    async fn run_after(
        &self,
        ctx: &Ctx,
        class: &str,
        trigger: Trigger,
        extra: Value,
        context: Option<&Map<String, Value>>,
    ) {
        if let Err(e) = self.run_hook(ctx, class, trigger, extra, context).await {
            tracing::warn!(class, trigger = trigger.name(), error = %e, "Cloud Code trigger failed");
        }
    }

    /// beforeSave: the trigger sees the stored object (or `{className}`) with the client's body
    /// and may change the body or refuse the write.
    pub(super) async fn before_save(
        &self,
        ctx: &Ctx,
        class: &str,
        schema: Option<&ClassSchema>,
        body: Object,
        original: Option<&Object>,
    ) -> Result<BeforeSave> {
        if !self.has_hook(class, Trigger::BeforeSave) {
            return Ok(BeforeSave {
                body,
                changed: Vec::new(),
                deletes: Object::new(),
                context: None,
            });
        }
        let original_json = match (original, schema) {
            (Some(o), Some(s)) => self.hook_object(s, o.clone()),
            _ => Value::Null,
        };
        let object = match &original_json {
            Value::Null => json!({ "className": class }),
            o => o.clone(),
        };
        let extra = json!({
            "object": object,
            "original": original_json,
            "body": Value::Object(body.clone()),
            "triggerName": "beforeSave",
        });
        let answer = self
            .run_hook(ctx, class, Trigger::BeforeSave, extra, None)
            .await?
            .unwrap_or(Value::Null);
        let context = answer.get("context").and_then(Value::as_object).cloned();
        let Some(new_body) = answer.get("body").and_then(Value::as_object).cloned() else {
            return Ok(BeforeSave {
                body,
                changed: Vec::new(),
                deletes: Object::new(),
                context,
            });
        };
        let mut new_body = new_body;
        for k in ["className", "createdAt", "updatedAt", "__type"] {
            new_body.remove(k);
        }
        new_body.remove("objectId");
        // Echoed as Parse does: keys the trigger set or changed, and keys of the client's body
        // the trigger dropped (they answer their stored value).
        let mut changed: Vec<String> = new_body
            .iter()
            .filter(|(k, v)| body.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect();
        changed.extend(
            body.keys()
                .filter(|k| !new_body.contains_key(*k) && !k.contains('.'))
                .filter(|k| !matches!(k.as_str(), "objectId" | "ACL" | "password"))
                .cloned(),
        );
        let deletes = changed
            .iter()
            .filter_map(|k| new_body.get(k).map(|v| (k, v)))
            .filter(|(_, v)| v.get("__op").and_then(Value::as_str) == Some("Delete"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(BeforeSave {
            body: new_body,
            changed,
            deletes,
            context,
        })
    }

    pub(super) async fn after_save(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        object: &Object,
        original: Option<&Object>,
        context: Option<&Map<String, Value>>,
    ) {
        let class = schema.class_name.as_str();
        if !self.has_hook(class, Trigger::AfterSave) {
            return;
        }
        let extra = json!({
            "object": self.hook_object(schema, object.clone()),
            "original": original.map_or(Value::Null, |o| self.hook_object(schema, o.clone())),
            "triggerName": "afterSave",
        });
        self.run_after(ctx, class, Trigger::AfterSave, extra, context)
            .await;
    }

    /// A trigger given one stored object: beforeDelete/afterDelete, beforeLogin/afterLogin,
    /// afterLogout (the session), beforePasswordResetRequest. "before" ones may refuse.
    pub(super) async fn object_trigger(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        trigger: Trigger,
        object: &Object,
    ) -> Result<()> {
        let class = schema.class_name.as_str();
        if !self.has_hook(class, trigger) {
            return Ok(());
        }
        let extra = json!({
            "object": self.hook_object(schema, object.clone()),
            "triggerName": trigger.name(),
        });
        self.fire(ctx, class, trigger, extra).await
    }

    /// Runs a trigger whose answer carries nothing: an "after" trigger's failure is logged, a
    /// "before" trigger's is the request's.
    async fn fire(&self, ctx: &Ctx, class: &str, trigger: Trigger, extra: Value) -> Result<()> {
        if matches!(
            trigger,
            Trigger::AfterSave | Trigger::AfterDelete | Trigger::AfterLogin | Trigger::AfterLogout
        ) {
            self.run_after(ctx, class, trigger, extra, None).await;
            return Ok(());
        }
        self.run_hook(ctx, class, trigger, extra, None).await?;
        Ok(())
    }

    /// beforeFind: the trigger may change the query, or answer objects itself.
    pub(super) async fn before_find(
        &self,
        ctx: &Ctx,
        class: &str,
        opts: &FindOptions,
        is_get: bool,
    ) -> Result<Option<BeforeFind>> {
        if !self.has_hook(class, Trigger::BeforeFind) {
            return Ok(None);
        }
        let query = query_json(class, opts);
        let extra = json!({
            "query": query,
            "count": opts.count,
            "isGet": is_get,
            "triggerName": "beforeFind",
        });
        let answer = self
            .run_hook(ctx, class, Trigger::BeforeFind, extra, None)
            .await?
            .unwrap_or(Value::Null);
        if let Some(objects) = answer.get("objects").and_then(Value::as_array) {
            return Ok(Some(BeforeFind::Objects(rest_objects(objects))));
        }
        Ok(Some(BeforeFind::Query(match answer.get("query") {
            Some(q) => find_options_of(q, opts.count, opts.explain),
            None => opts.clone(),
        })))
    }

    /// afterFind: the trigger sees the results and may replace them.
    pub(super) async fn after_find(
        &self,
        ctx: &Ctx,
        class: &str,
        opts: &FindOptions,
        results: Vec<Object>,
    ) -> Result<Vec<Object>> {
        if !self.has_hook(class, Trigger::AfterFind) {
            return Ok(results);
        }
        let objects: Vec<Value> = results
            .iter()
            .map(|o| {
                let mut o = o.clone();
                o.insert("className".into(), Value::String(class.to_string()));
                Value::Object(o)
            })
            .collect();
        let extra = json!({
            "objects": objects,
            "query": query_json(class, opts),
            "triggerName": "afterFind",
        });
        let answer = self
            .run_hook(ctx, class, Trigger::AfterFind, extra, None)
            .await?
            .unwrap_or(Value::Null);
        Ok(match answer.get("objects").and_then(Value::as_array) {
            Some(objects) => rest_objects(objects),
            None => results,
        })
    }

    /// `Parse.Config` beforeSave (may refuse; its changes are not saved, as in Parse Server) and
    /// afterSave (logged), with `{"params": …}` objects.
    pub(super) async fn config_trigger(
        &self,
        ctx: &Ctx,
        trigger: Trigger,
        object: Value,
        original: Value,
    ) -> Result<()> {
        const CONFIG: &str = "@Config";
        if !self.has_hook(CONFIG, trigger) {
            return Ok(());
        }
        let extra = json!({"object": object, "original": original, "triggerName": trigger.name()});
        self.fire(ctx, CONFIG, trigger, extra).await
    }
}

/// A query as Parse's trigger request carries it.
fn query_json(class: &str, opts: &FindOptions) -> Value {
    let mut q = Map::new();
    q.insert("className".into(), Value::String(class.to_string()));
    q.insert(
        "where".into(),
        opts.where_.clone().unwrap_or_else(|| json!({})),
    );
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    for (k, v) in [
        ("order", text(&opts.order)),
        ("keys", text(&opts.keys)),
        ("excludeKeys", text(&opts.exclude_keys)),
        ("include", text(&opts.include)),
        ("limit", opts.limit.map_or(Value::Null, Value::from)),
        ("skip", opts.skip.map_or(Value::Null, Value::from)),
    ] {
        if !v.is_null() {
            q.insert(k.into(), v);
        }
    }
    Value::Object(q)
}

/// A trigger's query back as find options.
fn find_options_of(q: &Value, count: bool, explain: bool) -> FindOptions {
    let text = |k: &str| match q.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    };
    FindOptions {
        where_: q.get("where").cloned().filter(|w| !w.is_null()),
        order: text("order"),
        limit: q.get("limit").and_then(Value::as_i64),
        skip: q.get("skip").and_then(Value::as_i64),
        keys: text("keys"),
        exclude_keys: text("excludeKeys"),
        include: text("include"),
        count,
        explain,
    }
}

/// Objects from a trigger (Parse JSON with `className`/`__type`) as REST results. Parse keeps
/// `className` on them (triggers.js `toJSONwithObjects`), so they are answered with it.
fn rest_objects(objects: &[Value]) -> Vec<Object> {
    objects
        .iter()
        .filter_map(Value::as_object)
        .map(|o| {
            let mut o = o.clone();
            o.remove("__type");
            o
        })
        .collect()
}
