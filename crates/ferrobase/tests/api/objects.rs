use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn create_get_update_delete() {
    let app = spawn().await;
    let (s, h, v) = app
        .raw(
            Method::POST,
            "/classes/Product",
            Some(json!({"name": "shoe", "price": 49.5}).to_string()),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let id = v["objectId"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 10);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(h["location"]
        .to_str()
        .expect("ascii")
        .ends_with(&format!("/classes/Product/{id}")));
    let created = v["createdAt"].as_str().expect("createdAt");
    assert_eq!(created.len(), 24, "ISO with milliseconds: {created}");

    let (s, obj) = app.get(&format!("/classes/Product/{id}"), As::Public).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(obj["name"], json!("shoe"));
    assert_eq!(obj["price"], json!(49.5));
    assert_eq!(obj["createdAt"], obj["updatedAt"]);

    let (s, up) = app
        .put(
            &format!("/classes/Product/{id}"),
            json!({"price": 39}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(up["updatedAt"].is_string());
    assert!(up.get("price").is_none(), "plain sets are not echoed: {up}");
    let (_, obj) = app.get(&format!("/classes/Product/{id}"), As::Public).await;
    assert_eq!(obj["price"], json!(39));

    let (s, v) = app
        .delete(&format!("/classes/Product/{id}"), As::Public)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    assert_parse_error(
        &app.get(&format!("/classes/Product/{id}"), As::Public).await,
        404,
        101,
    );
    assert_parse_error(
        &app.delete(&format!("/classes/Product/{id}"), As::Public)
            .await,
        404,
        101,
    );
}

#[tokio::test]
async fn every_parse_type_round_trips() {
    let app = spawn().await;
    let target = app.create("Seller", json!({"name": "s"})).await;
    // FerretDB v1 cannot store nested arrays.
    let nested = if on_ferretdb(
        "nested array [4] in every_parse_type_round_trips",
        "FerretDB v1 stores no nested arrays",
    ) {
        json!({"four": 4})
    } else {
        json!([4])
    };
    let body = json!({
        "s": "text ünïcode ✓", "i": 42, "f": 1.25, "b": false, "n": null,
        "d": {"__type": "Date", "iso": "2024-02-29T12:34:56.789Z"},
        "p": {"__type": "Pointer", "className": "Seller", "objectId": target},
        "g": {"__type": "GeoPoint", "latitude": 48.85, "longitude": 2.35},
        "by": {"__type": "Bytes", "base64": "AAECAw=="},
        "file": {"__type": "File", "name": "abc_photo.jpg", "url": "http://x/abc_photo.jpg"},
        "arr": [1, "two", {"three": 3}, nested],
        "obj": {"nested": {"deep": [true, null]}},
        "ACL": {"*": {"read": true}}
    });
    let id = app.create("Typed", body.clone()).await;
    let (_, got) = app.get(&format!("/classes/Typed/{id}"), As::Master).await;
    for key in ["s", "i", "f", "b", "d", "p", "g", "by", "arr", "obj", "ACL"] {
        assert_eq!(got[key], body[key], "field {key}");
    }
    // As Parse, a File's `url` is made from its name on read (the client's url is not stored).
    assert_eq!(got["file"]["name"], "abc_photo.jpg");
    assert_eq!(
        got["file"]["url"],
        format!("{}/files/{APP_ID}/abc_photo.jpg", app.url)
    );
    assert!(got.get("n").is_none(), "null is not stored");
    let (_, schema) = app.get("/schemas/Typed", As::Master).await;
    let t = |k: &str| schema["fields"][k]["type"].clone();
    assert_eq!(t("d"), json!("Date"));
    assert_eq!(t("p"), json!("Pointer"));
    assert_eq!(schema["fields"]["p"]["targetClass"], json!("Seller"));
    assert_eq!(t("g"), json!("GeoPoint"));
    assert_eq!(t("by"), json!("Bytes"));
    assert_eq!(t("file"), json!("File"));
    assert_eq!(t("arr"), json!("Array"));
    assert_eq!(t("obj"), json!("Object"));
}

#[tokio::test]
async fn update_operators_and_their_echo() {
    let app = spawn().await;
    let id = app
        .create(
            "Ops",
            json!({"n": 1, "tags": ["a"], "gone": "x", "meta": {"c": 1}}),
        )
        .await;
    let path = format!("/classes/Ops/{id}");
    let (_, v) = app
        .put(
            &path,
            json!({"n": {"__op": "Increment", "amount": 2}}),
            As::Public,
        )
        .await;
    assert_eq!(v["n"], json!(3));
    let (_, v) = app
        .put(
            &path,
            json!({"n": {"__op": "Increment", "amount": -0.5}}),
            As::Public,
        )
        .await;
    assert_eq!(v["n"], json!(2.5));
    let (_, v) = app
        .put(
            &path,
            json!({"tags": {"__op": "Add", "objects": ["b", "a"]}}),
            As::Public,
        )
        .await;
    assert_eq!(v["tags"], json!(["a", "b", "a"]));
    let (_, v) = app
        .put(
            &path,
            json!({"tags": {"__op": "AddUnique", "objects": ["a", "c"]}}),
            As::Public,
        )
        .await;
    assert_eq!(v["tags"], json!(["a", "b", "a", "c"]));
    let (_, v) = app
        .put(
            &path,
            json!({"tags": {"__op": "Remove", "objects": ["a"]}}),
            As::Public,
        )
        .await;
    assert_eq!(v["tags"], json!(["b", "c"]));
    let (_, v) = app
        .put(
            &path,
            json!({"gone": {"__op": "Delete"}, "meta.c": {"__op": "Increment"}}),
            As::Public,
        )
        .await;
    assert!(v.get("gone").is_none());
    let (_, obj) = app.get(&path, As::Public).await;
    assert!(obj.get("gone").is_none());
    assert_eq!(obj["meta"], json!({"c": 2}));
    assert_parse_error(
        &app.put(&path, json!({"tags": {"__op": "Increment"}}), As::Public)
            .await,
        400,
        111,
    );
}

#[tokio::test]
async fn concurrent_increments_are_atomic() {
    let app = std::sync::Arc::new(spawn().await);
    let id = app.create("Counter", json!({"n": 0})).await;
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (app, id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..1000 {
                let (s, _) = app
                    .put(
                        &format!("/classes/Counter/{id}"),
                        json!({"n": {"__op": "Increment", "amount": 1}}),
                        As::Public,
                    )
                    .await;
                assert_eq!(s, StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let (_, obj) = app.get(&format!("/classes/Counter/{id}"), As::Public).await;
    assert_eq!(obj["n"], json!(2000));
}

#[tokio::test]
async fn acl_hides_and_protects_objects() {
    let app = spawn().await;
    let (a, ta) = app.signup("alice", "pw-a").await;
    let (_b, tb) = app.signup("bob", "pw-b").await;
    app.create("Doc", json!({"name": "public"})).await;
    let (s, v) = app
        .post(
            "/classes/Doc",
            json!({"name": "secret", "ACL": {a.clone(): {"read": true, "write": true}}}),
            As::User(&ta),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let secret = v["objectId"].as_str().expect("id").to_string();
    let (_, v) = app
        .query("Doc", &[("order", "name".into())], As::User(&ta))
        .await;
    assert_eq!(names(&v), vec!["public", "secret"]);
    let (_, v) = app
        .query("Doc", &[("count", "1".into())], As::User(&tb))
        .await;
    assert_eq!(names(&v), vec!["public"]);
    assert_eq!(v["count"], json!(1));
    assert_parse_error(
        &app.get(&format!("/classes/Doc/{secret}"), As::User(&tb))
            .await,
        404,
        101,
    );
    assert_parse_error(
        &app.put(
            &format!("/classes/Doc/{secret}"),
            json!({"name": "x"}),
            As::User(&tb),
        )
        .await,
        404,
        101,
    );
    assert_parse_error(
        &app.delete(&format!("/classes/Doc/{secret}"), As::Public)
            .await,
        404,
        101,
    );
    let (s, _) = app
        .put(
            &format!("/classes/Doc/{secret}"),
            json!({"name": "secret2"}),
            As::User(&ta),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = app.get(&format!("/classes/Doc/{secret}"), As::Master).await;
    assert_eq!(v["name"], json!("secret2"));
    // A forged _rperm in a body is refused, not stored.
    assert_parse_error(
        &app.post("/classes/Doc", json!({"_rperm": ["*"]}), As::User(&tb))
            .await,
        400,
        105,
    );
}

#[tokio::test]
async fn include_replaces_pointers_and_keys_projects() {
    let app = spawn().await;
    let company = app.create("Company", json!({"name": "acme"})).await;
    let seller = app
        .create("Seller", json!({"name": "sam", "company": {"__type": "Pointer", "className": "Company", "objectId": company}}))
        .await;
    let gone = app.create("Seller", json!({"name": "gone"})).await;
    app.create("Item", json!({"name": "i1", "price": 3, "seller": {"__type": "Pointer", "className": "Seller", "objectId": seller}}))
        .await;
    app.create("Item", json!({"name": "i2", "price": 4, "seller": {"__type": "Pointer", "className": "Seller", "objectId": gone}}))
        .await;
    app.delete(&format!("/classes/Seller/{gone}"), As::Master)
        .await;
    let (s, v) = app
        .query(
            "Item",
            &[
                ("include", "seller.company".into()),
                ("order", "name".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let first = &v["results"][0];
    assert_eq!(first["seller"]["__type"], json!("Object"));
    assert_eq!(first["seller"]["className"], json!("Seller"));
    assert_eq!(first["seller"]["name"], json!("sam"));
    assert_eq!(first["seller"]["company"]["name"], json!("acme"));
    assert!(
        v["results"][1].get("seller").is_none(),
        "a dangling include disappears"
    );
    let (_, v) = app
        .query(
            "Item",
            &[("keys", "name".into()), ("order", "-name".into())],
            As::Public,
        )
        .await;
    let o = &v["results"][0];
    assert_eq!(o["name"], json!("i2"));
    assert!(o.get("price").is_none());
    assert!(o["objectId"].is_string() && o["createdAt"].is_string());
    let (_, v) = app
        .query("Item", &[("excludeKeys", "price".into())], As::Public)
        .await;
    assert!(v["results"][0].get("price").is_none());
    assert!(v["results"][0].get("name").is_some());
}

#[tokio::test]
async fn relations_are_stored_and_queried() {
    let app = spawn().await;
    let u1 = app.create("Fan", json!({"name": "f1"})).await;
    let u2 = app.create("Fan", json!({"name": "f2"})).await;
    app.create("Fan", json!({"name": "f3"})).await;
    let rel = |ids: &[&str]| -> Value {
        json!({"__op": "AddRelation", "objects": ids.iter().map(|i| json!({"__type": "Pointer", "className": "Fan", "objectId": i})).collect::<Vec<_>>()})
    };
    let band = app
        .create("Band", json!({"name": "b", "fans": rel(&[&u1, &u2])}))
        .await;
    let (_, b) = app.get(&format!("/classes/Band/{band}"), As::Public).await;
    assert_eq!(b["fans"], json!({"__type": "Relation", "className": "Fan"}));
    let w = json!({"$relatedTo": {"object": {"__type": "Pointer", "className": "Band", "objectId": band}, "key": "fans"}});
    let (_, v) = app
        .query(
            "Fan",
            &[("where", w.to_string()), ("order", "name".into())],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["f1", "f2"]);
    app.put(
        &format!("/classes/Band/{band}"),
        json!({"fans": {"__op": "RemoveRelation", "objects": [{"__type": "Pointer", "className": "Fan", "objectId": u1}]}}),
        As::Public,
    )
    .await;
    let (_, v) = app
        .query("Fan", &[("where", w.to_string())], As::Public)
        .await;
    assert_eq!(names(&v), vec!["f2"]);
    // Equality on a relation field: bands whose fans contain u2.
    let w2 = json!({"fans": {"__type": "Pointer", "className": "Fan", "objectId": u2}});
    let (_, v) = app
        .query("Band", &[("where", w2.to_string())], As::Public)
        .await;
    assert_eq!(names(&v), vec!["b"]);
}
