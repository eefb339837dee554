//! Routes of the Parse REST API, one module per area; handlers stay thin and call `Core`.

mod batch;
mod classes;
mod hooks;
pub(crate) mod jobs;
mod misc;
mod pages;
mod parse_extras;
mod schemas;
mod users;

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ferrobase_core::rest::FindOptions;
use ferrobase_core::Error;
use serde_json::Value;
use std::sync::Arc;

pub fn api() -> Router<Arc<App>> {
    Router::new()
        .route("/health", get(misc::health).post(misc::health))
        .route("/serverInfo", get(misc::server_info))
        .route("/purge/{class}", axum::routing::delete(misc::purge))
        .route("/classes/{class}", get(classes::find).post(classes::create))
        .route(
            "/classes/{class}/{id}",
            get(classes::get)
                .put(classes::update)
                .delete(classes::delete),
        )
        .route("/users", get(users::find).post(users::signup))
        .route("/users/me", get(users::me))
        .route(
            "/users/{id}",
            get(users::get).put(users::update).delete(users::delete),
        )
        .route("/login", get(users::login).post(users::login))
        .route("/logout", post(users::logout))
        .route("/challenge", post(users::challenge))
        .route(
            "/sessions",
            get(users::find_sessions).post(users::create_session),
        )
        .route("/sessions/me", get(users::session_me))
        .route(
            "/sessions/{id}",
            get(users::get_session)
                .put(users::update_session)
                .delete(users::delete_session),
        )
        .route(
            "/roles",
            get(classes::find_roles).post(classes::create_role),
        )
        .route(
            "/roles/{id}",
            get(classes::get_role)
                .put(classes::update_role)
                .delete(classes::delete_role),
        )
        .route(
            "/schemas",
            get(schemas::list).post(schemas::create_from_body),
        )
        .route(
            "/schemas/{class}",
            get(schemas::get)
                .post(schemas::create)
                .put(schemas::update)
                .delete(schemas::delete),
        )
        .route("/batch", post(batch::batch))
        .route("/functions/{name}", post(jobs::function))
        .route("/jobs", post(jobs::start_by_body))
        .route("/jobs/{name}", post(jobs::start))
        .route(
            "/cloud_code/jobs",
            get(jobs::schedules).post(jobs::create_schedule),
        )
        .route("/cloud_code/jobs/data", get(jobs::jobs_data))
        .route(
            "/cloud_code/jobs/{id}",
            axum::routing::put(jobs::update_schedule).delete(jobs::delete_schedule),
        )
        .route("/scriptlog", get(jobs::script_log))
        .route(
            "/hooks/functions",
            get(hooks::functions).post(hooks::create),
        )
        .route(
            "/hooks/functions/{name}",
            get(hooks::function).put(hooks::update_function),
        )
        .route("/hooks/triggers", get(hooks::triggers).post(hooks::create))
        .route(
            "/hooks/triggers/{class}/{trigger}",
            get(hooks::trigger).put(hooks::update_trigger),
        )
        .route("/files", post(crate::files::no_name))
        .route("/files/{*path}", axum::routing::any(crate::files::dispatch))
        .route("/aggregate/{class}", get(classes::aggregate))
        .route(
            "/verificationEmailRequest",
            post(pages::verification_email_request),
        )
        .route("/requestPasswordReset", post(pages::request_password_reset))
        .route("/apps/choose_password", get(pages::choose_password))
        .route("/apps/{app_id}/verify_email", get(pages::verify_email))
        .route(
            "/apps/{app_id}/request_password_reset",
            get(pages::reset_link).post(pages::reset_submit),
        )
        .route("/apps/{page}", get(pages::static_page))
        .route(
            "/config",
            get(parse_extras::get_config).put(parse_extras::put_config),
        )
        .route(
            "/installations",
            get(parse_extras::find_installations).post(parse_extras::create_installation),
        )
        .route(
            "/installations/{id}",
            get(parse_extras::get_installation)
                .put(parse_extras::update_installation)
                .delete(parse_extras::delete_installation),
        )
        .route("/loginAs", post(parse_extras::login_as))
        .route(
            "/verifyPassword",
            get(parse_extras::verify_password).post(parse_extras::verify_password),
        )
        .route(
            "/upgradeToRevocableSession",
            post(parse_extras::upgrade_session),
        )
        .route("/events/{name}", post(parse_extras::event))
        .route("/push", post(parse_extras::push))
        .route(
            "/push_audiences",
            get(parse_extras::find_audiences).post(parse_extras::create_audience),
        )
        .route(
            "/push_audiences/{id}",
            get(parse_extras::get_audience)
                .put(parse_extras::update_audience)
                .delete(parse_extras::delete_audience),
        )
        .route("/", get(crate::live::ws::upgrade))
        .route("/realtime", get(crate::live::sse::stream))
        .method_not_allowed_fallback(not_found)
}

/// No route for this method and path: 404 with the page Express answers (Parse Server has no
/// handler of its own for these), for an unknown path and for a method a path does not take.
pub async fn not_found(method: axum::http::Method, uri: axum::extract::OriginalUri) -> Response {
    no_route(&method, uri.0.path())
}

pub fn no_route(method: &axum::http::Method, path: &str) -> Response {
    let escaped: String = path
        .chars()
        .map(|c| match c {
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '&' => "&amp;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&#39;".to_string(),
            c => c.to_string(),
        })
        .collect();
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Error</title>\n</head>\n<body>\n<pre>Cannot {method} {escaped}</pre>\n</body>\n</html>\n"
    );
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

fn int_param(req: &ParseRequest, name: &str) -> ApiResult<Option<i64>> {
    match req.param(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| Error::invalid_query(format!("Invalid {name}: {n}")).into()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Error::invalid_query(format!("Invalid {name}: {s}")).into()),
        Some(other) => Err(Error::invalid_query(format!("Invalid {name}: {other}")).into()),
    }
}

fn list_param(req: &ParseRequest, name: &str) -> Option<String> {
    match req.param(name)? {
        Value::String(s) => Some(s),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

/// Query options from the URL (`where` as JSON text) or the SDK's body (`where` as an object).
pub fn find_options(req: &ParseRequest) -> ApiResult<FindOptions> {
    let where_ = match req.param("where") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            serde_json::from_str(&s)
                .map_err(|_| Error::invalid_json("where parameter is not valid JSON"))?,
        ),
        Some(v) => Some(v),
    };
    let count = match req.param("count") {
        Some(Value::Bool(b)) => b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => s == "1" || s == "true",
        _ => false,
    };
    Ok(FindOptions {
        where_,
        order: list_param(req, "order"),
        limit: int_param(req, "limit")?,
        skip: int_param(req, "skip")?,
        keys: list_param(req, "keys"),
        exclude_keys: list_param(req, "excludeKeys"),
        include: list_param(req, "include"),
        count,
        explain: matches!(req.param("explain"), Some(Value::Bool(true)))
            || req.str_param("explain").as_deref() == Some("true"),
    })
}
