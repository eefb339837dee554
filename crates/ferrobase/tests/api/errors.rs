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
        105,
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

#[tokio::test]
async fn exact_answers_for_routes_bodies_files_and_roles() {
    let app = spawn().await;
    // An unknown route under the mount: 404 (Express's page, as Parse Server answers).
    let (s, h, v) = app.raw(Method::GET, "/nowhere", None, As::Master).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(
        h.get("content-type")
            .and_then(|c| c.to_str().ok())
            .is_some_and(|c| c.starts_with("text/html")),
        "{h:?}"
    );
    assert!(
        v.as_str()
            .is_some_and(|t| t.contains("Cannot GET /parse/nowhere")),
        "{v}"
    );
    // A method a route does not take: 404 as well (not 405).
    for m in [Method::PUT, Method::DELETE] {
        let (s, _, v) = app.raw(m.clone(), "/classes/Thing", None, As::Master).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{m} {v}");
        assert!(
            v.as_str()
                .is_some_and(|t| t.contains(&format!("Cannot {m} /parse/classes/Thing"))),
            "{v}"
        );
    }
    // A JSON array body: Parse reads its indexes as field names.
    let r = app.post("/classes/A", json!([1, 2]), As::Master).await;
    assert_eq!(
        (r.0.as_u16(), r.1),
        (400, json!({"code": 105, "error": "Invalid field name: 0."}))
    );
    // A file upload without an application id: 403 unauthorized.
    let resp = app
        .client
        .post(format!("{}/files/a.txt", app.url))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(v, json!({"error": "unauthorized"}));
    // A role without a name, or without an ACL (Parse's required columns of _Role).
    let r = app.post("/roles", json!({"ACL": {}}), As::Master).await;
    assert_eq!(
        (r.0.as_u16(), r.1),
        (400, json!({"code": 111, "error": "name is required."}))
    );
    let r = app
        .post("/roles", json!({"name": "Staff"}), As::Master)
        .await;
    assert_eq!(
        (r.0.as_u16(), r.1),
        (400, json!({"code": 111, "error": "ACL is required."}))
    );
}
