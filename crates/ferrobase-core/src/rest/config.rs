//! Parse Config (`GET`/`PUT /config`): one `_GlobalConfig` object with objectId `"1"` holding a
//! `params` map and a `masterKeyOnly` map, stored and answered as Parse Server 9 does
//! (GlobalConfigRouter.js), so it moves with the data to and from Parse Server.

use super::{validate, Core, Ctx};
use crate::error::{code, Error, Result};
use crate::hooks::Trigger;
use crate::query::{Filter, StoreQuery};
use crate::schema::FieldType;
use crate::types::{now_iso, Object};
use crate::update::{UpdateOp, Updates};
use serde_json::{json, Value};

const CLASS: &str = "_GlobalConfig";
const ID: &str = "1";

impl Core {
    /// The stored config object, if any.
    async fn stored_config(&self, ctx: &Ctx) -> Result<Option<Object>> {
        let Some(schema) = self.schema_fresh(CLASS).await else {
            return Ok(None);
        };
        let mut q = StoreQuery::filter(Filter::object_id(ID));
        q.limit = Some(1);
        Ok(self.store.find(&schema, &q, ctx.tx).await?.pop())
    }

    /// `GET /config`: every param for the master key; for others, without the params marked
    /// `masterKeyOnly` (and without their `masterKeyOnly` entries).
    pub async fn get_config(&self, ctx: &Ctx) -> Result<Value> {
        let Some(stored) = self.stored_config(ctx).await? else {
            return Ok(json!({"params": {}}));
        };
        let mut params = stored.get("params").cloned();
        let mut master_only = stored.get("masterKeyOnly").cloned();
        if !ctx.auth.master {
            if let (Some(Value::Object(p)), Some(Value::Object(m))) =
                (params.as_mut(), master_only.as_mut())
            {
                let hidden: Vec<String> = p
                    .keys()
                    .filter(|k| m.get(*k).is_some_and(truthy))
                    .cloned()
                    .collect();
                for k in hidden {
                    p.remove(&k);
                    m.remove(&k);
                }
            }
        }
        let mut out = Object::new();
        if let Some(p) = params {
            out.insert("params".into(), p);
        }
        if let Some(m) = master_only {
            out.insert("masterKeyOnly".into(), m);
        }
        Ok(Value::Object(out))
    }

    /// `PUT /config` (master key): sets each param in `params` (`{"__op":"Delete"}` removes
    /// one) and its `masterKeyOnly` flag (false unless given), answering `{"result": true}`.
    pub async fn put_config(&self, ctx: &Ctx, body: &Value) -> Result<Value> {
        if !ctx.auth.master {
            return Err(Error::Forbidden("Permission denied".into()));
        }
        if ctx.auth.read_only {
            return Err(Error::forbidden_op(
                "read-only masterKey isn't allowed to update the config.",
            ));
        }
        let params = body
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let master_only = body.get("masterKeyOnly").and_then(Value::as_object);
        let hooked = self.has_hook("@Config", Trigger::BeforeSave)
            || self.has_hook("@Config", Trigger::AfterSave);
        let original = if hooked {
            self.stored_config(ctx).await?.map_or(
                Value::Null,
                |c| json!({"params": c.get("params").cloned().unwrap_or(json!({}))}),
            )
        } else {
            Value::Null
        };
        self.config_trigger(
            ctx,
            Trigger::BeforeSave,
            json!({ "params": Value::Object(params.clone()) }),
            original.clone(),
        )
        .await?;
        let mut updates: Updates = Vec::new();
        for (key, value) in &params {
            if key.is_empty() || key.contains('$') || key.split('.').any(str::is_empty) {
                return Err(Error::new(
                    code::INVALID_KEY_NAME,
                    format!("Invalid field name: {key}."),
                ));
            }
            let op = match value.get("__op").and_then(Value::as_str) {
                Some("Delete") => UpdateOp::Delete,
                _ => UpdateOp::Set(validate::normalize(value, 0)?),
            };
            updates.push((format!("params.{key}"), op));
            let flag = match master_only.and_then(|m| m.get(key)) {
                Some(v) if truthy(v) => v.clone(),
                _ => Value::Bool(false),
            };
            updates.push((format!("masterKeyOnly.{key}"), UpdateOp::Set(flag)));
        }
        let master = ctx.as_master();
        let schema = self
            .ensure_fields(
                &master,
                CLASS,
                &[
                    ("params".into(), FieldType::Object),
                    ("masterKeyOnly".into(), FieldType::Object),
                ],
            )
            .await?;
        let now = now_iso();
        let mut with_time = updates.clone();
        with_time.push((
            "updatedAt".into(),
            UpdateOp::Set(Value::String(now.clone())),
        ));
        let filter = Filter::object_id(ID);
        if let Some(u) = self.store_update(ctx, &schema, &filter, &with_time).await? {
            let after = json!({"params": u.after.get("params").cloned().unwrap_or(json!({}))});
            self.config_trigger(ctx, Trigger::AfterSave, after, original)
                .await?;
            return Ok(json!({"result": true}));
        }
        // The first save: create the object (Parse's upsert).
        let mut obj = Object::new();
        obj.insert("params".into(), json!({}));
        obj.insert("masterKeyOnly".into(), json!({}));
        crate::update::apply(&mut obj, &updates)?;
        obj.insert("objectId".into(), Value::String(ID.into()));
        obj.insert("createdAt".into(), Value::String(now.clone()));
        obj.insert("updatedAt".into(), Value::String(now));
        match self.store_insert(ctx, &schema, obj).await {
            Ok(()) => {}
            // Another request (or node) created it meanwhile: apply the update to that one.
            Err(e) if e.code() == Some(code::DUPLICATE_VALUE) => {
                self.store_update(ctx, &schema, &filter, &with_time).await?;
            }
            Err(e) => return Err(e),
        }
        let after = json!({ "params": Value::Object(params) });
        self.config_trigger(ctx, Trigger::AfterSave, after, original)
            .await?;
        Ok(json!({"result": true}))
    }
}

/// JavaScript truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}
