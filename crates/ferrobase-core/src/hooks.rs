//! Cloud Code hooks as the core sees them (Parse Server's `triggers.js`): a trigger runs at the one
//! choke point of its operation, and only where the app registered one, so a class without hooks
//! pays nothing. The runtime that runs them (a Node.js worker, webhooks) lives outside the core.

use crate::error::Result;
use async_trait::async_trait;
use serde_json::Value;

/// The triggers the REST pipeline runs, by Parse's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    BeforeSave,
    AfterSave,
    BeforeDelete,
    AfterDelete,
    BeforeFind,
    AfterFind,
    BeforeLogin,
    AfterLogin,
    AfterLogout,
    BeforePasswordResetRequest,
    /// LiveQuery: a client connects (class `@Connect`).
    BeforeConnect,
    /// LiveQuery: a client subscribes to a query on the class (may change the query).
    BeforeSubscribe,
    /// LiveQuery: an event is about to be sent (`afterLiveQueryEvent`; may change or drop it).
    AfterEvent,
}

impl Trigger {
    pub const ALL: [Trigger; 13] = [
        Trigger::BeforeSave,
        Trigger::AfterSave,
        Trigger::BeforeDelete,
        Trigger::AfterDelete,
        Trigger::BeforeFind,
        Trigger::AfterFind,
        Trigger::BeforeLogin,
        Trigger::AfterLogin,
        Trigger::AfterLogout,
        Trigger::BeforePasswordResetRequest,
        Trigger::BeforeConnect,
        Trigger::BeforeSubscribe,
        Trigger::AfterEvent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Trigger::BeforeSave => "beforeSave",
            Trigger::AfterSave => "afterSave",
            Trigger::BeforeDelete => "beforeDelete",
            Trigger::AfterDelete => "afterDelete",
            Trigger::BeforeFind => "beforeFind",
            Trigger::AfterFind => "afterFind",
            Trigger::BeforeLogin => "beforeLogin",
            Trigger::AfterLogin => "afterLogin",
            Trigger::AfterLogout => "afterLogout",
            Trigger::BeforePasswordResetRequest => "beforePasswordResetRequest",
            Trigger::BeforeConnect => "beforeConnect",
            Trigger::BeforeSubscribe => "beforeSubscribe",
            Trigger::AfterEvent => "afterEvent",
        }
    }

    pub fn from_name(name: &str) -> Option<Trigger> {
        Trigger::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Who runs the hooks. `request` is Parse's trigger request in REST JSON (see
/// docs/cloud-protocol.md); the answer is the hook's result (`{"body": …}` for beforeSave, …).
#[async_trait]
pub trait Hooks: Send + Sync {
    /// Whether the app registered `trigger` on `class` (cheap: called on every operation).
    fn has(&self, class: &str, trigger: Trigger) -> bool;
    async fn run(&self, class: &str, trigger: Trigger, request: Value) -> Result<Value>;
}
