//! Parse Config, installations, `/loginAs`, `/verifyPassword`, `/upgradeToRevocableSession`,
//! analytics events, `/push` and `/push_audiences`.

use super::classes::{create_in, delete_in, find_in, get_in, update_in};
use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferrobase_core::error::code;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn get_config(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    Ok(Json(app.core.get_config(&req.ctx()).await?))
}

pub async fn put_config(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    Ok(Json(app.core.put_config(&req.ctx(), &req.body).await?))
}

pub async fn find_installations(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Response> {
    find_in(&app, &req, "_Installation").await
}

pub async fn create_installation(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Response> {
    // Parse answers `Location: …/classes/_Installation/<id>` here too.
    create_in(&app, req, "_Installation", "classes/_Installation").await
}

pub async fn get_installation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    get_in(&app, &req, "_Installation", &id).await
}

pub async fn update_installation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    update_in(&app, req, "_Installation", &id).await
}

pub async fn delete_installation(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    delete_in(&app, &req, "_Installation", &id).await
}

pub async fn login_as(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    let user_id = req.str_param("userId");
    let user = app.core.login_as(&req.ctx(), user_id.as_deref()).await?;
    Ok(Json(Value::Object(user)))
}

pub async fn verify_password(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    // Non-string credentials are refused as Parse refuses them.
    for k in ["username", "email", "password"] {
        if matches!(req.param(k), Some(v) if !v.is_string() && !v.is_null()) {
            return Err(Error::new(code::OBJECT_NOT_FOUND, "Invalid username/password.").into());
        }
    }
    let username = req.str_param("username");
    let email = req.str_param("email");
    let password = req.str_param("password");
    let user = app
        .core
        .verify_password(
            &req.ctx(),
            username.as_deref(),
            email.as_deref(),
            password.as_deref(),
        )
        .await?;
    Ok(Json(Value::Object(user)))
}

pub async fn upgrade_session(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Object(
        app.core.upgrade_to_revocable_session(&req.ctx()).await?,
    )))
}

/// `POST /events/AppOpened`, `POST /events/<name>`: analytics, accepted and dropped (Parse's
/// default analytics adapter does the same).
pub async fn event(Path(name): Path<String>, _req: ParseRequest) -> Json<Value> {
    tracing::debug!(event = %name, "analytics event");
    Json(json!({}))
}

/// `POST /push` (master key): validates, records `_PushStatus`, answers at once with
/// `X-Parse-Push-Status-Id`, and delivers through the webhook adapter in the background.
pub async fn push(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    let url = app.config.push_webhook_url.clone();
    let job = app
        .core
        .start_push(&req.ctx(), req.body.clone(), url.is_some())
        .await?;
    if let Some(url) = url {
        let adapter = crate::push::WebhookPush::new(&url, app.config.webhook_key.clone());
        let app = app.clone();
        let job = job.clone();
        tokio::spawn(async move { app.core.run_push(&job, &adapter).await });
    }
    let mut resp = Json(json!({"result": true})).into_response();
    if let Ok(v) = HeaderValue::from_str(&job.status_id) {
        resp.headers_mut().insert("X-Parse-Push-Status-Id", v);
    }
    Ok(resp)
}

fn require_master(req: &ParseRequest) -> ApiResult<()> {
    if req.auth.master {
        Ok(())
    } else {
        Err(Error::Forbidden("Permission denied".into()).into())
    }
}

/// `_Audience.query` is stored as JSON text; the audience routes answer it parsed.
fn parse_query_field(o: &mut serde_json::Map<String, Value>) {
    if let Some(Value::String(s)) = o.get("query") {
        if let Ok(v) = serde_json::from_str::<Value>(s) {
            o.insert("query".into(), v);
        }
    }
}

pub async fn find_audiences(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    require_master(&req)?;
    let opts = super::find_options(&req)?;
    let mut r = app.core.find(&req.ctx(), "_Audience", &opts).await?;
    r.results.iter_mut().for_each(parse_query_field);
    let mut out = json!({"results": r.results});
    if let Some(c) = r.count {
        out["count"] = json!(c);
    }
    Ok(Json(out))
}

pub async fn get_audience(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    require_master(&req)?;
    let Json(mut v) = get_in(&app, &req, "_Audience", &id).await?;
    if let Some(o) = v.as_object_mut() {
        parse_query_field(o);
    }
    Ok(Json(v))
}

pub async fn create_audience(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Response> {
    require_master(&req)?;
    create_in(&app, req, "_Audience", "push_audiences").await
}

pub async fn update_audience(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    require_master(&req)?;
    update_in(&app, req, "_Audience", &id).await
}

pub async fn delete_audience(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    require_master(&req)?;
    delete_in(&app, &req, "_Audience", &id).await
}
