//! The providers that sign a user in: Apple, Google and OpenID Connect ID tokens, Facebook
//! (Graph API access tokens or Limited Login ID tokens), GitHub (code exchange), and OAuth2
//! token introspection. Messages and codes are Parse Server 9's.

use super::jwt::{self, Expect, Jwks, KeySource};
use super::{http_error, not_found};
use async_trait::async_trait;
use ferrobase_core::auth_data::{AuthAdapter, AuthRequest, Step, Validated};
use ferrobase_core::error::{code, Error, Result};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

type Opts = Map<String, Value>;

fn str_opt(opts: &Opts, key: &str) -> Option<String> {
    opts.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A client id option: one string or a list (Parse passes either to `jsonwebtoken`).
fn ids(opts: &Opts, key: &str) -> Vec<String> {
    match opts.get(key) {
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// `cacheMaxAge` (milliseconds, Parse's default one hour).
fn cache_age(opts: &Opts) -> Duration {
    opts.get("cacheMaxAge")
        .and_then(Value::as_u64)
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(3600))
}

fn data_str<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// JavaScript's loose `==` between a provider's id and the client's (`"12" == 12`).
fn same_id(a: Option<&Value>, b: Option<&Value>) -> bool {
    let s = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    matches!((s(a), s(b)), (Some(x), Some(y)) if x == y)
}

/// An ID-token provider: Apple, Google, an OpenID Connect issuer, Facebook Limited Login.
struct IdToken {
    /// `Apple`, `Google`, …: the start of "… auth is not configured."
    label: String,
    /// Where the client puts the token (`token`; Google: `id_token`).
    token_fields: &'static [&'static str],
    audiences: Vec<String>,
    issuers: Vec<String>,
    /// Parse's message for a token of another issuer.
    issuer_message: fn(&[String], &str) -> String,
    jwks: Jwks,
}

impl IdToken {
    async fn check(&self, data: &Value) -> Result<()> {
        if self.audiences.is_empty() {
            return Err(not_found(format!("{} auth is not configured.", self.label)));
        }
        let token = self
            .token_fields
            .iter()
            .find_map(|f| data_str(data, f))
            .ok_or_else(|| not_found("id token is invalid for this user."))?;
        let claims = jwt::verify(
            token,
            &self.jwks,
            Expect {
                audiences: &self.audiences,
            },
        )
        .await?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or("undefined");
        if !self.issuers.iter().any(|i| i == iss) {
            return Err(not_found((self.issuer_message)(&self.issuers, iss)));
        }
        if claims.get("sub").is_none() || claims.get("sub") != data.get("id") {
            return Err(not_found("auth data is invalid for this user."));
        }
        Ok(())
    }
}

#[async_trait]
impl AuthAdapter for IdToken {
    async fn validate(&self, _: Step, data: &Value, _: AuthRequest<'_>) -> Result<Validated> {
        self.check(data).await?;
        Ok(Validated::keep())
    }
}

fn openid_issuer_message(issuers: &[String], from: &str) -> String {
    format!(
        "id token not issued by correct OpenID provider - expected: {} | from: {from}",
        issuers.join(" or ")
    )
}

fn google_issuer_message(issuers: &[String], from: &str) -> String {
    format!(
        "id token not issued by correct provider - expected: {} | from: {from}",
        issuers.join(" or ")
    )
}

fn jwks(opts: &Opts, default: &str, client: &reqwest::Client) -> Jwks {
    Jwks::new(
        KeySource::Jwks(str_opt(opts, "jwksUri").unwrap_or_else(|| default.to_string())),
        client.clone(),
        cache_age(opts),
    )
}

/// Apple, Google or Facebook, configured or not (unconfigured, they answer "… auth is not
/// configured.", as Parse Server 9).
pub fn builtin(
    name: &str,
    opts: &Opts,
    client: &reqwest::Client,
) -> Result<Arc<dyn AuthAdapter>, String> {
    Ok(match name {
        "apple" => Arc::new(IdToken {
            label: "Apple".into(),
            token_fields: &["token"],
            audiences: ids(opts, "clientId"),
            issuers: vec!["https://appleid.apple.com".into()],
            issuer_message: openid_issuer_message,
            jwks: jwks(opts, "https://appleid.apple.com/auth/keys", client),
        }),
        "google" => Arc::new(IdToken {
            label: "Google".into(),
            token_fields: &["id_token"],
            audiences: ids(opts, "clientId"),
            issuers: vec![
                "accounts.google.com".into(),
                "https://accounts.google.com".into(),
            ],
            issuer_message: google_issuer_message,
            jwks: jwks(opts, "https://www.googleapis.com/oauth2/v3/certs", client),
        }),
        "facebook" => Arc::new(Facebook {
            app_ids: opts.get("appIds").cloned(),
            app_secret: str_opt(opts, "appSecret"),
            graph: str_opt(opts, "graphApiUrl")
                .unwrap_or_else(|| "https://graph.facebook.com/".into()),
            client: client.clone(),
            limited: IdToken {
                label: "Facebook".into(),
                token_fields: &["token"],
                audiences: ids(opts, "appIds"),
                issuers: vec!["https://www.facebook.com".into()],
                issuer_message: openid_issuer_message,
                jwks: jwks(
                    opts,
                    "https://www.facebook.com/.well-known/oauth/openid/jwks/",
                    client,
                ),
            },
        }),
        other => return Err(format!("auth.{other}: not a built-in provider")),
    })
}

/// `"<name>": {"oidc": true, "issuer": …, "clientId": …}`: any OpenID Connect provider, its keys
/// found through the issuer's discovery document (or `jwksUri`). authData: `{id, id_token}`.
pub fn oidc(
    name: &str,
    opts: &Opts,
    client: &reqwest::Client,
) -> Result<Arc<dyn AuthAdapter>, String> {
    let issuer =
        str_opt(opts, "issuer").ok_or_else(|| format!("auth.{name}: oidc needs an issuer"))?;
    let audiences = ids(opts, "clientId");
    if audiences.is_empty() {
        return Err(format!("auth.{name}: oidc needs a clientId"));
    }
    let source = match str_opt(opts, "jwksUri") {
        Some(u) => KeySource::Jwks(u),
        None => KeySource::Discovery(issuer.clone()),
    };
    Ok(Arc::new(IdToken {
        label: name.to_string(),
        token_fields: &["id_token", "token"],
        audiences,
        issuers: vec![issuer],
        issuer_message: openid_issuer_message,
        jwks: Jwks::new(source, client.clone(), cache_age(opts)),
    }))
}

/// Facebook: a Graph API access token (`{id, access_token}`, checked with `/me` and, when
/// `appIds` are configured, `/app`), or a Limited Login ID token (`{id, token}`).
struct Facebook {
    app_ids: Option<Value>,
    app_secret: Option<String>,
    graph: String,
    client: reqwest::Client,
    limited: IdToken,
}

impl Facebook {
    /// `&appsecret_proof=…`: HMAC-SHA256 of the access token with the app secret.
    fn proof(&self, token: &str) -> Result<String> {
        use hmac::{Hmac, Mac};
        let Some(secret) = &self.app_secret else {
            return Ok(String::new());
        };
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).map_err(Error::internal)?;
        mac.update(token.as_bytes());
        Ok(format!(
            "&appsecret_proof={}",
            hex::encode(mac.finalize().into_bytes())
        ))
    }

    async fn graph(&self, path: &str, token: &str) -> Result<Value> {
        let url = format!(
            "{}{path}access_token={}{}",
            self.graph,
            urlencode(token),
            self.proof(token)?
        );
        let r = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| http_error(e.without_url()))?;
        r.json::<Value>()
            .await
            .map_err(|e| http_error(e.without_url()))
    }

    fn configured_ids(&self) -> Result<Vec<String>> {
        match &self.app_ids {
            Some(Value::Array(a)) if !a.is_empty() => Ok(a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()),
            Some(Value::Array(_)) | None => Err(not_found("Facebook auth is not configured.")),
            Some(_) => Err(not_found("appIds must be an array.")),
        }
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait]
impl AuthAdapter for Facebook {
    async fn validate(&self, _: Step, data: &Value, _: AuthRequest<'_>) -> Result<Validated> {
        if data_str(data, "token").is_some() {
            self.limited.check(data).await?;
            return Ok(Validated::keep());
        }
        let invalid = || not_found("Facebook auth is invalid for this user.");
        let token = data_str(data, "access_token").unwrap_or_default();
        // Parse's validateAppId runs first, when appIds are configured.
        if self.app_ids.as_ref().is_some_and(|v| !v.is_null()) {
            let ids = self.configured_ids()?;
            let app = self.graph("app?", token).await?;
            if !app
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| ids.iter().any(|i| i == id))
            {
                return Err(invalid());
            }
        }
        self.configured_ids()?;
        let me = self.graph("me?fields=id&", token).await?;
        if !same_id(me.get("id"), data.get("id")) {
            return Err(invalid());
        }
        Ok(Validated::keep())
    }
}

/// GitHub (Parse's code adapter): the client sends an OAuth `code`, exchanged here for an
/// access token, which names the account. With `enableInsecureAuth`, `{id, access_token}`.
struct GitHub {
    client_id: String,
    client_secret: String,
    insecure: bool,
    token_url: String,
    user_url: String,
    client: reqwest::Client,
}

pub fn github(opts: &Opts, client: &reqwest::Client) -> Result<Arc<dyn AuthAdapter>, String> {
    let insecure = opts.get("enableInsecureAuth") == Some(&Value::Bool(true));
    let client_id = str_opt(opts, "clientId");
    let client_secret = str_opt(opts, "clientSecret");
    if !insecure {
        if client_id.is_none() {
            return Err("GitHub clientId is required.".into());
        }
        if client_secret.is_none() {
            return Err("GitHub clientSecret is required.".into());
        }
    }
    Ok(Arc::new(GitHub {
        client_id: client_id.unwrap_or_default(),
        client_secret: client_secret.unwrap_or_default(),
        insecure,
        token_url: str_opt(opts, "tokenUrl")
            .unwrap_or_else(|| "https://github.com/login/oauth/access_token".into()),
        user_url: str_opt(opts, "userUrl").unwrap_or_else(|| "https://api.github.com/user".into()),
        client: client.clone(),
    }))
}

impl GitHub {
    fn invalid() -> Error {
        not_found("GitHub auth is invalid for this user.")
    }

    async fn exchange(&self, code_: &str) -> Result<String> {
        let r = self
            .client
            .post(&self.token_url)
            .header("Accept", "application/json")
            .json(&json!({
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "code": code_,
            }))
            .send()
            .await
            .map_err(|e| http_error(e.without_url()))?;
        if !r.status().is_success() {
            return Err(Error::new(
                code::VALIDATION_ERROR,
                format!(
                    "Failed to exchange code for token: {}",
                    r.status().canonical_reason().unwrap_or_default()
                ),
            ));
        }
        let data: Value = r.json().await.map_err(|e| http_error(e.without_url()))?;
        if let Some(err) = data.get("error").filter(|e| !e.is_null()) {
            let msg = data
                .get("error_description")
                .and_then(Value::as_str)
                .or(err.as_str())
                .unwrap_or("GitHub auth is invalid for this user.");
            return Err(not_found(msg));
        }
        data.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(Self::invalid)
    }

    async fn user(&self, token: &str) -> Result<Value> {
        let r = self
            .client
            .get(&self.user_url)
            .header("Authorization", format!("Bearer {token}"))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| http_error(e.without_url()))?;
        if !r.status().is_success() {
            return Err(Error::new(
                code::VALIDATION_ERROR,
                format!(
                    "Failed to fetch GitHub user: {}",
                    r.status().canonical_reason().unwrap_or_default()
                ),
            ));
        }
        let user: Value = r.json().await.map_err(|e| http_error(e.without_url()))?;
        let ok = |k: &str| user.get(k).is_some_and(|v| !v.is_null() && v != "");
        if !ok("id") || !ok("login") {
            return Err(Error::new(
                code::VALIDATION_ERROR,
                "Invalid GitHub user data received.",
            ));
        }
        Ok(user)
    }
}

/// GitHub's numeric account id as the string Parse looks users up by.
fn id_string(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(v) => v.clone(),
        None => Value::Null,
    }
}

#[async_trait]
impl AuthAdapter for GitHub {
    async fn before_find(&self, data: &mut Value) -> Result<()> {
        let Some(obj) = data.as_object_mut() else {
            return Err(Self::invalid());
        };
        let code_ = obj.get("code").and_then(Value::as_str).map(str::to_string);
        if self.insecure && code_.is_none() {
            let token = obj
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(Self::invalid)?
                .to_string();
            let user = self.user(&token).await?;
            if !same_id(user.get("id"), obj.get("id")) {
                return Err(Self::invalid());
            }
            obj.insert("id".into(), id_string(user.get("id")));
            return Ok(());
        }
        let Some(code_) = code_ else {
            return Err(Error::new(
                code::VALIDATION_ERROR,
                "GitHub code is required.",
            ));
        };
        let token = self.exchange(&code_).await?;
        let user = self.user(&token).await?;
        if obj.get("id").is_some_and(|v| !v.is_null()) && !same_id(user.get("id"), obj.get("id")) {
            return Err(Self::invalid());
        }
        obj.insert("access_token".into(), Value::String(token));
        obj.insert("id".into(), id_string(user.get("id")));
        obj.remove("code");
        obj.remove("redirect_uri");
        Ok(())
    }

    /// The credentials were checked in `before_find`; the steps keep the data.
    async fn validate(&self, _: Step, _: &Value, _: AuthRequest<'_>) -> Result<Validated> {
        Ok(Validated::keep())
    }

    fn uses_steps(&self) -> bool {
        true
    }

    fn after_find(&self, stored: &Value, _master: bool) -> Option<Value> {
        Some(json!({"id": stored.get("id").cloned().unwrap_or(Value::Null)}))
    }
}

/// `"<name>": {"oauth2": true, "tokenIntrospectionEndpointUrl": …}` (Parse's OAuth2 adapter):
/// the access token is checked by the provider's RFC 7662 introspection endpoint.
struct OAuth2 {
    url: String,
    userid_field: String,
    appid_field: Option<String>,
    app_ids: Vec<String>,
    authorization_header: Option<String>,
    client: reqwest::Client,
}

pub fn oauth2(
    name: &str,
    opts: &Opts,
    client: &reqwest::Client,
) -> Result<Arc<dyn AuthAdapter>, String> {
    let url = str_opt(opts, "tokenIntrospectionEndpointUrl").ok_or_else(|| {
        format!("auth.{name}: OAuth2 token introspection endpoint URL is missing.")
    })?;
    let appid_field = str_opt(opts, "appidField");
    let app_ids = ids(opts, "appIds");
    if appid_field.is_some() && app_ids.is_empty() {
        return Err(format!(
            "auth.{name}: OAuth2 configuration is missing app IDs."
        ));
    }
    Ok(Arc::new(OAuth2 {
        url,
        userid_field: str_opt(opts, "useridField").unwrap_or_else(|| "sub".into()),
        appid_field,
        app_ids,
        authorization_header: str_opt(opts, "authorizationHeader"),
        client: client.clone(),
    }))
}

impl OAuth2 {
    async fn introspect(&self, token: &str) -> Result<Value> {
        let mut req = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("token={}", urlencode(token)));
        if let Some(h) = &self.authorization_header {
            req = req.header("Authorization", h);
        }
        let r = req.send().await.map_err(|e| http_error(e.without_url()))?;
        if !r.status().is_success() {
            return Err(not_found("OAuth2 token introspection request failed."));
        }
        r.json().await.map_err(|e| http_error(e.without_url()))
    }
}

#[async_trait]
impl AuthAdapter for OAuth2 {
    async fn validate(&self, _: Step, data: &Value, _: AuthRequest<'_>) -> Result<Validated> {
        let token = data_str(data, "access_token").unwrap_or_default();
        if let Some(field) = &self.appid_field {
            let info = self.introspect(token).await?;
            let ok = match info.get(field) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|v| self.app_ids.iter().any(|i| i == v)),
                Some(Value::String(s)) => self.app_ids.iter().any(|i| i == s),
                _ => false,
            };
            if !ok {
                return Err(not_found("OAuth2: Invalid app ID."));
            }
        }
        let info = self.introspect(token).await?;
        if info.get("active") != Some(&Value::Bool(true))
            || info.get(&self.userid_field) != data.get("id")
        {
            return Err(not_found("OAuth2 access token is invalid for this user."));
        }
        Ok(Validated::keep())
    }
}
