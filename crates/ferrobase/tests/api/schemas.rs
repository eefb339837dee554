use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn schema_lifecycle() {
    let app = spawn().await;
    let (s, v) = app
        .post("/schemas/Shop", json!({"className": "Shop", "fields": {"name": {"type": "String"}, "owner": {"type": "Pointer", "targetClass": "_User"}}}), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["fields"]["objectId"], json!({"type": "String"}));
    assert_eq!(
        v["fields"]["owner"],
        json!({"type": "Pointer", "targetClass": "_User"})
    );
    assert_eq!(v["classLevelPermissions"]["find"], json!({"*": true}));
    assert_parse_error(
        &app.post("/schemas/Shop", json!({}), As::Master).await,
        400,
        103,
    );
    assert_parse_error(
        &app.post("/schemas/Shop2", json!({"className": "Other"}), As::Master)
            .await,
        400,
        103,
    );
    assert_parse_error(
        &app.post("/schemas/1bad", json!({}), As::Master).await,
        400,
        103,
    );
    assert_parse_error(
        &app.post(
            "/schemas/Bad",
            json!({"fields": {"x": {"type": "Strange"}}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    assert_parse_error(&app.get("/schemas/Nope", As::Master).await, 400, 103);

    let (s, v) = app
        .put("/schemas/Shop", json!({"fields": {"rating": {"type": "Number"}, "name": {"__op": "Delete"}}, "indexes": {"by_rating": {"rating": -1}}}), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["fields"].get("name").is_none());
    assert_eq!(v["indexes"]["by_rating"], json!({"rating": -1}));
    assert_parse_error(
        &app.put(
            "/schemas/Shop",
            json!({"fields": {"rating": {"type": "String"}}}),
            As::Master,
        )
        .await,
        400,
        255,
    );

    // Writing a wrong type to a known field is error 111.
    assert_parse_error(
        &app.post("/classes/Shop", json!({"rating": "five"}), As::Master)
            .await,
        400,
        111,
    );
    app.create("Shop", json!({"rating": 5})).await;
    assert_parse_error(&app.delete("/schemas/Shop", As::Master).await, 400, 255);
    let (s, v) = app.delete("/purge/Shop", As::Master).await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    let (s, _) = app.delete("/schemas/Shop", As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(&app.get("/schemas/Shop", As::Master).await, 400, 103);

    let (_, all) = app.get("/schemas", As::Master).await;
    let names: Vec<&str> = all["results"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["className"].as_str())
        .collect();
    assert!(names.contains(&"_User") && names.contains(&"_Session"));
}

#[tokio::test]
async fn schemas_need_the_master_key_and_clients_cannot_create_classes() {
    let app = spawn().await;
    let (s, v) = app.get("/schemas", As::Public).await;
    assert_eq!(
        (s, v),
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    let (s, _) = app.delete("/purge/_User", As::Public).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_parse_error(
        &app.post("/classes/Fresh", json!({"a": 1}), As::Public)
            .await,
        400,
        119,
    );
    assert_parse_error(&app.get("/classes/Fresh", As::Public).await, 400, 119);
    // Adding fields to an existing class is allowed (default CLP addField: *).
    app.create("Fresh", json!({"a": 1})).await;
    let (s, _) = app
        .post("/classes/Fresh", json!({"a": 2, "b": "new"}), As::Public)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = app.get("/schemas/Fresh", As::Master).await;
    assert_eq!(v["fields"]["b"], json!({"type": "String"}));
}

#[tokio::test]
async fn class_level_permissions_are_enforced() {
    let app = spawn().await;
    let (uid, token) = app.signup("ann", "pw").await;
    app.post(
        "/schemas/Order",
        json!({"classLevelPermissions": {"find": {uid.clone(): true}, "get": {"requiresAuthentication": true}, "create": {"*": true}, "delete": {}}}),
        As::Master,
    )
    .await;
    let id = app.create("Order", json!({"total": 3})).await;
    assert_parse_error(&app.get("/classes/Order", As::Public).await, 400, 119);
    let (s, _) = app.get("/classes/Order", As::User(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(
        &app.get(&format!("/classes/Order/{id}"), As::Public).await,
        404,
        101,
    );
    let (s, _) = app
        .get(&format!("/classes/Order/{id}"), As::User(&token))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(
        &app.delete(&format!("/classes/Order/{id}"), As::User(&token))
            .await,
        400,
        119,
    );
    let (s, _) = app
        .delete(&format!("/classes/Order/{id}"), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK);
}
