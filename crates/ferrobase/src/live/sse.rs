//! Server-Sent Events on the LiveQuery machinery: `GET <mount>/realtime?className=X&where=…`.
//!
//! Credentials come from the usual headers or, for browsers' `EventSource` (which cannot set
//! headers), from the `applicationId` and `sessionToken` query parameters. Each event has an id
//! (`<node>-<seq>`); a client that reconnects with `Last-Event-ID` (or `lastEventId=`) first gets
//! the events it missed from a short per-class replay buffer, or a `reset` event when they are
//! no longer there.

use super::protocol::{self, error_parts, Sub};
use super::Dispatched;
use crate::app::App;
use crate::error::ApiError;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use ferrobase_core::auth::Auth;
use ferrobase_core::error::code;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `GET <mount>/realtime`.
pub async fn stream(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match open(app, peer, &headers, &params).await {
        Ok(r) => r,
        Err(e) => ApiError(e).into_response(),
    }
}

async fn open(
    app: Arc<App>,
    peer: SocketAddr,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Response, Error> {
    let param = |k: &str| params.get(k).filter(|s| !s.is_empty()).cloned();
    let token = header(headers, "x-parse-session-token").or_else(|| param("sessionToken"));
    let creds = crate::request::Credentials {
        app_id: header(headers, "x-parse-application-id").or_else(|| param("applicationId")),
        // As the WebSocket: a master key counts only with --live-query-trust-master-key.
        master_key: header(headers, "x-parse-master-key")
            .filter(|_| app.config.live_query_trust_master_key),
        session_token: token.clone(),
        installation_id: header(headers, "x-parse-installation-id"),
    };
    let auth = crate::request::resolve_credentials(&app, peer.ip(), creds).await?;
    let class = param("className")
        .ok_or_else(|| Error::new(code::INVALID_CLASS_NAME, "className is required"))?;
    let where_: Value = match param("where") {
        None => json!({}),
        Some(w) => serde_json::from_str(&w)
            .map_err(|_| Error::invalid_json("where parameter is not valid JSON"))?,
    };
    let query = json!({
        "className": class,
        "where": where_,
        "keys": param("keys"),
        "watch": param("watch"),
    });
    let sub = protocol::subscription(&app.core, &query, None, None, &auth)?;
    let resume = header(headers, "last-event-id").or_else(|| param("lastEventId"));

    let (id, handle, rx) = app.live.open();
    metrics::gauge!("ferrobase_livequery_subscriptions").increment(1.0);
    app.live.watch_class(id, &sub.class, &handle);
    let replay = resume.map(|last| {
        let (node, seq) = last.rsplit_once('-').unwrap_or(("", ""));
        match seq.parse::<u64>() {
            Ok(seq) if node == app.live.node_id => app.live.replay_since(&sub.class, seq),
            _ => None,
        }
    });
    let (out_tx, out_rx) = mpsc::channel::<Event>(64);
    tokio::spawn(pump(app, id, handle, rx, sub, auth, token, replay, out_tx));
    let body = futures_util::stream::unfold(out_rx, |mut rx| async move {
        rx.recv().await.map(|e| (Ok::<_, Infallible>(e), rx))
    });
    Ok(Sse::new(body)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

fn json_event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

#[allow(clippy::too_many_arguments)]
async fn pump(
    app: Arc<App>,
    id: u64,
    handle: Arc<super::ConnHandle>,
    mut rx: mpsc::Receiver<Arc<Dispatched>>,
    sub: Sub,
    mut auth: Auth,
    token: Option<String>,
    replay: Option<Option<Vec<Arc<Dispatched>>>>,
    out: mpsc::Sender<Event>,
) {
    let mut shutdown = app.live.shutdown_signal();
    let mut last_seq = 0;
    let mut ok = out
        .send(json_event(
            "subscribed",
            &json!({"op": "subscribed", "className": sub.class}),
        ))
        .await
        .is_ok();
    match replay {
        None => {}
        Some(None) => {
            ok &= out
                .send(json_event(
                    "reset",
                    &json!({"op": "reset", "error": "the events after Last-Event-ID are no longer available; reload"}),
                ))
                .await
                .is_ok();
        }
        Some(Some(list)) => {
            for d in list {
                last_seq = d.seq;
                if let Some(e) = render(&app, &sub, &auth, &d) {
                    ok &= out.send(e).await.is_ok();
                }
            }
        }
    }
    while ok {
        tokio::select! {
            Some(d) = rx.recv() => {
                if d.seq <= last_seq {
                    continue;
                }
                if let Some(t) = &token {
                    match app.core.authenticate(t).await {
                        Ok(u) => auth.user = Some(u),
                        Err(e) if e.code() == Some(code::INVALID_SESSION_TOKEN) => {
                            let (c, m) = error_parts(&e);
                            let _ = out.send(json_event("error", &json!({"op": "error", "code": c, "error": m}))).await;
                            break;
                        }
                        Err(_) => {}
                    }
                }
                if let Some(e) = render(&app, &sub, &auth, &d) {
                    ok = out.send(e).await.is_ok();
                    metrics::counter!("ferrobase_livequery_messages_total").increment(1);
                }
            }
            _ = handle.kill.notified() => {
                let _ = out.try_send(json_event("error", &json!({"op": "error", "code": 155, "error": "Too many pending events: the stream reads too slowly and is closed"})));
                break;
            }
            _ = out.closed() => break,
            _ = shutdown.changed() => break,
        }
    }
    metrics::gauge!("ferrobase_livequery_subscriptions").decrement(1.0);
    app.live.close(id);
}

fn render(app: &App, sub: &Sub, auth: &Auth, d: &Dispatched) -> Option<Event> {
    let out = protocol::evaluate(&app.core, sub, auth, &d.event)?;
    let mut data = json!({"op": out.op, "object": out.object});
    if let Some(o) = out.original {
        data["original"] = Value::Object(o);
    }
    Some(json_event(out.op, &data).id(format!("{}-{}", app.live.node_id, d.seq)))
}
