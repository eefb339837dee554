//! `ferrobase backup --to <file|dir>` and `ferrobase restore --from <backup>`: online backups of
//! the embedded store while the server runs (SQLite's `VACUUM INTO` on a read-only connection:
//! one consistent snapshot, writers go on), plus the stored files when they are on local disk.
//!
//! A `--to` path ending in `.sqlite`, `.sqlite3` or `.db` gets the database alone; any other path
//! is a backup directory (created; it must not exist or be empty):
//!
//! ```text
//! <dir>/ferrobase.sqlite   the database snapshot
//! <dir>/keys.json          the app id and master key (when the data dir has them)
//! <dir>/files/data, meta   the stored files (local file storage only)
//! <dir>/backup.json        what was copied; written last, so a backup without it is incomplete
//! ```
//!
//! The database is copied first, then the files, so every file the snapshot references is in the
//! backup unless it was deleted meanwhile.

use crate::config::Config;
use serde_json::json;
use std::path::{Path, PathBuf};

/// What a backup copied.
#[derive(Debug, Clone, Default)]
pub struct BackupReport {
    pub path: PathBuf,
    pub database_bytes: u64,
    pub files: u64,
    pub file_bytes: u64,
    /// Why files were not copied (remote file storage, or a single-file backup).
    pub files_note: Option<String>,
}

/// The embedded store's database file, or why there is none.
pub fn database_path(config: &Config) -> Result<PathBuf, String> {
    match config.database_uri.as_deref() {
        None => Ok(config.data_dir.join("ferrobase.sqlite")),
        Some(uri) if uri.starts_with("sqlite:") => Ok(PathBuf::from(
            uri.trim_start_matches("sqlite:").trim_start_matches("//"),
        )),
        Some(_) => Err(
            "backup and restore work on the embedded store; for MongoDB use mongodump/mongorestore, or `ferrobase export`/`import` (any store)"
                .into(),
        ),
    }
}

/// The folder of the local file storage, or `None` when files are elsewhere (S3, GridFS).
fn files_root(config: &Config) -> Option<PathBuf> {
    match config.files_uri.as_deref() {
        None | Some("") => Some(config.data_dir.join("files")),
        Some(u) if u.starts_with("file:") => Some(PathBuf::from(
            u.trim_start_matches("file:").trim_start_matches("//"),
        )),
        Some(_) => None,
    }
}

fn is_single_file(to: &Path) -> bool {
    matches!(
        to.extension().and_then(|e| e.to_str()),
        Some("sqlite" | "sqlite3" | "db")
    )
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

fn copy_synced(from: &Path, to: &Path) -> std::io::Result<u64> {
    let n = std::fs::copy(from, to)?;
    std::fs::File::open(to)?.sync_all()?;
    Ok(n)
}

/// Copies the local file storage (`data/` and `meta/`, not uploads in progress). A file exists
/// once its meta is written, so each file's bytes are copied before its meta; files deleted
/// during the copy are skipped.
fn copy_files(root: &Path, to: &Path) -> Result<(u64, u64), String> {
    let meta_dir = root.join("meta");
    let entries = match std::fs::read_dir(&meta_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(format!("cannot read {}: {e}", meta_dir.display())),
    };
    for sub in ["data", "meta"] {
        std::fs::create_dir_all(to.join(sub)).map_err(|e| e.to_string())?;
    }
    let (mut count, mut bytes) = (0u64, 0u64);
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name();
        let Some(seg) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        let data = root.join("data").join(seg);
        match copy_synced(&data, &to.join("data").join(seg)) {
            Ok(n) => bytes += n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot copy {}: {e}", data.display())),
        }
        match copy_synced(&entry.path(), &to.join("meta").join(&name)) {
            Ok(_) => count += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(to.join("data").join(seg));
            }
            Err(e) => return Err(format!("cannot copy {}: {e}", entry.path().display())),
        }
    }
    sync_dir(&to.join("data"));
    sync_dir(&to.join("meta"));
    Ok((count, bytes))
}

/// Backs up the store `config` names (while a server may be running on it) to `to`.
pub fn backup(config: &Config, to: &Path) -> Result<BackupReport, String> {
    let db = database_path(config)?;
    if !db.is_file() {
        return Err(format!("no database at {}", db.display()));
    }
    if is_single_file(to) {
        if to.exists() {
            return Err(format!("{} already exists", to.display()));
        }
        let tmp = to.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let size = ferrobase_sqlite::backup_into(&db, &tmp).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            format!("backup failed: {e}")
        })?;
        std::fs::rename(&tmp, to).map_err(|e| e.to_string())?;
        if let Some(parent) = to.parent() {
            sync_dir(parent);
        }
        return Ok(BackupReport {
            path: to.to_path_buf(),
            database_bytes: size,
            files_note: Some("a single-file backup holds the database only: back up to a directory to include keys.json and files".into()),
            ..BackupReport::default()
        });
    }
    if to.exists() {
        let empty = std::fs::read_dir(to)
            .map_err(|e| format!("{} exists and is not a directory: {e}", to.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(format!("{} exists and is not empty", to.display()));
        }
    }
    let name = to
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| format!("invalid backup path {}", to.display()))?;
    let tmp = to.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let result = backup_dir(config, &db, &tmp);
    let mut report = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if to.exists() {
        std::fs::remove_dir(to).map_err(|e| e.to_string())?;
    }
    std::fs::rename(&tmp, to).map_err(|e| format!("cannot move the backup into place: {e}"))?;
    if let Some(parent) = to.parent() {
        sync_dir(parent);
    }
    report.path = to.to_path_buf();
    Ok(report)
}

fn backup_dir(config: &Config, db: &Path, tmp: &Path) -> Result<BackupReport, String> {
    let started = chrono::Utc::now();
    let database_bytes = ferrobase_sqlite::backup_into(db, &tmp.join("ferrobase.sqlite"))
        .map_err(|e| format!("backup failed: {e}"))?;
    let keys = config.data_dir.join("keys.json");
    let with_keys = keys.is_file();
    if with_keys {
        copy_synced(&keys, &tmp.join("keys.json")).map_err(|e| e.to_string())?;
    }
    let (files, file_bytes, files_note) = match files_root(config) {
        Some(root) => {
            let (n, b) = copy_files(&root, &tmp.join("files"))?;
            (n, b, None)
        }
        None => (
            0,
            0,
            Some("files are in remote storage (--files-uri): back them up there".to_string()),
        ),
    };
    let manifest = json!({
        "format": "ferrobase-backup",
        "version": 1,
        "ferrobaseVersion": env!("CARGO_PKG_VERSION"),
        "startedAt": started.to_rfc3339(),
        "finishedAt": chrono::Utc::now().to_rfc3339(),
        "database": {"file": "ferrobase.sqlite", "bytes": database_bytes},
        "keys": with_keys,
        "files": {"count": files, "bytes": file_bytes, "note": files_note},
    });
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    std::fs::write(tmp.join("backup.json"), text).map_err(|e| e.to_string())?;
    sync_dir(tmp);
    Ok(BackupReport {
        path: tmp.to_path_buf(),
        database_bytes,
        files,
        file_bytes,
        files_note,
    })
}

/// What a restore put in place.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    pub database: PathBuf,
    /// Where the replaced database went (with `--force`).
    pub kept: Option<PathBuf>,
    pub files: u64,
    pub keys: bool,
}

/// Restores a backup (a directory or a single `.sqlite` file) into the store `config` names.
/// The server must be stopped. An existing database is replaced only with `force`, and kept
/// beside as `<name>.before-restore-<time>` (with its `-wal`/`-shm`).
pub fn restore(config: &Config, from: &Path, force: bool) -> Result<RestoreReport, String> {
    let (src_db, src_dir) = if from.is_dir() {
        let db = from.join("ferrobase.sqlite");
        if !from.join("backup.json").is_file() {
            return Err(format!(
                "{} has no backup.json: not a backup directory, or an incomplete backup",
                from.display()
            ));
        }
        (db, Some(from.to_path_buf()))
    } else {
        (from.to_path_buf(), None)
    };
    ferrobase_sqlite::check_database(&src_db).map_err(|e| format!("not restoring: {e}"))?;
    if let Some(dir) = &src_dir {
        let keys = dir.join("keys.json");
        let target = config.data_dir.join("keys.json");
        if keys.is_file() && target.is_file() && !force {
            let same = std::fs::read(&keys).ok() == std::fs::read(&target).ok();
            if !same {
                return Err(format!(
                    "{} differs from the backup's keys.json: pass --force to replace it",
                    target.display()
                ));
            }
        }
    }
    let db = database_path(config)?;
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|e| e.to_string())?;
    let mut report = RestoreReport {
        database: db.clone(),
        ..RestoreReport::default()
    };
    if db.exists() {
        if !force {
            return Err(format!(
                "{} exists: stop the server and pass --force to replace it (it is kept as {}.before-restore-…)",
                db.display(),
                db.display()
            ));
        }
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S");
        let kept = PathBuf::from(format!("{}.before-restore-{stamp}", db.display()));
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", db.display()));
            if p.exists() {
                std::fs::rename(&p, format!("{}{suffix}", kept.display()))
                    .map_err(|e| format!("cannot move {} aside: {e}", p.display()))?;
            }
        }
        report.kept = Some(kept);
    }
    // A stale WAL beside a restored database would be replayed into it: none may remain.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let tmp = PathBuf::from(format!("{}.restoring", db.display()));
    copy_synced(&src_db, &tmp).map_err(|e| format!("cannot copy the database: {e}"))?;
    std::fs::rename(&tmp, &db).map_err(|e| e.to_string())?;
    if let Some(parent) = db.parent() {
        sync_dir(parent);
    }
    if let Some(dir) = src_dir {
        let keys = dir.join("keys.json");
        if keys.is_file() {
            let target = config.data_dir.join("keys.json");
            copy_synced(&keys, &target).map_err(|e| e.to_string())?;
            report.keys = true;
        }
        if let Some(root) = files_root(config) {
            let files = dir.join("files");
            if files.is_dir() {
                let (n, _) = copy_files(&files, &root)?;
                report.files = n;
            }
        }
    }
    Ok(report)
}
