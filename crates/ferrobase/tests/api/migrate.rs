//! `ferrobase migrate`: a whole app copied between stores, then served from the copy.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;

async fn seed_and_stop() -> tempfile::TempDir {
    let app = spawn().await;
    let (uid, _) = app.signup("ann", "ann-pw").await;
    let fans: Vec<String> = futures_ids(&app).await;
    let rel = json!({"__op": "AddRelation", "objects": fans.iter().map(|f| json!({"__type": "Pointer", "className": "Fan", "objectId": f})).collect::<Vec<_>>()});
    app.create("Band", json!({"name": "b", "owner": {"__type": "Pointer", "className": "_User", "objectId": uid}, "fans": rel})).await;
    app.post(
        "/roles",
        json!({"name": "Admins", "ACL": {"*": {"read": true}}}),
        As::Master,
    )
    .await;
    app.stop().await
}

async fn futures_ids(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(app.create("Fan", json!({"n": i})).await);
    }
    ids
}

async fn check_copy(dir: &std::path::Path, database_uri: Option<String>) {
    let mut config = test_config(dir);
    config.database_uri = database_uri;
    let node = ferrobase::serve::start(config)
        .await
        .expect("starts on the copy");
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{}{path}", node.url))
            .header("X-Parse-Application-Id", APP_ID)
    };
    let r = get("/login?username=ann&password=ann-pw".into())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "the password hash came along");
    let r = get("/classes/Band?include=owner".into())
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    let v: serde_json::Value = r.json().await.expect("json");
    let band = &v["results"][0];
    assert_eq!(band["owner"]["username"], json!("ann"));
    let w = json!({"$relatedTo": {"object": {"__type": "Pointer", "className": "Band", "objectId": band["objectId"]}, "key": "fans"}});
    let r = get(format!(
        "/classes/Fan?count=1&where={}",
        urlencode(&w.to_string())
    ))
    .send()
    .await
    .expect("sent");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["count"], json!(3), "relations came along");
    let r = get("/roles".into()).send().await.expect("sent");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["results"][0]["name"], json!("Admins"));
    node.stop().await;
}

#[tokio::test]
async fn migrate_between_embedded_stores_and_resume() {
    if on_mongo() {
        return; // the copy below is between data dirs; the MongoDB run is the next test
    }
    let src = seed_and_stop().await;
    let dst = tempfile::tempdir().expect("dir");
    let from = src.path().to_string_lossy().to_string();
    let to = dst.path().to_string_lossy().to_string();
    let n = ferrobase::migrate::run(&from, &to).await.expect("migrate");
    assert!(n >= 7, "users, sessions, fans, band, role: {n}");
    let again = ferrobase::migrate::run(&from, &to)
        .await
        .expect("migrate again");
    assert_eq!(again, 0, "a second run copies nothing and still verifies");
    // keys.json is per data dir: the copy is served with the same keys by config.
    check_copy(dst.path(), None).await;
}

#[tokio::test]
async fn migrate_to_mongodb_and_back() {
    let Ok(base) = std::env::var("FERROBASE_TEST_MONGODB_URI") else {
        eprintln!("SKIPPED: FERROBASE_TEST_MONGODB_URI is not set (scripts/test.sh sets it with FerretDB)");
        return;
    };
    let src = seed_and_stop().await;
    // The app was written to the test store: MongoDB in the FerretDB run, else the data dir.
    let from =
        test_database_uri(src.path()).unwrap_or_else(|| src.path().to_string_lossy().to_string());
    let embedded = tempfile::tempdir().expect("dir");
    ferrobase::migrate::run(&from, &embedded.path().to_string_lossy())
        .await
        .expect("to the embedded store");
    check_copy(embedded.path(), None).await;
    let mongo = format!(
        "{}/migrate_{}",
        base.trim_end_matches('/'),
        std::process::id()
    );
    ferrobase::migrate::run(&embedded.path().to_string_lossy(), &mongo)
        .await
        .expect("to MongoDB");
    let node_dir = tempfile::tempdir().expect("dir");
    check_copy(node_dir.path(), Some(mongo)).await;
}
