use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn signup_login_me_logout() {
    let app = spawn().await;
    let (s, v) = app
        .post(
            "/users",
            json!({"username": "ann", "password": "pw1", "email": "ann@shop.example"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = v["objectId"].as_str().expect("id").to_string();
    let token = v["sessionToken"].as_str().expect("token").to_string();
    assert!(token.starts_with("r:") && token.len() == 34);
    assert!(v.get("password").is_none());

    let (s, me) = app.get("/users/me", As::User(&token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["username"], json!("ann"));
    assert_eq!(me["sessionToken"], json!(token));
    assert!(me.get("password").is_none() && me.get("_hashed_password").is_none());

    let (s, login) = app
        .get("/login?username=ann&password=pw1", As::Public)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(login["objectId"], json!(id));
    assert_ne!(login["sessionToken"], json!(token));
    let (s, login2) = app
        .post(
            "/login",
            json!({"username": "ann@shop.example", "password": "pw1"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "login with the email: {login2}");

    assert_parse_error(
        &app.get("/login?username=ann&password=bad", As::Public)
            .await,
        404,
        101,
    );
    assert_parse_error(
        &app.get("/login?username=nobody&password=pw1", As::Public)
            .await,
        404,
        101,
    );
    assert_parse_error(&app.get("/login?username=ann", As::Public).await, 400, 201);
    assert_parse_error(&app.get("/login?password=x", As::Public).await, 400, 200);

    let (s, v) = app.post("/logout", json!({}), As::User(&token)).await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    assert_parse_error(&app.get("/users/me", As::User(&token)).await, 400, 209);
    assert_parse_error(
        &app.get("/classes/Anything", As::User(&token)).await,
        400,
        209,
    );
    assert_parse_error(&app.get("/users/me", As::Public).await, 400, 209);
}

#[tokio::test]
async fn signup_errors() {
    let app = spawn().await;
    app.post(
        "/users",
        json!({"username": "ann", "password": "pw", "email": "a@x.io"}),
        As::Public,
    )
    .await;
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "ann", "password": "pw"}),
            As::Public,
        )
        .await,
        400,
        202,
    );
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "ANN", "password": "pw"}),
            As::Public,
        )
        .await,
        400,
        202,
    );
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "bo", "password": "pw", "email": "a@x.io"}),
            As::Public,
        )
        .await,
        400,
        203,
    );
    assert_parse_error(
        &app.post(
            "/users",
            json!({"username": "bo", "password": "pw", "email": "nope"}),
            As::Public,
        )
        .await,
        400,
        125,
    );
    assert_parse_error(
        &app.post("/users", json!({"username": "bo"}), As::Public)
            .await,
        400,
        201,
    );
    assert_parse_error(
        &app.post("/users", json!({"password": "pw"}), As::Public)
            .await,
        400,
        200,
    );
}

#[tokio::test]
async fn users_are_private_and_only_self_may_change() {
    let app = spawn().await;
    let (a, ta) = app.signup("ann", "pw").await;
    let (b, tb) = app.signup("bob", "pw").await;
    assert_parse_error(
        &app.get(&format!("/users/{a}"), As::User(&tb)).await,
        404,
        101,
    );
    let (s, v) = app.get(&format!("/users/{a}"), As::User(&ta)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app.get("/users", As::User(&tb)).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["results"][0]["objectId"], json!(b));
    assert_parse_error(
        &app.put(&format!("/users/{a}"), json!({"nick": "x"}), As::User(&tb))
            .await,
        400,
        206,
    );
    assert_parse_error(
        &app.delete(&format!("/users/{a}"), As::User(&tb)).await,
        400,
        206,
    );
    let (s, _) = app
        .put(
            &format!("/users/{a}"),
            json!({"nick": "annie"}),
            As::User(&ta),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(
        &app.put(
            &format!("/users/{a}"),
            json!({"username": "bob"}),
            As::User(&ta),
        )
        .await,
        400,
        202,
    );
    let (_, all) = app.get("/users", As::Master).await;
    assert_eq!(all["results"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn password_change_revokes_sessions_and_issues_a_new_one() {
    let app = spawn().await;
    let (a, t1) = app.signup("ann", "old-pw").await;
    let (_, login) = app
        .get("/login?username=ann&password=old-pw", As::Public)
        .await;
    let t2 = login["sessionToken"].as_str().expect("token").to_string();
    let (s, v) = app
        .put(
            &format!("/users/{a}"),
            json!({"password": "new-pw"}),
            As::User(&t1),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let t3 = v["sessionToken"].as_str().expect("new token").to_string();
    assert_parse_error(&app.get("/users/me", As::User(&t1)).await, 400, 209);
    assert_parse_error(&app.get("/users/me", As::User(&t2)).await, 400, 209);
    let (s, _) = app.get("/users/me", As::User(&t3)).await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(
        &app.get("/login?username=ann&password=old-pw", As::Public)
            .await,
        404,
        101,
    );
    let (s, _) = app
        .get("/login?username=ann&password=new-pw", As::Public)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn sessions_are_private_and_revocable() {
    let app = spawn().await;
    let (a, ta) = app.signup("ann", "pw").await;
    let (_b, tb) = app.signup("bob", "pw").await;
    let (s, me) = app.get("/sessions/me", As::User(&ta)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["sessionToken"], json!(ta));
    assert_eq!(me["user"]["objectId"], json!(a));
    assert_eq!(
        me["createdWith"],
        json!({"action": "signup", "authProvider": "password"})
    );
    assert_eq!(me["expiresAt"]["__type"], json!("Date"));
    let (_, v) = app.get("/sessions", As::User(&tb)).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    assert_ne!(v["results"][0]["sessionToken"], json!(ta));
    assert_parse_error(&app.get("/sessions", As::Public).await, 400, 209);
    let sid = me["objectId"].as_str().expect("id").to_string();
    assert_parse_error(
        &app.put(
            &format!("/sessions/{sid}"),
            json!({"installationId": "hijack"}),
            As::User(&tb),
        )
        .await,
        404,
        101,
    );
    assert_parse_error(
        &app.delete(&format!("/sessions/{sid}"), As::User(&tb)).await,
        404,
        101,
    );
    let (s, _) = app.delete(&format!("/sessions/{sid}"), As::User(&ta)).await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(&app.get("/users/me", As::User(&ta)).await, 400, 209);
    // Clients cannot create sessions for anyone.
    assert_parse_error(
        &app.post(
            "/sessions",
            json!({"user": {"__type": "Pointer", "className": "_User", "objectId": a}}),
            As::User(&tb),
        )
        .await,
        400,
        206,
    );
}

#[tokio::test]
async fn expired_sessions_are_rejected() {
    let app = spawn_with(|c| c.session_length = -1).await;
    let (_, token) = app.signup("ann", "pw").await;
    assert_parse_error(&app.get("/users/me", As::User(&token)).await, 400, 209);
}
