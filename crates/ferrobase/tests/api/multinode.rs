//! Several nodes on one database: writes, sessions and schema changes made on one node are seen
//! by the others (the schema cache reloads every `--schema-refresh-secs`).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn two_nodes_share_objects_sessions_and_schemas() {
    let a = spawn_with(|c| c.schema_refresh_secs = 1).await;
    let mut config = test_config(a.dir.path());
    config.schema_refresh_secs = 1;
    let b_node = ferrobase::serve::start(config)
        .await
        .expect("node B starts");
    let b_url = b_node.url.clone();
    let client = reqwest::Client::new();
    let on_b = |path: &str| {
        client
            .get(format!("{b_url}{path}"))
            .header("X-Parse-Application-Id", APP_ID)
    };
    let id = a.create("Shared", json!({"v": 1})).await;
    let r = on_b(&format!("/classes/Shared/{id}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "a write on A is read on B");
    let (_, token) = a.signup("ann", "pw").await;
    let r = on_b("/users/me")
        .header("X-Parse-Session-Token", &token)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "a session from A works on B");
    // A CLP change on A reaches B within the refresh interval.
    a.put(
        "/schemas/Shared",
        json!({"classLevelPermissions": {"find": {}, "get": {}}}),
        As::Master,
    )
    .await;
    let mut denied = false;
    for _ in 0..40 {
        let r = on_b(&format!("/classes/Shared/{id}"))
            .send()
            .await
            .expect("sent");
        if r.status() == StatusCode::BAD_REQUEST {
            denied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(denied, "node B applies the new CLP within a few seconds");
    b_node.stop().await;
}
