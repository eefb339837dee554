//! Thumbnails: not yet implemented.

use crate::app::App;
use crate::error::ApiError;
use axum::http::HeaderMap;
use axum::response::Response;
use ferrobase_files::FileMeta;

pub struct Spec;

pub fn requested(_query: Option<&str>) -> Result<Option<Spec>, ApiError> {
    Ok(None)
}

pub async fn serve(
    _app: &App,
    _meta: &FileMeta,
    _spec: &Spec,
    _h: &HeaderMap,
) -> Result<Response, ApiError> {
    Ok(super::download::not_found())
}
