//! `/classes/:className[/:objectId]` and its aliases (`/roles`).

use super::find_options;
use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferrobase_core::rest::FindWire;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub(super) async fn find_in(app: &App, req: &ParseRequest, class: &str) -> ApiResult<Response> {
    let opts = find_options(req)?;
    let (results, count) = match app.core.find_wire(&req.ctx(), class, &opts).await? {
        FindWire::Json { results, count } => {
            // The stored objects' JSON text, written as it is.
            let len = results.iter().map(|r| r.len() + 1).sum::<usize>() + 40;
            let mut body = String::with_capacity(len);
            body.push_str("{\"results\":[");
            for (i, r) in results.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(r);
            }
            body.push(']');
            if let Some(c) = count {
                body.push_str(&format!(",\"count\":{c}"));
            }
            body.push('}');
            return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
        }
        FindWire::Objects(r) => (r.results, r.count),
    };
    let mut out = Map::new();
    out.insert(
        "results".into(),
        Value::Array(results.into_iter().map(Value::Object).collect()),
    );
    if let Some(c) = count {
        out.insert("count".into(), json!(c));
    }
    Ok(Json(Value::Object(out)).into_response())
}

/// A 201 with `Location`, as Parse answers creates.
pub(super) async fn create_in(
    app: &App,
    req: ParseRequest,
    class: &str,
    route: &str,
) -> ApiResult<Response> {
    let ctx = req.ctx();
    let r = app.core.create(&ctx, class, req.body).await?;
    let Some(id) = r.created_id else {
        // An existing account logged in through authData: 200, as Parse Server.
        return Ok(Json(Value::Object(r.body)).into_response());
    };
    let location = format!("{}/{route}/{id}", req.base_url);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Value::Object(r.body)),
    )
        .into_response())
}

pub(super) async fn get_in(
    app: &App,
    req: &ParseRequest,
    class: &str,
    id: &str,
) -> ApiResult<Json<Value>> {
    let opts = find_options(req)?;
    Ok(Json(Value::Object(
        app.core.get(&req.ctx(), class, id, &opts).await?,
    )))
}

pub(super) async fn update_in(
    app: &App,
    req: ParseRequest,
    class: &str,
    id: &str,
) -> ApiResult<Json<Value>> {
    let ctx = req.ctx();
    Ok(Json(Value::Object(
        app.core.update(&ctx, class, id, req.body).await?.body,
    )))
}

pub(super) async fn delete_in(
    app: &App,
    req: &ParseRequest,
    class: &str,
    id: &str,
) -> ApiResult<Json<Value>> {
    app.core.delete(&req.ctx(), class, id).await?;
    Ok(Json(json!({})))
}

pub async fn find(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Response> {
    // The SDKs' relation query on a parent whose schema they do not know
    // (`new Parse.Object(P, {id}).relation(r).query()`) asks `/classes/P` with
    // `redirectClassNameForKey=r`: Parse answers from the relation's target class.
    let class = match req.str_param("redirectClassNameForKey") {
        Some(key) => match app
            .core
            .schema(&class)
            .as_deref()
            .and_then(|s| s.field(&key))
        {
            Some(ferrobase_core::schema::FieldType::Relation(target)) => target.clone(),
            _ => class,
        },
        None => class,
    };
    find_in(&app, &req, &class).await
}

pub async fn create(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Response> {
    let route = format!("classes/{class}");
    create_in(&app, req, &class, &route).await
}

pub async fn get(
    State(app): State<Arc<App>>,
    Path((class, id)): Path<(String, String)>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    get_in(&app, &req, &class, &id).await
}

pub async fn update(
    State(app): State<Arc<App>>,
    Path((class, id)): Path<(String, String)>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    update_in(&app, req, &class, &id).await
}

pub async fn delete(
    State(app): State<Arc<App>>,
    Path((class, id)): Path<(String, String)>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    delete_in(&app, &req, &class, &id).await
}

pub async fn find_roles(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    find_in(&app, &req, "_Role").await
}

pub async fn create_role(State(app): State<Arc<App>>, req: ParseRequest) -> ApiResult<Response> {
    create_in(&app, req, "_Role", "roles").await
}

pub async fn get_role(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    get_in(&app, &req, "_Role", &id).await
}

pub async fn update_role(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    update_in(&app, req, "_Role", &id).await
}

pub async fn delete_role(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    delete_in(&app, &req, "_Role", &id).await
}

/// A JSON parameter that may arrive as text (URL) or as a value (the SDK's body).
fn json_param(req: &ParseRequest, name: &str) -> ApiResult<Option<Value>> {
    match req.param(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(&s).map(Some).map_err(|_| {
            ferrobase_core::Error::invalid_json(format!("{name} parameter is not valid JSON"))
                .into()
        }),
        Some(v) => Ok(Some(v)),
    }
}

const STAGES: &[&str] = &[
    "match", "group", "project", "sort", "limit", "skip", "count", "unwind", "sample",
];

/// `GET /aggregate/:className` with `pipeline=[…]` (or one parameter per stage, Parse's older
/// form), or `distinct=<field>` with an optional `where`.
pub async fn aggregate(
    State(app): State<Arc<App>>,
    Path(class): Path<String>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let mut pipeline = json_param(&req, "pipeline")?;
    if pipeline.is_none() {
        let mut stages = Vec::new();
        for name in STAGES {
            if let Some(v) = json_param(&req, name)?
                .or_else(|| json_param(&req, &format!("${name}")).ok().flatten())
            {
                stages.push(json!({ format!("${name}"): v }));
            }
        }
        if !stages.is_empty() {
            pipeline = Some(Value::Array(stages));
        }
    }
    let distinct = req.str_param("distinct");
    let where_ = json_param(&req, "where")?;
    let results = app
        .core
        .aggregate(
            &req.ctx(),
            &class,
            pipeline.as_ref(),
            distinct.as_deref(),
            where_.as_ref(),
        )
        .await?;
    Ok(Json(json!({ "results": results })))
}
