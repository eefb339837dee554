//! Full-text search with SQLite FTS5: one index table per (class, field), kept in step with the
//! class table by triggers and created on the first `$text` query (as Parse Server creates
//! MongoDB text indexes on demand).

use crate::sql::ident;
use rusqlite::Connection;

pub fn table(class: &str, field: &str) -> String {
    format!("{class}:fts:{field}")
}

fn path(field: &str) -> String {
    format!("$.{field}")
}

/// Creates the index, its triggers and fills it, unless it exists.
pub fn ensure(conn: &Connection, class: &str, field: &str) -> rusqlite::Result<()> {
    let t = table(class, field);
    let exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [&t],
        |r| r.get(0),
    )?;
    if exists {
        return Ok(());
    }
    let (ft, ct) = (ident(&t), ident(class));
    let p = path(field).replace('\'', "''");
    conn.execute_batch(&format!(
        "CREATE VIRTUAL TABLE {ft} USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
         CREATE TRIGGER {ai} AFTER INSERT ON {ct} BEGIN
           INSERT INTO {ft}(rowid, body) VALUES (new.rowid, json_extract(new.data, '{p}'));
         END;
         CREATE TRIGGER {au} AFTER UPDATE ON {ct} BEGIN
           DELETE FROM {ft} WHERE rowid = old.rowid;
           INSERT INTO {ft}(rowid, body) VALUES (new.rowid, json_extract(new.data, '{p}'));
         END;
         CREATE TRIGGER {ad} AFTER DELETE ON {ct} BEGIN
           DELETE FROM {ft} WHERE rowid = old.rowid;
         END;
         INSERT INTO {ft}(rowid, body) SELECT rowid, json_extract(data, '{p}') FROM {ct};",
        ai = ident(&format!("{t}:ai")),
        au = ident(&format!("{t}:au")),
        ad = ident(&format!("{t}:ad")),
    ))
}

/// Turns a MongoDB-style `$search` term (words are OR'ed, `"phrases"` kept, `-word` excluded)
/// into an FTS5 query; `None` when nothing positive is left to match.
pub fn match_query(term: &str) -> Option<String> {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    let mut rest = term;
    while !rest.trim().is_empty() {
        rest = rest.trim_start();
        let negated = rest.starts_with('-');
        if negated {
            rest = &rest[1..];
        }
        let (token, after) = if let Some(q) = rest.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match rest.find(char::is_whitespace) {
                Some(end) => (&rest[..end], &rest[end..]),
                None => (rest, ""),
            }
        };
        rest = after;
        let cleaned: String = token
            .chars()
            .filter(|c| c.is_alphanumeric() || c.is_whitespace())
            .collect();
        if cleaned.trim().is_empty() {
            continue;
        }
        let quoted = format!("\"{}\"", cleaned.trim());
        if negated {
            neg.push(quoted);
        } else {
            pos.push(quoted);
        }
    }
    if pos.is_empty() {
        return None;
    }
    let mut q = format!("({})", pos.join(" OR "));
    if !neg.is_empty() {
        q = format!("{q} NOT ({})", neg.join(" OR "));
    }
    Some(q)
}

/// The positive words of a term, for case- or diacritic-sensitive checks.
pub fn words(term: &str) -> Vec<String> {
    term.split_whitespace()
        .filter(|w| !w.starts_with('-'))
        .map(|w| w.trim_matches('"').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        assert_eq!(
            match_query("red shoes").as_deref(),
            Some("(\"red\" OR \"shoes\")")
        );
        assert_eq!(
            match_query("\"red shoes\" -blue").as_deref(),
            Some("(\"red shoes\") NOT (\"blue\")")
        );
        assert_eq!(match_query("-only"), None);
        assert_eq!(
            match_query("a\" OR x:y*").as_deref(),
            Some("(\"a\" OR \"OR\" OR \"xy\")")
        );
    }
}
