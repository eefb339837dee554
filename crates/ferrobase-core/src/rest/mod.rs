//! The REST pipeline: Parse's rules between the HTTP layer and a store (Parse Server's
//! RestQuery/RestWrite and controllers). Handlers call `Core`; `Core` calls `Storage`.

mod accounts;
mod auth_flow;
mod clp;
mod config;
mod emails;
mod field_rules;
mod grants;
mod idempotency;
mod installations;
mod output;
mod push;
mod read;
mod roles;
mod schemas;
mod security;
mod sessions;
mod store_write;
#[cfg(test)]
mod tests;
mod triggers;
mod users;
mod validate;
mod write;

pub use output::file_url;
pub use push::PushJob;
pub use read::{FindOptions, FindWire};
pub use security::{enforce_class_security, MASTER_ONLY_CLASSES};
pub use write::WriteResult;

use crate::auth::{Auth, SessionUser};
use crate::config::CoreConfig;
use crate::error::{Error, Result};
use crate::query::{Filter, Scalar, StoreQuery};
use crate::schema::{ClassSchema, FieldType};
use crate::storage::{Storage, TxId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// How long a resolved session token is trusted before it is looked up again (Parse caches 5 s).
const SESSION_CACHE_TTL: Duration = Duration::from_secs(5);

/// Checks a class-level permission (`find`, `get`, …) for `auth` (LiveQuery subscribers) and
/// returns the filter it adds: `True`, or for pointer permissions "points to the caller".
pub fn check_class_permission(schema: &ClassSchema, op: &str, auth: &Auth) -> Result<Filter> {
    Ok(clp::check(schema, op, auth)?.filter(auth))
}

/// What `auth` may see of a stored object, as REST answers it: internal fields stripped,
/// private user fields hidden, Relation markers added (LiveQuery events).
pub fn client_view(
    schema: &ClassSchema,
    object: crate::types::Object,
    auth: &Auth,
    config: &crate::config::CoreConfig,
) -> crate::types::Object {
    output::to_client(schema, object, auth, config)
}

/// One request's context: who asks, the transaction it runs in (transactional batches), and what
/// Cloud Code triggers see of the request.
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    pub auth: Auth,
    pub tx: Option<TxId>,
    pub meta: Option<Arc<RequestMeta>>,
}

/// The request as Cloud Code sees it: `request.ip`, `request.headers`, `request.context`.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: String,
    /// Header names in lower case.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// `X-Parse-Cloud-Context`, `_context`, or the SDK's `context` option.
    pub context: serde_json::Map<String, serde_json::Value>,
    pub request_id: Option<String>,
}

impl Ctx {
    pub fn new(auth: Auth) -> Ctx {
        Ctx {
            auth,
            tx: None,
            meta: None,
        }
    }

    /// The same request as the master key (what Parse's triggers and system writes run as).
    pub fn as_master(&self) -> Ctx {
        Ctx {
            auth: Auth::master(),
            tx: self.tx,
            meta: self.meta.clone(),
        }
    }
}

/// The Parse application: config, store and the caches in front of it.
pub struct Core {
    pub config: CoreConfig,
    store: Arc<dyn Storage>,
    schemas: RwLock<HashMap<String, Arc<ClassSchema>>>,
    schema_changes: tokio::sync::Mutex<()>,
    /// Resolved sessions: when, in which role epoch, and the user with their roles.
    sessions: Mutex<HashMap<String, CachedSession>>,
    role_epoch: grants::RoleEpoch,
    /// Every successful write, for LiveQuery and other subscribers.
    pub changes: crate::events::ChangeFeed,
    mailer: Option<Arc<dyn crate::mailer::Mailer>>,
    /// Cloud Code triggers, once a runtime registers them.
    hooks: std::sync::OnceLock<Arc<dyn crate::hooks::Hooks>>,
    /// When the schema cache was last reloaded for an unknown class.
    last_reload: Mutex<Instant>,
    /// Change events of open transactions, published on commit.
    pending_events: Mutex<HashMap<TxId, Vec<crate::events::ChangeEvent>>>,
    /// `(class, field)` pairs the automatic indexer has already looked at.
    auto_indexed: Mutex<std::collections::HashSet<(String, String)>>,
}

/// A resolved session: when, in which role epoch (see `grants`), and the user with their roles.
type CachedSession = (Instant, u64, Arc<SessionUser>);

fn poisoned<T>(_: T) -> Error {
    Error::internal("lock poisoned")
}

impl Core {
    /// Loads the schemas and creates Parse's built-in classes when missing.
    pub async fn new(config: CoreConfig, store: Arc<dyn Storage>) -> Result<Core> {
        let core = Core {
            config,
            store,
            schemas: RwLock::new(HashMap::new()),
            schema_changes: tokio::sync::Mutex::new(()),
            sessions: Mutex::new(HashMap::new()),
            role_epoch: grants::RoleEpoch::default(),
            changes: crate::events::ChangeFeed::default(),
            mailer: None,
            hooks: std::sync::OnceLock::new(),
            auto_indexed: Mutex::new(std::collections::HashSet::new()),
            pending_events: Mutex::new(HashMap::new()),
            last_reload: Mutex::new(
                Instant::now()
                    .checked_sub(Duration::from_secs(1))
                    .unwrap_or_else(Instant::now),
            ),
        };
        core.reload_schemas().await?;
        for class in ["_User", "_Role", "_Session"] {
            if core.schema(class).is_none() {
                core.store_schema(ClassSchema::new(class), None).await?;
            }
        }
        Ok(core)
    }

    /// Gives the core a way to send email (verification and password-reset links).
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::mailer::Mailer>) -> Core {
        self.mailer = Some(mailer);
        self
    }

    /// Installs the Cloud Code runtime (once; later calls are ignored).
    pub fn set_hooks(&self, hooks: Arc<dyn crate::hooks::Hooks>) {
        let _ = self.hooks.set(hooks);
    }

    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.store
    }

    pub async fn reload_schemas(&self) -> Result<()> {
        let all = self.store.load_schemas().await?;
        let mut map = self.schemas.write().map_err(poisoned)?;
        map.clear();
        for s in all {
            map.insert(s.class_name.clone(), Arc::new(s));
        }
        Ok(())
    }

    /// The schema of a class, reloading the cache once when the class is unknown (another node
    /// may just have created it); reloads happen at most every 250 ms.
    pub async fn schema_fresh(&self, class: &str) -> Option<Arc<ClassSchema>> {
        if let Some(s) = self.schema(class) {
            return Some(s);
        }
        let due = self
            .last_reload
            .lock()
            .map(|mut at| {
                let due = at.elapsed() >= Duration::from_millis(250);
                if due {
                    *at = Instant::now();
                }
                due
            })
            .unwrap_or(false);
        if due {
            if let Err(e) = self.reload_schemas().await {
                tracing::warn!(error = %e, "schema reload failed");
            }
        }
        self.schema(class)
    }

    pub fn schema(&self, class: &str) -> Option<Arc<ClassSchema>> {
        self.schemas.read().ok()?.get(class).cloned()
    }

    pub fn all_schemas(&self) -> Vec<Arc<ClassSchema>> {
        let mut v: Vec<_> = self
            .schemas
            .read()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| a.class_name.cmp(&b.class_name));
        v
    }

    async fn store_schema(
        &self,
        schema: ClassSchema,
        tx: Option<TxId>,
    ) -> Result<Arc<ClassSchema>> {
        self.store.save_schema(&schema, tx).await?;
        let arc = Arc::new(schema);
        self.schemas
            .write()
            .map_err(poisoned)?
            .insert(arc.class_name.clone(), arc.clone());
        Ok(arc)
    }

    fn forget_schema(&self, class: &str) -> Result<()> {
        self.schemas.write().map_err(poisoned)?.remove(class);
        Ok(())
    }

    /// Makes sure `class` exists with `fields`, adding what is missing (class creation and
    /// `addField` permissions are checked by the caller). Returns the schema to write with.
    async fn ensure_fields(
        &self,
        ctx: &Ctx,
        class: &str,
        fields: &[(String, FieldType)],
    ) -> Result<Arc<ClassSchema>> {
        if let Some(s) = self.schema(class) {
            if fields.iter().all(|(k, _)| s.fields.contains_key(k)) {
                return Ok(s);
            }
        }
        let _guard = self.schema_changes.lock().await;
        let mut schema = match self.schema(class) {
            Some(s) => (*s).clone(),
            None => ClassSchema::new(class),
        };
        let mut changed = self.schema(class).is_none();
        for (k, t) in fields {
            match schema.fields.get(k) {
                Some(existing) => validate::check_type(class, k, existing, t)?,
                None => {
                    field_rules::check_one_geopoint(&schema, k, t, false)?;
                    schema.fields.insert(k.clone(), t.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            return self
                .schema(class)
                .ok_or_else(|| Error::internal("schema vanished"));
        }
        self.store_schema(schema, ctx.tx).await
    }

    /// Resolves a session token to its user, or error 209. Cached for a few seconds, and only
    /// while no `_Role` was written (see `grants`).
    pub async fn authenticate(&self, token: &str) -> Result<Arc<SessionUser>> {
        let epoch = self.role_epoch.current();
        if let Ok(cache) = self.sessions.lock() {
            if let Some((at, e, u)) = cache.get(token) {
                if at.elapsed() < SESSION_CACHE_TTL && *e == epoch {
                    return Ok(u.clone());
                }
            }
        }
        let user = Arc::new(self.load_session_user(token).await?);
        if let Ok(mut cache) = self.sessions.lock() {
            if cache.len() > 100_000 {
                cache.retain(|_, (at, e, _)| at.elapsed() < SESSION_CACHE_TTL && *e == epoch);
            }
            // Stamped with the epoch read before the lookup: a role write made meanwhile
            // makes this entry stale at once.
            cache.insert(token.to_string(), (Instant::now(), epoch, user.clone()));
        }
        Ok(user)
    }

    async fn load_session_user(&self, token: &str) -> Result<SessionUser> {
        let sessions = self.schema("_Session").ok_or_else(Error::invalid_session)?;
        let mut q = StoreQuery::filter(Filter::eq(
            "sessionToken",
            Scalar::String(token.to_string()),
        ));
        q.limit = Some(1);
        let session = self
            .store
            .find(&sessions, &q, None)
            .await?
            .pop()
            .ok_or_else(Error::invalid_session)?;
        if sessions::is_expired(&session) {
            return Err(Error::new(
                crate::error::code::INVALID_SESSION_TOKEN,
                "Session token is expired.",
            ));
        }
        if self.config.extend_session_on_use {
            self.extend_session(&sessions, &session).await?;
        }
        let user_id = session
            .get("user")
            .and_then(crate::types::as_pointer)
            .map(|(_, id)| id.to_string())
            .ok_or_else(Error::invalid_session)?;
        let users = self.schema("_User").ok_or_else(Error::invalid_session)?;
        let user = self
            .store
            .find(
                &users,
                &StoreQuery::filter(Filter::object_id(&user_id)),
                None,
            )
            .await?
            .pop()
            .ok_or_else(Error::invalid_session)?;
        let roles = self.roles_of(&user_id).await?;
        Ok(SessionUser {
            user_id,
            session_token: token.to_string(),
            user,
            roles,
        })
    }

    /// Every role name the user has: roles whose `users` contain them, and roles whose `roles`
    /// contain one of those, transitively (cycles end the walk).
    async fn roles_of(&self, user_id: &str) -> Result<Vec<String>> {
        let Some(roles) = self.schema("_Role") else {
            return Ok(Vec::new());
        };
        let mut names = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut frontier = vec![("users", user_id.to_string())];
        while let Some((field, id)) = frontier.pop() {
            let filter = Filter::RelationContains {
                field: field.to_string(),
                related_id: id,
            };
            for role in self
                .store
                .find(&roles, &StoreQuery::filter(filter), None)
                .await?
            {
                let rid = role
                    .get("objectId")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                if !seen.insert(rid.clone()) {
                    continue;
                }
                if let Some(n) = role.get("name").and_then(|v| v.as_str()) {
                    names.push(n.to_string());
                }
                frontier.push(("roles", rid));
                if seen.len() > 1000 {
                    return Ok(names);
                }
            }
        }
        Ok(names)
    }

    /// Drops cached sessions (after logout, password change or a role change).
    pub fn forget_sessions(&self, pred: impl Fn(&SessionUser) -> bool) {
        if let Ok(mut cache) = self.sessions.lock() {
            cache.retain(|_, (_, _, u)| !pred(u));
        }
    }

    /// Opens a transaction (for a `"transaction": true` batch).
    pub async fn begin(&self) -> Result<TxId> {
        self.store.begin().await
    }

    pub async fn commit(&self, tx: TxId) -> Result<()> {
        let committed = self.store.commit(tx).await;
        self.transaction_ended(tx);
        committed?;
        // Only now do the transaction's writes exist: publish their change events.
        let events = self
            .pending_events
            .lock()
            .ok()
            .and_then(|mut p| p.remove(&tx))
            .unwrap_or_default();
        for e in events {
            self.changes.publish(e);
        }
        Ok(())
    }

    /// Publishes a change event, or holds it until its transaction commits.
    pub(super) fn emit(&self, ctx: &Ctx, event: crate::events::ChangeEvent) {
        match ctx.tx {
            None => self.changes.publish(event),
            Some(tx) => {
                if let Ok(mut p) = self.pending_events.lock() {
                    p.entry(tx).or_default().push(event);
                }
            }
        }
    }

    /// Rolls back, then reloads the schema cache (a rolled-back write may have added fields).
    pub async fn rollback(&self, tx: TxId) -> Result<()> {
        if let Ok(mut p) = self.pending_events.lock() {
            p.remove(&tx);
        }
        let r = self.store.rollback(tx).await;
        self.transaction_ended(tx);
        self.reload_schemas().await?;
        self.forget_sessions(|_| true);
        r
    }

    pub async fn close(&self) {
        self.store.close().await;
    }
}
