//! Third-party sign-in (`authData`) against a local identity provider on 127.0.0.1 that serves a
//! JWKS, an OpenID discovery document, GitHub-like token and user endpoints, Facebook-like Graph
//! endpoints and an OAuth2 introspection endpoint, and signs its own ID tokens with generated RSA
//! keys. Each provider is checked with valid, expired, wrong-audience, wrong-signature and
//! replayed tokens; then linking, unlinking, the 208/252/162 errors, and TOTP MFA.

use crate::helpers::*;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const APPLE_CLIENT: &str = "com.ferrobase.test";
const GOOGLE_CLIENT: &str = "google-client.apps";

/// An RSA key: its PEM for signing and its public JWK.
struct Key {
    pem: String,
    n: String,
    e: String,
}

fn make_key() -> Key {
    let mut rng = rsa::rand_core::OsRng;
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Key {
        pem: private
            .to_pkcs1_pem(rsa::pkcs1::LineEnding::LF)
            .expect("pem")
            .to_string(),
        n: b64.encode(private.n().to_bytes_be()),
        e: b64.encode(private.e().to_bytes_be()),
    }
}

/// Two keys for the whole test binary (generation takes a moment): the provider's, and a
/// stranger's that signs the wrong-signature tokens.
fn keys() -> &'static (Key, Key) {
    static KEYS: OnceLock<(Key, Key)> = OnceLock::new();
    KEYS.get_or_init(|| (make_key(), make_key()))
}

fn jwk(key: &Key, kid: &str) -> Value {
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": key.n, "e": key.e})
}

fn sign(key: &Key, kid: &str, claims: Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.to_string());
    encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(key.pem.as_bytes()).expect("encoding key"),
    )
    .expect("signed")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A token of the provider's key `k1`.
fn token(iss: &str, aud: &str, sub: &str, exp_in: i64) -> String {
    sign(
        &keys().0,
        "k1",
        json!({"iss": iss, "aud": aud, "sub": sub, "iat": now(), "exp": now() + exp_in}),
    )
}

#[derive(Default)]
struct ProviderState {
    /// The keys the JWKS serves (`kid`s), in order.
    kids: Mutex<Vec<String>>,
    jwks_fetches: AtomicUsize,
    /// GitHub codes not yet exchanged.
    codes: Mutex<HashSet<String>>,
    /// Access token → GitHub user id.
    tokens: Mutex<HashMap<String, i64>>,
    url: Mutex<String>,
}

struct Provider {
    url: String,
    state: Arc<ProviderState>,
}

async fn jwks(State(s): State<Arc<ProviderState>>) -> Json<Value> {
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let kids = s.kids.lock().map(|k| k.clone()).unwrap_or_default();
    let keys: Vec<Value> = kids.iter().map(|kid| jwk(&keys().0, kid)).collect();
    Json(json!({ "keys": keys }))
}

async fn discovery(State(s): State<Arc<ProviderState>>) -> Json<Value> {
    let url = s.url.lock().map(|u| u.clone()).unwrap_or_default();
    Json(json!({"issuer": url, "jwks_uri": format!("{url}/jwks")}))
}

async fn github_token(State(s): State<Arc<ProviderState>>, Json(body): Json<Value>) -> Json<Value> {
    let code = body["code"].as_str().unwrap_or_default().to_string();
    let fresh = s.codes.lock().map(|mut c| c.remove(&code)).unwrap_or(false);
    if !fresh || body["client_secret"] != "gh-secret" {
        return Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired."
        }));
    }
    let token = format!("gho_{code}");
    if let Ok(mut t) = s.tokens.lock() {
        t.insert(token.clone(), 4242);
    }
    Json(json!({"access_token": token, "token_type": "bearer"}))
}

async fn github_user(
    State(s): State<Arc<ProviderState>>,
    headers: HeaderMap,
) -> Result<Json<Value>, AxumStatus> {
    let auth = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let token = auth.strip_prefix("Bearer ").unwrap_or_default();
    let id = s.tokens.lock().ok().and_then(|t| t.get(token).copied());
    match id {
        Some(id) => Ok(Json(json!({"id": id, "login": "octocat"}))),
        None => Err(AxumStatus::UNAUTHORIZED),
    }
}

async fn fb_me(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    // The app secret proof must be the HMAC of the token with the app secret.
    let proof_ok = q.get("appsecret_proof").is_some_and(|p| p.len() == 64);
    match q.get("access_token").map(String::as_str) {
        Some("fb-good") if proof_ok => Json(json!({"id": "fb-user-1"})),
        Some("fb-other-app") if proof_ok => Json(json!({"id": "fb-user-2"})),
        _ => Json(json!({"error": {"message": "Invalid OAuth access token.", "code": 190}})),
    }
}

async fn fb_app(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    match q.get("access_token").map(String::as_str) {
        Some("fb-good") => Json(json!({"id": "fb-app"})),
        Some("fb-other-app") => Json(json!({"id": "someone-elses-app"})),
        _ => Json(json!({"error": {"message": "Invalid OAuth access token.", "code": 190}})),
    }
}

async fn introspect(Form(f): Form<HashMap<String, String>>) -> Json<Value> {
    match f.get("token").map(String::as_str) {
        Some("o2-good") => Json(json!({"active": true, "sub": "o2-user", "aud": "o2-app"})),
        _ => Json(json!({"active": false})),
    }
}

async fn provider() -> Provider {
    let state = Arc::new(ProviderState::default());
    if let Ok(mut k) = state.kids.lock() {
        k.push("k1".into());
    }
    let app = Router::new()
        .route("/jwks", get(jwks))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/github/token", post(github_token))
        .route("/github/user", get(github_user))
        .route("/graph/me", get(fb_me))
        .route("/graph/app", get(fb_app))
        .route("/introspect", post(introspect))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    if let Ok(mut u) = state.url.lock() {
        *u = url.clone();
    }
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // Generated now, not inside a request handler.
    let _ = keys();
    Provider { url, state }
}

fn auth_config(p: &Provider) -> Value {
    json!({
        "apple": {"clientId": APPLE_CLIENT, "jwksUri": format!("{}/jwks", p.url)},
        "google": {"clientId": [GOOGLE_CLIENT], "jwksUri": format!("{}/jwks", p.url)},
        "facebook": {"appIds": ["fb-app"], "appSecret": "fb-secret",
                     "graphApiUrl": format!("{}/graph/", p.url),
                     "jwksUri": format!("{}/jwks", p.url)},
        "github": {"clientId": "gh-client", "clientSecret": "gh-secret",
                   "tokenUrl": format!("{}/github/token", p.url),
                   "userUrl": format!("{}/github/user", p.url)},
        "corp": {"oidc": true, "issuer": p.url, "clientId": "corp-app"},
        "o2": {"oauth2": true, "tokenIntrospectionEndpointUrl": format!("{}/introspect", p.url),
               "appidField": "aud", "appIds": ["o2-app"]},
        "mfa": {"enabled": true, "options": ["TOTP"], "digits": 6, "period": 30}
    })
}

async fn spawn_auth(p: &Provider, tweak: impl FnOnce(&mut ferrobase::config::Config)) -> TestApp {
    let auth = ferrobase::auth::AuthConfig::from_value(auth_config(p)).expect("auth config");
    spawn_with(|c| {
        c.auth = auth;
        tweak(c);
    })
    .await
}

/// `POST /users` with one provider's data.
async fn sign_in(app: &TestApp, provider: &str, data: Value) -> (StatusCode, Value) {
    app.post("/users", json!({"authData": {provider: data}}), As::Public)
        .await
}

fn refused(got: &(StatusCode, Value), code: i64, message: &str) {
    assert_eq!(got.1["code"].as_i64(), Some(code), "{}", got.1);
    assert_eq!(got.1["error"].as_str(), Some(message), "{}", got.1);
    assert!(!got.0.is_success(), "{}", got.1);
}

#[tokio::test]
async fn apple_id_tokens_against_the_local_provider() {
    let p = provider().await;
    let app = spawn_auth(&p, |_| {}).await;
    let apple = "https://appleid.apple.com";
    let tok = token(apple, APPLE_CLIENT, "apple-001", 600);
    let first = sign_in(&app, "apple", json!({"id": "apple-001", "token": tok})).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    assert!(first.1["sessionToken"].is_string());
    assert_eq!(
        first.1["username"].as_str().map(str::len),
        Some(25),
        "a generated username, as Parse: {}",
        first.1
    );
    // The same token again (within its lifetime, as apps do): a login of the same account.
    let again = sign_in(&app, "apple", json!({"id": "apple-001", "token": tok})).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(again.1["objectId"], first.1["objectId"]);
    let session = again.1["sessionToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, me) = app.get("/users/me", As::User(&session)).await;
    assert_eq!(me["authData"]["apple"]["id"], "apple-001");

    // Expired.
    let expired = token(apple, APPLE_CLIENT, "apple-001", -60);
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-001", "token": expired})).await,
        101,
        "jwt expired",
    );
    // Issued for another app.
    let other_aud = token(apple, "com.someone.else", "apple-001", 600);
    refused(
        &sign_in(
            &app,
            "apple",
            json!({"id": "apple-001", "token": other_aud}),
        )
        .await,
        101,
        &format!("jwt audience invalid. expected: {APPLE_CLIENT}"),
    );
    // Signed by another key under the provider's key id.
    let forged = sign(
        &keys().1,
        "k1",
        json!({"iss": apple, "aud": APPLE_CLIENT, "sub": "apple-001", "exp": now() + 600}),
    );
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-001", "token": forged})).await,
        101,
        "invalid signature",
    );
    // Another issuer.
    let other_iss = token("https://evil.example", APPLE_CLIENT, "apple-001", 600);
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-001", "token": other_iss})).await,
        101,
        "id token not issued by correct OpenID provider - expected: https://appleid.apple.com | from: https://evil.example",
    );
    // Replayed: apple-001's valid token presented for another account.
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-999", "token": tok})).await,
        101,
        "auth data is invalid for this user.",
    );
    refused(
        &sign_in(
            &app,
            "apple",
            json!({"id": "apple-001", "token": "not-a-jwt"}),
        )
        .await,
        101,
        "provided token does not decode as JWT",
    );
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-001"})).await,
        101,
        "id token is invalid for this user.",
    );
    refused(
        &sign_in(&app, "apple", json!({"id": 12, "token": tok})).await,
        162,
        "Invalid authData id for provider 'apple'.",
    );

    // The JWKS was fetched once for all of that; an unknown key id fetches it again.
    assert_eq!(p.state.jwks_fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    if let Ok(mut k) = p.state.kids.lock() {
        k.push("k2".into());
    }
    let rotated = sign(
        &keys().0,
        "k2",
        json!({"iss": apple, "aud": APPLE_CLIENT, "sub": "apple-001", "exp": now() + 600}),
    );
    let r = sign_in(&app, "apple", json!({"id": "apple-001", "token": rotated})).await;
    assert_eq!(r.0, StatusCode::OK, "a rotated key is fetched: {}", r.1);
    assert_eq!(p.state.jwks_fetches.load(Ordering::SeqCst), 2);
    let unknown = sign(
        &keys().0,
        "nope",
        json!({"iss": apple, "aud": APPLE_CLIENT, "sub": "apple-001", "exp": now() + 600}),
    );
    refused(
        &sign_in(&app, "apple", json!({"id": "apple-001", "token": unknown})).await,
        101,
        "Unable to find matching key for Key ID: nope",
    );
    app.stop().await;
}

#[tokio::test]
async fn google_and_openid_connect_id_tokens() {
    let p = provider().await;
    let app = spawn_auth(&p, |_| {}).await;
    let g = token("accounts.google.com", GOOGLE_CLIENT, "g-1", 600);
    let ok = sign_in(&app, "google", json!({"id": "g-1", "id_token": g})).await;
    assert_eq!(ok.0, StatusCode::CREATED, "{}", ok.1);
    let g2 = token("https://accounts.google.com", GOOGLE_CLIENT, "g-1", 600);
    let again = sign_in(&app, "google", json!({"id": "g-1", "id_token": g2})).await;
    assert_eq!(again.1["objectId"], ok.1["objectId"], "{}", again.1);
    refused(
        &sign_in(
            &app,
            "google",
            json!({"id": "g-1", "id_token": token("accounts.google.com", GOOGLE_CLIENT, "g-1", -5)}),
        )
        .await,
        101,
        "jwt expired",
    );
    refused(
        &sign_in(
            &app,
            "google",
            json!({"id": "g-1", "id_token": token("accounts.google.com", "other", "g-1", 600)}),
        )
        .await,
        101,
        &format!("jwt audience invalid. expected: {GOOGLE_CLIENT}"),
    );
    refused(
        &sign_in(
            &app,
            "google",
            json!({"id": "g-1", "id_token": token("https://appleid.apple.com", GOOGLE_CLIENT, "g-1", 600)}),
        )
        .await,
        101,
        "id token not issued by correct provider - expected: accounts.google.com or https://accounts.google.com | from: https://appleid.apple.com",
    );
    let forged = sign(
        &keys().1,
        "k1",
        json!({"iss": "accounts.google.com", "aud": GOOGLE_CLIENT, "sub": "g-1", "exp": now() + 60}),
    );
    refused(
        &sign_in(&app, "google", json!({"id": "g-1", "id_token": forged})).await,
        101,
        "invalid signature",
    );
    refused(
        &sign_in(&app, "google", json!({"id": "g-2", "id_token": g})).await,
        101,
        "auth data is invalid for this user.",
    );

    // A generic OpenID Connect provider: keys found through its discovery document.
    let corp = |aud: &str, sub: &str, exp: i64| token(&p.url, aud, sub, exp);
    let c = sign_in(
        &app,
        "corp",
        json!({"id": "emp-7", "id_token": corp("corp-app", "emp-7", 600)}),
    )
    .await;
    assert_eq!(c.0, StatusCode::CREATED, "{}", c.1);
    refused(
        &sign_in(
            &app,
            "corp",
            json!({"id": "emp-7", "id_token": corp("corp-app", "emp-7", -1)}),
        )
        .await,
        101,
        "jwt expired",
    );
    refused(
        &sign_in(
            &app,
            "corp",
            json!({"id": "emp-7", "id_token": corp("hr-app", "emp-7", 600)}),
        )
        .await,
        101,
        "jwt audience invalid. expected: corp-app",
    );
    let forged = sign(
        &keys().1,
        "k1",
        json!({"iss": p.url, "aud": "corp-app", "sub": "emp-7", "exp": now() + 60}),
    );
    refused(
        &sign_in(&app, "corp", json!({"id": "emp-7", "id_token": forged})).await,
        101,
        "invalid signature",
    );
    refused(
        &sign_in(
            &app,
            "corp",
            json!({"id": "emp-8", "id_token": corp("corp-app", "emp-7", 600)}),
        )
        .await,
        101,
        "auth data is invalid for this user.",
    );
    app.stop().await;

    // Without a client id, Parse Server 9 refuses Apple and Google tokens outright.
    let bare = spawn().await;
    refused(
        &sign_in(&bare, "google", json!({"id": "g-1", "id_token": g})).await,
        101,
        "Google auth is not configured.",
    );
    refused(
        &sign_in(&bare, "apple", json!({"id": "a", "token": "x"})).await,
        101,
        "Apple auth is not configured.",
    );
    bare.stop().await;
}

#[tokio::test]
async fn facebook_github_and_oauth2_access_tokens() {
    let p = provider().await;
    let app = spawn_auth(&p, |_| {}).await;
    let fb = sign_in(
        &app,
        "facebook",
        json!({"id": "fb-user-1", "access_token": "fb-good"}),
    )
    .await;
    assert_eq!(fb.0, StatusCode::CREATED, "{}", fb.1);
    refused(
        &sign_in(
            &app,
            "facebook",
            json!({"id": "fb-user-1", "access_token": "revoked"}),
        )
        .await,
        101,
        "Facebook auth is invalid for this user.",
    );
    // A token of another Facebook app (appIds).
    refused(
        &sign_in(
            &app,
            "facebook",
            json!({"id": "fb-user-2", "access_token": "fb-other-app"}),
        )
        .await,
        101,
        "Facebook auth is invalid for this user.",
    );
    // A valid token replayed for another account.
    refused(
        &sign_in(
            &app,
            "facebook",
            json!({"id": "fb-user-9", "access_token": "fb-good"}),
        )
        .await,
        101,
        "Facebook auth is invalid for this user.",
    );
    // Limited Login: an ID token whose audience is the app id.
    let limited = token("https://www.facebook.com", "fb-app", "fb-user-1", 600);
    let l = sign_in(
        &app,
        "facebook",
        json!({"id": "fb-user-1", "token": limited}),
    )
    .await;
    assert_eq!(l.1["objectId"], fb.1["objectId"], "{}", l.1);
    refused(
        &sign_in(
            &app,
            "facebook",
            json!({"id": "fb-user-1", "token": token("https://www.facebook.com", "fb-app", "fb-user-1", -1)}),
        )
        .await,
        101,
        "jwt expired",
    );

    // GitHub: the code is exchanged for a token, which names the account.
    if let Ok(mut c) = p.state.codes.lock() {
        c.insert("code-1".into());
        c.insert("code-2".into());
    }
    let gh = sign_in(&app, "github", json!({"code": "code-1"})).await;
    assert_eq!(gh.0, StatusCode::CREATED, "{}", gh.1);
    let token_ = gh.1["sessionToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, me) = app.get("/users/me", As::User(&token_)).await;
    assert_eq!(
        me["authData"]["github"],
        json!({"id": "4242"}),
        "afterFind shows the id only"
    );
    let (_, raw) = app
        .get(
            &format!("/users/{}", gh.1["objectId"].as_str().unwrap_or_default()),
            As::Master,
        )
        .await;
    assert_eq!(raw["authData"]["github"], json!({"id": "4242"}));
    // A replayed (already exchanged) code is refused by the provider.
    refused(
        &sign_in(&app, "github", json!({"code": "code-1"})).await,
        101,
        "The code passed is incorrect or expired.",
    );
    let again = sign_in(&app, "github", json!({"code": "code-2"})).await;
    assert_eq!(again.0, StatusCode::OK, "{}", again.1);
    assert_eq!(again.1["objectId"], gh.1["objectId"]);
    refused(
        &sign_in(&app, "github", json!({"id": "4242"})).await,
        142,
        "GitHub code is required.",
    );

    // OAuth2 token introspection.
    let o = sign_in(
        &app,
        "o2",
        json!({"id": "o2-user", "access_token": "o2-good"}),
    )
    .await;
    assert_eq!(o.0, StatusCode::CREATED, "{}", o.1);
    refused(
        &sign_in(
            &app,
            "o2",
            json!({"id": "o2-user", "access_token": "expired"}),
        )
        .await,
        101,
        "OAuth2: Invalid app ID.",
    );
    app.stop().await;
}

#[tokio::test]
async fn linking_unlinking_and_parse_errors() {
    let p = provider().await;
    let app = spawn_auth(&p, |_| {}).await;
    let apple = "https://appleid.apple.com";
    let (ann, ann_token) = app.signup("ann", "pw-ann").await;
    let (bob, bob_token) = app.signup("bob", "pw-bob").await;
    let data = json!({"id": "apple-ann", "token": token(apple, APPLE_CLIENT, "apple-ann", 600)});
    // Linking needs a valid token too.
    let bad = json!({"id": "apple-ann", "token": token(apple, APPLE_CLIENT, "apple-ann", -1)});
    refused(
        &app.put(
            &format!("/users/{ann}"),
            json!({"authData": {"apple": bad}}),
            As::User(&ann_token),
        )
        .await,
        101,
        "jwt expired",
    );
    let (s, v) = app
        .put(
            &format!("/users/{ann}"),
            json!({"authData": {"apple": data}}),
            As::User(&ann_token),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Now Apple logs Ann in.
    let login = sign_in(&app, "apple", data.clone()).await;
    assert_eq!(login.0, StatusCode::OK, "{}", login.1);
    assert_eq!(login.1["objectId"], json!(ann));
    assert_eq!(login.1["username"], "ann");
    // The same Apple account cannot be linked to Bob, nor used by Bob to sign in.
    refused(
        &app.put(
            &format!("/users/{bob}"),
            json!({"authData": {"apple": data}}),
            As::User(&bob_token),
        )
        .await,
        208,
        "this auth is already used",
    );
    refused(
        &app.post(
            "/users",
            json!({"authData": {"apple": data}}),
            As::User(&bob_token),
        )
        .await,
        208,
        "this auth is already used",
    );
    // A second provider on the same user; then unlinking one keeps the other.
    let g = json!({"id": "g-ann", "id_token": token("accounts.google.com", GOOGLE_CLIENT, "g-ann", 600)});
    let (s, v) = app
        .put(
            &format!("/users/{ann}"),
            json!({"authData": {"google": g}}),
            As::User(&ann_token),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .put(
            &format!("/users/{ann}"),
            json!({"authData": {"apple": null}}),
            As::User(&ann_token),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, me) = app.get("/users/me", As::User(&ann_token)).await;
    assert!(me["authData"].get("apple").is_none(), "{me}");
    assert_eq!(me["authData"]["google"]["id"], "g-ann", "{me}");
    // Apple now signs up a new account.
    let fresh = sign_in(&app, "apple", data.clone()).await;
    assert_eq!(fresh.0, StatusCode::CREATED, "{}", fresh.1);
    assert_ne!(fresh.1["objectId"], json!(ann));

    // Parse's errors.
    refused(
        &sign_in(&app, "myspace", json!({"id": "x"})).await,
        252,
        "This authentication method is unsupported.",
    );
    refused(
        &app.post("/users", json!({"authData": null}), As::Public)
            .await,
        252,
        "This authentication method is unsupported.",
    );
    refused(
        &app.put(
            &format!("/users/{bob}"),
            json!({"authData": null}),
            As::User(&bob_token),
        )
        .await,
        252,
        "This authentication method is unsupported.",
    );
    refused(
        &app.post("/users", json!({"authData": {"anonymous": {}}}), As::Public)
            .await,
        200,
        "bad or missing username",
    );
    app.stop().await;

    // enableAnonymousUsers: false, and a provider with enabled: false.
    let mut cfg = auth_config(&p);
    cfg["google"]["enabled"] = json!(false);
    let auth = ferrobase::auth::AuthConfig::from_value(cfg).expect("auth config");
    let strict = spawn_with(|c| {
        c.auth = auth;
        c.enable_anonymous_users = false;
    })
    .await;
    refused(
        &sign_in(&strict, "anonymous", json!({"id": "device-1"})).await,
        252,
        "This authentication method is unsupported.",
    );
    refused(
        &sign_in(&strict, "google", json!({"id": "g-1", "id_token": "x"})).await,
        252,
        "This authentication method is unsupported.",
    );
    strict.stop().await;
}

fn totp_code(secret: &str) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.into())
        .to_bytes()
        .expect("base32");
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .generate_current()
        .expect("code")
}

#[tokio::test]
async fn mfa_totp_enrolment_login_recovery_and_challenge() {
    let p = provider().await;
    let app = spawn_auth(&p, |_| {}).await;
    let (id, token_) = app.signup("mia", "pw-mia").await;
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    refused(
        &app.put(
            &format!("/users/{id}"),
            json!({"authData": {"mfa": {"secret": secret, "token": "000000x"}}}),
            As::User(&token_),
        )
        .await,
        141,
        "Invalid MFA token",
    );
    refused(
        &app.put(
            &format!("/users/{id}"),
            json!({"authData": {"mfa": {"secret": "SHORT", "token": "123456"}}}),
            As::User(&token_),
        )
        .await,
        141,
        "Invalid MFA data",
    );
    let (s, v) = app
        .put(
            &format!("/users/{id}"),
            json!({"authData": {"mfa": {"secret": secret, "token": totp_code(secret)}}}),
            As::User(&token_),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let recovery: Vec<String> = v["authDataResponse"]["mfa"]["recovery"]
        .as_str()
        .unwrap_or_default()
        .split(", ")
        .map(str::to_string)
        .collect();
    assert_eq!(recovery.len(), 2, "{v}");
    assert!(recovery.iter().all(|c| c.len() == 30));
    // The user sees the status, never the secret; the master key sees what is stored.
    let (_, me) = app.get("/users/me", As::User(&token_)).await;
    assert_eq!(me["authData"]["mfa"], json!({"status": "enabled"}), "{me}");
    let (_, raw) = app.get(&format!("/users/{id}"), As::Master).await;
    assert_eq!(raw["authData"]["mfa"]["secret"], secret);

    // A login now needs the second factor.
    refused(
        &app.post(
            "/login",
            json!({"username": "mia", "password": "pw-mia"}),
            As::Public,
        )
        .await,
        -1,
        "Missing additional authData mfa",
    );
    refused(
        &app.post(
            "/login",
            json!({"username": "mia", "password": "pw-mia", "authData": {"mfa": {"token": "999999"}}}),
            As::Public,
        )
        .await,
        141,
        "Invalid MFA token",
    );
    let (s, v) = app
        .post(
            "/login",
            json!({"username": "mia", "password": "pw-mia", "authData": {"mfa": {"token": totp_code(secret)}}}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["sessionToken"].is_string());
    assert_eq!(v["authData"]["mfa"], json!({"status": "enabled"}), "{v}");
    // A recovery code works once.
    let with = |code: &str| json!({"username": "mia", "password": "pw-mia", "authData": {"mfa": {"token": code}}});
    let (s, v) = app.post("/login", with(&recovery[0]), As::Public).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    refused(
        &app.post("/login", with(&recovery[0]), As::Public).await,
        141,
        "Invalid MFA token",
    );
    let (_, raw) = app.get(&format!("/users/{id}"), As::Master).await;
    assert_eq!(raw["authData"]["mfa"]["recovery"], json!([recovery[1]]));

    // /challenge identifies the user; the MFA adapter has no challenge step.
    let (s, v) = app
        .post(
            "/challenge",
            json!({"username": "mia", "password": "pw-mia", "challengeData": {"mfa": {}}}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"challengeData": {}}));
    refused(
        &app.post(
            "/challenge",
            json!({"username": "mia", "password": "pw-mia"}),
            As::Public,
        )
        .await,
        -1,
        "Nothing to challenge.",
    );
    refused(
        &app.post(
            "/challenge",
            json!({"username": "mia", "password": "wrong", "challengeData": {"mfa": {}}}),
            As::Public,
        )
        .await,
        101,
        "Invalid username/password.",
    );

    // Re-enrolment needs the current code as `old`.
    let new_secret = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU";
    refused(
        &app.put(
            &format!("/users/{id}"),
            json!({"authData": {"mfa": {"secret": new_secret, "token": totp_code(new_secret), "old": "000000"}}}),
            As::User(&token_),
        )
        .await,
        141,
        "Invalid MFA token",
    );
    let (s, v) = app
        .put(
            &format!("/users/{id}"),
            json!({"authData": {"mfa": {"secret": new_secret, "token": totp_code(new_secret), "old": totp_code(secret)}}}),
            As::User(&token_),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["authDataResponse"]["mfa"]["recovery"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn auth_config_file_in_parse_shape() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("parse-config.json");
    std::fs::write(
        &path,
        json!({"appId": "x", "enableAnonymousUsers": false,
               "auth": {"apple": {"clientId": "a"}, "mfa": {"options": ["TOTP"]}}})
        .to_string(),
    )
    .expect("write");
    let c = ferrobase::config::Config::resolve(ferrobase::config::ServeArgs {
        auth_config: Some(path.clone()),
        ..Default::default()
    })
    .expect("resolves");
    assert!(!c.enable_anonymous_users);
    assert!(c.auth.auth.contains_key("mfa"));
    std::fs::write(&path, json!({"mfa": {"options": ["SMS"]}}).to_string()).expect("write");
    let err = ferrobase::config::Config::resolve(ferrobase::config::ServeArgs {
        auth_config: Some(path),
        ..Default::default()
    })
    .err()
    .unwrap_or_default();
    assert!(err.contains("sendSMS"), "{err}");
}
