//! `/schemas` (master key only).

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn list(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"results": app.core.list_schemas(&req.ctx())?})))
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    Ok(Json(app.core.get_schema(&req.ctx(), &class)?))
}

pub async fn create(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let ctx = req.ctx();
    Ok(Json(app.core.create_schema(&ctx, &class, req.body).await?))
}

pub async fn create_from_body(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let ctx = req.ctx();
    Ok(Json(app.core.create_schema(&ctx, "", req.body).await?))
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let ctx = req.ctx();
    Ok(Json(app.core.update_schema(&ctx, &class, req.body).await?))
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    app.core.delete_schema(&req.ctx(), &class).await?;
    Ok(Json(json!({})))
}
