//! `--public-dir`: a static folder served at `/` next to the API mount.

use crate::helpers::{spawn_with, As, TestApp};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server with a public folder: index.html, a module, a stylesheet, an image, a sub-folder with
/// its own index, one without, and a secret beside the folder (what traversal would reach).
async fn app_with_site() -> (TestApp, tempfile::TempDir) {
    let outer = tempfile::tempdir().expect("temp dir");
    let site = outer.path().join("site");
    std::fs::create_dir_all(site.join("docs")).expect("mkdir");
    std::fs::create_dir_all(site.join("empty")).expect("mkdir");
    std::fs::write(site.join("index.html"), "<!doctype html><p>home</p>").expect("write");
    std::fs::write(site.join("app.js"), "export const x = 1;\n").expect("write");
    std::fs::write(site.join("style.css"), "body{color:red}").expect("write");
    std::fs::write(site.join("a b.png"), [0x89, b'P', b'N', b'G']).expect("write");
    std::fs::write(site.join("docs/index.html"), "<p>docs</p>").expect("write");
    std::fs::write(outer.path().join("secret.txt"), "top secret").expect("write");
    #[cfg(unix)]
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), site.join("link.txt"))
        .expect("symlink");
    let app = spawn_with(|c| c.public_dir = Some(site.clone())).await;
    (app, outer)
}

/// The server's origin (`http://127.0.0.1:port`), without the mount.
fn origin(app: &TestApp) -> String {
    let rest = app.url.strip_prefix("http://").expect("http url");
    let host = rest.split('/').next().expect("host");
    format!("http://{host}")
}

async fn fetch(app: &TestApp, method: Method, path: &str) -> reqwest::Response {
    app.client
        .request(method, format!("{}{path}", origin(app)))
        .send()
        .await
        .expect("request sent")
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Sends the request line as written (reqwest would normalise `..` away) and returns the status
/// line and the body.
async fn raw_get(app: &TestApp, target: &str) -> (String, String) {
    let host = origin(app).trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&host)
        .await
        .expect("connect");
    let req = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let out = String::from_utf8_lossy(&buf).into_owned();
    let status = out.lines().next().unwrap_or("").to_string();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test]
async fn serves_files_with_types_and_caching() {
    let (app, _site) = app_with_site().await;

    let r = fetch(&app, Method::GET, "/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&r, "cache-control"), "no-cache");
    assert!(!header(&r, "etag").is_empty());
    assert!(!header(&r, "last-modified").is_empty());
    assert_eq!(r.text().await.expect("body"), "<!doctype html><p>home</p>");

    let r = fetch(&app, Method::GET, "/index.html").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "cache-control"), "no-cache");

    let r = fetch(&app, Method::GET, "/app.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    let ct = header(&r, "content-type");
    assert!(
        ct == "text/javascript; charset=utf-8" || ct == "application/javascript; charset=utf-8",
        "a module needs a JavaScript type: {ct}"
    );
    assert_eq!(header(&r, "cache-control"), "public, max-age=3600");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(r.text().await.expect("body"), "export const x = 1;\n");

    let r = fetch(&app, Method::GET, "/style.css").await;
    assert_eq!(header(&r, "content-type"), "text/css; charset=utf-8");
    let r = fetch(&app, Method::GET, "/a%20b.png").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "content-length"), "4");

    // HEAD: the headers without the body.
    let r = fetch(&app, Method::HEAD, "/app.js").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-length"), "20");
    assert_eq!(r.bytes().await.expect("body").len(), 0);

    // Conditional requests: 304 with the same ETag.
    let r = fetch(&app, Method::GET, "/app.js").await;
    let etag = header(&r, "etag");
    let last_modified = header(&r, "last-modified");
    let r = app
        .client
        .get(format!("{}/app.js", origin(&app)))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&r, "etag"), etag);
    let r = app
        .client
        .get(format!("{}/app.js", origin(&app)))
        .header("If-Modified-Since", &last_modified)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = app
        .client
        .get(format!("{}/app.js", origin(&app)))
        .header("If-None-Match", "\"other\"")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);

    // Directories: index.html, a redirect to the trailing slash, 404 without an index.
    let r = fetch(&app, Method::GET, "/docs/").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("body"), "<p>docs</p>");
    let r = app
        .client
        .get(format!("{}/docs", origin(&app)))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "the redirect is followed");
    assert_eq!(r.url().path(), "/docs/");
    let (status, _) = raw_get(&app, "/docs").await;
    assert!(status.contains(" 301 "), "{status}");
    let r = fetch(&app, Method::GET, "/empty/").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Missing files and other methods: Express's 404 page.
    let r = fetch(&app, Method::GET, "/nope.js").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r
        .text()
        .await
        .expect("body")
        .contains("Cannot GET /nope.js"));
    let r = fetch(&app, Method::POST, "/index.html").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_path_leaves_the_folder() {
    let (app, _site) = app_with_site().await;
    for target in [
        "/../secret.txt",
        "/docs/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/docs/%2e%2e/%2e%2e/secret.txt",
        "//secret.txt",
        "/link.txt",
        "/%00",
    ] {
        let (status, body) = raw_get(&app, target).await;
        assert!(
            status.contains(" 404 ") || status.contains(" 400 "),
            "{target}: {status}"
        );
        assert!(!body.contains("top secret"), "{target} leaked the file");
    }
}

#[tokio::test]
async fn the_api_keeps_its_mount() {
    let (app, _site) = app_with_site().await;
    // The API answers under the mount as before; an unknown API path is still the API's 404.
    let (s, v) = app.get("/health", As::Public).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (s, _) = app.get("/no-such-endpoint", As::Public).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Inside the mount the API decides (403 without an app id, 404 with one): no static file.
    let r = fetch(&app, Method::GET, "/parse/index.html").await;
    assert_eq!(
        r.status(),
        StatusCode::FORBIDDEN,
        "no static files inside the mount"
    );
    let (s, v) = app.get("/index.html", As::Public).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(!v.to_string().contains("home"));

    // Without --public-dir nothing is served at `/`.
    let plain = spawn_with(|_| {}).await;
    let r = fetch(&plain, Method::GET, "/").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_missing_folder_is_refused_at_start() {
    let args = ferrobase::config::ServeArgs {
        public_dir: Some("/definitely/not/here".into()),
        ..Default::default()
    };
    let e = ferrobase::config::Config::resolve(args).expect_err("refused");
    assert!(e.contains("--public-dir"), "{e}");
}
