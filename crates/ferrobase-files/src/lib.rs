//! File storage behind one trait (Parse Server's `FilesAdapter`): `put` a stream, `get` it back
//! whole or as one byte range, read its metadata, `delete` it, `list` every stored name.
//!
//! Adapters: [`LocalFiles`] (a folder on disk, the default: `<data-dir>/files`) and [`S3Files`]
//! (any S3-compatible store, through the `object_store` crate). [`open`] picks one from a URI.
//! Names are opaque strings chosen by the server (Parse's `<32 hex>_<filename>`); adapters must
//! store any UTF-8 name safely (no path traversal) and give it back unchanged from `list`.

mod gridfs;
mod local;
mod s3;
#[cfg(feature = "testing")]
pub mod testing;

pub use local::LocalFiles;
pub use s3::S3Files;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// A stream of file bytes. An `Err` item aborts a `put` (nothing is stored).
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// What is known about a stored file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileMeta {
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// A strong validator, quoted as in HTTP (`"…"`); changes whenever the content does.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
}

/// A file being read: its metadata, the byte range served and the bytes of that range.
pub struct FileRead {
    pub meta: FileMeta,
    pub range: Range<u64>,
    pub body: ByteStream,
}

#[derive(Debug)]
pub enum FilesError {
    /// No file of that name.
    NotFound,
    /// The name cannot be stored (empty, or refused by the backend).
    InvalidName(String),
    /// The requested range lies outside the file.
    RangeNotSatisfiable { size: u64 },
    /// The upload stream failed (client gone, size limit hit, …): nothing was stored.
    Source(std::io::Error),
    /// The backend failed.
    Backend(String),
}

impl fmt::Display for FilesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilesError::NotFound => f.write_str("file not found"),
            FilesError::InvalidName(n) => write!(f, "invalid file name: {n}"),
            FilesError::RangeNotSatisfiable { size } => {
                write!(f, "range not satisfiable (size {size})")
            }
            FilesError::Source(e) => write!(f, "upload stream failed: {e}"),
            FilesError::Backend(e) => write!(f, "file storage failed: {e}"),
        }
    }
}

impl std::error::Error for FilesError {}

pub type Result<T, E = FilesError> = std::result::Result<T, E>;

/// Where files live. Implementations must be safe to share between requests.
#[async_trait::async_trait]
pub trait FilesAdapter: Send + Sync {
    /// Stores `data` under `name` (replacing any file of that name only once the whole stream
    /// has been stored). Returns the new file's metadata.
    async fn put(&self, name: &str, content_type: &str, data: ByteStream) -> Result<FileMeta>;

    /// Reads the file, or only `range` of it (`start..end`, end exclusive, already clamped by the
    /// caller to the file size from `meta`).
    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<FileRead>;

    /// The file's metadata (`NotFound` when there is none).
    async fn meta(&self, name: &str) -> Result<FileMeta>;

    /// Removes the file; removing a missing file is not an error.
    async fn delete(&self, name: &str) -> Result<()>;

    /// Every stored name.
    async fn list(&self) -> Result<Vec<String>>;

    /// A short description for logs (never includes credentials).
    fn describe(&self) -> String;
}

/// Opens the adapter a `--files-uri` names:
/// - empty: a folder `files` inside `data_dir`;
/// - `file:<path>` (or `file://<path>`): that folder;
/// - `s3://bucket[/prefix]?endpoint=…&region=…&access_key_id=…&secret_access_key=…&allow_http=true`
///   (credentials and region also from the usual `AWS_*` environment variables).
pub fn open(uri: Option<&str>, data_dir: &Path) -> Result<Arc<dyn FilesAdapter>, String> {
    match uri.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(Arc::new(LocalFiles::open(data_dir.join("files"))?)),
        Some(u) if u.starts_with("file:") => {
            let p = u.trim_start_matches("file:").trim_start_matches("//");
            if p.is_empty() {
                return Err("--files-uri file:<path> needs a path".into());
            }
            Ok(Arc::new(LocalFiles::open(p.into())?))
        }
        Some(u) if u.starts_with("s3://") => Ok(Arc::new(S3Files::from_uri(u)?)),
        Some(u) if u.starts_with("mongodb://") || u.starts_with("mongodb+srv://") => {
            Ok(Arc::new(gridfs::GridFsFiles::from_uri(u)?))
        }
        Some(_) => Err("--files-uri must be empty, file:<path>, s3://bucket[/prefix]?… or mongodb://host/db (GridFS)".into()),
    }
}

/// 32 random hex characters (Parse's file name prefix, upload ids, temporary names).
pub fn random_token() -> String {
    let mut buf = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut buf[..]);
    hex::encode(buf)
}

/// Maps any name to a string of `[A-Za-z0-9_.@-]` and `=XX` escapes that is safe as one path
/// segment on every file system and object store: no `/`, `\`, NUL, and never `.` or `..` (a
/// leading dot is escaped). Injective, and [`decode_name`] reverses it.
pub fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let keep =
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@') || (b == b'.' && i > 0);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// The name [`encode_name`] encoded, or `None` if `s` is not such an encoding.
pub fn decode_name(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The range `start..end` a single HTTP byte-range spec asks for in a file of `size` bytes:
/// `Ok(None)` when the header should be ignored (not bytes, several ranges, malformed: answer
/// 200 with the whole file), `Err(())` when it cannot be satisfied (416).
#[allow(clippy::result_unit_err)]
pub fn parse_range(header: &str, size: u64) -> std::result::Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // suffix: the last N bytes
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(());
        }
        return Ok(Some(size.saturating_sub(n)..size));
    }
    let Ok(start) = a.parse::<u64>() else {
        return Ok(None);
    };
    let end = if b.is_empty() {
        size
    } else {
        let Ok(last) = b.parse::<u64>() else {
            return Ok(None);
        };
        if last < start {
            return Ok(None);
        }
        last.saturating_add(1).min(size)
    };
    if start >= size {
        return Err(());
    }
    Ok(Some(start..end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn names_encode_safely_and_reversibly() {
        let odd = [
            "a.txt",
            "../../etc/passwd",
            "..",
            ".",
            ".hidden",
            "a/b\\c",
            "café \u{1F600}.png",
            "x=41",
            "",
            "nul\0byte",
        ];
        for n in odd {
            let e = super::encode_name(n);
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-@.=".contains(&b)),
                "{e}"
            );
            assert!(!e.starts_with('.'), "{e}");
            assert_eq!(super::decode_name(&e).as_deref(), Some(n));
        }
        assert_ne!(super::encode_name("x=41"), super::encode_name("xA"));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=-500", 1000), Ok(Some(500..1000)));
        assert_eq!(parse_range("bytes=-5000", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=900-5000", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), Err(()));
        assert_eq!(parse_range("bytes=-0", 1000), Err(()));
        assert_eq!(parse_range("bytes=0-0", 0), Err(()));
        assert_eq!(parse_range("bytes=5-1", 1000), Ok(None));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(parse_range("items=0-1", 1000), Ok(None));
        assert_eq!(parse_range("bytes=x-1", 1000), Ok(None));
    }
}
