//! The store conformance suite: written once against the `Storage` trait, run by every adapter's
//! tests (`ferrobase-sqlite/tests/conformance.rs`, and the MongoDB adapter's when it lands).
//! Each check panics with a message naming what the store got wrong.
#![allow(clippy::unwrap_used, clippy::panic)]

use crate::query::{parse_where, Cond, Filter, Scalar, SortKey, StoreQuery};
use crate::schema::{ClassSchema, FieldType};
use crate::storage::Storage;
use crate::types::Object;
use crate::update::{UpdateOp, Updates};
use serde_json::{json, Value};
use std::sync::Arc;

fn obj(v: Value) -> Object {
    v.as_object().cloned().expect("object literal")
}

fn schema(class: &str, fields: &[(&str, FieldType)]) -> ClassSchema {
    let mut s = ClassSchema::new(class);
    for (k, t) in fields {
        s.fields.insert((*k).to_string(), t.clone());
    }
    s
}

fn row(id: &str, extra: Value) -> Object {
    let mut o = obj(extra);
    o.insert("objectId".into(), json!(id));
    o.insert(
        "createdAt".into(),
        json!(format!("2024-01-01T00:00:00.00{}Z", id.len() % 10)),
    );
    o.insert("updatedAt".into(), json!("2024-01-01T00:00:00.000Z"));
    o
}

async fn ids(store: &dyn Storage, s: &ClassSchema, q: StoreQuery) -> Vec<String> {
    store
        .find(s, &q, None)
        .await
        .expect("find")
        .iter()
        .map(|o| o["objectId"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn where_ids(store: &dyn Storage, s: &ClassSchema, w: Value) -> Vec<String> {
    let mut q = StoreQuery::filter(parse_where(&w).expect("valid where"));
    q.order = vec![SortKey {
        path: "objectId".into(),
        descending: false,
    }];
    ids(store, s, q).await
}

/// Runs every check on a fresh, empty store.
pub async fn run(store: Arc<dyn Storage>) {
    run_skipping(store, &[]).await;
}

/// Runs every check but those named in `skip` (e.g. `"transactions"` on a store whose server has
/// none); the skipped checks are printed.
pub async fn run_skipping(store: Arc<dyn Storage>, skip: &[&str]) {
    for s in skip {
        eprintln!("conformance: skipping check `{s}` on {}", store.kind());
    }
    schemas_round_trip(&*store).await;
    filters_and_types(&*store).await;
    order_limit_skip_count(&*store).await;
    updates_are_applied_and_returned(&store).await;
    unique_violations_are_137(&*store).await;
    acl_filters(&*store).await;
    relations(&*store).await;
    if !skip.contains(&"transactions") {
        transactions(&*store).await;
    }
    deletes_purges_and_drops(&*store).await;
}

async fn schemas_round_trip(store: &dyn Storage) {
    let mut s = schema(
        "ConfA",
        &[
            ("name", FieldType::String),
            ("p", FieldType::Pointer("ConfB".into())),
        ],
    );
    s.clp = json!({"find": {"*": true}});
    s.indexes.insert("by_name".into(), json!({"name": 1}));
    store.save_schema(&s, None).await.expect("save schema");
    let all = store.load_schemas().await.expect("load");
    let back = all
        .iter()
        .find(|x| x.class_name == "ConfA")
        .expect("schema stored");
    // MongoDB lists its primary index `_id_` as Parse Server does; it is not a schema index.
    let mut back = back.clone();
    back.indexes.remove("_id_");
    assert_eq!(back, s, "schema round trip");
}

async fn filters_and_types(store: &dyn Storage) {
    let s = schema(
        "ConfF",
        &[
            ("n", FieldType::Number),
            ("tags", FieldType::Array),
            ("d", FieldType::Date),
        ],
    );
    store.save_schema(&s, None).await.expect("save");
    let rows = [
        row(
            "a",
            json!({"n": 1, "s": "x", "b": true, "tags": ["red", "big"], "meta": {"c": "red"}, "d": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}),
        ),
        row(
            "b",
            json!({"n": 2, "s": "y", "b": false, "tags": ["blue"], "meta": {"c": "blue"}, "d": {"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}}),
        ),
        row(
            "c",
            json!({"n": "2", "s": null, "tags": [], "p": {"__type": "Pointer", "className": "ConfB", "objectId": "z"}}),
        ),
        row("d", json!({"n": 3.5, "b": 1})),
    ];
    for r in rows {
        store.insert(&s, r, None).await.expect("insert");
    }
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"n": 2}), vec!["b"]),
        (json!({"n": "2"}), vec!["c"]),
        (json!({"n": {"$gt": 1}}), vec!["b", "d"]),
        (json!({"n": {"$in": [1, "2"]}}), vec!["a", "c"]),
        (json!({"n": {"$nin": [1, 2]}}), vec!["c", "d"]),
        (json!({"b": true}), vec!["a"]),
        (json!({"b": 1}), vec!["d"]),
        (json!({"s": null}), vec!["c", "d"]),
        (json!({"s": {"$exists": true}}), vec!["a", "b", "c"]),
        (json!({"s": {"$ne": "x"}}), vec!["b", "c", "d"]),
        (json!({"tags": "red"}), vec!["a"]),
        (json!({"tags": {"$all": ["red", "big"]}}), vec!["a"]),
        (
            json!({"tags": {"$containedBy": ["blue", "green"]}}),
            vec!["b", "c"],
        ),
        (json!({"meta.c": "blue"}), vec!["b"]),
        (json!({"s": {"$regex": "^X", "$options": "i"}}), vec!["a"]),
        (
            json!({"d": {"$gt": {"__type": "Date", "iso": "2024-01-15T00:00:00Z"}}}),
            vec!["b"],
        ),
        (
            json!({"p": {"__type": "Pointer", "className": "ConfB", "objectId": "z"}}),
            vec!["c"],
        ),
        (json!({"$or": [{"n": 1}, {"n": 3.5}]}), vec!["a", "d"]),
        (json!({"$nor": [{"n": 1}, {"n": 3.5}]}), vec!["b", "c"]),
        (json!({"objectId": {"$in": ["a", "c"]}}), vec!["a", "c"]),
    ];
    for (w, want) in cases {
        assert_eq!(where_ids(store, &s, w.clone()).await, want, "where {w}");
    }
    let ci = Filter::Field {
        path: "s".into(),
        cond: Cond::EqIgnoreCase("X".into()),
    };
    assert_eq!(
        ids(store, &s, StoreQuery::filter(ci)).await,
        vec!["a"],
        "case-insensitive equality"
    );
}

async fn order_limit_skip_count(store: &dyn Storage) {
    let s = schema("ConfO", &[("n", FieldType::Number)]);
    store.save_schema(&s, None).await.expect("save");
    for i in 0..10 {
        store
            .insert(&s, row(&format!("o{i}"), json!({"n": i % 5, "k": i})), None)
            .await
            .expect("insert");
    }
    let q = StoreQuery {
        filter: Filter::True,
        order: vec![
            SortKey {
                path: "n".into(),
                descending: true,
            },
            SortKey {
                path: "k".into(),
                descending: false,
            },
        ],
        limit: Some(3),
        skip: 1,
    };
    assert_eq!(
        ids(store, &s, q).await,
        vec!["o9", "o3", "o8"],
        "order n desc, k asc, skip 1, limit 3"
    );
    let gt = parse_where(&json!({"n": {"$gte": 3}})).expect("where");
    assert_eq!(store.count(&s, &gt, None).await.expect("count"), 4);
    assert_eq!(
        store.count(&s, &Filter::True, None).await.expect("count"),
        10
    );
}

async fn updates_are_applied_and_returned(shared: &Arc<dyn Storage>) {
    let store = &**shared;
    let s = schema("ConfU", &[("n", FieldType::Number)]);
    store.save_schema(&s, None).await.expect("save");
    store
        .insert(&s, row("u1", json!({"n": 1, "l": ["a"]})), None)
        .await
        .expect("insert");
    let ups: Updates = vec![
        ("n".into(), UpdateOp::Increment(5.into())),
        (
            "l".into(),
            UpdateOp::AddUnique(vec![json!("a"), json!("b")]),
        ),
        (
            "updatedAt".into(),
            UpdateOp::Set(json!("2025-01-01T00:00:00.000Z")),
        ),
    ];
    let got = store
        .update(&s, &Filter::object_id("u1"), &ups, None)
        .await
        .expect("update")
        .expect("matched");
    assert_eq!(got.before["n"], json!(1), "the object before the update");
    let got = got.after;
    assert_eq!(got["n"], json!(6));
    assert_eq!(got["l"], json!(["a", "b"]));
    let again = store
        .find(&s, &StoreQuery::filter(Filter::object_id("u1")), None)
        .await
        .expect("find");
    assert_eq!(
        again[0]["updatedAt"],
        json!("2025-01-01T00:00:00.000Z"),
        "updatedAt persisted"
    );
    assert_eq!(again[0]["n"], json!(6));
    let none = store
        .update(&s, &Filter::object_id("nope"), &ups, None)
        .await
        .expect("update");
    assert!(none.is_none(), "no match → None");
    // Concurrent increments never lose an update.
    let inc: Updates = ups[..1].to_vec();
    let mut handles = Vec::new();
    for _ in 0..50 {
        let (st, s, inc) = (shared.clone(), s.clone(), inc.clone());
        handles.push(tokio::spawn(async move {
            st.update(&s, &Filter::object_id("u1"), &inc, None).await
        }));
    }
    for h in handles {
        h.await.expect("task").expect("update");
    }
    let after = store
        .find(&s, &StoreQuery::filter(Filter::object_id("u1")), None)
        .await
        .expect("find");
    assert_eq!(after[0]["n"], json!(256));
}

async fn unique_violations_are_137(store: &dyn Storage) {
    let users = ClassSchema::new("_User");
    store.save_schema(&users, None).await.expect("save");
    store
        .insert(&users, row("us1", json!({"username": "Ann"})), None)
        .await
        .expect("insert");
    let dup = store
        .insert(&users, row("us2", json!({"username": "ann"})), None)
        .await;
    assert_eq!(
        dup.err().and_then(|e| e.code()),
        Some(137),
        "usernames are unique, case-insensitively"
    );
    let dup_id = store
        .insert(&users, row("us1", json!({"username": "zed"})), None)
        .await;
    assert_eq!(
        dup_id.err().and_then(|e| e.code()),
        Some(137),
        "objectIds are unique"
    );
}

async fn acl_filters(store: &dyn Storage) {
    let s = schema("ConfACL", &[]);
    store.save_schema(&s, None).await.expect("save");
    store
        .insert(&s, row("pub", json!({})), None)
        .await
        .expect("insert");
    store
        .insert(
            &s,
            row("mine", json!({"_rperm": ["u1"], "_wperm": ["u1"]})),
            None,
        )
        .await
        .expect("insert");
    store
        .insert(
            &s,
            row("role", json!({"_rperm": ["role:staff"], "_wperm": []})),
            None,
        )
        .await
        .expect("insert");
    let who = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut q = StoreQuery::filter(Filter::ReadableBy(who(&["*", "u2"])));
    q.order = vec![SortKey {
        path: "objectId".into(),
        descending: false,
    }];
    assert_eq!(ids(store, &s, q.clone()).await, vec!["pub"]);
    q.filter = Filter::ReadableBy(who(&["*", "u1", "role:staff"]));
    assert_eq!(ids(store, &s, q.clone()).await, vec!["mine", "pub", "role"]);
    let w = Filter::object_id("role").and(Filter::WritableBy(who(&["*", "u1", "role:staff"])));
    assert_eq!(
        store.delete(&s, &w, None).await.expect("delete"),
        0,
        "empty _wperm: nobody may write"
    );
    let found = store
        .find(&s, &StoreQuery::filter(Filter::object_id("mine")), None)
        .await
        .expect("find");
    assert_eq!(found[0]["_rperm"], json!(["u1"]), "_rperm comes back");
}

async fn relations(store: &dyn Storage) {
    let owners = schema(
        "ConfBand",
        &[("fans", FieldType::Relation("ConfFan".into()))],
    );
    let fans = schema("ConfFan", &[]);
    store.save_schema(&owners, None).await.expect("save");
    store.save_schema(&fans, None).await.expect("save");
    for f in ["f1", "f2", "f3"] {
        store
            .insert(&fans, row(f, json!({})), None)
            .await
            .expect("insert");
    }
    store
        .insert(&owners, row("band", json!({})), None)
        .await
        .expect("insert");
    let add: Updates = vec![(
        "fans".into(),
        UpdateOp::AddRelation(vec![
            ("ConfFan".into(), "f1".into()),
            ("ConfFan".into(), "f3".into()),
        ]),
    )];
    store
        .update(&owners, &Filter::object_id("band"), &add, None)
        .await
        .expect("add relation");
    let related = Filter::RelatedTo {
        owner_class: "ConfBand".into(),
        owner_id: "band".into(),
        field: "fans".into(),
    };
    let mut q = StoreQuery::filter(related.clone());
    q.order = vec![SortKey {
        path: "objectId".into(),
        descending: false,
    }];
    assert_eq!(ids(store, &fans, q.clone()).await, vec!["f1", "f3"]);
    let contains = Filter::RelationContains {
        field: "fans".into(),
        related_id: "f3".into(),
    };
    assert_eq!(
        ids(store, &owners, StoreQuery::filter(contains)).await,
        vec!["band"]
    );
    let rm: Updates = vec![(
        "fans".into(),
        UpdateOp::RemoveRelation(vec![("ConfFan".into(), "f1".into())]),
    )];
    store
        .update(&owners, &Filter::object_id("band"), &rm, None)
        .await
        .expect("remove relation");
    assert_eq!(ids(store, &fans, q).await, vec!["f3"]);
    let _ = Scalar::Null;
}

async fn transactions(store: &dyn Storage) {
    let s = schema("ConfTx", &[]);
    store.save_schema(&s, None).await.expect("save");
    let tx = store.begin().await.expect("begin");
    store
        .insert(&s, row("t1", json!({})), Some(tx))
        .await
        .expect("insert in tx");
    assert_eq!(
        store
            .count(&s, &Filter::True, Some(tx))
            .await
            .expect("count"),
        1,
        "a transaction sees its own writes"
    );
    store.rollback(tx).await.expect("rollback");
    assert_eq!(
        store.count(&s, &Filter::True, None).await.expect("count"),
        0,
        "rolled back"
    );
    let tx = store.begin().await.expect("begin");
    store
        .insert(&s, row("t2", json!({})), Some(tx))
        .await
        .expect("insert in tx");
    store.commit(tx).await.expect("commit");
    assert_eq!(
        store.count(&s, &Filter::True, None).await.expect("count"),
        1,
        "committed"
    );
}

async fn deletes_purges_and_drops(store: &dyn Storage) {
    let s = schema("ConfD", &[("x", FieldType::String)]);
    store.save_schema(&s, None).await.expect("save");
    for i in 0..4 {
        store
            .insert(&s, row(&format!("d{i}"), json!({"x": "v", "i": i})), None)
            .await
            .expect("insert");
    }
    let f = parse_where(&json!({"i": {"$lt": 2}})).expect("where");
    assert_eq!(store.delete(&s, &f, None).await.expect("delete"), 2);
    store.delete_field(&s, "x").await.expect("delete field");
    let left = store
        .find(&s, &StoreQuery::filter(Filter::True), None)
        .await
        .expect("find");
    assert_eq!(left.len(), 2);
    assert!(
        left.iter().all(|o| !o.contains_key("x")),
        "field values removed"
    );
    store.purge(&s).await.expect("purge");
    assert_eq!(
        store.count(&s, &Filter::True, None).await.expect("count"),
        0
    );
    store.delete_class("ConfD").await.expect("drop");
    assert!(store
        .load_schemas()
        .await
        .expect("load")
        .iter()
        .all(|x| x.class_name != "ConfD"));
}
