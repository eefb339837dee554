//! Tables and indexes: one table per class, join tables for relations, `_SCHEMA` for schemas.

use crate::sql::{ident, sort_expr};
use ferrobase_core::schema::{ClassSchema, FieldType};
use rusqlite::Connection;

pub const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS _SCHEMA (className TEXT PRIMARY KEY NOT NULL, schema TEXT NOT NULL)";

/// Indexes every store of Parse data has (Parse Server creates the same ones in MongoDB).
fn builtin_indexes(class: &str) -> &'static [(&'static str, &'static str, bool)] {
    match class {
        "_User" => &[
            ("username", "json_extract(data,'$.username')", false),
            ("email", "json_extract(data,'$.email')", false),
            (
                "username_unique_ci",
                "lower(json_extract(data,'$.username'))",
                true,
            ),
            (
                "email_unique_ci",
                "lower(json_extract(data,'$.email'))",
                true,
            ),
        ],
        "_Session" => &[
            ("session_token", "json_extract(data,'$.sessionToken')", true),
            ("user", "json_extract(data,'$.user.objectId')", false),
        ],
        "_Role" => &[("name", "json_extract(data,'$.name')", true)],
        _ => &[],
    }
}

fn index_name(class: &str, name: &str) -> String {
    ident(&format!("{class}:idx:{name}"))
}

pub fn create_join_table(conn: &Connection, field: &str, class: &str) -> rusqlite::Result<()> {
    let t = format!("_Join:{field}:{class}");
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {} (owningId TEXT NOT NULL, relatedId TEXT NOT NULL, PRIMARY KEY (owningId, relatedId)) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS {} ON {} (relatedId, owningId);",
        ident(&t),
        ident(&format!("{t}:related")),
        ident(&t)
    ))
}

/// Creates the class table, its built-in and schema indexes, and its join tables; drops indexes
/// the schema no longer lists.
pub fn ensure_class(conn: &Connection, schema: &ClassSchema) -> rusqlite::Result<()> {
    let class = &schema.class_name;
    let t = ident(class);
    conn.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {t} (objectId TEXT PRIMARY KEY NOT NULL, createdAt TEXT NOT NULL, updatedAt TEXT NOT NULL, _rperm TEXT, _wperm TEXT, data TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS {} ON {t} (createdAt);
         CREATE INDEX IF NOT EXISTS {} ON {t} (updatedAt);",
        index_name(class, "createdAt"),
        index_name(class, "updatedAt"),
    ))?;
    for (name, expr, unique) in builtin_indexes(class) {
        let u = if *unique { "UNIQUE " } else { "" };
        conn.execute_batch(&format!(
            "CREATE {u}INDEX IF NOT EXISTS {} ON {t} ({expr})",
            index_name(class, name)
        ))?;
    }
    let mut wanted = Vec::new();
    for (name, spec) in &schema.indexes {
        // `_id_` is MongoDB's primary index (listed by Parse Server); objectId is the key here.
        if name == "_id_" {
            continue;
        }
        let Some(keys) = spec.as_object() else {
            continue;
        };
        let mut cols = Vec::new();
        let mut extra = Vec::new();
        for (k, dir) in keys {
            if dir.is_string() {
                cols.clear();
                break; // text indexes are served by full-text search, not a B-tree
            }
            let Some(e) = sort_expr(schema, k) else {
                cols.clear();
                break;
            };
            cols.push(format!(
                "{e} {}",
                if dir.as_i64() == Some(-1) {
                    "DESC"
                } else {
                    "ASC"
                }
            ));
            // The JSON type guard of a comparison (`json_type(…) IN ('integer','real')`), so that
            // a filtered count is answered from the index alone.
            if e.starts_with("json_extract(data,'")
                && !e.ends_with(".iso')")
                && !e.ends_with(".objectId')")
            {
                extra.push(e.replacen("json_extract", "json_type", 1));
            }
        }
        if cols.is_empty() {
            continue;
        }
        // Trailing columns keep the index's order for `order` while covering the type guards and
        // the ACL check (`_rperm`).
        cols.extend(extra);
        cols.push("_rperm".into());
        let full = format!("{class}:idx:user:{name}");
        conn.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS {} ON {t} ({})",
            ident(&full),
            cols.join(", ")
        ))?;
        wanted.push(full);
    }
    let prefix = format!("{class}:idx:user:");
    let existing: Vec<String> = {
        let mut st =
            conn.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1")?;
        let rows = st.query_map([class], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for name in existing {
        if name.starts_with(&prefix) && !wanted.contains(&name) {
            conn.execute_batch(&format!("DROP INDEX IF EXISTS {}", ident(&name)))?;
        }
    }
    for (field, t) in &schema.fields {
        if let FieldType::Relation(_) = t {
            create_join_table(conn, field, class)?;
        }
    }
    Ok(())
}

/// Drops a class table and its join tables.
pub fn drop_class(conn: &Connection, class: &str) -> rusqlite::Result<()> {
    let joins: Vec<String> = {
        let mut st = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '\\_Join:%' ESCAPE '\\'")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|n| n.ends_with(&format!(":{class}")))
            .collect()
    };
    let fts: Vec<String> = {
        let mut st = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?1 ESCAPE '\\'",
        )?;
        let pattern = format!("{}:fts:%", class.replace('_', "\\_"));
        let rows = st.query_map([pattern], |r| r.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|n| {
                !n.contains("_data")
                    && !n.ends_with("_idx")
                    && !n.ends_with("_content")
                    && !n.ends_with("_docsize")
                    && !n.ends_with("_config")
            })
            .collect()
    };
    for f in fts {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", ident(&f)))?;
    }
    for j in joins {
        conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", ident(&j)))?;
    }
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", ident(class)))?;
    conn.execute("DELETE FROM _SCHEMA WHERE className = ?1", [class])?;
    Ok(())
}
