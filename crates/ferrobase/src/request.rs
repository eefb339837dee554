//! Request normalisation before routing (Parse Server's `handleParseHeaders`): CORS, the JS SDK's
//! POST tunnelling (`_method`, `_ApplicationId`, `_SessionToken`, … in a text/plain JSON body),
//! the application id, the master key (from allowed IPs only) and the session token. Handlers get
//! the result as a `ParseRequest`.

use crate::app::App;
use crate::error::{status_and_body, ApiError};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ferrobase_core::auth::Auth;
use ferrobase_core::rest::{Ctx, RequestMeta};
use ferrobase_core::storage::TxId;
use ferrobase_core::Error;
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::sync::Arc;

/// A normalised Parse request: who asks, the JSON body (credentials removed) and the URL query.
#[derive(Debug, Clone, Default)]
pub struct ParseRequest {
    pub auth: Auth,
    pub body: Value,
    pub query: Vec<(String, String)>,
    pub tx: Option<TxId>,
    /// `scheme://host<mount>` as the client reached us (for `Location` headers).
    pub base_url: String,
    /// The JS SDK's tunnelled `_ContentType` (the type of a file uploaded as base64 JSON).
    pub content_type: Option<String>,
    /// What Cloud Code sees of the request (built only when Cloud Code runs).
    pub meta: Option<Arc<RequestMeta>>,
}

impl ParseRequest {
    pub fn ctx(&self) -> Ctx {
        Ctx {
            auth: self.auth.clone(),
            tx: self.tx,
            meta: self.meta.clone(),
        }
    }

    /// A parameter from the tunnelled body (JSON value) or else the URL query (string).
    pub fn param(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.body.get(name) {
            return Some(v.clone());
        }
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Value::String(v.clone()))
    }

    pub fn str_param(&self, name: &str) -> Option<String> {
        match self.param(name)? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ParseRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .remove::<ParseRequest>()
            .ok_or(ApiError(Error::Unauthorized))
    }
}

const ALLOW_HEADERS: &str = "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, X-Parse-Request-Id, Content-Type, Pragma, Cache-Control, Range, If-Range, If-None-Match, If-Modified-Since, Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata";

/// Parse Server's CORS headers, on every response.
fn add_cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,PUT,POST,DELETE,OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    // Routes may expose more (the files routes do, for ranges and tus).
    headers
        .entry(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .or_insert(HeaderValue::from_static(
            "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
        ));
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn take_str(body: &mut Option<&mut Map<String, Value>>, key: &str) -> Option<String> {
    match body.as_mut()?.remove(key)? {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// Compares secrets without leaking their length or content through timing.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// The middleware: wraps the whole router, so that `_method` can change the route.
pub async fn normalize(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let mut resp = if req.method() == Method::OPTIONS {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "OK",
        )
            .into_response()
    } else {
        match prepare(&app, peer, req).await {
            Ok(req) => next.run(req).await,
            Err(e) => {
                let (status, body) = status_and_body(&e);
                (status, axum::Json(body)).into_response()
            }
        }
    };
    add_cors(resp.headers_mut());
    resp
}

async fn prepare(app: &App, peer: SocketAddr, req: Request) -> Result<Request, Error> {
    let mount = &app.config.mount_path;
    let path = req.uri().path().to_string();
    let rel = if mount == "/" {
        Some(path.as_str())
    } else {
        path.strip_prefix(mount.as_str())
    };
    let Some(rel) = rel.filter(|r| r.is_empty() || r.starts_with('/')) else {
        return Ok(req);
    };
    // LiveQuery authenticates itself: the WebSocket `connect` message, or SSE query parameters.
    let ws_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    // Health checks and the pages behind emailed links carry no Parse headers either.
    if rel == "/health"
        || rel.starts_with("/apps/")
        || rel == "/realtime"
        || ((rel.is_empty() || rel == "/") && ws_upgrade)
    {
        return Ok(req);
    }
    let trailing_slash = rel.len() > 1 && rel.ends_with('/');
    let (mut parts, body) = req.into_parts();
    if trailing_slash {
        // The SDKs call e.g. `schemas/` for "all schemas": drop the trailing slash before routing.
        let trimmed = path.trim_end_matches('/');
        let pq = match parts.uri.query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        parts.uri = pq
            .parse()
            .map_err(|_| Error::invalid_json("invalid path"))?;
    }
    let files = rel == "/files" || rel.starts_with("/files/");
    if files {
        // Downloads need no credentials (Parse's file URLs are plain links); uploads with the app
        // id in a header keep their body as a stream for the files routes.
        if parts.method == Method::GET || parts.method == Method::HEAD {
            return Ok(Request::from_parts(parts, body));
        }
        if header_str(&parts.headers, "x-parse-application-id").is_some() {
            let auth = authenticate(app, peer, &parts.headers, BodyCreds::default()).await?;
            if !auth.master {
                app.limiter.check(
                    &parts.method,
                    rel.trim_end_matches('/'),
                    &peer.ip().to_string(),
                    auth.user_id(),
                )?;
            }
            let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .unwrap_or_default();
            let base_url = base_url(app, &parts.headers);
            parts.extensions.insert(ParseRequest {
                auth,
                query,
                base_url,
                ..ParseRequest::default()
            });
            return Ok(Request::from_parts(parts, body));
        }
    }
    // A file sent as base64 JSON (the JS SDK's `saveBase64`) is a third larger than the file.
    let limit = if files {
        let upload = usize::try_from(app.config.max_upload_size).unwrap_or(usize::MAX);
        app.config.max_body_size.max(
            upload
                .saturating_div(3)
                .saturating_mul(4)
                .saturating_add(64 * 1024),
        )
    } else {
        app.config.max_body_size
    };
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::TooLarge)?;
    let mut body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            if files {
                // An upload without `X-Parse-Application-Id` (and not the JS SDK's JSON form,
                // which carries `_ApplicationId`): no application, as Parse answers.
                Error::Unauthorized
            } else {
                Error::BadJson(format!("Invalid JSON body: {e}"))
            }
        })?
    };
    let mut obj = body.as_object_mut();
    let tunnelled_method = take_str(&mut obj, "_method");
    let creds = BodyCreds {
        app_id: take_str(&mut obj, "_ApplicationId"),
        master: take_str(&mut obj, "_MasterKey"),
        token: take_str(&mut obj, "_SessionToken"),
        installation: take_str(&mut obj, "_InstallationId"),
    };
    let content_type = take_str(&mut obj, "_ContentType");
    let body_context = obj.as_mut().and_then(|o| o.remove("_context"));
    for k in [
        "_JavaScriptKey",
        "_ClientKey",
        "_ClientVersion",
        "_RevocableSession",
        "_ContextData",
    ] {
        take_str(&mut obj, k);
    }
    let auth = authenticate(app, peer, &parts.headers, creds).await?;
    if !auth.master {
        let rel_path = parts.uri.path().get(mount.len()..).unwrap_or_default();
        let rel_path = if mount == "/" {
            parts.uri.path()
        } else {
            rel_path
        };
        let method = match &tunnelled_method {
            Some(m) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .unwrap_or(parts.method.clone()),
            None => parts.method.clone(),
        };
        app.limiter
            .check(&method, rel_path, &peer.ip().to_string(), auth.user_id())?;
    }
    let query = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
        .map(|q| q.0)
        .map_err(|e| Error::invalid_query(format!("invalid query string: {e}")))?;
    if parts.method == Method::POST {
        if let Some(m) = tunnelled_method {
            parts.method = Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| Error::invalid_json(format!("invalid _method {m}")))?;
        }
    }
    let rel_path = match mount.as_str() {
        "/" => parts.uri.path(),
        m => parts.uri.path().get(m.len()..).unwrap_or_default(),
    };
    crate::idempotency::check(app, &parts.method, rel_path, &parts.headers).await?;
    let meta = app
        .cloud
        .is_some()
        .then(|| Arc::new(request_meta(peer, &parts.headers, body_context)));
    parts.extensions.insert(ParseRequest {
        auth,
        body,
        query,
        tx: None,
        base_url: base_url(app, &parts.headers),
        content_type,
        meta,
    });
    Ok(Request::from_parts(parts, Body::empty()))
}

/// `request.ip`, `request.headers` and `request.context` for Cloud Code. The context comes from
/// `X-Parse-Cloud-Context` (JSON) or the SDK's `_context`; the master key is not passed on.
fn request_meta(peer: SocketAddr, headers: &HeaderMap, body_context: Option<Value>) -> RequestMeta {
    let mut h = Map::new();
    for (k, v) in headers {
        if k.as_str() == "x-parse-master-key" {
            continue;
        }
        if let Ok(v) = v.to_str() {
            h.insert(k.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let parse_context = |v: Value| match v {
        Value::Object(m) => Some(m),
        Value::String(s) => serde_json::from_str::<Map<String, Value>>(&s).ok(),
        _ => None,
    };
    let context = header_str(headers, "x-parse-cloud-context")
        .and_then(|s| parse_context(Value::String(s)))
        .or_else(|| body_context.and_then(parse_context))
        .unwrap_or_default();
    RequestMeta {
        ip: peer.ip().to_canonical().to_string(),
        headers: h,
        context,
        request_id: header_str(headers, "x-parse-request-id"),
    }
}

/// `http://host<mount>` as the client addressed us.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    let host = header_str(headers, "host")
        .unwrap_or_else(|| format!("{}:{}", app.config.host, app.config.port));
    let mount = &app.config.mount_path;
    format!("http://{host}{}", if mount == "/" { "" } else { mount })
}

/// Credentials the JS SDK tunnels in a JSON body.
#[derive(Default)]
struct BodyCreds {
    app_id: Option<String>,
    master: Option<String>,
    token: Option<String>,
    installation: Option<String>,
}

/// Credentials as a client sent them: REST headers or a tunnelled body, a LiveQuery `connect`
/// message, or `/realtime` headers and query parameters. Every entry point resolves them with
/// [`resolve_credentials`].
#[derive(Debug, Default, Clone)]
pub(crate) struct Credentials {
    pub app_id: Option<String>,
    pub master_key: Option<String>,
    pub session_token: Option<String>,
    pub installation_id: Option<String>,
}

/// Checks the application id and resolves the master key (or the read-only master key, from
/// `--master-key-ips` only) and the session token, as Parse's `handleParseHeaders`: a key that
/// is neither master key is ignored (the request is public); a master key from another address
/// is refused (403); an invalid session token is error 209.
pub(crate) async fn resolve_credentials(
    app: &App,
    peer: std::net::IpAddr,
    creds: Credentials,
) -> Result<Auth, Error> {
    if creds.app_id.as_deref() != Some(app.core.config.app_id.as_str()) {
        return Err(Error::Unauthorized);
    }
    let mut auth = Auth::default();
    if let Some(k) = creds.master_key {
        let read_only = app
            .config
            .read_only_master_key
            .as_deref()
            .is_some_and(|ro| same_secret(&k, ro));
        if same_secret(&k, &app.master_key) || read_only {
            let allowed = app
                .config
                .master_key_ips
                .iter()
                .any(|ip| ip.to_canonical() == peer.to_canonical());
            if !allowed {
                tracing::warn!(ip = %peer, "master key used from an address not in --master-key-ips");
                return Err(Error::Unauthorized);
            }
            auth.master = true;
            auth.read_only = read_only;
        }
    }
    auth.installation_id = creds.installation_id;
    if let Some(token) = creds.session_token {
        auth.user = Some(app.core.authenticate(&token).await?);
    }
    Ok(auth)
}

/// Checks the application id and resolves the master key and session token (headers first).
async fn authenticate(
    app: &App,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: BodyCreds,
) -> Result<Auth, Error> {
    let header_app_id = header_str(headers, "x-parse-application-id");
    let app_id = &app.core.config.app_id;
    // Either may carry the right id (the SDKs send one or the other).
    let app_id = if header_app_id.as_deref() == Some(app_id.as_str()) {
        header_app_id
    } else {
        body.app_id
    };
    let creds = Credentials {
        app_id,
        master_key: header_str(headers, "x-parse-master-key").or(body.master),
        session_token: header_str(headers, "x-parse-session-token").or(body.token),
        installation_id: header_str(headers, "x-parse-installation-id").or(body.installation),
    };
    resolve_credentials(app, peer.ip(), creds).await
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
