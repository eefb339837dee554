use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn health_needs_no_app_id() {
    let app = spawn().await;
    let r = app
        .client
        .get(format!("{}/health", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json"),
        json!({"status": "ok"})
    );
}

#[tokio::test]
async fn wrong_or_missing_app_id_is_unauthorized() {
    let app = spawn().await;
    let r = app
        .client
        .get(format!("{}/classes/A", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json"),
        json!({"error": "unauthorized"})
    );
    let r = app
        .client
        .get(format!("{}/classes/A", app.url))
        .header("X-Parse-Application-Id", "other")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cors_preflight_and_headers_on_every_response() {
    let app = spawn().await;
    let r = app
        .client
        .request(Method::OPTIONS, format!("{}/classes/A", app.url))
        .header("Origin", "http://shop.example")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers()["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .contains("X-Parse-Session-Token"));
    let (_, headers, _) = app.raw(Method::GET, "/classes/A", None, As::Public).await;
    assert_eq!(headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn sdk_tunnelling_in_a_text_plain_post() {
    let app = spawn().await;
    let id = app.create("Tunnel", json!({"a": 1})).await;
    let body = json!({"_method": "GET", "_ApplicationId": APP_ID, "where": {"a": 1}, "limit": 5})
        .to_string();
    let r = app
        .client
        .post(format!("{}/classes/Tunnel", app.url))
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["results"][0]["objectId"], json!(id));
    // `_method: DELETE` deletes, with the master key from the body.
    let body = json!({"_method": "DELETE", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY})
        .to_string();
    let r = app
        .client
        .post(format!("{}/classes/Tunnel/{id}", app.url))
        .header("Content-Type", "text/plain")
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert_parse_error(
        &app.get(&format!("/classes/Tunnel/{id}"), As::Master).await,
        404,
        101,
    );
}

#[tokio::test]
async fn server_info_needs_the_master_key() {
    let app = spawn().await;
    let (s, v) = app.get("/serverInfo", As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["parseServerVersion"].is_string());
    assert_eq!(v["features"]["schemas"]["addClass"], json!(true));
    let (s, v) = app.get("/serverInfo", As::Public).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v, json!({"error": "Permission denied"}));
}

#[tokio::test]
async fn master_key_only_from_allowed_ips() {
    let app = spawn_with(|c| c.master_key_ips = vec!["10.1.2.3".parse().expect("ip")]).await;
    let (s, v) = app.get("/schemas", As::Master).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(v, json!({"error": "unauthorized"}));
}
