//! Application state and the router.

use crate::config::Config;
use crate::routes;
use axum::Router;
use ferrobase_core::rest::Core;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Everything a handler may need; passed in as state, never global.
pub struct App {
    pub core: Core,
    pub config: Config,
    pub master_key: String,
    pub limiter: crate::ratelimit::Limiter,
    pub started: Instant,
    /// LiveQuery: subscriptions and change fan-out.
    pub live: crate::live::Hub,
    /// File storage and upload rules.
    pub files: crate::files::Files,
    /// Cloud Code, when `--cloud` is set.
    pub cloud: Option<Arc<crate::cloud::Cloud>>,
    /// Every function and trigger call: webhooks, else Cloud Code.
    pub hooks: Arc<crate::cloud::Dispatch>,
    /// The routes without the normalising middleware, for `/batch` sub-requests.
    pub inner: OnceLock<Router>,
}

/// Builds the public service: the normalising middleware around the mounted API routes. The
/// middleware wraps the router as a service (not `Router::layer`, which runs after routing), so
/// the JS SDK's tunnelled `_method` decides the route.
pub fn build(app: Arc<App>) -> Router {
    let api = routes::api()
        .route_layer(axum::middleware::from_fn(crate::observe::route_layer))
        .with_state(app.clone());
    let mounted = if app.config.mount_path == "/" {
        api
    } else {
        Router::new().nest(&app.config.mount_path, api)
    };
    let mounted = match app.config.public_dir.clone() {
        None => mounted.fallback(routes::not_found),
        Some(dir) => {
            let mount = app.config.mount_path.clone();
            mounted.fallback(
                move |method: axum::http::Method,
                      uri: axum::extract::OriginalUri,
                      headers: axum::http::HeaderMap| {
                    let dir = dir.clone();
                    let mount = mount.clone();
                    async move {
                        let path = uri.0.path();
                        // Inside the API mount an unknown path stays the API's 404 (with the
                        // mount at `/`, the static files answer what no API route took).
                        let in_api = mount != "/"
                            && path
                                .strip_prefix(mount.as_str())
                                .is_some_and(|r| r.is_empty() || r.starts_with('/'));
                        if in_api {
                            routes::no_route(&method, path)
                        } else {
                            crate::public::serve(&dir, &method, path, &headers).await
                        }
                    }
                },
            )
        }
    };
    let _ = app.inner.set(mounted.clone());
    let layer = axum::middleware::from_fn_with_state(app.clone(), crate::request::normalize);
    // Outermost: request id, span, access log and metrics (see `observe`).
    let observe = axum::middleware::from_fn_with_state(app, crate::observe::track);
    Router::new().fallback_service(tower::Layer::layer(
        &observe,
        tower::Layer::layer(&layer, mounted),
    ))
}
