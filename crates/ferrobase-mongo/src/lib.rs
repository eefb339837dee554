//! ferrobase-mongo: the storage trait on MongoDB (or FerretDB), in Parse Server's own layout, so
//! that ferrobase and Parse Server can share a database. Filtering, sorting, skip/limit and
//! counting run in the database; updates are single atomic `findOneAndUpdate`s.

mod encode;
mod filter;
mod residual;
mod schema_doc;

use async_trait::async_trait;
use ferrobase_core::error::code;
use ferrobase_core::query::{Filter, StoreQuery};
use ferrobase_core::schema::{ClassSchema, FieldType};
use ferrobase_core::storage::{Storage, TxId, Updated};
use ferrobase_core::types::Object;
use ferrobase_core::update::{self, UpdateOp, Updates};
use ferrobase_core::{Error, Result};
use filter::{Caps, Translator};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{ClientOptions, Collation, CollationStrength, IndexOptions, ReturnDocument};
use mongodb::{ClientSession, Collection, Database, IndexModel};
use residual::Residual;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const SCHEMA: &str = "_SCHEMA";

type Session = Arc<tokio::sync::Mutex<ClientSession>>;

/// The MongoDB store.
pub struct MongoStore {
    client: mongodb::Client,
    db: Database,
    /// Multi-document transactions (a replica set or sharded cluster; not FerretDB v1).
    transactions: bool,
    /// Case-insensitive unique indexes (collations); without them uniqueness of `_User`
    /// username/email ignoring case is checked before writing.
    collation: bool,
    caps: Caps,
    sessions: Mutex<HashMap<u64, Session>>,
    next_tx: AtomicU64,
    /// Text indexes known to exist (`class`).
    text_ready: Mutex<HashSet<String>>,
    /// FerretDB v1 (SQLite back end) loses concurrent updates of one document, even single
    /// `$inc`s: there, this node's writes go one at a time (several nodes on one FerretDB are
    /// not safe). `None` on MongoDB, whose updates are atomic.
    write_lock: Option<tokio::sync::Mutex<()>>,
}

fn is_duplicate(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        ErrorKind::InsertMany(m) => m
            .write_errors
            .as_ref()
            .is_some_and(|w| w.iter().any(|x| x.code == 11000)),
        _ => e.to_string().contains("E11000"),
    }
}

fn db_err(e: mongodb::error::Error) -> Error {
    if is_duplicate(&e) {
        return Error::new(
            code::DUPLICATE_VALUE,
            "A duplicate value for a field with unique values was provided",
        );
    }
    if let mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) = &*e.kind
    {
        if w.code == 2 {
            // e.g. FerretDB v1: "nested arrays are not supported".
            return Error::new(
                code::INCORRECT_TYPE,
                format!("not supported by this MongoDB server: {}", w.message),
            );
        }
    }
    if let mongodb::error::ErrorKind::Command(c) = &*e.kind {
        // Unsupported operators on this server (e.g. `$text` or geo queries on FerretDB v1).
        if matches!(c.code, 2 | 115 | 238) || c.code_name == "NotImplemented" {
            return Error::invalid_query(format!(
                "not supported by this MongoDB server: {}",
                c.message
            ));
        }
        // The driver's own text adds the server's raw reply as hex: keep the readable part.
        return Error::internal(format!(
            "MongoDB command failed: {} ({}): {}",
            c.code_name, c.code, c.message
        ));
    }
    Error::internal(e)
}

fn residual_in_write() -> Error {
    Error::invalid_query(
        "geo and $containedBy conditions are not supported in writes on this MongoDB server",
    )
}

fn duplicate() -> Error {
    Error::new(
        code::DUPLICATE_VALUE,
        "A duplicate value for a field with unique values was provided",
    )
}

/// Runs a driver action with the transaction's session when there is one.
macro_rules! run {
    ($sess:expr, $action:expr) => {
        match &$sess {
            Some(s) => {
                let mut g = s.lock().await;
                $action.session(&mut *g).await
            }
            None => $action.await,
        }
    };
}

impl MongoStore {
    /// Connects to `uri` (`mongodb://host/db`; the database defaults to `parse`).
    pub async fn connect(uri: &str) -> Result<MongoStore> {
        let mut options = ClientOptions::parse(uri).await.map_err(Error::internal)?;
        if options.app_name.is_none() {
            options.app_name = Some("ferrobase".into());
        }
        let db_name = options
            .default_database
            .clone()
            .unwrap_or_else(|| "parse".into());
        let client = mongodb::Client::with_options(options).map_err(Error::internal)?;
        let db = client.database(&db_name);
        let hello = db
            .run_command(doc! {"hello": 1})
            .await
            .map_err(|e| Error::internal(format!("cannot reach MongoDB: {e}")))?;
        let ferret = db
            .run_command(doc! {"buildInfo": 1})
            .await
            .ok()
            .is_some_and(|b| {
                b.contains_key("ferretdbVersion") || b.get_document("ferretdb").is_ok()
            });
        let transactions = !ferret
            && (hello.contains_key("setName") || hello.get_str("msg").ok() == Some("isdbgrid"));
        let store = MongoStore {
            client,
            db,
            transactions,
            collation: !ferret,
            caps: Caps {
                type_array: true,
                geo: !ferret,
                elem_match_nin: !ferret,
            },
            sessions: Mutex::new(HashMap::new()),
            next_tx: AtomicU64::new(1),
            text_ready: Mutex::new(HashSet::new()),
            write_lock: ferret.then(|| tokio::sync::Mutex::new(())),
        };
        if ferret {
            tracing::info!("FerretDB detected: no transactions, geo or text queries; writes serialised in this node");
        }
        Ok(store)
    }

    /// Whether `"transaction": true` batches can run here.
    pub fn supports_transactions(&self) -> bool {
        self.transactions
    }

    async fn serialise(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(l) => Some(l.lock().await),
            None => None,
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    fn coll(&self, class: &str) -> Collection<Document> {
        self.db.collection(class)
    }

    fn session(&self, tx: Option<TxId>) -> Result<Option<Session>> {
        let Some(tx) = tx else { return Ok(None) };
        let map = self
            .sessions
            .lock()
            .map_err(|_| Error::internal("session map poisoned"))?;
        map.get(&tx.0)
            .cloned()
            .map(Some)
            .ok_or_else(|| Error::internal("unknown transaction"))
    }

    /// Removes a transaction's session from the map, to commit or abort it.
    fn take_session(&self, tx: TxId) -> Result<Session> {
        self.sessions
            .lock()
            .map_err(|_| Error::internal("session map poisoned"))?
            .remove(&tx.0)
            .ok_or_else(|| Error::internal("unknown transaction"))
    }

    /// The filter of a write, and whether the write may go ahead. A filter by id whose ACL
    /// checks are left to Rust (FerretDB, see [`filter::by_id_with_perms`]) is checked here on
    /// the stored document; callers hold the node's write lock, so the document cannot change
    /// between this check and the write.
    async fn write_filter(
        &self,
        schema: &ClassSchema,
        f: &Filter,
        sess: &Option<Session>,
    ) -> Result<(Document, bool)> {
        let (d, residual) = self.filter_parts(schema, f, false).await?;
        if residual.is_empty() {
            return Ok((d, true));
        }
        if !residual.iter().all(|r| matches!(r, Residual::Perm { .. })) {
            return Err(residual_in_write());
        }
        let found =
            run!(sess, self.coll(&schema.class_name).find_one(d.clone())).map_err(db_err)?;
        let allowed = found.is_some_and(|doc| {
            let obj = encode::from_document(schema, &doc);
            residual.iter().all(|r| r.matches(&obj))
        });
        Ok((d, allowed))
    }

    /// The query document and the checks left for Rust (FerretDB: geo, `$containedBy`).
    async fn filter_parts(
        &self,
        schema: &ClassSchema,
        f: &Filter,
        counting: bool,
    ) -> Result<(Document, Vec<Residual>)> {
        if self.write_lock.is_some() {
            if let Some((id, perms)) = filter::by_id_with_perms(f) {
                return Ok((doc! {"_id": id}, perms));
            }
        }
        let mut rels = Vec::new();
        filter::relation_filters(f, &mut rels);
        let mut resolved = Vec::with_capacity(rels.len());
        for r in rels {
            let (join, key, value, want) = match r {
                Filter::RelatedTo {
                    owner_class,
                    owner_id,
                    field,
                } => (
                    format!("_Join:{field}:{owner_class}"),
                    "owningId",
                    owner_id,
                    "relatedId",
                ),
                Filter::RelationContains { field, related_id } => (
                    format!("_Join:{field}:{}", schema.class_name),
                    "relatedId",
                    related_id,
                    "owningId",
                ),
                _ => continue,
            };
            let docs: Vec<Document> = self
                .coll(&join)
                .find(doc! {key: value.clone()})
                .projection(doc! {want: 1, "_id": 0})
                .await
                .map_err(db_err)?
                .try_collect()
                .await
                .map_err(db_err)?;
            resolved.push(
                docs.iter()
                    .filter_map(|d| d.get_str(want).ok().map(str::to_string))
                    .collect(),
            );
        }
        let t = Translator {
            schema,
            resolved: &resolved,
            next: std::cell::Cell::new(0),
            counting,
            caps: self.caps,
            residual: Default::default(),
            nested: Default::default(),
            unsupported: Default::default(),
        };
        let d = t.filter(f);
        if t.unsupported.get() {
            return Err(Error::invalid_query(
                "geo and $containedBy conditions inside $or/$nor are not supported on this MongoDB server (FerretDB)",
            ));
        }
        Ok((d, t.residual.into_inner()))
    }

    fn translator<'a>(&self, schema: &'a ClassSchema) -> Translator<'a> {
        Translator {
            schema,
            resolved: &[],
            next: std::cell::Cell::new(0),
            counting: false,
            caps: self.caps,
            residual: Default::default(),
            nested: Default::default(),
            unsupported: Default::default(),
        }
    }

    /// Creates the text index a `$text` search needs, once (MongoDB allows one per collection).
    async fn ensure_text_index(&self, schema: &ClassSchema, f: &Filter) -> Result<()> {
        let mut fields = Vec::new();
        filter::text_fields(f, &mut fields);
        let Some(field) = fields.first() else {
            return Ok(());
        };
        if self
            .text_ready
            .lock()
            .map(|s| s.contains(&schema.class_name))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let coll = self.coll(&schema.class_name);
        let existing: Vec<IndexModel> = match coll.list_indexes().await {
            Ok(c) => c.try_collect().await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let has_text = existing.iter().any(|i| {
            i.keys.contains_key("_fts") || i.keys.values().any(|v| v.as_str() == Some("text"))
        });
        if !has_text {
            let key = encode::path_key(schema, field, false);
            let opts = IndexOptions::builder()
                .name(format!("{field}_text"))
                .build();
            coll.create_index(
                IndexModel::builder()
                    .keys(doc! {key: "text"})
                    .options(opts)
                    .build(),
            )
            .await
            .map_err(|e| {
                Error::invalid_query(format!(
                    "$text needs a text index, which this MongoDB server cannot create: {e}"
                ))
            })?;
        }
        if let Ok(mut s) = self.text_ready.lock() {
            s.insert(schema.class_name.clone());
        }
        Ok(())
    }

    async fn create_index(
        &self,
        class: &str,
        keys: Document,
        name: &str,
        unique: bool,
        ci: bool,
    ) -> Result<()> {
        let mut opts = IndexOptions::builder().name(name.to_string()).build();
        if unique {
            opts.unique = Some(true);
            opts.sparse = Some(true);
        }
        if ci {
            opts.collation = Some(
                Collation::builder()
                    .locale("en_US")
                    .strength(CollationStrength::Secondary)
                    .build(),
            );
        }
        self.coll(class)
            .create_index(IndexModel::builder().keys(keys).options(opts).build())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// The indexes Parse Server creates for its system classes, plus geo indexes.
    async fn builtin_indexes(&self, schema: &ClassSchema) -> Result<()> {
        let class = schema.class_name.as_str();
        match class {
            "_User" => {
                self.create_index(class, doc! {"username": 1}, "username_1", true, false)
                    .await?;
                self.create_index(class, doc! {"email": 1}, "email_1", true, false)
                    .await?;
                if self.collation {
                    self.create_index(
                        class,
                        doc! {"username": 1},
                        "case_insensitive_username",
                        true,
                        true,
                    )
                    .await?;
                    self.create_index(
                        class,
                        doc! {"email": 1},
                        "case_insensitive_email",
                        true,
                        true,
                    )
                    .await?;
                }
            }
            "_Session" => {
                self.create_index(
                    class,
                    doc! {"_session_token": 1},
                    "_session_token_1",
                    true,
                    false,
                )
                .await?;
                self.create_index(class, doc! {"_p_user": 1}, "_p_user_1", false, false)
                    .await?;
            }
            "_Role" => {
                self.create_index(class, doc! {"name": 1}, "name_1", true, false)
                    .await?;
            }
            _ => {}
        }
        for (field, t) in &schema.fields {
            if matches!(t, FieldType::GeoPoint | FieldType::Polygon) {
                // FerretDB v1 has no geo indexes: geo queries then fail with a clear error.
                let r = self
                    .create_index(
                        class,
                        doc! {field.clone(): "2dsphere"},
                        &format!("{field}_2dsphere"),
                        false,
                        false,
                    )
                    .await;
                if let Err(e) = r {
                    tracing::debug!(class, field, error = %e, "no 2dsphere index");
                }
            }
        }
        Ok(())
    }

    /// Without collations: `_User` usernames and emails must still be unique ignoring case.
    async fn check_user_unique(
        &self,
        schema: &ClassSchema,
        obj: &Object,
        except: Option<&str>,
    ) -> Result<()> {
        if self.collation || schema.class_name != "_User" {
            return Ok(());
        }
        for key in ["username", "email"] {
            let Some(v) = obj.get(key).and_then(|v| v.as_str()) else {
                continue;
            };
            let mut f =
                doc! {key: {"$regex": format!("^{}$", filter::regex_escape(v)), "$options": "i"}};
            if let Some(id) = except {
                f.insert("_id", doc! {"$ne": id});
            }
            if self
                .coll("_User")
                .find_one(f)
                .await
                .map_err(db_err)?
                .is_some()
            {
                return Err(duplicate());
            }
        }
        Ok(())
    }

    async fn write_relations(
        &self,
        class: &str,
        id: &str,
        updates: &Updates,
        sess: &Option<Session>,
    ) -> Result<()> {
        for (field, op) in updates {
            let (ptrs, add) = match op {
                UpdateOp::AddRelation(p) => (p, true),
                UpdateOp::RemoveRelation(p) => (p, false),
                _ => continue,
            };
            let join = self.coll(&format!("_Join:{field}:{class}"));
            for (_, related) in ptrs {
                let key = doc! {"owningId": id, "relatedId": related.as_str()};
                if add {
                    run!(
                        sess,
                        join.update_one(key.clone(), doc! {"$set": key})
                            .upsert(true)
                    )
                    .map_err(db_err)?;
                } else {
                    run!(sess, join.delete_many(key)).map_err(db_err)?;
                }
            }
        }
        Ok(())
    }

    /// `$set`/`$unset`/`$inc`/`$push`/`$addToSet`/`$pullAll` for the non-relation operations.
    fn update_doc(&self, schema: &ClassSchema, updates: &Updates) -> Document {
        let mut ops: HashMap<&str, Document> = HashMap::new();
        let t = self.translator(schema);
        let _ = &t;
        for (path, op) in updates {
            let nested = path.contains('.');
            match op {
                UpdateOp::Set(v) => {
                    if nested {
                        let key = encode::path_key(schema, path, false);
                        ops.entry("$set")
                            .or_default()
                            .insert(key, encode::interior(v));
                    } else {
                        for (key, b) in encode::top_level(schema, path, v) {
                            match b {
                                Some(b) => ops.entry("$set").or_default().insert(key, b),
                                None => ops.entry("$unset").or_default().insert(key, ""),
                            };
                        }
                    }
                }
                UpdateOp::Delete => {
                    let key = encode::path_key(schema, path, false);
                    ops.entry("$unset").or_default().insert(key, "");
                }
                UpdateOp::Increment(n) => {
                    let key = encode::path_key(schema, path, false);
                    ops.entry("$inc")
                        .or_default()
                        .insert(key, encode::number(n));
                }
                UpdateOp::Add(items) | UpdateOp::AddUnique(items) => {
                    let key = encode::path_key(schema, path, false);
                    let each: Vec<Bson> = items.iter().map(encode::interior).collect();
                    let op = if matches!(op, UpdateOp::Add(_)) {
                        "$push"
                    } else {
                        "$addToSet"
                    };
                    ops.entry(op).or_default().insert(key, doc! {"$each": each});
                }
                UpdateOp::Remove(items) => {
                    let key = encode::path_key(schema, path, false);
                    let all: Vec<Bson> = items.iter().map(encode::interior).collect();
                    ops.entry("$pullAll").or_default().insert(key, all);
                }
                UpdateOp::AddRelation(_) | UpdateOp::RemoveRelation(_) => {}
            }
        }
        ops.into_iter()
            .map(|(k, v)| (k.to_string(), Bson::Document(v)))
            .collect()
    }
}

/// The fields a query result carries: everything, plus the text score when searching.
fn projection_for(has_text: bool) -> Option<Document> {
    has_text.then(|| doc! {"score": {"$meta": "textScore"}})
}

#[async_trait]
impl Storage for MongoStore {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    async fn load_schemas(&self) -> Result<Vec<ClassSchema>> {
        let docs: Vec<Document> = self
            .coll(SCHEMA)
            .find(doc! {})
            .await
            .map_err(db_err)?
            .try_collect()
            .await
            .map_err(db_err)?;
        let mut out = Vec::new();
        for d in &docs {
            if let Some(s) = schema_doc::from_document(d)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    async fn save_schema(&self, schema: &ClassSchema, _tx: Option<TxId>) -> Result<()> {
        // Collections and indexes cannot be created inside a MongoDB transaction: schema changes
        // are made outside it (a rolled-back batch may leave a new, empty class behind).
        let class = schema.class_name.as_str();
        let old = self
            .coll(SCHEMA)
            .find_one(doc! {"_id": class})
            .await
            .map_err(db_err)?
            .and_then(|d| schema_doc::from_document(&d).ok().flatten());
        let new_doc = schema_doc::to_document(schema);
        let exists = self
            .db
            .list_collection_names()
            .filter(doc! {"name": class})
            .await
            .map_err(db_err)?;
        if exists.is_empty() {
            if let Err(e) = self.db.create_collection(class).await {
                if !matches!(&*e.kind, mongodb::error::ErrorKind::Command(c) if c.code == 48) {
                    return Err(db_err(e));
                }
            }
        }
        self.builtin_indexes(schema).await?;
        for (name, spec) in &schema.indexes {
            if name == "_id_"
                || old
                    .as_ref()
                    .is_some_and(|o| o.indexes.get(name) == Some(spec))
            {
                continue;
            }
            let Some(keys) = spec.as_object() else {
                continue;
            };
            let mut d = Document::new();
            for (k, dir) in keys {
                d.insert(encode::path_key(schema, k, false), encode::interior(dir));
            }
            self.create_index(class, d, name, false, false).await?;
        }
        if let Some(old) = &old {
            for name in old.indexes.keys() {
                if !schema.indexes.contains_key(name) {
                    let _ = self.coll(class).drop_index(name.clone()).await;
                }
            }
        }
        // `$set` the class's entries (as Parse Server does) rather than replacing the document:
        // whatever else Parse keeps there stays.
        let mut set = new_doc.clone();
        set.remove("_id");
        let mut update = doc! {"$set": set};
        if let Some(old) = &old {
            let mut unset = Document::new();
            for k in old.fields.keys() {
                if !schema.fields.contains_key(k) {
                    unset.insert(k.clone(), "");
                }
            }
            if !unset.is_empty() {
                update.insert("$unset", unset);
            }
        }
        self.coll(SCHEMA)
            .update_one(doc! {"_id": class}, update)
            .upsert(true)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_class(&self, class: &str) -> Result<()> {
        if let Ok(mut s) = self.text_ready.lock() {
            s.remove(class);
        }
        let names = self.db.list_collection_names().await.map_err(db_err)?;
        for n in names {
            if n == class || (n.starts_with("_Join:") && n.ends_with(&format!(":{class}"))) {
                self.coll(&n).drop().await.map_err(db_err)?;
            }
        }
        self.coll(SCHEMA)
            .delete_one(doc! {"_id": class})
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn find(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Vec<Object>> {
        self.ensure_text_index(schema, &query.filter).await?;
        let mut texts = Vec::new();
        filter::text_fields(&query.filter, &mut texts);
        let (f, residual) = self.filter_parts(schema, &query.filter, false).await?;
        let sort = self.translator(schema).sort(&query.order);
        let coll = self.coll(&schema.class_name);
        let mut action = coll.find(f);
        if !sort.is_empty() {
            action = action.sort(sort);
        }
        if let Some(p) = projection_for(!texts.is_empty()) {
            action = action.projection(p);
        }
        if query.limit == Some(0) {
            return Ok(Vec::new());
        }
        if residual.is_empty() {
            if query.skip > 0 {
                action = action.skip(query.skip as u64);
            }
            if let Some(l) = query.limit {
                action = action.limit(i64::try_from(l).unwrap_or(i64::MAX));
            }
        }
        let docs: Vec<Document> = match self.session(tx)? {
            Some(s) => {
                let mut g = s.lock().await;
                let mut cursor = action.session(&mut *g).await.map_err(db_err)?;
                cursor.stream(&mut g).try_collect().await.map_err(db_err)?
            }
            None => action
                .await
                .map_err(db_err)?
                .try_collect()
                .await
                .map_err(db_err)?,
        };
        let objects = docs.iter().map(|d| encode::from_document(schema, d));
        if residual.is_empty() {
            return Ok(objects.collect());
        }
        let mut kept: Vec<Object> = objects
            .filter(|o| residual.iter().all(|r| r.matches(o)))
            .collect();
        if query.order.is_empty() {
            if let Some(near) = residual.iter().find(|r| matches!(r, Residual::Near { .. })) {
                kept.sort_by(|a, b| {
                    let (x, y) = (near.near_distance(a), near.near_distance(b));
                    x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
                });
            }
        }
        Ok(kept
            .into_iter()
            .skip(query.skip)
            .take(query.limit.unwrap_or(usize::MAX))
            .collect())
    }

    async fn count(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.ensure_text_index(schema, filter).await?;
        let (f, residual) = self.filter_parts(schema, filter, true).await?;
        if !residual.is_empty() {
            let all = self
                .find(schema, &StoreQuery::filter(filter.clone()), tx)
                .await?;
            return Ok(all.len() as u64);
        }
        let coll = self.coll(&schema.class_name);
        let sess = self.session(tx)?;
        run!(sess, coll.count_documents(f)).map_err(db_err)
    }

    async fn insert(&self, schema: &ClassSchema, object: Object, tx: Option<TxId>) -> Result<()> {
        let _serial = self.serialise().await;
        self.check_user_unique(schema, &object, None).await?;
        let d = encode::to_document(schema, &object);
        let coll = self.coll(&schema.class_name);
        let sess = self.session(tx)?;
        run!(sess, coll.insert_one(d)).map_err(db_err)?;
        Ok(())
    }

    async fn update(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
        tx: Option<TxId>,
    ) -> Result<Option<Updated>> {
        let sess = self.session(tx)?;
        let _serial = self.serialise().await;
        let (f, allowed) = self.write_filter(schema, filter, &sess).await?;
        if !allowed {
            return Ok(None);
        }
        if !self.collation && schema.class_name == "_User" {
            let mut changed = Object::new();
            for (k, op) in updates {
                if let (UpdateOp::Set(v), "username" | "email") = (op, k.as_str()) {
                    changed.insert(k.clone(), v.clone());
                }
            }
            if !changed.is_empty() {
                let target = run!(sess, self.coll(&schema.class_name).find_one(f.clone()))
                    .map_err(db_err)?;
                let id = target.as_ref().and_then(|d| d.get_str("_id").ok());
                self.check_user_unique(schema, &changed, id).await?;
            }
        }
        let u = self.update_doc(schema, updates);
        let coll = self.coll(&schema.class_name);
        let before = if u.is_empty() {
            run!(sess, coll.find_one(f)).map_err(db_err)?
        } else {
            run!(
                sess,
                coll.find_one_and_update(f, u)
                    .return_document(ReturnDocument::Before)
            )
            .map_err(db_err)?
        };
        let Some(before) = before else {
            return Ok(None);
        };
        let before = encode::from_document(schema, &before);
        let mut after = before.clone();
        update::apply(&mut after, updates)?;
        let id = before
            .get("objectId")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        self.write_relations(&schema.class_name, &id, updates, &sess)
            .await?;
        Ok(Some(Updated { before, after }))
    }

    async fn delete(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        let coll = self.coll(&schema.class_name);
        let sess = self.session(tx)?;
        let _serial = self.serialise().await;
        let (f, allowed) = self.write_filter(schema, filter, &sess).await?;
        if !allowed {
            return Ok(0);
        }
        let r = run!(sess, coll.delete_many(f)).map_err(db_err)?;
        Ok(r.deleted_count)
    }

    async fn delete_field(&self, schema: &ClassSchema, field: &str) -> Result<()> {
        let key = encode::path_key(schema, field, false);
        self.coll(&schema.class_name)
            .update_many(doc! {}, doc! {"$unset": {key: ""}})
            .await
            .map_err(db_err)?;
        if let Some(FieldType::Relation(_)) = schema.field(field) {
            let _ = self
                .coll(&format!("_Join:{field}:{}", schema.class_name))
                .drop()
                .await;
        }
        Ok(())
    }

    async fn purge(&self, schema: &ClassSchema) -> Result<()> {
        self.coll(&schema.class_name)
            .delete_many(doc! {})
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn explain(&self, schema: &ClassSchema, query: &StoreQuery) -> Result<Vec<String>> {
        // The query sent; checks left to Rust (FerretDB) are not part of the server's plan.
        let (f, _) = self.filter_parts(schema, &query.filter, false).await?;
        let sort = self.translator(schema).sort(&query.order);
        let mut find = doc! {"find": schema.class_name.clone(), "filter": f};
        if !sort.is_empty() {
            find.insert("sort", sort);
        }
        if let Some(l) = query.limit {
            find.insert("limit", i64::try_from(l).unwrap_or(i64::MAX));
        }
        if query.skip > 0 {
            find.insert("skip", i64::try_from(query.skip).unwrap_or(i64::MAX));
        }
        let r = self
            .db
            .run_command(doc! {"explain": find, "verbosity": "queryPlanner"})
            .await
            .map_err(db_err)?;
        let plan = r
            .get_document("queryPlanner")
            .ok()
            .and_then(|q| q.get("winningPlan").cloned())
            .unwrap_or_else(|| Bson::Document(r.clone()));
        Ok(vec![encode::interior_out(&plan).to_string()])
    }

    async fn begin(&self) -> Result<TxId> {
        if !self.transactions {
            return Err(Error::new(
                code::INTERNAL,
                "Transactions need a MongoDB replica set; this server (FerretDB or a standalone mongod) has none",
            ));
        }
        let mut s = self.client.start_session().await.map_err(db_err)?;
        s.start_transaction().await.map_err(db_err)?;
        let tx = TxId(self.next_tx.fetch_add(1, Ordering::Relaxed));
        self.sessions
            .lock()
            .map_err(|_| Error::internal("session map poisoned"))?
            .insert(tx.0, Arc::new(tokio::sync::Mutex::new(s)));
        Ok(tx)
    }

    async fn commit(&self, tx: TxId) -> Result<()> {
        let s = self.take_session(tx)?;
        let mut g = s.lock().await;
        g.commit_transaction().await.map_err(db_err)
    }

    async fn rollback(&self, tx: TxId) -> Result<()> {
        let s = self.take_session(tx)?;
        let mut g = s.lock().await;
        g.abort_transaction().await.map_err(db_err)
    }

    async fn close(&self) {
        self.client.clone().shutdown().await;
    }
}

/// `uri` with its database replaced by `db` (options kept).
pub fn with_database(uri: &str, db: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("mongodb", uri));
    let (hosts, tail) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{hosts}/{db}{query}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_in_uri() {
        assert_eq!(
            super::with_database("mongodb://h:1/", "x"),
            "mongodb://h:1/x"
        );
        assert_eq!(
            super::with_database("mongodb://h:1/a?b=c", "x"),
            "mongodb://h:1/x?b=c"
        );
        assert_eq!(super::with_database("mongodb://h", "x"), "mongodb://h/x");
    }
}
