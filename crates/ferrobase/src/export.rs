//! `ferrobase export --to <dir>` / `ferrobase import --from <dir>`: a whole app as JSON lines,
//! through the storage trait (so with every store), streaming page by page (memory does not grow
//! with the class), with progress bars; an import is resumable. The format is described in
//! docs/operations.md:
//!
//! ```text
//! <dir>/schemas.jsonl                     one class schema per line (fields, CLPs, indexes)
//! <dir>/classes/<Class>.jsonl             one object per line, Parse's REST wire form: typed
//!                                         values as {"__type": …}, ACL as "ACL", and the private
//!                                         fields the server keeps (_hashed_password, …)
//! <dir>/relations/<Class>.<field>.jsonl   {"owningId": …, "relatedId": …} per related pair
//! <dir>/files.jsonl                       {"className", "objectId", "field", "name", "url"}
//! <dir>/manifest.json                     counts and file names; written last (its presence
//!                                         means the export finished)
//! ```

use crate::config::Config;
use ferrobase_core::error::code;
use ferrobase_core::query::{Cond, Filter, Scalar, SortKey, StoreQuery};
use ferrobase_core::schema::{ClassSchema, FieldType};
use ferrobase_core::storage::{Storage, TxId};
use ferrobase_core::types::Object;
use ferrobase_core::update::{UpdateOp, Updates};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: usize = 1000;
const CHUNK: usize = 500;
pub const FORMAT: &str = "ferrobase-export";

/// A throttled progress bar on stderr.
struct Progress {
    label: String,
    total: u64,
    done: u64,
    last: Option<Instant>,
    quiet: bool,
}

impl Progress {
    fn new(label: &str, total: u64, quiet: bool) -> Progress {
        Progress {
            label: label.to_string(),
            total,
            done: 0,
            last: None,
            quiet,
        }
    }

    fn add(&mut self, n: u64) {
        self.done += n;
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.draw();
    }

    fn draw(&mut self) {
        self.last = Some(Instant::now());
        if self.quiet {
            return;
        }
        let width = 30u64;
        let filled = (self.done * width)
            .checked_div(self.total)
            .unwrap_or(width)
            .min(width) as usize;
        eprint!(
            "\r  {:<32} [{}{}] {}/{}",
            self.label,
            "#".repeat(filled),
            " ".repeat(width as usize - filled),
            self.done,
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    fn finish(mut self) {
        self.draw();
        if !self.quiet {
            eprintln!();
        }
    }
}

fn io<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

/// `objectId > after`, in objectId order: keyset paging (constant cost per page, unlike skip).
fn page_query(base: Filter, after: Option<&str>, limit: usize) -> StoreQuery {
    let filter = match after {
        Some(id) => base.and(Filter::Field {
            path: "objectId".into(),
            cond: Cond::Gt(Scalar::String(id.to_string())),
        }),
        None => base,
    };
    StoreQuery {
        filter,
        order: vec![SortKey {
            path: "objectId".into(),
            descending: false,
        }],
        limit: Some(limit),
        skip: 0,
    }
}

fn id_of(o: &Object) -> Option<&str> {
    o.get("objectId").and_then(Value::as_str)
}

/// `_rperm`/`_wperm` as Parse's `ACL` (absent lists mean public).
fn acl_of(obj: &mut Object) {
    let r = obj.remove("_rperm");
    let w = obj.remove("_wperm");
    if r.is_none() && w.is_none() {
        return;
    }
    let list = |v: Option<Value>| -> Vec<String> {
        match v {
            None => vec!["*".to_string()],
            Some(Value::Array(a)) => a
                .into_iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect(),
            Some(_) => Vec::new(),
        }
    };
    let mut acl: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for p in list(r) {
        acl.entry(p).or_default().insert("read".into(), json!(true));
    }
    for p in list(w) {
        acl.entry(p)
            .or_default()
            .insert("write".into(), json!(true));
    }
    let acl: Map<String, Value> = acl
        .into_iter()
        .map(|(k, v)| (k, Value::Object(v)))
        .collect();
    obj.insert("ACL".into(), Value::Object(acl));
}

/// The reverse of [`acl_of`], for import.
fn perms_of(obj: &mut Object) -> Result<(), String> {
    if let Some(acl) = obj.remove("ACL") {
        let (r, w) = ferrobase_core::acl::permissions(&acl).map_err(|e| e.to_string())?;
        obj.insert("_rperm".into(), json!(r));
        obj.insert("_wperm".into(), json!(w));
    }
    Ok(())
}

fn schema_line(s: &ClassSchema) -> Value {
    json!({
        "className": s.class_name,
        "fields": s.fields_json(),
        "classLevelPermissions": s.clp,
        "indexes": s.indexes,
    })
}

fn schema_from_line(v: &Value) -> Result<ClassSchema, String> {
    let class = v
        .get("className")
        .and_then(Value::as_str)
        .ok_or("a schema line has no className")?;
    let fields = v
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    ClassSchema::from_stored(
        class,
        &fields,
        v.get("classLevelPermissions"),
        v.get("indexes").and_then(Value::as_object),
    )
    .map_err(|e| format!("schema of {class}: {e}"))
}

fn safe_name(s: &str) -> Result<&str, String> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(s)
    } else {
        Err(format!("{s:?} cannot be a file name"))
    }
}

fn writer(path: &Path) -> Result<BufWriter<std::fs::File>, String> {
    std::fs::File::create(path)
        .map(|f| BufWriter::with_capacity(256 * 1024, f))
        .map_err(io(path.display()))
}

fn write_line(w: &mut impl Write, v: &impl serde::Serialize) -> Result<(), String> {
    serde_json::to_writer(&mut *w, v).map_err(|e| e.to_string())?;
    w.write_all(b"\n").map_err(|e| e.to_string())
}

fn finish(mut w: BufWriter<std::fs::File>) -> Result<(), String> {
    w.flush().map_err(|e| e.to_string())?;
    w.get_ref().sync_all().map_err(|e| e.to_string())
}

/// What an export wrote.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub classes: usize,
    pub objects: u64,
    pub relations: u64,
    pub files: u64,
}

/// Exports the store `config` names into `to` (created; must be empty or not exist).
pub async fn export(config: &Config, to: &Path, quiet: bool) -> Result<ExportReport, String> {
    let store = crate::serve::open_store(config).await?;
    let r = export_store(&*store, to, quiet).await;
    store.close().await;
    r
}

pub async fn export_store(
    store: &dyn Storage,
    to: &Path,
    quiet: bool,
) -> Result<ExportReport, String> {
    if to.exists()
        && std::fs::read_dir(to)
            .map_err(io(to.display()))?
            .next()
            .is_some()
    {
        return Err(format!("{} exists and is not empty", to.display()));
    }
    std::fs::create_dir_all(to.join("classes")).map_err(io(to.display()))?;
    std::fs::create_dir_all(to.join("relations")).map_err(io(to.display()))?;
    let mut schemas = store.load_schemas().await.map_err(|e| e.to_string())?;
    schemas.sort_by(|a, b| a.class_name.cmp(&b.class_name));
    let mut w = writer(&to.join("schemas.jsonl"))?;
    for s in &schemas {
        write_line(&mut w, &schema_line(s))?;
    }
    finish(w)?;
    let mut files_w = writer(&to.join("files.jsonl"))?;
    let mut report = ExportReport {
        classes: schemas.len(),
        ..ExportReport::default()
    };
    let mut classes = Vec::new();
    for schema in &schemas {
        let class = safe_name(&schema.class_name)?;
        let total = store
            .count(schema, &Filter::True, None)
            .await
            .map_err(|e| e.to_string())?;
        let file = format!("classes/{class}.jsonl");
        let mut w = writer(&to.join(&file))?;
        let relation_fields: Vec<(String, String)> = schema
            .fields
            .iter()
            .filter_map(|(f, t)| match t {
                FieldType::Relation(target) => Some((f.clone(), target.clone())),
                _ => None,
            })
            .collect();
        let file_fields: Vec<String> = schema
            .fields
            .iter()
            .filter(|(_, t)| matches!(t, FieldType::File))
            .map(|(f, _)| f.clone())
            .collect();
        let mut rel_writers = Vec::new();
        for (field, target) in &relation_fields {
            let name = format!("relations/{class}.{}.jsonl", safe_name(field)?);
            let target_schema = schemas
                .iter()
                .find(|s| &s.class_name == target)
                .cloned()
                .unwrap_or_else(|| ClassSchema::new(target));
            rel_writers.push((
                field.clone(),
                target_schema,
                name.clone(),
                writer(&to.join(&name))?,
                0u64,
            ));
        }
        let mut bar = Progress::new(class, total, quiet);
        let mut after: Option<String> = None;
        let mut count = 0u64;
        loop {
            let page = store
                .find(
                    schema,
                    &page_query(Filter::True, after.as_deref(), PAGE),
                    None,
                )
                .await
                .map_err(|e| format!("{class}: {e}"))?;
            let Some(last) = page.last().and_then(id_of).map(str::to_string) else {
                break;
            };
            let n = page.len();
            for mut obj in page {
                let Some(id) = id_of(&obj).map(str::to_string) else {
                    continue;
                };
                for field in &file_fields {
                    if let Some(f) = obj.get(field).filter(|v| v.is_object()) {
                        write_line(
                            &mut files_w,
                            &json!({"className": class, "objectId": id, "field": field,
                                    "name": f.get("name"), "url": f.get("url")}),
                        )?;
                        report.files += 1;
                    }
                }
                for (field, target_schema, _, rw, pairs) in rel_writers.iter_mut() {
                    let base = Filter::RelatedTo {
                        owner_class: schema.class_name.clone(),
                        owner_id: id.clone(),
                        field: field.clone(),
                    };
                    let mut rafter: Option<String> = None;
                    loop {
                        let related = store
                            .find(
                                target_schema,
                                &page_query(base.clone(), rafter.as_deref(), PAGE),
                                None,
                            )
                            .await
                            .map_err(|e| format!("{class}.{field}: {e}"))?;
                        let Some(rlast) = related.last().and_then(id_of).map(str::to_string) else {
                            break;
                        };
                        for r in &related {
                            if let Some(rid) = id_of(r) {
                                write_line(rw, &json!({"owningId": id, "relatedId": rid}))?;
                                *pairs += 1;
                            }
                        }
                        if related.len() < PAGE {
                            break;
                        }
                        rafter = Some(rlast);
                    }
                }
                acl_of(&mut obj);
                write_line(&mut w, &obj)?;
                count += 1;
            }
            bar.add(n as u64);
            if n < PAGE {
                break;
            }
            after = Some(last);
        }
        bar.total = bar.total.max(count);
        bar.finish();
        finish(w)?;
        let mut rels = Vec::new();
        for (field, target_schema, name, rw, pairs) in rel_writers {
            finish(rw)?;
            report.relations += pairs;
            rels.push(json!({"field": field, "targetClass": target_schema.class_name, "file": name, "pairs": pairs}));
        }
        report.objects += count;
        classes
            .push(json!({"className": class, "file": file, "objects": count, "relations": rels}));
    }
    finish(files_w)?;
    let manifest = json!({
        "format": FORMAT,
        "version": 1,
        "ferrobaseVersion": env!("CARGO_PKG_VERSION"),
        "exportedAt": chrono::Utc::now().to_rfc3339(),
        "store": store.kind(),
        "schemas": "schemas.jsonl",
        "files": {"file": "files.jsonl", "references": report.files},
        "classes": classes,
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(to.join("manifest.json"), text).map_err(io("manifest.json"))?;
    Ok(report)
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub inserted: u64,
    /// Objects already in the destination (a resumed import): left as they are.
    pub skipped: u64,
    pub relations: u64,
    /// Lines passed over because the state file said they were done.
    pub resumed_lines: u64,
}

/// Where an import records its progress: lines done per file, per destination.
struct State {
    path: PathBuf,
    done: Map<String, Value>,
    broken: bool,
}

impl State {
    fn load(from: &Path, destination: &str) -> State {
        // FNV-1a of the destination: one state file per destination.
        let mut h: u64 = 0xcbf29ce484222325;
        for b in destination.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        let path = from.join(format!(".import-state-{h:016x}.json"));
        let done = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
            .unwrap_or_default();
        State {
            path,
            done,
            broken: false,
        }
    }

    fn lines_done(&self, file: &str) -> u64 {
        self.done.get(file).and_then(Value::as_u64).unwrap_or(0)
    }

    fn set(&mut self, file: &str, lines: u64) {
        self.done.insert(file.to_string(), json!(lines));
        if self.broken {
            return;
        }
        let tmp = self.path.with_extension("tmp");
        let ok = serde_json::to_vec(&self.done)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|()| std::fs::rename(&tmp, &self.path).ok());
        if ok.is_none() {
            // A read-only export dir: still resumable (objects already there are skipped).
            eprintln!(
                "note: cannot write {}; a resumed import will re-check every line",
                self.path.display()
            );
            self.broken = true;
        }
    }

    fn clear(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_lines(path: &Path) -> Result<std::io::Lines<BufReader<std::fs::File>>, String> {
    let f = std::fs::File::open(path).map_err(io(path.display()))?;
    Ok(BufReader::with_capacity(256 * 1024, f).lines())
}

/// Imports an export directory into the store `config` names.
pub async fn import(config: &Config, from: &Path, quiet: bool) -> Result<ImportReport, String> {
    let destination = match &config.database_uri {
        Some(u) => u.clone(),
        None => config.data_dir.display().to_string(),
    };
    std::fs::create_dir_all(&config.data_dir).map_err(io(config.data_dir.display()))?;
    let store = crate::serve::open_store(config).await?;
    let r = import_store(store.clone(), from, &destination, quiet).await;
    store.close().await;
    r
}

/// Inserts a chunk: in one transaction where the store has them (one commit), else concurrently
/// (the SQLite writer groups them anyway); objects already there are skipped.
async fn insert_chunk(
    store: &Arc<dyn Storage>,
    schema: &ClassSchema,
    chunk: Vec<Object>,
    report: &mut ImportReport,
) -> Result<(), String> {
    if let Ok(tx) = store.begin().await {
        match insert_in_tx(&**store, schema, &chunk, tx).await {
            Ok((inserted, skipped)) => {
                if store.commit(tx).await.is_ok() {
                    report.inserted += inserted;
                    report.skipped += skipped;
                    return Ok(());
                }
                // Not committed: retried below, object by object.
            }
            Err(()) => {
                let _ = store.rollback(tx).await;
            }
        }
    }
    use futures_util::StreamExt;
    let results: Vec<_> = futures_util::stream::iter(chunk.into_iter().map(|o| {
        let store = store.clone();
        let schema = schema.clone();
        async move { store.insert(&schema, o, None).await }
    }))
    .buffer_unordered(32)
    .collect()
    .await;
    for r in results {
        match r {
            Ok(()) => report.inserted += 1,
            Err(e) if e.code() == Some(code::DUPLICATE_VALUE) => report.skipped += 1,
            Err(e) => return Err(format!("{}: {e}", schema.class_name)),
        }
    }
    Ok(())
}

/// `Err(())`: the transaction must be abandoned (the caller falls back).
async fn insert_in_tx(
    store: &dyn Storage,
    schema: &ClassSchema,
    chunk: &[Object],
    tx: TxId,
) -> Result<(u64, u64), ()> {
    let (mut inserted, mut skipped) = (0, 0);
    for o in chunk {
        match store.insert(schema, o.clone(), Some(tx)).await {
            Ok(()) => inserted += 1,
            // SQLite keeps the transaction going past a failed statement; other stores may not.
            Err(e) if e.code() == Some(code::DUPLICATE_VALUE) && store.kind() == "sqlite" => {
                skipped += 1
            }
            Err(_) => return Err(()),
        }
    }
    Ok((inserted, skipped))
}

pub async fn import_store(
    store: Arc<dyn Storage>,
    from: &Path,
    destination: &str,
    quiet: bool,
) -> Result<ImportReport, String> {
    let manifest: Value = std::fs::read(from.join("manifest.json"))
        .map_err(|e| {
            format!(
                "{}: no manifest.json ({e}): not an export, or an unfinished one",
                from.display()
            )
        })
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("manifest.json: {e}")))?;
    if manifest["format"] != json!(FORMAT) {
        return Err("manifest.json is not a ferrobase export".into());
    }
    let mut state = State::load(from, destination);
    let mut report = ImportReport::default();
    let mut schemas: BTreeMap<String, ClassSchema> = BTreeMap::new();
    for line in read_lines(&from.join("schemas.jsonl"))? {
        let line = line.map_err(|e| e.to_string())?;
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(&line).map_err(|e| format!("schemas.jsonl: {e}"))?;
        let s = schema_from_line(&v)?;
        store
            .save_schema(&s, None)
            .await
            .map_err(|e| format!("schema {}: {e}", s.class_name))?;
        schemas.insert(s.class_name.clone(), s);
    }
    let classes = manifest["classes"].as_array().cloned().unwrap_or_default();
    for c in &classes {
        let class = c["className"]
            .as_str()
            .ok_or("manifest: a class without className")?;
        let file = c["file"].as_str().ok_or("manifest: a class without file")?;
        let schema = schemas
            .get(class)
            .cloned()
            .ok_or_else(|| format!("{class} has objects but no schema"))?;
        let total = c["objects"].as_u64().unwrap_or(0);
        let skip = state.lines_done(file);
        let mut bar = Progress::new(class, total, quiet);
        let mut lineno = 0u64;
        let mut chunk = Vec::with_capacity(CHUNK);
        for line in read_lines(&from.join(file))? {
            let line = line.map_err(|e| e.to_string())?;
            lineno += 1;
            if lineno <= skip {
                report.resumed_lines += 1;
                if lineno.is_multiple_of(10_000) {
                    bar.add(10_000);
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let mut obj: Object =
                serde_json::from_str(&line).map_err(|e| format!("{file}:{lineno}: {e}"))?;
            perms_of(&mut obj).map_err(|e| format!("{file}:{lineno}: {e}"))?;
            chunk.push(obj);
            if chunk.len() >= CHUNK {
                let n = chunk.len() as u64;
                insert_chunk(&store, &schema, std::mem::take(&mut chunk), &mut report).await?;
                state.set(file, lineno);
                bar.add(n);
            }
        }
        if !chunk.is_empty() {
            let n = chunk.len() as u64;
            insert_chunk(&store, &schema, std::mem::take(&mut chunk), &mut report).await?;
            bar.add(n);
        }
        state.set(file, lineno);
        bar.total = bar.total.max(bar.done);
        bar.finish();
        for rel in c["relations"].as_array().cloned().unwrap_or_default() {
            let field = rel["field"]
                .as_str()
                .ok_or("manifest: a relation without field")?;
            let target = rel["targetClass"].as_str().unwrap_or_default().to_string();
            let rfile = rel["file"]
                .as_str()
                .ok_or("manifest: a relation without file")?;
            let skip = state.lines_done(rfile);
            let mut lineno = 0u64;
            let mut owner: Option<String> = None;
            let mut related: Vec<(String, String)> = Vec::new();
            let mut bar = Progress::new(
                &format!("{class}.{field}"),
                rel["pairs"].as_u64().unwrap_or(0),
                quiet,
            );
            let flush = |owner: &Option<String>, related: &mut Vec<(String, String)>| {
                let ups: Option<(String, Updates)> =
                    owner.clone().filter(|_| !related.is_empty()).map(|o| {
                        (
                            o,
                            vec![(
                                field.to_string(),
                                UpdateOp::AddRelation(std::mem::take(related)),
                            )],
                        )
                    });
                related.clear();
                ups
            };
            for line in read_lines(&from.join(rfile))? {
                let line = line.map_err(|e| e.to_string())?;
                lineno += 1;
                if lineno <= skip || line.trim().is_empty() {
                    continue;
                }
                let v: Value =
                    serde_json::from_str(&line).map_err(|e| format!("{rfile}:{lineno}: {e}"))?;
                let (Some(o), Some(r)) = (v["owningId"].as_str(), v["relatedId"].as_str()) else {
                    return Err(format!(
                        "{rfile}:{lineno}: owningId and relatedId are needed"
                    ));
                };
                if owner.as_deref() != Some(o) || related.len() >= CHUNK {
                    if let Some((oid, ups)) = flush(&owner, &mut related) {
                        store
                            .update(&schema, &Filter::object_id(&oid), &ups, None)
                            .await
                            .map_err(|e| format!("{rfile}: {e}"))?;
                        state.set(rfile, lineno - 1);
                    }
                    owner = Some(o.to_string());
                }
                related.push((target.clone(), r.to_string()));
                report.relations += 1;
                bar.add(1);
            }
            if let Some((oid, ups)) = flush(&owner, &mut related) {
                store
                    .update(&schema, &Filter::object_id(&oid), &ups, None)
                    .await
                    .map_err(|e| format!("{rfile}: {e}"))?;
            }
            state.set(rfile, lineno);
            bar.finish();
        }
    }
    // Check: the destination holds at least what the export counted.
    for c in &classes {
        let class = c["className"].as_str().unwrap_or_default();
        if let Some(schema) = schemas.get(class) {
            let n = store
                .count(schema, &Filter::True, None)
                .await
                .map_err(|e| e.to_string())?;
            let want = c["objects"].as_u64().unwrap_or(0);
            if n < want {
                return Err(format!(
                    "{class}: {n} objects after the import, the export has {want}"
                ));
            }
        }
    }
    state.clear();
    Ok(report)
}
