//! Push delivery: the core validates a push, records it in `_PushStatus` and hands it with the
//! installations it targets to a `PushAdapter` (Parse Server's push adapter).

use crate::types::Object;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a delivery achieved, per `deviceType`.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    pub sent: BTreeMap<String, u64>,
    pub failed: BTreeMap<String, u64>,
}

#[async_trait::async_trait]
pub trait PushAdapter: Send + Sync {
    /// Delivers `push` (the request body: `data`, `where`/`channels`, times) to `installations`.
    async fn send(&self, push: &Value, installations: &[Object]) -> crate::Result<PushReport>;
}
