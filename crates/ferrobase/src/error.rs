//! The one place where domain errors become HTTP responses (Parse Server's `handleParseErrors`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferrobase_core::error::{code, Error};
use serde_json::json;

/// An error on its way to the client.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Status and body for an error, as Parse Server answers it.
pub fn status_and_body(e: &Error) -> (StatusCode, serde_json::Value) {
    match e {
        Error::Parse { code: c, message } => {
            let status = match *c {
                code::OBJECT_NOT_FOUND => StatusCode::NOT_FOUND,
                code::INTERNAL => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, json!({"code": c, "error": message}))
        }
        Error::Unauthorized => (StatusCode::FORBIDDEN, json!({"error": "unauthorized"})),
        Error::Forbidden(m) => (StatusCode::FORBIDDEN, json!({"error": m})),
        Error::BadJson(m) => (StatusCode::BAD_REQUEST, json!({"error": m})),
        Error::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": "request entity too large"}),
        ),
        Error::TransactionFailed { code: c, message } => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"code": c, "message": message}),
        ),
        Error::RateLimited(m) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"code": code::REQUEST_LIMIT_EXCEEDED, "error": m}),
        ),
        Error::Internal(cause) => {
            tracing::error!(%cause, "internal error");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code": code::INTERNAL, "error": "Internal server error."}),
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = status_and_body(&self.0);
        (status, Json(body)).into_response()
    }
}
