//! A reference store in memory (feature `testing`): the `Storage` trait built on the core's own
//! matcher (`matcher.rs`) and update ops (`update.rs`), so the core can be tested without a
//! database and the conformance suite pins down the matcher's semantics against the same checks
//! every real store passes. Not for production: one lock, whole-state copies for transactions.

use crate::error::{code, Error, Result};
use crate::matcher;
use crate::query::{Cond, Filter, Scalar, StoreQuery};
use crate::schema::ClassSchema;
use crate::storage::{Storage, TxId, Updated};
use crate::types::Object;
use crate::update::{self, UpdateOp, Updates};
use async_trait::async_trait;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

#[derive(Debug, Clone, Default)]
struct State {
    schemas: BTreeMap<String, ClassSchema>,
    /// class → objectId → stored object.
    rows: HashMap<String, BTreeMap<String, Object>>,
    /// `_Join:<field>:<class>` → (owningId, relatedId).
    joins: HashMap<String, BTreeSet<(String, String)>>,
}

/// The in-memory store.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    txs: Mutex<HashMap<u64, State>>,
    next_tx: AtomicU64,
}

fn duplicate() -> Error {
    Error::new(
        code::DUPLICATE_VALUE,
        "A duplicate value for a field with unique values was provided",
    )
}

fn join_name(field: &str, class: &str) -> String {
    format!("_Join:{field}:{class}")
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Runs `f` on the state a write or read with `tx` sees.
    fn with<T>(&self, tx: Option<TxId>, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        match tx {
            None => f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner)),
            Some(TxId(id)) => {
                let mut txs = self.txs.lock().unwrap_or_else(PoisonError::into_inner);
                let state = txs
                    .get_mut(&id)
                    .ok_or_else(|| Error::internal("unknown transaction"))?;
                f(state)
            }
        }
    }
}

/// Replaces relation conditions (which need the join tables) by `objectId $in` lists.
fn resolve(state: &State, class: &str, f: &Filter) -> Filter {
    let ids = |v: Vec<String>| Filter::Field {
        path: "objectId".into(),
        cond: Cond::In(v.into_iter().map(Scalar::String).collect()),
    };
    match f {
        Filter::And(v) => Filter::And(v.iter().map(|x| resolve(state, class, x)).collect()),
        Filter::Or(v) => Filter::Or(v.iter().map(|x| resolve(state, class, x)).collect()),
        Filter::Nor(v) => Filter::Nor(v.iter().map(|x| resolve(state, class, x)).collect()),
        Filter::RelatedTo {
            owner_class,
            owner_id,
            field,
        } => ids(state
            .joins
            .get(&join_name(field, owner_class))
            .map(|j| {
                j.iter()
                    .filter(|(o, _)| o == owner_id)
                    .map(|(_, r)| r.clone())
                    .collect()
            })
            .unwrap_or_default()),
        Filter::RelationContains { field, related_id } => ids(state
            .joins
            .get(&join_name(field, class))
            .map(|j| {
                j.iter()
                    .filter(|(_, r)| r == related_id)
                    .map(|(o, _)| o.clone())
                    .collect()
            })
            .unwrap_or_default()),
        other => other.clone(),
    }
}

/// The first `$nearSphere` of a filter: results go nearest first.
fn near_of(f: &Filter) -> Option<(&str, crate::query::GeoPoint)> {
    match f {
        Filter::Field {
            path,
            cond: Cond::NearSphere { point, .. },
        } => Some((path.as_str(), *point)),
        Filter::And(items) => items.iter().find_map(near_of),
        _ => None,
    }
}

fn distance(o: &Object, path: &str, p: crate::query::GeoPoint) -> f64 {
    let point = o.get(path);
    match (
        point
            .and_then(|v| v.get("latitude"))
            .and_then(Value::as_f64),
        point
            .and_then(|v| v.get("longitude"))
            .and_then(Value::as_f64),
    ) {
        (Some(lat), Some(lng)) => crate::geo::distance_radians(lat, lng, p.lat, p.lng),
        _ => f64::INFINITY,
    }
}

fn matching<'a>(
    state: &'a State,
    schema: &ClassSchema,
    filter: &Filter,
) -> impl Iterator<Item = &'a Object> {
    let f = resolve(state, &schema.class_name, filter);
    let schema = schema.clone();
    state
        .rows
        .get(&schema.class_name)
        .into_iter()
        .flat_map(|r| r.values())
        .filter(move |o| matcher::matches(&schema, &f, o))
}

/// `_User` usernames and emails are unique regardless of case, objectIds always.
fn check_unique(rows: &BTreeMap<String, Object>, class: &str, o: &Object) -> Result<()> {
    if class != "_User" {
        return Ok(());
    }
    let id = o.get("objectId");
    for field in ["username", "email"] {
        let Some(v) = o.get(field).and_then(Value::as_str) else {
            continue;
        };
        let taken = rows.values().any(|other| {
            other.get("objectId") != id
                && other
                    .get(field)
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.to_lowercase() == v.to_lowercase())
        });
        if taken {
            return Err(duplicate());
        }
    }
    Ok(())
}

#[async_trait]
impl Storage for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn load_schemas(&self) -> Result<Vec<ClassSchema>> {
        self.with(None, |s| Ok(s.schemas.values().cloned().collect()))
    }

    async fn save_schema(&self, schema: &ClassSchema, tx: Option<TxId>) -> Result<()> {
        self.with(tx, |s| {
            s.schemas.insert(schema.class_name.clone(), schema.clone());
            s.rows.entry(schema.class_name.clone()).or_default();
            Ok(())
        })
    }

    async fn delete_class(&self, class: &str) -> Result<()> {
        self.with(None, |s| {
            s.schemas.remove(class);
            s.rows.remove(class);
            let suffix = format!(":{class}");
            s.joins.retain(|k, _| !k.ends_with(&suffix));
            Ok(())
        })
    }

    async fn find(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        tx: Option<TxId>,
    ) -> Result<Vec<Object>> {
        self.with(tx, |s| {
            let mut found: Vec<Object> = matching(s, schema, &query.filter).cloned().collect();
            if query.order.is_empty() {
                if let Some((path, p)) = near_of(&query.filter) {
                    found.sort_by(|a, b| distance(a, path, p).total_cmp(&distance(b, path, p)));
                }
            } else {
                found.sort_by(|a, b| {
                    for k in &query.order {
                        let o = matcher::sort_cmp(schema, a, b, &k.path);
                        let o = if k.descending { o.reverse() } else { o };
                        if o != std::cmp::Ordering::Equal {
                            return o;
                        }
                    }
                    std::cmp::Ordering::Equal
                });
            }
            Ok(found
                .into_iter()
                .skip(query.skip)
                .take(query.limit.unwrap_or(usize::MAX))
                .collect())
        })
    }

    async fn count(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.with(tx, |s| Ok(matching(s, schema, filter).count() as u64))
    }

    async fn insert(&self, schema: &ClassSchema, object: Object, tx: Option<TxId>) -> Result<()> {
        self.with(tx, |s| {
            let id = object
                .get("objectId")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::internal("object without objectId"))?
                .to_string();
            let rows = s.rows.entry(schema.class_name.clone()).or_default();
            if rows.contains_key(&id) {
                return Err(duplicate());
            }
            check_unique(rows, &schema.class_name, &object)?;
            rows.insert(id, object);
            Ok(())
        })
    }

    async fn update(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        updates: &Updates,
        tx: Option<TxId>,
    ) -> Result<Option<Updated>> {
        self.with(tx, |s| {
            let Some(before) = matching(s, schema, filter).next().cloned() else {
                return Ok(None);
            };
            let id = before
                .get("objectId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (relations, plain): (Updates, Updates) = updates
                .iter()
                .cloned()
                .partition(|(_, op)| op.is_relation());
            let mut after = before.clone();
            update::apply(&mut after, &plain)?;
            let class = schema.class_name.clone();
            let rows = s.rows.entry(class.clone()).or_default();
            check_unique(rows, &class, &after)?;
            rows.insert(id.clone(), after.clone());
            for (field, op) in relations {
                let join = s.joins.entry(join_name(&field, &class)).or_default();
                match op {
                    UpdateOp::AddRelation(targets) => {
                        for (_, related) in targets {
                            join.insert((id.clone(), related));
                        }
                    }
                    UpdateOp::RemoveRelation(targets) => {
                        for (_, related) in targets {
                            join.remove(&(id.clone(), related));
                        }
                    }
                    _ => {}
                }
            }
            Ok(Some(Updated { before, after }))
        })
    }

    async fn delete(&self, schema: &ClassSchema, filter: &Filter, tx: Option<TxId>) -> Result<u64> {
        self.with(tx, |s| {
            let doomed: Vec<String> = matching(s, schema, filter)
                .filter_map(|o| o.get("objectId").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            if let Some(rows) = s.rows.get_mut(&schema.class_name) {
                for id in &doomed {
                    rows.remove(id);
                }
            }
            Ok(doomed.len() as u64)
        })
    }

    async fn delete_field(&self, schema: &ClassSchema, field: &str) -> Result<()> {
        self.with(None, |s| {
            for o in s
                .rows
                .get_mut(&schema.class_name)
                .into_iter()
                .flat_map(|r| r.values_mut())
            {
                o.remove(field);
            }
            s.joins.remove(&join_name(field, &schema.class_name));
            Ok(())
        })
    }

    async fn purge(&self, schema: &ClassSchema) -> Result<()> {
        self.with(None, |s| {
            if let Some(rows) = s.rows.get_mut(&schema.class_name) {
                rows.clear();
            }
            Ok(())
        })
    }

    async fn explain(&self, schema: &ClassSchema, _query: &StoreQuery) -> Result<Vec<String>> {
        Ok(vec![format!(
            "memory: scan of every {} object",
            schema.class_name
        )])
    }

    async fn begin(&self) -> Result<TxId> {
        let id = self.next_tx.fetch_add(1, Ordering::Relaxed);
        let snapshot = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.txs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, snapshot);
        Ok(TxId(id))
    }

    /// The transaction's state becomes the store's (writes made meanwhile outside it are lost:
    /// fine for tests, which is all this store is for).
    async fn commit(&self, tx: TxId) -> Result<()> {
        let state = self
            .txs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tx.0)
            .ok_or_else(|| Error::internal("unknown transaction"))?;
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        Ok(())
    }

    async fn rollback(&self, tx: TxId) -> Result<()> {
        self.txs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&tx.0);
        Ok(())
    }

    async fn close(&self) {}
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::storage::Storage;
    use std::sync::Arc;

    /// The reference store passes the same conformance suite as every real store.
    #[tokio::test]
    async fn memory_store_passes_the_conformance_suite() {
        let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
        crate::conformance::run(store).await;
    }
}
