//! Cloud Code: the test app `e2e/cloud/main.js` runs in the real Node.js worker behind a real
//! server; functions, jobs, triggers, validators and the worker's failures are driven over HTTP.

use crate::helpers::{spawn_with, As, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn main_js() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/cloud/main.js")
}

async fn cloud_app(timeout: u64) -> TestApp {
    spawn_with(|c| {
        c.cloud = Some(main_js());
        c.cloud_timeout = timeout;
    })
    .await
}

async fn run(app: &TestApp, name: &str, params: Value, who: As<'_>) -> (StatusCode, Value) {
    app.post(&format!("/functions/{name}"), params, who).await
}

#[tokio::test]
async fn functions_answer_as_parse_server() {
    let app = cloud_app(30).await;
    let (s, v) = run(&app, "hello", json!({"name": "ann"}), As::Public).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": "Hello ann"})));

    // Params are decoded (a Date is a Date), objects come back Parse-encoded.
    let (s, v) = run(
        &app,
        "echo",
        json!({"when": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}),
        As::Public,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["result"]["isDate"], json!(true));
    assert_eq!(v["result"]["master"], json!(false));
    assert_eq!(v["result"]["user"], Value::Null);
    let (_, v) = run(&app, "object", json!({}), As::Public).await;
    assert_eq!(v["result"]["o"]["__type"], json!("Object"));
    assert_eq!(v["result"]["o"]["className"], json!("Thing"));
    assert_eq!(v["result"]["date"]["__type"], json!("Date"));

    // The caller's user and session reach the function; the master key too.
    let (uid, token) = app.signup("fn-user", "pw").await;
    let (_, v) = run(&app, "echo", json!({}), As::User(&token)).await;
    assert_eq!(v["result"]["user"], json!(uid));
    assert_eq!(v["result"]["token"], json!(token));
    let (_, v) = run(&app, "echo", json!({}), As::Master).await;
    assert_eq!(v["result"]["master"], json!(true));

    // Errors: a thrown string or Error is 141, a Parse.Error keeps its code.
    let (s, v) = run(&app, "throwString", json!({}), As::Public).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 141, "error": "plain string"})
        )
    );
    let (_, v) = run(&app, "throwError", json!({}), As::Public).await;
    assert_eq!(v, json!({"code": 141, "error": "an Error"}));
    let (s, v) = run(&app, "throwParse", json!({}), As::Public).await;
    assert_eq!(
        (s, v),
        (StatusCode::NOT_FOUND, json!({"code": 101, "error": "nope"}))
    );
    let (_, v) = run(&app, "noSuchFunction", json!({}), As::Public).await;
    assert_eq!(
        v,
        json!({"code": 141, "error": "Invalid function: \"noSuchFunction\""})
    );

    // npm modules beside main.js and Node built-ins load as on Parse Server.
    let (_, v) = run(&app, "npm", json!({"list": [1, 1, 2]}), As::Public).await;
    assert_eq!(v["result"]["uniq"], json!([1, 2]));
    assert_eq!(v["result"]["sha"], json!("2d711642"));
    assert_eq!(v["result"]["buf"], json!("aGk="));
    app.stop().await;
}

#[tokio::test]
async fn validators_refuse_with_142() {
    let app = cloud_app(30).await;
    let (s, v) = run(&app, "needsUser", json!({}), As::Public).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 142, "error": "Validation failed. Please login to continue."})
        )
    );
    let (_, token) = app.signup("validated", "pw").await;
    let (_, v) = run(&app, "needsUser", json!({}), As::User(&token)).await;
    assert_eq!(v, json!({"result": "ok"}));
    let (_, v) = run(&app, "needsMaster", json!({}), As::User(&token)).await;
    assert_eq!(v["code"], json!(142), "{v}");
    let (_, v) = run(&app, "needsMaster", json!({}), As::Master).await;
    assert_eq!(v, json!({"result": "ok"}));
    let (_, v) = run(&app, "fields", json!({"kind": "a"}), As::Public).await;
    assert_eq!(v["code"], json!(142), "{v}");
    let (_, v) = run(
        &app,
        "fields",
        json!({"name": "x", "kind": "c"}),
        As::Public,
    )
    .await;
    assert_eq!(v["code"], json!(142), "{v}");
    let (_, v) = run(&app, "fields", json!({"name": "x"}), As::Public).await;
    assert_eq!(v["result"]["n"], json!(7), "the default is filled in: {v}");

    // A role granted after the user logged in counts on the next call.
    let (s, _) = run(&app, "needsRole", json!({}), As::User(&token)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, me) = app.get("/users/me", As::User(&token)).await;
    let uid = me["objectId"].as_str().expect("id").to_string();
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Admin", "ACL": {"*": {"read": true}},
                   "users": {"__op": "AddRelation", "objects": [
                       {"__type": "Pointer", "className": "_User", "objectId": uid}]}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, v) = run(&app, "needsRole", json!({}), As::User(&token)).await;
    assert_eq!(v, json!({"result": "ok"}));
    app.stop().await;
}

#[tokio::test]
async fn cloud_code_calls_parse_with_full_rest_rules() {
    let app = cloud_app(30).await;
    // A save with the master key from Cloud Code runs the class's own triggers.
    let (_, v) = run(&app, "save", json!({}), As::Public).await;
    let id = v["result"]["id"].as_str().expect("saved id").to_string();
    let (_, o) = app
        .get(&format!("/classes/GameScore/{id}"), As::Master)
        .await;
    assert_eq!(
        o["checked"],
        json!(true),
        "beforeSave ran on the nested save: {o}"
    );

    // Queries with the caller's session see only what the caller may read.
    let (a_id, a_token) = app.signup("owner-a", "pw").await;
    let (_, b_token) = app.signup("owner-b", "pw").await;
    app.create(
        "GameScore",
        json!({"player": "p1", "score": 11, "ACL": {a_id.clone(): {"read": true}}}),
    )
    .await;
    let (_, v) = run(&app, "query", json!({}), As::User(&a_token)).await;
    assert_eq!(v, json!({"result": [11]}));
    let (_, v) = run(&app, "query", json!({}), As::User(&b_token)).await;
    assert_eq!(v, json!({"result": []}));

    // A failed Parse call inside Cloud Code rejects with the REST error.
    let (s, v) = run(&app, "restError", json!({}), As::Public).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::NOT_FOUND,
            json!({"code": 101, "error": "Object not found."})
        )
    );
    let (_, v) = run(&app, "runOther", json!({}), As::Public).await;
    assert_eq!(v, json!({"result": "Hello nested"}));
    let (_, v) = run(&app, "saveAll", json!({}), As::Public).await;
    assert_eq!(v["result"].as_array().map(Vec::len), Some(2), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn save_delete_and_find_triggers() {
    let app = cloud_app(30).await;
    let (s, _) = app
        .post(
            "/schemas/GameScore",
            json!({"className": "GameScore"}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // beforeSave changes what is saved, and the changes are echoed.
    let (s, v) = app
        .post(
            "/classes/GameScore",
            json!({"score": 5, "secret": "s"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["checked"], json!(true));
    assert_eq!(v["createdBy"], json!("anon"));
    let id = v["objectId"].as_str().expect("id").to_string();
    let (_, o) = app
        .get(&format!("/classes/GameScore/{id}"), As::Master)
        .await;
    assert_eq!(o["checked"], json!(true));
    assert!(o.get("secret").is_none(), "unset by the trigger: {o}");
    // A refusal keeps nothing.
    let (s, v) = app
        .post("/classes/GameScore", json!({"score": -1}), As::Public)
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 141, "error": "negative score"})
        )
    );
    // Updates see the original; ops still apply atomically.
    let (s, v) = app
        .put(
            &format!("/classes/GameScore/{id}"),
            json!({"score": {"__op": "Increment", "amount": 2}}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["score"], json!(7));
    // beforeFind narrows queries (score < 100), afterFind changes the results.
    app.create("GameScore", json!({"score": 500})).await;
    let (_, v) = app.get("/classes/GameScore", As::Public).await;
    let scores: Vec<i64> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|o| o["score"].as_i64())
        .collect();
    assert_eq!(scores, vec![7], "{v}");
    assert_eq!(v["results"][0]["seen"], json!(true));
    let (_, v) = app
        .get(&format!("/classes/GameScore/{id}"), As::Public)
        .await;
    assert_eq!(v["seen"], json!(true), "afterFind runs on a get: {v}");
    // Objects a beforeFind answers are checked against what the caller may read (none stored).
    let (_, v) = app.get("/classes/Cached", As::Public).await;
    assert_eq!(v, json!({"results": []}));
    let (_, v) = app.get("/classes/Cached", As::Master).await;
    assert_eq!(
        v,
        json!({"results": [{"objectId": "c1", "v": 1, "className": "Cached"}]})
    );
    // beforeDelete may refuse.
    let locked = app
        .create("GameScore", json!({"score": 1, "locked": true}))
        .await;
    let (s, v) = app
        .delete(&format!("/classes/GameScore/{locked}"), As::Master)
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "locked"})
        )
    );
    let (s, _) = app
        .delete(&format!("/classes/GameScore/{id}"), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK);
    // afterSave ran with the context beforeSave left (its log line reaches /scriptlog).
    let (_, log) = app.get("/scriptlog?size=100", As::Master).await;
    let text = log.to_string();
    assert!(
        text.contains(&format!("afterSave {id} context")) && text.contains("\\\"seen\\\""),
        "{log}"
    );
    let (s, _) = app.get("/scriptlog", As::Public).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn user_triggers() {
    let app = cloud_app(30).await;
    let (s, v) = app
        .post(
            "/users",
            json!({"username": "nick", "password": "pw"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["nickname"], json!("NICK"), "{v}");
    let id = v["objectId"].as_str().expect("id").to_string();
    let (_, u) = app.get(&format!("/users/{id}"), As::Master).await;
    assert_eq!(u["nickname"], json!("NICK"));
    // beforeLogin refuses with the trigger's error; no session is made.
    app.put(&format!("/users/{id}"), json!({"banned": true}), As::Master)
        .await;
    let (s, v) = app
        .post(
            "/login",
            json!({"username": "nick", "password": "pw"}),
            As::Public,
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 205, "error": "banned"})
        )
    );
    let (_, sessions) = app.get("/classes/_Session", As::Master).await;
    assert_eq!(
        sessions["results"].as_array().map(Vec::len),
        Some(1),
        "only the signup's session: {sessions}"
    );
    app.stop().await;
}

#[tokio::test]
async fn jobs_run_detached_and_record_their_status() {
    let app = cloud_app(30).await;
    let (s, v) = app.post("/jobs/cleanup", json!({}), As::Public).await;
    assert_eq!(
        (s, v),
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    let (s, headers, v) = app
        .raw(
            reqwest::Method::POST,
            "/jobs/cleanup",
            Some("{\"a\":1}".into()),
            As::Master,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let job_id = headers
        .get("x-parse-job-status-id")
        .and_then(|h| h.to_str().ok())
        .expect("job status id")
        .to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, v) = app
            .get(&format!("/classes/_JobStatus/{job_id}"), As::Master)
            .await;
        status = v;
        if status["status"] != json!("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], json!("succeeded"), "{status}");
    assert_eq!(status["message"], json!("done"), "{status}");
    assert_eq!(status["jobName"], json!("cleanup"));
    assert!(status.get("params").is_none(), "{status}");
    assert_eq!(status["ACL"], json!({}));
    assert_eq!(status["finishedAt"]["__type"], json!("Date"));
    let (_, v) = app.post("/jobs/nope", json!({}), As::Master).await;
    assert_eq!(v, json!({"code": 141, "error": "Invalid job."}));
    let (_, v) = app.get("/cloud_code/jobs/data", As::Master).await;
    assert!(
        v["jobs"]
            .as_array()
            .is_some_and(|j| j.contains(&json!("cleanup"))),
        "{v}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_slow_or_dead_worker_answers_errors_and_comes_back() {
    let app = cloud_app(1).await;
    let (s, v) = run(&app, "slow", json!({"ms": 3000}), As::Public).await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 124, "error": "Script timed out"})
        )
    );
    // The process dies: calls answer 141 meanwhile, the server keeps serving, the worker restarts.
    let (_, v) = run(&app, "crash", json!({}), As::Public).await;
    assert_eq!(v, json!({"result": "bye"}));
    let (s, _) = app.get("/health", As::Public).await;
    assert_eq!(s, StatusCode::OK);
    let mut back = Value::Null;
    for _ in 0..100 {
        let (_, v) = run(&app, "runOther", json!({}), As::Public).await;
        back = v;
        if back.get("result").is_some() {
            break;
        }
        assert_eq!(
            back,
            json!({"code": 141, "error": "Cloud Code unavailable"}),
            "while restarting"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(back, json!({"result": "Hello nested"}));
    app.stop().await;
}

#[tokio::test]
async fn a_main_js_that_fails_to_load_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("main.js");
    std::fs::write(
        &bad,
        "Parse.Cloud.define('x', () => 1);\nthis is not javascript\n",
    )
    .expect("write");
    let mut config = crate::helpers::test_config(dir.path());
    config.cloud = Some(bad);
    let err = match ferrobase::serve::start(config).await {
        Ok(_) => panic!("a broken main.js must not start"),
        Err(e) => e,
    };
    assert!(err.contains("SyntaxError"), "{err}");
}

/// A webhook receiver on 127.0.0.1 that records what it was sent.
async fn receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(String, Value)>::new()));
    let record = seen.clone();
    let handler = move |headers: axum::http::HeaderMap,
                        axum::extract::Path(name): axum::extract::Path<String>,
                        axum::Json(body): axum::Json<Value>| {
        let record = record.clone();
        async move {
            let key = headers
                .get("x-parse-webhook-key")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            record
                .lock()
                .expect("lock")
                .push((format!("{name} key={key}"), body.clone()));
            axum::Json(match name.as_str() {
                "double" => json!({"success": body["params"]["n"].as_i64().unwrap_or(0) * 2}),
                "refuse" => json!({"error": "webhook says no"}),
                "beforeSave" => {
                    let mut o = body["object"].clone();
                    o["stamped"] = json!(true);
                    json!({ "success": o })
                }
                _ => json!({"success": true}),
            })
        }
    };
    let router = axum::Router::new().route("/hook/{name}", post(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}/hook"), seen)
}

#[tokio::test]
async fn webhooks_share_the_dispatch_with_main_js() {
    let (hook_url, seen) = receiver().await;
    let app = spawn_with(|c| {
        c.cloud = Some(main_js());
        c.webhook_key = Some("hook-key".into());
    })
    .await;
    // Only the master key manages hooks.
    let (s, _) = app.get("/hooks/functions", As::Public).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .post(
            "/hooks/functions",
            json!({"functionName": "double", "url": format!("{hook_url}/double")}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["functionName"], json!("double"));
    let (_, v) = app
        .post(
            "/hooks/functions",
            json!({"functionName": "double", "url": format!("{hook_url}/double")}),
            As::Master,
        )
        .await;
    assert_eq!(v["code"], json!(143), "a second create is refused: {v}");
    let (_, v) = app.get("/hooks/functions/nope", As::Master).await;
    assert_eq!(
        v,
        json!({"code": 143, "error": "no function named: nope is defined"})
    );
    let (_, v) = run(&app, "double", json!({"n": 21}), As::Public).await;
    assert_eq!(v, json!({"result": 42}));
    // A webhook registered under a main.js name wins; an error answer is 141.
    app.post(
        "/hooks/functions",
        json!({"functionName": "hello", "url": format!("{hook_url}/refuse")}),
        As::Master,
    )
    .await;
    let (_, v) = run(&app, "hello", json!({}), As::Public).await;
    assert_eq!(v, json!({"code": 141, "error": "webhook says no"}));
    let (s, v) = app
        .put(
            "/hooks/functions/hello",
            json!({"__op": "Delete"}),
            As::Master,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (_, v) = run(&app, "hello", json!({}), As::Public).await;
    assert_eq!(v, json!({"result": "Hello world"}), "main.js again");

    // A beforeSave webhook changes the object; an afterSave webhook is told.
    for t in ["beforeSave", "afterSave"] {
        let (s, v) = app
            .post(
                "/hooks/triggers",
                json!({"className": "Hooked", "triggerName": t, "url": format!("{hook_url}/{t}")}),
                As::Master,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (_, v) = app.get("/hooks/triggers", As::Master).await;
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    let id = app.create("Hooked", json!({"n": 1})).await;
    let (_, o) = app.get(&format!("/classes/Hooked/{id}"), As::Master).await;
    assert_eq!(o["stamped"], json!(true), "{o}");
    let calls = seen.lock().expect("lock").clone();
    let names: Vec<&str> = calls.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"beforeSave key=hook-key"), "{names:?}");
    assert!(names.contains(&"afterSave key=hook-key"), "{names:?}");
    let before = calls
        .iter()
        .find(|(n, _)| n.starts_with("beforeSave"))
        .map(|(_, b)| b.clone())
        .unwrap_or_default();
    assert_eq!(before["object"]["n"], json!(1), "{before}");
    assert_eq!(before["object"]["className"], json!("Hooked"));
    assert_eq!(before["master"], json!(true));
    assert_eq!(before["triggerName"], json!("beforeSave"));
    app.stop().await;
}

#[tokio::test]
async fn job_and_hook_records_are_master_only() {
    let app = cloud_app(30).await;
    app.post("/jobs/cleanup", json!({}), As::Master).await;
    for path in [
        "/classes/_JobStatus",
        "/classes/_Hooks",
        "/classes/_JobSchedule",
    ] {
        let (s, v) = app.get(path, As::Public).await;
        assert_eq!(
            (s, v),
            (
                StatusCode::BAD_REQUEST,
                json!({"code": 119, "error": "Permission denied"})
            )
        );
    }
    let (s, v) = app
        .post("/classes/_JobStatus", json!({"status": "x"}), As::Public)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], json!(119));
    app.stop().await;
}

#[tokio::test]
async fn validator_rate_limits_are_enforced() {
    let app = cloud_app(30).await;
    // `hello` allows 5 calls per second and per address, but not counting 127.0.0.1 (Parse's
    // default); `limited` counts internal requests too.
    for _ in 0..7 {
        let (s, _) = run(&app, "hello", json!({}), As::Public).await;
        assert_eq!(s, StatusCode::OK);
    }
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(run(&app, "limited", json!({}), As::Public).await);
    }
    assert!(
        statuses[..5].iter().all(|(s, _)| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[5].0, StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    assert_eq!(statuses[5].1["code"], json!(155));
    // The master key is not limited.
    let (s, _) = run(&app, "limited", json!({}), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn cloud_watch_swaps_in_changed_code() {
    let code = tempfile::tempdir().expect("dir");
    let main = code.path().join("main.js");
    std::fs::write(&main, "Parse.Cloud.define('version', () => 1);\n").expect("write");
    let app = spawn_with(|c| {
        c.cloud = Some(main.clone());
        c.cloud_watch = true;
    })
    .await;
    let (_, v) = run(&app, "version", json!({}), As::Public).await;
    assert_eq!(v, json!({"result": 1}));
    // A file that does not load leaves the running code in place.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    std::fs::write(&main, "Parse.Cloud.define('version', () => {\n").expect("write");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, v) = run(&app, "version", json!({}), As::Public).await;
    assert_eq!(v, json!({"result": 1}));
    std::fs::write(&main, "Parse.Cloud.define('version', () => 2);\n").expect("write");
    let mut now = Value::Null;
    for _ in 0..100 {
        let (_, v) = run(&app, "version", json!({}), As::Public).await;
        now = v;
        if now == json!({"result": 2}) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now, json!({"result": 2}));
    app.stop().await;
}

#[tokio::test]
async fn file_triggers_refuse_or_replace_uploads() {
    let app = cloud_app(30).await;
    let (_, token) = app.signup("uploader", "pw").await;
    let upload = |name: &'static str| {
        let url = format!("{}/files/{name}", app.url);
        let client = app.client.clone();
        let token = token.clone();
        async move {
            let resp = client
                .post(url)
                .header("X-Parse-Application-Id", crate::helpers::APP_ID)
                .header("X-Parse-Session-Token", token)
                .header("Content-Type", "text/plain")
                .body("original bytes")
                .send()
                .await
                .expect("upload");
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, v) = upload("tool.exe").await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 130, "error": "no executables"})
        )
    );
    let (s, v) = upload("rename.txt").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let name = v["name"].as_str().expect("name").to_string();
    assert!(name.ends_with("_renamed.txt"), "{name}");
    let body = app
        .client
        .get(v["url"].as_str().expect("url"))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("text");
    assert_eq!(body, "hi", "the trigger's file was stored");
    let (s, v) = upload("plain.txt").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let body = app
        .client
        .get(v["url"].as_str().expect("url"))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("text");
    assert_eq!(body, "original bytes");
    app.stop().await;
}

#[tokio::test]
async fn config_triggers_run_around_a_config_save() {
    let dir = tempfile::tempdir().expect("dir");
    let main = dir.path().join("main.js");
    std::fs::write(
        &main,
        "Parse.Cloud.beforeSave(Parse.Config, req => {\n  if (req.object.get('forbidden')) throw 'no forbidden params';\n});\nParse.Cloud.afterSave(Parse.Config, req => { req.log.info('config saved ' + JSON.stringify(req.object.attributes)); });\n",
    )
    .expect("write");
    let app = spawn_with(|c| c.cloud = Some(main)).await;
    let (s, v) = app
        .put(
            "/config",
            json!({"params": {"forbidden": true}}),
            As::Master,
        )
        .await;
    assert_eq!(
        (s, v),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 141, "error": "no forbidden params"})
        )
    );
    let (_, v) = app.get("/config", As::Public).await;
    assert_eq!(v["params"].get("forbidden"), None, "{v}");
    let (s, v) = app
        .put("/config", json!({"params": {"theme": "dark"}}), As::Master)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": true})));
    let mut logged = false;
    for _ in 0..50 {
        let (_, log) = app.get("/scriptlog?size=20", As::Master).await;
        if log.to_string().contains("config saved") && log.to_string().contains("dark") {
            logged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(logged, "afterSave ran with the saved params");
    app.stop().await;
}

#[tokio::test]
async fn triggers_that_save_inside_a_transactional_batch() {
    if crate::helpers::on_ferretdb("cloud: transactional batch", "no transactions") {
        return;
    }
    let dir = tempfile::tempdir().expect("dir");
    let main = dir.path().join("main.js");
    std::fs::write(
        &main,
        "Parse.Cloud.beforeSave('Order', async req => {\n  const log = new Parse.Object('AuditLog');\n  log.set('what', 'order');\n  await log.save(null, { useMasterKey: true });\n  if (req.object.get('n') < 0) throw 'negative';\n});\n",
    )
    .expect("write");
    let app = spawn_with(|c| {
        c.cloud = Some(main);
        c.cloud_timeout = 5;
    })
    .await;
    app.post("/schemas/Order", json!({"className": "Order"}), As::Master)
        .await;
    let (s, v) = app
        .post(
            "/batch",
            json!({"transaction": true, "requests": [
                {"method": "POST", "path": "/parse/classes/Order", "body": {"n": 1}},
                {"method": "POST", "path": "/parse/classes/Order", "body": {"n": 2}}]}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, logs) = app
        .get("/classes/AuditLog?count=1&limit=0", As::Master)
        .await;
    assert_eq!(logs["count"], json!(2), "{logs}");
    // A refusal rolls back what the triggers wrote inside the transaction too.
    let (s, v) = app
        .post(
            "/batch",
            json!({"transaction": true, "requests": [
                {"method": "POST", "path": "/parse/classes/Order", "body": {"n": 3}},
                {"method": "POST", "path": "/parse/classes/Order", "body": {"n": -1}}]}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{v}");
    let (_, logs) = app
        .get("/classes/AuditLog?count=1&limit=0", As::Master)
        .await;
    assert_eq!(logs["count"], json!(2), "{logs}");
    let (_, orders) = app.get("/classes/Order?count=1&limit=0", As::Master).await;
    assert_eq!(orders["count"], json!(2), "{orders}");
    app.stop().await;
}

#[tokio::test]
async fn job_schedules_run_when_due_and_once() {
    let app = cloud_app(30).await;
    let (s, v) = app
        .post(
            "/cloud_code/jobs",
            json!({"job_schedule": {"jobName": "cleanup", "description": "nightly",
                   "params": "{\"a\":1}", "startAfter": "2020-01-01T00:00:00.000Z"}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .post(
            "/cloud_code/jobs",
            json!({"job_schedule": {"jobName": "noSuchJob"}}),
            As::Master,
        )
        .await;
    assert_eq!(v["code"], json!(1), "{v}");
    let mut statuses = Value::Null;
    for _ in 0..150 {
        let (_, v) = app
            .get(
                "/classes/_JobStatus?where=%7B%22source%22%3A%22schedule%22%7D",
                As::Master,
            )
            .await;
        statuses = v;
        if statuses["results"][0]["status"] == json!("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        statuses["results"][0]["jobName"],
        json!("cleanup"),
        "{statuses}"
    );
    assert_eq!(statuses["results"][0]["status"], json!("succeeded"));
    let (_, scheds) = app.get("/cloud_code/jobs", As::Master).await;
    assert!(scheds[0]["lastRun"].is_number(), "{scheds}");
    // A schedule without repeat runs once: the next ticks leave it alone.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (_, v) = app
        .get(
            "/classes/_JobStatus?count=1&limit=0&where=%7B%22source%22%3A%22schedule%22%7D",
            As::Master,
        )
        .await;
    assert_eq!(v["count"], json!(1), "{v}");
    app.stop().await;
}

#[tokio::test]
async fn several_workers_share_calls_and_jobs_get_their_own() {
    let app = spawn_with(|c| {
        c.cloud = Some(main_js());
        c.cloud_workers = 2;
    })
    .await;
    let mut pids = std::collections::HashSet::new();
    for _ in 0..40 {
        let (_, v) = run(&app, "workerKind", json!({}), As::Public).await;
        if v["result"]["kind"] == json!("main") {
            pids.insert(v["result"]["pid"].to_string());
        }
        if pids.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(pids.len(), 2, "calls go round the two workers: {pids:?}");
    let (_, headers, _) = app
        .raw(
            reqwest::Method::POST,
            "/jobs/whereAmI",
            Some("{}".into()),
            As::Master,
        )
        .await;
    let id = headers
        .get("x-parse-job-status-id")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let (_, v) = app
            .get(&format!("/classes/_JobStatus/{id}"), As::Master)
            .await;
        status = v;
        if status["status"] == json!("succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["message"], json!("jobs"), "{status}");
    app.stop().await;
}
