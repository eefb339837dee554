//! A real server on 127.0.0.1:0 with its own data dir, and a client that speaks Parse REST.

use ferrobase::config::Config;
use ferrobase::serve::Running;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub const APP_ID: &str = "test-app";
pub const MASTER_KEY: &str = "test-master-key";

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    running: Option<Running>,
    pub dir: tempfile::TempDir,
}

/// Who a request is sent as.
#[derive(Clone, Copy)]
pub enum As<'a> {
    Public,
    Master,
    User(&'a str),
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        port: 0,
        data_dir: dir.to_path_buf(),
        app_id: Some(APP_ID.into()),
        master_key: Some(MASTER_KEY.into()),
        bcrypt_cost: 4,
        database_uri: test_database_uri(dir),
        ..Config::default()
    }
}

/// With `FERROBASE_TEST_DATABASE_URI` set (e.g. `mongodb://127.0.0.1:27017/`), each test gets its
/// own database on that server instead of the embedded store.
/// The database is named after the test's data dir, so that a restart on the same dir finds it.
pub fn test_database_uri(dir: &std::path::Path) -> Option<String> {
    let base = std::env::var("FERROBASE_TEST_DATABASE_URI").ok()?;
    let (scheme, rest) = base.split_once("://")?;
    let hosts = rest.split(['/', '?']).next().unwrap_or(rest);
    let query = rest.find('?').map_or("", |i| &rest[i..]);
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let db = format!("test_{name}");
    Some(format!("{scheme}://{hosts}/{db}{query}"))
}

/// Whether the tests run on MongoDB/FerretDB rather than the embedded store.
pub fn on_mongo() -> bool {
    std::env::var("FERROBASE_TEST_DATABASE_URI").is_ok_and(|u| u.starts_with("mongodb"))
}

/// Whether the MongoDB server is FerretDB v1 (`FERROBASE_TEST_FERRETDB=1`): no transactions,
/// no `$text`, no geo operators, no nested arrays. Checks that need them print why they are
/// skipped there (the list is in crates/ferrobase-mongo/README.md).
pub fn on_ferretdb(check: &str, reason: &str) -> bool {
    let ferret = on_mongo() && std::env::var("FERROBASE_TEST_FERRETDB").is_ok_and(|v| v == "1");
    if ferret {
        eprintln!("SKIPPED on FerretDB v1: {check}: {reason}");
    }
    ferret
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    tweak(&mut config);
    let running = ferrobase::serve::start(config)
        .await
        .expect("server starts");
    TestApp {
        url: running.url.clone(),
        client: reqwest::Client::new(),
        running: Some(running),
        dir,
    }
}

impl TestApp {
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.dir
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        who: As<'_>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("X-Parse-Application-Id", APP_ID);
        match who {
            As::Public => {}
            As::Master => req = req.header("X-Parse-Master-Key", MASTER_KEY),
            As::User(t) => req = req.header("X-Parse-Session-Token", t),
        }
        if let Some(b) = body {
            req = req.header("Content-Type", "application/json").body(b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body read");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, json)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        who: As<'_>,
    ) -> (StatusCode, Value) {
        let (s, _, v) = self
            .raw(method, path, body.map(|b| b.to_string()), who)
            .await;
        (s, v)
    }

    pub async fn get(&self, path: &str, who: As<'_>) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, who).await
    }
    pub async fn post(&self, path: &str, body: Value, who: As<'_>) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), who).await
    }
    pub async fn put(&self, path: &str, body: Value, who: As<'_>) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body), who).await
    }
    pub async fn delete(&self, path: &str, who: As<'_>) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None, who).await
    }

    /// `GET /classes/<class>?where=…` and the result objects.
    pub async fn query(
        &self,
        class: &str,
        params: &[(&str, String)],
        who: As<'_>,
    ) -> (StatusCode, Value) {
        let qs: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        self.get(&format!("/classes/{class}?{}", qs.join("&")), who)
            .await
    }

    /// Creates an object with the master key and returns its id.
    pub async fn create(&self, class: &str, body: Value) -> String {
        let (s, v) = self
            .post(&format!("/classes/{class}"), body, As::Master)
            .await;
        assert_eq!(s, StatusCode::CREATED, "create failed: {v}");
        v["objectId"].as_str().expect("objectId").to_string()
    }

    /// Signs a user up and returns (objectId, sessionToken).
    pub async fn signup(&self, username: &str, password: &str) -> (String, String) {
        let (s, v) = self
            .post(
                "/users",
                serde_json::json!({"username": username, "password": password}),
                As::Public,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "signup failed: {v}");
        (
            v["objectId"].as_str().expect("id").into(),
            v["sessionToken"].as_str().expect("token").into(),
        )
    }
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The `name` fields of a find answer, in order.
pub fn names(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts a Parse error: status and code.
#[track_caller]
pub fn assert_parse_error(got: &(StatusCode, Value), status: u16, code: i64) {
    assert_eq!(got.0.as_u16(), status, "status; body {}", got.1);
    assert_eq!(got.1["code"].as_i64(), Some(code), "code; body {}", got.1);
    assert!(got.1["error"].is_string(), "error message; body {}", got.1);
}
