//! Parse Server's auth adapters (`authData` providers), configured with Parse's own `auth`
//! option: Apple, Google, Facebook, GitHub, OAuth2 token introspection, a generic OpenID Connect
//! provider, and the MFA (TOTP) adapter. Every provider endpoint can be changed in the config,
//! which is how the tests point them at a local provider.
//!
//! ```json
//! {
//!   "apple":    { "clientId": "com.example.app" },
//!   "google":   { "clientId": ["web-client-id", "ios-client-id"] },
//!   "facebook": { "appIds": ["1234"], "appSecret": "…" },
//!   "github":   { "clientId": "…", "clientSecret": "…" },
//!   "mfa":      { "enabled": true, "options": ["TOTP"], "digits": 6, "period": 30 },
//!   "corp":     { "oidc": true, "issuer": "https://login.corp.example", "clientId": "parse" }
//! }
//! ```

mod jwt;
mod mfa;
mod providers;

use ferrobase_core::auth_data::AuthAdapters;
use ferrobase_core::error::{code, Error};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Parse's 101, which every provider check answers.
pub(crate) fn not_found(message: impl Into<String>) -> Error {
    Error::new(code::OBJECT_NOT_FOUND, message)
}

/// A provider that could not be reached (Parse answers the request error with code 141).
/// The cause is logged without the URL, which may hold an access token.
pub(crate) fn http_error(cause: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %cause, "auth provider request failed");
    Error::new(code::SCRIPT_FAILED, "Auth failed. Unknown error.")
}

/// What `--auth-config` holds: Parse's `auth` object, or a whole Parse Server config (its `auth`
/// and `enableAnonymousUsers` keys are read).
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub auth: Map<String, Value>,
    pub enable_anonymous_users: Option<bool>,
}

impl std::fmt::Debug for AuthConfig {
    /// Provider names only: the options hold client secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("providers", &self.auth.keys().collect::<Vec<_>>())
            .field("enable_anonymous_users", &self.enable_anonymous_users)
            .finish()
    }
}

impl AuthConfig {
    pub fn read(path: &Path) -> Result<AuthConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("invalid auth config {}: {e}", path.display()))?;
        AuthConfig::from_value(v).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_value(v: Value) -> Result<AuthConfig, String> {
        let Value::Object(mut top) = v else {
            return Err("the auth config must be a JSON object".into());
        };
        let enable_anonymous_users = match top.get("enableAnonymousUsers") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err("enableAnonymousUsers must be a boolean".into()),
        };
        let auth = match top.remove("auth") {
            Some(Value::Object(a)) => a,
            Some(_) => return Err("auth must be an object".into()),
            None => {
                top.remove("enableAnonymousUsers");
                top
            }
        };
        Ok(AuthConfig {
            auth,
            enable_anonymous_users,
        })
    }
}

/// The HTTP client the adapters call providers with.
fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent("ferrobase")
        .build()
        .map_err(|e| e.to_string())
}

/// Builds the adapters Parse Server would have for this `auth` option: the built-in providers
/// (Apple, Google and Facebook answer "… auth is not configured." until given their ids), each
/// configured provider, none of those with `"enabled": false`.
pub fn adapters(config: &AuthConfig, enable_anonymous_users: bool) -> Result<AuthAdapters, String> {
    let client = client()?;
    let mut out = AuthAdapters::new(enable_anonymous_users);
    let empty = Map::new();
    for name in ["apple", "google", "facebook"] {
        let opts = config
            .auth
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        out.insert(name, providers::builtin(name, opts, &client)?);
    }
    for (name, opts) in &config.auth {
        let Value::Object(opts) = opts else {
            return Err(format!("auth.{name} must be an object"));
        };
        if opts.get("enabled") == Some(&Value::Bool(false)) {
            out.remove(name);
            continue;
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || name.is_empty() {
            return Err(format!(
                "auth.{name}: a provider name has letters, digits and _ only"
            ));
        }
        let adapter: Arc<dyn ferrobase_core::auth_data::AuthAdapter> = if flag(opts, "oauth2") {
            providers::oauth2(name, opts, &client)?
        } else if flag(opts, "oidc") {
            providers::oidc(name, opts, &client)?
        } else {
            match name.as_str() {
                "apple" | "google" | "facebook" => continue,
                "anonymous" => Arc::new(ferrobase_core::auth_data::Anonymous),
                "github" => providers::github(opts, &client)?,
                "mfa" => Arc::new(mfa::Mfa::from_options(opts)?),
                _ if opts.contains_key("module") || opts.contains_key("adapter") => {
                    return Err(format!(
                        "auth.{name}: custom auth adapters (JavaScript modules) are not supported"
                    ))
                }
                _ => {
                    return Err(format!(
                        "auth.{name}: no such adapter (use \"oauth2\": true or \"oidc\": true for a provider of your own)"
                    ))
                }
            }
        };
        out.insert(name, adapter);
    }
    Ok(out)
}

fn flag(opts: &Map<String, Value>, key: &str) -> bool {
    opts.get(key) == Some(&Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_parse_config_shapes() -> Result<(), String> {
        let whole = AuthConfig::from_value(json!({
            "appId": "x", "enableAnonymousUsers": false,
            "auth": {"apple": {"clientId": "a"}}
        }))?;
        assert_eq!(whole.enable_anonymous_users, Some(false));
        assert!(whole.auth.contains_key("apple"));
        let bare = AuthConfig::from_value(json!({"google": {"clientId": "g"}}))?;
        assert!(bare.auth.contains_key("google"));
        assert!(AuthConfig::from_value(json!([1])).is_err());
        Ok(())
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let bad = |v: Value| {
            AuthConfig::from_value(v)
                .and_then(|c| adapters(&c, true))
                .is_err()
        };
        assert!(bad(json!({"myspace": {"module": "./x.js"}})));
        assert!(bad(json!({"mfa": {"options": ["SMS"]}})));
        assert!(bad(json!({"mfa": {"options": ["TOTP"], "digits": 12}})));
        assert!(bad(json!({"github": {"clientId": "x"}})));
        assert!(bad(json!({"corp": {"oidc": true}})));
        assert!(!bad(
            json!({"mfa": {"options": ["TOTP"]}, "github": {"enableInsecureAuth": true}})
        ));
    }
}
