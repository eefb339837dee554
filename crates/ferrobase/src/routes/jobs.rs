//! Cloud functions and jobs (Parse Server's FunctionsRouter and CloudCodeRouter), and the Cloud
//! Code log (`/scriptlog`, LogsRouter).

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferrobase_core::error::code;
use ferrobase_core::rest::FindOptions;
use ferrobase_core::Error;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn cloud(app: &App) -> Option<&Arc<Cloud>> {
    app.cloud.as_ref()
}

/// Parse's function parameters: the body's keys, then the URL's (`Object.assign({}, body,
/// query)`: an array body gives its indexes as keys).
fn params(req: &ParseRequest) -> Value {
    let mut p = match &req.body {
        Value::Object(o) => o.clone(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        _ => Map::new(),
    };
    for (k, v) in &req.query {
        p.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(p)
}

/// Parse 9 answers its sanitized message ("unauthorized: master key is required" is logged).
pub(super) fn master_required(req: &ParseRequest) -> Result<(), Error> {
    if req.auth.master {
        Ok(())
    } else {
        Err(Error::Forbidden("Permission denied".into()))
    }
}

/// `POST /functions/<name>` → `{"result": …}`.
pub async fn function(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: ParseRequest,
) -> ApiResult<Response> {
    let mut request = app.core.cloud_request(&req.ctx());
    request.insert("params".into(), params(&req));
    request.insert("functionName".into(), Value::String(name.clone()));
    let mut value = app
        .hooks
        .run_function(&name, Value::Object(request))
        .await?;
    let status = value
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let headers = value
        .as_object_mut()
        .and_then(|m| m.remove("headers"))
        .and_then(|h| h.as_object().cloned())
        .unwrap_or_default();
    let mut body = Map::new();
    if let Some(r) = value.get("result") {
        body.insert("result".into(), r.clone());
    }
    let mut resp = (status, Json(Value::Object(body))).into_response();
    for (k, v) in headers {
        if let (Ok(k), Some(Ok(v))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    Ok(resp)
}

/// `POST /jobs/<name>` (master key): records a `_JobStatus`, runs the job detached, answers `{}`
/// with `X-Parse-Job-Status-Id`.
pub async fn start(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    req: ParseRequest,
) -> ApiResult<Response> {
    run_job(app, name, req).await
}

/// `POST /jobs` with `{"jobName": …}` in the body (the dashboard's form).
pub async fn start_by_body(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    let name = req
        .body
        .get("jobName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    run_job(app, name, req).await
}

async fn run_job(app: Arc<App>, name: String, req: ParseRequest) -> ApiResult<Response> {
    master_required(&req)?;
    let request = app.core.cloud_request(&req.ctx());
    let job_id = start_job(&app, &name, params(&req), request, "api").await?;
    let mut resp = Json(json!({})).into_response();
    if let Ok(v) = HeaderValue::from_str(&job_id) {
        resp.headers_mut()
            .insert(HeaderName::from_static("x-parse-job-status-id"), v);
    }
    Ok(resp)
}

/// Records a `_JobStatus` and runs the job detached (from `/jobs` or a schedule); answers the
/// status's objectId.
pub(crate) async fn start_job(
    app: &Arc<App>,
    name: &str,
    params: Value,
    mut request: Map<String, Value>,
    source: &str,
) -> Result<String, Error> {
    let invalid = || Error::new(code::SCRIPT_FAILED, "Invalid job.");
    let cloud = cloud(app).ok_or_else(invalid)?.clone();
    if !cloud.manifest().jobs.iter().any(|j| j == name) {
        return Err(invalid());
    }
    // As Parse's jobStatusHandler: no params, an empty ACL (master key only).
    let mut fields = Map::new();
    fields.insert("jobName".into(), json!(name));
    fields.insert("source".into(), json!(source));
    fields.insert("status".into(), json!("running"));
    fields.insert("ACL".into(), json!({}));
    let job_id = app.core.system_insert("_JobStatus", fields).await?;
    request.insert("params".into(), params);
    request.insert("jobName".into(), json!(name));
    request.insert("jobId".into(), Value::String(job_id.clone()));
    let (id, name) = (job_id.clone(), name.to_string());
    tokio::spawn(async move {
        let outcome = cloud.run_job(&name, Value::Object(request)).await;
        let mut update = Map::new();
        match outcome {
            Ok(v) => {
                update.insert("status".into(), json!("succeeded"));
                if let Some(m) = v.get("result").and_then(Value::as_str) {
                    update.insert("message".into(), json!(m));
                }
            }
            Err(e) => {
                update.insert("status".into(), json!("failed"));
                let message = match &e {
                    Error::Parse { message, .. } => message.clone(),
                    other => other.to_string(),
                };
                update.insert("message".into(), json!(message));
            }
        }
        update.insert(
            "finishedAt".into(),
            ferrobase_core::types::date_value(&ferrobase_core::types::now_iso()),
        );
        cloud.finish_job(id, Value::Object(update));
    });
    Ok(job_id)
}

/// Writes a job's `request.message(…)` or its end into its `_JobStatus`.
pub async fn record(app: &App, job_id: &str, update: Value) {
    let Value::Object(fields) = update else {
        return;
    };
    if let Err(e) = app.core.system_update("_JobStatus", job_id, fields).await {
        tracing::warn!(error = %e, "could not record a job's status");
    }
}

/// `GET /cloud_code/jobs/data` (master key): the jobs main.js defines, and those scheduled.
pub async fn jobs_data(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    let jobs = cloud(&app)
        .map(|c| c.manifest().jobs.clone())
        .unwrap_or_default();
    let scheduled = app
        .core
        .find(&req.ctx(), "_JobSchedule", &FindOptions::default())
        .await?;
    let in_use: Vec<Value> = scheduled
        .results
        .iter()
        .filter_map(|s| s.get("jobName").cloned())
        .collect();
    Ok(Json(json!({"in_use": in_use, "jobs": jobs})))
}

/// `GET /cloud_code/jobs` (master key): the job schedules.
pub async fn schedules(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    let found = app
        .core
        .find(&req.ctx(), "_JobSchedule", &FindOptions::default())
        .await?;
    Ok(Json(Value::Array(
        found.results.into_iter().map(Value::Object).collect(),
    )))
}

/// `POST /cloud_code/jobs` (master key) with `{"job_schedule": {…}}`.
pub async fn create_schedule(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    let schedule = schedule_body(&app, &req.body)?;
    let r = app
        .core
        .create(&req.ctx(), "_JobSchedule", schedule)
        .await?;
    Ok(Json(Value::Object(r.body)))
}

pub async fn update_schedule(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    let schedule = schedule_body(&app, &req.body)?;
    app.core
        .update(&req.ctx(), "_JobSchedule", &id, schedule)
        .await?;
    Ok(Json(json!({})))
}

pub async fn delete_schedule(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    app.core.delete(&req.ctx(), "_JobSchedule", &id).await?;
    Ok(Json(json!({})))
}

/// A schedule must name a job main.js defines (Parse: "Cannot Schedule a job that is not
/// deployed").
fn schedule_body(app: &App, body: &Value) -> Result<Value, Error> {
    let s = body
        .get("job_schedule")
        .cloned()
        .ok_or_else(|| Error::invalid_json("job_schedule is required"))?;
    if let Some(name) = s.get("jobName").and_then(Value::as_str) {
        let known = cloud(app).is_some_and(|c| c.manifest().jobs.iter().any(|j| j == name));
        if !known {
            return Err(Error::new(
                code::INTERNAL,
                format!("Cannot Schedule a job that is not deployed: {name}"),
            ));
        }
    }
    Ok(s)
}

/// `GET /scriptlog` (master key): Cloud Code's recent log lines, newest first (`size`, `level`).
pub async fn script_log(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Json<Value>> {
    master_required(&req)?;
    let size = req
        .str_param("size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(10)
        .min(1000);
    let level = req.str_param("level");
    let lines = cloud(&app)
        .map(|c| c.recent_log(size, level.as_deref()))
        .unwrap_or_default();
    Ok(Json(Value::Array(
        lines
            .into_iter()
            .map(|l| {
                let mut entry = l.meta;
                entry.insert("level".into(), json!(l.level));
                entry.insert("message".into(), json!(l.message));
                entry.insert(
                    "timestamp".into(),
                    json!(l.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                );
                Value::Object(entry)
            })
            .collect(),
    )))
}
