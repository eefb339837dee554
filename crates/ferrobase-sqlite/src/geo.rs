//! Geo functions registered in SQLite: great-circle distance and point-in-polygon.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

pub use ferrobase_core::geo::{distance_radians, in_polygon};

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
