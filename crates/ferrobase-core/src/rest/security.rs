//! Class-wide rules Parse applies before any permission check (`rest.js` `enforceRoleSecurity`).

use crate::auth::Auth;
use crate::error::{Error, Result};

/// Classes only the master key may read or write through REST (Parse Server's
/// `classesWithMasterOnlyAccess`): job and push bookkeeping, webhooks, config, audiences,
/// idempotency.
pub const MASTER_ONLY_CLASSES: &[&str] = &[
    "_JobStatus",
    "_PushStatus",
    "_Hooks",
    "_GlobalConfig",
    "_GraphQLConfig",
    "_JobSchedule",
    "_Audience",
    "_Idempotency",
];

/// Error 119 when a client (not the master key) operates on a master-only class, or finds or
/// deletes installations (Parse 9.10 answers that one with its sanitized `Permission denied`).
pub fn enforce_class_security(method: &str, class: &str, auth: &Auth) -> Result<()> {
    if auth.master {
        return Ok(());
    }
    if class == "_Installation" && matches!(method, "find" | "delete") {
        tracing::debug!(
            method,
            "Clients aren't allowed to perform the {method} operation on the installation collection."
        );
        return Err(Error::forbidden_op("Permission denied"));
    }
    if MASTER_ONLY_CLASSES.contains(&class) {
        // Parse 9 answers its sanitized message; the full one is logged.
        tracing::debug!(
            "Clients aren't allowed to perform the {method} operation on the {class} collection."
        );
        return Err(Error::forbidden_op("Permission denied"));
    }
    Ok(())
}
