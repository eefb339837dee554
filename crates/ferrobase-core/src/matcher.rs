//! In-memory evaluation of the query AST, for LiveQuery: does a stored object match a filter?
//!
//! The semantics are exactly those of the SQLite store's translation (`ferrobase-sqlite`'s
//! `sql.rs`), which is the reference: the same type guards (a number never equals a string),
//! the same null/missing rules, array membership for `Array` fields, SQLite's value ordering
//! (numbers before text, text by bytes) and its affinity rule for the `objectId`/`createdAt`/
//! `updatedAt` columns. The functions below mirror the SQL builders one by one; a test in
//! `ferrobase-sqlite/tests/matcher.rs` runs a corpus of filters through both and compares.
//!
//! The object is in the stored form (`_rperm`/`_wperm` included). Filters that need other rows
//! (`$relatedTo`, relation equality, unresolved sub-queries) never match here: check
//! [`unsupported`] first and refuse them.

use crate::query::{Cond, Filter, Scalar};
use crate::schema::{ClassSchema, FieldType};
use crate::types::Object;
use serde_json::{Number, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Whether `object` (stored form) matches `filter`, as the store would answer.
pub fn matches(schema: &ClassSchema, filter: &Filter, object: &Object) -> bool {
    filter_matches(schema, filter, object)
}

/// How the store orders two objects by one sort key (SQLite's `ORDER BY` of the key's
/// expression, ascending): missing and null first, then numbers, then text by bytes; a Date sorts
/// by its ISO text and a Pointer by its objectId.
pub fn sort_cmp(schema: &ClassSchema, a: &Object, b: &Object, path: &str) -> Ordering {
    let key = |o: &Object| -> Sv<'static> {
        let v = if is_column(path) {
            expr(o, path)
        } else {
            let raw = data_get(o, path);
            match schema.field(path) {
                Some(FieldType::Date) => extract(raw.and_then(|v| v.get("iso"))),
                Some(FieldType::Pointer(_)) => extract(raw.and_then(|v| v.get("objectId"))),
                _ => extract(raw),
            }
        };
        match v {
            Sv::Text(t) => Sv::Text(Cow::Owned(t.into_owned())),
            Sv::Null => Sv::Null,
            Sv::Int(i) => Sv::Int(i),
            Sv::Real(f) => Sv::Real(f),
        }
    };
    let (x, y) = (key(a), key(b));
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => sql_cmp(&x, &y).unwrap_or(Ordering::Equal),
    }
}

/// The first part of a filter the matcher cannot evaluate (relations and sub-queries), if any.
pub fn unsupported(filter: &Filter) -> Option<&'static str> {
    match filter {
        Filter::And(v) | Filter::Or(v) | Filter::Nor(v) => v.iter().find_map(unsupported),
        Filter::RelatedTo { .. } => Some("$relatedTo"),
        Filter::RelationContains { .. } => Some("equality on a Relation field"),
        Filter::Field { cond, .. } => match cond {
            Cond::InQuery(_) => Some("$inQuery"),
            Cond::NotInQuery(_) => Some("$notInQuery"),
            Cond::Select { .. } => Some("$select"),
            Cond::DontSelect { .. } => Some("$dontSelect"),
            Cond::Text(_) => Some("$text"),
            _ => None,
        },
        Filter::True | Filter::ReadableBy(_) | Filter::WritableBy(_) => None,
    }
}

/// A value as SQLite sees it (`json_extract` results, columns, bound parameters).
#[derive(Debug, Clone, PartialEq)]
enum Sv<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
}

impl Sv<'_> {
    fn is_null(&self) -> bool {
        matches!(self, Sv::Null)
    }
}

/// SQLite's comparison of two values without affinity: NULL compares with nothing, numbers sort
/// before text, numbers compare numerically and text by bytes.
fn sql_cmp(a: &Sv<'_>, b: &Sv<'_>) -> Option<Ordering> {
    match (a, b) {
        (Sv::Null, _) | (_, Sv::Null) => None,
        (Sv::Int(x), Sv::Int(y)) => Some(x.cmp(y)),
        (Sv::Int(x), Sv::Real(y)) => (*x as f64).partial_cmp(y),
        (Sv::Real(x), Sv::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Sv::Real(x), Sv::Real(y)) => x.partial_cmp(y),
        (Sv::Int(_) | Sv::Real(_), Sv::Text(_)) => Some(Ordering::Less),
        (Sv::Text(_), Sv::Int(_) | Sv::Real(_)) => Some(Ordering::Greater),
        (Sv::Text(x), Sv::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
    }
}

fn sql_eq(a: &Sv<'_>, b: &Sv<'_>) -> bool {
    sql_cmp(a, b) == Some(Ordering::Equal)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

fn op_holds(op: Op, ord: Option<Ordering>) -> bool {
    let Some(o) = ord else { return false };
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Lte => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Gte => o != Ordering::Less,
    }
}

/// The text SQLite makes of a value when TEXT affinity applies (or `lower()` is called).
fn to_text<'a>(v: &Sv<'a>) -> Option<Cow<'a, str>> {
    match v {
        Sv::Null => None,
        Sv::Int(i) => Some(Cow::Owned(i.to_string())),
        Sv::Real(f) => Some(Cow::Owned(real_text(*f))),
        Sv::Text(t) => Some(t.clone()),
    }
}

fn real_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

/// The built-in fields stored as table columns (not inside `data`).
fn is_column(path: &str) -> bool {
    matches!(path, "objectId" | "createdAt" | "updatedAt")
}

/// Top-level keys that are not part of the `data` JSON of a row.
fn outside_data(key: &str) -> bool {
    is_column(key) || key == "_rperm" || key == "_wperm"
}

/// `json_extract(data, '$.a.b')` navigation: object keys only (a segment never indexes an array).
fn data_get<'a>(obj: &'a Object, path: &str) -> Option<&'a Value> {
    let mut segments = path.split('.');
    let first = segments.next()?;
    if outside_data(first) {
        return None;
    }
    let mut v = obj.get(first)?;
    for seg in segments {
        v = v.as_object()?.get(seg)?;
    }
    Some(v)
}

fn json_type(v: Option<&Value>) -> Option<&'static str> {
    Some(match v? {
        Value::Null => "null",
        Value::Bool(true) => "true",
        Value::Bool(false) => "false",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "real",
        Value::String(_) => "text",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    })
}

fn is_numeric_type(t: Option<&str>) -> bool {
    matches!(t, Some("integer" | "real"))
}

fn number(n: &Number) -> Sv<'static> {
    match n.as_i64() {
        Some(i) => Sv::Int(i),
        None => Sv::Real(n.as_f64().unwrap_or(0.0)),
    }
}

/// The SQL value of a JSON value as `json_extract`/`json_each` return it.
fn extract(v: Option<&Value>) -> Sv<'_> {
    match v {
        None | Some(Value::Null) => Sv::Null,
        Some(Value::Bool(b)) => Sv::Int(i64::from(*b)),
        Some(Value::Number(n)) => number(n),
        Some(Value::String(s)) => Sv::Text(Cow::Borrowed(s)),
        Some(other) => Sv::Text(Cow::Owned(other.to_string())),
    }
}

/// The SQL expression of a field: the column for built-in fields, else `json_extract`.
fn expr<'a>(obj: &'a Object, path: &str) -> Sv<'a> {
    if is_column(path) {
        match obj.get(path) {
            Some(Value::String(s)) => Sv::Text(Cow::Borrowed(s)),
            other => extract(other),
        }
    } else {
        extract(data_get(obj, path))
    }
}

fn type_at(obj: &Object, path: &str) -> Option<&'static str> {
    json_type(data_get(obj, path))
}

/// Compares a column (TEXT affinity) or a JSON value with a bound parameter.
fn cmp_expr(obj: &Object, path: &str, rhs: &Sv<'_>) -> Option<Ordering> {
    let lhs = expr(obj, path);
    if is_column(path) && !lhs.is_null() {
        // A TEXT column against a number: SQLite turns the number into text first.
        if let (Some(l), Some(r)) = (to_text(&lhs), to_text(rhs)) {
            return Some(l.as_bytes().cmp(r.as_bytes()));
        }
    }
    sql_cmp(&lhs, rhs)
}

/// The rows of `json_each(<value>)`: array elements, object member values, or the scalar itself.
fn each(v: Option<&Value>) -> Vec<&Value> {
    match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => o.values().collect(),
        Some(other) => vec![other],
    }
}

/// Minified JSON text, as `json(?)` makes of a bound value.
fn json_text(v: &Value) -> Sv<'static> {
    Sv::Text(Cow::Owned(v.to_string()))
}

fn filter_matches(schema: &ClassSchema, filter: &Filter, obj: &Object) -> bool {
    match filter {
        Filter::True => true,
        Filter::And(items) => items.iter().all(|f| filter_matches(schema, f, obj)),
        Filter::Or(items) => items.iter().any(|f| filter_matches(schema, f, obj)),
        Filter::Nor(items) => !items.iter().any(|f| filter_matches(schema, f, obj)),
        Filter::ReadableBy(p) | Filter::WritableBy(p) => {
            let col = if matches!(filter, Filter::ReadableBy(_)) {
                "_rperm"
            } else {
                "_wperm"
            };
            match obj.get(col) {
                None | Some(Value::Null) => true,
                Some(perm) => each(Some(perm)).into_iter().any(|v| match v {
                    Value::String(s) => p.iter().any(|who| who == s),
                    _ => false,
                }),
            }
        }
        // Need other rows (join tables): never match in memory; see `unsupported`.
        Filter::RelatedTo { .. } | Filter::RelationContains { .. } => false,
        Filter::Field { path, cond } => cond_matches(schema, obj, path, cond),
    }
}

fn is_array_field(schema: &ClassSchema, path: &str) -> bool {
    !path.contains('.') && matches!(schema.field(path), Some(FieldType::Array))
}

/// `compare()` of the SQL translation: a field against one value with the JSON type guard.
fn compare(obj: &Object, path: &str, op: Op, v: &Scalar) -> bool {
    match v {
        Scalar::Null => {
            op == Op::Eq
                && if is_column(path) {
                    matches!(obj.get(path), None | Some(Value::Null))
                } else {
                    matches!(type_at(obj, path), None | Some("null"))
                }
        }
        Scalar::Bool(b) => {
            op == Op::Eq && type_at(obj, path) == Some(if *b { "true" } else { "false" })
        }
        Scalar::Number(n) => {
            op_holds(op, cmp_expr(obj, path, &number(n)))
                && (is_column(path) || is_numeric_type(type_at(obj, path)))
        }
        Scalar::String(s) => {
            op_holds(op, cmp_expr(obj, path, &Sv::Text(Cow::Borrowed(s))))
                && (is_column(path) || type_at(obj, path) == Some("text"))
        }
        Scalar::Date(iso) => {
            let rhs = Sv::Text(Cow::Borrowed(iso));
            if is_column(path) {
                op_holds(op, cmp_expr(obj, path, &rhs))
            } else {
                op_holds(op, cmp_expr(obj, &format!("{path}.iso"), &rhs))
            }
        }
        Scalar::Pointer { class, id } => {
            op_holds(
                op,
                cmp_expr(
                    obj,
                    &format!("{path}.objectId"),
                    &Sv::Text(Cow::Borrowed(id)),
                ),
            ) && (op != Op::Eq
                || op_holds(
                    Op::Eq,
                    cmp_expr(
                        obj,
                        &format!("{path}.className"),
                        &Sv::Text(Cow::Borrowed(class)),
                    ),
                ))
        }
        Scalar::Json(j) => op == Op::Eq && op_holds(Op::Eq, cmp_expr(obj, path, &json_text(j))),
    }
}

/// One element of `json_each` against one value (`element_matches()` of the SQL translation).
fn element_is(e: &Value, v: &Scalar) -> bool {
    let t = json_type(Some(e));
    match v {
        Scalar::Null => t == Some("null"),
        Scalar::Bool(b) => t == Some(if *b { "true" } else { "false" }),
        Scalar::Number(n) => is_numeric_type(t) && sql_eq(&extract(Some(e)), &number(n)),
        Scalar::String(s) => {
            t == Some("text") && sql_eq(&extract(Some(e)), &Sv::Text(Cow::Borrowed(s)))
        }
        Scalar::Date(iso) => {
            t == Some("object") && sql_eq(&extract(e.get("iso")), &Sv::Text(Cow::Borrowed(iso)))
        }
        Scalar::Pointer { class, id } => {
            t == Some("object")
                && sql_eq(&extract(e.get("objectId")), &Sv::Text(Cow::Borrowed(id)))
                && sql_eq(
                    &extract(e.get("className")),
                    &Sv::Text(Cow::Borrowed(class)),
                )
        }
        Scalar::Json(j) => sql_eq(&extract(Some(e)), &json_text(j)),
    }
}

fn element_matches(obj: &Object, path: &str, values: &[Scalar]) -> bool {
    each(data_get(obj, path))
        .into_iter()
        .any(|e| values.iter().any(|v| element_is(e, v)))
}

fn equals(schema: &ClassSchema, obj: &Object, path: &str, v: &Scalar) -> bool {
    if is_array_field(schema, path) && !matches!(v, Scalar::Json(_)) {
        element_matches(obj, path, std::slice::from_ref(v))
    } else if path.contains('.') && !matches!(v, Scalar::Json(_) | Scalar::Null) {
        compare(obj, path, Op::Eq, v)
            || (type_at(obj, path) == Some("array")
                && element_matches(obj, path, std::slice::from_ref(v)))
    } else {
        compare(obj, path, Op::Eq, v)
    }
}

/// A GeoPoint field's (latitude, longitude).
fn geo_at(obj: &Object, path: &str) -> Option<(f64, f64)> {
    let v = data_get(obj, path)?.as_object()?;
    if v.get("__type")?.as_str()? != "GeoPoint" {
        return None;
    }
    Some((v.get("latitude")?.as_f64()?, v.get("longitude")?.as_f64()?))
}

/// A Polygon field's vertices.
fn polygon_at(obj: &Object, path: &str) -> Option<Vec<(f64, f64)>> {
    let v = data_get(obj, path)?.as_object()?;
    if v.get("__type")?.as_str()? != "Polygon" {
        return None;
    }
    v.get("coordinates")?
        .as_array()?
        .iter()
        .map(|p| {
            let a = p.as_array()?;
            Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
        })
        .collect()
}

fn any_of(schema: &ClassSchema, obj: &Object, path: &str, values: &[Scalar]) -> bool {
    if values.is_empty() {
        return false;
    }
    if is_array_field(schema, path) {
        return element_matches(obj, path, values);
    }
    let lhs = || expr(obj, path);
    let strings = values.iter().filter_map(|v| match v {
        Scalar::String(s) => Some(s),
        _ => None,
    });
    let mut strings = strings.peekable();
    if strings.peek().is_some() && (is_column(path) || type_at(obj, path) == Some("text")) {
        let l = lhs();
        if strings.any(|s| sql_eq(&l, &Sv::Text(Cow::Borrowed(s)))) {
            return true;
        }
    }
    // The numbers' `IN` keeps its JSON type guard even on a column (where it never holds).
    if is_numeric_type(type_at(obj, path)) {
        let l = lhs();
        if values.iter().any(|v| match v {
            Scalar::Number(n) => sql_eq(&l, &number(n)),
            _ => false,
        }) {
            return true;
        }
    }
    values
        .iter()
        .filter(|v| !matches!(v, Scalar::String(_) | Scalar::Number(_)))
        .any(|v| compare(obj, path, Op::Eq, v))
}

thread_local! {
    static REGEXES: RefCell<HashMap<String, Option<regex::Regex>>> = RefCell::new(HashMap::new());
}

/// The store's `regexp(pattern, text)`: the `regex` crate with the same size limit, cached.
fn regexp(pattern: &str, text: &str) -> bool {
    REGEXES.with(|cell| {
        let mut cache = cell.borrow_mut();
        if !cache.contains_key(pattern) {
            if cache.len() >= 512 {
                cache.clear();
            }
            let re = regex::RegexBuilder::new(pattern)
                .size_limit(1 << 20)
                .build()
                .ok();
            cache.insert(pattern.to_string(), re);
        }
        cache
            .get(pattern)
            .and_then(Option::as_ref)
            .is_some_and(|re| re.is_match(text))
    })
}

fn cond_matches(schema: &ClassSchema, obj: &Object, path: &str, cond: &Cond) -> bool {
    match cond {
        Cond::Eq(v) => equals(schema, obj, path, v),
        Cond::EqIgnoreCase(s) => to_text(&expr(obj, path))
            .is_some_and(|t| t.to_ascii_lowercase() == s.to_ascii_lowercase()),
        Cond::Ne(v) => !equals(schema, obj, path, v),
        Cond::Lt(v) => compare(obj, path, Op::Lt, v),
        Cond::Lte(v) => compare(obj, path, Op::Lte, v),
        Cond::Gt(v) => compare(obj, path, Op::Gt, v),
        Cond::Gte(v) => compare(obj, path, Op::Gte, v),
        Cond::In(vs) => any_of(schema, obj, path, vs),
        Cond::Nin(vs) => !any_of(schema, obj, path, vs),
        Cond::Exists(want) => {
            let present = if is_column(path) {
                !matches!(obj.get(path), None | Some(Value::Null))
            } else {
                type_at(obj, path).is_some()
            };
            present == *want
        }
        Cond::NearSphere { point, max_radians } => geo_at(obj, path).is_some_and(|(lat, lng)| {
            max_radians
                .is_none_or(|m| crate::geo::distance_radians(lat, lng, point.lat, point.lng) <= m)
        }),
        Cond::WithinCenterSphere { center, radians } => {
            geo_at(obj, path).is_some_and(|(lat, lng)| {
                crate::geo::distance_radians(lat, lng, center.lat, center.lng) <= *radians
            })
        }
        Cond::WithinBox {
            south_west,
            north_east,
        } => geo_at(obj, path).is_some_and(|(lat, lng)| {
            (south_west.lat..=north_east.lat).contains(&lat)
                && (south_west.lng..=north_east.lng).contains(&lng)
        }),
        Cond::WithinPolygon(points) => {
            let poly: Vec<(f64, f64)> = points.iter().map(|p| (p.lat, p.lng)).collect();
            geo_at(obj, path).is_some_and(|(lat, lng)| crate::geo::in_polygon(&poly, lat, lng))
        }
        Cond::IntersectsPoint(p) => {
            polygon_at(obj, path).is_some_and(|poly| crate::geo::in_polygon(&poly, p.lat, p.lng))
        }
        // Full-text search needs the store's index: LiveQuery refuses it at subscribe time.
        Cond::Text(_) => false,
        Cond::Regex(pattern) if is_array_field(schema, path) || path.contains('.') => {
            match data_get(obj, path) {
                Some(Value::String(t)) => regexp(pattern, t),
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|t| regexp(pattern, t))),
                _ => false,
            }
        }
        Cond::Regex(pattern) => {
            if !is_column(path) && type_at(obj, path) != Some("text") {
                return false;
            }
            match expr(obj, path) {
                Sv::Text(t) => regexp(pattern, &t),
                _ => false,
            }
        }
        Cond::All(vs) => {
            !vs.is_empty()
                && vs
                    .iter()
                    .all(|v| element_matches(obj, path, std::slice::from_ref(v)))
        }
        Cond::ContainedBy(vs) => {
            if type_at(obj, path) != Some("array") {
                return false;
            }
            let allowed: Vec<Value> = vs.iter().map(scalar_json).collect();
            // Every element must be `IN` the type-compatible allowed values. SQL's `IN` over an
            // empty set is false even for NULL; over a non-empty set, NULL on either side makes
            // it NULL, which the surrounding `NOT (…)` does not count against the array.
            each(data_get(obj, path)).into_iter().all(|o| {
                let ot = json_type(Some(o));
                let ov = extract(Some(o));
                let mut candidates = allowed
                    .iter()
                    .filter(|e| {
                        let et = json_type(Some(e));
                        et == ot || (is_numeric_type(et) && is_numeric_type(ot))
                    })
                    .peekable();
                if candidates.peek().is_none() {
                    return false;
                }
                if ov.is_null() {
                    return true;
                }
                candidates.any(|e| {
                    let ev = extract(Some(e));
                    ev.is_null() || sql_eq(&ev, &ov)
                })
            })
        }
        Cond::InQuery(_) | Cond::NotInQuery(_) | Cond::Select { .. } | Cond::DontSelect { .. } => {
            false
        }
    }
}

fn scalar_json(s: &Scalar) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(*b),
        Scalar::Number(n) => Value::Number(n.clone()),
        Scalar::String(s) => Value::String(s.clone()),
        Scalar::Date(iso) => crate::types::date_value(iso),
        Scalar::Pointer { class, id } => crate::types::pointer_value(class, id),
        Scalar::Json(j) => j.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse_where;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(o) => o,
            _ => Object::new(),
        }
    }

    fn check(schema: &ClassSchema, w: Value, o: &Object) -> bool {
        match parse_where(&w) {
            Ok(f) => matches(schema, &f, o),
            Err(e) => panic!("bad where {w}: {e}"),
        }
    }

    #[test]
    fn types_are_bracketed() {
        let s = ClassSchema::new("A");
        let o = obj(json!({"objectId": "x", "n": 5, "s": "5", "b": true}));
        assert!(check(&s, json!({"n": 5}), &o));
        assert!(!check(&s, json!({"n": "5"}), &o));
        assert!(!check(&s, json!({"s": 5}), &o));
        assert!(check(&s, json!({"n": {"$gt": 4.5}}), &o));
        assert!(!check(&s, json!({"s": {"$gt": 4}}), &o));
        assert!(check(&s, json!({"b": true}), &o));
        assert!(!check(&s, json!({"n": true}), &o));
        assert!(check(&s, json!({"missing": null}), &o));
        assert!(check(&s, json!({"n": {"$ne": null}}), &o));
        assert!(check(&s, json!({"missing": {"$ne": 1}}), &o));
    }

    #[test]
    fn acl_filters() {
        let s = ClassSchema::new("A");
        let public = obj(json!({"objectId": "x"}));
        let private = obj(json!({"objectId": "y", "_rperm": ["u1", "role:r"]}));
        let who = |p: &[&str]| Filter::ReadableBy(p.iter().map(|x| x.to_string()).collect());
        assert!(matches(&s, &who(&["*"]), &public));
        assert!(!matches(&s, &who(&["*"]), &private));
        assert!(matches(&s, &who(&["*", "u1"]), &private));
        assert!(matches(&s, &who(&["*", "role:r"]), &private));
    }

    #[test]
    fn relations_are_unsupported() {
        let f = Filter::RelatedTo {
            owner_class: "A".into(),
            owner_id: "x".into(),
            field: "f".into(),
        };
        assert!(unsupported(&Filter::And(vec![Filter::True, f])).is_some());
        assert!(unsupported(&Filter::True).is_none());
    }
}
