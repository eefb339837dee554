//! SMTP delivery for the core's `Mailer` (lettre). `--smtp-url smtp://user:pass@host:port`
//! (plain, e.g. a local relay), `smtp+starttls://…` or `smtps://…` (TLS).

use async_trait::async_trait;
use ferrobase_core::mailer::Mailer;
use ferrobase_core::Error;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<SmtpMailer, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| format!("invalid --smtp-url: {e}"))?
            .build();
        let from = from
            .parse::<Mailbox>()
            .map_err(|e| format!("invalid --email-from {from:?}: {e}"))?;
        Ok(SmtpMailer { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, to: &str, subject: &str, text: &str) -> ferrobase_core::Result<()> {
        let to = to.parse::<Mailbox>().map_err(|e| {
            Error::new(
                ferrobase_core::error::code::INVALID_EMAIL_ADDRESS,
                e.to_string(),
            )
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .body(text.to_string())
            .map_err(Error::internal)?;
        self.transport
            .send(message)
            .await
            .map_err(Error::internal)?;
        Ok(())
    }
}
