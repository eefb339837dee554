//! `--public-dir`: a static folder served at `/`, outside the API mount (as Parse apps serve their
//! web app next to the API with `express.static`).
//!
//! GET and HEAD only. The URL path is percent-decoded and split into segments; a segment that is
//! empty, `.` or `..`, or holds a `/`, `\` or NUL after decoding is refused (404), and the file
//! found is canonicalized and must lie under the canonical folder (so a symlink cannot lead out
//! either). A directory serves its `index.html`; a directory asked for without its trailing slash
//! is redirected to it (so the page's relative URLs resolve). HTML is `Cache-Control: no-cache`
//! (always revalidated: a new deploy is seen at once), other assets `public, max-age=3600`; every
//! answer has an `ETag` and `Last-Modified`, and `If-None-Match` / `If-Modified-Since` give 304.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Cache-Control of non-HTML assets.
pub const ASSET_CACHE_CONTROL: &str = "public, max-age=3600";
/// Cache-Control of HTML pages: always revalidated.
pub const HTML_CACHE_CONTROL: &str = "no-cache";

/// Decodes `%XX` escapes; None for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file a URL path names under `root`, without touching the disk: None when the path could
/// leave the folder or is malformed.
fn relative_path(url_path: &str) -> Option<PathBuf> {
    let trimmed = url_path.strip_prefix('/').unwrap_or(url_path);
    let mut rel = PathBuf::new();
    let segments: Vec<&str> = trimmed.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, raw) in segments.into_iter().enumerate() {
        if raw.is_empty() && i == last {
            break; // a trailing slash
        }
        let seg = percent_decode(raw)?;
        if seg.is_empty()
            || seg == "."
            || seg == ".."
            || seg.contains(['/', '\\', '\0'])
            || (cfg!(windows) && seg.contains(':'))
        {
            return None;
        }
        rel.push(seg);
    }
    Some(rel)
}

fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str();
    let textual = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript" | "application/json" | "image/svg+xml"
        );
    // Modules must be served with a JavaScript type; mime_guess says text/javascript for .mjs too.
    if textual {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    }
}

fn not_found(method: &Method, path: &str) -> Response {
    crate::routes::no_route(method, path)
}

/// Serves `url_path` from `root` (GET/HEAD; anything else is the usual 404 page).
pub async fn serve(root: &Path, method: &Method, url_path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return not_found(method, url_path);
    }
    let Some(rel) = relative_path(url_path) else {
        return not_found(method, url_path);
    };
    let Ok(root) = tokio::fs::canonicalize(root).await else {
        return not_found(method, url_path);
    };
    let Ok(mut file) = tokio::fs::canonicalize(root.join(&rel)).await else {
        return not_found(method, url_path);
    };
    if !file.starts_with(&root) {
        return not_found(method, url_path);
    }
    let Ok(mut meta) = tokio::fs::metadata(&file).await else {
        return not_found(method, url_path);
    };
    if meta.is_dir() {
        if !url_path.ends_with('/') {
            let location = format!("{url_path}/");
            return (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
        file.push("index.html");
        match tokio::fs::metadata(&file).await {
            Ok(m) if m.is_file() => meta = m,
            _ => return not_found(method, url_path),
        }
    }
    if !meta.is_file() {
        return not_found(method, url_path);
    }
    let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let mtime = modified
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let etag = format!("W/\"{:x}-{:x}\"", meta.len(), mtime);
    let last_modified = httpdate::fmt_http_date(modified);
    let ctype = content_type(&file);
    let cache = if ctype.starts_with("text/html") {
        HTML_CACHE_CONTROL
    } else {
        ASSET_CACHE_CONTROL
    };
    let mut h = HeaderMap::new();
    let mut put = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, &ctype);
    put(header::CACHE_CONTROL, cache);
    put(header::ETAG, &etag);
    put(header::LAST_MODIFIED, &last_modified);
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");

    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let not_modified = match inm {
        Some(list) => list.split(',').any(|t| {
            t.trim() == "*" || t.trim().trim_start_matches("W/") == etag.trim_start_matches("W/")
        }),
        None => headers
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok())
            .is_some_and(|since| {
                // HTTP dates have whole seconds.
                modified
                    .duration_since(since)
                    .map(|d| d.as_secs() == 0)
                    .unwrap_or(true)
            }),
    };
    if not_modified {
        h.remove(header::CONTENT_TYPE);
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    put(header::CONTENT_LENGTH, &meta.len().to_string());
    if method == Method::HEAD {
        return (StatusCode::OK, h).into_response();
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => (StatusCode::OK, h, Body::from(bytes)).into_response(),
        Err(_) => not_found(method, url_path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_folder_are_refused() {
        assert_eq!(relative_path("/"), Some(PathBuf::new()));
        assert_eq!(relative_path("/a/b.js"), Some(PathBuf::from("a/b.js")));
        assert_eq!(relative_path("/a/"), Some(PathBuf::from("a")));
        assert_eq!(relative_path("/a%20b.png"), Some(PathBuf::from("a b.png")));
        for bad in [
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/a/%2E%2E/x",
            "/a%2f..%2fx",
            "/..%5cx",
            "/a//b",
            "/./a",
            "/a%00",
            "/%zz",
            "/%c0%ae%c0%ae/x",
        ] {
            assert_eq!(relative_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type(Path::new("a.html")),
            "text/html; charset=utf-8"
        );
        assert!(content_type(Path::new("a.js")).ends_with("javascript; charset=utf-8"));
        assert!(content_type(Path::new("a.mjs")).ends_with("javascript; charset=utf-8"));
        assert_eq!(content_type(Path::new("a.css")), "text/css; charset=utf-8");
        assert_eq!(content_type(Path::new("a.png")), "image/png");
        assert_eq!(content_type(Path::new("a.bin")), "application/octet-stream");
    }
}
