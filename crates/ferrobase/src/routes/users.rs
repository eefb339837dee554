//! Users, login/logout and sessions.

use super::classes::{create_in, delete_in, find_in, get_in, update_in};
use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn find(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    find_in(&app, &req, "_User").await
}

pub async fn signup(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    create_in(&app, req, "_User", "users").await
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    get_in(&app, &req, "_User", &id).await
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    update_in(&app, req, "_User", &id).await
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    delete_in(&app, &req, "_User", &id).await
}

pub async fn me(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Object(app.core.me(&req.ctx()).await?)))
}

pub async fn login(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    let username = req.str_param("username");
    let email = req.str_param("email");
    let password = req.str_param("password");
    let auth_data = req.body.get("authData").and_then(Value::as_object);
    let user = app
        .core
        .login_with_auth_data(
            &req.ctx(),
            username.as_deref(),
            email.as_deref(),
            password.as_deref(),
            auth_data,
        )
        .await?;
    Ok(Json(Value::Object(user)))
}

/// `POST /challenge` (Parse's auth adapter challenges).
pub async fn challenge(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    let body = req.body.as_object().cloned().unwrap_or_default();
    Ok(Json(Value::Object(
        app.core.challenge(&req.ctx(), &body).await?,
    )))
}

pub async fn logout(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    app.core.logout(&req.ctx()).await?;
    Ok(Json(json!({})))
}

pub async fn find_sessions(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    find_in(&app, &req, "_Session").await
}

pub async fn create_session(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    create_in(&app, req, "_Session", "sessions").await
}

pub async fn session_me(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Object(app.core.session_me(&req.ctx()).await?)))
}

pub async fn get_session(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    get_in(&app, &req, "_Session", &id).await
}

pub async fn update_session(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    update_in(&app, req, "_Session", &id).await
}

pub async fn delete_session(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    delete_in(&app, &req, "_Session", &id).await
}
