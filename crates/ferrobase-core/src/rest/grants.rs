//! When cached role grants go stale. Parse clears its role cache on every `_Role` write; here
//! every cached session carries the role epoch it was resolved in, and a `_Role` write moves the
//! epoch on, so the next request of every user resolves their roles again.
//!
//! A write inside a transaction moves the epoch when it is made and again when the transaction
//! ends: a session resolved in between saw the state before the commit.

use super::{Core, Ctx};
use crate::storage::TxId;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub(super) struct RoleEpoch {
    epoch: AtomicU64,
    /// Open transactions that wrote a `_Role`.
    txs: Mutex<HashSet<TxId>>,
}

impl RoleEpoch {
    pub(super) fn current(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// A `_Role` write, outside or inside a transaction.
    fn changed(&self, tx: Option<TxId>) {
        self.bump();
        if let Some(tx) = tx {
            if let Ok(mut txs) = self.txs.lock() {
                txs.insert(tx);
            }
        }
    }

    /// A transaction committed or rolled back.
    fn ended(&self, tx: TxId) {
        let wrote_roles = self.txs.lock().map(|mut t| t.remove(&tx)).unwrap_or(true);
        if wrote_roles {
            self.bump();
        }
    }
}

impl Core {
    /// Role membership may have changed (a `_Role` created, updated, deleted or purged here, or
    /// on another node as the change bus reports): every session's roles are resolved again on
    /// its next request.
    pub fn role_grants_changed(&self) {
        self.role_epoch.changed(None);
    }

    pub(super) fn role_written(&self, ctx: &Ctx) {
        self.role_epoch.changed(ctx.tx);
    }

    pub(super) fn transaction_ended(&self, tx: TxId) {
        self.role_epoch.ended(tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_move_the_epoch_again_when_they_end() {
        let e = RoleEpoch::default();
        assert_eq!(e.current(), 0);
        e.changed(Some(TxId(7)));
        assert_eq!(e.current(), 1);
        e.ended(TxId(8));
        assert_eq!(e.current(), 1, "a transaction without role writes");
        e.ended(TxId(7));
        assert_eq!(e.current(), 2);
        e.changed(None);
        assert_eq!(e.current(), 3);
    }
}
