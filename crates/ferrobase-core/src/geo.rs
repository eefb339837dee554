//! Geometry on the sphere, shared by the stores and the in-memory matcher.

/// Great-circle distance in radians between two points given in degrees (haversine).
pub fn distance_radians(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * a.sqrt().min(1.0).asin()
}

/// Whether (lat, lng) lies inside the polygon of `(lat, lng)` vertices (ray casting; points on
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
