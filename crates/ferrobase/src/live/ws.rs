//! The LiveQuery WebSocket endpoint (`ws://host<mount>`): one task per connection reading client
//! ops, draining its event queue, pinging, and closing half-open or overflowing connections.

use super::protocol::{self, error_message, error_parts, message, Sub};
use super::{ConnHandle, Dispatched};
use crate::app::App;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use ferrobase_core::auth::{Auth, SessionUser};
use ferrobase_core::error::code;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Most subscriptions one connection may hold.
const MAX_SUBSCRIPTIONS: usize = 1000;
/// A write that takes longer than this means the peer is not reading: the connection is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest client message accepted.
const MAX_MESSAGE: usize = 1 << 20;

/// `GET <mount>` with `Upgrade: websocket`.
pub async fn upgrade(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: axum::extract::OriginalUri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        // Small buffers: thousands of mostly idle subscribers must stay cheap (the default read
        // buffer alone is 128 KiB per connection).
        Ok(ws) => ws
            .read_buffer_size(8 * 1024)
            .write_buffer_size(8 * 1024)
            .max_message_size(MAX_MESSAGE)
            .on_upgrade(move |socket| run(app, peer, socket))
            .into_response(),
        Err(_) => crate::routes::no_route(&axum::http::Method::GET, uri.0.path()),
    }
}

/// A UUID-shaped random id, as Parse's `randomUUID()` client ids.
fn client_id() -> String {
    let h = ferrobase_core::types::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

struct Conn {
    app: Arc<App>,
    peer: SocketAddr,
    id: u64,
    handle: Arc<ConnHandle>,
    /// Set by `connect`.
    client_id: Option<String>,
    auth: Auth,
    token: Option<String>,
    subs: BTreeMap<i64, Sub>,
    sink: SplitSink<WebSocket, Message>,
}

enum Validity {
    Valid(Arc<SessionUser>),
    Invalid,
    Unknown,
}

/// Whether the connection goes on after a step.
enum Flow {
    Continue,
    Close,
}

async fn run(app: Arc<App>, peer: SocketAddr, socket: WebSocket) {
    let (id, handle, rx) = app.live.open();
    let (sink, stream) = socket.split();
    let mut conn = Conn {
        app: app.clone(),
        peer,
        id,
        handle,
        client_id: None,
        auth: Auth::default(),
        token: None,
        subs: BTreeMap::new(),
        sink,
    };
    conn.serve(stream, rx).await;
    metrics::gauge!("ferrobase_livequery_subscriptions").decrement(conn.subs.len() as f64);
    app.live.close(id);
    let _ = conn.sink.close().await;
}

impl Conn {
    async fn serve(
        &mut self,
        mut stream: SplitStream<WebSocket>,
        mut rx: mpsc::Receiver<Arc<Dispatched>>,
    ) {
        let interval = self.app.live.config.ping_interval;
        let mut ping = tokio::time::interval(interval);
        ping.tick().await;
        let mut last_heard = Instant::now();
        let mut shutdown = self.app.live.shutdown_signal();
        let handle = self.handle.clone();
        loop {
            let flow = tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(msg)) => {
                        last_heard = Instant::now();
                        match msg {
                            Message::Text(t) => self.on_text(t.as_str()).await,
                            Message::Binary(b) => match std::str::from_utf8(&b) {
                                Ok(t) => self.on_text(t).await,
                                Err(_) => Flow::Continue,
                            },
                            Message::Close(_) => Flow::Close,
                            Message::Ping(_) | Message::Pong(_) => Flow::Continue,
                        }
                    }
                    Some(Err(_)) | None => Flow::Close,
                },
                Some(d) = rx.recv() => self.on_event(&d).await,
                _ = ping.tick() => {
                    if last_heard.elapsed() > interval * 2 {
                        tracing::debug!(conn = self.id, "LiveQuery peer silent: closing half-open connection");
                        Flow::Close
                    } else {
                        self.send(Message::Ping(Default::default())).await
                    }
                }
                _ = handle.kill.notified() => {
                    tracing::warn!(conn = self.id, "LiveQuery connection too slow: its event queue is full, closing it");
                    let _ = self
                        .send_json(&error_message(
                            155,
                            "Too many pending events: the connection reads too slowly and is closed; reconnect and resubscribe",
                            true,
                            None,
                        ))
                        .await;
                    Flow::Close
                }
                _ = shutdown.changed() => Flow::Close,
            };
            if let Flow::Close = flow {
                return;
            }
        }
    }

    async fn send(&mut self, msg: Message) -> Flow {
        match tokio::time::timeout(SEND_TIMEOUT, self.sink.send(msg)).await {
            Ok(Ok(())) => Flow::Continue,
            _ => Flow::Close,
        }
    }

    async fn send_json(&mut self, v: &Value) -> Flow {
        self.send(Message::Text(v.to_string().into())).await
    }

    async fn push_error(
        &mut self,
        code: i32,
        error: &str,
        reconnect: bool,
        request_id: Option<i64>,
    ) -> Flow {
        self.send_json(&error_message(code, error, reconnect, request_id))
            .await
    }

    fn reply(&self, op: &str, request_id: Option<i64>) -> Value {
        Value::Object(message(
            op,
            self.client_id.as_deref().unwrap_or_default(),
            self.auth.installation_id.as_deref(),
            request_id,
        ))
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let Ok(req) = serde_json::from_str::<Value>(text) else {
            // Parse Server logs and ignores messages that are not JSON.
            return Flow::Continue;
        };
        match req.get("op").and_then(Value::as_str) {
            Some("connect") => self.on_connect(&req).await,
            Some("subscribe") => self.on_subscribe(&req).await,
            Some("update") => self.on_subscribe(&req).await,
            Some("unsubscribe") => self.on_unsubscribe(&req).await,
            Some(other) => {
                let m = format!("No enum match for: \"{other}\"");
                self.push_error(code::INTERNAL, &m, true, None).await
            }
            None => self.missing("op").await,
        }
    }

    async fn on_connect(&mut self, req: &Value) -> Flow {
        let str_field = |k: &str| {
            req.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let token = str_field("sessionToken");
        let creds = crate::request::Credentials {
            app_id: str_field("applicationId"),
            // Parse's LiveQuery server ignores a master key unless told to trust it.
            master_key: str_field("masterKey")
                .filter(|_| self.app.config.live_query_trust_master_key),
            session_token: token.clone(),
            installation_id: str_field("installationId"),
        };
        let auth = match crate::request::resolve_credentials(&self.app, self.peer.ip(), creds).await
        {
            Ok(a) => a,
            Err(ferrobase_core::Error::Unauthorized) => {
                return self
                    .push_error(4, "Key in request is not valid", false, None)
                    .await;
            }
            Err(e) => {
                let (c, m) = error_parts(&e);
                return self.push_error(c, &m, false, None).await;
            }
        };
        if let Err(e) = super::hooks::before_connect(&self.app, &auth, token.as_deref()).await {
            let (c, m) = super::hooks::refusal(&e);
            return self.push_error(c, &m, false, None).await;
        }
        self.auth = auth;
        self.token = token;
        self.client_id = Some(client_id());
        let msg = self.reply("connected", None);
        self.send_json(&msg).await
    }

    /// Parse's error for a message without a required property.
    async fn missing(&mut self, property: &str) -> Flow {
        self.push_error(
            code::INTERNAL,
            &format!("Missing required property: {property}"),
            true,
            None,
        )
        .await
    }

    fn request_id(req: &Value) -> Option<i64> {
        req.get("requestId").and_then(Value::as_i64)
    }

    async fn on_subscribe(&mut self, req: &Value) -> Flow {
        if self.client_id.is_none() {
            return self
                .push_error(
                    2,
                    "Can not find this client, make sure you connect to server before subscribing",
                    true,
                    None,
                )
                .await;
        }
        let Some(request_id) = Self::request_id(req) else {
            return self.missing("requestId").await;
        };
        let Some(query) = req.get("query") else {
            return self
                .push_error(
                    code::INTERNAL,
                    "Missing required property: query",
                    true,
                    Some(request_id),
                )
                .await;
        };
        if !self.subs.contains_key(&request_id) && self.subs.len() >= MAX_SUBSCRIPTIONS {
            return self
                .push_error(
                    155,
                    "Too many subscriptions on one connection",
                    false,
                    Some(request_id),
                )
                .await;
        }
        let token = req
            .get("sessionToken")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let user = match &token {
            None => None,
            Some(t) => match self.app.core.authenticate(t).await {
                Ok(u) => Some(u),
                Err(e) => {
                    let (c, m) = error_parts(&e);
                    return self.push_error(c, &m, false, Some(request_id)).await;
                }
            },
        };
        let sub_auth = protocol::effective_auth(&self.auth, user.as_ref());
        let changed = match super::hooks::before_subscribe(
            &self.app,
            &sub_auth,
            token.as_deref(),
            query,
            self.subs.len(),
        )
        .await
        {
            Ok(q) => q,
            Err(e) => {
                let (c, m) = super::hooks::refusal(&e);
                return self.push_error(c, &m, false, Some(request_id)).await;
            }
        };
        let query = changed.as_ref().unwrap_or(query);
        let sub = match protocol::subscription(&self.app.core, query, token, user, &self.auth) {
            Ok(s) => s,
            Err(e) => {
                let (c, m) = error_parts(&e);
                return self.push_error(c, &m, false, Some(request_id)).await;
            }
        };
        let class = sub.class.clone();
        if let Some(old) = self.subs.insert(request_id, sub) {
            self.unwatch_if_unused(&old.class);
        } else {
            metrics::gauge!("ferrobase_livequery_subscriptions").increment(1.0);
        }
        self.app.live.watch_class(self.id, &class, &self.handle);
        let msg = self.reply("subscribed", Some(request_id));
        self.send_json(&msg).await
    }

    fn unwatch_if_unused(&self, class: &str) {
        if !self.subs.values().any(|s| s.class == class) {
            self.app.live.unwatch_class(self.id, class);
        }
    }

    async fn on_unsubscribe(&mut self, req: &Value) -> Flow {
        let Some(client_id) = self.client_id.clone() else {
            return self
                .push_error(
                    2,
                    "Can not find this client, make sure you connect to server before unsubscribing",
                    true,
                    None,
                )
                .await;
        };
        let Some(request_id) = Self::request_id(req) else {
            return self.missing("requestId").await;
        };
        let Some(old) = self.subs.remove(&request_id) else {
            let m = format!(
                "Cannot find subscription with clientId {client_id} subscriptionId {request_id}. Make sure you subscribe to live query server before unsubscribing."
            );
            return self.push_error(2, &m, true, Some(request_id)).await;
        };
        metrics::gauge!("ferrobase_livequery_subscriptions").decrement(1.0);
        self.unwatch_if_unused(&old.class);
        let msg = self.reply("unsubscribed", Some(request_id));
        self.send_json(&msg).await
    }

    /// Re-validates a session token (the core caches it for a few seconds and forgets it on
    /// logout).
    async fn revalidate(&self, token: &str) -> Validity {
        match self.app.core.authenticate(token).await {
            Ok(u) => Validity::Valid(u),
            Err(e) if e.code() == Some(code::INVALID_SESSION_TOKEN) => Validity::Invalid,
            // A store hiccup is not a logout: keep the rights we had.
            Err(_) => Validity::Unknown,
        }
    }

    async fn on_event(&mut self, d: &Dispatched) -> Flow {
        let class = &d.event.class;
        if !self.subs.values().any(|s| &s.class == class) {
            return Flow::Continue;
        }
        if let Some(t) = self.token.clone() {
            match self.revalidate(&t).await {
                Validity::Valid(u) => self.auth.user = Some(u),
                Validity::Unknown => {}
                Validity::Invalid => {
                    let _ = self
                        .push_error(
                            code::INVALID_SESSION_TOKEN,
                            "Invalid session token",
                            false,
                            None,
                        )
                        .await;
                    return Flow::Close;
                }
            }
        }
        let ids: Vec<i64> = self
            .subs
            .iter()
            .filter(|(_, s)| &s.class == class)
            .map(|(id, _)| *id)
            .collect();
        for rid in ids {
            let token = self.subs.get(&rid).and_then(|s| s.token.clone());
            if let Some(t) = token {
                match self.revalidate(&t).await {
                    Validity::Valid(u) => {
                        if let Some(s) = self.subs.get_mut(&rid) {
                            s.user = Some(u);
                        }
                    }
                    Validity::Unknown => {}
                    Validity::Invalid => {
                        if let Some(old) = self.subs.remove(&rid) {
                            metrics::gauge!("ferrobase_livequery_subscriptions").decrement(1.0);
                            self.unwatch_if_unused(&old.class);
                        }
                        if let Flow::Close = self
                            .push_error(
                                code::INVALID_SESSION_TOKEN,
                                "Invalid session token",
                                false,
                                Some(rid),
                            )
                            .await
                        {
                            return Flow::Close;
                        }
                        continue;
                    }
                }
            }
            let Some(sub) = self.subs.get(&rid) else {
                continue;
            };
            let Some(out) = protocol::evaluate(&self.app.core, sub, &self.auth, &d.event) else {
                continue;
            };
            let mut m = message(
                out.op,
                self.client_id.as_deref().unwrap_or_default(),
                self.auth.installation_id.as_deref(),
                Some(rid),
            );
            m.insert("object".into(), Value::Object(out.object));
            if let Some(o) = out.original {
                m.insert("original".into(), Value::Object(o));
            }
            if let Flow::Close = self.send_json(&Value::Object(m)).await {
                return Flow::Close;
            }
            metrics::counter!("ferrobase_livequery_messages_total").increment(1);
        }
        Flow::Continue
    }
}
