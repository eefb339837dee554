//! Third-party authentication (`authData`): Parse Server's auth adapters. Each provider checks
//! the data a client sends under its name; the REST pipeline (`rest/auth_flow.rs`) decides, as
//! Parse's `RestWrite.handleAuthData`, whether that signs up, logs in, links or unlinks.
//!
//! The adapters that call a provider over the network (Apple, Google, Facebook, GitHub, OpenID
//! Connect, MFA) live in the `ferrobase` crate and are handed to the core in `CoreConfig::auth`;
//! the anonymous provider is built in.

use crate::error::{code, Error, Result};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Parse's adapter `policy`: whether a provider is enough to log in on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Logs in on its own, unless the user also has an `Additional` provider (MFA).
    Default,
    /// Logs in on its own even when the user has an `Additional` provider.
    Solo,
    /// A second factor: a login must bring it when the user has it.
    Additional,
}

/// Which of Parse's adapter steps runs (only adapters with `uses_steps` see a difference).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// First use of the provider by this user (sign-up or linking).
    SetUp,
    /// Not logged in, and the user already has the provider.
    Login,
    /// Logged in (or master), and the user already has the provider.
    Update,
}

/// What an adapter step is given besides the provider's data.
#[derive(Debug, Clone, Copy)]
pub struct AuthRequest<'a> {
    /// The request uses the master key.
    pub master: bool,
    /// The `authData` stored on the user concerned, when there is one.
    pub stored: Option<&'a serde_json::Map<String, Value>>,
}

/// What a validation keeps (Parse's `{save, doNotSave, response}` answer).
#[derive(Debug, Clone, Default)]
pub struct Validated {
    /// `None`: store what the client sent. `Some(v)`: store `v` instead.
    pub save: Option<Value>,
    /// Store nothing for this provider (what is stored stays as it is).
    pub do_not_save: bool,
    /// Sent back to the client in `authDataResponse.<provider>`.
    pub response: Option<Value>,
}

impl Validated {
    /// Keep what the client sent.
    pub fn keep() -> Validated {
        Validated::default()
    }
}

/// A Parse auth adapter. Errors are Parse errors (`{code, error}`); an adapter that "throws a
/// string" in Parse answers code 141 with that string (`Error::new(code::SCRIPT_FAILED, …)`).
#[async_trait]
pub trait AuthAdapter: Send + Sync {
    /// Parse's `beforeFind`: may rewrite the data before the user is looked up by `id` (GitHub
    /// exchanges a `code` for the account here).
    async fn before_find(&self, _data: &mut Value) -> Result<()> {
        Ok(())
    }

    /// Checks the data for `step` (a `validateAuthData` adapter ignores the step).
    async fn validate(&self, step: Step, data: &Value, req: AuthRequest<'_>) -> Result<Validated>;

    /// Whether the adapter has Parse's three steps (`validateSetUp`/`Login`/`Update`) rather than
    /// one `validateAuthData`.
    fn uses_steps(&self) -> bool {
        false
    }

    /// The adapter's policy for a user whose stored data for it is `stored`.
    fn policy(&self, _stored: Option<&Value>) -> Policy {
        Policy::Default
    }

    /// Parse's `afterFind`: what a reader sees of the stored data (`None`: as stored).
    fn after_find(&self, _stored: &Value, _master: bool) -> Option<Value> {
        None
    }
}

/// `authData.anonymous`: a device-bound account without a password (Parse accepts any data).
pub struct Anonymous;

#[async_trait]
impl AuthAdapter for Anonymous {
    async fn validate(&self, _: Step, _: &Value, _: AuthRequest<'_>) -> Result<Validated> {
        Ok(Validated::keep())
    }
}

/// The configured providers (Parse's `auth` option plus `enableAnonymousUsers`).
#[derive(Clone)]
pub struct AuthAdapters {
    adapters: HashMap<String, Arc<dyn AuthAdapter>>,
    anonymous: bool,
}

impl std::fmt::Debug for AuthAdapters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.adapters.keys().collect();
        names.sort();
        f.debug_struct("AuthAdapters")
            .field("providers", &names)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

impl Default for AuthAdapters {
    /// Anonymous users only, as Parse Server with no `auth` option.
    fn default() -> Self {
        AuthAdapters::new(true)
    }
}

impl AuthAdapters {
    pub fn new(enable_anonymous_users: bool) -> AuthAdapters {
        let mut adapters: HashMap<String, Arc<dyn AuthAdapter>> = HashMap::new();
        adapters.insert("anonymous".into(), Arc::new(Anonymous));
        AuthAdapters {
            adapters,
            anonymous: enable_anonymous_users,
        }
    }

    /// Adds (or replaces) the adapter of a provider.
    pub fn insert(&mut self, provider: &str, adapter: Arc<dyn AuthAdapter>) {
        self.adapters.insert(provider.to_string(), adapter);
    }

    /// Removes a provider (Parse's `enabled: false`).
    pub fn remove(&mut self, provider: &str) {
        self.adapters.remove(provider);
    }

    /// The adapter of a provider, when it is configured and enabled.
    pub fn get(&self, provider: &str) -> Option<&Arc<dyn AuthAdapter>> {
        if provider == "anonymous" && !self.anonymous {
            return None;
        }
        self.adapters.get(provider)
    }

    /// The adapter of a provider, or Parse's 252.
    pub fn require(&self, provider: &str) -> Result<&Arc<dyn AuthAdapter>> {
        self.get(provider).ok_or_else(unsupported)
    }

    /// What a reader sees of a user's `authData` (each adapter's `afterFind`; null providers,
    /// left by an unlink on some stores, are dropped as Parse's `_sanitizeAuthData`).
    pub fn after_find(&self, auth_data: &mut Value, master: bool) {
        let Some(map) = auth_data.as_object_mut() else {
            return;
        };
        map.retain(|_, v| !v.is_null());
        for (provider, data) in map.iter_mut() {
            if let Some(adapter) = self.get(provider) {
                if let Some(shown) = adapter.after_find(data, master) {
                    *data = shown;
                }
            }
        }
    }
}

/// Parse's 252 for a provider that is not configured (or disabled).
pub fn unsupported() -> Error {
    Error::new(
        code::UNSUPPORTED_SERVICE,
        "This authentication method is unsupported.",
    )
}
