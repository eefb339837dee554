//! Parse Config, installations, idempotency, `/loginAs`, `/verifyPassword`,
//! `/upgradeToRevocableSession`, analytics events, `/serverInfo`, `/push` and `/push_audiences`,
//! with Parse Server 9.10's answers.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn config_get_put_master_only_params_and_delete() {
    let app = spawn().await;
    assert_eq!(
        app.get("/config", As::Public).await,
        (StatusCode::OK, json!({"params": {}}))
    );
    let (s, v) = app
        .put("/config", json!({"params": {"a": 1}}), As::Public)
        .await;
    assert_eq!(
        (s, v),
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    let (s, v) = app
        .put(
            "/config",
            json!({"params": {"a": 1, "b": "s", "c": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
                   "masterKeyOnly": {"b": true}}),
            As::Master,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": true})));
    let (_, public) = app.get("/config", As::Public).await;
    assert_eq!(
        public,
        json!({"params": {"a": 1, "c": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
               "masterKeyOnly": {"a": false, "c": false}})
    );
    let (_, master) = app.get("/config", As::Master).await;
    assert_eq!(master["params"]["b"], json!("s"));
    assert_eq!(
        master["masterKeyOnly"],
        json!({"a": false, "b": true, "c": false})
    );
    // Delete removes the param; its masterKeyOnly entry stays false, as Parse stores it.
    let (s, _) = app
        .put(
            "/config",
            json!({"params": {"a": {"__op": "Delete"}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, master) = app.get("/config", As::Master).await;
    assert_eq!(
        master,
        json!({"params": {"b": "s", "c": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
               "masterKeyOnly": {"a": false, "b": true, "c": false}})
    );
    // Stored as Parse stores it: `_GlobalConfig` objectId "1", master key only.
    let (s, stored) = app.get("/classes/_GlobalConfig/1", As::Master).await;
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!(stored["params"]["b"], json!("s"));
    assert_eq!(stored["masterKeyOnly"]["b"], json!(true));
    assert_eq!(
        app.get("/classes/_GlobalConfig", As::Public).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    app.stop().await;
}

#[tokio::test]
async fn config_refuses_the_read_only_master_key() {
    let app = spawn_with(|c| c.read_only_master_key = Some("ro-key".into())).await;
    let r = app
        .client
        .put(format!("{}/config", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", "ro-key")
        .body(json!({"params": {"a": 1}}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"code": 119, "error": "read-only masterKey isn't allowed to update the config."})
    );
    app.stop().await;
}

#[tokio::test]
async fn installations_create_dedupe_and_immutable_fields() {
    let app = spawn().await;
    let (s, headers, v) = app
        .raw(
            reqwest::Method::POST,
            "/installations",
            Some(
                json!({"installationId": "ABC-1", "deviceType": "ios", "channels": ["a"]})
                    .to_string(),
            ),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["objectId"].as_str().expect("id").to_string();
    assert_eq!(
        headers["location"].to_str().expect("location"),
        format!("{}/classes/_Installation/{id}", app.url)
    );
    // The same installation id (any case) updates that installation: 200 with updatedAt only.
    let (s, v) = app
        .post(
            "/installations",
            json!({"installationId": "abc-1", "deviceType": "ios", "badge": 3}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["updatedAt"].is_string() && v.get("objectId").is_none(),
        "{v}"
    );
    let (_, got) = app.get(&format!("/installations/{id}"), As::Public).await;
    assert_eq!(got["installationId"], json!("abc-1"));
    assert_eq!(got["badge"], json!(3));
    assert_eq!(got["channels"], json!(["a"]));

    assert_eq!(
        app.post("/installations", json!({"deviceType": "ios"}), As::Public)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 135, "error": "at least one ID field (deviceToken, installationId) must be specified in this operation"})
        )
    );
    assert_eq!(
        app.post(
            "/installations",
            json!({"installationId": "x2"}),
            As::Public
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 135, "error": "deviceType must be specified in this operation"})
        )
    );
    assert_eq!(
        app.put(
            &format!("/installations/{id}"),
            json!({"deviceType": "android"}),
            As::Public
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 136, "error": "deviceType may not be changed in this operation"})
        )
    );
    assert_eq!(
        app.put(
            &format!("/installations/{id}"),
            json!({"installationId": "other"}),
            As::Public
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 136, "error": "installationId may not be changed in this operation"})
        )
    );
    assert_eq!(
        app.put(
            "/installations/nope",
            json!({"deviceType": "ios"}),
            As::Public
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({"code": 101, "error": "Object not found for update."})
        )
    );
    let (s, _) = app
        .put(
            &format!("/installations/{id}"),
            json!({"installationId": "ABC-1", "channels": ["b"]}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Clients may not list or delete installations.
    assert_eq!(
        app.get("/installations", As::Public).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    assert_eq!(
        app.get("/classes/_Installation", As::Public).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    assert_eq!(
        app.delete(&format!("/installations/{id}"), As::Public)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    let (s, all) = app.get("/installations", As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["results"].as_array().map(Vec::len), Some(1), "{all}");
    let (s, _) = app
        .delete(&format!("/installations/{id}"), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn installations_device_token_rules_and_installation_header() {
    let app = spawn().await;
    // A 64-character (iOS) token is lower-cased.
    let token = "A".repeat(64);
    let (s, v) = app
        .post(
            "/classes/_Installation",
            json!({"deviceToken": token, "deviceType": "ios"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let first = v["objectId"].as_str().expect("id").to_string();
    let (_, got) = app
        .get(&format!("/installations/{first}"), As::Master)
        .await;
    assert_eq!(got["deviceToken"], json!("a".repeat(64)));
    // The token matched once, without installation ids: that row is updated.
    let (s, v) = app
        .post(
            "/installations",
            json!({"deviceToken": token, "installationId": "new-9", "deviceType": "ios"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, got) = app
        .get(&format!("/installations/{first}"), As::Master)
        .await;
    assert_eq!(got["installationId"], json!("new-9"));
    // A new installation with another id claims the token: the old row goes.
    let (s, v) = app
        .post(
            "/installations",
            json!({"deviceToken": token, "installationId": "other-1", "deviceType": "ios"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, _) = app
        .get(&format!("/installations/{first}"), As::Master)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "the conflicting installation was removed"
    );

    // `X-Parse-Installation-Id` identifies the installation when the body has no ids.
    let r = app
        .client
        .post(format!("{}/installations", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Installation-Id", "hdr-1")
        .body(json!({"deviceType": "android"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
    app.stop().await;
}

async fn post_with_request_id(
    app: &TestApp,
    url: &str,
    path: &str,
    id: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = app
        .client
        .post(format!("{url}{path}"))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Request-Id", id)
        .body(body.to_string())
        .send()
        .await
        .expect("sent");
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn idempotency_refuses_a_repeated_request_id_until_it_expires() {
    let app = spawn_with(|c| {
        c.allow_client_class_creation = true;
        c.idempotency_paths = vec![fancy_regex::Regex::new("^classes/.*").expect("regex")];
        c.idempotency_ttl = 1;
    })
    .await;
    let url = app.url.clone();
    let (s, _) = post_with_request_id(&app, &url, "/classes/Order", "req-1", json!({"n": 1})).await;
    assert_eq!(s, StatusCode::CREATED);
    let again = post_with_request_id(&app, &url, "/classes/Order", "req-1", json!({"n": 1})).await;
    assert_eq!(
        again,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 159, "error": "Duplicate request"})
        )
    );
    let (_, found) = app.get("/classes/Order", As::Master).await;
    assert_eq!(
        found["results"].as_array().map(Vec::len),
        Some(1),
        "not applied twice"
    );
    // A path outside the list is not checked.
    let (s, _) = post_with_request_id(
        &app,
        &url,
        "/users",
        "req-1",
        json!({"username": "u1", "password": "p"}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // The record is an `_Idempotency` row with an expiry, hidden from clients.
    let (s, rows) = app.get("/classes/_Idempotency", As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(rows["results"][0]["reqId"], json!("req-1"));
    assert_eq!(rows["results"][0]["expire"]["__type"], json!("Date"));
    assert_eq!(
        app.get("/classes/_Idempotency", As::Public).await.0,
        StatusCode::BAD_REQUEST
    );
    // After the TTL the id is accepted again.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let (s, _) = post_with_request_id(&app, &url, "/classes/Order", "req-1", json!({"n": 2})).await;
    assert_eq!(s, StatusCode::CREATED);
    app.stop().await;
}

#[tokio::test]
async fn idempotency_holds_across_nodes_on_one_store() {
    let paths = || vec![fancy_regex::Regex::new("^classes/.*").expect("regex")];
    let a = spawn_with(|c| {
        c.allow_client_class_creation = true;
        c.idempotency_paths = paths();
    })
    .await;
    let mut config = test_config(a.dir.path());
    config.allow_client_class_creation = true;
    config.idempotency_paths = paths();
    let b = ferrobase::serve::start(config)
        .await
        .expect("node B starts");
    let (s, _) =
        post_with_request_id(&a, &a.url.clone(), "/classes/Job", "shared-1", json!({})).await;
    assert_eq!(s, StatusCode::CREATED);
    let on_b =
        post_with_request_id(&a, &b.url.clone(), "/classes/Job", "shared-1", json!({})).await;
    assert_eq!(on_b.0, StatusCode::BAD_REQUEST, "{}", on_b.1);
    assert_eq!(on_b.1["code"], json!(159));
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn login_as_verify_password_and_upgrade_session() {
    let app = spawn().await;
    let (uid, token) = app.signup("vp1", "pw1").await;
    assert_eq!(
        app.post("/loginAs", json!({"userId": uid}), As::Public)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    assert_eq!(
        app.post("/loginAs", json!({}), As::Master).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 162, "error": "userId must not be empty, null, or undefined"})
        )
    );
    assert_eq!(
        app.post("/loginAs", json!({"userId": "nope"}), As::Master)
            .await,
        (
            StatusCode::NOT_FOUND,
            json!({"code": 101, "error": "user not found"})
        )
    );
    let (s, v) = app
        .post("/loginAs", json!({"userId": uid}), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["username"], json!("vp1"));
    assert!(v.get("password").is_none());
    let as_token = v["sessionToken"].as_str().expect("token").to_string();
    let (s, me) = app.get("/users/me", As::User(&as_token)).await;
    assert_eq!((s, me["objectId"].clone()), (StatusCode::OK, json!(uid)));
    let (_, session) = app.get("/sessions/me", As::User(&as_token)).await;
    assert_eq!(
        session["createdWith"],
        json!({"action": "login", "authProvider": "masterkey"})
    );

    let (s, v) = app
        .get("/verifyPassword?username=vp1&password=pw1", As::Public)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["objectId"], json!(uid));
    assert!(
        v.get("sessionToken").is_none() && v.get("password").is_none(),
        "{v}"
    );
    let (s, _) = app
        .post(
            "/verifyPassword",
            json!({"username": "vp1", "password": "pw1"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.post(
            "/verifyPassword",
            json!({"username": "vp1", "password": "bad"}),
            As::Public
        )
        .await,
        (
            StatusCode::NOT_FOUND,
            json!({"code": 101, "error": "Invalid username/password."})
        )
    );
    assert_eq!(
        app.post("/verifyPassword", json!({"password": "bad"}), As::Public)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 200, "error": "username/email is required."})
        )
    );
    assert_eq!(
        app.post("/verifyPassword", json!({"username": "vp1"}), As::Public)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 201, "error": "password is required."})
        )
    );

    assert_eq!(
        app.post("/upgradeToRevocableSession", json!({}), As::Public)
            .await,
        (
            StatusCode::NOT_FOUND,
            json!({"code": 101, "error": "invalid session"})
        )
    );
    let (s, v) = app
        .post("/upgradeToRevocableSession", json!({}), As::User(&token))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["createdWith"], json!({"action": "upgrade"}));
    let new_token = v["sessionToken"].as_str().expect("token");
    assert!(new_token.starts_with("r:") && new_token != token);
    assert_eq!(
        app.get("/users/me", As::User(new_token)).await.0,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn events_and_server_info_features() {
    let app = spawn().await;
    assert_eq!(
        app.post("/events/AppOpened", json!({}), As::Public).await,
        (StatusCode::OK, json!({}))
    );
    assert_eq!(
        app.post(
            "/events/Search",
            json!({"dimensions": {"a": "b"}}),
            As::Public
        )
        .await,
        (StatusCode::OK, json!({}))
    );
    let (s, info) = app.get("/serverInfo", As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(info["parseServerVersion"], json!("9.10.0"));
    let f = &info["features"];
    assert_eq!(
        f["globalConfig"],
        json!({"create": true, "read": true, "update": true, "delete": true})
    );
    assert_eq!(
        f["push"]["immediatePush"],
        json!(false),
        "no push adapter configured"
    );
    assert_eq!(f["push"]["pushAudiences"], json!(true));
    assert_eq!(f["schemas"]["addClass"], json!(true));
    assert_eq!(
        app.get("/serverInfo", As::Public).await.0,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test]
async fn push_validation_without_an_adapter() {
    let app = spawn().await;
    let body = json!({"channels": ["a"], "data": {"alert": "hi"}});
    assert_eq!(
        app.post("/push", body.clone(), As::Public).await,
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    assert_eq!(
        app.post("/push", json!({"data": {"alert": "hi"}}), As::Master)
            .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 115, "error": "Sending a push requires either \"channels\" or a \"where\" query."})
        )
    );
    assert_eq!(
        app.post(
            "/push",
            json!({"channels": ["a"], "where": {}, "data": {}}),
            As::Master
        )
        .await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 115, "error": "Channels and query can not be set at the same time."})
        )
    );
    assert_eq!(
        app.post("/push", body, As::Master).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 115, "error": "Missing push configuration"})
        )
    );
    app.stop().await;
}

/// A webhook receiver on 127.0.0.1:0 that records what it is sent.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    let router = axum::Router::new().route(
        "/push",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push(v);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}/push"), got)
}

#[tokio::test]
async fn push_through_the_webhook_adapter_records_push_status() {
    let (hook, got) = webhook_receiver().await;
    let app = spawn_with(|c| c.push_webhook_url = Some(hook)).await;
    for (id, ch) in [("i1", "news"), ("i2", "news"), ("i3", "other")] {
        let (s, v) = app
            .post(
                "/installations",
                json!({"installationId": id, "deviceType": "android", "channels": [ch]}),
                As::Public,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, headers, v) = app
        .raw(
            reqwest::Method::POST,
            "/push",
            Some(json!({"channels": ["news"], "data": {"alert": "hello"}}).to_string()),
            As::Master,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"result": true})));
    let status_id = headers["x-parse-push-status-id"]
        .to_str()
        .expect("id")
        .to_string();
    let mut status = Value::Null;
    for _ in 0..50 {
        let (_, st) = app
            .get(&format!("/classes/_PushStatus/{status_id}"), As::Master)
            .await;
        status = st;
        if status["status"] == json!("succeeded") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status["status"], json!("succeeded"), "{status}");
    assert_eq!(status["numSent"], json!(2));
    assert_eq!(status["sentPerType"], json!({"android": 2}));
    assert_eq!(status["source"], json!("rest"));
    assert_eq!(status["payload"], json!("{\"alert\":\"hello\"}"));
    assert_eq!(
        status["query"],
        json!("{\"channels\":{\"$in\":[\"news\"]}}")
    );
    assert_eq!(
        status["pushHash"],
        json!("5d41402abc4b2a76b9719d911017c592")
    );
    let sent = got.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["push"]["data"]["alert"], json!("hello"));
    assert_eq!(sent[0]["installations"].as_array().map(Vec::len), Some(2));
    // `_PushStatus` is the master key's only.
    assert_eq!(
        app.get("/classes/_PushStatus", As::Public).await,
        (
            StatusCode::BAD_REQUEST,
            json!({"code": 119, "error": "Permission denied"})
        )
    );
    let (_, info) = app.get("/serverInfo", As::Master).await;
    assert_eq!(info["features"]["push"]["immediatePush"], json!(true));
    app.stop().await;
}

#[tokio::test]
async fn push_audiences_crud_with_parsed_query() {
    let app = spawn().await;
    assert_eq!(
        app.get("/push_audiences", As::Master).await,
        (StatusCode::OK, json!({"results": []}))
    );
    assert_eq!(
        app.get("/push_audiences", As::Public).await,
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    let (s, v) = app
        .post(
            "/push_audiences",
            json!({"name": "News", "query": "{\"channels\":\"news\"}"}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["objectId"].as_str().expect("id").to_string();
    let (_, list) = app.get("/push_audiences", As::Master).await;
    assert_eq!(list["results"][0]["query"], json!({"channels": "news"}));
    let (_, one) = app.get(&format!("/push_audiences/{id}"), As::Master).await;
    assert_eq!(one["name"], json!("News"));
    assert_eq!(one["query"], json!({"channels": "news"}));
    let (s, _) = app
        .put(
            &format!("/push_audiences/{id}"),
            json!({"name": "Daily"}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .delete(&format!("/push_audiences/{id}"), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK);
    app.stop().await;
}
