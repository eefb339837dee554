//! The shared store conformance suite, on the embedded SQLite store.

use ferrobase_core::storage::Storage;
use std::sync::Arc;

#[tokio::test]
async fn sqlite_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = ferrobase_sqlite::SqliteStore::open(dir.path().join("c.sqlite")).expect("open");
    let store: Arc<dyn Storage> = Arc::new(store);
    ferrobase_core::conformance::run(store.clone()).await;
    store.close().await;
}
