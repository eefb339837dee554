//! Geo functions registered in SQLite: great-circle distance and point-in-polygon.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// Great-circle distance in radians between two points given in degrees (haversine).
pub fn distance_radians(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * a.sqrt().min(1.0).asin()
}

/// Whether (lat, lng) lies inside the polygon of `[lat, lng]` vertices (ray casting; points on
/// an edge count as inside).
pub fn in_polygon(poly: &[(f64, f64)], lat: f64, lng: f64) -> bool {
    let n = poly.len();
    if n < 3 {
        return false;
    }
    let mut inside = false;
    let mut j = n - 1;
    for i in 0..n {
        let (yi, xi) = poly[i];
        let (yj, xj) = poly[j];
        // On an edge?
        let cross = (lng - xi) * (yj - yi) - (lat - yi) * (xj - xi);
        if cross.abs() < 1e-12
            && lng >= xi.min(xj)
            && lng <= xi.max(xj)
            && lat >= yi.min(yj)
            && lat <= yi.max(yj)
        {
            return true;
        }
        if (yi > lat) != (yj > lat) && lng < (xj - xi) * (lat - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

fn parse_polygon(text: &str) -> Option<Vec<(f64, f64)>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    v.as_array()?
        .iter()
        .map(|p| {
            let a = p.as_array()?;
            Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
        })
        .collect()
}

fn real(v: ValueRef<'_>) -> Option<f64> {
    match v {
        ValueRef::Integer(i) => Some(i as f64),
        ValueRef::Real(r) => Some(r),
        _ => None,
    }
}

/// `geo_dist(lat1, lng1, lat2, lng2)` (radians; NULL for missing coordinates) and
/// `geo_in_polygon(polygon_json, lat, lng)`.
pub fn register(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("geo_dist", 4, flags, |ctx| {
        let v: Option<Vec<f64>> = (0..4).map(|i| real(ctx.get_raw(i))).collect();
        Ok(v.map(|c| distance_radians(c[0], c[1], c[2], c[3])))
    })?;
    conn.create_scalar_function("geo_in_polygon", 3, flags, |ctx| {
        let poly = match ctx.get_raw(0) {
            ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(parse_polygon),
            _ => None,
        };
        Ok(match (poly, real(ctx.get_raw(1)), real(ctx.get_raw(2))) {
            (Some(p), Some(lat), Some(lng)) => in_polygon(&p, lat, lng),
            _ => false,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        // Paris – London ≈ 344 km.
        let d = distance_radians(48.8566, 2.3522, 51.5074, -0.1278) * 6371.0;
        assert!((d - 344.0).abs() < 2.0, "{d}");
        assert!(distance_radians(1.0, 1.0, 1.0, 1.0).abs() < 1e-12);
    }

    #[test]
    fn polygons() {
        let square = [(0.0, 0.0), (0.0, 10.0), (10.0, 10.0), (10.0, 0.0)];
        assert!(in_polygon(&square, 5.0, 5.0));
        assert!(in_polygon(&square, 0.0, 5.0));
        assert!(!in_polygon(&square, 11.0, 5.0));
        assert!(!in_polygon(&square[..2], 0.0, 0.0));
    }
}
