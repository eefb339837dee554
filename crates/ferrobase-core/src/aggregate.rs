//! Aggregation pipelines as Parse accepts them (`/aggregate/:className`): `$match $group $project
//! $sort $limit $skip $count $unwind $sample`, and `distinct`. Leading `$match` stages become
//! the store query (filtered and indexed in the store); the other stages run here on the rows.

use crate::error::{Error, Result};
use crate::query::{parse_where, Filter};
use crate::types::Object;
use crate::update::get_path;
use serde_json::{json, Map, Number, Value};
use std::cmp::Ordering;

/// A parsed pipeline: the filter of its leading `$match` stages and the stages after them.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub filter: Filter,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone)]
pub enum Stage {
    Group {
        id: Value,
        accumulators: Vec<(String, Accumulator)>,
    },
    Project(Vec<(String, bool)>),
    Sort(Vec<(String, bool)>),
    Limit(usize),
    Skip(usize),
    Count(String),
    Unwind {
        path: String,
        keep_empty: bool,
    },
    Sample(usize),
}

#[derive(Debug, Clone)]
pub enum Accumulator {
    Sum(Value),
    Avg(Value),
    Min(Value),
    Max(Value),
    First(Value),
    Last(Value),
    Push(Value),
    AddToSet(Value),
}

fn bad(msg: impl Into<String>) -> Error {
    Error::invalid_query(msg)
}

fn stage_name(k: &str) -> &str {
    k.strip_prefix('$').unwrap_or(k)
}

fn size(v: &Value, stage: &str) -> Result<usize> {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| bad(format!("${stage} needs a non-negative integer")))
}

fn field_ref(v: &Value, stage: &str) -> Result<String> {
    v.as_str()
        .and_then(|s| s.strip_prefix('$'))
        .map(str::to_string)
        .ok_or_else(|| bad(format!("${stage} needs a \"$field\" path")))
}

/// Parses a pipeline (an array of one-key stage objects).
pub fn parse(pipeline: &Value) -> Result<Pipeline> {
    let stages = match pipeline {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![pipeline.clone()],
        _ => return Err(bad("pipeline must be an array of stages")),
    };
    let mut filter = Filter::True;
    let mut out = Vec::new();
    for stage in &stages {
        let o = stage
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| bad("each stage must be an object with one key"))?;
        let Some((key, arg)) = o.iter().next() else {
            continue;
        };
        let name = stage_name(key);
        match name {
            "match" => {
                if !out.is_empty() {
                    return Err(bad("$match is supported at the start of a pipeline only"));
                }
                filter = filter.and(parse_where(arg)?);
            }
            "group" => {
                let g = arg
                    .as_object()
                    .ok_or_else(|| bad("$group needs an object"))?;
                let id = g
                    .get("objectId")
                    .or_else(|| g.get("_id"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let mut accumulators = Vec::new();
                for (field, acc) in g {
                    if field == "objectId" || field == "_id" {
                        continue;
                    }
                    let a = acc.as_object().filter(|a| a.len() == 1).ok_or_else(|| {
                        bad(format!("$group field {field} needs one accumulator"))
                    })?;
                    let Some((op, expr)) = a.iter().next() else {
                        continue;
                    };
                    let e = expr.clone();
                    accumulators.push((
                        field.clone(),
                        match op.as_str() {
                            "$sum" => Accumulator::Sum(e),
                            "$avg" => Accumulator::Avg(e),
                            "$min" => Accumulator::Min(e),
                            "$max" => Accumulator::Max(e),
                            "$first" => Accumulator::First(e),
                            "$last" => Accumulator::Last(e),
                            "$push" => Accumulator::Push(e),
                            "$addToSet" => Accumulator::AddToSet(e),
                            other => return Err(bad(format!("unsupported accumulator {other}"))),
                        },
                    ));
                }
                out.push(Stage::Group { id, accumulators });
            }
            "project" => {
                let p = arg
                    .as_object()
                    .ok_or_else(|| bad("$project needs an object"))?;
                let fields = p
                    .iter()
                    .map(|(k, v)| match v {
                        Value::Bool(b) => Ok((k.clone(), *b)),
                        Value::Number(n) => Ok((k.clone(), n.as_f64() != Some(0.0))),
                        _ => Err(bad(
                            "$project supports inclusion (1) and exclusion (0) of fields",
                        )),
                    })
                    .collect::<Result<_>>()?;
                out.push(Stage::Project(fields));
            }
            "sort" => {
                let s = arg
                    .as_object()
                    .ok_or_else(|| bad("$sort needs an object"))?;
                let keys = s
                    .iter()
                    .map(|(k, v)| match v.as_i64() {
                        Some(1) => Ok((k.clone(), false)),
                        Some(-1) => Ok((k.clone(), true)),
                        _ => Err(bad("$sort directions are 1 or -1")),
                    })
                    .collect::<Result<_>>()?;
                out.push(Stage::Sort(keys));
            }
            "limit" => out.push(Stage::Limit(size(arg, name)?)),
            "skip" => out.push(Stage::Skip(size(arg, name)?)),
            "count" => out.push(Stage::Count(
                arg.as_str()
                    .filter(|s| !s.is_empty() && !s.starts_with('$'))
                    .ok_or_else(|| bad("$count needs a field name"))?
                    .to_string(),
            )),
            "unwind" => {
                let (path, keep_empty) = match arg {
                    Value::String(_) => (field_ref(arg, name)?, false),
                    Value::Object(o) => (
                        field_ref(o.get("path").unwrap_or(&Value::Null), name)?,
                        o.get("preserveNullAndEmptyArrays")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    ),
                    _ => return Err(bad("$unwind needs a path")),
                };
                out.push(Stage::Unwind { path, keep_empty });
            }
            "sample" => out.push(Stage::Sample(size(
                arg.get("size").unwrap_or(&Value::Null),
                name,
            )?)),
            other => return Err(bad(format!("Invalid parameter for query: {other}"))),
        }
    }
    Ok(Pipeline {
        filter,
        stages: out,
    })
}

/// Evaluates an expression: `"$a.b"` reads a field, objects evaluate each key, the rest is literal.
fn eval(expr: &Value, doc: &Object) -> Value {
    match expr {
        Value::String(s) if s.starts_with('$') => {
            get_path(doc, &s[1..]).cloned().unwrap_or(Value::Null)
        }
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), eval(v, doc))).collect())
        }
        other => other.clone(),
    }
}

/// Orders values as MongoDB does across types: null < numbers < strings < objects < arrays < booleans.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Number(_) => 1,
            Value::String(_) => 2,
            Value::Object(_) => 3,
            Value::Array(_) => 4,
            Value::Bool(_) => 5,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Object(x), Value::Object(y)) => match (x.get("iso"), y.get("iso")) {
            (Some(i), Some(j)) => compare(i, j),
            _ => x.len().cmp(&y.len()),
        },
        _ => rank(a).cmp(&rank(b)),
    }
}

fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9e15 {
        Value::Number(Number::from(v as i64))
    } else {
        Number::from_f64(v).map_or(Value::Null, Value::Number)
    }
}

fn group(rows: Vec<Object>, id: &Value, accs: &[(String, Accumulator)]) -> Vec<Object> {
    let mut keys: Vec<Value> = Vec::new();
    let mut groups: Vec<Vec<Object>> = Vec::new();
    for row in rows {
        let k = eval(id, &row);
        match keys.iter().position(|x| *x == k) {
            Some(i) => groups[i].push(row),
            None => {
                keys.push(k);
                groups.push(vec![row]);
            }
        }
    }
    keys.into_iter()
        .zip(groups)
        .map(|(k, members)| {
            let mut out = Map::new();
            out.insert("objectId".into(), k);
            for (name, acc) in accs {
                let vals = |e: &Value| members.iter().map(|m| eval(e, m)).collect::<Vec<_>>();
                let v = match acc {
                    Accumulator::Sum(e) => num(vals(e).iter().filter_map(Value::as_f64).sum()),
                    Accumulator::Avg(e) => {
                        let ns: Vec<f64> = vals(e).iter().filter_map(Value::as_f64).collect();
                        if ns.is_empty() {
                            Value::Null
                        } else {
                            num(ns.iter().sum::<f64>() / ns.len() as f64)
                        }
                    }
                    Accumulator::Min(e) => vals(e)
                        .into_iter()
                        .filter(|v| !v.is_null())
                        .min_by(compare)
                        .unwrap_or(Value::Null),
                    Accumulator::Max(e) => vals(e)
                        .into_iter()
                        .filter(|v| !v.is_null())
                        .max_by(compare)
                        .unwrap_or(Value::Null),
                    Accumulator::First(e) => vals(e).into_iter().next().unwrap_or(Value::Null),
                    Accumulator::Last(e) => vals(e).into_iter().last().unwrap_or(Value::Null),
                    Accumulator::Push(e) => Value::Array(vals(e)),
                    Accumulator::AddToSet(e) => {
                        let mut set: Vec<Value> = Vec::new();
                        for v in vals(e) {
                            if !set.contains(&v) {
                                set.push(v);
                            }
                        }
                        Value::Array(set)
                    }
                };
                out.insert(name.clone(), v);
            }
            out
        })
        .collect()
}

/// Runs the stages after the store's `$match` on its rows.
pub fn run(mut rows: Vec<Object>, stages: &[Stage]) -> Vec<Object> {
    for stage in stages {
        rows = match stage {
            Stage::Group { id, accumulators } => group(rows, id, accumulators),
            Stage::Project(fields) => {
                let include: Vec<&String> = fields
                    .iter()
                    .filter(|(_, keep)| *keep)
                    .map(|(k, _)| k)
                    .collect();
                rows.into_iter()
                    .map(|mut r| {
                        if include.is_empty() {
                            r.retain(|k, _| !fields.iter().any(|(f, _)| f == k));
                        } else {
                            r.retain(|k, _| k == "objectId" || include.contains(&k));
                        }
                        r
                    })
                    .collect()
            }
            Stage::Sort(keys) => {
                rows.sort_by(|a, b| {
                    for (k, desc) in keys {
                        let (x, y) = (
                            get_path(a, k).unwrap_or(&Value::Null),
                            get_path(b, k).unwrap_or(&Value::Null),
                        );
                        let o = compare(x, y);
                        if o != Ordering::Equal {
                            return if *desc { o.reverse() } else { o };
                        }
                    }
                    Ordering::Equal
                });
                rows
            }
            Stage::Limit(n) => rows.into_iter().take(*n).collect(),
            Stage::Skip(n) => rows.into_iter().skip(*n).collect(),
            Stage::Count(name) => {
                let mut o = Map::new();
                o.insert(name.clone(), json!(rows.len()));
                vec![o]
            }
            Stage::Unwind { path, keep_empty } => {
                let mut out = Vec::new();
                for r in rows {
                    match get_path(&r, path).cloned() {
                        Some(Value::Array(items)) if !items.is_empty() => {
                            for it in items {
                                let mut copy = r.clone();
                                copy.insert(path.clone(), it);
                                out.push(copy);
                            }
                        }
                        Some(Value::Array(_)) | Some(Value::Null) | None => {
                            if *keep_empty {
                                out.push(r);
                            }
                        }
                        Some(_) => out.push(r),
                    }
                }
                out
            }
            Stage::Sample(n) => {
                use rand::seq::SliceRandom;
                rows.shuffle(&mut rand::rng());
                rows.truncate(*n);
                rows
            }
        };
    }
    rows
}

/// `distinct`: the different values of a field (array elements count one by one), in first-seen order.
pub fn distinct(rows: &[Object], field: &str) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for r in rows {
        let items = match get_path(r, field) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
        };
        for v in items {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Object> {
        [
            json!({"cat": "a", "n": 1, "tags": ["x", "y"]}),
            json!({"cat": "b", "n": 2, "tags": []}),
            json!({"cat": "a", "n": 3.5, "tags": ["x"]}),
        ]
        .iter()
        .filter_map(|v| v.as_object().cloned())
        .collect()
    }

    #[test]
    fn group_sort_project() -> Result<()> {
        let p = parse(&json!([
            {"$group": {"objectId": "$cat", "total": {"$sum": "$n"}, "max": {"$max": "$n"}, "count": {"$sum": 1}}},
            {"$sort": {"total": -1}},
        ]))?;
        let out = run(rows(), &p.stages);
        assert_eq!(
            Value::Array(out.into_iter().map(Value::Object).collect()),
            json!([
                {"objectId": "a", "total": 4.5, "max": 3.5, "count": 2},
                {"objectId": "b", "total": 2, "max": 2, "count": 1},
            ])
        );
        Ok(())
    }

    #[test]
    fn unwind_count_and_distinct() -> Result<()> {
        let p = parse(&json!([{"$unwind": "$tags"}, {"$count": "n"}]))?;
        assert_eq!(run(rows(), &p.stages)[0]["n"], json!(3));
        assert_eq!(distinct(&rows(), "tags"), vec![json!("x"), json!("y")]);
        assert!(parse(&json!([{"$limit": 1}, {"$match": {}}])).is_err());
        assert!(parse(&json!([{"$out": "x"}])).is_err());
        assert!(parse(&json!([{"$lookup": {}}])).is_err());
        Ok(())
    }
}
