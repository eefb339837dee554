//! `/hooks/functions` and `/hooks/triggers` (Parse Server's HooksRouter, master key): webhooks
//! registered by URL. Errors are code 143.

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::Json;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::sync::Arc;

/// Webhooks are managed with the full master key only.
fn master(req: &ParseRequest) -> Result<(), Error> {
    super::jobs::master_required(req)?;
    if req.auth.read_only {
        return Err(Error::Forbidden("Permission denied".into()));
    }
    Ok(())
}

fn is_delete(body: &Value) -> bool {
    body.get("__op").and_then(Value::as_str) == Some("Delete")
}

pub async fn functions(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master(&req)?;
    Ok(Json(Value::Array(app.hooks.functions())))
}

pub async fn triggers(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master(&req)?;
    Ok(Json(Value::Array(app.hooks.triggers())))
}

pub async fn create(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master(&req)?;
    Ok(Json(app.hooks.save(&app.core, &req.body, true).await?))
}

pub async fn function(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master(&req)?;
    Ok(Json(app.hooks.function(&name)?))
}

pub async fn trigger(
    State(app): State<Arc<App>>,
    Path((class, trigger)): Path<(String, String)>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master(&req)?;
    Ok(Json(app.hooks.trigger(&class, &trigger)?))
}

/// `PUT /hooks/functions/<name>`: a new URL, or `{"__op": "Delete"}`.
pub async fn update_function(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master(&req)?;
    if is_delete(&req.body) {
        app.hooks
            .delete(&app.core, &json!({ "functionName": name }))
            .await?;
        return Ok(Json(json!({})));
    }
    let decl = json!({"functionName": name, "url": req.body.get("url")});
    Ok(Json(app.hooks.save(&app.core, &decl, false).await?))
}

pub async fn update_trigger(
    State(app): State<Arc<App>>,
    Path((class, trigger)): Path<(String, String)>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master(&req)?;
    if is_delete(&req.body) {
        app.hooks
            .delete(
                &app.core,
                &json!({"className": class, "triggerName": trigger}),
            )
            .await?;
        return Ok(Json(json!({})));
    }
    let decl = json!({"className": class, "triggerName": trigger, "url": req.body.get("url")});
    Ok(Json(app.hooks.save(&app.core, &decl, false).await?))
}
