//! Resumable uploads (tus 1.0): not yet implemented.

use crate::app::App;
use crate::error::ApiError;
use crate::request::ParseRequest;
use axum::http::HeaderMap;
use axum::response::Response;
use ferrobase_core::error::code;
use ferrobase_core::Error;

/// `<mount>/files/tus`: the tus endpoint (requests carry `Tus-Resumable`).
pub const SEGMENT: &str = "tus";

pub async fn create(_app: &App, _req: &ParseRequest, _h: &HeaderMap) -> Result<Response, ApiError> {
    Err(ApiError(Error::new(code::INVALID_JSON, "unknown route")))
}

pub async fn head(_app: &App, _id: &str, _h: &HeaderMap) -> Result<Response, ApiError> {
    Err(ApiError(Error::new(code::INVALID_JSON, "unknown route")))
}
