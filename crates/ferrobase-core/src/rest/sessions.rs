//! Sessions: expiry and `/sessions/me`.

use super::{output, Core, Ctx};
use crate::error::{Error, Result};
use crate::query::{Filter, Scalar, StoreQuery};
use crate::types::{parse_iso, Object};
use serde_json::Value;

/// Whether a stored `_Session` has passed its `expiresAt`.
pub(super) fn is_expired(session: &Object) -> bool {
    session
        .get("expiresAt")
        .and_then(|d| d.get("iso"))
        .and_then(Value::as_str)
        .and_then(parse_iso)
        .is_some_and(|t| t < chrono::Utc::now())
}

impl Core {
    /// Parse's `extendSessionOnUse`: once half a session's life has passed, using it pushes
    /// `expiresAt` a full session length ahead.
    pub(super) async fn extend_session(
        &self,
        sessions: &crate::schema::ClassSchema,
        session: &Object,
    ) -> Result<()> {
        let Some(expires) = session
            .get("expiresAt")
            .and_then(|d| d.get("iso"))
            .and_then(Value::as_str)
            .and_then(parse_iso)
        else {
            return Ok(());
        };
        let length = chrono::Duration::seconds(self.config.session_length_secs);
        let now = chrono::Utc::now();
        if expires - now > length / 2 {
            return Ok(());
        }
        let id = session
            .get("objectId")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let new = crate::types::date_value(&crate::types::iso(now + length));
        let ups: crate::update::Updates =
            vec![("expiresAt".into(), crate::update::UpdateOp::Set(new))];
        let system = Ctx::new(crate::auth::Auth::master());
        self.store_update(&system, sessions, &Filter::object_id(id), &ups)
            .await?;
        Ok(())
    }

    /// `GET /sessions/me`: the caller's own session object.
    pub async fn session_me(&self, ctx: &Ctx) -> Result<Object> {
        let u = ctx.auth.user.as_ref().ok_or_else(|| {
            Error::new(
                crate::error::code::INVALID_SESSION_TOKEN,
                "Session token required.",
            )
        })?;
        let sessions = self.schema("_Session").ok_or_else(Error::invalid_session)?;
        let mut q = StoreQuery::filter(Filter::eq(
            "sessionToken",
            Scalar::String(u.session_token.clone()),
        ));
        q.limit = Some(1);
        let s = self
            .store
            .find(&sessions, &q, ctx.tx)
            .await?
            .pop()
            .ok_or_else(Error::invalid_session)?;
        Ok(output::to_client(&sessions, s, &ctx.auth, &self.config))
    }
}
