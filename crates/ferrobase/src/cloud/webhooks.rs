//! Webhooks (Parse Server's HooksController): cloud functions and triggers registered with a URL,
//! stored in `_Hooks`, called with a POST of Parse's webhook body and `X-Parse-Webhook-Key`; the
//! receiver answers `{"success": …}` or `{"error": …}`. Webhooks and `main.js` share one
//! dispatch ([`Dispatch`]): a webhook registered for a name wins over main.js, as in Parse.

use super::Cloud;
use async_trait::async_trait;
use ferrobase_core::error::code;
use ferrobase_core::hooks::{Hooks, Trigger};
use ferrobase_core::rest::{Core, Ctx, FindOptions};
use ferrobase_core::Error;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Registered webhooks: function name → URL, (class, trigger) → URL.
#[derive(Debug, Default, Clone)]
struct Registry {
    functions: HashMap<String, String>,
    triggers: HashMap<(String, String), String>,
}

/// Where every function and trigger call goes: a webhook when one is registered, else main.js.
pub struct Dispatch {
    cloud: Option<Arc<Cloud>>,
    registry: RwLock<Registry>,
    key: Option<String>,
    client: reqwest::Client,
    timeout: Duration,
}

fn hook_error(message: impl Into<String>) -> Error {
    Error::new(code::WEBHOOK_ERROR, message)
}

/// A webhook's `{"error": …}`: a string (141) or `{code, error|message}`.
fn receiver_error(e: &Value) -> Error {
    match e {
        Value::String(s) => Error::new(code::SCRIPT_FAILED, s.clone()),
        Value::Object(o) => {
            let c = o
                .get("code")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok())
                .unwrap_or(code::SCRIPT_FAILED);
            let m = o
                .get("error")
                .or_else(|| o.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("Script failed.");
            Error::new(c, m)
        }
        other => Error::new(code::SCRIPT_FAILED, other.to_string()),
    }
}

impl Dispatch {
    pub fn new(cloud: Option<Arc<Cloud>>, key: Option<String>, timeout: Duration) -> Dispatch {
        Dispatch {
            cloud,
            registry: RwLock::new(Registry::default()),
            key,
            client: reqwest::Client::new(),
            timeout,
        }
    }

    pub fn cloud(&self) -> Option<&Arc<Cloud>> {
        self.cloud.as_ref()
    }

    /// Reads `_Hooks` into the registry (at start, and after every change made here).
    pub async fn load(&self, core: &Core) -> Result<(), Error> {
        // No `_Hooks` class yet: nothing to load (and no schema reload spent on asking).
        if core.schema("_Hooks").is_none() {
            if let Ok(mut slot) = self.registry.write() {
                *slot = Registry::default();
            }
            return Ok(());
        }
        let mut r = Registry::default();
        for h in stored_hooks(core, None).await? {
            let text = |k: &str| h.get(k).and_then(Value::as_str).map(str::to_string);
            match (
                text("functionName"),
                text("className"),
                text("triggerName"),
                text("url"),
            ) {
                (Some(f), _, _, Some(url)) => {
                    r.functions.insert(f, url);
                }
                (None, Some(c), Some(t), Some(url)) => {
                    r.triggers.insert((c, t), url);
                }
                _ => {}
            }
        }
        if let Ok(mut slot) = self.registry.write() {
            *slot = r;
        }
        Ok(())
    }

    fn function_url(&self, name: &str) -> Option<String> {
        self.registry.read().ok()?.functions.get(name).cloned()
    }

    fn trigger_url(&self, class: &str, trigger: &str) -> Option<String> {
        self.registry
            .read()
            .ok()?
            .triggers
            .get(&(class.to_string(), trigger.to_string()))
            .cloned()
    }

    /// `POST /functions/<name>`: a webhook, else main.js; `{"result": …}`.
    pub async fn run_function(&self, name: &str, request: Value) -> Result<Value, Error> {
        if let Some(url) = self.function_url(name) {
            let result = self.post(&url, request).await?;
            return Ok(json!({ "result": result }));
        }
        match &self.cloud {
            Some(c) => c.run_function(name, request).await,
            None => Err(Error::new(
                code::SCRIPT_FAILED,
                format!("Invalid function: \"{name}\""),
            )),
        }
    }

    /// Calls a webhook and answers its `success` value.
    async fn post(&self, url: &str, body: Value) -> Result<Value, Error> {
        let mut req = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        match &self.key {
            Some(k) => req = req.header("X-Parse-Webhook-Key", k),
            None => tracing::warn!("Making outgoing webhook request without webhookKey being set!"),
        }
        let resp = req.send().await.map_err(|e| {
            tracing::warn!(error = %e, "webhook request failed");
            if e.is_timeout() {
                Error::new(code::TIMEOUT, "Script timed out")
            } else {
                hook_error("Webhook request failed")
            }
        })?;
        let text = resp.text().await.unwrap_or_default();
        let answer: Value = serde_json::from_str(&text)
            .map_err(|_| Error::new(code::OTHER_CAUSE, "Malformed response"))?;
        if let Some(e) = answer.get("error") {
            return Err(receiver_error(e));
        }
        Ok(answer.get("success").cloned().unwrap_or(Value::Null))
    }

    // ---- the /hooks API ----

    pub fn functions(&self) -> Vec<Value> {
        let r = self.registry.read().map(|r| r.clone()).unwrap_or_default();
        let mut v: Vec<_> = r
            .functions
            .iter()
            .map(|(f, u)| json!({"functionName": f, "url": u}))
            .collect();
        v.sort_by_key(Value::to_string);
        v
    }

    pub fn triggers(&self) -> Vec<Value> {
        let r = self.registry.read().map(|r| r.clone()).unwrap_or_default();
        let mut v: Vec<_> = r
            .triggers
            .iter()
            .map(|((c, t), u)| json!({"className": c, "triggerName": t, "url": u}))
            .collect();
        v.sort_by_key(Value::to_string);
        v
    }

    pub fn function(&self, name: &str) -> Result<Value, Error> {
        self.function_url(name)
            .map(|u| json!({"functionName": name, "url": u}))
            .ok_or_else(|| hook_error(format!("no function named: {name} is defined")))
    }

    pub fn trigger(&self, class: &str, trigger: &str) -> Result<Value, Error> {
        self.trigger_url(class, trigger)
            .map(|u| json!({"className": class, "triggerName": trigger, "url": u}))
            .ok_or_else(|| hook_error(format!("class {class} does not exist")))
    }

    /// Creates (`create`) or updates a hook from its declaration; answers the hook.
    pub async fn save(&self, core: &Core, decl: &Value, create: bool) -> Result<Value, Error> {
        let text = |k: &str| {
            decl.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (filter, hook) = match (
            text("functionName"),
            text("className"),
            text("triggerName"),
            text("url"),
        ) {
            (Some(f), _, _, url) => {
                let exists = self.function_url(f).is_some();
                if create && exists {
                    return Err(hook_error(format!("function name: {f} already exists")));
                }
                if !create && !exists {
                    return Err(hook_error(format!("no function named: {f} is defined")));
                }
                let url = url.ok_or_else(|| hook_error("invalid hook declaration"))?;
                (
                    json!({"functionName": f}),
                    json!({"functionName": f, "url": url}),
                )
            }
            (None, Some(c), Some(t), url) => {
                let exists = self.trigger_url(c, t).is_some();
                if create && exists {
                    return Err(hook_error(format!("class {c} already has trigger {t}")));
                }
                if !create && !exists {
                    return Err(hook_error(format!("class {c} does not exist")));
                }
                let url = url
                    .filter(|_| Trigger::from_name(t).is_some())
                    .ok_or_else(|| hook_error("invalid hook declaration"))?;
                (
                    json!({"className": c, "triggerName": t}),
                    json!({"className": c, "triggerName": t, "url": url}),
                )
            }
            _ => return Err(hook_error("invalid hook declaration")),
        };
        self.remove_stored(core, &filter).await?;
        let master = Ctx::new(ferrobase_core::auth::Auth::master());
        core.create(&master, "_Hooks", hook.clone()).await?;
        self.load(core).await?;
        Ok(hook)
    }

    pub async fn delete(&self, core: &Core, filter: &Value) -> Result<(), Error> {
        self.remove_stored(core, filter).await?;
        self.load(core).await
    }

    async fn remove_stored(&self, core: &Core, filter: &Value) -> Result<(), Error> {
        let master = Ctx::new(ferrobase_core::auth::Auth::master());
        for h in stored_hooks(core, Some(filter.clone())).await? {
            if let Some(id) = h.get("objectId").and_then(Value::as_str) {
                core.delete(&master, "_Hooks", id).await?;
            }
        }
        Ok(())
    }
}

/// The `_Hooks` objects `where_` matches (all of them without one), read with the master key.
async fn stored_hooks(
    core: &Core,
    where_: Option<Value>,
) -> Result<Vec<ferrobase_core::types::Object>, Error> {
    let master = Ctx::new(ferrobase_core::auth::Auth::master());
    let opts = FindOptions {
        where_,
        limit: Some(10_000),
        ..FindOptions::default()
    };
    Ok(core.find(&master, "_Hooks", &opts).await?.results)
}

/// The webhook body of a trigger: Parse's request with `object` as the object after the client's
/// changes (beforeSave), and `original` before them.
fn webhook_body(trigger: Trigger, mut request: Value) -> Value {
    if trigger == Trigger::BeforeSave {
        if let Some(r) = request.as_object_mut() {
            let body = r.remove("body").and_then(|b| b.as_object().cloned());
            if let (Some(body), Some(Value::Object(object))) = (body, r.get_mut("object")) {
                let mut merged: Map<String, Value> = object.clone();
                for (k, v) in body {
                    let one = vec![(
                        k.clone(),
                        ferrobase_core::update::parse_op(&v)
                            .unwrap_or(ferrobase_core::update::UpdateOp::Set(v.clone())),
                    )];
                    if ferrobase_core::update::apply(&mut merged, &one).is_err() {
                        merged.insert(k, v);
                    }
                }
                *object = merged;
            }
        }
    }
    request
}

#[async_trait]
impl Hooks for Dispatch {
    fn has(&self, class: &str, trigger: Trigger) -> bool {
        self.trigger_url(class, trigger.name()).is_some()
            || self.cloud.as_ref().is_some_and(|c| c.has(class, trigger))
    }

    async fn run(&self, class: &str, trigger: Trigger, request: Value) -> Result<Value, Error> {
        if let Some(url) = self.trigger_url(class, trigger.name()) {
            let success = self.post(&url, webhook_body(trigger, request)).await?;
            return Ok(match (trigger, success) {
                // A beforeSave receiver answers the object to save.
                (Trigger::BeforeSave, Value::Object(mut o)) => {
                    for k in ["createdAt", "updatedAt", "className", "objectId"] {
                        o.remove(k);
                    }
                    json!({ "body": o })
                }
                _ => json!({}),
            });
        }
        match &self.cloud {
            Some(c) => c.run(class, trigger, request).await,
            None => Ok(json!({})),
        }
    }
}
