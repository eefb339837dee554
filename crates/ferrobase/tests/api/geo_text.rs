//! Geo queries and full-text search.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn gp(lat: f64, lng: f64) -> Value {
    json!({"__type": "GeoPoint", "latitude": lat, "longitude": lng})
}

async fn cities(app: &TestApp) {
    for (name, lat, lng) in [
        ("paris", 48.8566, 2.3522),
        ("london", 51.5074, -0.1278),
        ("berlin", 52.52, 13.405),
        ("madrid", 40.4168, -3.7038),
        ("newyork", 40.7128, -74.006),
    ] {
        app.create("City", json!({"name": name, "loc": gp(lat, lng)}))
            .await;
    }
    app.create("City", json!({"name": "nowhere"})).await;
}

async fn names_of(app: &TestApp, w: Value, extra: &[(&str, String)]) -> Vec<String> {
    let mut params = vec![("where", w.to_string())];
    params.extend(extra.iter().cloned());
    let (s, v) = app.query("City", &params, As::Public).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    names(&v)
}

#[tokio::test]
async fn near_sphere_orders_by_distance_and_honours_max_distance() {
    let app = spawn().await;
    cities(&app).await;
    let paris = gp(48.8566, 2.3522);
    let all = names_of(&app, json!({"loc": {"$nearSphere": paris}}), &[]).await;
    assert_eq!(all, vec!["paris", "london", "berlin", "madrid", "newyork"]);
    let km = names_of(
        &app,
        json!({"loc": {"$nearSphere": paris, "$maxDistanceInKilometers": 900}}),
        &[],
    )
    .await;
    assert_eq!(km, vec!["paris", "london", "berlin"]);
    let mi = names_of(
        &app,
        json!({"loc": {"$nearSphere": paris, "$maxDistanceInMiles": 300}}),
        &[],
    )
    .await;
    assert_eq!(mi, vec!["paris", "london"]);
    let rad = names_of(
        &app,
        json!({"loc": {"$nearSphere": paris, "$maxDistance": 0.01}}),
        &[],
    )
    .await;
    assert_eq!(rad, vec!["paris"]);
    let limited = names_of(
        &app,
        json!({"loc": {"$nearSphere": gp(40.0, -70.0)}}),
        &[("limit", "2".into())],
    )
    .await;
    assert_eq!(limited, vec!["newyork", "london"]);
}

#[tokio::test]
async fn within_box_polygon_and_center_sphere() {
    let app = spawn().await;
    cities(&app).await;
    let order = [("order", "name".to_string())];
    let boxed = names_of(
        &app,
        json!({"loc": {"$within": {"$box": [gp(45.0, -5.0), gp(53.0, 5.0)]}}}),
        &order,
    )
    .await;
    assert_eq!(boxed, vec!["london", "paris"]);
    // Corners in the other order: the same box, as Parse's stores read it.
    let swapped = names_of(
        &app,
        json!({"loc": {"$within": {"$box": [gp(53.0, 5.0), gp(45.0, -5.0)]}}}),
        &order,
    )
    .await;
    assert_eq!(swapped, vec!["london", "paris"]);
    let poly = json!({"loc": {"$geoWithin": {"$polygon": [gp(40.0, -5.0), gp(55.0, -5.0), gp(55.0, 15.0), gp(40.0, 15.0)]}}});
    assert_eq!(
        names_of(&app, poly, &order).await,
        vec!["berlin", "london", "madrid", "paris"]
    );
    let sphere =
        json!({"loc": {"$geoWithin": {"$centerSphere": [[2.3522, 48.8566], 600.0 / 6371.0]}}});
    assert_eq!(
        names_of(&app, sphere, &order).await,
        vec!["london", "paris"]
    );
    // Invalid polygons and boxes: 107, as Parse.
    for bad in [
        json!({"loc": {"$geoWithin": {"$polygon": [gp(1.0, 1.0)]}}}),
        json!({"loc": {"$geoWithin": {"$polygon": [[0, 0], [1, 1]]}}}),
        json!({"loc": {"$geoWithin": {"$polygon": "nope"}}}),
        json!({"loc": {"$geoWithin": {"$polygon": [[0, 0], [1, 1], ["x", "y"]]}}}),
        json!({"loc": {"$geoWithin": {"$polygon": {"__type": "Polygon", "coordinates": [[0, 0]]}}}}),
        json!({"loc": {"$within": {"$box": [gp(1.0, 1.0)]}}}),
    ] {
        let r = app
            .query("City", &[("where", bad.to_string())], As::Public)
            .await;
        assert_parse_error(&r, 400, 107);
    }
}

#[tokio::test]
async fn polygon_fields_intersect_points() {
    if on_ferretdb(
        "Polygon fields",
        "FerretDB v1 stores no nested arrays (GeoJSON rings) and has no $geoIntersects",
    ) {
        return;
    }
    let app = spawn().await;
    let square = json!({"__type": "Polygon", "coordinates": [[0.0, 0.0], [0.0, 10.0], [10.0, 10.0], [10.0, 0.0]]});
    app.create("Zone", json!({"name": "square", "area": square}))
        .await;
    app.create("Zone", json!({"name": "other", "area": {"__type": "Polygon", "coordinates": [[20.0, 20.0], [20.0, 30.0], [30.0, 30.0]]}})).await;
    let w = json!({"area": {"$geoIntersects": {"$point": gp(5.0, 5.0)}}});
    let (_, v) = app
        .query("Zone", &[("where", w.to_string())], As::Public)
        .await;
    assert_eq!(names(&v), vec!["square"]);
    let (_, schema) = app.get("/schemas/Zone", As::Master).await;
    assert_eq!(schema["fields"]["area"]["type"], json!("Polygon"));
}

#[tokio::test]
async fn full_text_search_with_scores() {
    if on_ferretdb(
        "$text search",
        "FerretDB v1 has no text indexes or $text (the store answers error 102)",
    ) {
        return;
    }
    let app = spawn().await;
    for (name, title) in [
        ("a", "Red running shoes for the road"),
        ("b", "Blue suede shoes"),
        ("c", "A red hat, red scarf and red gloves"),
        ("d", "Café crème brûlée"),
        ("e", "Nothing to see"),
    ] {
        app.create("Product", json!({"name": name, "title": title}))
            .await;
    }
    let text = |term: &str, extra: Value| {
        let mut search = json!({"$term": term});
        if let (Some(s), Some(e)) = (search.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                s.insert(k.clone(), v.clone());
            }
        }
        json!({"title": {"$text": {"$search": search}}})
    };
    let q = |w: Value| vec![("where", w.to_string()), ("order", "name".to_string())];
    let (_, v) = app
        .query("Product", &q(text("red shoes", json!({}))), As::Public)
        .await;
    assert_eq!(names(&v), vec!["a", "b", "c"]);
    let (_, v) = app
        .query("Product", &q(text("shoes -blue", json!({}))), As::Public)
        .await;
    assert_eq!(names(&v), vec!["a"]);
    let (_, v) = app
        .query("Product", &q(text("creme", json!({}))), As::Public)
        .await;
    assert_eq!(names(&v), vec!["d"], "diacritics are folded by default");
    let (_, v) = app
        .query(
            "Product",
            &q(text("creme", json!({"$diacriticSensitive": true}))),
            As::Public,
        )
        .await;
    assert_eq!(names(&v), Vec::<String>::new());
    let (_, v) = app
        .query(
            "Product",
            &q(text("RED", json!({"$caseSensitive": true}))),
            As::Public,
        )
        .await;
    assert_eq!(names(&v), Vec::<String>::new());
    // order=$score: the most relevant first, with the score when asked for.
    let w = text("red", json!({}));
    let (_, v) = app
        .query(
            "Product",
            &[
                ("where", w.to_string()),
                ("order", "$score".into()),
                ("keys", "$score,name".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["c", "a"]);
    let s0 = v["results"][0]["score"].as_f64().expect("score");
    let s1 = v["results"][1]["score"].as_f64().expect("score");
    assert!(s0 >= s1, "{v}");
    let (_, v) = app
        .query("Product", &[("where", w.to_string())], As::Public)
        .await;
    assert!(
        v["results"][0].get("score").is_none(),
        "no score unless asked"
    );
    // Writes after the index exists are searchable at once.
    app.create("Product", json!({"name": "f", "title": "red kite"}))
        .await;
    let (_, v) = app
        .query(
            "Product",
            &[(
                "where",
                json!({"title": {"$text": {"$search": {"$term": "kite"}}}}).to_string(),
            )],
            As::Public,
        )
        .await;
    assert_eq!(names(&v), vec!["f"]);
    let (_, v) = app
        .query(
            "Product",
            &[
                ("where", w.to_string()),
                ("count", "1".into()),
                ("limit", "0".into()),
            ],
            As::Public,
        )
        .await;
    assert_eq!(v["count"], json!(3));
    assert_parse_error(
        &app.query(
            "Product",
            &[(
                "where",
                json!({"title": {"$text": {"$search": {}}}}).to_string(),
            )],
            As::Public,
        )
        .await,
        400,
        102,
    );
}
