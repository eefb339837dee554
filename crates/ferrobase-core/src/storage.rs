//! The storage trait: Parse-level operations every store implements (the embedded SQLite store,
//! MongoDB in Parse's layout). It speaks schemas, typed filters and typed updates — never SQL.
//!
//! Objects cross this boundary in Parse's wire form plus the internal fields the core adds:
//! `_rperm`/`_wperm` (arrays of principals, absent = public), `_hashed_password` and other
//! `_`-prefixed fields the core keeps private.

use crate::error::Result;
use crate::query::{Filter, StoreQuery};
use crate::schema::ClassSchema;
use crate::types::Object;
use crate::update::Updates;
use async_trait::async_trait;

/// An object before and after an update (LiveQuery needs both to tell enter/leave/update).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub before: Object,
    pub after: Object,
}

/// An open transaction (a `"transaction": true` batch). Operations that carry it run inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxId(pub u64);

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// A short name for logs and `serverInfo` (`sqlite`, `mongodb`).
    fn kind(&self) -> &'static str;

    /// Every stored class schema.
    async fn load_schemas(&self) -> Result<Vec<ClassSchema>>;
    /// Creates or replaces a class's schema, creating its table/collection and indexes (inside
    /// transaction `tx` when one is open, so that a rolled-back batch leaves no half class).
    async fn save_schema(&self, schema: &ClassSchema, tx: Option<TxId>) -> Result<()>;
    /// Drops a class with its data and schema.
    async fn delete_class(&self, class: &str) -> Result<()>;

    async fn find(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Vec<Object>>;
    async fn count(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64>;
    /// Like `find`, but each object already as its JSON text in the stored (wire) form:
    /// `objectId`, `createdAt`, `updatedAt` and the stored fields, without `_rperm`/`_wperm`.
    /// For answers that need nothing removed or added (the caller decides); `None` when the store
    /// has no such fast path (the caller then uses `find`).
    async fn find_json(
        &self,
        _schema: &ClassSchema,
        _query: &StoreQuery,
        _tx: Option<TxId>,
    ) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
    /// Inserts a new object. A unique-index violation is error 137.
    async fn insert(&self, schema: &ClassSchema, object: Object, tx: Option<TxId>) -> Result<()>;
    /// Atomically applies `updates` to the one object matching `filter` (which names its objectId)
    /// and returns it as it was before and as stored afterwards, or `None` if nothing matched. Relation ops write the
    /// join table `_Join:<field>:<class>`.
    async fn update(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
        tx: Option<TxId>,
    ) -> Result<Option<Updated>>;
    /// Deletes the objects matching `filter`; returns how many.
    async fn delete(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64>;
    /// Removes a field's values from every object of a class (the schema API's field delete).
    async fn delete_field(&self, schema: &ClassSchema, field: &str) -> Result<()>;
    /// Removes every object of a class, keeping its schema.
    async fn purge(&self, schema: &ClassSchema) -> Result<()>;

    /// How the store would run a query (`explain=true`, the slow-query log): one line per step.
    async fn explain(&self, schema: &ClassSchema, query: &StoreQuery) -> Result<Vec<String>>;

    async fn begin(&self) -> Result<TxId>;
    async fn commit(&self, tx: TxId) -> Result<()>;
    async fn rollback(&self, tx: TxId) -> Result<()>;

    /// Flushes and closes the store (graceful shutdown).
    async fn close(&self);
}
