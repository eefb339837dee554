//! Email verification and password reset: the API calls and the pages behind the emailed
//! links (Parse Server's PublicAPIRouter: `/apps/:appId/verify_email`,
//! `/apps/:appId/request_password_reset`, and its HTML pages under `/apps/`).

use crate::app::App;
use crate::error::ApiResult;
use crate::request::ParseRequest;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn verification_email_request(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let email = req.str_param("email");
    app.core
        .request_verification_email(&req.ctx(), email.as_deref())
        .await?;
    Ok(Json(json!({})))
}

pub async fn request_password_reset(
    State(app): State<Arc<App>>,
    req: ParseRequest,
) -> ApiResult<Json<Value>> {
    let email = req.str_param("email");
    app.core
        .request_password_reset(&req.ctx(), email.as_deref())
        .await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

/// Where the API is reached from outside: `--public-server-url`, else the listening address.
fn base(app: &App) -> String {
    match &app.core.config.email {
        Some(e) => e.public_server_url.clone(),
        None if app.config.mount_path == "/" => String::new(),
        None => app.config.mount_path.clone(),
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}}\
         input{{display:block;width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}}button{{padding:.5rem 1rem}}.error{{color:#b00}}</style>\
         </head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    ))
}

fn app_matches(app: &App, app_id: &str) -> bool {
    app.core.config.app_id == app_id
}

pub async fn verify_email(
    State(app): State<Arc<App>>,
    Path(app_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !app_matches(&app, &app_id) {
        return Redirect::to(&format!("{}/apps/invalid_link.html", base(&app))).into_response();
    }
    match app.core.verify_email(&q.token).await {
        Ok(_) => {
            Redirect::to(&format!("{}/apps/verify_email_success.html", base(&app))).into_response()
        }
        Err(_) => Redirect::to(&format!(
            "{}/apps/invalid_verification_link.html",
            base(&app)
        ))
        .into_response(),
    }
}

pub async fn reset_link(
    State(app): State<Arc<App>>,
    Path(app_id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !app_matches(&app, &app_id) || app.core.check_reset_token(&q.token).await.is_err() {
        return Redirect::to(&format!("{}/apps/invalid_link.html", base(&app))).into_response();
    }
    Redirect::to(&format!(
        "{}/apps/choose_password?id={}&token={}",
        base(&app),
        app_id,
        q.token
    ))
    .into_response()
}

pub async fn reset_submit(
    State(app): State<Arc<App>>,
    Path(app_id): Path<String>,
    Form(f): Form<ResetForm>,
) -> Response {
    if !app_matches(&app, &app_id) {
        return Redirect::to(&format!("{}/apps/invalid_link.html", base(&app))).into_response();
    }
    match app.core.reset_password(&f.token, &f.new_password).await {
        Ok(()) => Redirect::to(&format!("{}/apps/password_reset_success.html", base(&app)))
            .into_response(),
        Err(e) => {
            let msg: String = e
                .to_string()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '.')
                .collect();
            Redirect::to(&format!(
                "{}/apps/choose_password?id={}&token={}&error={}",
                base(&app),
                app_id,
                f.token,
                msg.replace(' ', "+")
            ))
            .into_response()
        }
    }
}

pub async fn choose_password(
    State(app): State<Arc<App>>,
    Query(q): Query<TokenQuery>,
) -> Html<String> {
    let action = format!(
        "{}/apps/{}/request_password_reset",
        base(&app),
        app.core.config.app_id
    );
    let error = if q.error.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\">{}</p>", escape(&q.error))
    };
    page(
        "Reset your password",
        &format!(
            "{error}<form method=\"POST\" action=\"{}\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <label>New password<input type=\"password\" name=\"new_password\" required autofocus></label>\
             <button type=\"submit\">Set password</button></form>",
            escape(&action),
            escape(&q.token)
        ),
    )
}

pub async fn static_page(Path(name): Path<String>) -> Response {
    let (title, text) = match name.as_str() {
        "verify_email_success.html" => ("Email verified", "Your email address has been verified."),
        "password_reset_success.html" => (
            "Password changed",
            "Your password has been changed. You can log in with it now.",
        ),
        "invalid_link.html" => ("Invalid link", "This link is invalid or has expired."),
        "invalid_verification_link.html" => (
            "Invalid link",
            "This verification link is invalid or has expired.",
        ),
        "link_send_success.html" => ("Link sent", "A new link has been sent. Check your email."),
        "link_send_fail.html" => ("Link not sent", "No link could be sent."),
        _ => {
            return (
                axum::http::StatusCode::NOT_FOUND,
                page("Not found", "<p>There is no such page.</p>"),
            )
                .into_response()
        }
    };
    page(title, &format!("<p>{text}</p>")).into_response()
}
