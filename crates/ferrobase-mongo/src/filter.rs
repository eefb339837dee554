//! The core's query AST → MongoDB query documents, following Parse's `transformWhere`.
//! Relation filters arrive here already resolved to objectId lists (`Resolved`).

use crate::encode::{self, interior, path_key};
use crate::residual::Residual;
use ferrobase_core::query::{Cond, Filter, GeoPoint, Scalar, SortKey};
use ferrobase_core::schema::{ClassSchema, FieldType};
use mongodb::bson::{doc, Bson, Document};

/// Matches nothing.
pub fn never() -> Document {
    doc! {"_id": {"$in": []}}
}

/// What the server can do (FerretDB v1 lacks some of MongoDB's operators).
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps {
    /// `$type: "array"` is understood.
    pub type_array: bool,
    /// `$nearSphere`, `$geoWithin`, `$geoIntersects` (not on FerretDB v1).
    pub geo: bool,
    /// `$elemMatch: {$nin: …}` is evaluated per element (FerretDB v1 gets it wrong).
    pub elem_match_nin: bool,
}

pub struct Translator<'a> {
    pub schema: &'a ClassSchema,
    /// The objectIds each relation filter matches, in the order `relation_filters` lists them.
    pub resolved: &'a [Vec<String>],
    pub next: std::cell::Cell<usize>,
    /// Counting: `$nearSphere` is not allowed in `count`, so it becomes `$geoWithin`.
    pub counting: bool,
    pub caps: Caps,
    /// Checks left for Rust (see `residual`), and whether one sits where a superset is unsound.
    pub residual: std::cell::RefCell<Vec<Residual>>,
    pub nested: std::cell::Cell<usize>,
    pub unsupported: std::cell::Cell<bool>,
}

/// The relation filters of a filter, depth first.
pub fn relation_filters<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
    match f {
        Filter::And(items) | Filter::Or(items) | Filter::Nor(items) => {
            items.iter().for_each(|x| relation_filters(x, out))
        }
        Filter::RelatedTo { .. } | Filter::RelationContains { .. } => out.push(f),
        _ => {}
    }
}

fn is_pointer(s: &Scalar) -> bool {
    matches!(s, Scalar::Pointer { .. })
}

fn lng_lat(p: &GeoPoint) -> Bson {
    Bson::Array(vec![Bson::Double(p.lng), Bson::Double(p.lat)])
}

/// Escapes a string for a regex (PCRE and RE2 both accept an escaped ASCII punctuation mark).
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits a leading inline flag group `(?ims)` off a pattern into `$options`.
fn split_flags(pattern: &str) -> (&str, String) {
    if let Some(rest) = pattern.strip_prefix("(?") {
        if let Some(end) = rest.find(')') {
            let flags = &rest[..end];
            if !flags.is_empty() && flags.chars().all(|c| matches!(c, 'i' | 'm' | 's' | 'x')) {
                return (&rest[end + 1..], flags.to_string());
            }
        }
    }
    (pattern, String::new())
}

impl Translator<'_> {
    /// The key a condition on `path` reads (`_p_` for pointers, `_id`, `_created_at`, …).
    fn key(&self, path: &str, pointer_value: bool) -> String {
        let pointer = pointer_value && !path.contains('.') && !self.is_array(path);
        path_key(self.schema, path, pointer)
    }

    fn is_array(&self, path: &str) -> bool {
        matches!(self.schema.field(path), Some(FieldType::Array))
    }

    fn stored_as_pointer_string(&self, path: &str, pointer_value: bool) -> bool {
        !path.contains('.')
            && (matches!(self.schema.field(path), Some(FieldType::Pointer(_)))
                || (pointer_value && self.schema.field(path).is_none()))
    }

    /// A query value for `path`.
    fn value(&self, path: &str, s: &Scalar) -> Bson {
        match s {
            Scalar::Null => Bson::Null,
            Scalar::Bool(b) => Bson::Boolean(*b),
            Scalar::Number(n) => encode::number(n),
            Scalar::String(x) => {
                if matches!(path, "createdAt" | "updatedAt") {
                    if let Some(d) = encode::date(x) {
                        return d;
                    }
                }
                Bson::String(x.clone())
            }
            Scalar::Date(iso) => encode::date(iso).unwrap_or(Bson::Null),
            Scalar::Pointer { class, id } => {
                if self.stored_as_pointer_string(path, true) {
                    Bson::String(format!("{class}${id}"))
                } else {
                    let mut d = Document::new();
                    d.insert("__type", "Pointer");
                    d.insert("className", class.clone());
                    d.insert("objectId", id.clone());
                    Bson::Document(d)
                }
            }
            Scalar::Json(v) => {
                if matches!(self.schema.field(path), Some(FieldType::File)) {
                    if let Some(name) = v.get("name").filter(|_| v.get("url").is_none()) {
                        return interior(name);
                    }
                }
                interior(v)
            }
        }
    }

    fn values(&self, path: &str, vs: &[Scalar]) -> Bson {
        Bson::Array(vs.iter().map(|v| self.value(path, v)).collect())
    }

    /// `{"$and" | "$or" | "$nor": [each sub-filter]}`.
    fn combine(&self, op: &str, items: &[Filter]) -> Document {
        let subs: Vec<Bson> = items
            .iter()
            .map(|x| Bson::Document(self.filter(x)))
            .collect();
        doc! { op: subs }
    }

    pub fn filter(&self, f: &Filter) -> Document {
        match f {
            Filter::True => Document::new(),
            Filter::And(items) if items.is_empty() => Document::new(),
            Filter::Or(items) if items.is_empty() => never(),
            Filter::Nor(items) if items.is_empty() => Document::new(),
            Filter::And(items) => self.combine("$and", items),
            Filter::Or(items) => self.combine("$or", items),
            Filter::Nor(items) => self.combine("$nor", items),
            Filter::ReadableBy(p) | Filter::WritableBy(p) => {
                let key = if matches!(f, Filter::ReadableBy(_)) {
                    "_rperm"
                } else {
                    "_wperm"
                };
                let mut who = vec![Bson::Null];
                who.extend(p.iter().map(|s| Bson::String(s.clone())));
                doc! {key: {"$in": who}}
            }
            Filter::RelatedTo { .. } | Filter::RelationContains { .. } => {
                let i = self.next.get();
                self.next.set(i + 1);
                let ids: Vec<Bson> = self
                    .resolved
                    .get(i)
                    .map(|v| v.iter().map(|s| Bson::String(s.clone())).collect())
                    .unwrap_or_default();
                doc! {"_id": {"$in": ids}}
            }
            Filter::Field { path, cond } => self.cond(path, cond),
        }
    }

    /// Leaves a check to Rust and sends `relaxed` (a superset) to the server.
    fn defer(&self, r: Residual, relaxed: Document) -> Document {
        if self.nested.get() > 0 {
            self.unsupported.set(true);
        }
        self.residual.borrow_mut().push(r);
        relaxed
    }

    fn cond(&self, path: &str, cond: &Cond) -> Document {
        if let Some(d) = self.deferred(path, cond) {
            return d;
        }
        let one = |op: &str, s: &Scalar| -> Document {
            let key = self.key(path, is_pointer(s));
            let mut inner = Document::new();
            inner.insert(op, self.value(path, s));
            doc! {key: inner}
        };
        let ordered = |op: &str, s: &Scalar| -> Document {
            match s {
                Scalar::Null | Scalar::Bool(_) | Scalar::Json(_) => never(),
                _ => one(op, s),
            }
        };
        match cond {
            Cond::Eq(s) => {
                let key = self.key(path, is_pointer(s));
                doc! {key: self.value(path, s)}
            }
            Cond::Ne(s) => one("$ne", s),
            Cond::Lt(s) => ordered("$lt", s),
            Cond::Lte(s) => ordered("$lte", s),
            Cond::Gt(s) => ordered("$gt", s),
            Cond::Gte(s) => ordered("$gte", s),
            Cond::In(vs) | Cond::Nin(vs) | Cond::All(vs) => {
                let op = match cond {
                    Cond::In(_) => "$in",
                    Cond::Nin(_) => "$nin",
                    _ => "$all",
                };
                if vs.is_empty() && op != "$nin" {
                    return never();
                }
                let key = self.key(path, vs.iter().any(is_pointer));
                let mut inner = Document::new();
                inner.insert(op, self.values(path, vs));
                doc! {key: inner}
            }
            Cond::ContainedBy(vs) => {
                let key = self.key(path, false);
                let list = self.values(path, vs);
                // Parse's `{$not: {$elemMatch: {$nin}}}`, written with `$nor` and an explicit
                // empty-array case (FerretDB v1 gets empty arrays wrong); only arrays qualify.
                let kind = if self.caps.type_array {
                    doc! {key.clone(): {"$type": "array"}}
                } else {
                    doc! {key.clone(): {"$exists": true}}
                };
                let empty = doc! {key.clone(): {"$size": 0}};
                let none_other = doc! {"$nor": [{key: {"$elemMatch": {"$nin": list}}}]};
                doc! {"$and": [kind, {"$or": [empty, none_other]}]}
            }
            Cond::Exists(b) => {
                let key = self.key(path, false);
                doc! {key: {"$exists": *b}}
            }
            Cond::EqIgnoreCase(s) => {
                let key = self.key(path, false);
                doc! {key: {"$regex": format!("^{}$", regex_escape(s)), "$options": "i"}}
            }
            Cond::Regex(p) => {
                let key = self.key(path, false);
                let (pattern, flags) = split_flags(p);
                doc! {key: {"$regex": pattern, "$options": flags}}
            }
            Cond::NearSphere { point, max_radians } => {
                let key = self.key(path, false);
                if self.counting {
                    return match max_radians {
                        Some(r) => {
                            doc! {key: {"$geoWithin": {"$centerSphere": [lng_lat(point), *r]}}}
                        }
                        None => doc! {key: {"$exists": true}},
                    };
                }
                let mut inner = doc! {"$nearSphere": lng_lat(point)};
                if let Some(r) = max_radians {
                    inner.insert("$maxDistance", *r);
                }
                doc! {key: inner}
            }
            Cond::WithinBox {
                south_west,
                north_east,
            } => {
                let key = self.key(path, false);
                doc! {key: {"$geoWithin": {"$box": [lng_lat(south_west), lng_lat(north_east)]}}}
            }
            Cond::WithinPolygon(points) => {
                let key = self.key(path, false);
                let pts: Vec<Bson> = points.iter().map(lng_lat).collect();
                doc! {key: {"$geoWithin": {"$polygon": pts}}}
            }
            Cond::WithinCenterSphere { center, radians } => {
                let key = self.key(path, false);
                doc! {key: {"$geoWithin": {"$centerSphere": [lng_lat(center), *radians]}}}
            }
            Cond::IntersectsPoint(p) => {
                let key = self.key(path, false);
                doc! {key: {"$geoIntersects": {"$geometry": {"type": "Point", "coordinates": lng_lat(p)}}}}
            }
            Cond::Text(t) => {
                let mut search = doc! {"$search": t.term.clone()};
                if let Some(l) = &t.language {
                    search.insert("$language", l.clone());
                }
                search.insert("$caseSensitive", t.case_sensitive);
                search.insert("$diacriticSensitive", t.diacritic_sensitive);
                doc! {"$text": search}
            }
            Cond::InQuery(_)
            | Cond::NotInQuery(_)
            | Cond::Select { .. }
            | Cond::DontSelect { .. } => {
                debug_assert!(false, "unresolved sub-query reached the store");
                never()
            }
        }
    }

    fn deferred(&self, path: &str, cond: &Cond) -> Option<Document> {
        let key = self.key(path, false);
        let shaped = doc! {key.clone(): {"$exists": true}};
        let p = path.to_string();
        Some(match cond {
            Cond::ContainedBy(vs) if !self.caps.elem_match_nin => {
                let values = vs.iter().map(crate::encode::scalar_json).collect();
                self.defer(
                    Residual::ContainedBy { path: p, values },
                    doc! {key: {"$type": "array"}},
                )
            }
            _ if self.caps.geo => return None,
            Cond::WithinBox {
                south_west,
                north_east,
            } => {
                // Exact in the database: `[lng, lat]` compared element by element.
                doc! {
                    format!("{key}.0"): {"$gte": south_west.lng, "$lte": north_east.lng},
                    format!("{key}.1"): {"$gte": south_west.lat, "$lte": north_east.lat},
                }
            }
            Cond::NearSphere { point, max_radians } => self.defer(
                Residual::Near {
                    path: p,
                    point: *point,
                    max: *max_radians,
                },
                shaped,
            ),
            Cond::WithinCenterSphere { center, radians } => self.defer(
                Residual::CenterSphere {
                    path: p,
                    center: *center,
                    radians: *radians,
                },
                shaped,
            ),
            Cond::WithinPolygon(points) => self.defer(
                Residual::Polygon {
                    path: p,
                    points: points.clone(),
                },
                shaped,
            ),
            Cond::IntersectsPoint(point) => self.defer(
                Residual::Intersects {
                    path: p,
                    point: *point,
                },
                shaped,
            ),
            _ => return None,
        })
    }

    /// The sort document; `$score` sorts by text relevance.
    pub fn sort(&self, order: &[SortKey]) -> Document {
        let mut d = Document::new();
        for k in order {
            if k.path == "$score" {
                d.insert("score", doc! {"$meta": "textScore"});
                continue;
            }
            let key = self.key(&k.path, false);
            d.insert(key, if k.descending { -1 } else { 1 });
        }
        d
    }
}

/// Every `$text` search of a filter: `(field, …)`.
pub fn text_fields(f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::Field {
            path,
            cond: Cond::Text(_),
        } => out.push(path.clone()),
        Filter::And(items) | Filter::Or(items) | Filter::Nor(items) => {
            items.iter().for_each(|x| text_fields(x, out))
        }
        _ => {}
    }
}

/// FerretDB v1 answers a filter from its `_id` index only when the filter is exactly
/// `{_id: "<id>"}` (SQLite backend) or has `_id` at the top level (PostgreSQL backend); Parse's
/// usual `{_id, _rperm: {$in: [...]}}` makes it decode every document of the collection in Go.
/// For a filter that is an objectId equality plus ACL checks, this returns the id and the ACL
/// checks, to be finished in Rust on the one document fetched.
pub fn by_id_with_perms(f: &Filter) -> Option<(String, Vec<Residual>)> {
    let mut parts = Vec::new();
    conjuncts(f, &mut parts);
    let mut id = None;
    let mut perms = Vec::new();
    for p in parts {
        match p {
            Filter::Field {
                path,
                cond: Cond::Eq(Scalar::String(v)),
            } if path == "objectId" && id.is_none() => id = Some(v.clone()),
            Filter::ReadableBy(who) => perms.push(Residual::Perm {
                key: "_rperm",
                principals: who.clone(),
            }),
            Filter::WritableBy(who) => perms.push(Residual::Perm {
                key: "_wperm",
                principals: who.clone(),
            }),
            Filter::True => {}
            _ => return None,
        }
    }
    id.map(|id| (id, perms))
}

fn conjuncts<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    match f {
        Filter::And(items) => items.iter().for_each(|i| conjuncts(i, out)),
        other => out.push(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrobase_core::query::parse_where;
    use serde_json::json;

    fn tr(s: &ClassSchema) -> Translator<'_> {
        Translator {
            schema: s,
            resolved: &[],
            next: std::cell::Cell::new(0),
            counting: false,
            caps: Caps::default(),
            residual: Default::default(),
            nested: Default::default(),
            unsupported: Default::default(),
        }
    }

    #[test]
    fn pointers_and_ids() {
        let mut s = ClassSchema::new("A");
        s.fields
            .insert("owner".into(), FieldType::Pointer("_User".into()));
        let f = parse_where(&json!({"owner": {"__type": "Pointer", "className": "_User", "objectId": "u"}, "objectId": "x"}))
            .unwrap_or(Filter::True);
        let d = tr(&s).filter(&f);
        assert_eq!(d, doc! {"$and": [{"_p_owner": "_User$u"}, {"_id": "x"}]});
    }

    #[test]
    fn regex_flags_and_escape() {
        assert_eq!(split_flags("(?i)^x"), ("^x", "i".to_string()));
        assert_eq!(regex_escape("a.b+c"), "a\\.b\\+c");
    }

    #[test]
    fn by_id_with_perms_only_for_an_id_and_acl_checks() {
        let id = Filter::Field {
            path: "objectId".into(),
            cond: Cond::Eq(Scalar::String("abc".into())),
        };
        let read = Filter::ReadableBy(vec!["*".into(), "u1".into()]);
        let f = Filter::And(vec![Filter::And(vec![id.clone()]), read.clone()]);
        let (got, perms) = by_id_with_perms(&f).expect("id + ACL");
        assert_eq!(got, "abc");
        assert_eq!(perms.len(), 1);
        let mut o = ferrobase_core::types::Object::new();
        assert!(perms[0].matches(&o), "no ACL: readable");
        o.insert("_rperm".into(), serde_json::json!(["u2"]));
        assert!(!perms[0].matches(&o));
        o.insert("_rperm".into(), serde_json::json!(["u2", "u1"]));
        assert!(perms[0].matches(&o));
        o.insert("_rperm".into(), serde_json::json!([]));
        assert!(!perms[0].matches(&o), "empty ACL: nobody");
        let other = Filter::Field {
            path: "price".into(),
            cond: Cond::Eq(Scalar::Null),
        };
        assert!(by_id_with_perms(&Filter::And(vec![id, read, other])).is_none());
        assert!(by_id_with_perms(&Filter::ReadableBy(vec![])).is_none());
    }
}
