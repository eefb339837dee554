//! `POST /batch`: sub-requests routed through the same handlers, concurrently (as Parse Server),
//! or in order inside one transaction with `"transaction": true`.

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::Method;
use axum::Json;
use ferrobase_core::error::code;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

/// One sub-request, checked.
struct Sub {
    method: Method,
    path: String,
    body: Value,
}

fn parse_sub(app: &App, v: &Value) -> Result<Sub, Error> {
    let method = v
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
        .ok_or_else(|| Error::invalid_json("batch request needs a method"))?;
    let path = v
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_json("batch request needs a path"))?;
    let mount = &app.config.mount_path;
    let rel = if mount == "/" {
        Some(path)
    } else {
        path.strip_prefix(mount.as_str())
    };
    match rel {
        Some(r) if r.starts_with('/') && !r.starts_with("/batch") => {}
        _ => {
            return Err(Error::invalid_json(format!(
                "cannot route batch path {path}"
            )))
        }
    }
    Ok(Sub {
        method,
        path: path.to_string(),
        body: v.get("body").cloned().unwrap_or(Value::Null),
    })
}

/// Runs one sub-request and answers `{"success": …}` or `{"error": {"code", "error"}}`; the bool
/// says whether it succeeded.
async fn run_sub(app: Arc<App>, parent: ParseRequest, sub: Sub) -> (Value, Option<Error>) {
    let Some(router) = app.inner.get().cloned() else {
        let e = Error::internal("router not ready");
        return (error_item(&e), Some(e));
    };
    let (method, path) = (sub.method.clone(), sub.path.clone());
    let mut req = match Request::builder()
        .method(sub.method)
        .uri(&sub.path)
        .body(Body::empty())
    {
        Ok(r) => r,
        Err(e) => {
            let e = Error::invalid_json(format!("cannot route batch path {}: {e}", sub.path));
            return (error_item(&e), Some(e));
        }
    };
    let query = Query::<Vec<(String, String)>>::try_from_uri(req.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    req.extensions_mut().insert(ParseRequest {
        body: sub.body,
        query,
        ..parent
    });
    let resp = match router.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status == axum::http::StatusCode::NOT_FOUND && body.is_null() {
        // No route for it (Parse's batch router: "cannot route <METHOD> <path>").
        let e = Error::invalid_json(format!("cannot route {method} {path}"));
        return (error_item(&e), Some(e));
    }
    if status.is_success() {
        (json!({ "success": body }), None)
    } else {
        let c = body
            .get("code")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(code::INTERNAL);
        let m = body
            .get("error")
            .or_else(|| body.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("error")
            .to_string();
        (
            json!({"error": {"code": c, "error": m}}),
            Some(Error::new(c, m)),
        )
    }
}

fn error_item(e: &Error) -> Value {
    let (_, body) = crate::error::status_and_body(e);
    json!({ "error": body })
}

pub async fn batch(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    let requests = req
        .body
        .get("requests")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| Error::invalid_json("requests must be an array"))?;
    if let Some(max) = app.config.max_batch_size {
        if requests.len() > max {
            return Err(Error::invalid_json(format!(
                "Batch request limit exceeded: {} requests, at most {max} (--max-batch-size)",
                requests.len(),
            ))
            .into());
        }
    }
    let transaction = req.body.get("transaction").and_then(Value::as_bool) == Some(true);
    // As Parse: a sub-request that cannot be routed (a path outside the mount, no method)
    // refuses the whole batch before any of it runs.
    let subs: Vec<Sub> = requests
        .iter()
        .map(|r| parse_sub(&app, r))
        .collect::<Result<_, _>>()?;
    let parent = ParseRequest {
        body: Value::Null,
        query: Vec::new(),
        ..req
    };
    if transaction {
        return run_transaction(app, parent, subs).await;
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, sub) in subs.into_iter().enumerate() {
        let (app, parent) = (app.clone(), parent.clone());
        set.spawn(async move { (i, run_sub(app, parent, sub).await.0) });
    }
    let mut results = vec![Value::Null; requests.len()];
    while let Some(done) = set.join_next().await {
        let (i, v) = done.map_err(Error::internal)?;
        if let Some(slot) = results.get_mut(i) {
            *slot = v;
        }
    }
    Ok(Json(Value::Array(results)))
}

/// All or nothing: the sub-requests run in order in one store transaction. A failure rolls back
/// and answers as Parse Server does (500 with `code` and `message`).
async fn run_transaction(
    app: Arc<App>,
    parent: ParseRequest,
    subs: Vec<Sub>,
) -> ApiResult<Json<Value>> {
    let tx = app.core.begin().await?;
    let parent = ParseRequest {
        tx: Some(tx),
        ..parent
    };
    let mut results = Vec::with_capacity(subs.len());
    for (i, sub) in subs.into_iter().enumerate() {
        let (item, err) = run_sub(app.clone(), parent.clone(), sub).await;
        if let Some(e) = err {
            app.core.rollback(tx).await?;
            let message = match &e {
                Error::Parse { code, message } => {
                    format!("batch request {i} failed: {message} (code {code}); nothing was saved")
                }
                other => format!("batch request {i} failed: {other}; nothing was saved"),
            };
            return Err(Error::TransactionFailed {
                code: code::INTERNAL,
                message,
            }
            .into());
        }
        results.push(item);
    }
    app.core.commit(tx).await?;
    Ok(Json(Value::Array(results)))
}
