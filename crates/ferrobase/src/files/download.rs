//! `GET|HEAD /files/:appId/:name`: streams the file from storage with `Accept-Ranges`, single
//! byte ranges (206/416), `ETag`/`Last-Modified` and conditional requests (304).

use crate::app::App;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use ferrobase_core::Error;
use ferrobase_files::{FileMeta, FilesError};
use std::ops::Range;
use std::time::SystemTime;

pub async fn get(app: &App, path: &str, req: Request) -> Result<Response, ApiError> {
    let (req, _) = req.into_parts();
    let Some((app_id, name)) = path.split_once('/') else {
        return Ok(not_found());
    };
    if app_id == super::tus::SEGMENT
        && req.method == Method::HEAD
        && req.headers.contains_key("tus-resumable")
    {
        return super::tus::head(app, name, &req.headers).await;
    }
    if app_id != app.core.config.app_id {
        return Err(ApiError(Error::Forbidden("Permission denied".into())));
    }
    if let Some(resp) = super::protect::check(app, name, &req).await? {
        return Ok(resp);
    }
    let thumb = super::thumbs::requested(req.uri.query())?;
    let meta = match app.files.adapter.meta(name).await {
        Ok(m) => m,
        Err(FilesError::NotFound) => return Ok(not_found()),
        Err(e) => return Err(ApiError(Error::internal(e))),
    };
    if let Some(spec) = thumb {
        return super::thumbs::serve(app, &meta, &spec, &req).await;
    }
    serve(app, &meta, name, &req).await
}

/// Answers a GET/HEAD for a stored file (shared with thumbnails, whose cache is also a file).
pub(super) async fn serve(
    app: &App,
    meta: &FileMeta,
    name: &str,
    req: &Parts,
) -> Result<Response, ApiError> {
    let headers = &req.headers;
    let last_modified = httpdate::fmt_http_date(SystemTime::from(meta.last_modified));
    if not_modified(headers, meta) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        set(&mut resp, header::ETAG, &meta.etag);
        set(&mut resp, header::LAST_MODIFIED, &last_modified);
        return Ok(resp);
    }
    let mut range: Option<Range<u64>> = None;
    if let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        if if_range_holds(headers, meta) {
            match ferrobase_files::parse_range(spec, meta.size) {
                Ok(r) => range = r,
                Err(()) => {
                    let mut resp = (
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        [(header::CONTENT_TYPE, "text/plain")],
                        "Range Not Satisfiable",
                    )
                        .into_response();
                    set(
                        &mut resp,
                        header::CONTENT_RANGE,
                        &format!("bytes */{}", meta.size),
                    );
                    set(&mut resp, header::ACCEPT_RANGES, "bytes");
                    return Ok(resp);
                }
            }
        }
    }
    let served = range.clone().unwrap_or(0..meta.size);
    let body = if req.method == Method::HEAD {
        Body::empty()
    } else {
        match app.files.adapter.get(name, range.clone()).await {
            Ok(read) => Body::from_stream(crate::observe::count_bytes_out(read.body)),
            Err(FilesError::NotFound) => return Ok(not_found()),
            Err(e) => return Err(ApiError(Error::internal(e))),
        }
    };
    let status = if range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut resp = (status, body).into_response();
    set(&mut resp, header::CONTENT_TYPE, &meta.content_type);
    set(
        &mut resp,
        header::CONTENT_LENGTH,
        &(served.end - served.start).to_string(),
    );
    if range.is_some() {
        set(
            &mut resp,
            header::CONTENT_RANGE,
            &format!(
                "bytes {}-{}/{}",
                served.start,
                served.end.saturating_sub(1),
                meta.size
            ),
        );
    }
    set(&mut resp, header::ACCEPT_RANGES, "bytes");
    set(&mut resp, header::ETAG, &meta.etag);
    set(&mut resp, header::LAST_MODIFIED, &last_modified);
    set(&mut resp, header::CONTENT_DISPOSITION, &disposition(name));
    set(&mut resp, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    Ok(resp)
}

fn set(resp: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

/// Parse's answer for a missing file.
pub(super) fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        "File not found.",
    )
        .into_response()
}

fn etag_list_matches(list: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

fn http_date(headers: &HeaderMap, name: header::HeaderName) -> Option<SystemTime> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
}

fn secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// RFC 9110 §13.2.2: `If-None-Match` wins over `If-Modified-Since`.
fn not_modified(headers: &HeaderMap, meta: &FileMeta) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return etag_list_matches(inm, &meta.etag);
    }
    match http_date(headers, header::IF_MODIFIED_SINCE) {
        Some(since) => secs(SystemTime::from(meta.last_modified)) <= secs(since),
        None => false,
    }
}

/// `If-Range`: serve the range only if the validator still matches (else the whole file).
fn if_range_holds(headers: &HeaderMap, meta: &FileMeta) -> bool {
    let Some(v) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let v = v.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return !v.starts_with("W/") && v == meta.etag;
    }
    match httpdate::parse_http_date(v) {
        Ok(t) => secs(t) == secs(SystemTime::from(meta.last_modified)),
        Err(_) => false,
    }
}

/// `inline` with the name the client uploaded (without Parse's random prefix).
fn disposition(stored: &str) -> String {
    let shown = match stored.split_once('_') {
        Some((token, rest))
            if token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            rest
        }
        _ => stored,
    };
    let shown = shown.rsplit('/').next().unwrap_or(shown);
    let ascii: String = shown
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = ferrobase_core::rest::file_url("", shown);
    format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
