//! `/loginAs`, `/verifyPassword` and `/upgradeToRevocableSession` (Parse Server's UsersRouter
//! and SessionsRouter).

use super::{output, Core, Ctx, FindOptions};
use crate::auth::{Auth, SessionUser};
use crate::error::{code, Error, Result};
use crate::query::{Filter, StoreQuery};
use crate::types::Object;
use serde_json::{json, Value};
use std::sync::Arc;

impl Core {
    /// `POST /loginAs` (master key): a new session for `user_id`, answered as a login is.
    pub async fn login_as(&self, ctx: &Ctx, user_id: Option<&str>) -> Result<Object> {
        if !ctx.auth.master || ctx.auth.read_only {
            return Err(Error::forbidden_op("Permission denied"));
        }
        let Some(user_id) = user_id.filter(|s| !s.is_empty()) else {
            return Err(Error::new(
                162,
                "userId must not be empty, null, or undefined",
            ));
        };
        let not_found = || Error::new(code::OBJECT_NOT_FOUND, "user not found");
        let users = self.schema("_User").ok_or_else(not_found)?;
        let mut q = StoreQuery::filter(Filter::object_id(user_id));
        q.limit = Some(1);
        let user = self
            .store
            .find(&users, &q, ctx.tx)
            .await?
            .pop()
            .ok_or_else(not_found)?;
        let token = self
            .create_session_with(
                ctx,
                user_id,
                json!({"action": "login", "authProvider": "masterkey"}),
            )
            .await?;
        let mut out = output::to_client(&users, user, &Auth::master(), &self.config);
        out.insert("sessionToken".into(), Value::String(token));
        Ok(out)
    }

    /// `GET`/`POST /verifyPassword`: the user the credentials name, read as that user reads
    /// themself (no session is created).
    pub async fn verify_password(
        &self,
        ctx: &Ctx,
        username: Option<&str>,
        email: Option<&str>,
        password: Option<&str>,
    ) -> Result<Object> {
        let (_, user, id) = self
            .check_credentials(ctx, username, email, password)
            .await?;
        let as_user = if ctx.auth.master {
            ctx.clone()
        } else {
            let roles = self.roles_of(&id).await?;
            Ctx {
                auth: Auth {
                    user: Some(Arc::new(SessionUser {
                        user_id: id.clone(),
                        session_token: String::new(),
                        user,
                        roles,
                    })),
                    installation_id: ctx.auth.installation_id.clone(),
                    ..Auth::default()
                },
                tx: ctx.tx,
                meta: ctx.meta.clone(),
            }
        };
        let mut found = self
            .get(&as_user, "_User", &id, &FindOptions::default())
            .await
            .map_err(|_| Error::new(code::OBJECT_NOT_FOUND, "Invalid username/password."))?;
        found.remove("sessionToken");
        Ok(found)
    }

    /// `POST /upgradeToRevocableSession`: a new revocable session for the caller's user.
    pub async fn upgrade_to_revocable_session(&self, ctx: &Ctx) -> Result<Object> {
        let Some(user) = ctx.auth.user.clone() else {
            return Err(Error::new(code::OBJECT_NOT_FOUND, "invalid session"));
        };
        let token = self
            .create_session_with(ctx, &user.user_id, json!({"action": "upgrade"}))
            .await?;
        let sessions = self
            .schema("_Session")
            .ok_or_else(|| Error::internal("no _Session class"))?;
        let mut q = StoreQuery::filter(Filter::eq(
            "sessionToken",
            crate::query::Scalar::String(token),
        ));
        q.limit = Some(1);
        let session = self
            .store
            .find(&sessions, &q, ctx.tx)
            .await?
            .pop()
            .ok_or_else(|| Error::new(code::INTERNAL, "Failed to load upgraded session."))?;
        Ok(output::to_client(
            &sessions,
            session,
            &ctx.auth,
            &self.config,
        ))
    }
}
