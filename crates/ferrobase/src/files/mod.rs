//! Parse's files API: `POST /files/:filename` (a raw streamed body, or the JS SDK's base64 JSON),
//! `GET /files/:appId/:name` (ranges, validators, conditional requests), `DELETE /files/:name`
//! (master key). Bytes live behind a `FilesAdapter` (`ferrobase-files`).

mod download;
mod protect;
mod thumbs;
mod tus;
mod upload;

use crate::app::App;
use crate::config::Config;
use crate::error::ApiError;
use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use ferrobase_core::error::code;
use ferrobase_core::Error;
use ferrobase_files::FilesAdapter;
use std::sync::Arc;

/// File storage plus the upload rules compiled from the configuration.
pub struct Files {
    pub adapter: Arc<dyn FilesAdapter>,
    /// Resumable (tus) uploads in progress.
    pub tus: tus::Tus,
    /// `fileUpload.fileExtensions`; `None` stands for `*` (any extension).
    extensions: Vec<Option<fancy_regex::Regex>>,
}

impl Files {
    pub fn open(config: &Config) -> Result<Files, String> {
        let adapter = ferrobase_files::open(config.files_uri.as_deref(), &config.data_dir)?;
        let mut extensions = Vec::new();
        for e in &config.file_upload.extensions {
            if e == "*" {
                extensions.push(None);
            } else {
                let re = fancy_regex::Regex::new(e)
                    .map_err(|err| format!("invalid file extension pattern {e}: {err}"))?;
                extensions.push(Some(re));
            }
        }
        tracing::info!(files = %adapter.describe(), "file storage");
        Ok(Files {
            adapter,
            tus: tus::Tus::open(&config.data_dir)?,
            extensions,
        })
    }

    /// Whether `ext` passes `fileUpload.fileExtensions` (Parse: any pattern matches).
    fn extension_allowed(&self, ext: &str) -> bool {
        self.extensions.iter().any(|re| match re {
            None => true,
            Some(re) => re.is_match(ext).unwrap_or(false),
        })
    }

    fn allows_any_extension(&self) -> bool {
        self.extensions.iter().any(Option::is_none)
    }
}

/// The URL of a stored file: `<public server URL or the request's base>/files/<appId>/<name>`.
pub fn file_url(app: &App, request_base: &str, name: &str) -> String {
    let base = app
        .config
        .public_server_url
        .as_deref()
        .unwrap_or(request_base);
    let prefix = format!("{base}/files/{}/", app.core.config.app_id);
    let mut url = ferrobase_core::rest::file_url(&prefix, name);
    if let Some(tokens) = &app.core.config.file_tokens {
        url.push_str("?token=");
        url.push_str(&tokens.sign(name));
    }
    url
}

fn file_error(message: impl Into<String>) -> ApiError {
    ApiError(Error::new(code::FILE_SAVE_ERROR, message))
}

/// Every `/files/…` request: Parse's routes share the prefix, so the method and the first
/// segment decide.
pub async fn dispatch(
    State(app): State<Arc<App>>,
    Path(path): Path<String>,
    req: Request,
) -> Response {
    let mut method = req.method().clone();
    let overridden = req
        .headers()
        .get("x-http-method-override")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    if method == Method::POST && overridden.as_deref() == Some("PATCH") {
        method = Method::PATCH; // tus clients that cannot send PATCH
    }
    let result = match method {
        Method::GET | Method::HEAD => download::get(&app, &path, req).await,
        Method::POST => upload::post(&app, &path, req).await,
        Method::PATCH => match tus::is_tus(&path, req.headers()) {
            Some(id) => tus::patch(&app, id, req).await,
            None => Err(ApiError(Error::new(code::INVALID_JSON, "unknown route"))),
        },
        Method::DELETE => match tus::is_tus(&path, req.headers()) {
            Some(id) => tus::delete(&app, id, req).await,
            None => delete(&app, &path, req).await,
        },
        _ => Err(ApiError(Error::new(code::INVALID_JSON, "unknown route"))),
    };
    let mut resp = result.unwrap_or_else(IntoResponse::into_response);
    resp.headers_mut().insert(
        axum::http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
        axum::http::HeaderValue::from_static(EXPOSE_HEADERS),
    );
    resp
}

/// Parse's exposed headers plus what browsers need for ranges and resumable uploads.
const EXPOSE_HEADERS: &str = "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id, Location, Content-Range, Accept-Ranges, ETag, Tus-Resumable, Upload-Offset, Upload-Length, Upload-Expires, X-Parse-File-Name, X-Parse-File-Url";

/// `POST /files` without a name.
pub async fn no_name() -> ApiError {
    ApiError(Error::new(
        code::INVALID_FILE_NAME,
        "Filename not provided.",
    ))
}

/// `DELETE /files/:name` (master key only, as Parse).
async fn delete(app: &App, name: &str, req: Request) -> Result<Response, ApiError> {
    let preq = req
        .extensions()
        .get::<crate::request::ParseRequest>()
        .ok_or(ApiError(Error::Unauthorized))?;
    if preq.auth.read_only {
        return Err(ApiError(Error::Forbidden(
            "read-only masterKey isn't allowed to delete a file.".into(),
        )));
    }
    if !preq.auth.master {
        return Err(ApiError(Error::Forbidden("Permission denied".into())));
    }
    let missing = || {
        ApiError(Error::new(
            code::FILE_DELETE_ERROR,
            "Could not delete file.",
        ))
    };
    match app.files.adapter.meta(name).await {
        Ok(_) => {}
        Err(ferrobase_files::FilesError::NotFound) => return Err(missing()),
        Err(e) => return Err(ApiError(Error::internal(e))),
    }
    app.files
        .adapter
        .delete(name)
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    Ok(axum::http::StatusCode::OK.into_response())
}
