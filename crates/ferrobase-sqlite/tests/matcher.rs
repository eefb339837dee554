//! The in-memory matcher (LiveQuery) must answer exactly as the SQLite store: a corpus of filters
//! runs through both over the same objects, and the matched ids must be identical.
#![allow(clippy::unwrap_used, clippy::panic, clippy::expect_used)]

use ferrobase_core::matcher;
use ferrobase_core::query::{parse_where, Filter, StoreQuery};
use ferrobase_core::schema::{ClassSchema, FieldType};
use ferrobase_core::storage::Storage;
use ferrobase_core::types::Object;
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn objects() -> Vec<Value> {
    let date = |iso: &str| json!({"__type": "Date", "iso": iso});
    let ptr = |c: &str, id: &str| json!({"__type": "Pointer", "className": c, "objectId": id});
    vec![
        json!({"n": 1, "s": "a", "b": true, "tags": ["red", "blue"], "d": date("2024-01-01T00:00:00.000Z")}),
        json!({"n": 2.5, "s": "b", "b": false, "tags": ["red"], "p": ptr("Other", "o1")}),
        json!({"n": -3, "s": "Abc", "tags": [], "o": {"x": 1, "y": {"z": "deep"}}}),
        json!({"n": 0, "s": "", "tags": [1, 2, 3], "nums": [1, 2.0, 3]}),
        json!({"n": "1", "s": 1, "tags": ["1", 1, null, true]}),
        json!({"n": null, "s": null, "b": null, "tags": null}),
        json!({}),
        json!({"n": 1e10, "s": "zzz", "tags": [{"a": 1}, [1, 2]], "o": {"x": "1"}}),
        json!({"n": 100, "s": "hello world", "tags": [ptr("Other", "o1"), ptr("Other", "o2")], "p": ptr("Other", "o2")}),
        json!({"n": 7, "s": "a.b*c", "tags": [date("2024-01-01T00:00:00.000Z"), "x"], "d": date("2025-06-01T12:00:00.000Z")}),
        json!({"n": 3, "s": "MiXeD", "b": true, "o": {"x": null}, "arr": ["a", "b"], "g": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0}}),
        json!({"n": 4, "s": "é☃", "o": {"x": [1, 2]}, "arr": "a", "tags": ["a", "b", "c", "d"]}),
        json!({"n": 5, "o": "not an object", "arr": {"k": "a"}, "tags": [null]}),
        json!({"n": 6, "s": "b", "p": ptr("Another", "o1"), "tags": ["blue"], "d": "2024-01-01T00:00:00.000Z"}),
        json!({"n": 2, "s": "2", "b": false, "o": {"x": 2, "y": {"z": 3}}, "tags": [2.5, "2"]}),
    ]
}

fn wheres() -> Vec<Value> {
    let date = |iso: &str| json!({"__type": "Date", "iso": iso});
    let ptr = |c: &str, id: &str| json!({"__type": "Pointer", "className": c, "objectId": id});
    vec![
        json!({}),
        json!({"n": 1}),
        json!({"n": 1.0}),
        json!({"n": "1"}),
        json!({"n": 2.5}),
        json!({"n": null}),
        json!({"n": {"$ne": null}}),
        json!({"n": {"$ne": 1}}),
        json!({"n": {"$gt": 1}}),
        json!({"n": {"$gte": 1}}),
        json!({"n": {"$lt": 2}}),
        json!({"n": {"$lte": 2.5}}),
        json!({"n": {"$gt": 0, "$lt": 10}}),
        json!({"n": {"$gt": "0"}}),
        json!({"s": {"$gt": "a"}}),
        json!({"s": {"$lt": "b"}}),
        json!({"s": {"$gte": ""}}),
        json!({"s": "a"}),
        json!({"s": ""}),
        json!({"s": 1}),
        json!({"b": true}),
        json!({"b": false}),
        json!({"b": {"$ne": true}}),
        json!({"b": {"$gt": false}}),
        json!({"n": {"$in": [1, 2, "a"]}}),
        json!({"n": {"$in": [1.0, 6]}}),
        json!({"n": {"$in": []}}),
        json!({"n": {"$nin": [1, 2]}}),
        json!({"n": {"$nin": []}}),
        json!({"n": {"$in": [null, 7]}}),
        json!({"s": {"$in": ["a", "b", 1]}}),
        json!({"s": {"$in": [true, null]}}),
        json!({"s": {"$nin": ["a", "b"]}}),
        json!({"n": {"$exists": true}}),
        json!({"n": {"$exists": false}}),
        json!({"o.x": {"$exists": true}}),
        json!({"o.x": {"$exists": false}}),
        json!({"o.x": 1}),
        json!({"o.x": "1"}),
        json!({"o.x": null}),
        json!({"o.y.z": "deep"}),
        json!({"o.y.z": {"$gt": 1}}),
        json!({"o.x": [1, 2]}),
        json!({"o": {"x": 1, "y": {"z": "deep"}}}),
        json!({"o": {"y": {"z": "deep"}, "x": 1}}),
        json!({"tags": "red"}),
        json!({"tags": 1}),
        json!({"tags": "1"}),
        json!({"tags": null}),
        json!({"tags": true}),
        json!({"tags": 2.5}),
        json!({"tags": ["red", "blue"]}),
        json!({"tags": ["red"]}),
        json!({"tags": []}),
        json!({"tags": {"$ne": "red"}}),
        json!({"tags": {"$in": ["red", "x"]}}),
        json!({"tags": {"$in": [1, "blue"]}}),
        json!({"tags": {"$nin": ["red"]}}),
        json!({"tags": {"$all": ["red", "blue"]}}),
        json!({"tags": {"$all": ["red"]}}),
        json!({"tags": {"$all": []}}),
        json!({"tags": {"$all": [1, 2]}}),
        json!({"tags": {"$all": [null]}}),
        json!({"tags": {"$containedBy": ["red", "blue"]}}),
        json!({"tags": {"$containedBy": ["red"]}}),
        json!({"tags": {"$containedBy": []}}),
        json!({"tags": {"$containedBy": [1, 2, 3, 4]}}),
        json!({"tags": {"$containedBy": [1.0, 2.0, 3.0]}}),
        json!({"tags": {"$containedBy": ["1", 1, true]}}),
        json!({"tags": {"$containedBy": ["a", "b", "c", "d", "e"]}}),
        json!({"nums": {"$containedBy": [1, 2, 3]}}),
        json!({"tags": {"$containedBy": [null]}}),
        json!({"tags": {"$containedBy": [null, "red", "blue"]}}),
        json!({"tags": {"$containedBy": ["1", 1, true, null]}}),
        json!({"tags": {"$containedBy": [ptr("Other", "o1"), ptr("Other", "o2")]}}),
        json!({"tags": {"$containedBy": [{"a": 1}, [1, 2]]}}),
        json!({"tags": {"$exists": true}}),
        json!({"tags": ptr("Other", "o1")}),
        json!({"tags": date("2024-01-01T00:00:00.000Z")}),
        json!({"tags": {"$in": [ptr("Other", "o2"), date("2024-01-01T00:00:00.000Z")]}}),
        json!({"tags": {"$all": [{"a": 1}]}}),
        json!({"arr": "a"}),
        json!({"arr": {"$all": ["a"]}}),
        json!({"arr": {"$containedBy": ["a", "b"]}}),
        json!({"arr": {"$in": ["a"]}}),
        json!({"o.x": {"$all": [1]}}),
        json!({"s": {"$regex": "^a"}}),
        json!({"s": {"$regex": "^A", "$options": "i"}}),
        json!({"s": {"$regex": "\\Qa.b*\\E"}}),
        json!({"s": {"$regex": "b"}}),
        json!({"n": {"$regex": "1"}}),
        json!({"o.y.z": {"$regex": "ee"}}),
        json!({"objectId": {"$regex": "^obj1"}}),
        json!({"s": {"$regex": "☃"}}),
        json!({"d": date("2024-01-01T00:00:00.000Z")}),
        json!({"d": {"$gt": date("2024-06-01T00:00:00.000Z")}}),
        json!({"d": {"$lte": date("2025-06-01T12:00:00.000Z")}}),
        json!({"d": {"$exists": true}}),
        json!({"d": "2024-01-01T00:00:00.000Z"}),
        json!({"createdAt": {"$gt": date("2024-01-01T00:00:00.005Z")}}),
        json!({"createdAt": {"$lt": "2024-01-01T00:00:00.005Z"}}),
        json!({"updatedAt": {"$gte": date("2024-01-01T00:00:00.000Z")}}),
        json!({"createdAt": {"$gt": 5}}),
        json!({"createdAt": {"$exists": true}}),
        json!({"createdAt": {"$exists": false}}),
        json!({"createdAt": null}),
        json!({"objectId": "obj1"}),
        json!({"objectId": {"$in": ["obj1", "obj3", 3]}}),
        json!({"objectId": {"$nin": ["obj1"]}}),
        json!({"objectId": {"$ne": "obj2"}}),
        json!({"objectId": {"$gt": "obj3"}}),
        json!({"objectId": {"$in": [1]}}),
        json!({"objectId": 5}),
        json!({"p": ptr("Other", "o1")}),
        json!({"p": ptr("Another", "o1")}),
        json!({"p": {"$ne": ptr("Other", "o1")}}),
        json!({"p": {"$in": [ptr("Other", "o1"), ptr("Other", "o2")]}}),
        json!({"p": {"$nin": [ptr("Other", "o1")]}}),
        json!({"p": {"$gt": ptr("Other", "o1")}}),
        json!({"p.objectId": "o1"}),
        json!({"p": {"$exists": false}}),
        json!({"g": {"__type": "GeoPoint", "latitude": 1.0, "longitude": 2.0}}),
        json!({"g": {"__type": "GeoPoint", "longitude": 2.0, "latitude": 1.0}}),
        json!({"$or": [{"n": 1}, {"s": "b"}]}),
        json!({"$or": [{"n": {"$gt": 5}}, {"tags": "red"}], "b": {"$ne": false}}),
        json!({"$and": [{"n": {"$gt": 0}}, {"n": {"$lt": 5}}]}),
        json!({"$nor": [{"n": 1}, {"s": "b"}]}),
        json!({"$nor": [{"missing": 1}]}),
        json!({"$nor": [{"n": {"$gt": 1}}]}),
        json!({"$or": [{"$and": [{"n": 2}, {"b": false}]}, {"$nor": [{"n": {"$exists": true}}]}]}),
        json!({"n": {"$eq": 2}}),
        json!({"tags": {"$eq": "red"}}),
        json!({"missing.deeper": {"$exists": false}}),
        json!({"missing": {"$nin": [1]}}),
        json!({"s": {"$ne": "a"}, "n": {"$ne": 2}}),
    ]
}

fn schema() -> ClassSchema {
    let mut s = ClassSchema::new("MatchMe");
    for (k, t) in [
        ("n", FieldType::Number),
        ("s", FieldType::String),
        ("b", FieldType::Boolean),
        ("d", FieldType::Date),
        ("p", FieldType::Pointer("Other".into())),
        ("tags", FieldType::Array),
        ("nums", FieldType::Array),
        ("o", FieldType::Object),
        ("g", FieldType::GeoPoint),
    ] {
        s.fields.insert(k.to_string(), t);
    }
    s
}

fn stored(i: usize, v: &Value) -> Object {
    let mut o = v.as_object().cloned().unwrap_or_default();
    o.insert("objectId".into(), json!(format!("obj{i}")));
    o.insert(
        "createdAt".into(),
        json!(format!("2024-01-01T00:00:00.{:03}Z", i)),
    );
    o.insert("updatedAt".into(), json!("2024-01-02T00:00:00.000Z"));
    match i % 4 {
        0 => {}
        1 => {
            o.insert("_rperm".into(), json!(["*", "u1"]));
        }
        2 => {
            o.insert("_rperm".into(), json!(["u1", "role:admin"]));
        }
        _ => {
            o.insert("_rperm".into(), json!([]));
        }
    }
    if i % 3 == 1 {
        o.insert("_wperm".into(), json!(["u1"]));
    }
    o
}

#[tokio::test]
async fn matcher_agrees_with_the_sqlite_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = ferrobase_sqlite::SqliteStore::open(dir.path().join("m.sqlite")).expect("open");
    let s = schema();
    store.save_schema(&s, None).await.expect("schema");
    let objs: Vec<Object> = objects()
        .iter()
        .enumerate()
        .map(|(i, v)| stored(i, v))
        .collect();
    for o in &objs {
        store.insert(&s, o.clone(), None).await.expect("insert");
    }
    // Read back the stored form (what change events carry).
    let all = store
        .find(&s, &StoreQuery::filter(Filter::True), None)
        .await
        .expect("find all");
    assert_eq!(all.len(), objs.len());

    let mut filters: Vec<(String, Filter)> = Vec::new();
    for w in wheres() {
        let f = parse_where(&w).unwrap_or_else(|e| panic!("where {w}: {e}"));
        filters.push((w.to_string(), f));
    }
    for p in [
        vec!["*"],
        vec!["*", "u1"],
        vec!["role:admin"],
        vec![],
        vec!["u2"],
    ] {
        let p: Vec<String> = p.into_iter().map(String::from).collect();
        filters.push((format!("ReadableBy {p:?}"), Filter::ReadableBy(p.clone())));
        filters.push((format!("WritableBy {p:?}"), Filter::WritableBy(p.clone())));
        // Combined with a where, as LiveQuery evaluates them.
        let w = parse_where(&json!({"n": {"$gte": 1}})).expect("where");
        filters.push((
            format!("n>=1 and ReadableBy {p:?}"),
            w.and(Filter::ReadableBy(p)),
        ));
    }

    let mut disagreements = Vec::new();
    for (name, f) in &filters {
        let from_store: BTreeSet<String> = store
            .find(&s, &StoreQuery::filter(f.clone()), None)
            .await
            .unwrap_or_else(|e| panic!("store rejected {name}: {e}"))
            .iter()
            .filter_map(|o| o["objectId"].as_str().map(String::from))
            .collect();
        let from_matcher: BTreeSet<String> = all
            .iter()
            .filter(|o| matcher::matches(&s, f, o))
            .filter_map(|o| o["objectId"].as_str().map(String::from))
            .collect();
        if from_store != from_matcher {
            disagreements.push(format!(
                "{name}\n   store:   {from_store:?}\n   matcher: {from_matcher:?}"
            ));
        }
    }
    store.close().await;
    assert!(
        disagreements.is_empty(),
        "{} of {} filters disagree:\n{}",
        disagreements.len(),
        filters.len(),
        disagreements.join("\n")
    );
}
