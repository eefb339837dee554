//! Role changes take effect on the very next request (Parse clears its role cache on every
//! `_Role` write): a user who is already logged in, and has already made requests, gains or
//! loses a role's rights at once, for object ACLs and class-level permissions, whether the role
//! is created with `users`, gets them later by `AddRelation`, or grants through a child role.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn ptr(class: &str, id: &str) -> Value {
    json!({"__type": "Pointer", "className": class, "objectId": id})
}

fn add(class: &str, id: &str) -> Value {
    json!({"__op": "AddRelation", "objects": [ptr(class, id)]})
}

fn remove(class: &str, id: &str) -> Value {
    json!({"__op": "RemoveRelation", "objects": [ptr(class, id)]})
}

async fn status(app: &TestApp, path: &str, token: &str) -> StatusCode {
    app.get(path, As::User(token)).await.0
}

#[tokio::test]
async fn object_acl_grants_follow_role_writes_at_once() {
    let app = spawn().await;
    let (uid, token) = app.signup("ann", "pw").await;
    let doc = app
        .create(
            "Vault",
            json!({"gold": 1, "ACL": {"role:Keepers": {"read": true}}}),
        )
        .await;
    let path = format!("/classes/Vault/{doc}");
    // Ann's session (and roles) are resolved and cached by this request.
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);

    // A role created with `users` grants at once.
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Keepers", "ACL": {"*": {"read": true}}, "users": add("_User", &uid)}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let keepers = v["objectId"].as_str().expect("id").to_string();
    assert_eq!(
        status(&app, &path, &token).await,
        StatusCode::OK,
        "member of a role created with users"
    );

    // Removal revokes at once.
    let (s, v) = app
        .put(
            &format!("/roles/{keepers}"),
            json!({"users": remove("_User", &uid)}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);

    // AddRelation later grants at once.
    app.put(
        &format!("/roles/{keepers}"),
        json!({"users": add("_User", &uid)}),
        As::Master,
    )
    .await;
    assert_eq!(status(&app, &path, &token).await, StatusCode::OK);

    // Deleting the role revokes at once.
    let (s, _) = app.delete(&format!("/roles/{keepers}"), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn child_roles_grant_and_revoke_at_once() {
    let app = spawn().await;
    let (uid, token) = app.signup("bob", "pw").await;
    let doc = app
        .create(
            "Vault",
            json!({"gold": 2, "ACL": {"role:Parents": {"read": true}}}),
        )
        .await;
    let path = format!("/classes/Vault/{doc}");
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Kids", "ACL": {"*": {"read": true}}, "users": add("_User", &uid)}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let kids = v["objectId"].as_str().expect("id").to_string();
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);
    // A parent role created with the child in `roles`: Bob inherits at once.
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Parents", "ACL": {"*": {"read": true}}, "roles": add("_Role", &kids)}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let parents = v["objectId"].as_str().expect("id").to_string();
    assert_eq!(status(&app, &path, &token).await, StatusCode::OK);
    // Removing Bob from the child role takes the parent's rights away too.
    app.put(
        &format!("/roles/{kids}"),
        json!({"users": remove("_User", &uid)}),
        As::Master,
    )
    .await;
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);
    // Through a batch (as the SDKs' saveAll): back in at once.
    let (s, v) = app
        .post(
            "/batch",
            json!({"requests": [{"method": "PUT", "path": format!("/parse/roles/{kids}"), "body": {"users": add("_User", &uid)}}]}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v[0]["success"].is_object(), "{v}");
    assert_eq!(status(&app, &path, &token).await, StatusCode::OK);
    // A transactional batch removing the child from the parent: out at once after the commit.
    if on_ferretdb("roles: transactional batch", "no transactions") {
        app.stop().await;
        return;
    }
    let (s, v) = app
        .post(
            "/batch",
            json!({"transaction": true, "requests": [{"method": "PUT", "path": format!("/parse/roles/{parents}"), "body": {"roles": remove("_Role", &kids)}}]}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v[0]["success"].is_object(), "{v}");
    assert_eq!(status(&app, &path, &token).await, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn class_level_permissions_per_role_follow_role_writes_at_once() {
    let app = spawn().await;
    let (uid, token) = app.signup("cy", "pw").await;
    let (s, v) = app
        .post(
            "/schemas/Ledger",
            json!({"className": "Ledger", "fields": {"n": {"type": "Number"}},
                   "classLevelPermissions": {"find": {"role:Clerks": true}, "get": {"role:Clerks": true},
                   "create": {"role:Clerks": true}, "update": {}, "delete": {}, "addField": {}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.create("Ledger", json!({"n": 1})).await;
    let find = |t: String| {
        let app = &app;
        async move { app.get("/classes/Ledger", As::User(&t)).await }
    };
    assert_parse_error(&find(token.clone()).await, 400, 119);
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Clerks", "ACL": {"*": {"read": true}}, "users": add("_User", &uid)}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let clerks = v["objectId"].as_str().expect("id").to_string();
    let (s, v) = find(token.clone()).await;
    assert_eq!(s, StatusCode::OK, "CLP find for role:Clerks: {v}");
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    let (s, v) = app
        .post("/classes/Ledger", json!({"n": 2}), As::User(&token))
        .await;
    assert_eq!(s, StatusCode::CREATED, "CLP create for role:Clerks: {v}");
    app.put(
        &format!("/roles/{clerks}"),
        json!({"users": remove("_User", &uid)}),
        As::Master,
    )
    .await;
    assert_parse_error(&find(token.clone()).await, 400, 119);
    assert_parse_error(
        &app.post("/classes/Ledger", json!({"n": 3}), As::User(&token))
            .await,
        400,
        119,
    );
    app.stop().await;
}
