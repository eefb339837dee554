//! Observability: `/metrics` (Prometheus text, master key or its own listener), request ids,
//! the JSON access log, and readiness. Metrics are process-wide (the tests share one recorder),
//! so checks look for series and for counters that grew, never for exact totals.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn scrape(app: &TestApp) -> String {
    let r = app
        .client
        .get(format!("{}/metrics", app.url))
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    r.text().await.expect("body")
}

/// The value of the first series of `name` whose labels contain every one of `labels`.
fn value(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_need_the_master_key_and_name_routes_by_template() {
    let app = spawn().await;
    let id = app.create("Metered", json!({"n": 1})).await;
    let (s, _) = app.get(&format!("/classes/Metered/{id}"), As::Public).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.get("/classes/Metered/nope", As::Public).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // No key, a wrong key, the REST key as bearer: refused as Parse refuses (403).
    let url = format!("{}/metrics", app.url);
    let r = app.client.get(&url).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .get(&url)
        .header("X-Parse-Master-Key", "wrong")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Prometheus's `authorization` setting sends a bearer token.
    let r = app
        .client
        .get(&url)
        .bearer_auth(MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);

    let text = scrape(&app).await;
    let get = value(
        &text,
        "ferrobase_http_requests_total",
        &[
            "method=\"GET\"",
            "route=\"/classes/{class}/{id}\"",
            "status=\"200\"",
        ],
    );
    assert!(get.is_some_and(|v| v >= 1.0), "{text}");
    assert!(value(
        &text,
        "ferrobase_http_requests_total",
        &["route=\"/classes/{class}/{id}\"", "status=\"404\""],
    )
    .is_some());
    assert!(value(
        &text,
        "ferrobase_http_requests_total",
        &[
            "route=\"/classes/{class}\"",
            "method=\"POST\"",
            "status=\"201\""
        ],
    )
    .is_some());
    assert!(
        !text.contains(&id) && !text.contains("Metered"),
        "raw paths never become labels"
    );
    assert!(value(
        &text,
        "ferrobase_http_request_duration_seconds_bucket",
        &["route=\"/classes/{class}/{id}\"", "le=\"+Inf\""],
    )
    .is_some());
    for (name, labels) in [
        (
            "ferrobase_store_operation_duration_seconds_count",
            &["store=\"sqlite\"", "op=\"insert\""][..],
        ),
        (
            "ferrobase_store_operation_duration_seconds_count",
            &["op=\"find\""][..],
        ),
        ("ferrobase_sqlite_group_commit_size_count", &[][..]),
        (
            "ferrobase_sqlite_group_commit_size_bucket",
            &["le=\"1\""][..],
        ),
        ("ferrobase_sqlite_commit_duration_seconds_count", &[][..]),
        ("ferrobase_sqlite_writer_queue_depth", &[][..]),
    ] {
        if on_mongo() && name.contains("sqlite") {
            continue;
        }
        if on_mongo() && labels.contains(&"store=\"sqlite\"") {
            continue;
        }
        assert!(
            value(&text, name, labels).is_some(),
            "{name} {labels:?}\n{text}"
        );
    }
    assert!(text.contains("# TYPE ferrobase_http_request_duration_seconds histogram"));
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_have_their_own_listener_and_can_be_off() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let app = spawn_with(|c| {
        c.metrics = ferrobase::observe::MetricsMode::Listen(
            format!("127.0.0.1:{port}").parse().expect("addr"),
        )
    })
    .await;
    app.create("Listened", json!({})).await;
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "no key on the metrics listener");
    let text = r.text().await.expect("body");
    assert!(text.contains("ferrobase_http_requests_total"));
    // …and not on the API port.
    let r = app
        .client
        .get(format!("{}/metrics", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;

    let off = spawn_with(|c| c.metrics = ferrobase::observe::MetricsMode::Off).await;
    let r = off
        .client
        .get(format!("{}/metrics", off.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    off.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn().await;
    let send = |id: Option<&str>| {
        let mut req = app
            .client
            .get(format!("{}/classes/Nothing", app.url))
            .header("X-Parse-Application-Id", APP_ID);
        if let Some(id) = id {
            req = req.header("X-Request-Id", id);
        }
        req.send()
    };
    let r = send(Some("order-42.retry-1")).await.expect("sent");
    assert_eq!(
        r.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("order-42.retry-1"),
        "the client's id is echoed"
    );
    let r = send(None).await.expect("sent");
    let generated = r
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(generated.len(), 32, "{generated}");
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let r2 = send(None).await.expect("sent");
    assert_ne!(
        r2.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some(generated.as_str())
    );
    // An id that would corrupt a log line is replaced.
    let long = "x".repeat(300);
    for bad in ["has space", long.as_str()] {
        let r = send(Some(bad)).await.expect("sent");
        let got = r
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(got.len(), 32, "{bad:?} replaced by a generated id");
    }
    // Errors before routing and unknown paths have one too.
    let r = app
        .client
        .get(format!("{}/classes/Nothing", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().contains_key("x-request-id"));
    let r = app
        .client
        .get(format!("{}/no/such/route", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.headers().contains_key("x-request-id"));
    app.stop().await;
}

#[tokio::test]
async fn readiness_checks_the_store_and_health_stays_cheap() {
    let app = spawn().await;
    // No Parse headers, as a load balancer sends.
    let r = app
        .client
        .get(format!("{}/ready", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["status"], json!("ok"));
    assert!(v["store"].is_string());
    let r = app
        .client
        .get(format!("{}/health", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v, json!({"status": "ok"}));
    app.stop().await;
}

#[tokio::test]
async fn livequery_files_and_writer_metrics_move() {
    let app = spawn().await;
    let before = scrape(&app).await;
    let events0 = value(&before, "ferrobase_livequery_events_total", &[]).unwrap_or(0.0);
    let bytes_in0 = value(&before, "ferrobase_file_bytes_in_total", &[]).unwrap_or(0.0);
    let bytes_out0 = value(&before, "ferrobase_file_bytes_out_total", &[]).unwrap_or(0.0);

    let ws_url = app.url.replacen("http://", "ws://", 1);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url)
        .await
        .expect("websocket connects");
    let send = |v: Value| tokio_tungstenite::tungstenite::Message::Text(v.to_string().into());
    ws.send(send(json!({"op": "connect", "applicationId": APP_ID})))
        .await
        .expect("send");
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    ws.send(send(
        json!({"op": "subscribe", "requestId": 1, "query": {"className": "Watched", "where": {}}}),
    ))
    .await
    .expect("send");
    let _ = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    app.create("Watched", json!({"n": 1})).await;
    let event = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
    assert!(event.is_ok(), "the create reached the subscriber");

    let body = vec![7u8; 10_000];
    let r = app
        .client
        .post(format!("{}/files/m.bin", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .header("Content-Type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    let url = v["url"].as_str().unwrap_or_default().to_string();
    let got = app
        .client
        .get(&url)
        .send()
        .await
        .expect("download")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(got.len(), body.len());

    let text = scrape(&app).await;
    assert!(
        value(&text, "ferrobase_livequery_connections", &[]).is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(value(&text, "ferrobase_livequery_subscriptions", &[]).is_some_and(|v| v >= 1.0));
    assert!(value(&text, "ferrobase_livequery_events_total", &[]).is_some_and(|v| v > events0));
    assert!(value(&text, "ferrobase_livequery_messages_total", &[]).is_some_and(|v| v >= 1.0));
    assert!(value(&text, "ferrobase_file_bytes_in_total", &[])
        .is_some_and(|v| v >= bytes_in0 + 10_000.0));
    assert!(value(&text, "ferrobase_file_bytes_out_total", &[])
        .is_some_and(|v| v >= bytes_out0 + 10_000.0));
    let _ = ws.close(None).await;
    app.stop().await;
}

/// The binary with `--log-format json`: one access line per request with the request id, route
/// template, status, duration and user id, and never the session token or the master key.
#[tokio::test]
async fn json_logs_carry_the_request_and_no_secrets() {
    if on_mongo() {
        return; // the binary below runs on its own embedded store
    }
    let dir = tempfile::tempdir().expect("dir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrobase"))
        .args([
            "serve",
            "--port",
            "0",
            "--log-format",
            "json",
            "--bcrypt-cost",
            "4",
        ])
        .args(["--app-id", APP_ID, "--master-key", MASTER_KEY, "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut url = None;
    // Kept open to the end: the server may still print.
    let mut stdout = child.stdout.take().map(BufReader::new);
    if let Some(out) = stdout.as_mut() {
        let mut line = String::new();
        while out.read_line(&mut line).unwrap_or(0) > 0 {
            if let Some(u) = line.trim_end().strip_prefix("ferrobase listening on ") {
                url = Some(u.to_string());
                break;
            }
            line.clear();
        }
    }
    let Some(url) = url else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not start");
    };
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{url}/users"))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Request-Id", "signup-req-1")
        .json(&json!({"username": "logged", "password": "very-secret-pw"}))
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.expect("json");
    let token = v["sessionToken"].as_str().unwrap_or_default().to_string();
    let user_id = v["objectId"].as_str().unwrap_or_default().to_string();
    assert!(!token.is_empty(), "{v}");
    // The class first (clients may not create classes by default).
    let r = client
        .post(format!("{url}/classes/Logged"))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .json(&json!({"secretField": "x"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
    let r = client
        .post(format!("{url}/classes/Logged"))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Session-Token", &token)
        .header("X-Request-Id", "create-req-2")
        .json(&json!({"secretField": "body-secret-value"}))
        .send()
        .await
        .expect("sent");
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    let r = client
        .get(format!("{url}/classes/Logged"))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    // Stop it (SIGTERM) so that stderr is complete.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut logs = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut logs);
    }
    let _ = child.wait();
    drop(stdout);
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let access = lines
        .iter()
        .find(|l| {
            l["span"]["request_id"] == json!("create-req-2") && l["fields"]["status"] == json!(201)
        })
        .unwrap_or_else(|| panic!("no access line for create-req-2 in:\n{logs}"));
    assert_eq!(access["fields"]["route"], json!("/classes/{class}"));
    assert_eq!(access["fields"]["method"], json!("POST"));
    assert_eq!(access["fields"]["user_id"], json!(user_id));
    assert!(access["fields"]["duration_ms"].as_f64().is_some());
    assert!(lines
        .iter()
        .any(|l| l["span"]["request_id"] == json!("signup-req-1")));
    for secret in [
        token.as_str(),
        MASTER_KEY,
        "very-secret-pw",
        "body-secret-value",
    ] {
        assert!(
            !logs.contains(secret),
            "a secret ({secret}) reached the logs:\n{logs}"
        );
    }
}
