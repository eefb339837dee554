//! `--protected-files`: not yet implemented.

use crate::app::App;
use crate::error::ApiError;
use axum::http::request::Parts;
use axum::response::Response;

pub async fn check(_app: &App, _name: &str, _req: &Parts) -> Result<Option<Response>, ApiError> {
    Ok(None)
}
