//! Parse calls made inside Cloud Code (the worker's REST controller, as Parse Server's
//! `ParseServerRESTController`): each `rest` frame runs through the same router as an HTTP
//! request, after the HTTP layer, with the caller's auth taken from the frame — full REST
//! semantics (CLP, ACL, other classes' triggers), and no loopback HTTP.

use crate::app::App;
use crate::error::status_and_body;
use crate::request::ParseRequest;
use axum::body::Body;
use axum::extract::{Query, Request};
use axum::http::Method;
use ferrobase_core::auth::Auth;
use ferrobase_core::rest::RequestMeta;
use ferrobase_core::Error;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn failed(e: &Error) -> Value {
    let (status, body) = status_and_body(e);
    json!({"status": status.as_u16(), "body": body})
}

/// Runs one `rest` frame; answers `{"status", "body", "headers"}`.
pub async fn run(app: &Arc<App>, base_url: &str, frame: &Value) -> Value {
    match route(app, base_url, frame).await {
        Ok(v) => v,
        Err(e) => failed(&e),
    }
}

async fn route(app: &Arc<App>, base_url: &str, frame: &Value) -> Result<Value, Error> {
    let method = frame
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| Error::invalid_json("a Cloud Code request needs a method"))?;
    let path = frame
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_json("a Cloud Code request needs a path"))?
        .trim_start_matches('/');
    let mount = &app.config.mount_path;
    let uri = if mount == "/" {
        format!("/{path}")
    } else {
        format!("{mount}/{path}")
    };
    let creds = frame.get("auth").cloned().unwrap_or(Value::Null);
    let text = |k: &str| {
        creds
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut auth = if creds.get("master").and_then(Value::as_bool) == Some(true) {
        Auth::master()
    } else {
        let mut a = Auth::default();
        if let Some(token) = text("sessionToken") {
            a.user = Some(app.core.authenticate(&token).await?);
        }
        a
    };
    auth.installation_id = text("installationId");
    let mut body = frame.get("body").cloned().unwrap_or(Value::Null);
    let content_type = body
        .as_object_mut()
        .and_then(|b| b.remove("_ContentType"))
        .and_then(|v| v.as_str().map(str::to_string));
    let context: Map<String, Value> = frame
        .get("context")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut req = Request::builder()
        .method(method)
        .uri(&uri)
        .body(Body::empty())
        .map_err(|e| Error::invalid_json(format!("cannot route {uri}: {e}")))?;
    let query = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    // A hook running inside a transaction: its writes join it.
    let tx = frame
        .get("tx")
        .and_then(Value::as_u64)
        .map(ferrobase_core::storage::TxId);
    req.extensions_mut().insert(ParseRequest {
        auth,
        body,
        query,
        tx,
        base_url: base_url.to_string(),
        content_type,
        meta: Some(Arc::new(RequestMeta {
            ip: "127.0.0.1".into(),
            context,
            ..RequestMeta::default()
        })),
    });
    let router = app
        .inner
        .get()
        .cloned()
        .ok_or_else(|| Error::internal("router not ready"))?;
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (k, v) in resp.headers() {
        let name = k.as_str();
        if name.starts_with("x-parse-") || name == "location" {
            if let Ok(v) = v.to_str() {
                headers.insert(canonical_header(name), json!(v));
            }
        }
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(Error::internal)?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(json!({"status": status, "body": body, "headers": headers}))
}

/// `x-parse-job-status-id` → `X-Parse-Job-Status-Id` (what the SDK looks up).
fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
