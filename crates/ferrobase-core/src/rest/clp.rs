//! Class-level permissions: may this principal do `op` on this class at all?

use crate::auth::Auth;
use crate::error::{code, Error, Result};
use crate::schema::ClassSchema;
use serde_json::Value;

/// Checks the class-level permission for `op` (`get find count create update delete addField`).
pub(super) fn check(schema: &ClassSchema, op: &str, auth: &Auth) -> Result<()> {
    if auth.master {
        return Ok(());
    }
    let Some(perms) = schema.clp.get(op).and_then(Value::as_object) else {
        return Ok(());
    };
    if perms.get("*").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    let principals = auth.principals();
    if principals
        .iter()
        .any(|p| perms.get(p).and_then(Value::as_bool) == Some(true))
    {
        return Ok(());
    }
    if perms.get("requiresAuthentication").and_then(Value::as_bool) == Some(true) {
        if auth.user.is_none() {
            return Err(Error::new(
                code::OBJECT_NOT_FOUND,
                "Permission denied, user needs to be authenticated.",
            ));
        }
        return Ok(());
    }
    Err(Error::forbidden_op(format!(
        "Permission denied for action {op} on class {}.",
        schema.class_name
    )))
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
}
