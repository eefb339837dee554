//! The typed query AST that the core hands to every store, and its parser from Parse's `where` JSON.

use crate::error::{code, Error, Result};
use crate::types::canonical_iso;
use serde_json::{Map, Number, Value};

/// A value a field is compared with, already decoded from Parse's encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// Canonical ISO form (`YYYY-MM-DDTHH:MM:SS.mmmZ`), which orders correctly as text.
    Date(String),
    Pointer {
        class: String,
        id: String,
    },
    /// Objects, arrays, GeoPoints, Files, Bytes: compared as whole JSON values.
    Json(Value),
}

/// A query on another class inside a `where` (`$inQuery`, `$select`, …). The core runs it and
/// replaces the condition by `In`/`Nin` before a store sees the filter.
#[derive(Debug, Clone, PartialEq)]
pub struct SubQuery {
    pub class_name: String,
    pub where_: Value,
}

/// A point on the globe, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub lat: f64,
    pub lng: f64,
}

/// A full-text search (`$text: {$search: {...}}`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextSearch {
    /// Words (or "quoted phrases") of which one must match; `-word` excludes.
    pub term: String,
    pub language: Option<String>,
    pub case_sensitive: bool,
    pub diacritic_sensitive: bool,
}

/// A condition on one field (a dotted path into nested objects).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(Scalar),
    /// Case-insensitive string equality (Parse's username/email uniqueness checks).
    EqIgnoreCase(String),
    Ne(Scalar),
    Lt(Scalar),
    Lte(Scalar),
    Gt(Scalar),
    Gte(Scalar),
    In(Vec<Scalar>),
    Nin(Vec<Scalar>),
    Exists(bool),
    /// A pattern in Rust `regex` syntax (Parse's `\Q…\E` quoting already resolved) with inline flags.
    Regex(String),
    All(Vec<Scalar>),
    ContainedBy(Vec<Scalar>),
    /// Within `max_radians` (if any) of a point on the sphere; results nearest first.
    NearSphere {
        point: GeoPoint,
        max_radians: Option<f64>,
    },
    /// Inside a latitude/longitude box (south-west and north-east corners).
    WithinBox {
        south_west: GeoPoint,
        north_east: GeoPoint,
    },
    /// Inside a polygon (at least three points).
    WithinPolygon(Vec<GeoPoint>),
    /// Within `radians` of a point.
    WithinCenterSphere {
        center: GeoPoint,
        radians: f64,
    },
    /// A `Polygon` field that contains the point.
    IntersectsPoint(GeoPoint),
    /// Full-text search on a string field.
    Text(TextSearch),
    /// The field points to an object the sub-query finds (resolved by the core).
    InQuery(SubQuery),
    NotInQuery(SubQuery),
    /// The field equals the `key` of an object the sub-query finds (resolved by the core).
    Select {
        query: SubQuery,
        key: String,
    },
    DontSelect {
        query: SubQuery,
        key: String,
    },
}

/// A filter over the objects of one class.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    True,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Nor(Vec<Filter>),
    Field {
        path: String,
        cond: Cond,
    },
    /// Objects whose `_rperm` contains one of these principals, or that have no ACL.
    ReadableBy(Vec<String>),
    /// Objects whose `_wperm` contains one of these principals, or that have no ACL.
    WritableBy(Vec<String>),
    /// Objects related to `owner_id` through the relation field `field` of `owner_class`
    /// (rows of `_Join:<field>:<owner_class>` with `owningId = owner_id`).
    RelatedTo {
        owner_class: String,
        owner_id: String,
        field: String,
    },
    /// Objects whose relation field `field` contains `related_id`
    /// (rows of `_Join:<field>:<this class>` with `relatedId = related_id`).
    RelationContains {
        field: String,
        related_id: String,
    },
}

impl Filter {
    pub fn and(self, other: Filter) -> Filter {
        match (self, other) {
            (Filter::True, f) | (f, Filter::True) => f,
            (Filter::And(mut a), Filter::And(b)) => {
                a.extend(b);
                Filter::And(a)
            }
            (Filter::And(mut a), f) => {
                a.push(f);
                Filter::And(a)
            }
            (f, g) => Filter::And(vec![f, g]),
        }
    }

    pub fn eq(path: &str, value: Scalar) -> Filter {
        Filter::Field {
            path: path.to_string(),
            cond: Cond::Eq(value),
        }
    }

    pub fn object_id(id: &str) -> Filter {
        Filter::eq("objectId", Scalar::String(id.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub path: String,
    pub descending: bool,
}

/// What a store is asked to find.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreQuery {
    pub filter: Filter,
    pub order: Vec<SortKey>,
    pub limit: Option<usize>,
    pub skip: usize,
}

impl StoreQuery {
    pub fn filter(filter: Filter) -> StoreQuery {
        StoreQuery {
            filter,
            order: Vec::new(),
            limit: None,
            skip: 0,
        }
    }
}

/// Keys clients may never query on: the store's internal columns.
fn key_is_queryable(key: &str) -> bool {
    let mut segments = key.split('.');
    let first = segments.next().unwrap_or_default();
    crate::schema::field_name_is_valid(first)
        && segments.all(|s| !s.is_empty() && !s.starts_with('$') && s.len() <= 128)
}

/// Parses a `where` object into a filter.
pub fn parse_where(where_: &Value) -> Result<Filter> {
    let obj = where_
        .as_object()
        .ok_or_else(|| Error::invalid_json("where must be a JSON object"))?;
    parse_where_object(obj, 0)
}

const MAX_DEPTH: usize = 16;

fn parse_where_object(obj: &Map<String, Value>, depth: usize) -> Result<Filter> {
    if depth > MAX_DEPTH {
        return Err(Error::invalid_query("Query is nested too deeply"));
    }
    let mut parts = Vec::new();
    for (key, value) in obj {
        match key.as_str() {
            "$or" | "$and" | "$nor" => {
                let arr = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    Error::invalid_query(format!("Bad {key} format - use an array value."))
                })?;
                let subs = arr
                    .iter()
                    .map(|v| {
                        v.as_object()
                            .ok_or_else(|| {
                                Error::invalid_query(format!(
                                    "Bad {key} format - use an array of objects."
                                ))
                            })
                            .and_then(|o| parse_where_object(o, depth + 1))
                    })
                    .collect::<Result<Vec<_>>>()?;
                parts.push(match key.as_str() {
                    "$or" => Filter::Or(subs),
                    "$and" => Filter::And(subs),
                    _ => Filter::Nor(subs),
                });
            }
            "$relatedTo" => parts.push(parse_related_to(value)?),
            k if !key_is_queryable(k) => {
                return Err(Error::new(
                    code::INVALID_KEY_NAME,
                    format!("Invalid key name: {k}"),
                ))
            }
            _ => parts.extend(parse_field(key, value)?),
        }
    }
    Ok(match parts.len() {
        0 => Filter::True,
        1 => parts.pop().unwrap_or(Filter::True),
        _ => Filter::And(parts),
    })
}

fn parse_related_to(v: &Value) -> Result<Filter> {
    let bad = || Error::invalid_query("bad $relatedTo: needs object (a Pointer) and key");
    let o = v.as_object().ok_or_else(bad)?;
    let (class, id) = o
        .get("object")
        .and_then(crate::types::as_pointer)
        .ok_or_else(bad)?;
    let key = o.get("key").and_then(Value::as_str).ok_or_else(bad)?;
    if !crate::schema::field_name_is_valid(key) || !crate::schema::class_name_is_valid(class) {
        return Err(bad());
    }
    Ok(Filter::RelatedTo {
        owner_class: class.to_string(),
        owner_id: id.to_string(),
        field: key.to_string(),
    })
}

fn is_operator_object(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|o| !o.is_empty() && o.keys().all(|k| k.starts_with('$')))
}

fn parse_field(path: &str, value: &Value) -> Result<Vec<Filter>> {
    let field = |cond| Filter::Field {
        path: path.to_string(),
        cond,
    };
    if !is_operator_object(value) {
        if let Some(o) = value.as_object() {
            if o.keys().any(|k| k.starts_with('$')) {
                return Err(Error::invalid_query(format!(
                    "Invalid constraint on {path}: mixes operators and fields"
                )));
            }
        }
        return Ok(vec![field(Cond::Eq(scalar(value)?))]);
    }
    let ops = value
        .as_object()
        .ok_or_else(|| Error::invalid_query("bad constraint"))?;
    let mut out = Vec::new();
    let options = ops.get("$options").map(|o| {
        o.as_str()
            .filter(|s| s.chars().all(|c| matches!(c, 'i' | 'm' | 'x' | 's')))
            .ok_or_else(|| Error::invalid_query(format!("Bad $options value for query: {o}")))
    });
    for (op, arg) in ops {
        let cond = match op.as_str() {
            "$eq" => Cond::Eq(scalar(arg)?),
            "$ne" => Cond::Ne(scalar(arg)?),
            "$lt" => Cond::Lt(comparable(op, arg)?),
            "$lte" => Cond::Lte(comparable(op, arg)?),
            "$gt" => Cond::Gt(comparable(op, arg)?),
            "$gte" => Cond::Gte(comparable(op, arg)?),
            "$in" => Cond::In(list(op, arg)?),
            "$nin" => Cond::Nin(list(op, arg)?),
            "$all" => Cond::All(list(op, arg)?),
            "$containedBy" => Cond::ContainedBy(list(op, arg)?),
            // Any truthy value means true, as in Parse Server (JavaScript truthiness).
            "$exists" => Cond::Exists(match arg {
                Value::Bool(b) => *b,
                Value::Null => false,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            }),
            "$regex" => {
                let pattern = arg
                    .as_str()
                    .ok_or_else(|| Error::invalid_query(format!("Bad $regex value: {arg}")))?;
                let flags = match &options {
                    Some(r) => r.clone()?,
                    None => "",
                };
                Cond::Regex(regex_pattern(pattern, flags)?)
            }
            "$nearSphere" => {
                let max = max_distance(ops)?;
                Cond::NearSphere {
                    point: geo_point(arg)
                        .ok_or_else(|| Error::invalid_query("bad $nearSphere: needs a GeoPoint"))?,
                    max_radians: max,
                }
            }
            "$maxDistance"
            | "$maxDistanceInRadians"
            | "$maxDistanceInKilometers"
            | "$maxDistanceInMiles" => {
                if !ops.contains_key("$nearSphere") {
                    return Err(Error::invalid_query(format!("{op} needs $nearSphere")));
                }
                continue;
            }
            "$within" => {
                // Parse answers 107 for a malformed box; its stores (MongoDB's `$box`,
                // PostgreSQL's `box`) take the corners in either order.
                let malformed = || Error::invalid_json("malformatted $within arg");
                let b = arg
                    .get("$box")
                    .and_then(Value::as_array)
                    .filter(|b| b.len() == 2)
                    .ok_or_else(malformed)?;
                let (Some(a), Some(c)) = (geo_point(&b[0]), geo_point(&b[1])) else {
                    return Err(malformed());
                };
                Cond::WithinBox {
                    south_west: GeoPoint {
                        lat: a.lat.min(c.lat),
                        lng: a.lng.min(c.lng),
                    },
                    north_east: GeoPoint {
                        lat: a.lat.max(c.lat),
                        lng: a.lng.max(c.lng),
                    },
                }
            }
            "$geoWithin" => {
                if let Some(poly) = arg.get("$polygon") {
                    Cond::WithinPolygon(polygon_points(poly)?)
                } else if let Some(cs) = arg.get("$centerSphere").and_then(Value::as_array) {
                    let center = cs.first().and_then(|c| geo_point(c).or_else(|| lng_lat(c)));
                    let radius = cs.get(1).and_then(Value::as_f64).filter(|r| *r >= 0.0);
                    match (center, radius) {
                        (Some(center), Some(radians)) => {
                            Cond::WithinCenterSphere { center, radians }
                        }
                        _ => {
                            return Err(Error::invalid_query(
                                "bad $geoWithin value; $centerSphere needs [GeoPoint, radius]",
                            ))
                        }
                    }
                } else {
                    return Err(Error::invalid_query(
                        "bad $geoWithin value; needs $polygon or $centerSphere",
                    ));
                }
            }
            "$geoIntersects" => {
                let p = arg.get("$point").and_then(geo_point).ok_or_else(|| {
                    Error::invalid_query("bad $geoIntersects value; $point should be a GeoPoint")
                })?;
                Cond::IntersectsPoint(p)
            }
            "$text" => Cond::Text(text_search(arg)?),
            "$inQuery" => Cond::InQuery(sub_query(op, arg)?),
            "$notInQuery" => Cond::NotInQuery(sub_query(op, arg)?),
            "$select" | "$dontSelect" => {
                let bad = || Error::invalid_query(format!("bad {op}: needs query and key"));
                let o = arg.as_object().ok_or_else(bad)?;
                let query = sub_query(op, o.get("query").ok_or_else(bad)?)?;
                let key = o
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(bad)?
                    .to_string();
                if !key_is_queryable(&key) {
                    return Err(bad());
                }
                if op == "$select" {
                    Cond::Select { query, key }
                } else {
                    Cond::DontSelect { query, key }
                }
            }
            "$options" => {
                if !ops.contains_key("$regex") {
                    return Err(Error::invalid_query("$options needs $regex"));
                }
                continue;
            }
            other => {
                return Err(Error::invalid_json(format!("bad constraint: {other}")));
            }
        };
        out.push(field(cond));
    }
    Ok(out)
}

/// `{"__type": "GeoPoint", "latitude", "longitude"}` (or a bare `{latitude, longitude}`).
fn geo_point(v: &Value) -> Option<GeoPoint> {
    let o = v.as_object()?;
    if o.get("__type").is_some_and(|t| t != "GeoPoint") {
        return None;
    }
    let lat = o.get("latitude")?.as_f64()?;
    let lng = o.get("longitude")?.as_f64()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng))
        .then_some(GeoPoint { lat, lng })
}

/// `[longitude, latitude]`, MongoDB's order.
fn lng_lat(v: &Value) -> Option<GeoPoint> {
    let a = v.as_array()?;
    let lng = a.first()?.as_f64()?;
    let lat = a.get(1)?.as_f64()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng))
        .then_some(GeoPoint { lat, lng })
}

/// A `$polygon`: GeoPoints, `[lat, lng]` pairs (Parse's Polygon order), or a Polygon value;
/// anything else is error 107 with Parse's messages.
fn polygon_points(v: &Value) -> Result<Vec<GeoPoint>> {
    let items = match (v.get("coordinates"), v.as_array()) {
        (Some(c), _) => match c.as_array() {
            Some(c) if c.len() >= 3 => c,
            _ => return Err(Error::invalid_json(
                "bad $geoWithin value; Polygon.coordinates should contain at least 3 lon/lat pairs",
            )),
        },
        (None, Some(a)) if a.len() >= 3 => a,
        (None, Some(_)) => {
            return Err(Error::invalid_json(
                "bad $geoWithin value; $polygon should contain at least 3 GeoPoints",
            ))
        }
        (None, None) => return Err(Error::invalid_json(
            "bad $geoWithin value; $polygon should be Polygon object or Array of Parse.GeoPoint's",
        )),
    };
    items
        .iter()
        .map(|p| {
            geo_point(p)
                .or_else(|| {
                    let a = p.as_array().filter(|a| a.len() == 2)?;
                    let lat = a.first()?.as_f64()?;
                    let lng = a.get(1)?.as_f64()?;
                    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng))
                        .then_some(GeoPoint { lat, lng })
                })
                .ok_or_else(|| Error::invalid_json("bad $geoWithin value"))
        })
        .collect()
}

/// The radius of a `$nearSphere`, in radians (Earth radius 6371 km / 3958.8 mi, as Parse).
fn max_distance(ops: &Map<String, Value>) -> Result<Option<f64>> {
    let pick = |k: &str, factor: f64| -> Result<Option<f64>> {
        match ops.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|d| *d >= 0.0)
                .map(|d| Some(d / factor))
                .ok_or_else(|| {
                    Error::invalid_query(format!("bad {k}: must be a non-negative number"))
                }),
        }
    };
    Ok(pick("$maxDistanceInKilometers", 6371.0)?
        .or(pick("$maxDistanceInMiles", 3958.8)?)
        .or(pick("$maxDistanceInRadians", 1.0)?)
        .or(pick("$maxDistance", 1.0)?))
}

fn text_search(v: &Value) -> Result<TextSearch> {
    let bad = |m: &str| Error::invalid_query(format!("bad $text: {m}"));
    let search = v
        .get("$search")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("$search should be an object"))?;
    let term = search
        .get("$term")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad("$term should be a non-empty string"))?;
    if term.len() > 1000 {
        return Err(bad("$term is too long"));
    }
    let flag = |k: &str| -> Result<bool> {
        match search.get(k) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(&format!("{k} should be a boolean"))),
        }
    };
    let language = match search.get("$language") {
        None => None,
        Some(Value::String(l)) => Some(l.clone()),
        Some(_) => return Err(bad("$language should be a string")),
    };
    Ok(TextSearch {
        term: term.to_string(),
        language,
        case_sensitive: flag("$caseSensitive")?,
        diacritic_sensitive: flag("$diacriticSensitive")?,
    })
}

fn sub_query(op: &str, v: &Value) -> Result<SubQuery> {
    let bad = || Error::invalid_query(format!("bad {op} value: needs className and where"));
    let o = v.as_object().ok_or_else(bad)?;
    let class_name = o.get("className").and_then(Value::as_str).ok_or_else(bad)?;
    if !crate::schema::class_name_is_valid(class_name) {
        return Err(bad());
    }
    let where_ = o
        .get("where")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    // Validate now so that errors surface with the right code even if the class is empty.
    parse_where(&where_)?;
    Ok(SubQuery {
        class_name: class_name.to_string(),
        where_,
    })
}

fn comparable(op: &str, v: &Value) -> Result<Scalar> {
    let s = scalar(v)?;
    match s {
        Scalar::Number(_)
        | Scalar::String(_)
        | Scalar::Date(_)
        | Scalar::Bool(_)
        | Scalar::Pointer { .. } => Ok(s),
        _ => Err(Error::invalid_query(format!("bad {op} value: {v}"))),
    }
}

/// Most values in one `$in`, `$nin`, `$all` or `$containedBy` list.
pub const MAX_LIST: usize = 10_000;
/// Longest `$regex` pattern, in bytes.
pub const MAX_REGEX_LEN: usize = 1_000;

fn list(op: &str, v: &Value) -> Result<Vec<Scalar>> {
    let arr = v
        .as_array()
        .ok_or_else(|| Error::invalid_json(format!("bad {op} value")))?;
    if arr.len() > MAX_LIST {
        return Err(Error::invalid_query(format!(
            "{op} has {} values; at most {MAX_LIST} are allowed",
            arr.len()
        )));
    }
    arr.iter().map(scalar).collect()
}

/// Decodes a Parse-encoded query value.
pub fn scalar(v: &Value) -> Result<Scalar> {
    Ok(match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Number(n.clone()),
        Value::String(s) => Scalar::String(s.clone()),
        Value::Array(_) => Scalar::Json(v.clone()),
        Value::Object(o) => match o.get("__type").and_then(Value::as_str) {
            Some("Date") => {
                let iso = o
                    .get("iso")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::invalid_query("Date needs an iso string"))?;
                Scalar::Date(
                    canonical_iso(iso)
                        .map_err(|_| Error::invalid_query(format!("invalid date: {iso}")))?,
                )
            }
            Some("Pointer") => {
                let class = o.get("className").and_then(Value::as_str);
                let id = o.get("objectId").and_then(Value::as_str);
                match (class, id) {
                    (Some(c), Some(i)) => Scalar::Pointer {
                        class: c.into(),
                        id: i.into(),
                    },
                    _ => return Err(Error::invalid_query("Pointer needs className and objectId")),
                }
            }
            _ => Scalar::Json(v.clone()),
        },
    })
}

/// Turns a Parse regex (JavaScript syntax with Java-style `\Q…\E` quoting, as the SDKs'
/// `startsWith`/`endsWith`/`contains` send it) into a Rust `regex` pattern with inline flags.
pub fn regex_pattern(pattern: &str, flags: &str) -> Result<String> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(Error::invalid_query(format!(
            "$regex is longer than {MAX_REGEX_LEN} characters"
        )));
    }
    let mut out = String::with_capacity(pattern.len() + 8);
    if !flags.is_empty() {
        out.push_str("(?");
        out.push_str(flags);
        out.push(')');
    }
    let mut rest = pattern;
    while let Some(start) = rest.find("\\Q") {
        out.push_str(&rest[..start]);
        let quoted = &rest[start + 2..];
        let (literal, after) = match quoted.find("\\E") {
            Some(end) => (&quoted[..end], &quoted[end + 2..]),
            None => (quoted, ""),
        };
        out.push_str(&regex::escape(literal));
        rest = after;
    }
    out.push_str(rest);
    regex::RegexBuilder::new(&out)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| Error::invalid_query(format!("Invalid regular expression: {e}")))?;
    Ok(out)
}

/// Parses `order` (`"a,-b"`) into sort keys.
pub fn parse_order(order: &str) -> Result<Vec<SortKey>> {
    order
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|k| {
            let (path, descending) = match k.strip_prefix('-') {
                Some(p) => (p, true),
                None => (k, false),
            };
            let path = match path {
                "_created_at" => "createdAt",
                "_updated_at" => "updatedAt",
                p => p,
            };
            if path != "$score" && !key_is_queryable(path) {
                return Err(Error::new(
                    code::INVALID_KEY_NAME,
                    format!("Invalid field name: {path}."),
                ));
            }
            Ok(SortKey {
                path: path.to_string(),
                descending,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equality_and_operators() -> Result<()> {
        let f = parse_where(&json!({"a": 1, "b": {"$gt": 2, "$lt": 5}}))?;
        assert_eq!(
            f,
            Filter::And(vec![
                Filter::eq("a", Scalar::Number(1.into())),
                Filter::Field {
                    path: "b".into(),
                    cond: Cond::Gt(Scalar::Number(2.into()))
                },
                Filter::Field {
                    path: "b".into(),
                    cond: Cond::Lt(Scalar::Number(5.into()))
                },
            ])
        );
        Ok(())
    }

    #[test]
    fn rejects_injection_and_bad_keys() {
        assert_eq!(
            parse_where(&json!({"$where": "1"}))
                .err()
                .and_then(|e| e.code()),
            Some(105)
        );
        assert_eq!(
            parse_where(&json!({"_rperm": "x"}))
                .err()
                .and_then(|e| e.code()),
            Some(105)
        );
        assert_eq!(
            parse_where(&json!({"a": {"$function": 1}}))
                .err()
                .and_then(|e| e.code()),
            Some(107)
        );
        assert_eq!(
            parse_where(&json!({"a": {"$in": 3}}))
                .err()
                .and_then(|e| e.code()),
            Some(107)
        );
        assert_eq!(
            parse_where(&json!([1])).err().and_then(|e| e.code()),
            Some(107)
        );
        assert!(parse_where(&json!({"a": {"$regex": "("}})).is_err());
    }

    #[test]
    fn limits() {
        let many: Vec<i64> = (0..=MAX_LIST as i64).collect();
        assert!(parse_where(&json!({"a": {"$in": many}})).is_err());
        assert!(parse_where(&json!({"a": {"$regex": "x".repeat(MAX_REGEX_LEN + 1)}})).is_err());
    }

    #[test]
    fn quoted_regex_is_literal() -> Result<()> {
        assert_eq!(regex_pattern("^\\Qa.b\\E", "")?, "^a\\.b");
        assert_eq!(regex_pattern("x", "i")?, "(?i)x");
        Ok(())
    }

    #[test]
    fn dates_and_pointers() -> Result<()> {
        let f = parse_where(
            &json!({"d": {"$gte": {"__type": "Date", "iso": "2024-01-01T00:00:00Z"}}}),
        )?;
        assert_eq!(
            f,
            Filter::Field {
                path: "d".into(),
                cond: Cond::Gte(Scalar::Date("2024-01-01T00:00:00.000Z".into()))
            }
        );
        let p =
            parse_where(&json!({"o": {"__type": "Pointer", "className": "A", "objectId": "x"}}))?;
        assert_eq!(
            p,
            Filter::eq(
                "o",
                Scalar::Pointer {
                    class: "A".into(),
                    id: "x".into()
                }
            )
        );
        Ok(())
    }

    #[test]
    fn order_keys() -> Result<()> {
        let o = parse_order("-score,name")?;
        assert_eq!(o.len(), 2);
        assert!(o[0].descending);
        assert!(parse_order("a;drop").is_err());
        Ok(())
    }
}
