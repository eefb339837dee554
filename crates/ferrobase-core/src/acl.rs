//! Object ACLs: validation and the `_rperm`/`_wperm` lists stores filter on.

use crate::error::{code, Error, Result};
use serde_json::Value;

/// Validates an `ACL` value and returns its `(read, write)` principal lists.
pub fn permissions(acl: &Value) -> Result<(Vec<String>, Vec<String>)> {
    let bad = |m: &str| Error::new(code::INVALID_ACL, m.to_string());
    let o = acl
        .as_object()
        .ok_or_else(|| bad("ACL must be an object"))?;
    let mut read = Vec::new();
    let mut write = Vec::new();
    for (who, perms) in o {
        if who.is_empty() || (who.starts_with("role:") && who.len() == 5) {
            return Err(bad("invalid ACL principal"));
        }
        let p = perms
            .as_object()
            .ok_or_else(|| bad("invalid ACL permissions"))?;
        for (k, v) in p {
            let allowed = v
                .as_bool()
                .ok_or_else(|| bad("ACL permissions must be booleans"))?;
            match k.as_str() {
                "read" if allowed => read.push(who.clone()),
                "write" if allowed => write.push(who.clone()),
                "read" | "write" => {}
                _ => return Err(bad("ACL permission must be read or write")),
            }
        }
    }
    Ok((read, write))
}

/// Whether any of `principals` appears in a permission list (`None` = no ACL = public).
pub fn allows(perm: Option<&Value>, principals: &[String]) -> bool {
    match perm.and_then(Value::as_array) {
        None => true,
        Some(list) => list
            .iter()
            .filter_map(Value::as_str)
            .any(|p| principals.iter().any(|q| q == p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn acl_to_perms() -> Result<()> {
        let (r, w) =
            permissions(&json!({"*": {"read": true}, "u1": {"read": true, "write": true}}))?;
        assert_eq!(r, vec!["*", "u1"]);
        assert_eq!(w, vec!["u1"]);
        assert!(permissions(&json!({"u": {"read": "yes"}})).is_err());
        assert!(permissions(&json!({"u": {"delete": true}})).is_err());
        Ok(())
    }

    #[test]
    fn allows_principals() {
        let p = json!(["u1"]);
        assert!(allows(Some(&p), &["*".into(), "u1".into()]));
        assert!(!allows(Some(&p), &["*".into()]));
        assert!(allows(None, &["*".into()]));
    }
}
