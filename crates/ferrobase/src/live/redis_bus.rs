//! Fan-out across nodes through Redis pub/sub (`--live-query-redis-url`): every node publishes the
//! changes written on it to one channel per application and dispatches the changes the other
//! nodes publish to its own subscribers. Connections are retried with back-off; while Redis is
//! down, local subscribers still get local changes.

use crate::app::App;
use ferrobase_core::events::{ChangeEvent, ChangeKind};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Messages waiting to be published before new ones are dropped (with a warning).
const PUBLISH_QUEUE: usize = 10_000;

pub(super) fn encode(node: &str, ev: &ChangeEvent) -> String {
    let kind = match ev.kind {
        ChangeKind::Create => "create",
        ChangeKind::Update => "update",
        ChangeKind::Delete => "delete",
    };
    json!({
        "node": node,
        "class": ev.class,
        "kind": kind,
        "object": ev.object,
        "original": ev.original,
    })
    .to_string()
}

/// A message from another node (`None` for our own or malformed ones).
fn decode(own_node: &str, text: &str) -> Option<ChangeEvent> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("node")?.as_str()? == own_node {
        return None;
    }
    let kind = match v.get("kind")?.as_str()? {
        "create" => ChangeKind::Create,
        "update" => ChangeKind::Update,
        "delete" => ChangeKind::Delete,
        _ => return None,
    };
    Some(ChangeEvent {
        class: v.get("class")?.as_str()?.to_string(),
        kind,
        object: v.get("object")?.as_object()?.clone(),
        original: v.get("original").and_then(Value::as_object).cloned(),
    })
}

/// Starts the publisher and subscriber tasks; returns the publishing queue.
pub(super) fn start(
    app: Weak<App>,
    url: &str,
    channel: String,
    shutdown: watch::Receiver<bool>,
) -> Result<mpsc::Sender<String>, String> {
    let client =
        redis::Client::open(url).map_err(|e| format!("invalid --live-query-redis-url: {e}"))?;
    let (tx, rx) = mpsc::channel(PUBLISH_QUEUE);
    tokio::spawn(publish(
        client.clone(),
        channel.clone(),
        rx,
        shutdown.clone(),
    ));
    tokio::spawn(subscribe(app, client, channel, shutdown));
    Ok(tx)
}

async fn backoff(attempt: &mut u32) {
    let ms = 100u64 << (*attempt).min(5);
    *attempt += 1;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

async fn publish(
    client: redis::Client,
    channel: String,
    mut rx: mpsc::Receiver<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut attempt = 0;
    'connect: loop {
        let mut conn = tokio::select! {
            c = client.get_multiplexed_async_connection() => match c {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "LiveQuery: cannot reach Redis to publish; retrying");
                    backoff(&mut attempt).await;
                    continue 'connect;
                }
            },
            _ = shutdown.changed() => return,
        };
        attempt = 0;
        loop {
            let msg = tokio::select! {
                m = rx.recv() => match m { Some(m) => m, None => return },
                _ = shutdown.changed() => return,
            };
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(&msg)
                .query_async(&mut conn)
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "LiveQuery: Redis publish failed; reconnecting");
                backoff(&mut attempt).await;
                continue 'connect;
            }
        }
    }
}

async fn subscribe(
    app: Weak<App>,
    client: redis::Client,
    channel: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut attempt = 0;
    loop {
        let pubsub = tokio::select! {
            p = client.get_async_pubsub() => p,
            _ = shutdown.changed() => return,
        };
        let mut pubsub = match pubsub {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "LiveQuery: cannot reach Redis to subscribe; retrying");
                backoff(&mut attempt).await;
                continue;
            }
        };
        if let Err(e) = pubsub.subscribe(&channel).await {
            tracing::warn!(error = %e, "LiveQuery: Redis SUBSCRIBE failed; retrying");
            backoff(&mut attempt).await;
            continue;
        }
        attempt = 0;
        tracing::info!(%channel, "LiveQuery: fan-out through Redis is on");
        let mut messages = pubsub.on_message();
        loop {
            let msg = tokio::select! {
                m = messages.next() => m,
                _ = shutdown.changed() => return,
            };
            let Some(msg) = msg else { break };
            let Ok(text) = msg.get_payload::<String>() else {
                continue;
            };
            let Some(app) = app.upgrade() else { return };
            if let Some(ev) = decode(&app.live.node_id, &text) {
                if ev.class == "_Role" {
                    // Another node changed a role: this node's cached grants are stale.
                    app.core.role_grants_changed();
                }
                if app.core.schema(&ev.class).is_none() {
                    // A class created on another node: learn its schema from the store.
                    if let Err(e) = app.core.reload_schemas().await {
                        tracing::warn!(error = %e, "LiveQuery: cannot reload schemas");
                    }
                }
                app.live.dispatch(Arc::new(ev));
            }
        }
        tracing::warn!("LiveQuery: Redis subscription lost; reconnecting");
        backoff(&mut attempt).await;
    }
}
