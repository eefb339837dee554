//! Turning stored objects into what a client may see.

use crate::auth::Auth;
use crate::schema::{ClassSchema, FieldType};
use crate::types::Object;
use serde_json::{json, Value};

/// Fields of `_User` only the user themself (or the master key) may read.
const USER_PRIVATE: &[&str] = &["authData", "email"];

/// Strips internal fields, hides private user fields from others, adds the Relation markers and
/// the `url` of each `File` (from its name, as Parse Server's `expandFilesInObject`).
pub(super) fn to_client(
    schema: &ClassSchema,
    mut obj: Object,
    auth: &Auth,
    config: &crate::config::CoreConfig,
) -> Object {
    let hidden = super::clp::protected_fields(schema, auth, &obj);
    obj.retain(|k, _| !k.starts_with('_') && k != "password" && !hidden.iter().any(|h| h == k));
    if schema.class_name == "_User" && !auth.master {
        let is_self = auth.user_id().is_some()
            && obj.get("objectId").and_then(Value::as_str) == auth.user_id();
        if !is_self {
            for f in USER_PRIVATE {
                obj.remove(*f);
            }
        }
    }
    if schema.class_name == "_User" {
        // Each auth adapter's afterFind (MFA shows `{"status": "enabled"}`, not its secret).
        if let Some(ad) = obj.get_mut("authData") {
            config.auth.after_find(ad, auth.master);
        }
    }
    for v in obj.values_mut() {
        if let Some(f) = v.as_object_mut() {
            if f.get("__type").and_then(Value::as_str) == Some("File") {
                if let Some(name) = f.get("name").and_then(Value::as_str) {
                    let mut url = file_url(&config.files_url, name);
                    if let Some(tokens) = &config.file_tokens {
                        url.push_str("?token=");
                        url.push_str(&tokens.sign(name));
                    }
                    f.insert("url".into(), Value::String(url));
                }
            }
        }
    }
    for (name, t) in &schema.fields {
        if let FieldType::Relation(target) = t {
            obj.insert(
                name.clone(),
                json!({"__type": "Relation", "className": target}),
            );
        }
    }
    obj
}

/// Keeps only the requested keys (plus the ones Parse always returns).
/// (Relation markers stay too, as Parse Server adds them after applying `keys`.)
pub(super) fn project(obj: &mut Object, keys: &[String]) {
    obj.retain(|k, v| {
        matches!(
            k.as_str(),
            "objectId" | "createdAt" | "updatedAt" | "ACL" | "__type" | "className"
        ) || keys.iter().any(|x| x == k)
            || crate::types::type_tag(v) == Some("Relation")
    });
}

/// `prefix` + the name encoded as JavaScript's `encodeURIComponent` (what Parse puts in file URLs).
pub fn file_url(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + name.len());
    out.push_str(prefix);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
