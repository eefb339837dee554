//! Resumable uploads, tus 1.0 (core + creation, termination, expiration) at `<mount>/files/tus`.
//! Requests carry `Tus-Resumable`; creation is checked like a Parse upload (permissions, name,
//! extension, size). Bytes are staged in `<data-dir>/files-tus/<id>.part` and handed to the
//! files adapter once complete, under a Parse name (`<32 hex>_<filename>`), which the final
//! PATCH (and later HEADs) report in `X-Parse-File-Name` / `X-Parse-File-Url`.

use super::upload::{check_extension, check_permission, name_and_type, validate_filename};
use super::{file_error, Files};
use crate::app::App;
use crate::error::ApiError;
use crate::request::ParseRequest;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use ferrobase_core::Error;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;

/// `<mount>/files/tus`: the tus endpoint (requests carry `Tus-Resumable`).
pub const SEGMENT: &str = "tus";
const VERSION: &str = "1.0.0";
/// Unfinished uploads are dropped after this long.
const EXPIRY_HOURS: i64 = 24;
/// How long a PATCH waits for an earlier one on the same upload to end.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Staging area and per-upload locks.
pub struct Tus {
    dir: PathBuf,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Serialize, Deserialize)]
struct Info {
    length: u64,
    filename: String,
    content_type: String,
    owner: Option<String>,
    expires: DateTime<Utc>,
    /// Set once the upload is complete and stored: the Parse file name.
    done: Option<String>,
}

impl Tus {
    pub fn open(data_dir: &std::path::Path) -> Result<Tus, String> {
        let dir = data_dir.join("files-tus");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Tus {
            dir,
            locks: Mutex::new(HashMap::new()),
        })
    }

    fn valid_id(id: &str) -> bool {
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
    }

    fn part(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    async fn load(&self, id: &str) -> Option<Info> {
        if !Self::valid_id(id) {
            return None;
        }
        let bytes = tokio::fs::read(self.info_path(id)).await.ok()?;
        let info: Info = serde_json::from_slice(&bytes).ok()?;
        if info.expires < Utc::now() {
            self.remove(id).await;
            return None;
        }
        Some(info)
    }

    async fn save(&self, id: &str, info: &Info) -> Result<(), ApiError> {
        let json = serde_json::to_vec(info).map_err(|e| ApiError(Error::internal(e)))?;
        let tmp = self.dir.join(format!("{id}.json.tmp"));
        tokio::fs::write(&tmp, json)
            .await
            .map_err(|e| ApiError(Error::internal(e)))?;
        tokio::fs::rename(&tmp, self.info_path(id))
            .await
            .map_err(|e| ApiError(Error::internal(e)))
    }

    async fn remove(&self, id: &str) {
        let _ = tokio::fs::remove_file(self.part(id)).await;
        let _ = tokio::fs::remove_file(self.info_path(id)).await;
    }

    async fn offset(&self, id: &str) -> u64 {
        tokio::fs::metadata(self.part(id))
            .await
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(id.to_string()).or_default().clone()
    }

    /// Drops expired uploads (run on each creation).
    async fn sweep(&self) {
        let Ok(mut dir) = tokio::fs::read_dir(&self.dir).await else {
            return;
        };
        while let Ok(Some(e)) = dir.next_entry().await {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(id) = name.strip_suffix(".json") {
                let _ = self.load(id).await;
            }
        }
    }
}

fn tus_response(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn put(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn tus_error(status: StatusCode, message: &str) -> Response {
    let mut r = (status, message.to_string()).into_response();
    r.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(VERSION));
    r
}

fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Upload-Metadata: key base64,key2 base64` → map.
fn metadata(h: &HeaderMap) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(raw) = h.get("upload-metadata").and_then(|v| v.to_str().ok()) else {
        return out;
    };
    for pair in raw.split(',') {
        let mut it = pair.trim().splitn(2, ' ');
        let Some(k) = it.next().filter(|k| !k.is_empty()) else {
            continue;
        };
        let v = it
            .next()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default();
        out.insert(k.to_string(), v);
    }
    out
}

fn expires_header(info: &Info) -> String {
    httpdate::fmt_http_date(SystemTime::from(info.expires))
}

/// `POST <mount>/files/tus` with `Upload-Length` (and `Upload-Metadata: filename …,filetype …`).
pub async fn create(
    app: &App,
    preq: &ParseRequest,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let tus = &app.files.tus;
    tus.sweep().await;
    if preq.auth.read_only {
        return Err(ApiError(Error::Forbidden(
            "read-only masterKey isn't allowed to create a file.".into(),
        )));
    }
    check_permission(&app.config.file_upload, &preq.auth)?;
    let Some(length) = header_u64(headers, "upload-length") else {
        return Ok(tus_error(
            StatusCode::BAD_REQUEST,
            "Upload-Length is required (Upload-Defer-Length is not supported)",
        ));
    };
    if length > app.config.max_upload_size {
        return Err(ApiError(Error::TooLarge));
    }
    if length == 0 {
        return Err(file_error("Invalid file upload."));
    }
    let meta = metadata(headers);
    let filename = meta
        .get("filename")
        .or_else(|| meta.get("name"))
        .cloned()
        .unwrap_or_else(|| "file".into());
    validate_filename(&filename)?;
    let given_type = meta
        .get("filetype")
        .or_else(|| meta.get("contentType"))
        .cloned();
    if !preq.auth.master {
        check_extension(&app.files, &filename, given_type.as_deref())?;
    }
    let (filename, content_type) = name_and_type(&filename, given_type.as_deref());
    let id = ferrobase_files::random_token();
    let info = Info {
        length,
        filename,
        content_type,
        owner: preq.auth.user_id().map(str::to_string),
        expires: Utc::now() + chrono::Duration::hours(EXPIRY_HOURS),
        done: None,
    };
    tokio::fs::File::create(tus.part(&id))
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    tus.save(&id, &info).await?;
    let base = app
        .config
        .public_server_url
        .as_deref()
        .unwrap_or(&preq.base_url);
    let mut r = tus_response(StatusCode::CREATED);
    put(&mut r, "location", &format!("{base}/files/{SEGMENT}/{id}"));
    put(&mut r, "upload-expires", &expires_header(&info));
    put(&mut r, "upload-offset", "0");
    Ok(r)
}

fn done_headers(app: &App, base: &str, r: &mut Response, name: &str) {
    put(r, "x-parse-file-name", name);
    put(r, "x-parse-file-url", &super::file_url(app, base, name));
}

/// `HEAD <mount>/files/tus/<id>`: the offset to resume from.
pub async fn head(app: &App, id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let Some(info) = app.files.tus.load(id).await else {
        return Ok(tus_error(StatusCode::NOT_FOUND, ""));
    };
    let mut r = tus_response(StatusCode::OK);
    let offset = match &info.done {
        Some(_) => info.length,
        None => app.files.tus.offset(id).await,
    };
    put(&mut r, "upload-offset", &offset.to_string());
    put(&mut r, "upload-length", &info.length.to_string());
    put(&mut r, "upload-expires", &expires_header(&info));
    if let Some(name) = &info.done {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let base = format!("http://{host}{}", app.config.mount_path);
        done_headers(app, &base, &mut r, name);
    }
    Ok(r)
}

fn may_touch(info: &Info, preq: &ParseRequest) -> bool {
    preq.auth.master || info.owner.is_none() || info.owner.as_deref() == preq.auth.user_id()
}

/// `PATCH <mount>/files/tus/<id>`: appends the body at `Upload-Offset`, as it arrives.
pub async fn patch(app: &App, id: &str, req: Request) -> Result<Response, ApiError> {
    let tus = &app.files.tus;
    let (mut parts, body) = req.into_parts();
    let preq = parts
        .extensions
        .remove::<ParseRequest>()
        .ok_or(ApiError(Error::Unauthorized))?;
    let lock = tus.lock(id);
    let Ok(_guard) = tokio::time::timeout(LOCK_WAIT, lock.lock()).await else {
        return Ok(tus_error(StatusCode::LOCKED, "upload busy"));
    };
    let Some(mut info) = tus.load(id).await else {
        return Ok(tus_error(StatusCode::NOT_FOUND, ""));
    };
    if !may_touch(&info, &preq) {
        return Ok(tus_error(StatusCode::FORBIDDEN, "not your upload"));
    }
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if ct != Some("application/offset+octet-stream") {
        return Ok(tus_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let offset = tus.offset(id).await;
    if info.done.is_some() || header_u64(&parts.headers, "upload-offset") != Some(offset) {
        let mut r = tus_error(StatusCode::CONFLICT, "Upload-Offset does not match");
        put(&mut r, "upload-offset", &offset.to_string());
        return Ok(r);
    }
    let file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(tus.part(id))
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = offset;
    let mut stream = body.into_data_stream();
    let mut overflow = false;
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            break; // client gone: keep what arrived, it can resume from there
        };
        let room = info.length - written;
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
        if take < chunk.len() {
            overflow = true;
        }
        if let Some(bytes) = chunk.get(..take) {
            if out.write_all(bytes).await.is_err() {
                break;
            }
            written += take as u64;
        }
        if overflow {
            break;
        }
    }
    out.flush()
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    out.into_inner()
        .sync_data()
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    let offset = tus.offset(id).await;
    if overflow {
        let mut r = tus_error(StatusCode::BAD_REQUEST, "more bytes than Upload-Length");
        put(&mut r, "upload-offset", &offset.to_string());
        return Ok(r);
    }
    let mut r = tus_response(StatusCode::NO_CONTENT);
    put(&mut r, "upload-offset", &offset.to_string());
    put(&mut r, "upload-expires", &expires_header(&info));
    if offset == info.length {
        let name = finish(&app.files, id, &info).await?;
        info.done = Some(name.clone());
        tus.save(id, &info).await?;
        done_headers(app, &preq.base_url, &mut r, &name);
    }
    Ok(r)
}

/// Moves a complete upload into file storage under a new Parse name.
async fn finish(files: &Files, id: &str, info: &Info) -> Result<String, ApiError> {
    let name = format!("{}_{}", ferrobase_files::random_token(), info.filename);
    let file = tokio::fs::File::open(files.tus.part(id))
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024).boxed();
    let meta = files
        .adapter
        .put(&name, &info.content_type, stream)
        .await
        .map_err(|e| ApiError(Error::internal(e)))?;
    crate::observe::count_bytes_in(meta.size);
    let _ = tokio::fs::remove_file(files.tus.part(id)).await;
    Ok(name)
}

/// `DELETE <mount>/files/tus/<id>` (termination).
pub async fn delete(app: &App, id: &str, req: Request) -> Result<Response, ApiError> {
    let preq = req
        .extensions()
        .get::<ParseRequest>()
        .ok_or(ApiError(Error::Unauthorized))?;
    let tus = &app.files.tus;
    let lock = tus.lock(id);
    let Ok(_guard) = tokio::time::timeout(LOCK_WAIT, lock.lock()).await else {
        return Ok(tus_error(StatusCode::LOCKED, "upload busy"));
    };
    let Some(info) = tus.load(id).await else {
        return Ok(tus_error(StatusCode::NOT_FOUND, ""));
    };
    if !may_touch(&info, preq) {
        return Ok(tus_error(StatusCode::FORBIDDEN, "not your upload"));
    }
    tus.remove(id).await;
    Ok(tus_response(StatusCode::NO_CONTENT))
}

/// Whether a request is for the tus endpoint (`tus/<id>` with `Tus-Resumable`).
pub fn is_tus<'a>(path: &'a str, headers: &HeaderMap) -> Option<&'a str> {
    let id = path.strip_prefix(SEGMENT)?.strip_prefix('/')?;
    headers.contains_key("tus-resumable").then_some(id)
}
