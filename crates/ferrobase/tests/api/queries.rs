use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn day(d: u32) -> Value {
    json!({"__type": "Date", "iso": format!("2024-01-{d:02}T00:00:00.000Z")})
}

/// Six fruits with every kind of field, and an `Owner` each points to.
async fn seed(app: &TestApp) -> String {
    let o1 = app.create("Owner", json!({"name": "o1", "rank": 1})).await;
    let o2 = app.create("Owner", json!({"name": "o2", "rank": 2})).await;
    let p = |id: &str| json!({"__type": "Pointer", "className": "Owner", "objectId": id});
    let rows = vec![
        json!({"name": "apple", "n": 1, "f": 1.5, "tags": ["red", "fruit"], "meta": {"color": "red", "size": 1}, "when": day(1), "flag": true, "opt": "x", "owner": p(&o1)}),
        json!({"name": "banana", "n": 2, "f": 2.5, "tags": ["yellow", "fruit"], "meta": {"color": "yellow", "size": 2}, "when": day(2), "flag": false, "owner": p(&o2)}),
        json!({"name": "cherry", "n": 3, "f": 3.5, "tags": ["red", "fruit", "small"], "meta": {"color": "red", "size": 3}, "when": day(3), "flag": true, "opt": "y", "owner": p(&o1)}),
        json!({"name": "date", "n": 4, "f": 4.5, "tags": ["brown"], "meta": {"color": "brown", "size": 4}, "when": day(4), "flag": false, "opt": null}),
        json!({"name": "elder", "n": 5, "f": 5.5, "tags": [], "meta": {"color": "purple", "size": 5}, "when": day(5), "flag": true}),
        json!({"name": "fig", "n": 6, "f": 6.5, "tags": ["purple"], "meta": {"color": "purple", "size": 6}, "when": day(6), "flag": false, "label": "6"}),
    ];
    for r in rows {
        app.create("Fruit", r).await;
    }
    o1
}

async fn names_where(app: &TestApp, w: Value) -> Vec<String> {
    let (s, v) = app
        .query(
            "Fruit",
            &[("where", w.to_string()), ("order", "name".into())],
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "where {w}: {v}");
    names(&v)
}

#[tokio::test]
async fn where_operators_match_parse_semantics() {
    let app = spawn().await;
    let o1 = seed(&app).await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"name": "apple"}), vec!["apple"]),
        (json!({"n": {"$eq": 2}}), vec!["banana"]),
        (
            json!({"n": {"$ne": 2}}),
            vec!["apple", "cherry", "date", "elder", "fig"],
        ),
        (json!({"n": {"$lt": 3}}), vec!["apple", "banana"]),
        (
            json!({"n": {"$lte": 3, "$gt": 1}}),
            vec!["banana", "cherry"],
        ),
        (json!({"f": {"$gte": 5.5}}), vec!["elder", "fig"]),
        (json!({"name": {"$gt": "d"}}), vec!["date", "elder", "fig"]),
        (
            json!({"name": {"$in": ["apple", "fig", "nope"]}}),
            vec!["apple", "fig"],
        ),
        (
            json!({"name": {"$nin": ["apple", "fig"]}}),
            vec!["banana", "cherry", "date", "elder"],
        ),
        (json!({"opt": {"$exists": true}}), vec!["apple", "cherry"]),
        (
            json!({"opt": {"$exists": false}}),
            vec!["banana", "date", "elder", "fig"],
        ),
        (
            json!({"label": {"$ne": "6"}}),
            vec!["apple", "banana", "cherry", "date", "elder"],
        ),
        (json!({"flag": true}), vec!["apple", "cherry", "elder"]),
        (json!({"flag": false}), vec!["banana", "date", "fig"]),
        (
            json!({"name": {"$regex": "^B", "$options": "i"}}),
            vec!["banana"],
        ),
        (json!({"name": {"$regex": "er"}}), vec!["cherry", "elder"]),
        (json!({"name": {"$regex": "^\\Qa.\\E"}}), vec![]),
        (json!({"tags": "red"}), vec!["apple", "cherry"]),
        (json!({"tags": {"$all": ["red", "small"]}}), vec!["cherry"]),
        (
            json!({"tags": {"$in": ["yellow", "brown"]}}),
            vec!["banana", "date"],
        ),
        (
            json!({"tags": {"$containedBy": ["red", "fruit", "yellow"]}}),
            vec!["apple", "banana", "elder"],
        ),
        (json!({"meta.color": "purple"}), vec!["elder", "fig"]),
        (json!({"meta.size": {"$gt": 4}}), vec!["elder", "fig"]),
        (json!({"when": {"$gte": day(5)}}), vec!["elder", "fig"]),
        (
            json!({"when": {"$lt": {"__type": "Date", "iso": "2024-01-02T00:00:00Z"}}}),
            vec!["apple"],
        ),
        (
            json!({"owner": {"__type": "Pointer", "className": "Owner", "objectId": o1}}),
            vec!["apple", "cherry"],
        ),
        (
            json!({"$or": [{"n": 1}, {"name": "fig"}]}),
            vec!["apple", "fig"],
        ),
        (
            json!({"$and": [{"flag": true}, {"n": {"$gt": 1}}]}),
            vec!["cherry", "elder"],
        ),
        (
            json!({"$nor": [{"flag": true}, {"n": 6}]}),
            vec!["banana", "date"],
        ),
        // Parse's type rules: a number never equals a string, a boolean never equals a number.
        (json!({"n": "1"}), vec![]),
        (json!({"flag": 1}), vec![]),
        (json!({"label": 6}), vec![]),
        (
            json!({"missing": null}),
            vec!["apple", "banana", "cherry", "date", "elder", "fig"],
        ),
        (json!({"name": "o'brien\"; DROP TABLE Fruit; --"}), vec![]),
        (json!({"meta.it's": "x"}), vec![]),
    ];
    for (w, want) in cases {
        assert_eq!(names_where(&app, w.clone()).await, want, "where {w}");
    }
}

#[tokio::test]
async fn sub_queries() {
    let app = spawn().await;
    seed(&app).await;
    let inq = json!({"owner": {"$inQuery": {"className": "Owner", "where": {"rank": 1}}}});
    assert_eq!(names_where(&app, inq).await, vec!["apple", "cherry"]);
    let notin = json!({"owner": {"$notInQuery": {"className": "Owner", "where": {"rank": 1}}}});
    assert_eq!(
        names_where(&app, notin).await,
        vec!["banana", "date", "elder", "fig"]
    );
    let sel =
        json!({"n": {"$select": {"query": {"className": "Owner", "where": {}}, "key": "rank"}}});
    assert_eq!(names_where(&app, sel).await, vec!["apple", "banana"]);
    let dont = json!({"n": {"$dontSelect": {"query": {"className": "Owner", "where": {}}, "key": "rank"}}});
    assert_eq!(
        names_where(&app, dont).await,
        vec!["cherry", "date", "elder", "fig"]
    );
}

#[tokio::test]
async fn order_limit_skip_count() {
    let app = spawn().await;
    seed(&app).await;
    let (_, v) = app
        .query(
            "Fruit",
            &[("order", "-n".into()), ("limit", "2".into())],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["fig", "elder"]);
    let (_, v) = app
        .query(
            "Fruit",
            &[
                ("order", "flag,-n".into()),
                ("skip", "1".into()),
                ("limit", "3".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["date", "banana", "elder"]);
    let (_, v) = app
        .query(
            "Fruit",
            &[("order", "-when".into()), ("limit", "1".into())],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["fig"]);
    let (_, v) = app
        .query(
            "Fruit",
            &[
                ("where", json!({"flag": true}).to_string()),
                ("count", "1".into()),
                ("limit", "0".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(v, json!({"results": [], "count": 3}));
    let (_, v) = app
        .query(
            "Fruit",
            &[("count", "1".into()), ("limit", "1".into())],
            As::Public,
        )
        .await;
    assert_eq!(v["count"], json!(6));
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    // Default limit is 100.
    let (_, v) = app.query("Fruit", &[], As::Public).await;
    assert_eq!(v["results"].as_array().map(Vec::len), Some(6));
}

#[tokio::test]
async fn bad_queries_get_parse_errors() {
    let app = spawn().await;
    seed(&app).await;
    let q = |w: &str| vec![("where", w.to_string())];
    assert_parse_error(
        &app.query("Fruit", &q("{not json"), As::Public).await,
        400,
        107,
    );
    assert_parse_error(
        &app.query("Fruit", &q(r#"{"$where": "sleep(1000)"}"#), As::Public)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.query("Fruit", &q(r#"{"n": {"$function": {}}}"#), As::Public)
            .await,
        400,
        107,
    );
    assert_parse_error(
        &app.query("Fruit", &q(r#"{"_hashed_password": "x"}"#), As::Public)
            .await,
        400,
        105,
    );
    assert_parse_error(
        &app.query(
            "Fruit",
            &q(r#"{"name": {"$regex": "(unclosed"}}"#),
            As::Public,
        )
        .await,
        400,
        102,
    );
    assert_parse_error(
        &app.query("Fruit", &q(r#"{"name": {"$in": "apple"}}"#), As::Public)
            .await,
        400,
        107,
    );
    assert_parse_error(
        &app.query("Fruit", &[("limit", "abc".into())], As::Public)
            .await,
        400,
        102,
    );
    assert_parse_error(
        &app.query("Fruit", &[("limit", "-1".into())], As::Public)
            .await,
        400,
        102,
    );
    assert_parse_error(
        &app.query("Fruit", &[("order", "name;drop".into())], As::Public)
            .await,
        400,
        105,
    );
    // A catastrophic-backtracking pattern answers quickly (linear-time engine).
    let (s, _) = app
        .query("Fruit", &q(r#"{"name": {"$regex": "(a+)+$"}}"#), As::Public)
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn aggregate_pipelines_and_distinct() {
    let app = spawn().await;
    seed(&app).await;
    let pipeline = json!([
        {"$match": {"n": {"$gte": 2}}},
        {"$group": {"objectId": "$flag", "total": {"$sum": "$n"}, "names": {"$push": "$name"}}},
        {"$sort": {"total": -1}}
    ]);
    let (s, v) = app
        .get(
            &format!(
                "/aggregate/Fruit?pipeline={}",
                urlencode(&pipeline.to_string())
            ),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["results"],
        json!([
            {"objectId": false, "total": 12, "names": ["banana", "date", "fig"]},
            {"objectId": true, "total": 8, "names": ["cherry", "elder"]},
        ])
    );
    let p2 = json!([{"$unwind": "$tags"}, {"$group": {"objectId": "$tags", "c": {"$sum": 1}}}, {"$sort": {"c": -1, "objectId": 1}}, {"$limit": 2}]);
    let (_, v) = app
        .get(
            &format!("/aggregate/Fruit?pipeline={}", urlencode(&p2.to_string())),
            As::Master,
        )
        .await;
    assert_eq!(
        v["results"],
        json!([{"objectId": "fruit", "c": 3}, {"objectId": "red", "c": 2}])
    );
    let (_, v) = app.get("/aggregate/Fruit?count=%22n%22", As::Master).await;
    assert_eq!(v["results"], json!([{"n": 6}]));
    let (_, v) = app
        .get(
            &format!(
                "/aggregate/Fruit?distinct=meta.color&where={}",
                urlencode(&json!({"flag": true}).to_string())
            ),
            As::Master,
        )
        .await;
    assert_eq!(v["results"], json!(["red", "purple"]));
    let (s, v) = app.get("/aggregate/Fruit?distinct=name", As::Public).await;
    assert_eq!(
        (s, v),
        (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
    );
    let bad = json!([{"$out": "Stolen"}]);
    assert_parse_error(
        &app.get(
            &format!("/aggregate/Fruit?pipeline={}", urlencode(&bad.to_string())),
            As::Master,
        )
        .await,
        400,
        102,
    );
}

#[tokio::test]
async fn schema_indexes_serve_where_and_order() {
    if on_mongo() {
        eprintln!("SKIPPED on MongoDB: schema indexes/explain: the checks read SQLite's EXPLAIN QUERY PLAN text");
        return;
    }
    let app = spawn().await;
    app.post(
        "/schemas/Item",
        json!({"fields": {"price": {"type": "Number"}, "cat": {"type": "String"}}}),
        As::Master,
    )
    .await;
    for i in 0..50 {
        app.create(
            "Item",
            json!({"price": i, "cat": if i % 2 == 0 { "even" } else { "odd" }}),
        )
        .await;
    }
    let explain = |w: Value, order: &str| {
        vec![
            ("where", w.to_string()),
            ("order", order.to_string()),
            ("limit", "20".to_string()),
            ("explain", "true".to_string()),
        ]
    };
    let plan = |v: &Value| {
        v["results"][0]["plan"]
            .as_array()
            .expect("plan")
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | ")
    };
    let (s, v) = app
        .query(
            "Item",
            &explain(json!({"price": {"$gt": 10}}), "-price"),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let before = plan(&v);
    assert!(before.contains("SCAN"), "no index yet: {before}");
    let (s, v) = app
        .put(
            "/schemas/Item",
            json!({"indexes": {"price_1": {"price": 1}, "cat_price": {"cat": 1, "price": -1}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, v) = app
        .query(
            "Item",
            &explain(json!({"price": {"$gt": 10}}), "-price"),
            As::Master,
        )
        .await;
    let after = plan(&v);
    assert!(
        after.contains("USING INDEX") && after.contains("price_1"),
        "{after}"
    );
    assert!(
        !after.contains("USE TEMP B-TREE"),
        "order served by the index: {after}"
    );
    let (_, v) = app
        .query(
            "Item",
            &explain(json!({"cat": "odd"}), "-price"),
            As::Master,
        )
        .await;
    let compound = plan(&v);
    assert!(compound.contains("cat_price"), "{compound}");
    // The answers are right, and clients cannot ask for plans.
    let (_, v) = app
        .query(
            "Item",
            &[
                ("where", json!({"price": {"$gt": 10}}).to_string()),
                ("order", "-price".into()),
                ("limit", "3".into()),
            ],
            As::Public,
        )
        .await;
    let prices: Vec<i64> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|o| o["price"].as_i64())
        .collect();
    assert_eq!(prices, vec![49, 48, 47]);
    let (s, _) = app
        .query("Item", &explain(json!({}), "price"), As::Public)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn differential_findings_hold() {
    let app = spawn().await;
    seed(&app).await;
    // $regex on an Array field matches any element; $exists takes any truthy value.
    assert_eq!(
        names_where(&app, json!({"tags": {"$regex": "^pur"}})).await,
        vec!["fig"]
    );
    assert_eq!(
        names_where(&app, json!({"opt": {"$exists": "yes"}})).await,
        vec!["apple", "cherry"]
    );
    assert_eq!(
        names_where(&app, json!({"opt": {"$exists": 0}})).await,
        vec!["banana", "date", "elder", "fig"]
    );
    // A nested array matches by member.
    app.create("Fruit", json!({"name": "kiwi", "meta": {"list": [1, 2]}}))
        .await;
    assert_eq!(
        names_where(&app, json!({"meta.list": 2})).await,
        vec!["kiwi"]
    );
    // Unknown operators and non-array lists: 107, as Parse on MongoDB.
    let q = |w: Value| vec![("where", w.to_string())];
    assert_parse_error(
        &app.query("Fruit", &q(json!({"tags": {"$all": "red"}})), As::Public)
            .await,
        400,
        107,
    );
    assert_parse_error(
        &app.query("Fruit", &q(json!({"n": {"$foo": 1}})), As::Public)
            .await,
        400,
        107,
    );
    // keys keeps Relation markers; include=* expands arrays of pointers too.
    app.post(
        "/schemas/Holder",
        json!({"fields": {"rel": {"type": "Relation", "targetClass": "Owner"}}}),
        As::Master,
    )
    .await;
    let (_, owners) = app
        .query("Owner", &[("order", "name".into())], As::Public)
        .await;
    let ptrs: Vec<Value> = owners["results"]
        .as_array()
        .expect("owners")
        .iter()
        .map(|o| json!({"__type": "Pointer", "className": "Owner", "objectId": o["objectId"]}))
        .collect();
    app.create("Holder", json!({"name": "h", "team": ptrs}))
        .await;
    let (_, v) = app
        .query("Holder", &[("keys", "name".into())], As::Public)
        .await;
    assert_eq!(
        v["results"][0]["rel"],
        json!({"__type": "Relation", "className": "Owner"})
    );
    let (_, v) = app
        .query("Holder", &[("include", "*".into())], As::Public)
        .await;
    assert_eq!(v["results"][0]["team"][0]["__type"], json!("Object"));
    assert_eq!(v["results"][0]["team"][1]["name"], json!("o2"));
}

#[tokio::test]
async fn fields_queried_on_large_classes_are_indexed_automatically() {
    let app = spawn_with(|c| c.auto_index_min_rows = Some(20)).await;
    app.post(
        "/schemas/Auto",
        json!({"fields": {"price": {"type": "Number"}, "tag": {"type": "String"}}}),
        As::Master,
    )
    .await;
    let reqs: Vec<Value> = (0..30)
        .map(|i| json!({"method": "POST", "path": "/parse/classes/Auto", "body": {"price": i, "tag": "t"}}))
        .collect();
    app.post("/batch", json!({"requests": reqs}), As::Master)
        .await;
    let (_, v) = app
        .query(
            "Auto",
            &[("order", "-price".into()), ("limit", "2".into())],
            As::Public,
        )
        .await;
    assert_eq!(v["results"][0]["price"], json!(29));
    let (_, schema) = app.get("/schemas/Auto", As::Master).await;
    assert_eq!(
        schema["indexes"]["auto_price"],
        json!({"price": 1}),
        "{schema}"
    );
    assert!(schema["indexes"].get("auto_tag").is_none());
    // Equality + sort: one compound index serves both.
    app.query(
        "Auto",
        &[
            ("where", json!({"tag": "t"}).to_string()),
            ("order", "-price".into()),
        ],
        As::Public,
    )
    .await;
    let (_, schema) = app.get("/schemas/Auto", As::Master).await;
    assert_eq!(
        schema["indexes"]["auto_tag_price"],
        json!({"tag": 1, "price": 1}),
        "{schema}"
    );
    // Small classes are left alone.
    let small = spawn().await;
    small.create("Tiny", json!({"price": 1})).await;
    small
        .query("Tiny", &[("order", "price".into())], As::Public)
        .await;
    let (_, schema) = small.get("/schemas/Tiny", As::Master).await;
    assert!(schema.get("indexes").is_none(), "{schema}");
}

/// Plain finds of an app class are answered from the stored JSON text without parsing it
/// (`Core::find_wire`); `excludeKeys` of a field nobody has forces the object path. Both must
/// answer the same objects, field for field, to the public, a user and the master key, with the
/// ACL rules applied the same way.
#[tokio::test]
async fn stored_json_answers_equal_the_object_path() {
    let app = spawn().await;
    seed(&app).await;
    let (uid, token) = app.signup("wire", "pw-wire-1").await;
    let mut acl = serde_json::Map::new();
    acl.insert(uid.clone(), json!({"read": true, "write": true}));
    app.create(
        "Fruit",
        json!({"name": "private", "n": 7, "ACL": acl, "bytes": {"__type": "Bytes", "base64": "AQID"},
               "where": {"__type": "GeoPoint", "latitude": 1.5, "longitude": -2.25},
               "quote": "a \"quoted\" \\ value", "empty": {}}),
    )
    .await;
    for who in [As::Public, As::User(&token), As::Master] {
        let base = [("order", "name".to_string()), ("count", "1".to_string())];
        let (s1, fast) = app.query("Fruit", &base, who_again(&who, &token)).await;
        let mut slow_params = base.to_vec();
        slow_params.push(("excludeKeys", "noSuchField".to_string()));
        let (s2, slow) = app
            .query("Fruit", &slow_params, who_again(&who, &token))
            .await;
        assert_eq!(
            (s1, s2),
            (StatusCode::OK, StatusCode::OK),
            "{fast} / {slow}"
        );
        assert_eq!(fast, slow, "the two paths differ");
        let n = names(&fast);
        let sees_private = !matches!(who, As::Public);
        assert_eq!(n.contains(&"private".to_string()), sees_private, "{n:?}");
        assert_eq!(fast["count"], json!(if sees_private { 7 } else { 6 }));
    }
}

fn who_again<'a>(who: &As<'_>, token: &'a str) -> As<'a> {
    match who {
        As::Public => As::Public,
        As::User(_) => As::User(token),
        As::Master => As::Master,
    }
}

#[tokio::test]
async fn a_class_that_does_not_exist_yet_answers_empty() {
    // By default (Parse 9: allowClientClassCreation false) only the master key, or a system
    // class, reads a class that does not exist: the others get 119.
    let app = spawn().await;
    let (_, token) = app.signup("newbie", "pw").await;
    for who in [As::Public, As::User(&token)] {
        assert_parse_error(&app.query("NotYet", &[], who).await, 400, 119);
        // Installations are never found by clients (Parse's enforceRoleSecurity), existing or not.
        assert_parse_error(
            &app.query("_Installation", &[("count", "1".into())], who)
                .await,
            400,
            119,
        );
    }
    let (s, v) = app
        .query("NotYet", &[("count", "1".into())], As::Master)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({"results": [], "count": 0})));
    // With client class creation allowed (as the SDKs' own test servers run), any client.
    let app = spawn_with(|c| c.allow_client_class_creation = true).await;
    let (_, token) = app.signup("newbie", "pw").await;
    for who in [As::Public, As::User(&token), As::Master] {
        let (s, v) = app.query("NotYet", &[("count", "1".into())], who).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v, json!({"results": [], "count": 0}));
        assert_parse_error(&app.get("/classes/NotYet/abc", who).await, 404, 101);
    }
}

#[tokio::test]
async fn relations_take_batch_ops_and_redirected_queries() {
    let app = spawn().await;
    let kid = |id: &str| json!({"__type": "Pointer", "className": "Kid", "objectId": id});
    let mut kids = Vec::new();
    for i in 0..3 {
        kids.push(app.create("Kid", json!({"i": i})).await);
    }
    let parent = app
        .create(
            "Parent",
            json!({"kids": {"__op": "AddRelation", "objects": [kid(&kids[0]), kid(&kids[1])]}}),
        )
        .await;
    // One save that adds and removes: the SDKs send a Batch of both.
    let (s, v) = app
        .put(
            &format!("/classes/Parent/{parent}"),
            json!({"kids": {"__op": "Batch", "ops": [
                {"__op": "AddRelation", "objects": [kid(&kids[2])]},
                {"__op": "RemoveRelation", "objects": [kid(&kids[0])]}
            ]}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let related = json!({"$relatedTo": {"object": {"__type": "Pointer", "className": "Parent", "objectId": parent}, "key": "kids"}});
    let (_, v) = app
        .query(
            "Kid",
            &[("where", related.to_string()), ("order", "i".into())],
            As::Public,
        )
        .await;
    let got: Vec<i64> = v["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["i"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(got, vec![1, 2], "{v}");
    // A Batch may only carry relation ops.
    assert_parse_error(
        &app.put(
            &format!("/classes/Parent/{parent}"),
            json!({"kids": {"__op": "Batch", "ops": [{"__op": "Increment", "amount": 1}]}}),
            As::Master,
        )
        .await,
        400,
        107,
    );
    // The SDK's relation query on a parent known by id: /classes/Parent redirected to Kid.
    let (s, v) = app
        .query(
            "Parent",
            &[
                ("where", related.to_string()),
                ("redirectClassNameForKey", "kids".into()),
                ("order", "i".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got: Vec<i64> = v["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["i"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(got, vec![1, 2], "{v}");
}
