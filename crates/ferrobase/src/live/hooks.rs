//! Cloud Code's LiveQuery triggers (Parse Server's ParseLiveQueryServer): `beforeConnect`,
//! `beforeSubscribe` (may change the query) and `afterLiveQueryEvent` (may change or drop an
//! event). `afterLiveQueryEvent` runs once per change event on this node, before the fan-out, not
//! once per subscriber as Parse does (so its request has no subscriber's session).

use crate::app::App;
use ferrobase_core::auth::Auth;
use ferrobase_core::error::code;
use ferrobase_core::events::{ChangeEvent, ChangeKind};
use ferrobase_core::hooks::{Hooks, Trigger};
use ferrobase_core::rest::Ctx;
use ferrobase_core::Error;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const CONNECT: &str = "@Connect";

/// What a LiveQuery trigger request carries besides Parse's common fields.
fn request(
    app: &App,
    auth: &Auth,
    token: Option<&str>,
    subscriptions: usize,
) -> Map<String, Value> {
    let mut r = app.core.cloud_request(&Ctx::new(auth.clone()));
    r.insert("useMasterKey".into(), Value::Bool(auth.master));
    r.insert(
        "sessionToken".into(),
        token.map_or(Value::Null, |t| json!(t)),
    );
    r.insert("clients".into(), json!(app.live.watchers()));
    r.insert("subscriptions".into(), json!(subscriptions));
    r
}

/// A trigger's refusal as LiveQuery answers it (`error` with the code, 141 by default).
pub fn refusal(e: &Error) -> (i32, String) {
    match e {
        Error::Parse { code, message } => (*code, message.clone()),
        other => (code::SCRIPT_FAILED, other.to_string()),
    }
}

/// `beforeConnect`: may refuse the connection.
pub async fn before_connect(app: &App, auth: &Auth, token: Option<&str>) -> Result<(), Error> {
    if !app.hooks.has(CONNECT, Trigger::BeforeConnect) {
        return Ok(());
    }
    let r = request(app, auth, token, 0);
    app.hooks
        .run(CONNECT, Trigger::BeforeConnect, Value::Object(r))
        .await?;
    Ok(())
}

/// `beforeSubscribe`: may refuse, or answer the query to subscribe with instead.
pub async fn before_subscribe(
    app: &App,
    auth: &Auth,
    token: Option<&str>,
    query: &Value,
    subscriptions: usize,
) -> Result<Option<Value>, Error> {
    let Some(class) = query.get("className").and_then(Value::as_str) else {
        return Ok(None);
    };
    if !app.hooks.has(class, Trigger::BeforeSubscribe) {
        return Ok(None);
    }
    let mut r = request(app, auth, token, subscriptions);
    r.insert("query".into(), query.clone());
    let answer = app
        .hooks
        .run(class, Trigger::BeforeSubscribe, Value::Object(r))
        .await?;
    let Some(mut q) = answer.get("query").cloned() else {
        return Ok(None);
    };
    // The worker answers `keys`/`watch` comma-joined; the protocol carries arrays.
    for k in ["keys", "watch"] {
        if let Some(Value::String(s)) = q.get(k).cloned() {
            let list: Vec<Value> = s
                .split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(|x| json!(x))
                .collect();
            q[k] = Value::Array(list);
        }
    }
    Ok(Some(q))
}

/// `afterLiveQueryEvent` for one change: `None` drops the event; otherwise the event, with the
/// object as the trigger left it.
pub async fn after_event(app: &App, event: Arc<ChangeEvent>) -> Option<Arc<ChangeEvent>> {
    if !app.hooks.has(&event.class, Trigger::AfterEvent) {
        return Some(event);
    }
    let schema = app.core.schema(&event.class)?;
    let view = |o: &ferrobase_core::types::Object| {
        let mut v = ferrobase_core::rest::client_view(
            &schema,
            o.clone(),
            &Auth::master(),
            &app.core.config,
        );
        v.insert("className".into(), json!(event.class));
        Value::Object(v)
    };
    let mut r = request(app, &Auth::default(), None, 0);
    let kind = match event.kind {
        ChangeKind::Create => "create",
        ChangeKind::Update => "update",
        ChangeKind::Delete => "delete",
    };
    r.insert("event".into(), json!(kind));
    r.insert("object".into(), view(&event.object));
    r.insert(
        "original".into(),
        event.original.as_ref().map_or(Value::Null, view),
    );
    r.insert("sendEvent".into(), Value::Bool(true));
    let answer = match app
        .hooks
        .run(&event.class, Trigger::AfterEvent, Value::Object(r))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(class = %event.class, error = %e, "afterLiveQueryEvent failed; the event is sent as it was");
            return Some(event);
        }
    };
    if answer.get("sendEvent").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    let Some(changed) = answer.get("object").and_then(Value::as_object) else {
        return Some(event);
    };
    // The trigger's fields over the stored object; internal fields (ACL columns) stay.
    let mut object = event.object.clone();
    object.retain(|k, _| k.starts_with('_') || changed.contains_key(k) || is_base(k));
    for (k, v) in changed {
        if !matches!(k.as_str(), "className" | "__type") {
            object.insert(k.clone(), v.clone());
        }
    }
    Some(Arc::new(ChangeEvent {
        class: event.class.clone(),
        kind: event.kind,
        object,
        original: event.original.clone(),
    }))
}

fn is_base(k: &str) -> bool {
    matches!(k, "objectId" | "createdAt" | "updatedAt" | "ACL")
}
