//! Which requests are de-duplicated by `X-Parse-Request-Id` (Parse's `idempotencyOptions`):
//! the routes Parse guards (`POST /functions/:name`, `POST /jobs/:name`, `POST /classes/:class`,
//! `PUT /classes/:class/:id`, `POST /users`, `PUT /users/:id`, `POST /installations`,
//! `PUT /installations/:id`) whose path after the mount matches one of `--idempotency-paths`.
//! Sub-requests of `/batch` are not checked, as in Parse.

use crate::app::App;
use axum::http::{HeaderMap, Method};
use ferrobase_core::Error;

/// Whether Parse puts its idempotency check on this route.
fn guarded(method: &Method, path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    matches!(
        (method.as_str(), parts.as_slice()),
        ("POST", ["functions" | "jobs" | "classes", _])
            | ("PUT", ["classes", _, _])
            | ("POST", ["users" | "installations"])
            | ("PUT", ["users" | "installations", _])
    )
}

/// Refuses a repeated request id on a configured path with 159 `Duplicate request`.
pub async fn check(
    app: &App,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<(), Error> {
    if app.config.idempotency_paths.is_empty() {
        return Ok(());
    }
    let Some(id) = headers
        .get("x-parse-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
    else {
        return Ok(());
    };
    // Parse drops the leading slash (its pattern removes one slash only).
    let rel = path.strip_prefix('/').unwrap_or(path);
    if !guarded(method, rel) {
        return Ok(());
    }
    let matches = app
        .config
        .idempotency_paths
        .iter()
        .any(|re| re.is_match(rel).unwrap_or(false));
    if !matches {
        return Ok(());
    }
    app.core
        .ensure_idempotent(id, app.config.idempotency_ttl)
        .await
}
