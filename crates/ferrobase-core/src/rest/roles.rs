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

/// A new role needs a valid name.
pub(super) fn check_new_role(body: &Object) -> Result<()> {
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
        let ok = json!({"name": "Shop Admins-1_x"});
        assert!(check_new_role(ok.as_object().expect("obj")).is_ok());
        let bad = json!({"name": "admins; drop"});
        assert!(check_new_role(bad.as_object().expect("obj")).is_err());
        assert!(check_new_role(&Object::new()).is_err());
        assert!(check_role_update(ok.as_object().expect("obj")).is_err());
    }
}
