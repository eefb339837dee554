//! Translation of the core's query AST into SQLite SQL over the class tables.
//!
//! A class table has the columns `objectId`, `createdAt`, `updatedAt`, `_rperm`, `_wperm` and
//! `data` (the object's other fields as JSON). Fields are reached with `json_extract(data, '$.a.b')`,
//! written the same way in queries and in indexes so that SQLite can use the indexes.

use ferrobase_core::query::{Cond, Filter, Scalar, SortKey};
use ferrobase_core::schema::{ClassSchema, FieldType};
use rusqlite::types::Value as SqlValue;
use serde_json::Number;

/// A WHERE clause (or ORDER BY) under construction with its bound parameters.
#[derive(Default)]
pub struct Sql {
    pub text: String,
    pub params: Vec<SqlValue>,
}

/// Quotes an identifier (class and join-table names).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn is_column(path: &str) -> bool {
    matches!(path, "objectId" | "createdAt" | "updatedAt")
}

fn safe_segment(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The JSON path literal for a dotted field path; `None` if a segment needs quoting
/// (then it is bound as a parameter instead of written into the SQL).
fn json_path(path: &str) -> Option<String> {
    path.split('.')
        .all(safe_segment)
        .then(|| format!("$.{path}"))
}

fn json_path_quoted(path: &str) -> String {
    let mut s = String::from("$");
    for seg in path.split('.') {
        s.push_str(".\"");
        s.push_str(&seg.replace('\\', "\\\\").replace('"', "\\\""));
        s.push('"');
    }
    s
}

impl Sql {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn bind(&mut self, v: SqlValue) {
        self.text.push('?');
        self.params.push(v);
    }

    /// `json_<func>(data, '<path>')`, with the path inline when it is a plain identifier path.
    fn json_fn(&mut self, func: &str, path: &str) {
        match json_path(path) {
            Some(p) => self.push(&format!("{func}(data,'{p}')")),
            None => {
                self.push(&format!("{func}(data,"));
                self.bind(SqlValue::Text(json_path_quoted(path)));
                self.push(")");
            }
        }
    }

    /// The SQL expression of a field's value (columns for the built-in fields).
    fn expr(&mut self, path: &str) {
        if is_column(path) {
            self.push(path);
        } else {
            self.json_fn("json_extract", path);
        }
    }

    fn json_type(&mut self, path: &str) {
        self.json_fn("json_type", path);
    }
}

/// The expression (as SQL text with inline path) used to index and sort a field; `None` when the
/// path cannot be written inline.
pub fn sort_expr(schema: &ClassSchema, path: &str) -> Option<String> {
    if is_column(path) {
        return Some(path.to_string());
    }
    let p = json_path(path)?;
    Some(match schema.field(path) {
        Some(FieldType::Date) => format!("json_extract(data,'{p}.iso')"),
        Some(FieldType::Pointer(_)) => format!("json_extract(data,'{p}.objectId')"),
        _ => format!("json_extract(data,'{p}')"),
    })
}

pub fn number(n: &Number) -> SqlValue {
    match n.as_i64() {
        Some(i) => SqlValue::Integer(i),
        None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
    }
}

/// Translates a filter into a WHERE clause for `schema`'s table.
pub fn where_clause(schema: &ClassSchema, filter: &Filter) -> Sql {
    let mut sql = Sql::default();
    filter_sql(&mut sql, schema, filter);
    sql
}

fn join_table(field: &str, class: &str) -> String {
    ident(&format!("_Join:{field}:{class}"))
}

fn list(sql: &mut Sql, schema: &ClassSchema, items: &[Filter], sep: &str, empty: &str) {
    if items.is_empty() {
        sql.push(empty);
        return;
    }
    sql.push("(");
    for (i, f) in items.iter().enumerate() {
        if i > 0 {
            sql.push(sep);
        }
        filter_sql(sql, schema, f);
    }
    sql.push(")");
}

fn filter_sql(sql: &mut Sql, schema: &ClassSchema, filter: &Filter) {
    match filter {
        Filter::True => sql.push("1"),
        Filter::And(items) => list(sql, schema, items, " AND ", "1"),
        Filter::Or(items) => list(sql, schema, items, " OR ", "0"),
        Filter::Nor(items) => {
            sql.push("NOT COALESCE(");
            list(sql, schema, items, " OR ", "0");
            sql.push(",0)");
        }
        Filter::ReadableBy(p) | Filter::WritableBy(p) => {
            let col = if matches!(filter, Filter::ReadableBy(_)) {
                "_rperm"
            } else {
                "_wperm"
            };
            sql.push(&format!(
                "({col} IS NULL OR EXISTS (SELECT 1 FROM json_each({col}) WHERE value IN ("
            ));
            for (i, who) in p.iter().enumerate() {
                if i > 0 {
                    sql.push(",");
                }
                sql.bind(SqlValue::Text(who.clone()));
            }
            sql.push(")))");
        }
        Filter::RelatedTo {
            owner_class,
            owner_id,
            field,
        } => {
            sql.push(&format!(
                "objectId IN (SELECT relatedId FROM {} WHERE owningId = ",
                join_table(field, owner_class)
            ));
            sql.bind(SqlValue::Text(owner_id.clone()));
            sql.push(")");
        }
        Filter::RelationContains { field, related_id } => {
            sql.push(&format!(
                "objectId IN (SELECT owningId FROM {} WHERE relatedId = ",
                join_table(field, &schema.class_name)
            ));
            sql.bind(SqlValue::Text(related_id.clone()));
            sql.push(")");
        }
        Filter::Field { path, cond } => cond_sql(sql, schema, path, cond),
    }
}

fn is_array_field(schema: &ClassSchema, path: &str) -> bool {
    !path.contains('.') && matches!(schema.field(path), Some(FieldType::Array))
}

/// Comparison of a field with one value, with the JSON type guard that keeps Parse's type rules
/// (a number never equals a string or a boolean).
fn compare(sql: &mut Sql, path: &str, op: &str, v: &Scalar) {
    match v {
        Scalar::Null => {
            if op == "=" {
                if is_column(path) {
                    sql.push(&format!("{path} IS NULL"));
                } else {
                    sql.push("COALESCE(");
                    sql.json_type(path);
                    sql.push(",'null') = 'null'");
                }
            } else {
                sql.push("0");
            }
        }
        Scalar::Bool(b) => {
            if op == "=" {
                sql.json_type(path);
                sql.push(if *b { " = 'true'" } else { " = 'false'" });
            } else {
                sql.push("0");
            }
        }
        Scalar::Number(n) => {
            sql.push("(");
            sql.expr(path);
            sql.push(&format!(" {op} "));
            sql.bind(number(n));
            if !is_column(path) {
                sql.push(" AND ");
                sql.json_type(path);
                sql.push(" IN ('integer','real')");
            }
            sql.push(")");
        }
        Scalar::String(s) => {
            sql.push("(");
            sql.expr(path);
            sql.push(&format!(" {op} "));
            sql.bind(SqlValue::Text(s.clone()));
            if !is_column(path) {
                sql.push(" AND ");
                sql.json_type(path);
                sql.push(" = 'text'");
            }
            sql.push(")");
        }
        Scalar::Date(iso) => {
            if is_column(path) {
                sql.push(&format!("{path} {op} "));
            } else {
                sql.expr(&format!("{path}.iso"));
                sql.push(&format!(" {op} "));
            }
            sql.bind(SqlValue::Text(iso.clone()));
        }
        Scalar::Pointer { class, id } => {
            sql.push("(");
            sql.expr(&format!("{path}.objectId"));
            sql.push(&format!(" {op} "));
            sql.bind(SqlValue::Text(id.clone()));
            if op == "=" {
                sql.push(" AND ");
                sql.expr(&format!("{path}.className"));
                sql.push(" = ");
                sql.bind(SqlValue::Text(class.clone()));
            }
            sql.push(")");
        }
        Scalar::Json(j) => {
            if op == "=" {
                sql.expr(path);
                sql.push(" = json(");
                sql.bind(SqlValue::Text(j.to_string()));
                sql.push(")");
            } else {
                sql.push("0");
            }
        }
    }
}

/// `EXISTS` over the elements of an array field, comparing each element with `v`.
fn element_matches(sql: &mut Sql, path: &str, values: &[Scalar]) {
    sql.push("EXISTS (SELECT 1 FROM json_each(data,");
    match json_path(path) {
        Some(p) => sql.push(&format!("'{p}'")),
        None => sql.bind(SqlValue::Text(json_path_quoted(path))),
    }
    sql.push(") AS e WHERE ");
    if values.is_empty() {
        sql.push("0");
    }
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push(" OR ");
        }
        match v {
            Scalar::Null => sql.push("e.type = 'null'"),
            Scalar::Bool(b) => sql.push(if *b {
                "e.type = 'true'"
            } else {
                "e.type = 'false'"
            }),
            Scalar::Number(n) => {
                sql.push("(e.type IN ('integer','real') AND e.value = ");
                sql.bind(number(n));
                sql.push(")");
            }
            Scalar::String(s) => {
                sql.push("(e.type = 'text' AND e.value = ");
                sql.bind(SqlValue::Text(s.clone()));
                sql.push(")");
            }
            Scalar::Date(iso) => {
                sql.push("(e.type = 'object' AND json_extract(e.value,'$.iso') = ");
                sql.bind(SqlValue::Text(iso.clone()));
                sql.push(")");
            }
            Scalar::Pointer { class, id } => {
                sql.push("(e.type = 'object' AND json_extract(e.value,'$.objectId') = ");
                sql.bind(SqlValue::Text(id.clone()));
                sql.push(" AND json_extract(e.value,'$.className') = ");
                sql.bind(SqlValue::Text(class.clone()));
                sql.push(")");
            }
            Scalar::Json(j) => {
                sql.push("(e.value = json(");
                sql.bind(SqlValue::Text(j.to_string()));
                sql.push("))");
            }
        }
    }
    sql.push(")");
}

fn equals(sql: &mut Sql, schema: &ClassSchema, path: &str, v: &Scalar) {
    if is_array_field(schema, path) && !matches!(v, Scalar::Json(_)) {
        element_matches(sql, path, std::slice::from_ref(v));
    } else if path.contains('.') && !matches!(v, Scalar::Json(_) | Scalar::Null) {
        // Inside an Object the type is unknown: an array there matches by member, as in MongoDB.
        sql.push("(");
        compare(sql, path, "=", v);
        sql.push(" OR (");
        sql.json_type(path);
        sql.push(" = 'array' AND ");
        element_matches(sql, path, std::slice::from_ref(v));
        sql.push("))");
    } else {
        compare(sql, path, "=", v);
    }
}

fn any_of(sql: &mut Sql, schema: &ClassSchema, path: &str, values: &[Scalar]) {
    if values.is_empty() {
        sql.push("0");
        return;
    }
    if is_array_field(schema, path) {
        element_matches(sql, path, values);
        return;
    }
    // Strings and numbers go into one `IN (…)` each, which can use an index on the field.
    let strings: Vec<&String> = values
        .iter()
        .filter_map(|v| {
            if let Scalar::String(s) = v {
                Some(s)
            } else {
                None
            }
        })
        .collect();
    let numbers: Vec<&Number> = values
        .iter()
        .filter_map(|v| {
            if let Scalar::Number(n) = v {
                Some(n)
            } else {
                None
            }
        })
        .collect();
    let others: Vec<&Scalar> = values
        .iter()
        .filter(|v| !matches!(v, Scalar::String(_) | Scalar::Number(_)))
        .collect();
    sql.push("(");
    let mut first = true;
    let mut sep = |sql: &mut Sql| {
        if !first {
            sql.push(" OR ");
        }
        first = false;
    };
    if !strings.is_empty() {
        sep(sql);
        sql.push("(");
        sql.expr(path);
        sql.push(" IN (");
        for (i, s) in strings.iter().enumerate() {
            if i > 0 {
                sql.push(",");
            }
            sql.bind(SqlValue::Text((*s).clone()));
        }
        sql.push(")");
        if !is_column(path) {
            sql.push(" AND ");
            sql.json_type(path);
            sql.push(" = 'text'");
        }
        sql.push(")");
    }
    if !numbers.is_empty() {
        sep(sql);
        sql.push("(");
        sql.expr(path);
        sql.push(" IN (");
        for (i, n) in numbers.iter().enumerate() {
            if i > 0 {
                sql.push(",");
            }
            sql.bind(number(n));
        }
        sql.push(") AND ");
        sql.json_type(path);
        sql.push(" IN ('integer','real'))");
    }
    for v in others {
        sep(sql);
        compare(sql, path, "=", v);
    }
    sql.push(")");
}

fn negate(sql: &mut Sql, inner: impl FnOnce(&mut Sql)) {
    sql.push("NOT COALESCE((");
    inner(sql);
    sql.push("),0)");
}

fn cond_sql(sql: &mut Sql, schema: &ClassSchema, path: &str, cond: &Cond) {
    match cond {
        Cond::Eq(v) => equals(sql, schema, path, v),
        Cond::EqIgnoreCase(s) => {
            sql.push("lower(");
            sql.expr(path);
            sql.push(") = lower(");
            sql.bind(SqlValue::Text(s.clone()));
            sql.push(")");
        }
        Cond::Ne(v) => negate(sql, |sql| equals(sql, schema, path, v)),
        Cond::Lt(v) => compare(sql, path, "<", v),
        Cond::Lte(v) => compare(sql, path, "<=", v),
        Cond::Gt(v) => compare(sql, path, ">", v),
        Cond::Gte(v) => compare(sql, path, ">=", v),
        Cond::In(vs) => any_of(sql, schema, path, vs),
        Cond::Nin(vs) => negate(sql, |sql| any_of(sql, schema, path, vs)),
        Cond::Exists(true) => {
            if is_column(path) {
                sql.push(&format!("{path} IS NOT NULL"));
            } else {
                sql.json_type(path);
                sql.push(" IS NOT NULL");
            }
        }
        Cond::Exists(false) => {
            if is_column(path) {
                sql.push(&format!("{path} IS NULL"));
            } else {
                sql.json_type(path);
                sql.push(" IS NULL");
            }
        }
        Cond::Regex(pattern) if is_array_field(schema, path) || path.contains('.') => {
            // On an array, any text element may match (MongoDB's rule).
            sql.push("((");
            sql.json_type(path);
            sql.push(" = 'text' AND regexp(");
            sql.bind(SqlValue::Text(pattern.clone()));
            sql.push(",");
            sql.expr(path);
            sql.push(")) OR (");
            sql.json_type(path);
            sql.push(" = 'array' AND EXISTS (SELECT 1 FROM json_each(data,");
            match json_path(path) {
                Some(p) => sql.push(&format!("'{p}'")),
                None => sql.bind(SqlValue::Text(json_path_quoted(path))),
            }
            sql.push(") AS e WHERE e.type = 'text' AND regexp(");
            sql.bind(SqlValue::Text(pattern.clone()));
            sql.push(", e.value))))");
        }
        Cond::Regex(pattern) => {
            sql.push("(");
            if !is_column(path) {
                sql.json_type(path);
                sql.push(" = 'text' AND ");
            }
            sql.push("regexp(");
            sql.bind(SqlValue::Text(pattern.clone()));
            sql.push(",");
            sql.expr(path);
            sql.push("))");
        }
        Cond::All(vs) => {
            if vs.is_empty() {
                sql.push("0");
                return;
            }
            sql.push("(");
            for (i, v) in vs.iter().enumerate() {
                if i > 0 {
                    sql.push(" AND ");
                }
                element_matches(sql, path, std::slice::from_ref(v));
            }
            sql.push(")");
        }
        Cond::NearSphere { point, max_radians } => {
            geo_guard(sql, path, "GeoPoint");
            if let Some(max) = max_radians {
                sql.push(" AND ");
                distance(sql, path, point);
                sql.push(" <= ");
                sql.bind(SqlValue::Real(*max));
            }
            sql.push(")");
        }
        Cond::WithinCenterSphere { center, radians } => {
            geo_guard(sql, path, "GeoPoint");
            sql.push(" AND ");
            distance(sql, path, center);
            sql.push(" <= ");
            sql.bind(SqlValue::Real(*radians));
            sql.push(")");
        }
        Cond::WithinBox {
            south_west,
            north_east,
        } => {
            geo_guard(sql, path, "GeoPoint");
            sql.push(" AND ");
            sql.expr(&format!("{path}.latitude"));
            sql.push(" BETWEEN ");
            sql.bind(SqlValue::Real(south_west.lat));
            sql.push(" AND ");
            sql.bind(SqlValue::Real(north_east.lat));
            sql.push(" AND ");
            sql.expr(&format!("{path}.longitude"));
            sql.push(" BETWEEN ");
            sql.bind(SqlValue::Real(south_west.lng));
            sql.push(" AND ");
            sql.bind(SqlValue::Real(north_east.lng));
            sql.push(")");
        }
        Cond::WithinPolygon(points) => {
            geo_guard(sql, path, "GeoPoint");
            sql.push(" AND geo_in_polygon(");
            let poly: Vec<[f64; 2]> = points.iter().map(|p| [p.lat, p.lng]).collect();
            sql.bind(SqlValue::Text(
                serde_json::to_string(&poly).unwrap_or_default(),
            ));
            sql.push(", ");
            sql.expr(&format!("{path}.latitude"));
            sql.push(", ");
            sql.expr(&format!("{path}.longitude"));
            sql.push("))");
        }
        Cond::IntersectsPoint(p) => {
            geo_guard(sql, path, "Polygon");
            sql.push(" AND geo_in_polygon(");
            sql.expr(&format!("{path}.coordinates"));
            sql.push(", ");
            sql.bind(SqlValue::Real(p.lat));
            sql.push(", ");
            sql.bind(SqlValue::Real(p.lng));
            sql.push("))");
        }
        Cond::Text(t) => {
            let table = ident(&crate::fts::table(&schema.class_name, path));
            let Some(q) = crate::fts::match_query(&t.term) else {
                sql.push("0");
                return;
            };
            sql.push(&format!(
                "({}.rowid IN (SELECT rowid FROM {table} WHERE {table} MATCH ",
                ident(&schema.class_name)
            ));
            sql.bind(SqlValue::Text(q));
            sql.push(")");
            if t.case_sensitive || t.diacritic_sensitive {
                // FTS5 folds case and accents: keep rows where a word appears exactly as written.
                let words = crate::fts::words(&t.term);
                sql.push(" AND (0");
                for w in words {
                    sql.push(" OR instr(");
                    sql.expr(path);
                    sql.push(", ");
                    sql.bind(SqlValue::Text(w));
                    sql.push(") > 0");
                }
                sql.push(")");
            }
            sql.push(")");
        }
        Cond::InQuery(_) | Cond::NotInQuery(_) | Cond::Select { .. } | Cond::DontSelect { .. } => {
            // The core resolves sub-queries before a store sees the filter; never match if one slips through.
            debug_assert!(false, "unresolved sub-query reached the store");
            sql.push("0");
        }
        Cond::ContainedBy(vs) => {
            // Every element of the array is one of `vs`: no element matches "none of vs".
            sql.push("(");
            sql.json_type(path);
            sql.push(" = 'array' AND NOT EXISTS (SELECT 1 FROM json_each(data,");
            match json_path(path) {
                Some(p) => sql.push(&format!("'{p}'")),
                None => sql.bind(SqlValue::Text(json_path_quoted(path))),
            }
            sql.push(") AS o WHERE NOT (o.value IN (SELECT e.value FROM json_each(");
            sql.bind(SqlValue::Text(
                serde_json::Value::Array(vs.iter().map(scalar_json).collect()).to_string(),
            ));
            sql.push(") AS e WHERE e.type = o.type OR (e.type IN ('integer','real') AND o.type IN ('integer','real'))))))");
        }
    }
}

/// Opens `(<field is a GeoPoint/Polygon>` (the caller closes the parenthesis).
fn geo_guard(sql: &mut Sql, path: &str, kind: &str) {
    sql.push("(");
    sql.expr(&format!("{path}.__type"));
    sql.push(&format!(" = '{kind}'"));
}

fn distance(sql: &mut Sql, path: &str, p: &ferrobase_core::query::GeoPoint) {
    sql.push("geo_dist(");
    sql.expr(&format!("{path}.latitude"));
    sql.push(", ");
    sql.expr(&format!("{path}.longitude"));
    sql.push(", ");
    sql.bind(SqlValue::Real(p.lat));
    sql.push(", ");
    sql.bind(SqlValue::Real(p.lng));
    sql.push(")");
}

/// The first `$nearSphere` of a filter (at the top or inside an `$and`): results go nearest first.
pub fn near_of(f: &Filter) -> Option<(&str, ferrobase_core::query::GeoPoint)> {
    match f {
        Filter::Field {
            path,
            cond: Cond::NearSphere { point, .. },
        } => Some((path, *point)),
        Filter::And(items) => items.iter().find_map(near_of),
        _ => None,
    }
}

/// Every `$text` search of a filter: `(field, search)`.
pub fn texts_of<'a>(
    f: &'a Filter,
    out: &mut Vec<(&'a str, &'a ferrobase_core::query::TextSearch)>,
) {
    match f {
        Filter::Field {
            path,
            cond: Cond::Text(t),
        } => out.push((path, t)),
        Filter::And(items) | Filter::Or(items) | Filter::Nor(items) => {
            items.iter().for_each(|x| texts_of(x, out))
        }
        _ => {}
    }
}

fn scalar_json(s: &Scalar) -> serde_json::Value {
    match s {
        Scalar::Null => serde_json::Value::Null,
        Scalar::Bool(b) => (*b).into(),
        Scalar::Number(n) => serde_json::Value::Number(n.clone()),
        Scalar::String(s) => s.clone().into(),
        Scalar::Date(iso) => ferrobase_core::types::date_value(iso),
        Scalar::Pointer { class, id } => ferrobase_core::types::pointer_value(class, id),
        Scalar::Json(j) => j.clone(),
    }
}

/// `ORDER BY …` for sort keys (empty when there are none); `$score` sorts by text relevance
/// (the `score` column), and without sort keys a `$nearSphere` sorts nearest first.
pub fn order_by(schema: &ClassSchema, order: &[SortKey], filter: &Filter, has_score: bool) -> Sql {
    let mut sql = Sql::default();
    if order.is_empty() {
        if let Some((path, p)) = near_of(filter) {
            sql.push(" ORDER BY ");
            distance(&mut sql, path, &p);
            sql.push(" ASC");
        }
        return sql;
    }
    for (i, k) in order.iter().enumerate() {
        sql.push(if i == 0 { " ORDER BY " } else { ", " });
        if k.path == "$score" {
            sql.push(if has_score { "score" } else { "1" });
            sql.push(if k.descending { " ASC" } else { " DESC" });
            continue;
        }
        match sort_expr(schema, &k.path) {
            Some(e) => sql.push(&e),
            None => sql.expr(&k.path),
        }
        sql.push(if k.descending { " DESC" } else { " ASC" });
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrobase_core::query::parse_where;
    use serde_json::json;

    #[test]
    fn simple_paths_are_inline_for_indexes() {
        let s = ClassSchema::new("A");
        let f = parse_where(&json!({"price": {"$gt": 10}})).unwrap_or(Filter::True);
        let sql = where_clause(&s, &f);
        assert!(
            sql.text.contains("json_extract(data,'$.price') > ?"),
            "{}",
            sql.text
        );
        assert_eq!(sql.params.len(), 1);
    }

    #[test]
    fn odd_nested_keys_are_bound() {
        let s = ClassSchema::new("A");
        let f = Filter::eq("meta.it's", Scalar::String("x".into()));
        let sql = where_clause(&s, &f);
        assert!(!sql.text.contains("it's"), "{}", sql.text);
    }
}
