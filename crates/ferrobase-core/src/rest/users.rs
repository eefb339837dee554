//! Users: signup, login, logout, `/users/me`, and the rules for changing a user.

use super::write::{body_object, new_object, Prepared, WriteResult};
use super::{clp, output, Core, Ctx};
use crate::error::{code, Error, Result};
use crate::hooks::Trigger;
use crate::query::{Cond, Filter, Scalar, StoreQuery};
use crate::types::{date_value, iso, new_session_token, now_iso, pointer_value, Object};
use crate::update::UpdateOp;
use serde_json::{json, Value};

fn email_is_valid(email: &str) -> bool {
    let mut parts = email.splitn(2, '@');
    let (Some(local), Some(domain)) = (parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.contains(char::is_whitespace)
}

pub(super) async fn hash_password(password: String, cost: u32) -> Result<String> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

impl Core {
    async fn user_exists(
        &self,
        ctx: &Ctx,
        field: &str,
        value: &str,
        except: Option<&str>,
    ) -> Result<bool> {
        let Some(users) = self.schema("_User") else {
            return Ok(false);
        };
        let mut f = Filter::Field {
            path: field.into(),
            cond: Cond::EqIgnoreCase(value.to_string()),
        };
        if let Some(id) = except {
            f = f.and(Filter::Field {
                path: "objectId".into(),
                cond: Cond::Ne(Scalar::String(id.into())),
            });
        }
        Ok(self.store.count(&users, &f, ctx.tx).await? > 0)
    }

    async fn check_unique_identity(
        &self,
        ctx: &Ctx,
        username: Option<&str>,
        email: Option<&str>,
        except: Option<&str>,
    ) -> Result<()> {
        if let Some(u) = username {
            if self.user_exists(ctx, "username", u, except).await? {
                return Err(Error::new(
                    code::USERNAME_TAKEN,
                    "Account already exists for this username.",
                ));
            }
        }
        if let Some(e) = email {
            if !email_is_valid(e) {
                return Err(Error::new(
                    code::INVALID_EMAIL_ADDRESS,
                    "Email address format is invalid.",
                ));
            }
            if self.user_exists(ctx, "email", e, except).await? {
                return Err(Error::new(
                    code::EMAIL_TAKEN,
                    "Account already exists for this email address.",
                ));
            }
        }
        Ok(())
    }

    pub(super) async fn signup(&self, ctx: &Ctx, body: Object) -> Result<WriteResult> {
        let has_password = matches!(body.get("password"), Some(Value::String(s)) if !s.is_empty());
        // Parse's validateAuthData: `authData` with some provider's data signs up or logs in.
        match body.get("authData") {
            Some(Value::Null) => return Err(crate::auth_data::unsupported()),
            Some(Value::Object(ad))
                if ad
                    .values()
                    .any(|d| d.as_object().is_some_and(|o| !o.is_empty())) =>
            {
                let ad = ad.clone();
                return self.signup_with_auth_data(ctx, body, ad).await;
            }
            _ => {}
        }
        let username = body
            .get("username")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let Some(username) = username else {
            return Err(Error::new(
                code::USERNAME_MISSING,
                "bad or missing username",
            ));
        };
        if !has_password {
            return Err(Error::new(code::PASSWORD_MISSING, "password is required"));
        }
        let mut body = body;
        if let Some(Value::Object(ad)) = body.get("authData") {
            if !ad.is_empty() {
                // Providers named without data, beside a username and password: still validated.
                let v = self.validate_auth_data(ctx, ad, None, false).await?;
                let kept: Object = v
                    .auth_data
                    .into_iter()
                    .filter(|(_, d)| !d.is_null())
                    .collect();
                body.insert("authData".into(), Value::Object(kept));
            }
        }
        self.create_user(ctx, body, &username, "password").await
    }

    /// Validates and creates a new user (password hashed, private ACL) and opens its first session.
    pub(super) async fn create_user(
        &self,
        ctx: &Ctx,
        body: Object,
        username: &str,
        provider: &str,
    ) -> Result<WriteResult> {
        let email = match body.get("email") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(Error::new(
                    code::INVALID_EMAIL_ADDRESS,
                    "Email address format is invalid.",
                ))
            }
        };
        let existing = self.schema("_User");
        if let Some(s) = &existing {
            clp::check_full(s, "create", &ctx.auth)?;
        }
        let prep = self.prepare("_User", existing.as_deref(), body, true, None)?;
        if let Some(pw) = &prep.password {
            self.check_password_policy(pw, Some(username))?;
        }
        self.check_unique_identity(ctx, Some(username), email.as_deref(), None)
            .await?;
        let email_check = match (&email, self.verifies_emails()) {
            (Some(e), true) => Some((e.clone(), self.verification_fields())),
            _ => None,
        };
        let hash = match prep.password.clone() {
            Some(pw) => Some(hash_password(pw, self.config.bcrypt_cost).await?),
            None => None,
        };
        let schema = self.writable_schema(ctx, "_User", &prep.new_fields).await?;
        let (mut obj, echo) = new_object(&prep)?;
        let id = obj
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        obj.insert("username".into(), Value::String(username.to_string()));
        if let Some(h) = hash {
            obj.insert("_hashed_password".into(), Value::String(h));
        }
        if let Some((_, (ups, _))) = &email_check {
            crate::update::apply(&mut obj, ups)?;
        }
        if prep.acl.is_none() {
            // Parse 9 (`enforcePrivateUsers`): a new user is readable and writable by themself only.
            let acl = json!({ id.clone(): {"read": true, "write": true} });
            for (k, op) in super::write::acl_updates(&acl)? {
                if let UpdateOp::Set(v) = op {
                    obj.insert(k, v);
                }
            }
        }
        let mut result = self
            .insert_with_relations(ctx, &schema, obj, &prep.updates, echo)
            .await
            .map_err(|e| match e.code() {
                Some(code::DUPLICATE_VALUE) => Error::new(
                    code::USERNAME_TAKEN,
                    "Account already exists for this username.",
                ),
                _ => e,
            })?;
        if let Some((address, (_, token))) = &email_check {
            self.send_verification(address, username, token).await;
        }
        if self.login_blocked_until_verified(email_check.is_some()) {
            return Ok(result);
        }
        let token = self.create_session(ctx, &id, "signup", provider).await?;
        result
            .body
            .insert("sessionToken".into(), Value::String(token));
        Ok(result)
    }

    /// Parse's `passwordPolicy`: error 142 for a password the policy refuses.
    pub(super) fn check_password_policy(
        &self,
        password: &str,
        username: Option<&str>,
    ) -> Result<()> {
        let policy = &self.config.password_policy;
        let refused = policy
            .validator_pattern
            .as_ref()
            .is_some_and(|re| !re.is_match(password).unwrap_or(false))
            || (policy.do_not_allow_username
                && username.is_some_and(|u| {
                    !u.is_empty() && password.to_lowercase().contains(&u.to_lowercase())
                }));
        if refused {
            let msg = policy.validation_error.clone().unwrap_or_else(|| {
                "Password does not meet the Password Policy requirements.".into()
            });
            return Err(Error::new(code::VALIDATION_ERROR, msg));
        }
        Ok(())
    }

    /// Creates a `_Session` for a user and returns its token.
    pub(super) async fn create_session(
        &self,
        ctx: &Ctx,
        user_id: &str,
        action: &str,
        provider: &str,
    ) -> Result<String> {
        self.create_session_with(
            ctx,
            user_id,
            json!({"action": action, "authProvider": provider}),
        )
        .await
    }

    /// Creates a `_Session` with the given `createdWith` and returns its token.
    pub(super) async fn create_session_with(
        &self,
        ctx: &Ctx,
        user_id: &str,
        created_with: Value,
    ) -> Result<String> {
        let sessions = self
            .writable_schema(&ctx.as_master(), "_Session", &[])
            .await?;
        if let Some(inst) = &ctx.auth.installation_id {
            // As Parse Server: one session per user and installation.
            let f = Filter::eq(
                "user",
                Scalar::Pointer {
                    class: "_User".into(),
                    id: user_id.into(),
                },
            )
            .and(Filter::eq("installationId", Scalar::String(inst.clone())));
            if self.store_delete(ctx, &sessions, &f).await? > 0 {
                let uid = user_id.to_string();
                self.forget_sessions(|s| s.user_id == uid);
            }
        }
        let token = new_session_token();
        let now = now_iso();
        let expires =
            chrono::Utc::now() + chrono::Duration::seconds(self.config.session_length_secs);
        let mut s = Object::new();
        s.insert(
            "objectId".into(),
            Value::String(crate::types::new_object_id()),
        );
        s.insert("createdAt".into(), Value::String(now.clone()));
        s.insert("updatedAt".into(), Value::String(now));
        s.insert("sessionToken".into(), Value::String(token.clone()));
        s.insert("user".into(), pointer_value("_User", user_id));
        s.insert("createdWith".into(), created_with);
        if self.config.expire_inactive_sessions {
            s.insert("expiresAt".into(), date_value(&iso(expires)));
        }
        if let Some(inst) = &ctx.auth.installation_id {
            s.insert("installationId".into(), Value::String(inst.clone()));
        }
        // No ACL, as Parse Server: sessions are reachable only through their user (the core adds
        // `user = caller` to every non-master read and write of `_Session`).
        self.store_insert(ctx, &sessions, s).await?;
        Ok(token)
    }

    pub(super) async fn delete_sessions_of(&self, ctx: &Ctx, user_id: &str) -> Result<()> {
        if let Some(sessions) = self.schema("_Session") {
            let f = Filter::eq(
                "user",
                Scalar::Pointer {
                    class: "_User".into(),
                    id: user_id.into(),
                },
            );
            self.store_delete(ctx, &sessions, &f).await?;
        }
        Ok(())
    }

    /// `POST /login` / `GET /login`: checks the password and opens a new session.
    pub async fn login(
        &self,
        ctx: &Ctx,
        username: Option<&str>,
        email: Option<&str>,
        password: Option<&str>,
    ) -> Result<Object> {
        self.login_with_auth_data(ctx, username, email, password, None)
            .await
    }

    /// `POST /login`, with the `authData` a user's second factor needs (`{"mfa": {"token": …}}`).
    pub async fn login_with_auth_data(
        &self,
        ctx: &Ctx,
        username: Option<&str>,
        email: Option<&str>,
        password: Option<&str>,
        auth_data: Option<&Object>,
    ) -> Result<Object> {
        let (users, user, id) = self
            .check_credentials(ctx, username, email, password)
            .await?;
        let auth_response = self.login_auth_data(ctx, &user, auth_data).await?;
        let user = match auth_data {
            Some(ad) if !ad.is_empty() => self.stored_user(ctx, &id).await?.unwrap_or(user),
            _ => user,
        };
        self.object_trigger(ctx, &users, Trigger::BeforeLogin, &user)
            .await?;
        let token = self.create_session(ctx, &id, "login", "password").await?;
        self.object_trigger(ctx, &users, Trigger::AfterLogin, &user)
            .await?;
        let mut out = output::to_client(&users, user, &crate::auth::Auth::master(), &self.config);
        if !ctx.auth.master {
            if let Some(ad) = out.get_mut("authData") {
                self.config.auth.after_find(ad, false);
            }
        }
        out.insert("sessionToken".into(), Value::String(token));
        if !auth_response.is_empty() {
            out.insert("authDataResponse".into(), Value::Object(auth_response));
        }
        Ok(out)
    }

    /// Parse's `_authenticateUserFromRequest`: the user these credentials name, with the
    /// lockout and email-verification rules of a login (the `_User` schema, the stored user, its id).
    pub(super) async fn check_credentials(
        &self,
        ctx: &Ctx,
        username: Option<&str>,
        email: Option<&str>,
        password: Option<&str>,
    ) -> Result<(std::sync::Arc<crate::schema::ClassSchema>, Object, String)> {
        let ident = username
            .filter(|s| !s.is_empty())
            .or(email.filter(|s| !s.is_empty()));
        let Some(ident) = ident else {
            return Err(Error::new(
                code::USERNAME_MISSING,
                "username/email is required.",
            ));
        };
        let Some(password) = password.filter(|s| !s.is_empty()) else {
            return Err(Error::new(code::PASSWORD_MISSING, "password is required."));
        };
        let bad = || Error::new(code::OBJECT_NOT_FOUND, "Invalid username/password.");
        let users = self.schema("_User").ok_or_else(bad)?;
        let mut found = None;
        for field in ["username", "email"] {
            let value = match (field, username, email) {
                ("username", Some(u), _) if !u.is_empty() => u,
                ("email", _, Some(e)) if !e.is_empty() => e,
                ("email", Some(u), _) => u,
                _ => continue,
            };
            let mut q = StoreQuery::filter(Filter::eq(field, Scalar::String(value.to_string())));
            q.limit = Some(1);
            if let Some(u) = self.store.find(&users, &q, ctx.tx).await?.pop() {
                found = Some(u);
                break;
            }
        }
        let user = found.ok_or_else(bad)?;
        let _ = ident;
        if self.login_blocked_until_verified(user.get("emailVerified") == Some(&Value::Bool(false)))
        {
            return Err(Error::new(
                code::EMAIL_NOT_FOUND,
                "User email is not verified.",
            ));
        }
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        self.check_lockout(&user)?;
        let hash = user
            .get("_hashed_password")
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_string();
        if !verify_password(password.to_string(), hash).await {
            self.record_failed_login(ctx, &users, &id).await?;
            return Err(bad());
        }
        if user.contains_key("_failed_login_count")
            || user.contains_key("_account_lockout_expires_at")
        {
            let reset: crate::update::Updates = vec![
                ("_failed_login_count".into(), UpdateOp::Delete),
                ("_account_lockout_expires_at".into(), UpdateOp::Delete),
            ];
            self.store_update(ctx, &users, &Filter::object_id(&id), &reset)
                .await?;
        }
        Ok((users, user, id))
    }

    /// `preventLoginWithUnverifiedEmail`: no session until the address is verified.
    fn login_blocked_until_verified(&self, unverified: bool) -> bool {
        unverified
            && self.verifies_emails()
            && self
                .config
                .email
                .as_ref()
                .is_some_and(|e| e.prevent_login_with_unverified_email)
    }

    /// Parse's `accountLockout`: a locked account cannot log in, even with the right password.
    fn check_lockout(&self, user: &Object) -> Result<()> {
        let Some(lock) = self.config.account_lockout else {
            return Ok(());
        };
        let until = user
            .get("_account_lockout_expires_at")
            .and_then(Value::as_str)
            .and_then(crate::types::parse_iso);
        if until.is_some_and(|t| t > chrono::Utc::now()) {
            return Err(Error::new(
                code::OBJECT_NOT_FOUND,
                format!(
                    "Your account is locked due to multiple failed login attempts. Please try again after {} minute(s)",
                    lock.duration_minutes
                ),
            ));
        }
        Ok(())
    }

    /// Counts a failed login; at the threshold the account is locked for the configured time.
    async fn record_failed_login(
        &self,
        ctx: &Ctx,
        users: &crate::schema::ClassSchema,
        id: &str,
    ) -> Result<()> {
        let Some(lock) = self.config.account_lockout else {
            return Ok(());
        };
        let inc: crate::update::Updates =
            vec![("_failed_login_count".into(), UpdateOp::Increment(1.into()))];
        let Some(updated) = self
            .store_update(ctx, users, &Filter::object_id(id), &inc)
            .await?
        else {
            return Ok(());
        };
        let count = updated
            .after
            .get("_failed_login_count")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if count >= u64::from(lock.threshold) {
            let until =
                chrono::Utc::now() + chrono::Duration::minutes(i64::from(lock.duration_minutes));
            let set: crate::update::Updates = vec![
                ("_failed_login_count".into(), UpdateOp::Delete),
                (
                    "_account_lockout_expires_at".into(),
                    UpdateOp::Set(Value::String(iso(until))),
                ),
            ];
            self.store_update(ctx, users, &Filter::object_id(id), &set)
                .await?;
        }
        Ok(())
    }

    /// `POST /logout`: ends the caller's session.
    pub async fn logout(&self, ctx: &Ctx) -> Result<()> {
        let Some(u) = &ctx.auth.user else {
            return Ok(());
        };
        if let Some(sessions) = self.schema("_Session") {
            let f = Filter::eq("sessionToken", Scalar::String(u.session_token.clone()));
            let ended = if self.has_hook("_Session", Trigger::AfterLogout) {
                let mut q = StoreQuery::filter(f.clone());
                q.limit = Some(1);
                self.store.find(&sessions, &q, ctx.tx).await?.pop()
            } else {
                None
            };
            self.store_delete(ctx, &sessions, &f).await?;
            if let Some(session) = ended {
                self.object_trigger(ctx, &sessions, Trigger::AfterLogout, &session)
                    .await?;
            }
        }
        let token = u.session_token.clone();
        self.forget_sessions(|s| s.session_token == token);
        Ok(())
    }

    /// `GET /users/me`: the caller's user with their session token.
    pub async fn me(&self, ctx: &Ctx) -> Result<Object> {
        let u =
            ctx.auth.user.as_ref().ok_or_else(|| {
                Error::new(code::INVALID_SESSION_TOKEN, "Session token required.")
            })?;
        let users = self.schema("_User").ok_or_else(Error::invalid_session)?;
        let mut q = StoreQuery::filter(Filter::object_id(&u.user_id));
        q.limit = Some(1);
        let user = self
            .store
            .find(&users, &q, ctx.tx)
            .await?
            .pop()
            .ok_or_else(Error::invalid_session)?;
        let mut out = output::to_client(&users, user, &ctx.auth, &self.config);
        out.insert(
            "sessionToken".into(),
            Value::String(u.session_token.clone()),
        );
        Ok(out)
    }

    /// Rules for `PUT /users/:id`: only the user themself (or the master key); unique
    /// username/email; a new password is hashed.
    pub(super) async fn prepare_user_update(
        &self,
        ctx: &Ctx,
        id: &str,
        prep: &mut Prepared,
        extra: &mut Object,
    ) -> Result<()> {
        if !ctx.auth.master && ctx.auth.user_id() != Some(id) {
            return Err(Error::new(code::SESSION_MISSING, "Permission denied"));
        }
        if let Some(pos) = prep.updates.iter().position(|(k, _)| k == "authData") {
            // Linking and unlinking (Parse's handleAuthData for an update), provider by provider.
            let (_, op) = prep.updates.remove(pos);
            let UpdateOp::Set(Value::Object(ad)) = op else {
                return Err(crate::auth_data::unsupported());
            };
            let (ups, response) = self.update_auth_data(ctx, id, ad).await?;
            prep.updates.extend(ups);
            if !response.is_empty() {
                extra.insert("authDataResponse".into(), Value::Object(response));
            }
        }
        let mut username = None;
        let mut email = None;
        for (k, op) in &prep.updates {
            match (k.as_str(), op) {
                ("username", UpdateOp::Set(Value::String(s))) if !s.is_empty() => {
                    username = Some(s.clone())
                }
                ("username", _) => {
                    return Err(Error::new(
                        code::USERNAME_MISSING,
                        "bad or missing username",
                    ))
                }
                ("email", UpdateOp::Set(Value::String(s))) => email = Some(s.clone()),
                _ => {}
            }
        }
        self.check_unique_identity(ctx, username.as_deref(), email.as_deref(), Some(id))
            .await?;
        if let (Some(address), true) = (&email, self.verifies_emails()) {
            let (ups, token) = self.verification_fields();
            prep.updates.extend(ups);
            extra.insert("verifyEmail".into(), serde_json::json!([address, token]));
        }
        if let Some(pw) = prep.password.take() {
            let name = match &username {
                Some(u) => Some(u.clone()),
                None => self.stored_username(ctx, id).await?,
            };
            self.check_password_policy(&pw, name.as_deref())?;
            let hash = hash_password(pw, self.config.bcrypt_cost).await?;
            prep.updates.push((
                "_hashed_password".into(),
                UpdateOp::Set(Value::String(hash)),
            ));
            extra.insert("passwordChanged".into(), Value::Bool(true));
        }
        Ok(())
    }

    async fn stored_username(&self, ctx: &Ctx, id: &str) -> Result<Option<String>> {
        let Some(users) = self.schema("_User") else {
            return Ok(None);
        };
        let mut q = StoreQuery::filter(Filter::object_id(id));
        q.limit = Some(1);
        Ok(self
            .store
            .find(&users, &q, ctx.tx)
            .await?
            .pop()
            .and_then(|u| {
                u.get("username")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            }))
    }

    /// After a password change every session of the user ends; the user gets a new one.
    pub(super) async fn after_user_update(
        &self,
        ctx: &Ctx,
        id: &str,
        body: &mut Object,
        extra: Object,
    ) -> Result<()> {
        if let Some([address, token]) = extra
            .get("verifyEmail")
            .and_then(Value::as_array)
            .map(|a| [a.first(), a.get(1)])
        {
            if let (Some(a), Some(t)) = (
                address.and_then(Value::as_str),
                token.and_then(Value::as_str),
            ) {
                let name = self.stored_username(ctx, id).await?.unwrap_or_default();
                self.send_verification(a, &name, t).await;
            }
        }
        if let Some(r) = extra.get("authDataResponse") {
            body.insert("authDataResponse".into(), r.clone());
        }
        if extra.contains_key("passwordChanged") {
            self.delete_sessions_of(ctx, id).await?;
            self.forget_sessions(|u| u.user_id == id);
            if ctx.auth.user_id() == Some(id) {
                let token = self.create_session(ctx, id, "login", "password").await?;
                body.insert("sessionToken".into(), Value::String(token));
            }
        } else {
            self.forget_sessions(|u| u.user_id == id);
        }
        Ok(())
    }

    /// Body helper for handlers that accept a user body.
    pub fn user_body(body: Value) -> Result<Object> {
        body_object(body)
    }
}

#[cfg(test)]
mod tests {
    use super::email_is_valid;

    /// Hashes made by Parse Server's own libraries (`@node-rs/bcrypt` and `bcryptjs`, cost 10)
    /// verify here, so users imported from a Parse database log in unchanged.
    #[test]
    fn parse_server_hashes_verify() {
        for hash in [
            "$2y$10$GmPWYQ7RUOmR5nNvncLz9eI..0DIm0EMTqLiYIXXewQ7xaW1/FjEe",
            "$2b$10$M392xSsiAXFnDhcipuUktuKfW3/jWpTU.EJ16XxbnCNDaePVI5L.O",
        ] {
            assert!(
                bcrypt::verify("parse-password", hash).unwrap_or(false),
                "{hash}"
            );
            assert!(!bcrypt::verify("wrong", hash).unwrap_or(true), "{hash}");
        }
        let ours = bcrypt::hash("x", 10).unwrap_or_default();
        assert!(
            ours.starts_with("$2b$10$"),
            "Parse's format and cost: {ours}"
        );
    }

    #[test]
    fn emails() {
        assert!(email_is_valid("a@b.co"));
        assert!(!email_is_valid("a@b"));
        assert!(!email_is_valid("@b.co"));
        assert!(!email_is_valid("a b@c.de"));
    }
}
