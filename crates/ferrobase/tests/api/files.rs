//! Parse's files API over real HTTP: uploads (raw and the SDK's base64 JSON), downloads with
//! ranges and validators, deletes, permissions, limits, and `File` fields on objects.

use crate::helpers::*;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

/// Uploads raw bytes as `who`; returns status and JSON body.
async fn upload(
    app: &TestApp,
    name: &str,
    body: Vec<u8>,
    content_type: Option<&str>,
    who: As<'_>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut req = app
        .client
        .post(format!("{}/files/{name}", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    match who {
        As::Public => {}
        As::Master => req = req.header("X-Parse-Master-Key", MASTER_KEY),
        As::User(t) => req = req.header("X-Parse-Session-Token", t),
    }
    let resp = req.send().await.expect("upload sent");
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, v)
}

async fn fetch(app: &TestApp, url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("download sent")
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn upload_download_delete_as_parse() {
    let app = spawn().await;
    let data = pattern(10_000);
    let (s, h, v) = upload(
        &app,
        "hello.txt",
        data.clone(),
        Some("text/plain"),
        As::Master,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let name = v["name"].as_str().expect("name");
    let url = v["url"].as_str().expect("url");
    let (token, rest) = name.split_once('_').expect("prefix");
    assert_eq!(rest, "hello.txt");
    assert_eq!(token.len(), 32);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(url, format!("{}/files/{APP_ID}/{name}", app.url));
    assert_eq!(h["location"], url);

    // No credentials needed to download.
    let r = fetch(&app, url, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert!(r.headers().contains_key("etag"));
    assert!(r.headers().contains_key("last-modified"));
    assert!(r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .contains("hello.txt"));
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), data);

    // Wrong app id in the URL: 403.
    let r = fetch(&app, &format!("{}/files/other/{name}", app.url), &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Deleting needs the master key.
    let (s, _) = app.delete(&format!("/files/{name}"), As::Public).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, tok) = app.signup("deleter", "pw").await;
    let (s, _) = app.delete(&format!("/files/{name}"), As::User(&tok)).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.delete(&format!("/files/{name}"), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    let r = fetch(&app, url, &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.text().await.expect("text"), "File not found.");
    let got = app.delete(&format!("/files/{name}"), As::Master).await;
    assert_parse_error(&got, 400, 153);
}

#[tokio::test]
async fn sdk_base64_json_upload() {
    let app = spawn().await;
    let (_, tok) = app.signup("b64", "pw").await;
    // What `new Parse.File('a.txt', {base64}).save()` sends: text/plain JSON, credentials inside.
    let body = json!({
        "base64": "aGVsbG8gd29ybGQ=",
        "fileData": {"metadata": {}, "tags": {}},
        "_ContentType": "text/plain",
        "_ApplicationId": APP_ID,
        "_ClientVersion": "js8.6.2",
        "_InstallationId": "abc",
        "_SessionToken": tok,
    });
    let r = app
        .client
        .post(format!("{}/files/a.txt", app.url))
        .header("Content-Type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    let r = fetch(&app, v["url"].as_str().expect("url"), &[]).await;
    assert_eq!(r.text().await.expect("text"), "hello world");

    // Without a session: public upload is disabled (Parse 9 default).
    let mut anon = body.clone();
    anon.as_object_mut().expect("obj").remove("_SessionToken");
    let r = app
        .client
        .post(format!("{}/files/a.txt", app.url))
        .header("Content-Type", "text/plain")
        .body(anon.to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["code"], 130);
    assert_eq!(v["error"], "File upload by public is disabled.");
}

#[tokio::test]
async fn parse9_upload_rules() {
    let app = spawn().await;
    let (_, tok) = app.signup("rules", "pw").await;
    let (s, _, v) = upload(&app, "a.txt", b"x".to_vec(), None, As::Public).await;
    assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(130)), "{v}");
    assert_eq!(v["error"], "File upload by public is disabled.");
    for name in ["page.html", "img.svg", "data.xml", "x.HTM", "y.xhtml"] {
        let (s, _, v) = upload(&app, name, b"<x/>".to_vec(), None, As::User(&tok)).await;
        assert_eq!(
            (s.as_u16(), v["code"].as_i64()),
            (400, Some(130)),
            "{name}: {v}"
        );
    }
    // No extension, but an SVG content type: refused too.
    let (s, _, v) = upload(
        &app,
        "pic",
        b"<svg/>".to_vec(),
        Some("image/svg+xml"),
        As::User(&tok),
    )
    .await;
    assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(130)), "{v}");
    // The master key bypasses the extension list.
    let (s, _, _) = upload(&app, "ok.html", b"<p>".to_vec(), None, As::Master).await;
    assert_eq!(s, StatusCode::CREATED);
    // Empty upload.
    let (s, _, v) = upload(&app, "empty.txt", vec![], None, As::User(&tok)).await;
    assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(130)), "{v}");
    // No filename.
    let r = app
        .client
        .post(format!("{}/files", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .body("x")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["code"], 122);
    // Path traversal and odd names are refused as Parse does (122), never reach the disk.
    for name in [
        "..%2F..%2Fetc%2Fpasswd",
        "..x",
        "caf%C3%A9.txt",
        ".hidden",
        "a%00b",
    ] {
        let (s, _, v) = upload(&app, name, b"x".to_vec(), None, As::Master).await;
        assert_eq!(
            (s.as_u16(), v["code"].as_i64()),
            (400, Some(122)),
            "{name}: {v}"
        );
    }
    // Extension added from the type when the name has none.
    let (s, _, v) = upload(
        &app,
        "photo",
        b"\x89PNG".to_vec(),
        Some("image/png"),
        As::User(&tok),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(v["name"].as_str().expect("name").ends_with("_photo.png"));
    // Wrong app id.
    let r = app
        .client
        .post(format!("{}/files/a.txt", app.url))
        .header("X-Parse-Application-Id", "nope")
        .body("x")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn upload_permission_switches() {
    let app = spawn_with(|c| {
        c.file_upload.public = true;
        c.file_upload.authenticated = false;
    })
    .await;
    let (s, _, _) = upload(&app, "a.txt", b"x".to_vec(), None, As::Public).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, tok) = app.signup("noupload", "pw").await;
    let (s, _, v) = upload(&app, "a.txt", b"x".to_vec(), None, As::User(&tok)).await;
    assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(130)), "{v}");
    assert_eq!(v["error"], "File upload by authenticated user is disabled.");

    // Anonymous users (authData.anonymous) are refused by default.
    let (s, v) = app
        .post(
            "/users",
            json!({"authData": {"anonymous": {"id": "0b6a1f34-9a1c-4c1e-8c4a-5a1e2b3c4d5e"}}}),
            As::Public,
        )
        .await;
    if s == StatusCode::CREATED {
        let tok = v["sessionToken"].as_str().expect("token").to_string();
        let (s, _, v) = upload(&app, "a.txt", b"x".to_vec(), None, As::User(&tok)).await;
        assert_eq!((s.as_u16(), v["code"].as_i64()), (400, Some(130)), "{v}");
        assert_eq!(v["error"], "File upload by anonymous user is disabled.");
    }

    let app = spawn_with(|c| c.file_upload.extensions = vec!["^(jpg|png)$".into()]).await;
    let (_, tok) = app.signup("ext", "pw").await;
    let (s, _, _) = upload(&app, "a.png", b"x".to_vec(), None, As::User(&tok)).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, v) = upload(&app, "a.txt", b"x".to_vec(), None, As::User(&tok)).await;
    assert_eq!(
        v["error"], "File upload of extension txt is disabled.",
        "{s}"
    );
}

#[tokio::test]
async fn max_upload_size_is_413() {
    let app = spawn_with(|c| c.max_upload_size = 1000).await;
    let (s, _, _) = upload(&app, "ok.bin", pattern(1000), None, As::Master).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = upload(&app, "big.bin", pattern(1001), None, As::Master).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Chunked (no Content-Length): stopped while streaming, nothing stored.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..10).map(|_| Ok(pattern(300))).collect();
    let r = app
        .client
        .post(format!("{}/files/chunked.bin", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let stored: Vec<_> = std::fs::read_dir(app.dir.path().join("files/meta"))
        .expect("meta dir")
        .collect();
    assert_eq!(stored.len(), 1, "only ok.bin is stored");
}

#[tokio::test]
async fn ranges_and_conditional_requests() {
    let app = spawn().await;
    let data = pattern(1000);
    let (_, _, v) = upload(&app, "r.bin", data.clone(), None, As::Master).await;
    let url = v["url"].as_str().expect("url").to_string();

    let r = fetch(&app, &url, &[("Range", "bytes=0-99")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 0-99/1000");
    assert_eq!(r.headers()["content-length"], "100");
    assert_eq!(r.bytes().await.expect("b").to_vec(), &data[..100]);

    let r = fetch(&app, &url, &[("Range", "bytes=-500")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 500-999/1000");
    assert_eq!(r.bytes().await.expect("b").to_vec(), &data[500..]);

    let r = fetch(&app, &url, &[("Range", "bytes=990-")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("b").to_vec(), &data[990..]);

    let r = fetch(&app, &url, &[("Range", "bytes=900-5000")]).await;
    assert_eq!(r.headers()["content-range"], "bytes 900-999/1000");

    let r = fetch(&app, &url, &[("Range", "bytes=1000-")]).await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()["content-range"], "bytes */1000");

    // Several ranges: the whole file (200).
    let r = fetch(&app, &url, &[("Range", "bytes=0-1,5-6")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("b").len(), 1000);

    let r = fetch(&app, &url, &[]).await;
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    let lm = r.headers()["last-modified"]
        .to_str()
        .expect("lm")
        .to_string();

    let r = fetch(&app, &url, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(r.headers()["etag"], etag.as_str());
    let r = fetch(&app, &url, &[("If-None-Match", "\"other\"")]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = fetch(&app, &url, &[("If-Modified-Since", &lm)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = fetch(
        &app,
        &url,
        &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);

    // If-Range: the range only while the validator matches.
    let r = fetch(&app, &url, &[("Range", "bytes=0-9"), ("If-Range", &etag)]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let r = fetch(
        &app,
        &url,
        &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("b").len(), 1000);

    // HEAD: headers only.
    let r = app.client.head(&url).send().await.expect("head");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "1000");
}

#[tokio::test]
async fn zero_byte_and_missing_files() {
    let app = spawn().await;
    let r = fetch(&app, &format!("{}/files/{APP_ID}/nope.txt", app.url), &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = fetch(
        &app,
        &format!("{}/files/{APP_ID}/..%2F..%2Fkeys.json", app.url),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = fetch(
        &app,
        &format!("{}/files/{APP_ID}/../../keys.json", app.url),
        &[],
    )
    .await;
    assert_ne!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_uploads() {
    let app = spawn().await;
    let mut tasks = Vec::new();
    for i in 0..16usize {
        let client = app.client.clone();
        let url = app.url.clone();
        tasks.push(tokio::spawn(async move {
            let data: Vec<u8> = (0..50_000).map(|j| ((i * 31 + j) % 256) as u8).collect();
            let v: Value = client
                .post(format!("{url}/files/same.bin"))
                .header("X-Parse-Application-Id", APP_ID)
                .header("X-Parse-Master-Key", MASTER_KEY)
                .body(data.clone())
                .send()
                .await
                .expect("sent")
                .json()
                .await
                .expect("json");
            (data, v["url"].as_str().expect("url").to_string())
        }));
    }
    let mut urls = std::collections::HashSet::new();
    for t in tasks {
        let (data, url) = t.await.expect("task");
        let got = fetch(&app, &url, &[]).await.bytes().await.expect("bytes");
        assert_eq!(got.to_vec(), data);
        urls.insert(url);
    }
    assert_eq!(urls.len(), 16);
}

#[tokio::test]
async fn file_fields_get_urls() {
    let app = spawn().await;
    let (_, _, v) = upload(&app, "doc.txt", b"contents".to_vec(), None, As::Master).await;
    let name = v["name"].as_str().expect("name").to_string();
    let id = app
        .create(
            "Doc",
            json!({"file": {"__type": "File", "name": name, "url": "http://stale/x"}}),
        )
        .await;
    let (s, o) = app.get(&format!("/classes/Doc/{id}"), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    let url = o["file"]["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/files/{APP_ID}/{name}", app.url));
    let got = fetch(&app, url, &[]).await.text().await.expect("text");
    assert_eq!(got, "contents");
    let (_, found) = app.query("Doc", &[], As::Master).await;
    assert_eq!(found["results"][0]["file"]["url"], url);
}

#[tokio::test]
async fn s3_storage_round_trip() {
    let Some(moto) = ferrobase_files::testing::Moto::start() else {
        return;
    };
    let uri = moto.bucket("ferrobase-http").await.expect("bucket");
    let app = spawn_with(|c| c.files_uri = Some(uri)).await;
    let data = pattern(3 * 1024 * 1024 + 17);
    let (s, _, v) = upload(&app, "s3.bin", data.clone(), None, As::Master).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["url"].as_str().expect("url").to_string();
    let r = fetch(&app, &url, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), data);
    let r = fetch(&app, &url, &[("Range", "bytes=-100")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.bytes().await.expect("b").to_vec(),
        &data[data.len() - 100..]
    );
    let r = fetch(&app, &url, &[("If-None-Match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let name = v["name"].as_str().expect("name");
    let (s, _) = app.delete(&format!("/files/{name}"), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(fetch(&app, &url, &[]).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn raw_method_variants() {
    let app = spawn().await;
    // PUT is not a files route.
    let (s, _, _) = app
        .raw(Method::PUT, "/files/a.txt", Some("x".into()), As::Master)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let _ = header::RANGE;
}

#[tokio::test]
async fn tus_resumable_upload() {
    let app = spawn().await;
    let (_, tok) = app.signup("tusser", "pw").await;
    let data = pattern(100_000);
    let auth = |r: reqwest::RequestBuilder| {
        r.header("X-Parse-Application-Id", APP_ID)
            .header("X-Parse-Session-Token", tok.as_str())
            .header("Tus-Resumable", "1.0.0")
    };
    let r = auth(app.client.post(format!("{}/files/tus", app.url)))
        .header("Upload-Length", data.len().to_string())
        .header("Upload-Metadata", "filename ZC5iaW4=") // d.bin
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert!(r.headers().contains_key("upload-expires"));
    let url = r.headers()["location"].to_str().expect("loc").to_string();
    let patch = |offset: usize, body: Vec<u8>, ct: &'static str| {
        auth(app.client.patch(&url))
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", ct)
            .body(body)
            .send()
    };
    let r = patch(0, data[..40_000].to_vec(), "text/plain")
        .await
        .expect("p");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = patch(
        0,
        data[..40_000].to_vec(),
        "application/offset+octet-stream",
    )
    .await
    .expect("p");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["upload-offset"], "40000");
    let r = app
        .client
        .head(&url)
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .expect("head");
    assert_eq!(r.headers()["upload-offset"], "40000");
    assert_eq!(r.headers()["upload-length"], "100000");
    let r = patch(0, data[..10].to_vec(), "application/offset+octet-stream")
        .await
        .expect("p");
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // Another user may not append.
    let (_, other) = app.signup("intruder", "pw").await;
    let r = app
        .client
        .patch(&url)
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Session-Token", other)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "40000")
        .header("Content-Type", "application/offset+octet-stream")
        .body(data[40_000..].to_vec())
        .send()
        .await
        .expect("p");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = patch(
        40_000,
        data[40_000..].to_vec(),
        "application/offset+octet-stream",
    )
    .await
    .expect("p");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let name = r.headers()["x-parse-file-name"]
        .to_str()
        .expect("name")
        .to_string();
    assert!(name.ends_with("_d.bin"));
    let file_url = r.headers()["x-parse-file-url"]
        .to_str()
        .expect("url")
        .to_string();
    let got = fetch(&app, &file_url, &[])
        .await
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.to_vec(), data);
    // Too large for --max-upload-size at creation.
    let r = auth(app.client.post(format!("{}/files/tus", app.url)))
        .header("Upload-Length", (21 * 1024 * 1024).to_string())
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn orphans_are_found_and_deleted() {
    let app = spawn().await;
    let (_, _, kept) = upload(&app, "kept.txt", b"k".to_vec(), None, As::Master).await;
    let (_, _, nested) = upload(&app, "nested.txt", b"n".to_vec(), None, As::Master).await;
    let (_, _, orphan) = upload(&app, "orphan.txt", b"o".to_vec(), None, As::Master).await;
    let name = |v: &Value| v["name"].as_str().expect("name").to_string();
    app.create(
        "Holder",
        json!({"f": {"__type": "File", "name": name(&kept)}}),
    )
    .await;
    app.create(
        "Holder",
        json!({"list": [{"__type": "File", "name": name(&nested)}]}),
    )
    .await;
    let dir = app.stop().await;
    let config = || test_config(dir.path());
    // Young files are kept by default (--min-age 3600).
    let r = ferrobase::orphans::run(config(), true, false, 3600)
        .await
        .expect("run");
    assert!(r.orphans.is_empty());
    let r = ferrobase::orphans::run(config(), false, false, 0)
        .await
        .expect("run");
    let found: Vec<&str> = r.orphans.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(found, vec![name(&orphan).as_str()]);
    let r = ferrobase::orphans::run(config(), true, true, 0)
        .await
        .expect("dry run");
    assert_eq!((r.orphans.len(), r.deleted), (1, 0));
    let r = ferrobase::orphans::run(config(), true, false, 0)
        .await
        .expect("delete");
    assert_eq!(r.deleted, 1);
    let r = ferrobase::orphans::run(config(), false, false, 0)
        .await
        .expect("run");
    assert!(r.orphans.is_empty());
}

#[tokio::test]
async fn protected_files_need_a_token_from_a_readable_object() {
    let app = spawn_with(|c| c.protected_files = true).await;
    let (alice, alice_t) = app.signup("alice", "pw").await;
    let (_bob, bob_t) = app.signup("bob", "pw").await;
    let (s, _, v) = upload(
        &app,
        "secret.txt",
        b"top secret".to_vec(),
        Some("text/plain"),
        As::User(&alice_t),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let name = v["name"].as_str().expect("name").to_string();
    let upload_url = v["url"].as_str().expect("url").to_string();
    assert!(
        upload_url.contains("?token="),
        "the uploader gets a token: {upload_url}"
    );
    let bare = upload_url.split('?').next().expect("url").to_string();
    // Without a token (or with a forged one) the file is refused.
    assert_eq!(
        fetch(&app, &bare, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        fetch(&app, &format!("{bare}?token=9999999999.00"), &[])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let r = fetch(&app, &upload_url, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"top secret");
    // Attached to an object only Alice can read: Alice's answers carry a working URL, Bob gets nothing.
    app.post("/schemas/Doc", json!({}), As::Master).await;
    let (s, v) = app
        .post(
            "/classes/Doc",
            json!({"file": {"__type": "File", "name": name}, "ACL": {alice.clone(): {"read": true, "write": true}}}),
            As::User(&alice_t),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = app.get("/classes/Doc", As::User(&alice_t)).await;
    let url = v["results"][0]["file"]["url"]
        .as_str()
        .expect("url")
        .to_string();
    assert_eq!(fetch(&app, &url, &[]).await.status(), StatusCode::OK);
    let (_, v) = app.get("/classes/Doc", As::User(&bob_t)).await;
    assert_eq!(v["results"], json!([]));
    // A token for one file does not open another.
    let other = url.replace(&name, "x_other.txt");
    assert_eq!(
        fetch(&app, &other, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    // The master key always may.
    let r = fetch(&app, &bare, &[("X-Parse-Master-Key", MASTER_KEY)]).await;
    assert_eq!(r.status(), StatusCode::OK);
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut buf, image::ImageFormat::Png)
        .expect("png");
    buf.into_inner()
}

/// A tiny PNG whose header claims `width`×`height` pixels (a decompression bomb's shape).
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut out = png(1, 1);
    // Bytes 16..24 are IHDR's width and height; 29..33 its CRC (over "IHDR" + data, 12..29).
    out[16..20].copy_from_slice(&width.to_be_bytes());
    out[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

#[tokio::test]
async fn thumbnails_on_demand() {
    let app = spawn().await;
    let (_, tok) = app.signup("ann", "pw").await;
    let (s, _, v) = upload(
        &app,
        "photo.png",
        png(400, 200),
        Some("image/png"),
        As::User(&tok),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["url"].as_str().expect("url").to_string();
    let decode = |b: &[u8]| image::load_from_memory(b).expect("an image");
    let r = fetch(&app, &format!("{url}?thumb=100x100"), &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    let etag = r.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_string();
    let t = decode(&r.bytes().await.expect("body"));
    assert_eq!(
        (t.width(), t.height()),
        (100, 50),
        "fit keeps the aspect ratio"
    );
    let r = fetch(&app, &format!("{url}?thumb=100x100&fit=crop"), &[]).await;
    let t = decode(&r.bytes().await.expect("body"));
    assert_eq!((t.width(), t.height()), (100, 100), "crop fills the box");
    // Cached: the same thumbnail again, with a validator.
    let r = fetch(
        &app,
        &format!("{url}?thumb=100x100"),
        &[("If-None-Match", etag.as_str())],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = fetch(&app, &format!("{url}?thumb=0x5"), &[]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Not an image, or a decompression bomb: a clear error, no work.
    let (_, _, v) = upload(
        &app,
        "notes.txt",
        b"hello".to_vec(),
        Some("text/plain"),
        As::User(&tok),
    )
    .await;
    let r = fetch(
        &app,
        &format!("{}?thumb=10x10", v["url"].as_str().expect("url")),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (_, _, v) = upload(
        &app,
        "bomb.png",
        bomb_png(100_000, 100_000),
        Some("image/png"),
        As::User(&tok),
    )
    .await;
    let r = fetch(
        &app,
        &format!("{}?thumb=10x10", v["url"].as_str().expect("url")),
        &[],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "10 gigapixels are refused before decoding"
    );
}
