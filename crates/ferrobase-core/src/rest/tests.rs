//! The pipeline on the in-memory reference store: core behaviour tested without a database.

use super::{Core, Ctx};
use crate::auth::Auth;
use crate::config::CoreConfig;
use crate::events::ChangeKind;
use crate::storage::Storage;
use serde_json::json;
use std::sync::Arc;

/// The change feed: writes inside a transaction are announced only once it commits, and never
/// when it rolls back.
#[tokio::test]
async fn transactional_writes_are_published_on_commit_only() {
    let store: Arc<dyn Storage> = Arc::new(crate::memory::MemoryStore::new());
    let core = Core::new(
        CoreConfig {
            app_id: "a".into(),
            ..CoreConfig::default()
        },
        store,
    )
    .await
    .expect("core");
    let mut feed = core.changes.subscribe();
    let master = Ctx::new(Auth::master());
    core.create(&master, "Note", json!({"n": 0}))
        .await
        .expect("create");
    let first = feed.try_recv().expect("a plain write is announced at once");
    assert_eq!(first.kind, ChangeKind::Create);

    let tx = core.begin().await.expect("begin");
    let in_tx = Ctx {
        auth: Auth::master(),
        tx: Some(tx),
        meta: None,
    };
    core.create(&in_tx, "Note", json!({"n": 1}))
        .await
        .expect("create in tx");
    assert!(feed.try_recv().is_err(), "nothing before the commit");
    core.rollback(tx).await.expect("rollback");
    assert!(feed.try_recv().is_err(), "nothing for a rolled-back write");

    let tx = core.begin().await.expect("begin");
    let in_tx = Ctx {
        auth: Auth::master(),
        tx: Some(tx),
        meta: None,
    };
    core.create(&in_tx, "Note", json!({"n": 2}))
        .await
        .expect("create in tx");
    assert!(feed.try_recv().is_err());
    core.commit(tx).await.expect("commit");
    let ev = feed.try_recv().expect("announced at commit");
    assert_eq!(ev.object["n"], json!(2));
    core.close().await;
}
