//! Who is asking: the master key, a logged-in user (with roles), or the public.

use crate::types::Object;
use std::sync::Arc;

/// A user resolved from a session token.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: String,
    pub session_token: String,
    /// The user object as stored (internal fields included; never sent as is).
    pub user: Object,
    /// Names of every role the user has, directly or through the role hierarchy.
    pub roles: Vec<String>,
}

/// The principal of one request.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    pub master: bool,
    /// The read-only master key: reads as the master, every write refused.
    pub read_only: bool,
    pub user: Option<Arc<SessionUser>>,
    pub installation_id: Option<String>,
}

impl Auth {
    pub fn master() -> Auth {
        Auth {
            master: true,
            ..Auth::default()
        }
    }

    /// Error 119 when the read-only master key tries to write.
    pub fn check_writable(&self, op: &str) -> crate::Result<()> {
        if self.read_only {
            return Err(crate::Error::forbidden_op(format!(
                "read-only masterKey isn't allowed to perform the {op} operation."
            )));
        }
        Ok(())
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.user_id.as_str())
    }

    /// ACL principals: `*`, the user id and `role:<name>` for each role.
    pub fn principals(&self) -> Vec<String> {
        let mut p = vec!["*".to_string()];
        if let Some(u) = &self.user {
            p.push(u.user_id.clone());
            p.extend(u.roles.iter().map(|r| format!("role:{r}")));
        }
        p
    }
}
