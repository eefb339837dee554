use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn malformed_bodies_and_names() {
    let app = spawn().await;
    let (s, _, v) = app
        .raw(
            Method::POST,
            "/classes/A",
            Some("{not json".into()),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].is_string() && v.get("code").is_none(), "{v}");
    assert_parse_error(
        &app.post("/classes/A", json!([1, 2]), As::Master).await,
        400,
        107,
    );
    assert_parse_error(
        &app.post("/classes/A", json!({"objectId": "abc"}), As::Master)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/A", json!({"1bad": 1}), As::Master).await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/A", json!({"bad$key": 1}), As::Master)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/A", json!({"o": {"$where": 1}}), As::Master)
            .await,
        400,
        121,
    );
    assert_parse_error(
        &app.post("/classes/A", json!({"o": {"a.b": 1}}), As::Master)
            .await,
        400,
        121,
    );
    assert_parse_error(
        &app.post(
            "/classes/A",
            json!({"n": {"__op": "Frobnicate"}}),
            As::Master,
        )
        .await,
        400,
        107,
    );
    assert_parse_error(
        &app.post(
            "/classes/A",
            json!({"d": {"__type": "Date", "iso": "not a date"}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    assert_parse_error(
        &app.post(
            "/classes/A",
            json!({"g": {"__type": "GeoPoint", "latitude": 100, "longitude": 0}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    assert_parse_error(
        &app.post(
            "/classes/A",
            json!({"p": {"__type": "Pointer", "className": "B"}}),
            As::Master,
        )
        .await,
        400,
        106,
    );
    assert_parse_error(
        &app.post(
            "/classes/A",
            json!({"ACL": {"u": {"read": "yes"}}}),
            As::Master,
        )
        .await,
        400,
        123,
    );
    assert_parse_error(
        &app.post("/classes/1Bad", json!({}), As::Master).await,
        400,
        107,
    );
    assert_parse_error(
        &app.post("/classes/_Secret", json!({}), As::Public).await,
        400,
        119,
    );
    app.create("A", json!({"n": 1, "createdAt": "ignored"}))
        .await;
    assert_parse_error(
        &app.post("/classes/A", json!({"n": "one"}), As::Master)
            .await,
        400,
        111,
    );
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_with(|c| c.max_body_size = 1024).await;
    let big = json!({"s": "x".repeat(4096)});
    let (s, v) = app.post("/classes/A", big, As::Master).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(v, json!({"error": "request entity too large"}));
}

#[tokio::test]
async fn internal_fields_never_leak() {
    let app = spawn().await;
    let (_, token) = app.signup("ann", "secret-pw").await;
    let (_, v) = app.get("/users", As::Master).await;
    let text = v.to_string();
    assert!(
        !text.contains("_hashed_password") && !text.contains("$2"),
        "{text}"
    );
    assert!(!text.contains("_rperm"), "{text}");
    let (_, v) = app.get("/users/me", As::User(&token)).await;
    assert!(!v.to_string().contains("_hashed_password"));
}
