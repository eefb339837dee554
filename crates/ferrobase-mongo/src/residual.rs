//! Conditions a server cannot evaluate (FerretDB v1 has no geo operators and gets
//! `$elemMatch: {$nin}` wrong): the query sent is a superset (the field has the right shape)
//! and these checks finish the job on the returned objects, before skip and limit.

use ferrobase_core::query::GeoPoint;
use ferrobase_core::types::Object;
use ferrobase_core::update::get_path;
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Residual {
    ContainedBy {
        path: String,
        values: Vec<Value>,
    },
    Near {
        path: String,
        point: GeoPoint,
        max: Option<f64>,
    },
    CenterSphere {
        path: String,
        center: GeoPoint,
        radians: f64,
    },
    Polygon {
        path: String,
        points: Vec<GeoPoint>,
    },
    Intersects {
        path: String,
        point: GeoPoint,
    },
    /// An ACL check (`_rperm`/`_wperm` missing, or holding one of these principals), finished
    /// in Rust when FerretDB is sent a bare `{_id}` it can answer from its index.
    Perm {
        key: &'static str,
        principals: Vec<String>,
    },
}

/// Great-circle distance in radians (the core's, shared with SQLite and the matcher).
pub fn distance(a: GeoPoint, b: GeoPoint) -> f64 {
    ferrobase_core::geo::distance_radians(a.lat, a.lng, b.lat, b.lng)
}

fn in_polygon(poly: &[GeoPoint], p: GeoPoint) -> bool {
    let vertices: Vec<(f64, f64)> = poly.iter().map(|v| (v.lat, v.lng)).collect();
    ferrobase_core::geo::in_polygon(&vertices, p.lat, p.lng)
}

fn geo_point(v: Option<&Value>) -> Option<GeoPoint> {
    let v = v?;
    Some(GeoPoint {
        lat: v.get("latitude")?.as_f64()?,
        lng: v.get("longitude")?.as_f64()?,
    })
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

impl Residual {
    pub fn matches(&self, obj: &Object) -> bool {
        match self {
            Residual::Perm { key, principals } => match obj.get(*key) {
                None | Some(Value::Null) => true,
                Some(Value::Array(items)) => items.iter().any(|i| {
                    i.as_str()
                        .is_some_and(|s| principals.iter().any(|p| p == s))
                }),
                Some(_) => false,
            },
            Residual::ContainedBy { path, values } => match get_path(obj, path) {
                Some(Value::Array(items)) => {
                    items.iter().all(|i| values.iter().any(|v| same(i, v)))
                }
                _ => false,
            },
            Residual::Near { path, point, max } => geo_point(get_path(obj, path))
                .is_some_and(|g| max.is_none_or(|m| distance(g, *point) <= m)),
            Residual::CenterSphere {
                path,
                center,
                radians,
            } => geo_point(get_path(obj, path)).is_some_and(|g| distance(g, *center) <= *radians),
            Residual::Polygon { path, points } => {
                geo_point(get_path(obj, path)).is_some_and(|g| in_polygon(points, g))
            }
            Residual::Intersects { path, point } => {
                let ring: Option<Vec<GeoPoint>> = get_path(obj, path)
                    .and_then(|p| p.get("coordinates"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| {
                                Some(GeoPoint {
                                    lat: c.get(0)?.as_f64()?,
                                    lng: c.get(1)?.as_f64()?,
                                })
                            })
                            .collect()
                    });
                ring.is_some_and(|r| in_polygon(&r, *point))
            }
        }
    }

    /// The distance used to order `$nearSphere` results.
    pub fn near_distance(&self, obj: &Object) -> Option<f64> {
        match self {
            Residual::Near { path, point, .. } => {
                geo_point(get_path(obj, path)).map(|g| distance(g, *point))
            }
            _ => None,
        }
    }
}
