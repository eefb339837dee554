//! The core's change feed on the embedded store: writes inside a transaction are announced only
//! once it commits, and never when it rolls back.

use ferrobase_core::auth::Auth;
use ferrobase_core::config::CoreConfig;
use ferrobase_core::events::ChangeKind;
use ferrobase_core::rest::{Core, Ctx};
use ferrobase_core::storage::Storage;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn transactional_writes_are_published_on_commit_only() {
    let dir = tempfile::tempdir().expect("dir");
    let store: Arc<dyn Storage> =
        Arc::new(ferrobase_sqlite::SqliteStore::open(dir.path().join("e.sqlite")).expect("open"));
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
