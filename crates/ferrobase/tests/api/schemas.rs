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

#[tokio::test]
async fn required_and_default_value_fields() {
    let app = spawn().await;
    let (s, v) = app
        .post(
            "/schemas/Ticket",
            json!({"fields": {
                "title": {"type": "String", "required": true},
                "status": {"type": "String", "defaultValue": "open"},
                "priority": {"type": "Number", "required": true, "defaultValue": 3},
                "due": {"type": "Date", "defaultValue": {"__type": "Date", "iso": "2030-01-01T00:00:00.000Z"}},
                "note": {"type": "String"}
            }}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // GET /schemas returns both options as stored.
    let (_, v) = app.get("/schemas/Ticket", As::Master).await;
    assert_eq!(
        v["fields"]["title"],
        json!({"type": "String", "required": true})
    );
    assert_eq!(
        v["fields"]["priority"],
        json!({"type": "Number", "required": true, "defaultValue": 3})
    );
    assert_eq!(
        v["fields"]["status"],
        json!({"type": "String", "defaultValue": "open"})
    );
    assert_eq!(v["fields"]["note"], json!({"type": "String"}));

    // Absent fields get their defaults on create (and the answer lists them, as Parse).
    let (s, v) = app
        .post("/classes/Ticket", json!({"title": "printer"}), As::Public)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "open", "{v}");
    let id = v["objectId"].as_str().expect("id").to_string();
    let (_, got) = app.get(&format!("/classes/Ticket/{id}"), As::Public).await;
    assert_eq!(got["status"], "open");
    assert_eq!(got["priority"], 3);
    assert_eq!(got["due"]["iso"], "2030-01-01T00:00:00.000Z");
    // A given value wins over the default.
    let (_, v) = app
        .post(
            "/classes/Ticket",
            json!({"title": "desk", "status": "closed", "priority": 1}),
            As::Public,
        )
        .await;
    let id2 = v["objectId"].as_str().expect("id").to_string();
    let (_, got) = app.get(&format!("/classes/Ticket/{id2}"), As::Public).await;
    assert_eq!(
        (got["status"].as_str(), got["priority"].as_i64()),
        (Some("closed"), Some(1))
    );

    // A required field without a default must be sent (even by the master key).
    let missing = app
        .post("/classes/Ticket", json!({"note": "x"}), As::Master)
        .await;
    assert_parse_error(&missing, 400, 142);
    assert_eq!(missing.1["error"], "title is required");
    assert_parse_error(
        &app.post("/classes/Ticket", json!({"title": ""}), As::Public)
            .await,
        400,
        142,
    );
    // Neither may be emptied by an update.
    for body in [
        json!({"title": null}),
        json!({"title": {"__op": "Delete"}}),
        json!({"title": ""}),
        json!({"priority": {"__op": "Delete"}}),
    ] {
        let r = app
            .put(&format!("/classes/Ticket/{id}"), body.clone(), As::Master)
            .await;
        assert_parse_error(&r, 400, 142);
    }
    // A field that is neither may be removed.
    let (s, _) = app
        .put(
            &format!("/classes/Ticket/{id}"),
            json!({"status": {"__op": "Delete"}, "title": "renamed"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // The options are checked as Parse checks them.
    assert_parse_error(
        &app.put(
            "/schemas/Ticket",
            json!({"fields": {"n": {"type": "Number", "defaultValue": "ten"}}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    assert_parse_error(
        &app.put(
            "/schemas/Ticket",
            json!({"fields": {"r": {"type": "Relation", "targetClass": "_User", "required": true}}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    // They survive a restart (stored with the schema).
    let dir = app.stop().await;
    let mut config = test_config(dir.path());
    config.port = 0;
    let again = ferrobase::serve::start(config).await.expect("restarts");
    let r = reqwest::Client::new()
        .get(format!("{}/schemas/Ticket", again.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        v["fields"]["priority"],
        json!({"type": "Number", "required": true, "defaultValue": 3})
    );
    again.stop().await;
}

#[tokio::test]
async fn schema_field_and_permission_answers_as_parse() {
    let app = spawn().await;
    // A Pointer without targetClass: 135.
    let r = app
        .post(
            "/schemas/Links",
            json!({"fields": {"p": {"type": "Pointer"}}}),
            As::Master,
        )
        .await;
    assert_parse_error(&r, 400, 135);
    assert_eq!(r.1["error"], "type Pointer needs a class name");
    // One GeoPoint per class, through the schema API or by saving objects.
    let (s, v) = app
        .post(
            "/schemas/Places",
            json!({"fields": {"at": {"type": "GeoPoint"}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_parse_error(
        &app.put(
            "/schemas/Places",
            json!({"fields": {"also": {"type": "GeoPoint"}}}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    let gp = json!({"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0});
    assert_parse_error(
        &app.post("/classes/Places", json!({"other": gp.clone()}), As::Master)
            .await,
        400,
        111,
    );
    assert_parse_error(
        &app.post(
            "/classes/Fresh",
            json!({"a": gp.clone(), "b": gp.clone()}),
            As::Master,
        )
        .await,
        400,
        111,
    );
    let (s, _) = app
        .post("/classes/Places", json!({"at": gp}), As::Master)
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Class-level permissions read back exactly as set.
    let clp = json!({"find": {"requiresAuthentication": true}, "get": {"*": true}, "count": {},
                     "create": {"*": true}, "update": {}, "delete": {}, "addField": {}});
    let (s, v) = app
        .put(
            "/schemas/Places",
            json!({"classLevelPermissions": clp.clone()}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["classLevelPermissions"], clp);
    let (_, v) = app.get("/schemas/Places", As::Master).await;
    assert_eq!(v["classLevelPermissions"], clp);
    // requiresAuthentication asked anonymously: 404 101 "Permission denied".
    let r = app.get("/classes/Places", As::Public).await;
    assert_eq!(
        (r.0.as_u16(), r.1.clone()),
        (404, json!({"code": 101, "error": "Permission denied"}))
    );
    let (_, token) = app.signup("pat", "pw").await;
    let (s, _) = app.get("/classes/Places", As::User(&token)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn indexes_are_deleted_through_put_schemas() {
    let app = spawn().await;
    let (s, v) = app
        .post(
            "/schemas/Books",
            json!({"fields": {"title": {"type": "String"}, "year": {"type": "Number"}},
                   "indexes": {"by_title": {"title": 1}, "by_year": {"year": -1}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .put(
            "/schemas/Books",
            json!({"indexes": {"by_title": {"__op": "Delete"}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["indexes"],
        json!({"_id_": {"_id": 1}, "by_year": {"year": -1}}),
        "{v}"
    );
    let (_, v) = app.get("/schemas/Books", As::Master).await;
    assert_eq!(
        v["indexes"],
        json!({"_id_": {"_id": 1}, "by_year": {"year": -1}})
    );
    // The SDK's deleteIndex on the last one leaves no indexes of the class's own.
    let (s, v) = app
        .put(
            "/schemas/Books",
            json!({"className": "Books", "indexes": {"by_year": {"__op": "Delete"}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v.get("indexes").is_none_or(|i| i.get("by_year").is_none()),
        "{v}"
    );
    assert_parse_error(
        &app.put(
            "/schemas/Books",
            json!({"indexes": {"by_year": {"__op": "Delete"}}}),
            As::Master,
        )
        .await,
        400,
        255,
    );
}

/// Parse keeps its "volatile" classes (`_GlobalConfig`, `_Hooks`, `_Audience`, `_JobStatus`, …)
/// out of `_SCHEMA`: `GET /schemas` (Parse Dashboard's class list) never lists them, even when
/// they hold rows (checked against Parse Server 9.10: `_User`, `_Role` and the app's classes only).
#[tokio::test]
async fn schema_list_leaves_out_parse_volatile_classes() {
    let app = spawn().await;
    let (s, v) = app
        .put("/config", json!({"params": {"a": 1}}), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/hooks/functions",
            json!({"functionName": "f", "url": "http://127.0.0.1:9/f"}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .post(
            "/push_audiences",
            json!({"name": "everyone", "query": "{}"}),
            As::Master,
        )
        .await;
    assert!(s.is_success(), "{s} {v}");
    let (s, v) = app
        .post("/classes/Shown", json!({"a": 1}), As::Master)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app.get("/schemas", As::Master).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let names: Vec<&str> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|c| c["className"].as_str())
        .collect();
    assert!(names.contains(&"Shown"), "{names:?}");
    for hidden in [
        "_GlobalConfig",
        "_Hooks",
        "_Audience",
        "_JobStatus",
        "_Idempotency",
    ] {
        assert!(!names.contains(&hidden), "{hidden} listed: {names:?}");
    }
    // the rows are still there
    let (_, cfg) = app.get("/config", As::Master).await;
    assert_eq!(cfg["params"], json!({"a": 1}));
}
