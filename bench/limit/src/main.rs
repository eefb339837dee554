//! `limit [PORT] [DB_PATH]`: the raw ceiling of the machine for "read one row by key from SQLite and
//! answer it over HTTP", measured by bench/run.sh in the same run as the real servers. No auth, no
//! ACL, no schema. On 127.0.0.1 only.
//!
//! At start it (re)creates DB_PATH (default: `limit.sqlite` in the temp dir) with 10,000 rows
//! `id0000000`..`id0009999`, each `{"name":"item N","price":N}`, then serves
//!   GET /hello     `{"status":"ok"}` (no database at all)
//!   GET /obj/{id}  the row's stored JSON text (200), or `{}` (404)
//! Reads run on the blocking pool, over 8 SQLite connections picked from the id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const ROWS: usize = 10_000;
const CONNECTIONS: usize = 8;

type Pool = Arc<Vec<Mutex<Connection>>>;

fn seed(path: &std::path::Path) -> rusqlite::Result<()> {
    let _ = std::fs::remove_file(path);
    let conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(id TEXT PRIMARY KEY, data TEXT);")?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO t VALUES (?1, ?2)")?;
        for i in 0..ROWS {
            insert.execute((
                format!("id{i:07}"),
                format!("{{\"name\":\"item {i}\",\"price\":{i}}}"),
            ))?;
        }
    }
    tx.commit()
}

async fn object(State(pool): State<Pool>, Path(id): Path<String>) -> (StatusCode, String) {
    let found = tokio::task::spawn_blocking(move || {
        // the same spread over the connections as before: length plus the last byte
        let slot = (id.len() + usize::from(*id.as_bytes().last().unwrap_or(&0))) % pool.len();
        let conn = pool[slot].lock().unwrap_or_else(|e| e.into_inner());
        let mut stmt = conn
            .prepare_cached("SELECT data FROM t WHERE id = ?1")
            .ok()?;
        stmt.query_row([&id], |row| row.get::<_, String>(0)).ok()
    })
    .await
    .ok()
    .flatten();
    match found {
        Some(data) => (StatusCode::OK, data),
        None => (StatusCode::NOT_FOUND, "{}".to_string()),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18080);
    let path = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("limit.sqlite"));
    seed(&path).expect("seeding the SQLite file");
    let pool: Pool = Arc::new(
        (0..CONNECTIONS)
            .map(|_| Mutex::new(Connection::open(&path).expect("opening the SQLite file")))
            .collect(),
    );
    let app = Router::new()
        .route(
            "/hello",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/obj/{id}", get(object))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("binding 127.0.0.1");
    println!(
        "limit listening on http://127.0.0.1:{port} (GET /hello, GET /obj/id0000000..id0009999)"
    );
    axum::serve(listener, app).await.expect("serving");
}
