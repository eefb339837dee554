//! Third-party authentication (`authData`): each provider validates its data and names the
//! account. Parse Server's adapter structure; the anonymous provider is built in.

use crate::error::{code, Error, Result};
use async_trait::async_trait;
use serde_json::Value;

#[async_trait]
pub trait AuthProvider: Send + Sync {
    /// The key in `authData` (`anonymous`, `facebook`, …).
    fn name(&self) -> &'static str;
    /// Checks the provider's data (a real provider asks its service) and returns the account id.
    async fn validate(&self, data: &Value) -> Result<String>;
}

/// `authData.anonymous = {"id": "<uuid>"}`: a device-bound account without a password.
pub struct Anonymous;

#[async_trait]
impl AuthProvider for Anonymous {
    fn name(&self) -> &'static str {
        "anonymous"
    }

    async fn validate(&self, data: &Value) -> Result<String> {
        match data.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() && id.len() <= 256 => Ok(id.to_string()),
            _ => Err(Error::new(
                code::INVALID_JSON,
                "anonymous authData needs an id",
            )),
        }
    }
}

/// The providers this server accepts.
pub fn provider(name: &str) -> Result<&'static dyn AuthProvider> {
    match name {
        "anonymous" => Ok(&Anonymous),
        _ => Err(Error::new(
            code::UNSUPPORTED_SERVICE,
            "This authentication method is unsupported.",
        )),
    }
}
