//! `ferrobase files orphans`: stored files that no object references (any `File` value, at any
//! depth, in any class). Lists them; `--delete` removes them (`--dry-run` only says it would).
//! Files younger than `--min-age` are never orphans: a client may be about to attach them.

use crate::config::Config;
use ferrobase_core::auth::Auth;
use ferrobase_core::config::CoreConfig;
use ferrobase_core::rest::{Core, Ctx, FindOptions};
use serde_json::Value;
use std::collections::HashSet;

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub orphans: Vec<(String, u64)>,
    pub deleted: usize,
    pub referenced: usize,
}

fn collect(v: &Value, out: &mut HashSet<String>) {
    match v {
        Value::Object(o) => {
            if o.get("__type").and_then(Value::as_str) == Some("File") {
                if let Some(n) = o.get("name").and_then(Value::as_str) {
                    out.insert(n.to_string());
                }
            }
            o.values().for_each(|x| collect(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        _ => {}
    }
}

/// Every file name referenced by a stored object.
async fn referenced(core: &Core) -> Result<HashSet<String>, String> {
    let ctx = Ctx::new(Auth::master());
    let mut names = HashSet::new();
    for schema in core.all_schemas() {
        let mut skip = 0i64;
        loop {
            let opts = FindOptions {
                order: Some("objectId".into()),
                limit: Some(1000),
                skip: Some(skip),
                ..FindOptions::default()
            };
            let page = core
                .find(&ctx, &schema.class_name, &opts)
                .await
                .map_err(|e| format!("cannot read {}: {e}", schema.class_name))?;
            let n = page.results.len();
            for o in &page.results {
                o.values().for_each(|v| collect(v, &mut names));
            }
            if n < 1000 {
                break;
            }
            skip += 1000;
        }
    }
    Ok(names)
}

/// Finds (and with `delete && !dry_run` removes) the orphans.
pub async fn run(
    config: Config,
    delete: bool,
    dry_run: bool,
    min_age_secs: u64,
) -> Result<Report, String> {
    let keys = crate::keys::resolve(
        &config.data_dir,
        config.app_id.clone(),
        config.master_key.clone(),
    )?;
    let store = crate::serve::open_store(&config).await?;
    let core_config = CoreConfig {
        app_id: keys.app_id,
        ..CoreConfig::default()
    };
    let core = Core::new(core_config, store)
        .await
        .map_err(|e| format!("cannot load the store: {e}"))?;
    let files = ferrobase_files::open(config.files_uri.as_deref(), &config.data_dir)?;
    let used = referenced(&core).await;
    core.close().await;
    let used = used?;
    let cutoff = chrono::Utc::now() - chrono::Duration::seconds(min_age_secs as i64);
    let mut report = Report {
        referenced: used.len(),
        ..Report::default()
    };
    for name in files.list().await.map_err(|e| e.to_string())? {
        // Thumbnails are caches of referenced images, not orphans.
        if used.contains(&name) || name.starts_with("~thumb~") {
            continue;
        }
        let Ok(meta) = files.meta(&name).await else {
            continue;
        };
        if meta.last_modified > cutoff {
            continue;
        }
        if delete && !dry_run {
            files.delete(&name).await.map_err(|e| e.to_string())?;
            report.deleted += 1;
        }
        report.orphans.push((name, meta.size));
    }
    Ok(report)
}
