//! Users: signup, login, logout, `/users/me`, and the rules for changing a user.

use super::write::{body_object, new_object, Prepared, WriteResult};
use super::{clp, output, Core, Ctx};
use crate::error::{code, Error, Result};
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

async fn hash_password(password: String, cost: u32) -> Result<String> {
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
        if !matches!(body.get("password"), Some(Value::String(s)) if !s.is_empty()) {
            return Err(Error::new(code::PASSWORD_MISSING, "password is required"));
        }
        let existing = self.schema("_User");
        if let Some(s) = &existing {
            clp::check(s, "create", &ctx.auth)?;
        }
        let prep = self.prepare("_User", existing.as_deref(), body, true, None)?;
        self.check_unique_identity(ctx, Some(&username), email.as_deref(), None)
            .await?;
        let password = prep
            .password
            .clone()
            .ok_or_else(|| Error::new(code::PASSWORD_MISSING, "password is required"))?;
        let hash = hash_password(password, self.config.bcrypt_cost).await?;
        let schema = self.writable_schema(ctx, "_User", &prep.new_fields).await?;
        let (mut obj, echo) = new_object(&prep)?;
        let id = obj
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        obj.insert("_hashed_password".into(), Value::String(hash));
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
        let token = self.create_session(ctx, &id, "signup").await?;
        result
            .body
            .insert("sessionToken".into(), Value::String(token));
        Ok(result)
    }

    /// Creates a `_Session` for a user and returns its token.
    pub(super) async fn create_session(
        &self,
        ctx: &Ctx,
        user_id: &str,
        action: &str,
    ) -> Result<String> {
        let sessions = self
            .writable_schema(
                &Ctx {
                    auth: crate::auth::Auth::master(),
                    tx: ctx.tx,
                },
                "_Session",
                &[],
            )
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
            if self.store.delete(&sessions, &f, ctx.tx).await? > 0 {
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
        s.insert(
            "createdWith".into(),
            json!({"action": action, "authProvider": "password"}),
        );
        s.insert("expiresAt".into(), date_value(&iso(expires)));
        if let Some(inst) = &ctx.auth.installation_id {
            s.insert("installationId".into(), Value::String(inst.clone()));
        }
        s.insert(
            "ACL".into(),
            json!({ user_id: {"read": true, "write": true} }),
        );
        s.insert("_rperm".into(), json!([user_id]));
        s.insert("_wperm".into(), json!([user_id]));
        self.store.insert(&sessions, s, ctx.tx).await?;
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
            self.store.delete(&sessions, &f, ctx.tx).await?;
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
        let hash = user
            .get("_hashed_password")
            .and_then(Value::as_str)
            .ok_or_else(bad)?
            .to_string();
        if !verify_password(password.to_string(), hash).await {
            return Err(bad());
        }
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let token = self.create_session(ctx, &id, "login").await?;
        let mut out = output::to_client(
            &users,
            user,
            &crate::auth::Auth::master(),
            &self.config.files_url,
        );
        out.insert("sessionToken".into(), Value::String(token));
        Ok(out)
    }

    /// `POST /logout`: ends the caller's session.
    pub async fn logout(&self, ctx: &Ctx) -> Result<()> {
        let Some(u) = &ctx.auth.user else {
            return Ok(());
        };
        if let Some(sessions) = self.schema("_Session") {
            let f = Filter::eq("sessionToken", Scalar::String(u.session_token.clone()));
            self.store.delete(&sessions, &f, ctx.tx).await?;
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
        let mut out = output::to_client(&users, user, &ctx.auth, &self.config.files_url);
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
        if let Some(pw) = prep.password.take() {
            let hash = hash_password(pw, self.config.bcrypt_cost).await?;
            prep.updates.push((
                "_hashed_password".into(),
                UpdateOp::Set(Value::String(hash)),
            ));
            extra.insert("passwordChanged".into(), Value::Bool(true));
        }
        Ok(())
    }

    /// After a password change every session of the user ends; the user gets a new one.
    pub(super) async fn after_user_update(
        &self,
        ctx: &Ctx,
        id: &str,
        body: &mut Object,
        extra: Object,
    ) -> Result<()> {
        if extra.contains_key("passwordChanged") {
            self.delete_sessions_of(ctx, id).await?;
            self.forget_sessions(|u| u.user_id == id);
            if ctx.auth.user_id() == Some(id) {
                let token = self.create_session(ctx, id, "login").await?;
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

    #[test]
    fn emails() {
        assert!(email_is_valid("a@b.co"));
        assert!(!email_is_valid("a@b"));
        assert!(!email_is_valid("@b.co"));
        assert!(!email_is_valid("a b@c.de"));
    }
}
