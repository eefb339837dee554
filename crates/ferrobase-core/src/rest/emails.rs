//! Email verification and password reset (Parse Server's UserController flows).

use super::{Core, Ctx};
use crate::error::{code, Error, Result};
use crate::query::{Filter, Scalar, StoreQuery};
use crate::types::{iso, parse_iso, random_hex, Object};
use crate::update::{UpdateOp, Updates};
use serde_json::Value;

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn not_configured() -> Error {
    Error::new(
        code::INTERNAL,
        "An appName, publicServerURL, and an email adapter (--smtp-url) are required for password reset and email verification functionality.",
    )
}

fn token_expired(user: &Object, key: &str) -> bool {
    user.get(key)
        .and_then(Value::as_str)
        .and_then(parse_iso)
        .is_some_and(|t| t < chrono::Utc::now())
}

impl Core {
    /// Whether new emails must be verified.
    pub(super) fn verifies_emails(&self) -> bool {
        self.config
            .email
            .as_ref()
            .is_some_and(|e| e.verify_user_emails)
            && self.mailer.is_some()
    }

    /// The fields a user with a new, unverified email gets (and the token to send).
    pub(super) fn verification_fields(&self) -> (Updates, String) {
        let token = random_hex(16);
        let mut ups: Updates = vec![
            ("emailVerified".into(), UpdateOp::Set(Value::Bool(false))),
            (
                "_email_verify_token".into(),
                UpdateOp::Set(Value::String(token.clone())),
            ),
        ];
        if let Some(secs) = self
            .config
            .email
            .as_ref()
            .and_then(|e| e.verify_token_validity_secs)
        {
            let until = chrono::Utc::now() + chrono::Duration::seconds(secs);
            ups.push((
                "_email_verify_token_expires_at".into(),
                UpdateOp::Set(Value::String(iso(until))),
            ));
        }
        (ups, token)
    }

    /// `<public URL>/apps/<appId>/<page>?token=…&username=…`, the link an email carries.
    fn emailed_link(
        &self,
        cfg: &crate::mailer::EmailConfig,
        page: &str,
        token: &str,
        username: &str,
    ) -> String {
        format!(
            "{}/apps/{}/{page}?token={token}&username={}",
            cfg.public_server_url,
            url_encode(&self.config.app_id),
            url_encode(username)
        )
    }

    /// Sends the verification link; failures are logged, never fail the signup (as Parse).
    pub(super) async fn send_verification(&self, email: &str, username: &str, token: &str) {
        let (Some(cfg), Some(mailer)) = (&self.config.email, &self.mailer) else {
            return;
        };
        let link = self.emailed_link(cfg, "verify_email", token, username);
        let text = format!(
            "Hi,\n\nYou are being asked to confirm the e-mail address {email} with {}\n\nClick here to confirm it:\n{link}",
            cfg.app_name
        );
        let subject = format!("Please verify your e-mail for {}", cfg.app_name);
        if let Err(e) = mailer.send(email, &subject, &text).await {
            tracing::warn!(error = %e, "could not send the verification email");
        }
    }

    async fn user_by(&self, ctx: &Ctx, field: &str, value: &str) -> Result<Option<Object>> {
        let Some(users) = self.schema("_User") else {
            return Ok(None);
        };
        let mut q = StoreQuery::filter(Filter::eq(field, Scalar::String(value.to_string())));
        q.limit = Some(1);
        Ok(self.store.find(&users, &q, ctx.tx).await?.pop())
    }

    async fn update_user(&self, ctx: &Ctx, id: &str, ups: &Updates) -> Result<()> {
        let users = self.schema("_User").ok_or_else(Error::not_found)?;
        self.store_update(ctx, &users, &Filter::object_id(id), ups)
            .await?;
        Ok(())
    }

    /// `POST /verificationEmailRequest`: sends a new link to an unverified address.
    pub async fn request_verification_email(&self, ctx: &Ctx, email: Option<&str>) -> Result<()> {
        if !self.verifies_emails() {
            return Err(not_configured());
        }
        let email = email
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::new(code::EMAIL_MISSING, "you must provide an email"))?;
        let user = self.user_by(ctx, "email", email).await?.ok_or_else(|| {
            Error::new(
                code::EMAIL_NOT_FOUND,
                format!("No user found with email {email}."),
            )
        })?;
        if user.get("emailVerified") == Some(&Value::Bool(true)) {
            return Err(Error::new(
                code::OTHER_CAUSE,
                format!("Email {email} is already verified."),
            ));
        }
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let username = user
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (ups, token) = self.verification_fields();
        self.update_user(ctx, id, &ups).await?;
        self.send_verification(email, username, &token).await;
        Ok(())
    }

    /// The link in a verification email: marks the address verified. Returns the username.
    pub async fn verify_email(&self, token: &str) -> Result<String> {
        let ctx = Ctx::default();
        let bad = || Error::new(code::OTHER_CAUSE, "Invalid or expired verification link.");
        if token.is_empty() {
            return Err(bad());
        }
        let user = self
            .user_by(&ctx, "_email_verify_token", token)
            .await?
            .ok_or_else(bad)?;
        if token_expired(&user, "_email_verify_token_expires_at") {
            return Err(bad());
        }
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ups: Updates = vec![
            ("emailVerified".into(), UpdateOp::Set(Value::Bool(true))),
            ("_email_verify_token".into(), UpdateOp::Delete),
            ("_email_verify_token_expires_at".into(), UpdateOp::Delete),
        ];
        self.update_user(&ctx, id, &ups).await?;
        self.forget_sessions(|u| u.user_id == id);
        Ok(user
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// `POST /requestPasswordReset`: emails a reset link. Answers success for unknown addresses
    /// too, so that the endpoint cannot be used to find out who has an account.
    pub async fn request_password_reset(&self, ctx: &Ctx, email: Option<&str>) -> Result<()> {
        let (Some(cfg), Some(mailer)) = (&self.config.email, &self.mailer) else {
            return Err(not_configured());
        };
        let email = email
            .filter(|e| !e.is_empty())
            .ok_or_else(|| Error::new(code::EMAIL_MISSING, "you must provide an email"))?;
        let Some(user) = self.user_by(ctx, "email", email).await? else {
            return Ok(());
        };
        if let Some(users) = self.schema("_User") {
            self.object_trigger(
                ctx,
                &users,
                crate::hooks::Trigger::BeforePasswordResetRequest,
                &user,
            )
            .await?;
        }
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let username = user
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let token = random_hex(16);
        let mut ups: Updates = vec![(
            "_perishable_token".into(),
            UpdateOp::Set(Value::String(token.clone())),
        )];
        if let Some(secs) = cfg.reset_token_validity_secs {
            let until = chrono::Utc::now() + chrono::Duration::seconds(secs);
            ups.push((
                "_perishable_token_expires_at".into(),
                UpdateOp::Set(Value::String(iso(until))),
            ));
        }
        self.update_user(ctx, id, &ups).await?;
        let link = self.emailed_link(cfg, "request_password_reset", &token, username);
        let text = format!(
            "Hi,\n\nYou requested to reset your password for {} (your username is {username}).\n\nClick here to reset it:\n{link}",
            cfg.app_name
        );
        if let Err(e) = mailer
            .send(
                email,
                &format!("Password Reset for {}", cfg.app_name),
                &text,
            )
            .await
        {
            tracing::warn!(error = %e, "could not send the password reset email");
        }
        Ok(())
    }

    /// Checks a reset link's token; returns the username.
    pub async fn check_reset_token(&self, token: &str) -> Result<String> {
        let bad = || Error::new(code::OTHER_CAUSE, "Invalid or expired password reset link.");
        if token.is_empty() {
            return Err(bad());
        }
        let user = self
            .user_by(&Ctx::default(), "_perishable_token", token)
            .await?
            .ok_or_else(bad)?;
        if token_expired(&user, "_perishable_token_expires_at") {
            return Err(bad());
        }
        Ok(user
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }

    /// The reset form: sets the new password, ends every session, unlocks the account.
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<()> {
        let username = self.check_reset_token(token).await?;
        if new_password.is_empty() {
            return Err(Error::new(code::PASSWORD_MISSING, "password is required."));
        }
        self.check_password_policy(new_password, Some(&username))?;
        let ctx = Ctx::default();
        let user = self
            .user_by(&ctx, "_perishable_token", token)
            .await?
            .ok_or_else(|| {
                Error::new(code::OTHER_CAUSE, "Invalid or expired password reset link.")
            })?;
        let id = user
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let hash =
            super::users::hash_password(new_password.to_string(), self.config.bcrypt_cost).await?;
        let ups: Updates = vec![
            (
                "_hashed_password".into(),
                UpdateOp::Set(Value::String(hash)),
            ),
            ("_perishable_token".into(), UpdateOp::Delete),
            ("_perishable_token_expires_at".into(), UpdateOp::Delete),
            ("_failed_login_count".into(), UpdateOp::Delete),
            ("_account_lockout_expires_at".into(), UpdateOp::Delete),
        ];
        self.update_user(&ctx, &id, &ups).await?;
        self.delete_sessions_of(&ctx, &id).await?;
        self.forget_sessions(|u| u.user_id == id);
        Ok(())
    }
}
