//! `POST /files/:filename`: permission and name checks as Parse Server 9, then the body goes to
//! storage as it arrives (raw uploads) or is decoded from the SDK's base64 JSON.

use super::{file_error, Files};
use crate::app::App;
use crate::config::FileUpload;
use crate::error::ApiError;
use crate::request::ParseRequest;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use bytes::Bytes;
use ferrobase_core::auth::Auth;
use ferrobase_core::error::code;
use ferrobase_core::hooks::{Hooks, Trigger};
use ferrobase_core::Error;
use ferrobase_files::{ByteStream, FilesError};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub async fn post(app: &App, path: &str, req: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = req.into_parts();
    let preq = parts
        .extensions
        .remove::<ParseRequest>()
        .ok_or(ApiError(Error::Unauthorized))?;
    if path == super::tus::SEGMENT && parts.headers.contains_key("tus-resumable") {
        return super::tus::create(app, &preq, &parts.headers).await;
    }
    if preq.auth.read_only {
        return Err(ApiError(Error::Forbidden(
            "read-only masterKey isn't allowed to create a file.".into(),
        )));
    }
    check_permission(&app.config.file_upload, &preq.auth)?;
    validate_filename(path)?;
    let tunnelled = preq.body.get("base64").is_some();
    let given_type = if tunnelled {
        preq.content_type.clone()
    } else {
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    if !preq.auth.master {
        check_extension(&app.files, path, given_type.as_deref())?;
    }
    let (filename, content_type) = name_and_type(path, given_type.as_deref());
    let stored = format!("{}_{filename}", ferrobase_files::random_token());
    let max = app.config.max_upload_size;
    let too_large = Arc::new(AtomicBool::new(false));
    let data: ByteStream = if tunnelled {
        let text = match preq.body.get("base64") {
            Some(Value::String(s)) => s.rsplit(',').next().unwrap_or_default(),
            _ => return Err(ApiError(Error::BadJson("Invalid base64 file data".into()))),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| file_error("Invalid file upload."))?;
        if bytes.len() as u64 > max {
            return Err(ApiError(Error::TooLarge));
        }
        if bytes.is_empty() {
            return Err(file_error("Invalid file upload."));
        }
        futures_util::stream::once(async move { Ok(Bytes::from(bytes)) }).boxed()
    } else {
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(n) if n > max => return Err(ApiError(Error::TooLarge)),
            Some(0) => return Err(file_error("Invalid file upload.")),
            _ => {}
        }
        limited(body.into_data_stream(), max, too_large.clone())
    };
    let (stored, content_type, data, filename) =
        match before_save_file(app, &preq, filename, content_type, data, max).await? {
            BeforeFile::Store {
                name,
                content_type,
                data,
            } => (
                format!("{}_{name}", ferrobase_files::random_token()),
                content_type,
                data,
                name,
            ),
            BeforeFile::Saved(resp) => return Ok(resp),
            BeforeFile::Unchanged(content_type, data, filename) => {
                (stored, content_type, data, filename)
            }
        };
    let meta = match app.files.adapter.put(&stored, &content_type, data).await {
        Ok(m) => m,
        Err(FilesError::Source(_)) if too_large.load(Ordering::Relaxed) => {
            return Err(ApiError(Error::TooLarge))
        }
        Err(FilesError::Source(e)) => {
            tracing::debug!(error = %e, "file upload interrupted");
            return Err(file_error(format!("Could not store file: {filename}.")));
        }
        Err(e) => return Err(ApiError(Error::internal(e))),
    };
    if meta.size == 0 {
        let _ = app.files.adapter.delete(&stored).await;
        return Err(file_error("Invalid file upload."));
    }
    crate::observe::count_bytes_in(meta.size);
    if app.hooks.has(FILE_CLASS, Trigger::AfterSave) {
        let mut request = app.core.cloud_request(&preq.ctx());
        let url = super::file_url(app, &preq.base_url, &stored);
        request.insert("file".into(), json!({"name": stored, "url": url}));
        request.insert("fileSize".into(), json!(meta.size));
        if let Err(e) = app
            .hooks
            .run(FILE_CLASS, Trigger::AfterSave, Value::Object(request))
            .await
        {
            tracing::warn!(error = %e, "Parse.File afterSave failed");
        }
    }
    Ok(created(app, &preq, &stored))
}

/// Cloud Code's name for `Parse.File` triggers.
const FILE_CLASS: &str = "@File";

/// What a `Parse.File` beforeSave decided.
enum BeforeFile {
    /// No trigger, or it changed nothing: store the upload as it came.
    Unchanged(String, ByteStream, String),
    /// Store this file instead (name, type, bytes).
    Store {
        name: String,
        content_type: String,
        data: ByteStream,
    },
    /// The trigger answered an already saved file: answer it without storing.
    Saved(Response),
}

/// Runs a `Parse.File` beforeSave (only when main.js has one: the upload is then read into
/// memory, as Parse Server does, to give the trigger its bytes). A refusal is code 130.
async fn before_save_file(
    app: &App,
    preq: &ParseRequest,
    filename: String,
    content_type: String,
    data: ByteStream,
    max: u64,
) -> Result<BeforeFile, ApiError> {
    if !app.hooks.has(FILE_CLASS, Trigger::BeforeSave) {
        return Ok(BeforeFile::Unchanged(content_type, data, filename));
    }
    let mut bytes = Vec::new();
    let mut data = data;
    while let Some(chunk) = data.next().await {
        let chunk = chunk.map_err(|_| file_error(format!("Could not store file: {filename}.")))?;
        if (bytes.len() + chunk.len()) as u64 > max {
            return Err(ApiError(Error::TooLarge));
        }
        bytes.extend_from_slice(&chunk);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut request = app.core.cloud_request(&preq.ctx());
    request.insert(
        "file".into(),
        json!({"name": filename, "type": content_type, "base64": b64.encode(&bytes)}),
    );
    request.insert("fileSize".into(), json!(bytes.len()));
    let answer = app
        .hooks
        .run(FILE_CLASS, Trigger::BeforeSave, Value::Object(request))
        .await
        .map_err(|e| match e {
            Error::Parse { code, message } if code == code::SCRIPT_FAILED => {
                ApiError(Error::new(code::FILE_SAVE_ERROR, message))
            }
            other => ApiError(other),
        })?;
    let once = |b: Vec<u8>| futures_util::stream::once(async move { Ok(Bytes::from(b)) }).boxed();
    let Some(file) = answer.get("file") else {
        return Ok(BeforeFile::Unchanged(content_type, once(bytes), filename));
    };
    let name = file
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(&filename)
        .to_string();
    if let (Some(url), None) = (file.get("url"), file.get("base64")) {
        let resp = (StatusCode::CREATED, Json(json!({"url": url, "name": name}))).into_response();
        return Ok(BeforeFile::Saved(resp));
    }
    let replaced = match file.get("base64").and_then(Value::as_str) {
        Some(text) => b64
            .decode(text.rsplit(',').next().unwrap_or_default().trim())
            .map_err(|_| file_error("Invalid file upload."))?,
        None => bytes,
    };
    validate_filename(&name)?;
    let given = file.get("type").and_then(Value::as_str);
    let (name, content_type) = name_and_type(&name, given.or(Some(&content_type)));
    Ok(BeforeFile::Store {
        name,
        content_type,
        data: once(replaced),
    })
}

/// `201 {"url","name"}` with `Location`, as Parse answers an upload.
pub(super) fn created(app: &App, preq: &ParseRequest, stored: &str) -> Response {
    let url = super::file_url(app, &preq.base_url, stored);
    let mut resp = (
        StatusCode::CREATED,
        Json(json!({"url": url, "name": stored})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp
}

/// Wraps a request body: stops with an error once more than `max` bytes arrived.
pub(super) fn limited(
    body: axum::body::BodyDataStream,
    max: u64,
    flag: Arc<AtomicBool>,
) -> ByteStream {
    let mut seen: u64 = 0;
    body.map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen += chunk.len() as u64;
        if seen > max {
            flag.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "upload larger than --max-upload-size",
            ));
        }
        Ok(chunk)
    })
    .boxed()
}

fn is_anonymous(auth: &Auth) -> bool {
    auth.user.as_ref().is_some_and(|u| {
        u.user
            .get("authData")
            .and_then(|a| a.get("anonymous"))
            .is_some_and(|a| !a.is_null())
    })
}

/// Parse's `fileUpload` switches (the master key may always upload).
pub(super) fn check_permission(rules: &FileUpload, auth: &Auth) -> Result<(), ApiError> {
    if auth.master {
        return Ok(());
    }
    let anonymous = is_anonymous(auth);
    if anonymous && !rules.anonymous {
        return Err(file_error("File upload by anonymous user is disabled."));
    }
    if auth.user.is_some() && !anonymous && !rules.authenticated {
        return Err(file_error("File upload by authenticated user is disabled."));
    }
    if auth.user.is_none() && !rules.public {
        return Err(file_error("File upload by public is disabled."));
    }
    Ok(())
}

/// Parse's `validateFilename`: at most 128 characters of `[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*`.
pub(super) fn validate_filename(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError(Error::new(
            code::INVALID_FILE_NAME,
            "Filename not provided.",
        )));
    }
    if name.chars().count() > 128 {
        return Err(ApiError(Error::new(
            code::INVALID_FILE_NAME,
            "Filename too long.",
        )));
    }
    let ok = name.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphanumeric()
            || b == b'_'
            || (i > 0 && matches!(b, b'@' | b'.' | b' ' | b'~' | b'-'))
    });
    if !ok {
        return Err(ApiError(Error::new(
            code::INVALID_FILE_NAME,
            "Filename contains invalid characters.",
        )));
    }
    Ok(())
}

fn extension(name: &str) -> &str {
    name.rfind('.').map(|i| &name[i + 1..]).unwrap_or("")
}

/// Parse's extension allow-list, applied to the name's extension and, when that is not a known
/// type, to the declared Content-Type's subtype (so `a` sent as `image/svg+xml` is refused too).
pub(super) fn check_extension(
    files: &Files,
    name: &str,
    content_type: Option<&str>,
) -> Result<(), ApiError> {
    let reject = |ext: &str| file_error(format!("File upload of extension {ext} is disabled."));
    let ext: String = extension(name)
        .split(';')
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if !ext.is_empty() && !files.extension_allowed(&ext) {
        return Err(reject(&ext));
    }
    let recognized = !ext.is_empty() && mime_guess::from_ext(&ext).first_raw().is_some();
    let Some(ct) = content_type.filter(|_| !recognized && !files.allows_any_extension()) else {
        return Ok(());
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let (kind, subtype) = match ct.find('/') {
        Some(i) if i > 0 => (
            ct[..i].trim(),
            ct[i + 1..].split(';').next().unwrap_or_default().trim(),
        ),
        _ => ("", ""),
    };
    if !token(kind) || !token(subtype) {
        let bare: String = if ct.contains('/') {
            kind.to_string()
        } else {
            ct.split(';').next().unwrap_or_default().to_string()
        }
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
        if !bare.is_empty() && !files.extension_allowed(&bare) {
            return Err(reject(&bare));
        }
        return Err(file_error("Invalid Content-Type."));
    }
    let sub: String = subtype.chars().filter(|c| !c.is_whitespace()).collect();
    if !files.extension_allowed(&sub) {
        return Err(reject(&sub));
    }
    Ok(())
}

/// The usual extension of a MIME type (as the `mime` npm package Parse uses answers).
fn extension_for(content_type: &str) -> Option<String> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let known = match ct.as_str() {
        "text/plain" => Some("txt"),
        "image/jpeg" => Some("jpeg"),
        "image/png" => Some("png"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        "application/json" => Some("json"),
        "application/pdf" => Some("pdf"),
        "application/octet-stream" => Some("bin"),
        "text/csv" => Some("csv"),
        "video/mp4" => Some("mp4"),
        "audio/mpeg" => Some("mp3"),
        "application/zip" => Some("zip"),
        _ => None,
    };
    known.map(str::to_string).or_else(|| {
        mime_guess::get_mime_extensions_str(&ct)
            .and_then(|e| e.first())
            .map(|e| e.to_string())
    })
}

/// Parse's `createFile`: a name without extension gets the type's; a name with one decides the
/// type. Returns the (possibly extended) name and the type the file is served with.
pub(super) fn name_and_type(name: &str, given: Option<&str>) -> (String, String) {
    let given = given.map(str::trim).filter(|s| !s.is_empty());
    let ext = extension(name);
    if ext.is_empty() {
        if let Some(e) = given.and_then(extension_for) {
            let sep = if name.ends_with('.') { "" } else { "." };
            return (
                format!("{name}{sep}{e}"),
                given.unwrap_or_default().to_string(),
            );
        }
        return (
            name.to_string(),
            given.unwrap_or("application/octet-stream").to_string(),
        );
    }
    let guessed = mime_guess::from_ext(ext).first_raw();
    let ct = guessed
        .or(given)
        .unwrap_or("application/octet-stream")
        .to_string();
    (name.to_string(), ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_as_parse() {
        assert!(validate_filename("a.txt").is_ok());
        assert!(validate_filename("_x y~z@1-2.png").is_ok());
        assert!(validate_filename(".hidden").is_err());
        assert!(validate_filename("../etc").is_err());
        assert!(validate_filename("a/b").is_err());
        assert!(validate_filename("café.txt").is_err());
        assert!(validate_filename(&"a".repeat(129)).is_err());
    }

    #[test]
    fn names_and_types() {
        assert_eq!(
            name_and_type("a.txt", Some("image/png")),
            ("a.txt".into(), "text/plain".into())
        );
        assert_eq!(
            name_and_type("a", Some("image/png")),
            ("a.png".into(), "image/png".into())
        );
        assert_eq!(
            name_and_type("a", None),
            ("a".into(), "application/octet-stream".into())
        );
        assert_eq!(
            name_and_type("a.weird", Some("x/y")),
            ("a.weird".into(), "x/y".into())
        );
    }
}
