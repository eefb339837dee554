//! Observability: Prometheus metrics (`metrics` + `metrics-exporter-prometheus`), a request id
//! and a tracing span on every request, the access log, and the readiness answer.
//!
//! - `GET <mount>/metrics`: Prometheus text. With `--metrics master` (the default) it needs the
//!   master key (`X-Parse-Master-Key`, or `Authorization: Bearer <master key>` as Prometheus's
//!   `authorization` scrape setting sends it) from `--master-key-ips`; with `--metrics HOST:PORT`
//!   it is served without a key on that listener only (off the API port); `--metrics off`.
//! - `GET <mount>/ready`: 200 when the store answers a read within 2 s, else 503. `/health`
//!   stays a constant answer that touches nothing.
//! - Every request gets an id (`X-Request-Id` when the client sent a sane one, else generated),
//!   echoed in the response's `X-Request-Id`, and runs in a `request` span that carries it, so
//!   every log line of the request has it. The access log line adds route (the router's
//!   template, never the raw path), status, duration and user id; never tokens, keys or bodies.

use crate::app::App;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrobase_core::query::{Filter, StoreQuery};
use ferrobase_core::schema::ClassSchema;
use ferrobase_core::storage::{Storage, TxId, Updated};
use ferrobase_core::types::Object;
use ferrobase_core::update::Updates;
use ferrobase_core::{Error, Result};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Where `/metrics` is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsMode {
    /// On the API port under the mount, with the master key.
    Master,
    /// On its own listener, without a key (bind it to a private address).
    Listen(SocketAddr),
    /// Not served (and nothing is recorded).
    Off,
}

impl MetricsMode {
    pub fn parse(s: &str) -> std::result::Result<MetricsMode, String> {
        match s.trim() {
            "master" | "" => Ok(MetricsMode::Master),
            "off" | "false" => Ok(MetricsMode::Off),
            other => other
                .parse()
                .map(MetricsMode::Listen)
                .map_err(|_| format!("--metrics must be master, off or HOST:PORT, not {other}")),
        }
    }
}

const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (metrics are process-wide: several servers in one
/// process, as in the tests, share them). `None` if another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full("ferrobase_sqlite_group_commit_size".into()),
                    SIZE_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            // Histogram samples wait in buckets until drained: drain them even when nobody
            // scrapes, so memory stays bounded.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("ferrobase-metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                });
            Some(handle)
        })
        .as_ref()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "ferrobase_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "ferrobase_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response head, by method and route template"
    );
    describe_histogram!(
        "ferrobase_store_operation_duration_seconds",
        Unit::Seconds,
        "Storage operations by store and operation"
    );
    describe_counter!(
        "ferrobase_store_operation_errors_total",
        "Storage operations that failed"
    );
    describe_gauge!(
        "ferrobase_sqlite_writer_queue_depth",
        "Messages waiting for the SQLite writer thread"
    );
    describe_histogram!(
        "ferrobase_sqlite_group_commit_size",
        "Writes committed together in one SQLite transaction (one fsync)"
    );
    describe_histogram!(
        "ferrobase_sqlite_commit_duration_seconds",
        Unit::Seconds,
        "One group commit: BEGIN to durable COMMIT"
    );
    describe_gauge!(
        "ferrobase_livequery_connections",
        "Open LiveQuery connections (WebSocket and SSE)"
    );
    describe_gauge!(
        "ferrobase_livequery_subscriptions",
        "Active LiveQuery subscriptions"
    );
    describe_counter!(
        "ferrobase_livequery_events_total",
        "Change events dispatched to LiveQuery connections"
    );
    describe_counter!(
        "ferrobase_livequery_messages_total",
        "Event messages sent to LiveQuery subscribers"
    );
    describe_counter!(
        "ferrobase_livequery_dropped_connections_total",
        "LiveQuery connections closed because they read too slowly (queue full)"
    );
    describe_counter!(
        "ferrobase_livequery_lost_events_total",
        "Change events LiveQuery missed because it fell behind the change feed"
    );
    describe_counter!(
        "ferrobase_file_bytes_in_total",
        Unit::Bytes,
        "File bytes stored by uploads"
    );
    describe_counter!(
        "ferrobase_file_bytes_out_total",
        Unit::Bytes,
        "File bytes sent by downloads"
    );
    describe_counter!(
        "ferrobase_cloud_calls_total",
        "Cloud Code calls by hook kind and outcome"
    );
    describe_histogram!(
        "ferrobase_cloud_call_duration_seconds",
        Unit::Seconds,
        "Cloud Code calls by hook kind"
    );
}

/// The request's id, in its extensions (for handlers that want it).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What the router learnt, handed back to the outer layer on the response.
#[derive(Debug, Clone)]
struct Routed {
    route: String,
    method: Method,
    user_id: Option<String>,
}

/// Accepts a client's id if it is short, visible ASCII (it goes into logs); else makes one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{:032x}", rand::random::<u128>()))
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The path after the mount, or `None` when the request is outside it.
fn relative<'a>(mount: &str, path: &'a str) -> Option<&'a str> {
    if mount == "/" {
        return Some(path);
    }
    path.strip_prefix(mount)
        .filter(|r| r.is_empty() || r.starts_with('/'))
}

/// Inside the router (a route layer): the matched route template and the user, for the span,
/// the access log and the metrics.
pub async fn route_layer(req: Request, next: Next) -> Response {
    let Some(mount) = req.extensions().get::<Mount>().cloned() else {
        // A `/batch` sub-request: the batch request's span and line cover it.
        return next.run(req).await;
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let route = match relative(&mount.0, &template) {
        Some("") => "/".to_string(),
        Some(r) => r.to_string(),
        None => template,
    };
    let user_id = req
        .extensions()
        .get::<crate::request::ParseRequest>()
        .and_then(|p| p.auth.user_id().map(str::to_string));
    let span = tracing::Span::current();
    span.record("route", route.as_str());
    if let Some(u) = &user_id {
        span.record("user_id", u.as_str());
    }
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(Routed {
        route,
        method,
        user_id,
    });
    resp
}

#[derive(Debug, Clone)]
struct Mount(String);

/// The outermost layer: request id, span, `/metrics` and `/ready`, metrics and the access log.
pub async fn track(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let id = request_id(req.headers());
    let outer_method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %outer_method,
        route = tracing::field::Empty,
        user_id = tracing::field::Empty,
    );
    let mount = app.config.mount_path.clone();
    let rel = relative(&mount, req.uri().path()).map(str::to_string);
    let mut resp = match rel.as_deref() {
        Some("/metrics")
            if app.config.metrics == MetricsMode::Master && outer_method == Method::GET =>
        {
            span.record("route", "/metrics");
            span.in_scope(|| metrics_on_api(&app, peer, req.headers()))
        }
        Some("/ready") if outer_method == Method::GET || outer_method == Method::HEAD => {
            span.record("route", "/ready");
            ready(&app).instrument(span.clone()).await
        }
        _ => {
            req.extensions_mut().insert(RequestId(id.clone()));
            req.extensions_mut().insert(Mount(mount));
            next.run(req).instrument(span.clone()).await
        }
    };
    let elapsed = start.elapsed();
    let routed = resp.extensions_mut().remove::<Routed>();
    let (route, method, user_id) = match routed {
        Some(r) => (r.route, r.method, r.user_id),
        None => {
            let route = match rel.as_deref() {
                Some("/metrics") => "/metrics",
                Some("/ready") => "/ready",
                // No route matched (404, or refused before routing): never the raw path.
                _ => "unmatched",
            };
            (route.to_string(), outer_method, None)
        }
    };
    let status = resp.status().as_u16();
    let method = method_label(&method);
    if app.config.metrics != MetricsMode::Off {
        metrics::counter!(
            "ferrobase_http_requests_total",
            "method" => method,
            "route" => route.clone(),
            "status" => status.to_string()
        )
        .increment(1);
        metrics::histogram!(
            "ferrobase_http_request_duration_seconds",
            "method" => method,
            "route" => route.clone()
        )
        .record(elapsed.as_secs_f64());
    }
    if app.config.access_log {
        let duration_ms = elapsed.as_secs_f64() * 1000.0;
        span.in_scope(|| {
            tracing::info!(
                target: "ferrobase::access",
                method,
                route = route.as_str(),
                status,
                duration_ms,
                user_id = user_id.as_deref().unwrap_or(""),
                "request"
            )
        });
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// The Prometheus text of every metric recorded in this process.
pub fn render() -> Option<String> {
    HANDLE.get().and_then(Option::as_ref).map(|h| h.render())
}

fn text_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

fn metrics_on_api(app: &App, peer: SocketAddr, headers: &HeaderMap) -> Response {
    let key = headers
        .get("x-parse-master-key")
        .and_then(|v| v.to_str().ok())
        .or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
        })
        .map(str::trim);
    let is_master = key.is_some_and(|k| {
        crate::request::same_secret(k, &app.master_key)
            || app
                .config
                .read_only_master_key
                .as_deref()
                .is_some_and(|ro| crate::request::same_secret(k, ro))
    });
    let allowed_ip = app
        .config
        .master_key_ips
        .iter()
        .any(|ip| ip.to_canonical() == peer.ip().to_canonical());
    if !is_master || !allowed_ip {
        let (status, body) = crate::error::status_and_body(&Error::Unauthorized);
        return (status, axum::Json(body)).into_response();
    }
    text_response(render().unwrap_or_default())
}

/// Readiness: the store answers a read (the schema list) within 2 s.
async fn ready(app: &App) -> Response {
    let start = Instant::now();
    let store = app.core.store();
    let answer = tokio::time::timeout(Duration::from_secs(2), store.load_schemas()).await;
    let (status, body) = match answer {
        Ok(Ok(_)) => (
            StatusCode::OK,
            serde_json::json!({
                "status": "ok",
                "store": store.kind(),
                "latencyMs": start.elapsed().as_secs_f64() * 1000.0,
            }),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store failed a read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "store": store.kind(), "error": "the store failed a read"}),
            )
        }
        Err(_) => {
            tracing::warn!("readiness: the store did not answer within 2 s");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"status": "unavailable", "store": store.kind(), "error": "the store did not answer in time"}),
            )
        }
    };
    (status, axum::Json(body)).into_response()
}

/// `--metrics HOST:PORT`: a listener that serves only `GET /metrics`, without a key.
pub async fn serve_metrics(
    addr: SocketAddr,
) -> std::result::Result<tokio::task::JoinHandle<()>, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(address = %bound, "metrics served at http://{bound}/metrics");
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { text_response(render().unwrap_or_default()) }),
    );
    Ok(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    }))
}

/// Counts file bytes going out as the body streams.
pub fn count_bytes_out<S, E>(
    stream: S,
) -> impl futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>>
where
    S: futures_util::Stream<Item = std::result::Result<bytes::Bytes, E>>,
{
    use futures_util::StreamExt;
    let counter = metrics::counter!("ferrobase_file_bytes_out_total");
    stream.map(move |chunk| {
        if let Ok(b) = &chunk {
            counter.increment(b.len() as u64);
        }
        chunk
    })
}

/// The kind of a Cloud Code call for its metrics: `function`, `job`, or the trigger's name.
pub(crate) fn cloud_hook_label(message: &serde_json::Value) -> String {
    let hook = message.get("hook").and_then(serde_json::Value::as_str);
    let name = match hook {
        Some("trigger") => message.get("trigger").and_then(serde_json::Value::as_str),
        other => other,
    };
    name.filter(|n| n.len() <= 40 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or("other")
        .to_string()
}

pub(crate) fn cloud_call(hook: String, took: Duration, ok: bool) {
    metrics::counter!(
        "ferrobase_cloud_calls_total",
        "hook" => hook.clone(),
        "outcome" => if ok { "ok" } else { "error" }
    )
    .increment(1);
    metrics::histogram!("ferrobase_cloud_call_duration_seconds", "hook" => hook)
        .record(took.as_secs_f64());
}

pub fn count_bytes_in(n: u64) {
    metrics::counter!("ferrobase_file_bytes_in_total").increment(n);
}

/// A store that times each operation (`ferrobase_store_operation_duration_seconds`).
pub struct MeteredStore {
    inner: Arc<dyn Storage>,
}

/// Wraps `store` so that its operations are timed.
pub fn metered(store: Arc<dyn Storage>) -> Arc<dyn Storage> {
    Arc::new(MeteredStore { inner: store })
}

impl MeteredStore {
    async fn time<T>(
        &self,
        op: &'static str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let start = Instant::now();
        let r = f.await;
        let store = self.inner.kind();
        metrics::histogram!(
            "ferrobase_store_operation_duration_seconds",
            "store" => store,
            "op" => op
        )
        .record(start.elapsed().as_secs_f64());
        if r.is_err() {
            metrics::counter!("ferrobase_store_operation_errors_total", "store" => store, "op" => op)
                .increment(1);
        }
        r
    }
}

#[async_trait::async_trait]
impl Storage for MeteredStore {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    async fn load_schemas(&self) -> Result<Vec<ClassSchema>> {
        self.time("load_schemas", self.inner.load_schemas()).await
    }
    async fn save_schema(&self, schema: &ClassSchema, tx: Option<TxId>) -> Result<()> {
        self.time("save_schema", self.inner.save_schema(schema, tx))
            .await
    }
    async fn delete_class(&self, class: &str) -> Result<()> {
        self.time("delete_class", self.inner.delete_class(class))
            .await
    }
    async fn find(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Vec<Object>> {
        self.time("find", self.inner.find(schema, query, tx)).await
    }
    async fn count(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.time("count", self.inner.count(schema, filter, tx))
            .await
    }
    async fn find_json(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Option<Vec<String>>> {
        self.time("find", self.inner.find_json(schema, query, tx))
            .await
    }
    async fn insert(&self, schema: &ClassSchema, object: Object, tx: Option<TxId>) -> Result<()> {
        self.time("insert", self.inner.insert(schema, object, tx))
            .await
    }
    async fn update(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
        tx: Option<TxId>,
    ) -> Result<Option<Updated>> {
        self.time("update", self.inner.update(schema, filter, updates, tx))
            .await
    }
    async fn delete(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.time("delete", self.inner.delete(schema, filter, tx))
            .await
    }
    async fn delete_field(&self, schema: &ClassSchema, field: &str) -> Result<()> {
        self.time("delete_field", self.inner.delete_field(schema, field))
            .await
    }
    async fn purge(&self, schema: &ClassSchema) -> Result<()> {
        self.time("purge", self.inner.purge(schema)).await
    }
    async fn explain(&self, schema: &ClassSchema, query: &StoreQuery) -> Result<Vec<String>> {
        self.inner.explain(schema, query).await
    }
    async fn begin(&self) -> Result<TxId> {
        self.time("begin", self.inner.begin()).await
    }
    async fn commit(&self, tx: TxId) -> Result<()> {
        self.time("commit", self.inner.commit(tx)).await
    }
    async fn rollback(&self, tx: TxId) -> Result<()> {
        self.time("rollback", self.inner.rollback(tx)).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}
