//! `authData` in the REST pipeline, as Parse Server's `RestWrite.handleAuthData` and `Auth.js`:
//! finding the account a provider names, signing up or logging in with it, linking and
//! unlinking (`PUT /users/:id`), the second factor of a login (`additional` adapters such as
//! MFA), the uniqueness of a provider id (208) and `/challenge`.

use super::{output, Core, Ctx};
use crate::auth_data::{AuthRequest, Policy, Step};
use crate::error::{code, Error, Result};
use crate::hooks::Trigger;
use crate::query::{Filter, Scalar, StoreQuery};
use crate::types::Object;
use crate::update::{UpdateOp, Updates};
use serde_json::Value;

/// What the adapters kept of a request's `authData`, and what they answer the client.
#[derive(Debug, Default)]
pub(super) struct AuthValidation {
    /// Provider → data to store (`Null`: unlink).
    pub auth_data: Object,
    /// `authDataResponse` of the answer.
    pub response: Object,
}

fn object_id(o: &Object) -> &str {
    o.get("objectId")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn stored_auth_data(user: &Object) -> Option<&Object> {
    user.get("authData").and_then(Value::as_object)
}

/// JavaScript truthiness of an `authData.<provider>.id` (Parse skips falsy ids).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

/// Parse's `hasMutatedAuthData`: the providers whose data differs from what is stored (data
/// that only echoes stored fields, as `afterFind` showed them, is not a change).
fn mutated_auth_data(auth_data: &Object, stored: Option<&Object>) -> Object {
    let Some(stored) = stored else {
        return auth_data.clone();
    };
    let mut out = Object::new();
    for (provider, data) in auth_data {
        if provider == "anonymous" {
            continue;
        }
        let changed = match (data, stored.get(provider)) {
            (Value::Null, _) => true,
            (_, None | Some(Value::Null)) => true,
            (Value::Object(incoming), Some(s)) => incoming.iter().any(|(k, v)| s.get(k) != Some(v)),
            (other, Some(s)) => other != s,
        };
        if changed {
            out.insert(provider.clone(), data.clone());
        }
    }
    out
}

/// A lockable stored value (Parse's `isLockableAuthDataValue`): primitives and arrays.
fn lock_scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::String(s) => Some(Scalar::String(s.clone())),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => Some(Scalar::Number(n.clone())),
        Value::Array(_) => Some(Scalar::Json(v.clone())),
        _ => None,
    }
}

/// Parse's `applyAuthDataOptimisticLock`: the update only applies while each changed field still
/// holds its original value, so a single-use code (an MFA recovery code) works once.
fn optimistic_lock(mut filter: Filter, original: Option<&Object>, new: &Object) -> Filter {
    let Some(original) = original else {
        return filter;
    };
    for (provider, data) in new {
        let Some(before) = original.get(provider).and_then(Value::as_object) else {
            continue;
        };
        for (field, value) in before {
            let Some(scalar) = lock_scalar(value) else {
                continue;
            };
            if data.get(field) != Some(value) {
                filter = filter.and(Filter::eq(&format!("authData.{provider}.{field}"), scalar));
            }
        }
    }
    filter
}

/// The store updates that write validated `authData` provider by provider (Parse stores each
/// provider in its own field, `_auth_data_<provider>` on MongoDB): other providers stay.
pub(super) fn auth_data_updates(validated: &Object) -> Updates {
    validated
        .iter()
        .map(|(provider, data)| {
            let op = if data.is_null() {
                UpdateOp::Delete
            } else {
                UpdateOp::Set(data.clone())
            };
            (format!("authData.{provider}"), op)
        })
        .collect()
}

fn already_used() -> Error {
    Error::new(code::ACCOUNT_ALREADY_LINKED, "this auth is already used")
}

impl Core {
    /// Parse's `findUsersWithAuthData`: the users (at most 2) any provider's `id` names. With
    /// `before_find`, each adapter may first rewrite its data (GitHub's code exchange), except
    /// for data that only repeats what `current` (the user being updated) has stored.
    pub(super) async fn users_with_auth_data(
        &self,
        ctx: &Ctx,
        auth_data: &mut Object,
        before_find: bool,
        current: Option<&Object>,
    ) -> Result<Vec<Object>> {
        let mut by_id = Vec::new();
        for (provider, data) in auth_data.iter_mut() {
            if data.is_null() {
                continue;
            }
            // Unconfigured providers are refused later (252); no query on their behalf.
            let Some(adapter) = self.config.auth.get(provider).cloned() else {
                continue;
            };
            let unchanged = current
                .and_then(|c| c.get(provider))
                .and_then(Value::as_object)
                .is_some_and(|stored| {
                    data.as_object().is_some_and(|d| {
                        !d.is_empty() && d.iter().all(|(k, v)| stored.get(k) == Some(v))
                    })
                });
            if before_find && !unchanged {
                adapter.before_find(data).await?;
            }
            let Some(id) = data.get("id").filter(|v| truthy(v)) else {
                continue;
            };
            let Some(id) = id.as_str() else {
                return Err(Error::new(
                    code::INVALID_VALUE,
                    format!("Invalid authData id for provider '{provider}'."),
                ));
            };
            by_id.push(Filter::eq(
                &format!("authData.{provider}.id"),
                Scalar::String(id.to_string()),
            ));
        }
        if by_id.is_empty() {
            return Ok(Vec::new());
        }
        let Some(users) = self.schema("_User") else {
            return Ok(Vec::new());
        };
        let mut q = StoreQuery::filter(Filter::Or(by_id));
        q.limit = Some(2);
        let found = self.store.find(&users, &q, ctx.tx).await?;
        // Parse's filteredObjectsByACL: a user with an empty ACL is locked out.
        Ok(if ctx.auth.master {
            found
        } else {
            found
                .into_iter()
                .filter(|u| {
                    !u.get("ACL")
                        .and_then(Value::as_object)
                        .is_some_and(|a| a.is_empty())
                })
                .collect()
        })
    }

    /// Parse's `handleAuthDataValidation`: each provider (in name order) validated by its
    /// adapter. `user` is the account concerned (found by the data, or the caller's own);
    /// `logged_in` says whether the caller is that user or the master key.
    pub(super) async fn validate_auth_data(
        &self,
        ctx: &Ctx,
        auth_data: &Object,
        user: Option<&Object>,
        logged_in: bool,
    ) -> Result<AuthValidation> {
        let mut out = AuthValidation::default();
        let stored = user.and_then(stored_auth_data);
        let mut providers: Vec<&String> = auth_data.keys().collect();
        providers.sort();
        for provider in providers {
            let data = &auth_data[provider.as_str()];
            if data.is_null() {
                out.auth_data.insert(provider.clone(), Value::Null);
                continue;
            }
            let adapter = self.config.auth.require(provider)?;
            let configured = stored
                .and_then(|s| s.get(provider.as_str()))
                .is_some_and(|v| !v.is_null());
            let step = match (logged_in, configured) {
                (_, false) => Step::SetUp,
                (true, true) => Step::Update,
                (false, true) => Step::Login,
            };
            let req = AuthRequest {
                master: ctx.auth.master,
                stored,
            };
            let v = adapter.validate(step, data, req).await?;
            if let Some(r) = v.response {
                out.response.insert(provider.clone(), r);
            }
            if !v.do_not_save {
                out.auth_data
                    .insert(provider.clone(), v.save.unwrap_or_else(|| data.clone()));
            }
        }
        Ok(out)
    }

    /// Parse's `checkIfUserHasProvidedConfiguredProvidersForLogin`: a user with an `additional`
    /// provider (MFA) must bring it, unless the login uses a `solo` provider.
    pub(super) fn check_login_providers(
        &self,
        auth_data: Option<&Object>,
        stored: Option<&Object>,
    ) -> Result<()> {
        let Some(stored) = stored else {
            return Ok(());
        };
        let given = |p: &str| {
            auth_data
                .and_then(|a| a.get(p))
                .is_some_and(|v| !v.is_null() && v != &Value::Bool(false))
        };
        let saved: Vec<(&String, Policy)> = stored
            .iter()
            .filter_map(|(p, data)| {
                self.config
                    .auth
                    .get(p)
                    .map(|a| (p, a.policy(Some(data).filter(|d| !d.is_null()))))
            })
            .collect();
        if saved
            .iter()
            .any(|(p, pol)| *pol == Policy::Solo && given(p))
        {
            return Ok(());
        }
        let additional: Vec<&str> = saved
            .iter()
            .filter(|(_, pol)| *pol == Policy::Additional)
            .map(|(p, _)| p.as_str())
            .collect();
        if additional.is_empty() || additional.iter().any(|p| given(p)) {
            return Ok(());
        }
        Err(Error::new(
            code::OTHER_CAUSE,
            format!("Missing additional authData {}", additional.join(",")),
        ))
    }

    /// Parse's `ensureUniqueAuthDataId`: no other user may have one of these provider ids.
    async fn ensure_unique_auth_data(
        &self,
        ctx: &Ctx,
        auth_data: &Object,
        user_id: Option<&str>,
    ) -> Result<()> {
        let has_id = auth_data.values().any(|d| d.get("id").is_some_and(truthy));
        if !has_id {
            return Ok(());
        }
        let mut copy = auth_data.clone();
        let found = self
            .users_with_auth_data(ctx, &mut copy, false, None)
            .await?;
        if found.len() > 1 || found.first().is_some_and(|u| Some(object_id(u)) != user_id) {
            return Err(already_used());
        }
        Ok(())
    }

    /// A user as stored, read as the master.
    pub(super) async fn stored_user(&self, ctx: &Ctx, id: &str) -> Result<Option<Object>> {
        let Some(users) = self.schema("_User") else {
            return Ok(None);
        };
        let mut q = StoreQuery::filter(Filter::object_id(id));
        q.limit = Some(1);
        Ok(self.store.find(&users, &q, ctx.tx).await?.pop())
    }

    /// Writes validated `authData` onto a user (provider by provider, with Parse's optimistic
    /// lock); a lost race answers 141 "Invalid auth data", a taken id 208.
    async fn store_auth_data(&self, ctx: &Ctx, user: &Object, validated: &Object) -> Result<()> {
        if validated.is_empty() {
            return Ok(());
        }
        let users = self
            .schema("_User")
            .ok_or_else(|| Error::internal("no _User class"))?;
        let filter = optimistic_lock(
            Filter::object_id(object_id(user)),
            stored_auth_data(user),
            validated,
        );
        let updated = self
            .store_update(ctx, &users, &filter, &auth_data_updates(validated))
            .await
            .map_err(|e| match e.code() {
                Some(code::DUPLICATE_VALUE) => already_used(),
                _ => e,
            })?;
        if updated.is_none() {
            return Err(Error::new(code::SCRIPT_FAILED, "Invalid auth data"));
        }
        self.forget_sessions(|s| s.user_id == object_id(user));
        Ok(())
    }

    /// `POST /users` with `authData` (Parse's `handleAuthData` for a create): logs in the
    /// account the data names, or signs up a new one.
    pub(super) async fn signup_with_auth_data(
        &self,
        ctx: &Ctx,
        mut body: Object,
        mut auth_data: Object,
    ) -> Result<super::WriteResult> {
        let found = self
            .users_with_auth_data(ctx, &mut auth_data, true, None)
            .await?;
        let caller = ctx.auth.user_id().map(str::to_string);
        let other = match (&caller, found.first()) {
            (Some(me), Some(u)) => object_id(u) != me,
            _ => false,
        };
        if found.len() > 1 || other {
            // Validated first, so that a bare id cannot probe which accounts exist.
            let logged_in = ctx.auth.master;
            self.validate_auth_data(ctx, &auth_data, found.first(), logged_in)
                .await?;
            return Err(already_used());
        }
        let Some(user) = found.into_iter().next() else {
            // A new account (or, with a session, the caller's own data on a new account).
            let current = match &caller {
                Some(id) => self.stored_user(ctx, id).await?,
                None => None,
            };
            let v = self
                .validate_auth_data(ctx, &auth_data, current.as_ref(), current.is_some())
                .await?;
            let kept: Object = v
                .auth_data
                .into_iter()
                .filter(|(_, d)| !d.is_null())
                .collect();
            self.ensure_unique_auth_data(ctx, &kept, None).await?;
            let provider = kept.keys().cloned().collect::<Vec<_>>().join(",");
            body.insert("authData".into(), Value::Object(kept));
            let (username, generated) = match body.remove("username") {
                Some(Value::String(u)) if !u.is_empty() => (u, false),
                _ => (crate::types::random_string(25), true),
            };
            let mut result = self.create_user(ctx, body, &username, &provider).await?;
            if generated {
                result
                    .body
                    .insert("username".into(), Value::String(username));
            }
            if !v.response.is_empty() {
                result
                    .body
                    .insert("authDataResponse".into(), Value::Object(v.response));
            }
            return Ok(result);
        };
        // An existing account: a login.
        let uid = object_id(&user).to_string();
        let stored = stored_auth_data(&user).cloned();
        let mutated = mutated_auth_data(&auth_data, stored.as_ref());
        let own_or_master = caller.as_deref() == Some(uid.as_str()) || ctx.auth.master;
        let users = self
            .schema("_User")
            .ok_or_else(|| Error::internal("no _User class"))?;
        self.object_trigger(ctx, &users, Trigger::BeforeLogin, &user)
            .await?;
        self.check_login_providers(Some(&auth_data), stored.as_ref())?;
        let mut response = Object::new();
        if !(mutated.is_empty() && own_or_master) {
            let is_login = caller.is_none();
            let v = self
                .validate_auth_data(
                    ctx,
                    if is_login { &auth_data } else { &mutated },
                    Some(&user),
                    own_or_master,
                )
                .await?;
            self.store_auth_data(ctx, &user, &v.auth_data).await?;
            response = v.response;
        }
        let provider = auth_data.keys().cloned().collect::<Vec<_>>().join(",");
        let token = self.create_session(ctx, &uid, "login", &provider).await?;
        let mut shown = user.clone();
        if !mutated.is_empty() {
            let mut ad = stored.unwrap_or_default();
            for (p, d) in mutated {
                ad.insert(p, d);
            }
            shown.insert("authData".into(), Value::Object(ad));
        }
        self.object_trigger(ctx, &users, Trigger::AfterLogin, &shown)
            .await?;
        let mut out = output::to_client(&users, shown, &crate::auth::Auth::master(), &self.config);
        if !ctx.auth.master {
            if let Some(ad) = out.get_mut("authData") {
                self.config.auth.after_find(ad, false);
            }
        }
        out.insert("sessionToken".into(), Value::String(token));
        if !response.is_empty() {
            out.insert("authDataResponse".into(), Value::Object(response));
        }
        Ok(super::WriteResult {
            body: out,
            created_id: None,
        })
    }

    /// `PUT /users/:id` with `authData` (Parse's `handleAuthData` for an update): links new
    /// providers, unlinks those set to `null`, re-validates changed ones. Returns the store
    /// updates and the `authDataResponse`.
    pub(super) async fn update_auth_data(
        &self,
        ctx: &Ctx,
        id: &str,
        mut auth_data: Object,
    ) -> Result<(Updates, Object)> {
        if auth_data.is_empty() {
            return Ok((Vec::new(), Object::new()));
        }
        let current = self.stored_user(ctx, id).await?;
        let current_ad = current.as_ref().and_then(stored_auth_data).cloned();
        let found = self
            .users_with_auth_data(ctx, &mut auth_data, true, current_ad.as_ref())
            .await?;
        if found.len() > 1 || found.first().is_some_and(|u| object_id(u) != id) {
            self.validate_auth_data(ctx, &auth_data, found.first(), ctx.auth.master)
                .await?;
            return Err(already_used());
        }
        let v = match found.first() {
            None => {
                self.validate_auth_data(ctx, &auth_data, current.as_ref(), current.is_some())
                    .await?
            }
            Some(user) => {
                let mutated = mutated_auth_data(&auth_data, stored_auth_data(user));
                if mutated.is_empty() {
                    return Ok((Vec::new(), Object::new()));
                }
                self.validate_auth_data(ctx, &mutated, Some(user), true)
                    .await?
            }
        };
        self.ensure_unique_auth_data(ctx, &v.auth_data, Some(id))
            .await?;
        Ok((auth_data_updates(&v.auth_data), v.response))
    }

    /// The `authData` of a password login (`POST /login` with `authData`, e.g. the MFA token):
    /// the user's second factor is required and checked, and what it changes is stored.
    /// Returns the `authDataResponse`.
    pub(super) async fn login_auth_data(
        &self,
        ctx: &Ctx,
        user: &Object,
        auth_data: Option<&Object>,
    ) -> Result<Object> {
        self.check_login_providers(auth_data, stored_auth_data(user))?;
        let Some(auth_data) = auth_data else {
            return Ok(Object::new());
        };
        let logged_in = ctx.auth.master || ctx.auth.user_id() == Some(object_id(user));
        let v = self
            .validate_auth_data(ctx, auth_data, Some(user), logged_in)
            .await?;
        self.store_auth_data(ctx, user, &v.auth_data).await?;
        Ok(v.response)
    }

    /// `POST /challenge` (Parse's `handleChallenge`): identifies the user by username/email and
    /// password or by `authData`, then runs each adapter's challenge. None of the adapters here
    /// has a challenge step, so the answer is `{"challengeData": {}}` once the user is known.
    pub async fn challenge(&self, ctx: &Ctx, body: &Object) -> Result<Object> {
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let (username, email, password) = (s("username"), s("email"), s("password"));
        let mut by_password = false;
        if username.is_some() || email.is_some() {
            if password.is_none() {
                return Err(Error::new(
                    code::OTHER_CAUSE,
                    "You provided username or email, you need to also provide password.",
                ));
            }
            self.check_credentials(ctx, username, email, password)
                .await?;
            by_password = true;
        }
        let challenge = match body.get("challengeData") {
            None | Some(Value::Null) => {
                return Err(Error::new(code::OTHER_CAUSE, "Nothing to challenge."))
            }
            Some(Value::Object(o)) => o,
            Some(_) => {
                return Err(Error::new(
                    code::OTHER_CAUSE,
                    "challengeData should be an object.",
                ))
            }
        };
        match body.get("authData") {
            None | Some(Value::Null) => {}
            Some(Value::Object(ad)) => {
                if by_password {
                    return Err(Error::new(
                        code::OTHER_CAUSE,
                        "You cannot provide username/email and authData, only use one identification method.",
                    ));
                }
                for (k, v) in ad {
                    if !v.is_null() && !v.is_object() {
                        return Err(Error::new(
                            code::OTHER_CAUSE,
                            format!("authData.{k} should be an object."),
                        ));
                    }
                }
                if ad
                    .values()
                    .filter(|v| v.get("id").is_some_and(truthy))
                    .count()
                    > 1
                {
                    return Err(Error::new(
                        code::OTHER_CAUSE,
                        "You cannot provide more than one authData provider with an id.",
                    ));
                }
                let not_found = || Error::new(code::OBJECT_NOT_FOUND, "User not found.");
                let mut ad = ad.clone();
                let found = self
                    .users_with_auth_data(ctx, &mut ad, false, None)
                    .await
                    .map_err(|_| not_found())?;
                let [user] = found.as_slice() else {
                    return Err(not_found());
                };
                // The data that names the user is validated, so that ids cannot be guessed.
                let Some((provider, data)) =
                    ad.iter().find(|(_, v)| v.get("id").is_some_and(truthy))
                else {
                    return Err(not_found());
                };
                let adapter = self.config.auth.get(provider).ok_or_else(not_found)?;
                let step = if stored_auth_data(user).is_some_and(|s| s.contains_key(provider)) {
                    Step::Login
                } else {
                    Step::SetUp
                };
                let req = AuthRequest {
                    master: ctx.auth.master,
                    stored: stored_auth_data(user),
                };
                adapter
                    .validate(step, data, req)
                    .await
                    .map_err(|_| not_found())?;
            }
            Some(_) => {
                return Err(Error::new(
                    code::OTHER_CAUSE,
                    "authData should be an object.",
                ))
            }
        }
        // No adapter here has a challenge step (Parse's MFA adapter has none either).
        let _ = challenge;
        let mut out = Object::new();
        out.insert("challengeData".into(), Value::Object(Object::new()));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn echoed_data_is_not_a_change() {
        let stored =
            obj(json!({"github": {"id": "1", "access_token": "t"}, "mfa": {"secret": "s"}}));
        let echo = obj(json!({"github": {"id": "1"}}));
        assert!(mutated_auth_data(&echo, Some(&stored)).is_empty());
        let changed = obj(json!({"github": {"id": "1", "access_token": "u"}, "mfa": null}));
        let m = mutated_auth_data(&changed, Some(&stored));
        assert_eq!(m.len(), 2);
        let new = obj(json!({"apple": {"id": "a"}}));
        assert_eq!(mutated_auth_data(&new, Some(&stored)).len(), 1);
    }

    #[test]
    fn updates_are_per_provider() {
        let ups = auth_data_updates(&obj(json!({"apple": {"id": "a"}, "anonymous": null})));
        assert_eq!(ups.len(), 2);
        assert!(ups
            .iter()
            .any(|(k, op)| k == "authData.anonymous" && matches!(op, UpdateOp::Delete)));
    }

    #[test]
    fn lock_on_changed_primitives_and_arrays() {
        let original = obj(json!({"mfa": {"secret": "S", "recovery": ["a", "b"]}}));
        let new = obj(json!({"mfa": {"secret": "S", "recovery": ["b"]}}));
        let f = optimistic_lock(Filter::True, Some(&original), &new);
        assert!(matches!(f, Filter::Field { ref path, .. } if path == "authData.mfa.recovery"));
    }
}
