//! Typed updates: Parse's `__op` operations, parsed from a body and applied to an object.
//! Stores apply them atomically (SQLite inside its single write transaction, MongoDB with `$inc` & co.).

use crate::error::{code, Error, Result};
use crate::types::Object;
use serde_json::{Number, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOp {
    Set(Value),
    Delete,
    Increment(Number),
    Add(Vec<Value>),
    AddUnique(Vec<Value>),
    Remove(Vec<Value>),
    /// Relation changes: `(className, objectId)` of the related objects.
    AddRelation(Vec<(String, String)>),
    RemoveRelation(Vec<(String, String)>),
}

impl UpdateOp {
    /// Whether the client should get the resulting value back in the response (Parse returns
    /// the result of `__op` operations so SDKs can update their local copy).
    pub fn echoes_result(&self) -> bool {
        matches!(
            self,
            UpdateOp::Increment(_)
                | UpdateOp::Add(_)
                | UpdateOp::AddUnique(_)
                | UpdateOp::Remove(_)
        )
    }

    pub fn is_relation(&self) -> bool {
        matches!(self, UpdateOp::AddRelation(_) | UpdateOp::RemoveRelation(_))
    }
}

/// `(path, op)` pairs; a path may be dotted (`meta.count`) to reach into an Object field.
pub type Updates = Vec<(String, UpdateOp)>;

fn objects_arg(o: &serde_json::Map<String, Value>, op: &str) -> Result<Vec<Value>> {
    o.get("objects")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| Error::invalid_json(format!("{op} needs an objects array")))
}

/// Parses one field's value from a write body into its operations: one, or for the SDKs'
/// `{"__op":"Batch","ops":[…]}` (one save that both adds and removes relation members) each
/// of its relation operations in order.
pub fn parse_ops(value: &Value) -> Result<Vec<UpdateOp>> {
    if value.get("__op").and_then(Value::as_str) != Some("Batch") {
        return Ok(vec![parse_op(value)?]);
    }
    let ops = value
        .get("ops")
        .and_then(Value::as_array)
        .filter(|o| !o.is_empty())
        .ok_or_else(|| Error::invalid_json("Batch needs a non-empty ops array"))?;
    ops.iter()
        .map(|o| match parse_op(o)? {
            op @ (UpdateOp::AddRelation(_) | UpdateOp::RemoveRelation(_)) => Ok(op),
            _ => Err(Error::invalid_json(
                "a Batch operation may only hold AddRelation and RemoveRelation",
            )),
        })
        .collect()
}

/// Parses one field's value from a write body.
pub fn parse_op(value: &Value) -> Result<UpdateOp> {
    let Some(o) = value.as_object() else {
        return Ok(UpdateOp::Set(value.clone()));
    };
    let Some(op) = o.get("__op") else {
        return Ok(UpdateOp::Set(value.clone()));
    };
    let op = op.as_str().unwrap_or_default();
    Ok(match op {
        "Delete" => UpdateOp::Delete,
        "Increment" => {
            let amount = match o.get("amount") {
                None => Number::from(1),
                Some(Value::Number(n)) => n.clone(),
                Some(_) => {
                    return Err(Error::new(
                        code::INVALID_JSON,
                        "Increment amount must be a number",
                    ))
                }
            };
            UpdateOp::Increment(amount)
        }
        "Add" => UpdateOp::Add(objects_arg(o, op)?),
        "AddUnique" => UpdateOp::AddUnique(objects_arg(o, op)?),
        "Remove" => UpdateOp::Remove(objects_arg(o, op)?),
        "AddRelation" | "RemoveRelation" => {
            let ptrs = objects_arg(o, op)?
                .iter()
                .map(|p| {
                    crate::types::as_pointer(p)
                        .map(|(c, i)| (c.to_string(), i.to_string()))
                        .ok_or_else(|| {
                            Error::new(code::INVALID_POINTER, "relation objects must be pointers")
                        })
                })
                .collect::<Result<Vec<_>>>()?;
            if op == "AddRelation" {
                UpdateOp::AddRelation(ptrs)
            } else {
                UpdateOp::RemoveRelation(ptrs)
            }
        }
        other => {
            return Err(Error::new(
                code::INVALID_JSON,
                format!("The {other} operator is not supported."),
            ))
        }
    })
}

fn add_numbers(a: &Number, b: &Number) -> Result<Number> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        if let Some(s) = x.checked_add(y) {
            return Ok(Number::from(s));
        }
    }
    let sum = a.as_f64().unwrap_or(0.0) + b.as_f64().unwrap_or(0.0);
    Number::from_f64(sum).ok_or_else(|| Error::new(code::INCORRECT_TYPE, "Increment overflow"))
}

/// Walks (creating as needed) to the parent object of a dotted path; returns it and the last key.
fn parent_mut<'a>(obj: &'a mut Object, path: &'a str) -> Result<(&'a mut Object, &'a str)> {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or(path);
    let mut cur = obj;
    for p in parts {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Object::new()));
        if entry.is_null() {
            *entry = Value::Object(Object::new());
        }
        cur = entry.as_object_mut().ok_or_else(|| {
            Error::new(
                code::INCORRECT_TYPE,
                format!("cannot set {path}: {p} is not an object"),
            )
        })?;
    }
    Ok((cur, last))
}

/// Looks a dotted path up in an object.
pub fn get_path<'a>(obj: &'a Object, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

/// Applies the non-relation operations to an object in place.
pub fn apply(obj: &mut Object, updates: &Updates) -> Result<()> {
    for (path, op) in updates {
        if op.is_relation() {
            continue;
        }
        let (parent, key) = parent_mut(obj, path)?;
        match op {
            UpdateOp::Set(v) => {
                parent.insert(key.to_string(), v.clone());
            }
            UpdateOp::Delete => {
                parent.remove(key);
            }
            UpdateOp::Increment(n) => {
                let new = match parent.get(key) {
                    None | Some(Value::Null) => n.clone(),
                    Some(Value::Number(cur)) => add_numbers(cur, n)?,
                    Some(_) => {
                        return Err(Error::new(
                            code::INCORRECT_TYPE,
                            format!("Cannot increment a field that is not a number: {path}"),
                        ))
                    }
                };
                parent.insert(key.to_string(), Value::Number(new));
            }
            UpdateOp::Add(items) | UpdateOp::AddUnique(items) | UpdateOp::Remove(items) => {
                let mut arr = match parent.remove(key) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(a)) => a,
                    Some(_) => {
                        return Err(Error::new(
                            code::INCORRECT_TYPE,
                            format!("{path} is not an array"),
                        ))
                    }
                };
                match op {
                    UpdateOp::Add(_) => arr.extend(items.iter().cloned()),
                    UpdateOp::AddUnique(_) => {
                        for it in items {
                            if !arr.iter().any(|x| same_item(x, it)) {
                                arr.push(it.clone());
                            }
                        }
                    }
                    _ => arr.retain(|x| !items.iter().any(|it| same_item(x, it))),
                }
                parent.insert(key.to_string(), Value::Array(arr));
            }
            UpdateOp::AddRelation(_) | UpdateOp::RemoveRelation(_) => {}
        }
    }
    Ok(())
}

/// Array item identity as Parse uses it: pointers/objects by objectId, the rest by value.
fn same_item(a: &Value, b: &Value) -> bool {
    match (
        a.get("objectId").and_then(Value::as_str),
        b.get("objectId").and_then(Value::as_str),
    ) {
        (Some(x), Some(y)) => x == y && a.get("className") == b.get("className"),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn ops_apply() -> Result<()> {
        let mut o = obj(json!({"n": 1, "tags": ["a"], "gone": 1}));
        let ups: Updates = vec![
            (
                "n".into(),
                parse_op(&json!({"__op": "Increment", "amount": 2}))?,
            ),
            (
                "tags".into(),
                parse_op(&json!({"__op": "AddUnique", "objects": ["a", "b"]}))?,
            ),
            ("gone".into(), parse_op(&json!({"__op": "Delete"}))?),
            (
                "meta.count".into(),
                parse_op(&json!({"__op": "Increment"}))?,
            ),
            (
                "list".into(),
                parse_op(&json!({"__op": "Add", "objects": [1, 1]}))?,
            ),
        ];
        apply(&mut o, &ups)?;
        assert_eq!(
            Value::Object(o),
            json!({"n": 3, "tags": ["a", "b"], "meta": {"count": 1}, "list": [1, 1]})
        );
        Ok(())
    }

    #[test]
    fn remove_and_errors() -> Result<()> {
        let mut o = obj(json!({"l": [1, 2, 1, 3], "s": "x"}));
        apply(
            &mut o,
            &vec![("l".into(), UpdateOp::Remove(vec![json!(1)]))],
        )?;
        assert_eq!(o["l"], json!([2, 3]));
        assert!(apply(&mut o, &vec![("s".into(), UpdateOp::Increment(1.into()))]).is_err());
        assert!(parse_op(&json!({"__op": "Bogus"})).is_err());
        Ok(())
    }

    #[test]
    fn float_increment() -> Result<()> {
        let mut o = obj(json!({"p": 1.5}));
        apply(&mut o, &vec![("p".into(), UpdateOp::Increment(1.into()))])?;
        assert_eq!(o["p"], json!(2.5));
        Ok(())
    }
}
