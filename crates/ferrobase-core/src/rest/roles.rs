//! Rules for `_Role` objects: valid names, set once.

use crate::error::{code, Error, Result};
use crate::types::Object;
use serde_json::Value;

fn name_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ' ')
}

/// A new role needs a valid name and an ACL (Parse's required columns of `_Role`).
pub(super) fn check_new_role(body: &Object) -> Result<()> {
    let given = |k: &str| match body.get(k) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(_) => true,
    };
    for column in ["name", "ACL"] {
        if !given(column) {
            return Err(Error::new(
                code::INCORRECT_TYPE,
                format!("{column} is required."),
            ));
        }
    }
    match body.get("name") {
        Some(Value::String(n)) if name_is_valid(n) => Ok(()),
        Some(Value::String(_)) => Err(Error::new(
            code::INVALID_ROLE_NAME,
            "A role's name can only contain alphanumeric characters, _, -, and spaces.",
        )),
        _ => Err(Error::new(
            code::INVALID_ROLE_NAME,
            "Roles must have a name.",
        )),
    }
}

/// A role's name cannot change once saved.
pub(super) fn check_role_update(body: &Object) -> Result<()> {
    if body.contains_key("name") {
        return Err(Error::new(
            code::INVALID_ROLE_NAME,
            "A role's name can only be set before it has been saved.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_names() {
        let ok = json!({"name": "Shop Admins-1_x", "ACL": {}});
        assert!(check_new_role(ok.as_object().expect("obj")).is_ok());
        let bad = json!({"name": "admins; drop", "ACL": {}});
        assert!(check_new_role(bad.as_object().expect("obj")).is_err());
        assert_eq!(
            check_new_role(&Object::new()),
            Err(Error::new(code::INCORRECT_TYPE, "name is required."))
        );
        let no_acl = json!({"name": "Staff"});
        assert_eq!(
            check_new_role(no_acl.as_object().expect("obj")),
            Err(Error::new(code::INCORRECT_TYPE, "ACL is required."))
        );
        assert!(check_role_update(ok.as_object().expect("obj")).is_err());
    }
}
