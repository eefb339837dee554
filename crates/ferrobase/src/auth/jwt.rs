//! ID tokens (JWT) checked against a provider's JWKS, with the messages Parse Server answers
//! (they are those of node's `jsonwebtoken`, which Parse passes on). The signature and claims
//! are checked by the `jsonwebtoken` crate.

use super::{http_error, not_found};
use ferrobase_core::error::Result;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Least time between two fetches of a JWKS caused by unknown key ids, so that tokens with
/// made-up `kid`s cannot make the server hammer the provider.
const REFETCH_COOLDOWN: Duration = Duration::from_secs(1);

/// Where the keys are: a JWKS URL, or an OpenID Connect issuer whose discovery document names it.
#[derive(Debug, Clone)]
pub enum KeySource {
    Jwks(String),
    Discovery(String),
}

struct Cached {
    fetched: Instant,
    keys: Vec<(Option<String>, Jwk)>,
}

/// A provider's signing keys, cached for `max_age` and fetched again when a token names a key
/// id the cache does not have (a key rotation).
pub struct Jwks {
    source: KeySource,
    client: reqwest::Client,
    max_age: Duration,
    state: tokio::sync::Mutex<(Option<Cached>, Option<Instant>)>,
}

impl Jwks {
    pub fn new(source: KeySource, client: reqwest::Client, max_age: Duration) -> Jwks {
        Jwks {
            source,
            client,
            max_age,
            state: tokio::sync::Mutex::new((None, None)),
        }
    }

    async fn fetch(&self) -> Result<Vec<(Option<String>, Jwk)>, String> {
        let url = match &self.source {
            KeySource::Jwks(u) => u.clone(),
            KeySource::Discovery(issuer) => {
                let doc: Value = self
                    .client
                    .get(format!(
                        "{}/.well-known/openid-configuration",
                        issuer.trim_end_matches('/')
                    ))
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| e.without_url().to_string())?
                    .json()
                    .await
                    .map_err(|e| e.without_url().to_string())?;
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("the discovery document has no jwks_uri")?
                    .to_string()
            }
        };
        let set: Value = self
            .client
            .get(url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| e.without_url().to_string())?
            .json()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let keys = set
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the JWKS has no keys")?;
        // As jwks-rsa: signing keys only; keys this crate cannot read are skipped.
        Ok(keys
            .iter()
            .filter(|k| k.get("use").is_none_or(|u| u == "sig"))
            .filter_map(|k| {
                let jwk: Jwk = serde_json::from_value(k.clone()).ok()?;
                Some((jwk.common.key_id.clone(), jwk))
            })
            .collect())
    }

    fn pick(keys: &[(Option<String>, Jwk)], kid: Option<&str>) -> Option<Jwk> {
        match kid {
            Some(kid) => keys
                .iter()
                .find(|(k, _)| k.as_deref() == Some(kid))
                .map(|(_, j)| j.clone()),
            // No `kid`: only a JWKS of one key says which key it is (jwks-rsa's rule).
            None if keys.len() == 1 => keys.first().map(|(_, j)| j.clone()),
            None => None,
        }
    }

    /// The key a token's `kid` names: from the cache while it is fresh, else fetched.
    pub async fn key(&self, kid: Option<&str>) -> Option<Jwk> {
        let mut state = self.state.lock().await;
        let (cache, last_fetch) = &mut *state;
        if let Some(c) = cache.as_ref() {
            if c.fetched.elapsed() < self.max_age {
                if let Some(k) = Self::pick(&c.keys, kid) {
                    return Some(k);
                }
                if last_fetch.is_some_and(|t| t.elapsed() < REFETCH_COOLDOWN) {
                    return None;
                }
            }
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                let found = Self::pick(&keys, kid);
                *cache = Some(Cached {
                    fetched: Instant::now(),
                    keys,
                });
                found
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot fetch the provider's JWKS");
                // A stale cache still answers while the provider is unreachable.
                cache.as_ref().and_then(|c| Self::pick(&c.keys, kid))
            }
        }
    }
}

/// What an ID token must say.
pub struct Expect<'a> {
    /// Accepted `aud` values (a configured client id or ids).
    pub audiences: &'a [String],
}

/// Checks an ID token's signature (RS256, a key of `jwks`), `exp` and `aud`, and returns its
/// claims. Errors are Parse's 101 with node `jsonwebtoken`'s messages.
pub async fn verify(token: &str, jwks: &Jwks, expect: Expect<'_>) -> Result<Value> {
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| not_found("provided token does not decode as JWT"))?;
    let kid = header.kid.as_deref();
    let jwk = jwks.key(kid).await.ok_or_else(|| {
        not_found(format!(
            "Unable to find matching key for Key ID: {}",
            kid.unwrap_or("undefined")
        ))
    })?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| http_error(e.to_string()))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.leeway = 0;
    v.validate_exp = true;
    v.required_spec_claims.clear();
    v.set_audience(expect.audiences);
    let data = jsonwebtoken::decode::<Value>(token, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind as K;
        not_found(match e.kind() {
            K::InvalidSignature => "invalid signature".to_string(),
            K::ExpiredSignature => "jwt expired".to_string(),
            K::ImmatureSignature => "jwt not active".to_string(),
            K::InvalidAudience | K::MissingRequiredClaim(_) => format!(
                "jwt audience invalid. expected: {}",
                expect.audiences.join(" or ")
            ),
            K::InvalidAlgorithm => "invalid algorithm".to_string(),
            _ => "jwt malformed".to_string(),
        })
    })?;
    Ok(data.claims)
}
