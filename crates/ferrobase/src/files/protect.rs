//! `--protected-files`: a download needs the master key or a valid token for that file. Tokens
//! are added to file URLs only in answers about objects the caller may read (and in the
//! uploader's own answer), so a file referenced only by objects a user cannot read is out of
//! their reach. Tokens expire after `--file-token-ttl` seconds.

use crate::app::App;
use crate::error::ApiError;
use axum::extract::Query;
use axum::http::request::Parts;
use axum::response::Response;
use ferrobase_core::Error;

pub async fn check(app: &App, name: &str, req: &Parts) -> Result<Option<Response>, ApiError> {
    let Some(tokens) = &app.core.config.file_tokens else {
        return Ok(None);
    };
    let master = req
        .headers
        .get("x-parse-master-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| crate::request::same_secret(k, &app.master_key))
        && req
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|c| {
                app.config
                    .master_key_ips
                    .iter()
                    .any(|ip| ip.to_canonical() == c.0.ip().to_canonical())
            });
    if master {
        return Ok(None);
    }
    let token = Query::<Vec<(String, String)>>::try_from_uri(&req.uri)
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, _)| k == "token").map(|(_, v)| v));
    match token {
        Some(t) if tokens.verify(name, &t) => Ok(None),
        _ => Err(ApiError(Error::Forbidden(
            "Permission denied: this file needs a valid token".into(),
        ))),
    }
}
