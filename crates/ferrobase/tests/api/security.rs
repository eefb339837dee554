//! The attacker suite: an ordinary user with a valid account tries every path to data and
//! rights that are not theirs. Each case asserts the exact Parse answer.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn ptr(class: &str, id: &str) -> Value {
    json!({"__type": "Pointer", "className": class, "objectId": id})
}

struct World {
    app: TestApp,
    alice: String,
    alice_t: String,
    mallory_t: String,
    secret: String,
}

/// Alice owns a private `Order`; Mallory is the attacker.
async fn world() -> World {
    let app = spawn().await;
    let (alice, alice_t) = app.signup("alice", "alice-pw").await;
    let (_mallory, mallory_t) = app.signup("mallory", "mallory-pw").await;
    let (s, v) = app
        .post(
            "/classes/Order",
            json!({"item": "ring", "total": 900, "buyer": ptr("_User", &alice), "ACL": {alice.clone(): {"read": true, "write": true}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let secret = v["objectId"].as_str().expect("id").to_string();
    app.create(
        "Review",
        json!({"text": "nice", "order": ptr("Order", &secret)}),
    )
    .await;
    World {
        app,
        alice,
        alice_t,
        mallory_t,
        secret,
    }
}

#[tokio::test]
async fn private_objects_do_not_leak_through_any_read_path() {
    let w = world().await;
    let (app, m) = (&w.app, As::User(&w.mallory_t));
    assert_parse_error(
        &app.get(&format!("/classes/Order/{}", w.secret), m).await,
        404,
        101,
    );
    let (_, v) = app.query("Order", &[("count", "1".into())], m).await;
    assert_eq!(v, json!({"results": [], "count": 0}));
    // include: the pointer to an unreadable object is dropped, not expanded.
    let (_, v) = app.query("Review", &[("include", "order".into())], m).await;
    assert!(v["results"][0].get("order").is_none(), "{v}");
    // $inQuery / $select see only what the caller may read.
    let inq =
        json!({"order": {"$inQuery": {"className": "Order", "where": {"total": {"$gt": 0}}}}});
    let (_, v) = app.query("Review", &[("where", inq.to_string())], m).await;
    assert_eq!(v["results"], json!([]));
    let sel =
        json!({"text": {"$select": {"query": {"className": "Order", "where": {}}, "key": "item"}}});
    let (_, v) = app.query("Review", &[("where", sel.to_string())], m).await;
    assert_eq!(v["results"], json!([]));
    // Alice sees it all.
    let (_, v) = app
        .query(
            "Review",
            &[("include", "order".into())],
            As::User(&w.alice_t),
        )
        .await;
    assert_eq!(v["results"][0]["order"]["item"], json!("ring"));
}

#[tokio::test]
async fn others_objects_cannot_be_changed_directly_or_through_batch() {
    let w = world().await;
    let (app, m) = (&w.app, As::User(&w.mallory_t));
    let path = format!("/classes/Order/{}", w.secret);
    assert_parse_error(&app.put(&path, json!({"total": 1}), m).await, 404, 101);
    assert_parse_error(
        &app.put(
            &path,
            json!({"ACL": {"*": {"read": true, "write": true}}}),
            m,
        )
        .await,
        404,
        101,
    );
    assert_parse_error(&app.delete(&path, m).await, 404, 101);
    let batch = json!({"requests": [
        {"method": "PUT", "path": format!("/parse{path}"), "body": {"total": 1}},
        {"method": "DELETE", "path": format!("/parse{path}")},
        {"method": "GET", "path": "/parse/schemas"},
    ]});
    let (_, v) = app.post("/batch", batch, m).await;
    assert_eq!(v[0]["error"]["code"], json!(101));
    assert_eq!(v[1]["error"]["code"], json!(101));
    assert_eq!(v[2]["error"]["error"], json!("Permission denied"));
    let (_, o) = app.get(&path, As::Master).await;
    assert_eq!(o["total"], json!(900));
}

#[tokio::test]
async fn forged_internal_fields_and_operator_injection_are_refused() {
    let w = world().await;
    let (app, m) = (&w.app, As::User(&w.mallory_t));
    assert_parse_error(
        &app.post("/classes/Review", json!({"_rperm": ["*"], "text": "x"}), m)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/Review", json!({"_wperm": []}), m).await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/Review", json!({"$set": {"x": 1}}), m)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.post("/classes/Review", json!({"text": {"$gt": ""}}), m)
            .await,
        400,
        121,
    );
    assert_parse_error(
        &app.post("/classes/Review", json!({"meta": {"a.b": 1}}), m)
            .await,
        400,
        121,
    );
    let q = |w: Value| vec![("where", w.to_string())];
    assert_parse_error(
        &app.query("Order", &q(json!({"$where": "this.total > 0"})), m)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.query(
            "Order",
            &q(json!({"total": {"$function": {"body": "x"}}})),
            m,
        )
        .await,
        400,
        107,
    );
    assert_parse_error(
        &app.query("Order", &q(json!({"_rperm": {"$in": ["*"]}})), m)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.query(
            "_User",
            &q(json!({"_hashed_password": {"$exists": true}})),
            m,
        )
        .await,
        400,
        105,
    );
    assert_parse_error(
        &app.query("_User", &q(json!({"_session_token": "x"})), m)
            .await,
        400,
        105,
    );
}

#[tokio::test]
async fn users_and_sessions_of_others_are_out_of_reach() {
    let w = world().await;
    let (app, m) = (&w.app, As::User(&w.mallory_t));
    assert_parse_error(&app.get(&format!("/users/{}", w.alice), m).await, 404, 101);
    assert_parse_error(
        &app.put(
            &format!("/users/{}", w.alice),
            json!({"password": "owned"}),
            m,
        )
        .await,
        400,
        206,
    );
    assert_parse_error(
        &app.delete(&format!("/users/{}", w.alice), m).await,
        400,
        206,
    );
    let (_, v) = app.get("/sessions", m).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    assert_parse_error(
        &app.post("/sessions", json!({"user": ptr("_User", &w.alice)}), m)
            .await,
        400,
        206,
    );
    assert_parse_error(
        &app.post(
            "/classes/_Session",
            json!({"user": ptr("_User", &w.alice)}),
            m,
        )
        .await,
        400,
        206,
    );
    // Alice's password still works.
    let (s, _) = app
        .get("/login?username=alice&password=alice-pw", As::Public)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn expired_revoked_and_logged_out_tokens_are_rejected() {
    let w = world().await;
    let app = &w.app;
    let (_, me) = app.get("/sessions/me", As::User(&w.alice_t)).await;
    let sid = me["objectId"].as_str().expect("id");
    let (s, _) = app.delete(&format!("/sessions/{sid}"), As::Master).await;
    assert_eq!(s, StatusCode::OK);
    // Revocation is seen at once on this node (the session cache is dropped).
    assert_parse_error(&app.get("/users/me", As::User(&w.alice_t)).await, 400, 209);
    let (_, login) = app
        .get("/login?username=mallory&password=mallory-pw", As::Public)
        .await;
    let t = login["sessionToken"].as_str().expect("token").to_string();
    app.post("/logout", json!({}), As::User(&t)).await;
    assert_parse_error(&app.get("/classes/Order", As::User(&t)).await, 400, 209);
    assert_parse_error(
        &app.get(
            "/classes/Order",
            As::User("r:0123456789abcdef0123456789abcdef"),
        )
        .await,
        400,
        209,
    );
}

#[tokio::test]
async fn role_membership_cannot_be_self_granted_and_hierarchy_works() {
    let app = spawn().await;
    let (admin, admin_t) = app.signup("admin", "pw").await;
    let (staff, staff_t) = app.signup("staff", "pw").await;
    let (_m, mallory_t) = app.signup("mallory", "pw").await;
    let role_acl = json!({"*": {"read": true}, admin.clone(): {"write": true}});
    let (s, v) = app
        .post("/roles", json!({"name": "Admins", "ACL": role_acl, "users": {"__op": "AddRelation", "objects": [ptr("_User", &admin)]}}), As::Master)
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let admins = v["objectId"].as_str().expect("id").to_string();
    let (_, v) = app
        .post("/roles", json!({"name": "Staff", "ACL": {"*": {"read": true}}, "users": {"__op": "AddRelation", "objects": [ptr("_User", &staff)]}}), As::Master)
        .await;
    let staff_role = v["objectId"].as_str().expect("id").to_string();
    // Staff members get the Admins role's rights through the hierarchy.
    app.put(
        &format!("/roles/{admins}"),
        json!({"roles": {"__op": "AddRelation", "objects": [ptr("_Role", &staff_role)]}}),
        As::Master,
    )
    .await;
    let doc = app
        .create(
            "Vault",
            json!({"gold": 1, "ACL": {"role:Admins": {"read": true}}}),
        )
        .await;
    let (s, _) = app
        .get(&format!("/classes/Vault/{doc}"), As::User(&admin_t))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .get(&format!("/classes/Vault/{doc}"), As::User(&staff_t))
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a role inside Admins' roles inherits its rights"
    );
    assert_parse_error(
        &app.get(&format!("/classes/Vault/{doc}"), As::User(&mallory_t))
            .await,
        404,
        101,
    );
    // Mallory cannot add herself to Admins.
    let (me_s, me) = app.get("/users/me", As::User(&mallory_t)).await;
    assert_eq!(me_s, StatusCode::OK);
    let mallory = me["objectId"].as_str().expect("id").to_string();
    assert_parse_error(
        &app.put(
            &format!("/roles/{admins}"),
            json!({"users": {"__op": "AddRelation", "objects": [ptr("_User", &mallory)]}}),
            As::User(&mallory_t),
        )
        .await,
        404,
        101,
    );
    assert_parse_error(
        &app.get(&format!("/classes/Vault/{doc}"), As::User(&mallory_t))
            .await,
        404,
        101,
    );
    // Role names are validated and cannot change.
    assert_parse_error(
        &app.post("/roles", json!({"name": "bad/name", "ACL": {}}), As::Master)
            .await,
        400,
        139,
    );
    assert_parse_error(
        &app.put(
            &format!("/roles/{admins}"),
            json!({"name": "Owners"}),
            As::Master,
        )
        .await,
        400,
        139,
    );
    // Removing a member takes the rights away.
    app.put(
        &format!("/roles/{admins}"),
        json!({"roles": {"__op": "RemoveRelation", "objects": [ptr("_Role", &staff_role)]}}),
        As::Master,
    )
    .await;
    assert_parse_error(
        &app.get(&format!("/classes/Vault/{doc}"), As::User(&staff_t))
            .await,
        404,
        101,
    );
}

#[tokio::test]
async fn protected_fields_do_not_leak_through_keys_include_select_where_or_order() {
    let app = spawn().await;
    let (owner, owner_t) = app.signup("owner", "pw").await;
    let (_m, m_t) = app.signup("mallory", "pw").await;
    app.post(
        "/schemas/Profile",
        json!({"classLevelPermissions": {"protectedFields": {"*": ["phone"], "userField:owner": []}}}),
        As::Master,
    )
    .await;
    let profile = app
        .create(
            "Profile",
            json!({"name": "o", "phone": "555-0100", "owner": ptr("_User", &owner)}),
        )
        .await;
    app.create(
        "Post",
        json!({"title": "t", "author": ptr("Profile", &profile)}),
    )
    .await;
    let m = As::User(&m_t);
    let (_, v) = app.get(&format!("/classes/Profile/{profile}"), m).await;
    assert!(v.get("phone").is_none() && v["name"] == json!("o"), "{v}");
    let (_, v) = app.query("Profile", &[("keys", "phone".into())], m).await;
    assert!(v["results"][0].get("phone").is_none(), "{v}");
    let (_, v) = app.query("Post", &[("include", "author".into())], m).await;
    assert!(v["results"][0]["author"].get("phone").is_none(), "{v}");
    let sel = json!({"title": {"$select": {"query": {"className": "Profile", "where": {}}, "key": "phone"}}});
    let (_, v) = app.query("Post", &[("where", sel.to_string())], m).await;
    assert_eq!(v["results"], json!([]));
    let probe = json!({"phone": {"$regex": "^555"}});
    assert_parse_error(
        &app.query(
            "Profile",
            &[("where", probe.to_string()), ("count", "1".into())],
            m,
        )
        .await,
        400,
        119,
    );
    assert_parse_error(
        &app.query("Profile", &[("order", "phone".into())], m).await,
        400,
        119,
    );
    // The owner (userField) and the master key see it.
    let (_, v) = app
        .get(&format!("/classes/Profile/{profile}"), As::User(&owner_t))
        .await;
    assert_eq!(v["phone"], json!("555-0100"));
    let (_, v) = app
        .get(&format!("/classes/Profile/{profile}"), As::Master)
        .await;
    assert_eq!(v["phone"], json!("555-0100"));
}

#[tokio::test]
async fn pointer_permissions_limit_reads_and_writes_to_owners() {
    let app = spawn().await;
    let (a, a_t) = app.signup("a", "pw").await;
    let (b, b_t) = app.signup("b", "pw").await;
    app.post(
        "/schemas/Note",
        json!({"classLevelPermissions": {"find": {}, "get": {}, "count": {}, "update": {}, "delete": {}, "create": {"*": true},
               "readUserFields": ["owner"], "writeUserFields": ["owner"]}}),
        As::Master,
    )
    .await;
    let na = app
        .create("Note", json!({"t": "a", "owner": ptr("_User", &a)}))
        .await;
    app.create("Note", json!({"t": "b", "owner": ptr("_User", &b)}))
        .await;
    let (_, v) = app
        .query("Note", &[("count", "1".into())], As::User(&a_t))
        .await;
    assert_eq!(v["count"], json!(1));
    assert_eq!(v["results"][0]["t"], json!("a"));
    assert_parse_error(
        &app.get(&format!("/classes/Note/{na}"), As::User(&b_t))
            .await,
        404,
        101,
    );
    assert_parse_error(
        &app.put(
            &format!("/classes/Note/{na}"),
            json!({"t": "x"}),
            As::User(&b_t),
        )
        .await,
        404,
        101,
    );
    let (s, _) = app
        .put(
            &format!("/classes/Note/{na}"),
            json!({"t": "a2"}),
            As::User(&a_t),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(&app.get("/classes/Note", As::Public).await, 404, 101);
}

#[tokio::test]
async fn master_key_rules() {
    let app = spawn_with(|c| c.read_only_master_key = Some("read-only-key".into())).await;
    let id = app.create("Thing", json!({"a": 1})).await;
    let ro = |m: reqwest::Method, path: &str, body: Option<Value>| {
        let mut r = app
            .client
            .request(m, format!("{}{path}", app.url))
            .header("X-Parse-Application-Id", APP_ID)
            .header("X-Parse-Master-Key", "read-only-key");
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };
    let r = ro(reqwest::Method::GET, "/schemas", None)
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    let r = ro(
        reqwest::Method::PUT,
        &format!("/classes/Thing/{id}"),
        Some(json!({"a": 2})),
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.expect("json")["code"], json!(119));
    let r = ro(reqwest::Method::DELETE, "/purge/Thing", None)
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (_, v) = app.get(&format!("/classes/Thing/{id}"), As::Master).await;
    assert_eq!(v["a"], json!(1));
    // A wrong master key is ignored: the request runs as the public (Parse Server's rule).
    let r = app
        .client
        .get(format!("{}/schemas", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", "guess")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn account_lockout_and_password_policy() {
    let app = spawn_with(|c| {
        c.lockout_threshold = Some(3);
        c.lockout_duration = 10;
        c.password_pattern = Some("^(?=.*[0-9]).{8,}$".into());
        c.password_no_username = true;
    })
    .await;
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "ann", "password": "short1"}),
            As::Public,
        )
        .await,
        400,
        142,
    );
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "ann", "password": "ann-12345678"}),
            As::Public,
        )
        .await,
        400,
        142,
    );
    let (s, v) = app
        .post(
            "/users",
            json!({"username": "ann", "password": "good-pass-1"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["objectId"].as_str().expect("id").to_string();
    let token = v["sessionToken"].as_str().expect("token").to_string();
    assert_parse_error(
        &app.put(
            &format!("/users/{id}"),
            json!({"password": "nodigits"}),
            As::User(&token),
        )
        .await,
        400,
        142,
    );
    for _ in 0..3 {
        assert_parse_error(
            &app.get("/login?username=ann&password=wrong", As::Public)
                .await,
            404,
            101,
        );
    }
    let locked = app
        .get("/login?username=ann&password=good-pass-1", As::Public)
        .await;
    assert_parse_error(&locked, 404, 101);
    assert!(
        locked.1["error"].as_str().expect("msg").contains("locked"),
        "{}",
        locked.1
    );
}

#[tokio::test]
async fn anonymous_users_through_auth_data() {
    let app = spawn().await;
    let body = json!({"authData": {"anonymous": {"id": "device-123"}}});
    let (s, v) = app.post("/users", body.clone(), As::Public).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["objectId"].clone();
    assert!(v["sessionToken"].is_string());
    let (s, again) = app.post("/users", body, As::Public).await;
    assert_eq!(s, StatusCode::OK, "the same device logs in again: {again}");
    assert_eq!(again["objectId"], id);
    let (_, me) = app
        .get(
            "/users/me",
            As::User(again["sessionToken"].as_str().expect("token")),
        )
        .await;
    assert_eq!(me["authData"]["anonymous"]["id"], json!("device-123"));
    assert_parse_error(
        &app.post(
            "/users",
            json!({"authData": {"myspace": {"id": "x"}}}),
            As::Public,
        )
        .await,
        400,
        252,
    );
    // Empty provider data is no authData (Parse): a sign-up without a username.
    assert_parse_error(
        &app.post("/users", json!({"authData": {"anonymous": {}}}), As::Public)
            .await,
        400,
        200,
    );
}

#[tokio::test]
async fn rate_limits_answer_429() {
    let app = spawn_with(|c| {
        c.rate_limits = vec![ferrobase::ratelimit::Rule::parse("/login=2/60").expect("rule")]
    })
    .await;
    app.signup("ann", "pw").await;
    for _ in 0..2 {
        let (s, _) = app.get("/login?username=ann&password=pw", As::Public).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, v) = app.get("/login?username=ann&password=pw", As::Public).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(v["code"], json!(155));
    // The master key is not limited.
    let (s, _) = app.get("/login?username=ann&password=pw", As::Master).await;
    assert_eq!(s, StatusCode::OK);
}
