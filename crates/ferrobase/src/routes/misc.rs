//! Health, server info and purge.

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::Json;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Parse Server's `serverInfo` (what Parse Dashboard reads), plus ferrobase's own details.
pub async fn server_info(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    if !req.auth.master {
        return Err(Error::Forbidden("Permission denied".into()).into());
    }
    Ok(Json(json!({
        "parseServerVersion": "9.10.0",
        "ferrobaseVersion": env!("CARGO_PKG_VERSION"),
        "database": app.core.store().kind(),
        "uptimeSeconds": app.started.elapsed().as_secs(),
        "features": features(&app),
    })))
}

/// What this server really supports, in Parse's `features` shape (Parse Dashboard enables its
/// sections from it).
fn features(app: &App) -> Value {
    let cloud = app.cloud.is_some();
    let push = app.config.push_webhook_url.is_some();
    json!({
        "globalConfig": {"create": true, "read": true, "update": true, "delete": true},
        // Webhooks (`/hooks/functions`, `/hooks/triggers`) are served on every store.
        "hooks": {"create": true, "read": true, "update": true, "delete": true},
        "cloudCode": {"jobs": cloud},
        "logs": {"level": cloud, "size": cloud, "order": false, "until": false, "from": false},
        "push": {"immediatePush": push, "scheduledPush": false, "storedPushData": push,
                 "pushAudiences": true, "localization": false},
        "schemas": {"addField": true, "removeField": true, "addClass": true, "removeClass": true,
                    "clearAllDataFromClass": true, "exportClass": false,
                    "editClassLevelPermissions": true, "editPointerPermissions": true},
        "settings": {"securityCheck": false}
    })
}

pub async fn purge(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    app.core.purge(&req.ctx(), &class).await?;
    Ok(Json(json!({})))
}
