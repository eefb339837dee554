//! The shared store conformance suite on MongoDB (FerretDB in CI): set
//! `FERROBASE_TEST_MONGODB_URI` (e.g. `mongodb://127.0.0.1:27017/`); each run uses a fresh database.

use ferrobase_core::storage::Storage;
use std::sync::Arc;

#[tokio::test]
async fn mongo_store_passes_the_conformance_suite() {
    let Ok(base) = std::env::var("FERROBASE_TEST_MONGODB_URI") else {
        eprintln!("SKIPPED: FERROBASE_TEST_MONGODB_URI is not set (scripts/test.sh starts FerretDB and sets it)");
        return;
    };
    let db = format!("conf_{}", ferrobase_core::types::random_string(8));
    let uri = ferrobase_mongo::with_database(&base, &db);
    let store = ferrobase_mongo::MongoStore::connect(&uri)
        .await
        .expect("connect");
    let skip: &[&str] = if store.supports_transactions() {
        &[]
    } else {
        // FerretDB v1 and standalone mongod have no multi-document transactions.
        &["transactions"]
    };
    let database = store.database().clone();
    let store: Arc<dyn Storage> = Arc::new(store);
    ferrobase_core::conformance::run_skipping(store.clone(), skip).await;
    let _ = database.drop().await;
    store.close().await;
}
