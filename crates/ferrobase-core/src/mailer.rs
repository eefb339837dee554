//! Sending email (verification and password-reset links). The core only knows this trait; the
//! server provides an SMTP implementation.

use crate::error::Result;
use async_trait::async_trait;

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, to: &str, subject: &str, text: &str) -> Result<()>;
}

/// Settings of the email flows (Parse's `verifyUserEmails`, `publicServerURL`, `appName`, …).
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `http(s)://host:port/parse`: the base of the links in emails.
    pub public_server_url: String,
    pub app_name: String,
    pub verify_user_emails: bool,
    pub prevent_login_with_unverified_email: bool,
    /// Lifetime of verification links (Parse's `emailVerifyTokenValidityDuration`).
    pub verify_token_validity_secs: Option<i64>,
    /// Lifetime of password-reset links (`passwordPolicy.resetTokenValidityDuration`).
    pub reset_token_validity_secs: Option<i64>,
}
