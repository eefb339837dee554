//! Reads: find, get, count, include and keys (Parse Server's RestQuery).

use super::triggers::BeforeFind;
use super::{clp, output, Core, Ctx};
use crate::error::{code, Error, Result};
use crate::hooks::Trigger;
use crate::query::{parse_order, parse_where, Cond, Filter, Scalar, SortKey, StoreQuery, SubQuery};
use crate::schema::{ClassSchema, FieldType};
use crate::types::{as_pointer, Object};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

/// A query's options as the client sent them (URL parameters or the SDK's POST body).
#[derive(Debug, Clone, Default)]
pub struct FindOptions {
    pub where_: Option<Value>,
    pub order: Option<String>,
    pub limit: Option<i64>,
    pub skip: Option<i64>,
    pub keys: Option<String>,
    pub exclude_keys: Option<String>,
    pub include: Option<String>,
    pub count: bool,
    /// `explain=true`: answer the store's plan instead of results (master key).
    pub explain: bool,
}

#[derive(Debug, Clone, Default)]
pub struct FindResult {
    pub results: Vec<Object>,
    pub count: Option<u64>,
}

/// What [`Core::find_wire`] answers: objects, or the objects' JSON text as stored.
pub enum FindWire {
    Objects(FindResult),
    Json {
        results: Vec<String>,
        count: Option<u64>,
    },
}

/// A find after its checks: answered already, or a query to run.
enum Planned {
    Answered(FindResult),
    Run {
        schema: std::sync::Arc<ClassSchema>,
        query: StoreQuery,
        count: Option<u64>,
    },
}

fn split_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect()
}

impl Core {
    /// The filter a principal's query runs with: the client's `where`, relation lookups, and the
    /// ACL read filter (unless master).
    pub(super) fn read_filter(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        where_: Option<&Value>,
    ) -> Result<Filter> {
        let parsed = match where_ {
            None | Some(Value::Null) => Filter::True,
            Some(w) => parse_where(w)?,
        };
        let mut f = rewrite_relation_equality(schema, parsed);
        if !ctx.auth.master {
            if schema.class_name == "_Session" {
                let uid = ctx
                    .auth
                    .user_id()
                    .ok_or_else(|| Error::new(code::INVALID_SESSION_TOKEN, "Permission denied"))?;
                f = f.and(Filter::eq(
                    "user",
                    Scalar::Pointer {
                        class: "_User".into(),
                        id: uid.into(),
                    },
                ));
            }
            f = f.and(Filter::ReadableBy(ctx.auth.principals()));
        }
        Ok(f)
    }

    pub async fn find(&self, ctx: &Ctx, class: &str, opts: &FindOptions) -> Result<FindResult> {
        super::enforce_class_security("find", class, &ctx.auth)?;
        let changed = match self.before_find(ctx, class, opts, false).await? {
            None => None,
            Some(BeforeFind::Objects(results)) => {
                let results = self.readable_of(ctx, class, results).await?;
                return Ok(FindResult {
                    results,
                    count: None,
                });
            }
            Some(BeforeFind::Query(o)) => Some(o),
        };
        let opts = changed.as_ref().unwrap_or(opts);
        let mut found = match self.plan_find(ctx, class, opts).await? {
            Planned::Answered(r) => r,
            Planned::Run {
                schema,
                query,
                count,
            } => self.read_objects(ctx, &schema, &query, count, opts).await?,
        };
        if !found.results.is_empty() {
            found.results = self.after_find(ctx, class, opts, found.results).await?;
        }
        Ok(found)
    }

    /// Objects a beforeFind answered, kept only where the caller may read the stored object of
    /// that id (Parse queries them again with the caller's rights); the master key sees all.
    async fn readable_of(
        &self,
        ctx: &Ctx,
        class: &str,
        objects: Vec<Object>,
    ) -> Result<Vec<Object>> {
        if ctx.auth.master {
            return Ok(objects);
        }
        if self.schema_fresh(class).await.is_none() {
            return Ok(Vec::new());
        }
        let ids: Vec<Value> = objects
            .iter()
            .filter_map(|o| o.get("objectId").cloned())
            .collect();
        let by_id = FindOptions {
            where_: Some(serde_json::json!({ "objectId": { "$in": ids } })),
            limit: Some(i64::try_from(objects.len()).unwrap_or(i64::MAX)),
            keys: Some("objectId".into()),
            ..FindOptions::default()
        };
        let found: HashSet<String> = match self.plan_find(ctx, class, &by_id).await? {
            Planned::Answered(r) => r.results,
            Planned::Run { schema, query, .. } => self.store.find(&schema, &query, ctx.tx).await?,
        }
        .iter()
        .filter_map(|o| {
            o.get("objectId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
        Ok(objects
            .into_iter()
            .filter(|o| {
                o.get("objectId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| found.contains(id))
            })
            .collect())
    }

    /// Reads the rows of a planned find as objects and turns them into what the caller may see.
    async fn read_objects(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        query: &StoreQuery,
        count: Option<u64>,
        opts: &FindOptions,
    ) -> Result<FindResult> {
        let started = std::time::Instant::now();
        let rows = self.store.find(schema, query, ctx.tx).await?;
        self.after_query(schema, query, started).await;
        let results = self.finish_read(ctx, schema, rows, opts).await?;
        Ok(FindResult { results, count })
    }

    /// `find` for an HTTP answer: when nothing has to be removed from or added to the stored
    /// objects (see [`Self::wire_ready`]), the objects come back as the store's JSON text, without
    /// being parsed and serialised again (a third of a query's CPU).
    pub async fn find_wire(&self, ctx: &Ctx, class: &str, opts: &FindOptions) -> Result<FindWire> {
        super::enforce_class_security("find", class, &ctx.auth)?;
        if self.has_hook(class, Trigger::BeforeFind) || self.has_hook(class, Trigger::AfterFind) {
            return Ok(FindWire::Objects(self.find(ctx, class, opts).await?));
        }
        let (schema, query, count) = match self.plan_find(ctx, class, opts).await? {
            Planned::Answered(r) => return Ok(FindWire::Objects(r)),
            Planned::Run {
                schema,
                query,
                count,
            } => (schema, query, count),
        };
        if self.wire_ready(ctx, &schema, opts) {
            let started = std::time::Instant::now();
            if let Some(json) = self.store.find_json(&schema, &query, ctx.tx).await? {
                self.after_query(&schema, &query, started).await;
                return Ok(FindWire::Json {
                    results: json,
                    count,
                });
            }
        }
        Ok(FindWire::Objects(
            self.read_objects(ctx, &schema, &query, count, opts).await?,
        ))
    }

    /// Whether `output::to_client` and `finish_read` would leave the stored objects of this query
    /// as they are: a class of the app (system classes have private fields), no field it strips
    /// (`password`, `score`) or fills in (File URLs, Relation markers), no protected fields for
    /// this caller, and no `include`/`keys`/`excludeKeys`.
    fn wire_ready(&self, ctx: &Ctx, schema: &ClassSchema, opts: &FindOptions) -> bool {
        !schema.class_name.starts_with('_')
            && opts.include.is_none()
            && opts.keys.is_none()
            && opts.exclude_keys.is_none()
            && !schema.fields.iter().any(|(name, t)| {
                matches!(t, FieldType::File | FieldType::Relation(_))
                    || name == "password"
                    || name == "score"
                    || name.starts_with('_')
            })
            && (ctx.auth.master || !clp::hides_any(schema))
    }

    /// The slow-query log, after a query.
    async fn after_query(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        started: std::time::Instant,
    ) {
        if let Some(slow) = self.config.slow_query_ms {
            if started.elapsed().as_millis() >= u128::from(slow) {
                self.log_slow_query(schema, query, started.elapsed()).await;
            }
        }
    }

    /// A read of a class that does not exist yet, as Parse's `validateClientClassCreation`: the
    /// master key, a system class, or `--allow-client-class-creation` read nothing (an empty
    /// list, count 0, 101 for one object); any other client is refused (119 "Permission denied").
    fn check_missing_class_access(&self, ctx: &Ctx, class: &str) -> Result<()> {
        if ctx.auth.master {
            return Ok(());
        }
        let system = crate::schema::SYSTEM_CLASSES.contains(&class);
        if class.starts_with("_Join:") || !(system || self.config.allow_client_class_creation) {
            tracing::debug!(
                class,
                "This user is not allowed to access non-existent class"
            );
            return Err(Error::forbidden_op("Permission denied"));
        }
        Ok(())
    }

    /// Everything `find` does before reading the rows: permissions, the filter, the count.
    async fn plan_find(&self, ctx: &Ctx, class: &str, opts: &FindOptions) -> Result<Planned> {
        let Some(schema) = self.schema_fresh(class).await else {
            self.check_missing_class_access(ctx, class)?;
            if !crate::schema::class_name_is_valid(class) {
                return Err(Error::new(
                    code::INVALID_CLASS_NAME,
                    crate::schema::invalid_class_name_message(class),
                ));
            }
            return Ok(Planned::Answered(FindResult {
                results: Vec::new(),
                count: opts.count.then_some(0),
            }));
        };
        let limit = match opts.limit {
            None => self.config.default_limit,
            Some(l) if l < 0 => {
                return Err(Error::invalid_query("Invalid limit: must be 0 or more"))
            }
            Some(l) => usize::try_from(l).unwrap_or(usize::MAX),
        };
        let limit = self.config.max_limit.map_or(limit, |m| limit.min(m));
        let skip = match opts.skip {
            None => 0,
            Some(s) if s < 0 => {
                return Err(Error::invalid_query("Invalid skip: must be 0 or more"))
            }
            Some(s) => usize::try_from(s).unwrap_or(usize::MAX),
        };
        let count_only = opts.count && limit == 0;
        let access = clp::check(
            &schema,
            if count_only { "count" } else { "find" },
            &ctx.auth,
        )?;
        if opts.count && !count_only {
            // Counting needs its own permission; the find permission already limits the rows.
            let _ = clp::check(&schema, "count", &ctx.auth)?;
        }
        let order = parse_order(opts.order.as_deref().unwrap_or_default())?;
        let filter = self.read_filter(ctx, &schema, opts.where_.as_ref())?;
        refuse_protected(&schema, ctx, &filter, &order)?;
        let filter = filter.and(access.filter(&ctx.auth));
        let filter = self.resolve_subqueries(ctx, filter, 0).await?;
        let count = if opts.count {
            // A filtered count is served from an index that covers the filter and the ACL check.
            self.auto_index(&schema, &StoreQuery::filter(filter.clone()))
                .await;
            Some(self.store.count(&schema, &filter, ctx.tx).await?)
        } else {
            None
        };
        if limit == 0 {
            return Ok(Planned::Answered(FindResult {
                results: Vec::new(),
                count,
            }));
        }
        let order = parse_order(opts.order.as_deref().unwrap_or_default())?;
        if opts.explain {
            if !ctx.auth.master {
                return Err(Error::Forbidden("Permission denied".into()));
            }
            let plan = self
                .store
                .explain(
                    &schema,
                    &StoreQuery {
                        filter,
                        order,
                        limit: Some(limit),
                        skip,
                    },
                )
                .await?;
            let mut o = Object::new();
            o.insert(
                "plan".into(),
                Value::Array(plan.into_iter().map(Value::String).collect()),
            );
            return Ok(Planned::Answered(FindResult {
                results: vec![o],
                count: None,
            }));
        }
        let query = StoreQuery {
            filter,
            order,
            limit: Some(limit),
            skip,
        };
        self.auto_index(&schema, &query).await;
        Ok(Planned::Run {
            schema,
            query,
            count,
        })
    }

    pub async fn get(
        &self,
        ctx: &Ctx,
        class: &str,
        id: &str,
        opts: &FindOptions,
    ) -> Result<Object> {
        super::enforce_class_security("get", class, &ctx.auth)?;
        let Some(schema) = self.schema_fresh(class).await else {
            self.check_missing_class_access(ctx, class)?;
            return Err(Error::not_found());
        };
        let access = clp::check(&schema, "get", &ctx.auth)?;
        // A beforeFind sees a get as a query on the objectId, and may narrow it.
        let changed = if self.has_hook(class, Trigger::BeforeFind) {
            let by_id = FindOptions {
                where_: Some(serde_json::json!({ "objectId": id })),
                ..opts.clone()
            };
            match self.before_find(ctx, class, &by_id, true).await? {
                None => None,
                Some(BeforeFind::Objects(objects)) => {
                    return self
                        .readable_of(ctx, class, objects)
                        .await?
                        .pop()
                        .ok_or_else(Error::not_found)
                }
                Some(BeforeFind::Query(o)) => Some(o),
            }
        } else {
            None
        };
        let where_ = changed.as_ref().and_then(|o| o.where_.as_ref());
        let opts = changed.as_ref().unwrap_or(opts);
        let filter = self
            .read_filter(ctx, &schema, where_)?
            .and(Filter::object_id(id))
            .and(access.filter(&ctx.auth));
        let mut q = StoreQuery::filter(filter);
        q.limit = Some(1);
        let rows = self.store.find(&schema, &q, ctx.tx).await?;
        if rows.is_empty() {
            return Err(Error::not_found());
        }
        let results = self.finish_read(ctx, &schema, rows, opts).await?;
        self.after_find(ctx, class, opts, results)
            .await?
            .pop()
            .ok_or_else(Error::not_found)
    }

    /// Runs the sub-queries (`$inQuery`, `$select`, …) of a filter, with the caller's rights, and
    /// replaces them by plain `In`/`Nin` conditions.
    fn resolve_subqueries<'a>(
        &'a self,
        ctx: &'a Ctx,
        f: Filter,
        depth: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Filter>> + Send + 'a>> {
        Box::pin(async move {
            if depth > 8 {
                return Err(Error::invalid_query("sub-queries are nested too deeply"));
            }
            let all = |v: Vec<Filter>| async move {
                let mut out = Vec::with_capacity(v.len());
                for x in v {
                    out.push(self.resolve_subqueries(ctx, x, depth).await?);
                }
                Ok::<_, Error>(out)
            };
            Ok(match f {
                Filter::And(v) => Filter::And(all(v).await?),
                Filter::Or(v) => Filter::Or(all(v).await?),
                Filter::Nor(v) => Filter::Nor(all(v).await?),
                Filter::Field {
                    path,
                    cond: Cond::InQuery(q),
                } => Filter::Field {
                    path,
                    cond: Cond::In(self.sub_pointers(ctx, &q, depth).await?),
                },
                Filter::Field {
                    path,
                    cond: Cond::NotInQuery(q),
                } => Filter::Field {
                    path,
                    cond: Cond::Nin(self.sub_pointers(ctx, &q, depth).await?),
                },
                Filter::Field {
                    path,
                    cond: Cond::Select { query, key },
                } => Filter::Field {
                    path,
                    cond: Cond::In(self.sub_values(ctx, &query, &key, depth).await?),
                },
                Filter::Field {
                    path,
                    cond: Cond::DontSelect { query, key },
                } => Filter::Field {
                    path,
                    cond: Cond::Nin(self.sub_values(ctx, &query, &key, depth).await?),
                },
                other => other,
            })
        })
    }

    async fn sub_find(&self, ctx: &Ctx, q: &SubQuery, depth: usize) -> Result<Vec<Object>> {
        let Some(schema) = self.schema(&q.class_name) else {
            return Ok(Vec::new());
        };
        let access = clp::check(&schema, "find", &ctx.auth)?;
        let filter = self.read_filter(ctx, &schema, Some(&q.where_))?;
        refuse_protected(&schema, ctx, &filter, &[])?;
        let filter = filter.and(access.filter(&ctx.auth));
        let filter = self.resolve_subqueries(ctx, filter, depth + 1).await?;
        let rows = self
            .store
            .find(&schema, &StoreQuery::filter(filter), ctx.tx)
            .await?;
        Ok(rows
            .into_iter()
            .map(|o| output::to_client(&schema, o, &ctx.auth, &self.config))
            .collect())
    }

    async fn sub_pointers(&self, ctx: &Ctx, q: &SubQuery, depth: usize) -> Result<Vec<Scalar>> {
        Ok(self
            .sub_find(ctx, q, depth)
            .await?
            .iter()
            .filter_map(|o| o.get("objectId").and_then(Value::as_str))
            .map(|id| Scalar::Pointer {
                class: q.class_name.clone(),
                id: id.to_string(),
            })
            .collect())
    }

    async fn sub_values(
        &self,
        ctx: &Ctx,
        q: &SubQuery,
        key: &str,
        depth: usize,
    ) -> Result<Vec<Scalar>> {
        let mut out = Vec::new();
        for o in self.sub_find(ctx, q, depth).await? {
            if let Some(v) = crate::update::get_path(&o, key) {
                let s = crate::query::scalar(v)?;
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        Ok(out)
    }

    /// Sanitises, includes pointers, and applies `keys`/`excludeKeys`.
    async fn finish_read(
        &self,
        ctx: &Ctx,
        schema: &ClassSchema,
        rows: Vec<Object>,
        opts: &FindOptions,
    ) -> Result<Vec<Object>> {
        let mut results: Vec<Object> = rows
            .into_iter()
            .map(|o| output::to_client(schema, o, &ctx.auth, &self.config))
            .collect();
        let keys = split_list(&opts.keys);
        let mut includes: Vec<Vec<String>> = Vec::new();
        for inc in split_list(&opts.include) {
            if inc == "*" {
                for (name, t) in &schema.fields {
                    // Parse's `include=*`: every Pointer and every Array (of pointers) field.
                    if matches!(t, FieldType::Pointer(_) | FieldType::Array) {
                        includes.push(vec![name.clone()]);
                    }
                }
                continue;
            }
            let parts: Vec<String> = inc.split('.').map(str::to_string).collect();
            if parts.len() > self.config.max_include_depth {
                return Err(Error::invalid_query(format!(
                    "include path {inc} is too deep"
                )));
            }
            // `a.b.c` needs `a` and `a.b` first.
            for n in 1..=parts.len() {
                includes.push(parts[..n].to_vec());
            }
        }
        includes.sort_by_key(Vec::len);
        includes.dedup();
        for path in &includes {
            let sub_keys: Vec<String> = keys
                .iter()
                .filter_map(|k| k.strip_prefix(&format!("{}.", path.join("."))))
                .map(|rest| rest.split('.').next().unwrap_or(rest).to_string())
                .collect();
            self.include_path(ctx, &mut results, path, &sub_keys)
                .await?;
        }
        // A `$text` search adds its relevance as `score`; it is returned when asked for.
        let wants_score = keys.iter().any(|k| k == "$score")
            || opts.order.as_deref().is_some_and(|o| o.contains("$score"));
        if !wants_score && !schema.fields.contains_key("score") {
            for o in &mut results {
                o.remove("score");
            }
        }
        if !keys.is_empty() {
            let top: Vec<String> = keys
                .iter()
                .map(|k| {
                    if k == "$score" {
                        "score"
                    } else {
                        k.split('.').next().unwrap_or(k)
                    }
                    .to_string()
                })
                .collect();
            for o in &mut results {
                output::project(o, &top);
            }
        }
        let exclude = split_list(&opts.exclude_keys);
        if !exclude.is_empty() {
            for o in &mut results {
                o.retain(|k, _| !exclude.iter().any(|x| x == k));
            }
        }
        Ok(results)
    }

    /// Replaces the pointers found at `path` by the objects they point to (those the caller may read).
    async fn include_path(
        &self,
        ctx: &Ctx,
        results: &mut [Object],
        path: &[String],
        keys: &[String],
    ) -> Result<()> {
        let mut wanted: HashMap<String, HashSet<String>> = HashMap::new();
        for o in results.iter() {
            collect_pointers(o, path, &mut wanted);
        }
        let mut found: HashMap<(String, String), Value> = HashMap::new();
        let mut looked_up: HashSet<String> = HashSet::new();
        for (class, ids) in wanted {
            let Some(schema) = self.schema(&class) else {
                continue;
            };
            let Ok(access) = clp::check(&schema, "get", &ctx.auth) else {
                continue;
            };
            looked_up.insert(class.clone());
            let ids: Vec<Scalar> = ids.into_iter().map(Scalar::String).collect();
            let n = ids.len();
            let filter = self
                .read_filter(ctx, &schema, None)?
                .and(access.filter(&ctx.auth))
                .and(Filter::Field {
                    path: "objectId".into(),
                    cond: Cond::In(ids),
                });
            let mut q = StoreQuery::filter(filter);
            q.limit = Some(n);
            for row in self.store.find(&schema, &q, ctx.tx).await? {
                let mut obj = output::to_client(&schema, row, &ctx.auth, &self.config);
                if !keys.is_empty() {
                    output::project(&mut obj, keys);
                }
                let id = obj
                    .get("objectId")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                obj.insert("__type".into(), Value::String("Object".into()));
                obj.insert("className".into(), Value::String(class.clone()));
                found.insert((class.clone(), id), Value::Object(obj));
            }
        }
        if !looked_up.is_empty() {
            for o in results.iter_mut() {
                replace_pointers(o, path, &found, &looked_up);
            }
        }
        Ok(())
    }
}

impl Core {
    /// Automatic indexes: the first time a query filters or sorts on a scalar field that no index
    /// starts with, and the class holds at least `auto_index_min_rows` objects, an index
    /// `auto_<field>` is added through the schema (visible and removable with `/schemas`).
    async fn auto_index(&self, schema: &ClassSchema, query: &StoreQuery) {
        let Some(min_rows) = self.config.auto_index_min_rows else {
            return;
        };
        let scalar = |f: &str| {
            matches!(
                schema.field(f),
                Some(
                    FieldType::String
                        | FieldType::Number
                        | FieldType::Date
                        | FieldType::Boolean
                        | FieldType::Pointer(_)
                )
            ) && !matches!(f, "objectId" | "createdAt" | "updatedAt")
        };
        let conds: Vec<&Filter> = match &query.filter {
            Filter::And(items) => items.iter().collect(),
            other => vec![other],
        };
        let order = query
            .order
            .first()
            .map(|k| k.path.clone())
            .filter(|p| scalar(p));
        // Candidates: `equality field + sort field` (one index serves both), then each field.
        let mut candidates: Vec<Vec<String>> = Vec::new();
        if let Some(o) = &order {
            for c in &conds {
                if let Filter::Field {
                    path,
                    cond: Cond::Eq(_),
                } = c
                {
                    if scalar(path) && path != o {
                        candidates.push(vec![path.clone(), o.clone()]);
                    }
                }
            }
            candidates.push(vec![o.clone()]);
        }
        candidates.extend(
            conds
                .iter()
                .filter_map(|c| indexable_path(c))
                .filter(|p| scalar(p))
                .map(|p| vec![p]),
        );
        for keys in candidates {
            let covered = schema.indexes.values().any(|spec| {
                spec.as_object()
                    .is_some_and(|o| o.keys().take(keys.len()).eq(keys.iter()))
            });
            if covered {
                continue;
            }
            let key = (schema.class_name.clone(), keys.join(","));
            let first_time = self
                .auto_indexed
                .lock()
                .map(|mut seen| seen.insert(key.clone()))
                .unwrap_or(false);
            if !first_time {
                continue;
            }
            let rows = self
                .store
                .count(schema, &Filter::True, None)
                .await
                .unwrap_or(0);
            if rows < min_rows {
                if let Ok(mut seen) = self.auto_indexed.lock() {
                    // Look again once the class has grown.
                    seen.remove(&key);
                }
                return;
            }
            let _guard = self.schema_changes.lock().await;
            let Some(current) = self.schema(&schema.class_name) else {
                return;
            };
            let mut next = (*current).clone();
            let spec: serde_json::Map<String, Value> =
                keys.iter().map(|k| (k.clone(), Value::from(1))).collect();
            let name = format!("auto_{}", keys.join("_"));
            next.indexes.insert(name.clone(), Value::Object(spec));
            match self.store_schema(next, None).await {
                Ok(_) => {
                    tracing::info!(class = %schema.class_name, index = %name, rows, "created an automatic index")
                }
                Err(e) => {
                    tracing::warn!(class = %schema.class_name, index = %name, error = %e, "automatic index failed")
                }
            }
            // One index per query: the next query sees the new schema.
            return;
        }
    }

    /// The index advisor: a slow query is logged with its plan and, when it scans, the index
    /// that would serve it (field names only; values never reach the log).
    async fn log_slow_query(
        &self,
        schema: &ClassSchema,
        query: &StoreQuery,
        took: std::time::Duration,
    ) {
        let plan = self.store.explain(schema, query).await.unwrap_or_default();
        let mut fields = Vec::new();
        filter_paths(&query.filter, &mut fields);
        fields.extend(query.order.iter().map(|k| k.path.clone()));
        fields.retain(|f| {
            !matches!(
                f.as_str(),
                "objectId" | "createdAt" | "updatedAt" | "$score"
            )
        });
        fields.dedup();
        let indexed = |f: &String| {
            schema.indexes.values().any(|spec| {
                spec.as_object()
                    .and_then(|o| o.keys().next())
                    .is_some_and(|k| k == f)
            })
        };
        let missing: Vec<&String> = fields.iter().filter(|f| !indexed(f)).collect();
        let suggestion = match missing.first() {
            Some(f) if plan.iter().any(|p| p.starts_with("SCAN")) => format!(
                "PUT /schemas/{} {{\"indexes\": {{\"{f}_1\": {{\"{f}\": 1}}}}}}",
                schema.class_name
            ),
            _ => String::new(),
        };
        tracing::warn!(
            class = %schema.class_name,
            ms = took.as_millis() as u64,
            fields = ?fields,
            plan = ?plan,
            suggestion = %suggestion,
            "slow query"
        );
    }
}

/// The field of a condition an index can serve (equality, ranges, `$in`).
fn indexable_path(f: &Filter) -> Option<String> {
    match f {
        Filter::Field {
            path,
            cond:
                Cond::Eq(_) | Cond::Lt(_) | Cond::Lte(_) | Cond::Gt(_) | Cond::Gte(_) | Cond::In(_),
        } => Some(path.clone()),
        _ => None,
    }
}

/// Refuses queries and sorts on fields the caller may not see (`protectedFields`), so that
/// their values cannot be probed through `where`, `order` or `count`.
fn refuse_protected(
    schema: &ClassSchema,
    ctx: &Ctx,
    filter: &Filter,
    order: &[SortKey],
) -> Result<()> {
    let hidden = clp::always_protected(schema, &ctx.auth);
    if hidden.is_empty() {
        return Ok(());
    }
    let mut paths = Vec::new();
    filter_paths(filter, &mut paths);
    paths.extend(order.iter().map(|k| k.path.clone()));
    for p in paths {
        let root = p.split('.').next().unwrap_or(&p);
        if hidden.iter().any(|h| h == root) {
            return Err(Error::forbidden_op(format!(
                "Permission denied: {root} is protected on class {}.",
                schema.class_name
            )));
        }
    }
    Ok(())
}

fn filter_paths(f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(v) | Filter::Or(v) | Filter::Nor(v) => {
            v.iter().for_each(|x| filter_paths(x, out))
        }
        Filter::Field { path, .. } => out.push(path.clone()),
        _ => {}
    }
}

fn rewrite_relation_equality(schema: &ClassSchema, f: Filter) -> Filter {
    match f {
        Filter::And(v) => Filter::And(
            v.into_iter()
                .map(|x| rewrite_relation_equality(schema, x))
                .collect(),
        ),
        Filter::Or(v) => Filter::Or(
            v.into_iter()
                .map(|x| rewrite_relation_equality(schema, x))
                .collect(),
        ),
        Filter::Nor(v) => Filter::Nor(
            v.into_iter()
                .map(|x| rewrite_relation_equality(schema, x))
                .collect(),
        ),
        Filter::Field {
            path,
            cond: Cond::Eq(Scalar::Pointer { id, .. }),
        } if matches!(schema.field(&path), Some(FieldType::Relation(_))) => {
            Filter::RelationContains {
                field: path,
                related_id: id,
            }
        }
        other => other,
    }
}

fn collect_pointers(o: &Object, path: &[String], out: &mut HashMap<String, HashSet<String>>) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(v) = o.get(first) else { return };
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    for item in items {
        if rest.is_empty() {
            if let Some((c, id)) = as_pointer(item) {
                out.entry(c.to_string()).or_default().insert(id.to_string());
            }
        } else if let Some(inner) = item.as_object() {
            collect_pointers(inner, rest, out);
        }
    }
}

/// Puts the fetched objects in place of their pointers. A pointer whose target was looked up but
/// not found (deleted, or not readable by the caller) disappears, as in Parse Server.
fn replace_pointers(
    o: &mut Object,
    path: &[String],
    found: &HashMap<(String, String), Value>,
    looked_up: &HashSet<String>,
) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        if let Some((c, id)) = o.get(first).and_then(as_pointer) {
            let key = (c.to_string(), id.to_string());
            match found.get(&key) {
                Some(full) => {
                    o.insert(first.clone(), full.clone());
                }
                None if looked_up.contains(&key.0) => {
                    o.remove(first);
                }
                None => {}
            }
            return;
        }
    }
    let Some(v) = o.get_mut(first) else { return };
    let items: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        other => vec![other],
    };
    for item in items {
        if rest.is_empty() {
            let key = as_pointer(item).map(|(c, id)| (c.to_string(), id.to_string()));
            if let Some(full) = key.and_then(|k| found.get(&k)) {
                *item = full.clone();
            }
        } else if let Some(inner) = item.as_object_mut() {
            replace_pointers(inner, rest, found, looked_up);
        }
    }
}

impl Core {
    /// `/aggregate/:className` (master key): a pipeline, or `distinct` of a field.
    pub async fn aggregate(
        &self,
        ctx: &Ctx,
        class: &str,
        pipeline: Option<&Value>,
        distinct: Option<&str>,
        where_: Option<&Value>,
    ) -> Result<Vec<Value>> {
        if !ctx.auth.master {
            return Err(Error::Forbidden("Permission denied".into()));
        }
        let Some(schema) = self.schema_fresh(class).await else {
            return Ok(Vec::new());
        };
        let (filter, stages) = match pipeline {
            Some(p) => {
                let parsed = crate::aggregate::parse(p)?;
                (parsed.filter, parsed.stages)
            }
            None => (Filter::True, Vec::new()),
        };
        let filter = match where_ {
            Some(w) if !w.is_null() => filter.and(parse_where(w)?),
            _ => filter,
        };
        let filter = self
            .resolve_subqueries(ctx, rewrite_relation_equality(&schema, filter), 0)
            .await?;
        let rows: Vec<Object> = self
            .store
            .find(&schema, &StoreQuery::filter(filter), ctx.tx)
            .await?
            .into_iter()
            .map(|o| output::to_client(&schema, o, &ctx.auth, &self.config))
            .collect();
        if let Some(field) = distinct {
            return Ok(crate::aggregate::distinct(&rows, field));
        }
        Ok(crate::aggregate::run(rows, &stages)
            .into_iter()
            .map(Value::Object)
            .collect())
    }
}
