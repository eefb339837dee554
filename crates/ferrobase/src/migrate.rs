//! `ferrobase migrate --from <uri> --to <uri>`: copies a whole app between stores (embedded
//! SQLite ↔ MongoDB in Parse's layout) through the storage trait: schemas, every object of every
//! class (users with their password hashes, sessions, roles), and relations. Resumable: objects
//! already in the destination are skipped. Counts are verified at the end. Files stay in the
//! file storage (`--files-uri`), which both sides share.

use crate::config::Config;
use ferrobase_core::query::{Filter, SortKey, StoreQuery};
use ferrobase_core::schema::FieldType;
use ferrobase_core::storage::Storage;
use ferrobase_core::update::{UpdateOp, Updates};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;

const PAGE: usize = 500;

async fn open(uri: &str) -> Result<Arc<dyn Storage>, String> {
    let mut config = Config::default();
    if uri.starts_with("sqlite:") || uri.starts_with("mongodb") {
        config.database_uri = Some(uri.to_string());
    } else {
        // A data dir: its embedded store.
        config.data_dir = uri.into();
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| format!("cannot create {uri}: {e}"))?;
    }
    crate::serve::open_store(&config).await
}

fn progress(class: &str, done: u64, total: u64) {
    let width = 30usize;
    let filled = (done * width as u64)
        .checked_div(total)
        .map_or(width, |f| f as usize);
    print!(
        "\r  {class:<24} [{}{}] {done}/{total}",
        "#".repeat(filled.min(width)),
        " ".repeat(width - filled.min(width))
    );
    let _ = std::io::stdout().flush();
}

/// Copies everything; returns the number of objects copied (skipped ones excluded).
pub async fn run(from: &str, to: &str) -> Result<u64, String> {
    let src = open(from).await?;
    let dst = open(to).await?;
    let schemas = src.load_schemas().await.map_err(|e| e.to_string())?;
    println!(
        "migrating {} classes from {} to {}",
        schemas.len(),
        src.kind(),
        dst.kind()
    );
    let mut copied = 0u64;
    for schema in &schemas {
        dst.save_schema(schema, None)
            .await
            .map_err(|e| format!("schema {}: {e}", schema.class_name))?;
        let total = src
            .count(schema, &Filter::True, None)
            .await
            .map_err(|e| e.to_string())?;
        let mut done = 0u64;
        let mut skip = 0usize;
        loop {
            let q = StoreQuery {
                filter: Filter::True,
                order: vec![SortKey {
                    path: "objectId".into(),
                    descending: false,
                }],
                limit: Some(PAGE),
                skip,
            };
            let page = src
                .find(schema, &q, None)
                .await
                .map_err(|e| e.to_string())?;
            if page.is_empty() {
                break;
            }
            skip += page.len();
            for obj in page {
                match dst.insert(schema, obj, None).await {
                    Ok(()) => copied += 1,
                    // Already there (a resumed run): keep the destination's copy.
                    Err(e) if e.code() == Some(ferrobase_core::error::code::DUPLICATE_VALUE) => {}
                    Err(e) => return Err(format!("{}: {e}", schema.class_name)),
                }
                done += 1;
            }
            progress(&schema.class_name, done, total);
        }
        progress(&schema.class_name, done, total);
        println!();
        copy_relations(&*src, &*dst, schema, &schemas).await?;
    }
    // Verify.
    let mut mismatches = Vec::new();
    for schema in &schemas {
        let a = src
            .count(schema, &Filter::True, None)
            .await
            .map_err(|e| e.to_string())?;
        let b = dst
            .count(schema, &Filter::True, None)
            .await
            .map_err(|e| e.to_string())?;
        if a != b {
            mismatches.push(format!(
                "{}: {a} in the source, {b} in the destination",
                schema.class_name
            ));
        }
    }
    src.close().await;
    dst.close().await;
    if !mismatches.is_empty() {
        return Err(format!(
            "counts differ after the copy: {}",
            mismatches.join("; ")
        ));
    }
    Ok(copied)
}

/// Relations: for every owner object, the related ids (a `$relatedTo` query on the source)
/// are added to the destination's join table with an `AddRelation` update.
async fn copy_relations(
    src: &dyn Storage,
    dst: &dyn Storage,
    schema: &ferrobase_core::schema::ClassSchema,
    all: &[ferrobase_core::schema::ClassSchema],
) -> Result<(), String> {
    for (field, t) in &schema.fields {
        let FieldType::Relation(target) = t else {
            continue;
        };
        let Some(target_schema) = all.iter().find(|s| &s.class_name == target) else {
            continue;
        };
        let owners = src
            .find(schema, &StoreQuery::filter(Filter::True), None)
            .await
            .map_err(|e| e.to_string())?;
        for owner in owners {
            let Some(id) = owner.get("objectId").and_then(Value::as_str) else {
                continue;
            };
            let filter = Filter::RelatedTo {
                owner_class: schema.class_name.clone(),
                owner_id: id.to_string(),
                field: field.clone(),
            };
            let related = src
                .find(target_schema, &StoreQuery::filter(filter), None)
                .await
                .map_err(|e| e.to_string())?;
            if related.is_empty() {
                continue;
            }
            let ptrs = related
                .iter()
                .filter_map(|r| r.get("objectId").and_then(Value::as_str))
                .map(|rid| (target.clone(), rid.to_string()))
                .collect();
            let ups: Updates = vec![(field.clone(), UpdateOp::AddRelation(ptrs))];
            dst.update(schema, &Filter::object_id(id), &ups, None)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
