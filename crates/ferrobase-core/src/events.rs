//! Change events: every successful write is published here (when someone listens), for
//! LiveQuery and other subscribers. Objects are in the stored form (with `_rperm`/`_wperm`), so a
//! subscriber can apply each listener's ACL, CLP and protected fields itself.

use crate::types::Object;
use std::sync::Arc;
use tokio::sync::broadcast;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone)]
pub struct ChangeEvent {
    pub class: String,
    pub kind: ChangeKind,
    /// The object after the change (for a delete: as it was).
    pub object: Object,
    /// The object before an update.
    pub original: Option<Object>,
}

/// Fan-out of change events to any number of subscribers; slow subscribers lag and lose the
/// oldest events (they see `RecvError::Lagged`), writers never wait.
pub struct ChangeFeed {
    tx: broadcast::Sender<Arc<ChangeEvent>>,
}

impl Default for ChangeFeed {
    fn default() -> Self {
        ChangeFeed {
            tx: broadcast::channel(4096).0,
        }
    }
}

impl ChangeFeed {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<ChangeEvent>> {
        self.tx.subscribe()
    }

    /// Whether anyone listens (so writers can skip building events).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn publish(&self, event: ChangeEvent) {
        if self.has_subscribers() {
            let _ = self.tx.send(Arc::new(event));
        }
    }
}
