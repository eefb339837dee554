use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn batch_answers_each_request_in_order() {
    let app = spawn().await;
    let id = app.create("Note", json!({"n": 1})).await;
    let body = json!({"requests": [
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": 10}},
        {"method": "PUT", "path": format!("/parse/classes/Note/{id}"), "body": {"n": {"__op": "Increment", "amount": 5}}},
        {"method": "GET", "path": format!("/parse/classes/Note/{id}")},
        {"method": "POST", "path": "/parse/classes/Note", "body": {"n": "not a number"}},
        {"method": "GET", "path": "/parse/nowhere"},
    ]});
    let (s, v) = app.post("/batch", body, As::Master).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let r = v.as_array().expect("array");
    assert_eq!(r.len(), 5);
    assert!(r[0]["success"]["objectId"].is_string());
    assert!(r[1]["success"]["updatedAt"].is_string());
    assert_eq!(r[2]["success"]["objectId"], json!(id));
    assert_eq!(r[3]["error"]["code"], json!(111));
    assert_eq!(
        r[4]["error"],
        json!({"code": 107, "error": "cannot route GET /parse/nowhere"})
    );
    let (_, v) = app
        .query(
            "Note",
            &[("count", "1".into()), ("limit", "0".into())],
            As::Public,
        )
        .await;
    assert_eq!(v["count"], json!(2));
}

#[tokio::test]
async fn transactional_batch_is_all_or_nothing() {
    if on_ferretdb(
        "transactional batch",
        "FerretDB v1 has no multi-document transactions (the store answers a clear error)",
    ) {
        return;
    }
    let app = spawn().await;
    app.create("Ledger", json!({"amount": 0})).await;
    let failing = json!({"transaction": true, "requests": [
        {"method": "POST", "path": "/parse/classes/Ledger", "body": {"amount": 1}},
        {"method": "POST", "path": "/parse/classes/Ledger", "body": {"amount": 2}},
        {"method": "POST", "path": "/parse/classes/Ledger", "body": {"amount": "three"}},
    ]});
    let (s, v) = app.post("/batch", failing, As::Master).await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["code"], json!(1));
    assert!(v["message"]
        .as_str()
        .expect("message")
        .contains("batch request 2"));
    let (_, v) = app
        .query(
            "Ledger",
            &[("count", "1".into()), ("limit", "0".into())],
            As::Public,
        )
        .await;
    assert_eq!(
        v["count"],
        json!(1),
        "nothing from the failed batch was kept"
    );
    // A transaction that adds a field and then fails leaves no trace in the schema.
    let (_, schema) = app.get("/schemas/Ledger", As::Master).await;
    assert_eq!(schema["fields"]["amount"]["type"], json!("Number"));

    let ok = json!({"transaction": true, "requests": [
        {"method": "POST", "path": "/parse/classes/Ledger", "body": {"amount": 1, "memo": "a"}},
        {"method": "POST", "path": "/parse/classes/NewClass", "body": {"x": 1}},
    ]});
    let (s, v) = app.post("/batch", ok, As::Master).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .query(
            "Ledger",
            &[("count", "1".into()), ("limit", "0".into())],
            As::Public,
        )
        .await;
    assert_eq!(v["count"], json!(2));
    let (_, v) = app.query("NewClass", &[], As::Public).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn batch_limits_and_shape_errors() {
    let app = spawn_with(|c| c.max_batch_size = Some(3)).await;
    let reqs: Vec<Value> = (0..4)
        .map(|i| json!({"method": "POST", "path": "/parse/classes/B", "body": {"i": i}}))
        .collect();
    assert_parse_error(
        &app.post("/batch", json!({"requests": reqs}), As::Master)
            .await,
        400,
        107,
    );
    assert_parse_error(&app.post("/batch", json!({}), As::Master).await, 400, 107);
    let (s, v) = app
        .post("/batch", json!({"requests": []}), As::Master)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    // Sub-requests inherit the caller's rights: no master key, no class creation.
    let (_, v) = app
        .post(
            "/batch",
            json!({"requests": [{"method": "POST", "path": "/parse/classes/Fresh", "body": {}}]}),
            As::Public,
        )
        .await;
    assert_eq!(v[0]["error"]["code"], json!(119));
}

#[tokio::test]
async fn batches_have_no_default_cap() {
    let app = spawn().await;
    let reqs: Vec<Value> = (0..120)
        .map(|i| json!({"method": "POST", "path": "/parse/classes/Big", "body": {"i": i}}))
        .collect();
    let (s, v) = app
        .post("/batch", json!({"requests": reqs}), As::Master)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().map(Vec::len), Some(120));
    assert!(v[119]["success"]["objectId"].is_string(), "{}", v[119]);
}

#[tokio::test]
async fn a_path_outside_the_mount_refuses_the_whole_batch() {
    let app = spawn().await;
    let body = json!({"requests": [
        {"method": "POST", "path": "/parse/classes/Memo", "body": {"n": 1}},
        {"method": "POST", "path": "/classes/Memo", "body": {"n": 2}},
    ]});
    let (s, v) = app.post("/batch", body, As::Master).await;
    assert_eq!(
        (s.as_u16(), v),
        (
            400,
            json!({"code": 107, "error": "cannot route batch path /classes/Memo"})
        )
    );
    let (_, v) = app.query("Memo", &[], As::Master).await;
    assert_eq!(
        v["results"].as_array().map(Vec::len).unwrap_or(0),
        0,
        "nothing ran"
    );
}
