//! The one place an object write reaches the store (Parse Server's DatabaseController
//! `create`/`update`/`destroy`). REST writes and the system's own writes (sessions, lockout
//! counters, email tokens) all pass here, so change events, cache invalidation and write metrics
//! each live in one place. User triggers run one level up (`rest/write.rs`, `rest/triggers.rs`),
//! where Parse runs them: system writes never run them, as in Parse.

use super::{Core, Ctx};
use crate::error::Result;
use crate::events::{ChangeEvent, ChangeKind};
use crate::query::{Filter, StoreQuery};
use crate::schema::ClassSchema;
use crate::storage::Updated;
use crate::types::Object;
use crate::update::Updates;
use serde_json::Value;

impl Core {
    /// Inserts a new object (a unique-index violation is error 137).
    pub(super) async fn store_insert(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        object: Object,
    ) -> Result<()> {
        let copy = self.changes.has_subscribers().then(|| object.clone());
        self.store.insert(schema, object, ctx.tx).await?;
        self.after_store_write(ctx, schema, ChangeKind::Create, copy, None);
        Ok(())
    }

    /// Applies `updates` to the one object `filter` matches; `None` when none does.
    pub(super) async fn store_update(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
    ) -> Result<Option<Updated>> {
        let updated = self.store.update(schema, filter, updates, ctx.tx).await?;
        if let Some(u) = &updated {
            self.after_store_write(
                ctx,
                schema,
                ChangeKind::Update,
                Some(u.after.clone()),
                Some(u.before.clone()),
            );
        }
        Ok(updated)
    }

    /// Deletes every object `filter` matches; returns how many.
    pub(super) async fn store_delete(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        filter: &Filter,
    ) -> Result<u64> {
        // The deleted objects are read first only when someone listens for their events.
        let doomed = if self.changes.has_subscribers() {
            self.store
                .find(schema, &StoreQuery::filter(filter.clone()), ctx.tx)
                .await?
        } else {
            Vec::new()
        };
        let n = self.store.delete(schema, filter, ctx.tx).await?;
        if n > 0 {
            if doomed.is_empty() {
                self.after_store_write(ctx, schema, ChangeKind::Delete, None, None);
            }
            for object in doomed {
                self.after_store_write(ctx, schema, ChangeKind::Delete, Some(object), None);
            }
        }
        Ok(n)
    }

    /// What follows every write: cached sessions that may be stale are dropped (a role's members
    /// or children, a user's fields, a session), and the change event is published (or held until
    /// the transaction commits).
    fn after_store_write(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        kind: ChangeKind,
        object: Option<Object>,
        original: Option<Object>,
    ) {
        match schema.class_name.as_str() {
            // Role membership or the hierarchy may have changed: every cached role set is stale
            // (the role epoch moves on, also when the transaction ends; see `grants`).
            "_Role" if kind != ChangeKind::Create || touches_members(object.as_ref()) => {
                self.role_written(ctx)
            }
            "_Session" if kind != ChangeKind::Create => match object
                .as_ref()
                .and_then(|o| o.get("sessionToken"))
                .and_then(Value::as_str)
            {
                Some(token) => self.forget_sessions(|u| u.session_token == token),
                None => self.forget_sessions(|_| true),
            },
            "_User" if kind != ChangeKind::Create => match object
                .as_ref()
                .and_then(|o| o.get("objectId"))
                .and_then(Value::as_str)
            {
                Some(id) => self.forget_sessions(|u| u.user_id == id),
                None => self.forget_sessions(|_| true),
            },
            _ => {}
        }
        if let Some(object) = object {
            self.emit(
                ctx,
                ChangeEvent {
                    class: schema.class_name.clone(),
                    kind,
                    object,
                    original,
                },
            );
        }
    }
}

/// A new role created with `users` or `roles` changes grants at once (its relations are written
/// by the update that follows the insert, which invalidates too; this covers stores that write
/// them with the insert).
fn touches_members(object: Option<&Object>) -> bool {
    object.is_none_or(|o| o.contains_key("users") || o.contains_key("roles"))
}

impl Core {
    /// The server's own bookkeeping object (`_JobStatus`, `_PushStatus`, …) as Parse Server writes
    /// it through its database controller: no triggers and no REST rules, fields added to the
    /// class as needed (every store keeps `updatedAt`, which Parse leaves out). Returns the id.
    pub async fn system_insert(&self, class: &str, fields: Object) -> Result<String> {
        let ctx = Ctx::new(crate::auth::Auth::master());
        let prep = self.prepare(class, self.schema(class).as_deref(), fields, true, None)?;
        let schema = self.writable_schema(&ctx, class, &prep.new_fields).await?;
        let (obj, _) = super::write::new_object(&prep)?;
        let id = obj
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.store_insert(&ctx, &schema, obj).await?;
        Ok(id)
    }

    /// Sets fields of a bookkeeping object (see [`Self::system_insert`]).
    pub async fn system_update(&self, class: &str, id: &str, fields: Object) -> Result<()> {
        let ctx = Ctx::new(crate::auth::Auth::master());
        let prep = self.prepare(
            class,
            self.schema(class).as_deref(),
            fields,
            false,
            Some(id),
        )?;
        let schema = self.writable_schema(&ctx, class, &prep.new_fields).await?;
        self.store_update(&ctx, &schema, &Filter::object_id(id), &prep.updates)
            .await?;
        Ok(())
    }
}

impl Core {
    /// Sets `field` of a bookkeeping object to `new` only if it still holds `seen` (absent for
    /// `None`): one node of several wins (job schedules). Answers whether this call won.
    pub async fn system_claim(
        &self,
        class: &str,
        id: &str,
        field: &str,
        seen: Option<&serde_json::Number>,
        new: Value,
    ) -> Result<bool> {
        let Some(schema) = self.schema(class) else {
            return Ok(false);
        };
        let cond = match seen {
            Some(n) => crate::query::Cond::Eq(crate::query::Scalar::Number(n.clone())),
            None => crate::query::Cond::Exists(false),
        };
        let filter = Filter::object_id(id).and(Filter::Field {
            path: field.to_string(),
            cond,
        });
        let ctx = Ctx::new(crate::auth::Auth::master());
        let ups: Updates = vec![(field.to_string(), crate::update::UpdateOp::Set(new))];
        Ok(self
            .store_update(&ctx, &schema, &filter, &ups)
            .await?
            .is_some())
    }
}
