//! ferrobase-sqlite: the embedded store. SQLite (bundled) in WAL mode with durable commits, one
//! writer thread doing group commit, and a pool of reader connections. Queries are translated
//! to SQL (`sql`) and run in SQLite: filtering, sorting, limit/skip and counting never happen in Rust.

mod ddl;
mod fts;
mod geo;
mod rows;
mod sql;
mod writer;

use async_trait::async_trait;
use ferrobase_core::error::code;
use ferrobase_core::query::{Filter, StoreQuery};
use ferrobase_core::schema::ClassSchema;
use ferrobase_core::storage::{Storage, TxId, Updated};
use ferrobase_core::types::Object;
use ferrobase_core::update::{self, UpdateOp, Updates};
use ferrobase_core::{Error, Result};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params_from_iter, Connection, OpenFlags};
use serde_json::Value;
use sql::ident;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use writer::{Done, Job, Msg};

pub use sql::sort_expr;

const READERS: usize = 4;

fn sql_err(e: rusqlite::Error) -> Error {
    if let rusqlite::Error::SqliteFailure(f, _) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return Error::new(
                code::DUPLICATE_VALUE,
                "A duplicate value for a field with unique values was provided",
            );
        }
    }
    Error::internal(e)
}

/// `regexp(pattern, text)` with the linear-time `regex` crate (no catastrophic backtracking).
fn add_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re: Arc<regex::Regex> = ctx.get_or_create_aux(
                0,
                |v| -> std::result::Result<_, Box<dyn std::error::Error + Send + Sync>> {
                    Ok(regex::RegexBuilder::new(v.as_str()?)
                        .size_limit(1 << 20)
                        .build()?)
                },
            )?;
            Ok(match ctx.get_raw(1) {
                ValueRef::Text(t) => std::str::from_utf8(t)
                    .map(|s| re.is_match(s))
                    .unwrap_or(false),
                _ => false,
            })
        },
    )
}

fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    if !read_only {
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;",
        )?;
    }
    conn.execute_batch("PRAGMA cache_size=-16000; PRAGMA temp_store=MEMORY;")?;
    conn.set_prepared_statement_cache_capacity(256);
    add_functions(&conn)?;
    geo::register(&conn)?;
    Ok(conn)
}

/// An online backup of the database at `src` into the new file `dst`: `VACUUM INTO` on its own
/// read-only connection, so it is one consistent snapshot (one read transaction) while the
/// server's writer goes on committing (WAL readers never block the writer). The copy is
/// checked (`PRAGMA integrity_check`) and fsynced. Returns its size in bytes.
pub fn backup_into(src: &Path, dst: &Path) -> Result<u64> {
    if !src.is_file() {
        return Err(Error::internal(format!("{} does not exist", src.display())));
    }
    if dst.exists() {
        return Err(Error::internal(format!("{} already exists", dst.display())));
    }
    let dst_text = dst
        .to_str()
        .ok_or_else(|| Error::internal("the backup path is not valid UTF-8"))?;
    let conn = open(src, true).map_err(sql_err)?;
    conn.execute("VACUUM INTO ?1", [dst_text])
        .map_err(sql_err)?;
    drop(conn);
    check_database(dst)?;
    let f = std::fs::File::open(dst).map_err(Error::internal)?;
    f.sync_all().map_err(Error::internal)?;
    Ok(f.metadata().map_err(Error::internal)?.len())
}

/// Opens `path` read-only and runs `PRAGMA integrity_check`.
pub fn check_database(path: &Path) -> Result<()> {
    let conn = open(path, true).map_err(sql_err)?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(sql_err)?;
    if verdict != "ok" {
        return Err(Error::internal(format!(
            "{} fails its integrity check: {verdict}",
            path.display()
        )));
    }
    conn.query_row("SELECT count(*) FROM _SCHEMA", [], |r| r.get::<_, i64>(0))
        .map_err(|e| {
            Error::internal(format!("{} is not a ferrobase store: {e}", path.display()))
        })?;
    Ok(())
}

/// Reader connections, checked out one per query. Queries wait for a connection on the async
/// `permits` (one per connection), not on a blocking thread: under load, threads parked on a
/// condvar cost more CPU (futex wake-ups, ~20 % of a query in perf) than the queries themselves.
struct Readers {
    conns: Mutex<Vec<Connection>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    /// Runs `f` on a free connection; the caller holds one of `permits`, so there is one.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self
            .conns
            .lock()
            .map_err(|_| Error::internal("reader pool poisoned"))?
            .pop()
            .ok_or_else(|| Error::internal("no free reader connection"))?;
        let r = f(&conn);
        if let Ok(mut g) = self.conns.lock() {
            g.push(conn);
        }
        r
    }
}

/// The embedded store.
pub struct SqliteStore {
    path: PathBuf,
    readers: Arc<Readers>,
    writer: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    next_tx: AtomicU64,
    /// FTS5 tables known to exist (`<class>:fts:<field>`).
    fts_ready: Mutex<std::collections::HashSet<String>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore> {
        let path = path.as_ref().to_path_buf();
        let wconn = open(&path, false).map_err(sql_err)?;
        wconn.execute_batch(ddl::SCHEMA_TABLE).map_err(sql_err)?;
        let readers = (0..READERS)
            .map(|_| open(&path, true))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql_err)?;
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ferrobase-sqlite-writer".into())
            .spawn(move || writer::run(wconn, rx))
            .map_err(Error::internal)?;
        Ok(SqliteStore {
            path,
            readers: Arc::new(Readers {
                conns: Mutex::new(readers),
                permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
            }),
            writer: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            next_tx: AtomicU64::new(1),
            fts_ready: Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// Creates the FTS5 index of each field a filter searches with `$text`, once.
    async fn ensure_text_indexes(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        tx: Option<TxId>,
    ) -> Result<()> {
        let mut texts = Vec::new();
        sql::texts_of(filter, &mut texts);
        for (field, _) in texts {
            let name = fts::table(&schema.class_name, field);
            if self
                .fts_ready
                .lock()
                .map(|s| s.contains(&name))
                .unwrap_or(false)
            {
                continue;
            }
            if !field
                .split('.')
                .all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            {
                return Err(Error::invalid_query(format!(
                    "$text is not supported on {field}"
                )));
            }
            let (class, f) = (schema.class_name.clone(), field.to_string());
            self.write(tx, move |conn| {
                fts::ensure(conn, &class, &f).map_err(sql_err)
            })
            .await?;
            // Inside a transaction the index may still be rolled back: remember it only outside.
            if tx.is_none() {
                if let Ok(mut s) = self.fts_ready.lock() {
                    s.insert(name);
                }
            }
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, msg: Msg) -> Result<()> {
        let guard = self
            .writer
            .lock()
            .map_err(|_| Error::internal("writer poisoned"))?;
        let sender = guard
            .as_ref()
            .ok_or_else(|| Error::internal("store is closed"))?;
        writer::enqueued();
        sender.send(msg).map_err(|_| {
            writer::dequeued();
            Error::internal("store writer has stopped")
        })
    }

    /// Runs `f` on the writer connection (inside the group commit, or inside transaction `tx`) and
    /// answers once its commit is durable.
    async fn write<T: Send + 'static>(
        &self,
        tx: Option<TxId>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn| {
            let result = conn.and_then(f);
            let ok = result.is_ok();
            let done: Done = Box::new(move |commit_error| {
                let _ = reply.send(match commit_error {
                    Some(e) => Err(e),
                    None => result,
                });
            });
            (ok, done)
        });
        self.send(Msg::Job { tx, job })?;
        answer
            .await
            .map_err(|_| Error::internal("store writer dropped a request"))?
    }

    /// Runs a read on a reader connection, or on the writer inside a transaction (to see its writes).
    async fn read<T: Send + 'static>(
        &self,
        tx: Option<TxId>,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        if tx.is_some() {
            return self.write(tx, f).await;
        }
        let readers = self.readers.clone();
        let permit = readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        // The permit moves into the blocking task: if this future is dropped (client gone), the
        // connection stays counted as busy until the query has finished with it.
        tokio::task::spawn_blocking(move || {
            let r = readers.with(f);
            drop(permit);
            r
        })
        .await
        .map_err(Error::internal)?
    }
}

/// The SELECT for a query; with a `$text` search it also selects the relevance as `score`.
fn select_sql(schema: &ClassSchema, q: &StoreQuery) -> (sql::Sql, bool) {
    let mut texts = Vec::new();
    sql::texts_of(&q.filter, &mut texts);
    let mut out = sql::Sql::default();
    let score = texts.first().and_then(|(field, t)| {
        Some((
            fts::table(&schema.class_name, field),
            fts::match_query(&t.term)?,
        ))
    });
    let has_score = score.is_some();
    let score_col = match score {
        Some((table, m)) => {
            out.params.push(SqlValue::Text(m));
            format!(
                ", (SELECT -bm25({ft}) FROM {ft} WHERE {ft} MATCH ? AND rowid = {ct}.rowid) AS score",
                ft = ident(&table),
                ct = ident(&schema.class_name)
            )
        }
        None => String::new(),
    };
    let w = sql::where_clause(schema, &q.filter);
    let order = sql::order_by(schema, &q.order, &q.filter, has_score);
    out.text = format!(
        "SELECT {}{score_col} FROM {} WHERE {}{} LIMIT {} OFFSET {}",
        rows::COLUMNS,
        ident(&schema.class_name),
        w.text,
        order.text,
        q.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX)),
        q.skip
    );
    out.params.extend(w.params);
    out.params.extend(order.params);
    (out, has_score)
}

fn query_objects(conn: &Connection, s: &sql::Sql, has_score: bool) -> Result<Vec<Object>> {
    let mut st = conn.prepare_cached(&s.text).map_err(sql_err)?;
    let rows = st
        .query_map(params_from_iter(s.params.iter()), |row| {
            let obj = rows::from_row(row)?;
            let score: Option<f64> = if has_score { row.get(6)? } else { None };
            Ok((obj, score))
        })
        .map_err(sql_err)?;
    let mut out = Vec::new();
    for r in rows {
        let (obj, score) = r.map_err(sql_err)?;
        let mut obj = obj?;
        if let Some(sc) = score {
            obj.insert(
                "score".into(),
                serde_json::Number::from_f64(sc).map_or(Value::Null, Value::Number),
            );
        }
        out.push(obj);
    }
    Ok(out)
}

fn write_relations(conn: &Connection, class: &str, id: &str, updates: &Updates) -> Result<()> {
    for (field, op) in updates {
        let (ptrs, add) = match op {
            UpdateOp::AddRelation(p) => (p, true),
            UpdateOp::RemoveRelation(p) => (p, false),
            _ => continue,
        };
        ddl::create_join_table(conn, field, class).map_err(sql_err)?;
        let t = ident(&format!("_Join:{field}:{class}"));
        let stmt = if add {
            format!("INSERT OR IGNORE INTO {t} (owningId, relatedId) VALUES (?1, ?2)")
        } else {
            format!("DELETE FROM {t} WHERE owningId = ?1 AND relatedId = ?2")
        };
        let mut st = conn.prepare_cached(&stmt).map_err(sql_err)?;
        for (_, related) in ptrs {
            st.execute([id, related.as_str()]).map_err(sql_err)?;
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    async fn load_schemas(&self) -> Result<Vec<ClassSchema>> {
        self.read(None, |conn| {
            let mut st = conn
                .prepare("SELECT className, schema FROM _SCHEMA")
                .map_err(sql_err)?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .map_err(sql_err)?;
            let mut out = Vec::new();
            for row in rows {
                let (class, json) = row.map_err(sql_err)?;
                let v: Value = serde_json::from_str(&json).map_err(Error::internal)?;
                let fields = v
                    .get("fields")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                out.push(ClassSchema::from_stored(
                    &class,
                    &fields,
                    v.get("classLevelPermissions"),
                    v.get("indexes").and_then(Value::as_object),
                )?);
            }
            Ok(out)
        })
        .await
    }

    async fn save_schema(&self, schema: &ClassSchema, tx: Option<TxId>) -> Result<()> {
        let schema = schema.clone();
        self.write(tx, move |conn| {
            let fields = schema.fields_json();
            let stored = serde_json::json!({
                "fields": fields,
                "classLevelPermissions": schema.clp,
                "indexes": schema.indexes,
            });
            conn.execute(
                "INSERT OR REPLACE INTO _SCHEMA (className, schema) VALUES (?1, ?2)",
                [schema.class_name.as_str(), stored.to_string().as_str()],
            )
            .map_err(sql_err)?;
            ddl::ensure_class(conn, &schema).map_err(sql_err)
        })
        .await
    }

    async fn delete_class(&self, class: &str) -> Result<()> {
        if let Ok(mut ready) = self.fts_ready.lock() {
            let prefix = fts::table(class, "");
            ready.retain(|t| !t.starts_with(&prefix));
        }
        let class = class.to_string();
        self.write(None, move |conn| {
            ddl::drop_class(conn, &class).map_err(sql_err)
        })
        .await
    }

    async fn find(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Vec<Object>> {
        self.ensure_text_indexes(schema, &query.filter, tx).await?;
        let (s, has_score) = select_sql(schema, query);
        self.read(tx, move |conn| query_objects(conn, &s, has_score))
            .await
    }

    async fn find_json(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Option<Vec<String>>> {
        let mut texts = Vec::new();
        sql::texts_of(&query.filter, &mut texts);
        if !texts.is_empty() {
            return Ok(None); // `$text` adds a score: the object path handles it
        }
        let (s, _) = select_sql(schema, query);
        self.read(tx, move |conn| {
            let mut st = conn.prepare_cached(&s.text).map_err(sql_err)?;
            let rows = st
                .query_map(params_from_iter(s.params.iter()), rows::json_from_row)
                .map_err(sql_err)?;
            rows.map(|r| r.map_err(sql_err)?)
                .collect::<Result<Vec<_>>>()
        })
        .await
        .map(Some)
    }

    async fn count(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.ensure_text_indexes(schema, filter, tx).await?;
        let mut s = sql::where_clause(schema, filter);
        s.text = format!(
            "SELECT count(*) FROM {} WHERE {}",
            ident(&schema.class_name),
            s.text
        );
        self.read(tx, move |conn| {
            let mut st = conn.prepare_cached(&s.text).map_err(sql_err)?;
            let n: i64 = st
                .query_row(params_from_iter(s.params.iter()), |r| r.get(0))
                .map_err(sql_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }

    async fn insert(&self, schema: &ClassSchema, object: Object, tx: Option<TxId>) -> Result<()> {
        let row = rows::to_row(object)?;
        let stmt = format!(
            "INSERT INTO {} ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            ident(&schema.class_name),
            rows::COLUMNS
        );
        self.write(tx, move |conn| {
            let mut st = conn.prepare_cached(&stmt).map_err(sql_err)?;
            st.execute(params_from_iter(row.iter())).map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn update(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
        tx: Option<TxId>,
    ) -> Result<Option<Updated>> {
        let mut q = StoreQuery::filter(filter.clone());
        q.limit = Some(1);
        let (select, _) = select_sql(schema, &q);
        let class = schema.class_name.clone();
        let updates = updates.clone();
        self.write(tx, move |conn| {
            let Some(before) = query_objects(conn, &select, false)?.pop() else {
                return Ok(None);
            };
            let mut obj = before.clone();
            update::apply(&mut obj, &updates)?;
            let id = obj.get("objectId").and_then(Value::as_str).unwrap_or_default().to_string();
            let [_, _, updated, rperm, wperm, data] = rows::to_row(obj.clone())?;
            let stmt = format!("UPDATE {} SET updatedAt = ?1, _rperm = ?2, _wperm = ?3, data = ?4 WHERE objectId = ?5", ident(&class));
            let mut st = conn.prepare_cached(&stmt).map_err(sql_err)?;
            st.execute(rusqlite::params![updated, rperm, wperm, data, SqlValue::Text(id.clone())])
                .map_err(sql_err)?;
            write_relations(conn, &class, &id, &updates)?;
            Ok(Some(Updated { before, after: obj }))
        })
        .await
    }

    async fn delete(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        let mut s = sql::where_clause(schema, filter);
        s.text = format!("DELETE FROM {} WHERE {}", ident(&schema.class_name), s.text);
        self.write(tx, move |conn| {
            let mut st = conn.prepare_cached(&s.text).map_err(sql_err)?;
            let n = st
                .execute(params_from_iter(s.params.iter()))
                .map_err(sql_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn delete_field(&self, schema: &ClassSchema, field: &str) -> Result<()> {
        let stmt = format!(
            "UPDATE {} SET data = json_remove(data, ?1)",
            ident(&schema.class_name)
        );
        let path = format!("$.\"{}\"", field.replace('"', ""));
        self.write(None, move |conn| {
            conn.execute(&stmt, [path]).map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, schema: &ClassSchema) -> Result<()> {
        let stmt = format!("DELETE FROM {}", ident(&schema.class_name));
        self.write(None, move |conn| {
            conn.execute(&stmt, []).map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    async fn explain(&self, schema: &ClassSchema, query: &StoreQuery) -> Result<Vec<String>> {
        self.ensure_text_indexes(schema, &query.filter, None)
            .await?;
        let (mut s, _) = select_sql(schema, query);
        s.text = format!("EXPLAIN QUERY PLAN {}", s.text);
        self.read(None, move |conn| {
            // EXPLAIN reads no table, so it would not notice an index created by the writer
            // since this connection last read: touch the schema first.
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .map_err(sql_err)?;
            let mut st = conn.prepare(&s.text).map_err(sql_err)?;
            let rows = st
                .query_map(params_from_iter(s.params.iter()), |r| r.get::<_, String>(3))
                .map_err(sql_err)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sql_err)
        })
        .await
    }

    async fn begin(&self) -> Result<TxId> {
        let tx = TxId(self.next_tx.fetch_add(1, Ordering::Relaxed));
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Msg::Begin { tx, reply })?;
        answer
            .await
            .map_err(|_| Error::internal("store writer dropped a request"))??;
        Ok(tx)
    }

    async fn commit(&self, tx: TxId) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Msg::End {
            tx,
            commit: true,
            reply,
        })?;
        answer
            .await
            .map_err(|_| Error::internal("store writer dropped a request"))?
    }

    async fn rollback(&self, tx: TxId) -> Result<()> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(Msg::End {
            tx,
            commit: false,
            reply,
        })?;
        answer
            .await
            .map_err(|_| Error::internal("store writer dropped a request"))?
    }

    async fn close(&self) {
        let sender = self.writer.lock().ok().and_then(|mut g| g.take());
        if let Some(s) = sender {
            let _ = s.send(Msg::Close);
        }
        let handle = self.thread.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }
}
