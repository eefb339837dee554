//! Class-level permissions: may this principal do `op` on this class at all?

use crate::auth::Auth;
use crate::error::{code, Error, Result};
use crate::query::{Filter, Scalar};
use crate::schema::ClassSchema;
use crate::types::{as_pointer, Object};
use serde_json::Value;

/// What a class-level permission grants: everything, or only the objects whose pointer
/// fields (`pointerFields`, `readUserFields`, `writeUserFields`) point to the caller.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "an Access must restrict the query it was checked for (use .filter())"]
pub(crate) enum Access {
    Full,
    Owned(Vec<String>),
}

impl Access {
    /// The filter that restricts a query to what this access allows.
    pub(crate) fn filter(&self, auth: &Auth) -> Filter {
        match (self, auth.user_id()) {
            (Access::Full, _) => Filter::True,
            (Access::Owned(fields), Some(uid)) => Filter::Or(
                fields
                    .iter()
                    .map(|f| {
                        Filter::eq(
                            f,
                            Scalar::Pointer {
                                class: "_User".into(),
                                id: uid.into(),
                            },
                        )
                    })
                    .collect(),
            ),
            (Access::Owned(_), None) => Filter::Or(Vec::new()),
        }
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the class-level permission for `op` (`get find count create update delete addField`).
pub(crate) fn check(schema: &ClassSchema, op: &str, auth: &Auth) -> Result<Access> {
    if auth.master {
        return Ok(Access::Full);
    }
    let Some(perms) = schema.clp.get(op).and_then(Value::as_object) else {
        return Ok(Access::Full);
    };
    if perms.get("*").and_then(Value::as_bool) == Some(true) {
        return Ok(Access::Full);
    }
    let principals = auth.principals();
    if principals
        .iter()
        .any(|p| perms.get(p).and_then(Value::as_bool) == Some(true))
    {
        return Ok(Access::Full);
    }
    if perms.get("requiresAuthentication").and_then(Value::as_bool) == Some(true) {
        if auth.user.is_none() {
            return Err(denied(
                code::OBJECT_NOT_FOUND,
                "Permission denied, user needs to be authenticated.",
            ));
        }
        return Ok(Access::Full);
    }
    let mut fields = string_list(perms.get("pointerFields"));
    match op {
        "get" | "find" | "count" => fields.extend(string_list(schema.clp.get("readUserFields"))),
        "update" | "delete" => fields.extend(string_list(schema.clp.get("writeUserFields"))),
        _ => {}
    }
    if !fields.is_empty() {
        if auth.user.is_none() {
            return Err(denied(
                code::OBJECT_NOT_FOUND,
                "Permission denied, user needs to be authenticated.",
            ));
        }
        return Ok(Access::Owned(fields));
    }
    Err(denied(
        code::OPERATION_FORBIDDEN,
        &format!(
            "Permission denied for action {op} on class {}.",
            schema.class_name
        ),
    ))
}

/// A class-level permission refusal: Parse 9 answers "Permission denied" (its sanitized error)
/// and logs the detail.
fn denied(code: i32, detail: &str) -> Error {
    tracing::debug!(detail, "class-level permission refused");
    Error::new(code, "Permission denied")
}

/// Like `check`, for operations that pointer permissions cannot grant (create, addField).
pub(crate) fn check_full(schema: &ClassSchema, op: &str, auth: &Auth) -> Result<()> {
    match check(schema, op, auth)? {
        Access::Full => Ok(()),
        Access::Owned(_) => Err(denied(
            code::OPERATION_FORBIDDEN,
            &format!(
                "Permission denied for action {op} on class {}.",
                schema.class_name
            ),
        )),
    }
}

/// The fields of `obj` the caller may not see (`protectedFields`): the intersection of the lists
/// of every group the caller belongs to (`*`, their id, their roles, `authenticated`,
/// `userField:<pointer>` when that field points to them).
pub(crate) fn protected_fields(schema: &ClassSchema, auth: &Auth, obj: &Object) -> Vec<String> {
    protected(schema, auth, Some(obj))
}

/// The protected fields of objects that do not point to the caller (groups other than
/// `userField:`): queries and sorts on them are refused, so their values cannot leak through
/// `where`, `order` or `count`.
pub(crate) fn always_protected(schema: &ClassSchema, auth: &Auth) -> Vec<String> {
    // Conservative: a field hidden on the objects that do not point to the caller may not be
    // queried at all, even if `userField:` reveals it on the caller's own objects.
    protected(schema, auth, None)
}

/// Whether the class's `protectedFields` can hide anything from anyone (a non-empty list).
pub(crate) fn hides_any(schema: &ClassSchema) -> bool {
    schema
        .clp
        .get("protectedFields")
        .and_then(Value::as_object)
        .is_some_and(|pf| {
            pf.values()
                .any(|l| l.as_array().is_none_or(|a| !a.is_empty()))
        })
}

/// `protectedFields` for the caller, on `obj` (`None`: ignoring the `userField:` groups).
fn protected(schema: &ClassSchema, auth: &Auth, obj: Option<&Object>) -> Vec<String> {
    if auth.master {
        return Vec::new();
    }
    let Some(pf) = schema.clp.get("protectedFields").and_then(Value::as_object) else {
        return Vec::new();
    };
    // The default `{"*": []}` (and any set of empty lists) hides nothing: skip the work that is
    // otherwise done for every object of every answer.
    if !hides_any(schema) {
        return Vec::new();
    }
    let principals = auth.principals();
    let uid = auth.user_id();
    let mut result: Option<Vec<String>> = None;
    for (group, list) in pf {
        let applies = if let Some(field) = group.strip_prefix("userField:") {
            obj.is_some_and(|o| uid.is_some_and(|u| points_to(o.get(field), u)))
        } else if group == "authenticated" {
            uid.is_some()
        } else {
            principals.iter().any(|p| p == group)
        };
        if !applies {
            continue;
        }
        let fields = string_list(Some(list));
        result = Some(match result {
            None => fields,
            Some(prev) => prev.into_iter().filter(|f| fields.contains(f)).collect(),
        });
    }
    result.unwrap_or_default()
}

fn points_to(v: Option<&Value>, uid: &str) -> bool {
    match v {
        Some(Value::Array(items)) => items.iter().any(|i| points_to(Some(i), uid)),
        Some(p) => as_pointer(p).is_some_and(|(c, id)| c == "_User" && id == uid),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SessionUser;
    use serde_json::json;
    use std::sync::Arc;

    fn user(id: &str, roles: &[&str]) -> Auth {
        Auth {
            user: Some(Arc::new(SessionUser {
                user_id: id.into(),
                session_token: "r:x".into(),
                user: Default::default(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
            })),
            ..Auth::default()
        }
    }

    #[test]
    fn clp_rules() {
        let mut s = ClassSchema::new("A");
        s.clp = json!({"find": {"u1": true, "role:admin": true}, "create": {"requiresAuthentication": true}});
        assert!(check(&s, "find", &Auth::default()).is_err());
        assert!(check(&s, "find", &user("u1", &[])).is_ok());
        assert!(check(&s, "find", &user("u2", &["admin"])).is_ok());
        assert!(check(&s, "find", &user("u2", &[])).is_err());
        assert!(check(&s, "find", &Auth::master()).is_ok());
        assert_eq!(
            check(&s, "create", &Auth::default())
                .err()
                .and_then(|e| e.code()),
            Some(101)
        );
        assert!(check(&s, "create", &user("u2", &[])).is_ok());
        assert!(check(&s, "get", &Auth::default()).is_ok());
    }

    #[test]
    fn pointer_permissions_restrict_to_owned_objects() {
        let mut s = ClassSchema::new("A");
        s.clp = json!({"find": {}, "readUserFields": ["owner"], "update": {"pointerFields": ["editors"]}});
        assert_eq!(
            check(&s, "find", &user("u1", &[])).ok(),
            Some(Access::Owned(vec!["owner".into()]))
        );
        assert_eq!(
            check(&s, "update", &user("u1", &[])).ok(),
            Some(Access::Owned(vec!["editors".into()]))
        );
        assert_eq!(
            check(&s, "find", &Auth::default())
                .err()
                .and_then(|e| e.code()),
            Some(101)
        );
        assert!(check_full(&s, "create", &user("u1", &[])).is_ok());
    }

    #[test]
    fn protected_fields_intersect_groups() {
        let mut s = ClassSchema::new("A");
        s.clp = json!({"protectedFields": {"*": ["phone", "email", "secret"], "role:staff": ["secret"], "userField:owner": []}});
        let owned = json!({"owner": {"__type": "Pointer", "className": "_User", "objectId": "u1"}});
        let owned = owned.as_object().cloned().unwrap_or_default();
        assert_eq!(
            protected_fields(&s, &Auth::default(), &owned),
            vec!["phone", "email", "secret"]
        );
        assert_eq!(
            protected_fields(&s, &user("u2", &["staff"]), &owned),
            vec!["secret"]
        );
        assert!(protected_fields(&s, &user("u1", &[]), &owned).is_empty());
        assert!(protected_fields(&s, &Auth::master(), &owned).is_empty());
        assert_eq!(
            always_protected(&s, &user("u2", &["staff"])),
            vec!["secret"]
        );
        assert_eq!(
            always_protected(&s, &Auth::default()),
            vec!["phone", "email", "secret"]
        );
    }
}
