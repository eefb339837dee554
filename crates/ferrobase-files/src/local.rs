//! Files in a folder: `data/<encoded name>` holds the bytes, `meta/<encoded name>.json` the
//! name, type, size and validator (a file exists once its meta is written), `tmp/` the uploads in
//! progress (renamed into place when complete, so readers never see half a file).

use crate::{encode_name, ByteStream, FileMeta, FileRead, FilesAdapter, FilesError, Result};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::io::SeekFrom;
use std::ops::Range;
use std::path::PathBuf;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

/// Encoded names longer than this are replaced by a hash (file systems allow 255 bytes).
const MAX_SEGMENT: usize = 200;
/// Read buffer for downloads.
const READ_CHUNK: usize = 64 * 1024;

pub struct LocalFiles {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Sidecar {
    name: String,
    size: u64,
    content_type: String,
    etag: String,
    last_modified: DateTime<Utc>,
}

fn io_err(e: std::io::Error) -> FilesError {
    if e.kind() == std::io::ErrorKind::NotFound {
        FilesError::NotFound
    } else {
        FilesError::Backend(e.to_string())
    }
}

impl LocalFiles {
    /// Uses (and creates) the folder `root`.
    pub fn open(root: PathBuf) -> Result<LocalFiles, String> {
        for sub in ["data", "meta", "tmp"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d)
                .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        Ok(LocalFiles { root })
    }

    /// The one path segment a name is stored under.
    fn segment(name: &str) -> Result<String> {
        if name.is_empty() {
            return Err(FilesError::InvalidName("empty name".into()));
        }
        let enc = encode_name(name);
        if enc.len() <= MAX_SEGMENT {
            return Ok(enc);
        }
        // `==` never occurs in an encoding, so hashed segments cannot collide with plain ones.
        Ok(format!(
            "=={}",
            hex::encode(sha2::Sha256::digest(name.as_bytes()))
        ))
    }

    fn data_path(&self, seg: &str) -> PathBuf {
        self.root.join("data").join(seg)
    }

    fn meta_path(&self, seg: &str) -> PathBuf {
        self.root.join("meta").join(format!("{seg}.json"))
    }

    async fn read_sidecar(&self, name: &str) -> Result<Sidecar> {
        let seg = Self::segment(name)?;
        let text = tokio::fs::read(self.meta_path(&seg))
            .await
            .map_err(io_err)?;
        let s: Sidecar = serde_json::from_slice(&text)
            .map_err(|e| FilesError::Backend(format!("corrupt metadata for {name}: {e}")))?;
        if s.name != name {
            return Err(FilesError::NotFound);
        }
        Ok(s)
    }
}

impl From<Sidecar> for FileMeta {
    fn from(s: Sidecar) -> FileMeta {
        FileMeta {
            name: s.name,
            size: s.size,
            content_type: s.content_type,
            etag: s.etag,
            last_modified: s.last_modified,
        }
    }
}

/// Removes a temporary file when an upload does not complete.
struct TmpGuard(Option<PathBuf>);

impl Drop for TmpGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[async_trait::async_trait]
impl FilesAdapter for LocalFiles {
    async fn put(&self, name: &str, content_type: &str, mut data: ByteStream) -> Result<FileMeta> {
        let seg = Self::segment(name)?;
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}.part", crate::random_token()));
        let mut guard = TmpGuard(Some(tmp.clone()));
        let file = tokio::fs::File::create(&tmp).await.map_err(io_err)?;
        let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
        let mut size: u64 = 0;
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(FilesError::Source)?;
            size += chunk.len() as u64;
            out.write_all(&chunk).await.map_err(io_err)?;
        }
        out.flush().await.map_err(io_err)?;
        let file = out.into_inner();
        file.sync_data().await.map_err(io_err)?;
        drop(file);
        let side = Sidecar {
            name: name.to_string(),
            size,
            content_type: content_type.to_string(),
            etag: format!("\"{}\"", crate::random_token()),
            last_modified: Utc::now(),
        };
        let meta_tmp = self
            .root
            .join("tmp")
            .join(format!("{}.json", crate::random_token()));
        let mut meta_guard = TmpGuard(Some(meta_tmp.clone()));
        let json = serde_json::to_vec(&side).map_err(|e| FilesError::Backend(e.to_string()))?;
        tokio::fs::write(&meta_tmp, json).await.map_err(io_err)?;
        tokio::fs::rename(&tmp, self.data_path(&seg))
            .await
            .map_err(io_err)?;
        guard.0 = None;
        tokio::fs::rename(&meta_tmp, self.meta_path(&seg))
            .await
            .map_err(io_err)?;
        meta_guard.0 = None;
        Ok(side.into())
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<FileRead> {
        let side = self.read_sidecar(name).await?;
        let seg = Self::segment(name)?;
        let mut file = tokio::fs::File::open(self.data_path(&seg))
            .await
            .map_err(io_err)?;
        let size = side.size;
        let range = match range {
            Some(r) if r.start >= size || r.end > size || r.start > r.end => {
                return Err(FilesError::RangeNotSatisfiable { size })
            }
            Some(r) => r,
            None => 0..size,
        };
        if range.start > 0 {
            file.seek(SeekFrom::Start(range.start))
                .await
                .map_err(io_err)?;
        }
        let reader = file.take(range.end - range.start);
        let body = tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK).boxed();
        Ok(FileRead {
            meta: side.into(),
            range,
            body,
        })
    }

    async fn meta(&self, name: &str) -> Result<FileMeta> {
        Ok(self.read_sidecar(name).await?.into())
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let seg = Self::segment(name)?;
        for p in [self.meta_path(&seg), self.data_path(&seg)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<String>> {
        let mut dir = tokio::fs::read_dir(self.root.join("meta"))
            .await
            .map_err(io_err)?;
        let mut names = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(io_err)? {
            let Ok(bytes) = tokio::fs::read(entry.path()).await else {
                continue;
            };
            if let Ok(s) = serde_json::from_slice::<Sidecar>(&bytes) {
                names.push(s.name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn stream(parts: Vec<&'static [u8]>) -> ByteStream {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
    }

    async fn read_all(f: FileRead) -> Vec<u8> {
        let mut body = f.body;
        let mut out = Vec::new();
        while let Some(c) = body.next().await {
            out.extend_from_slice(&c.expect("chunk"));
        }
        out
    }

    #[tokio::test]
    async fn round_trip_range_delete_list() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err)?;
        let files = LocalFiles::open(dir.path().join("files")).map_err(FilesError::Backend)?;
        let m = files
            .put("a.txt", "text/plain", stream(vec![b"hello ", b"world"]))
            .await?;
        assert_eq!(m.size, 11);
        assert_eq!(
            read_all(files.get("a.txt", None).await?).await,
            b"hello world"
        );
        assert_eq!(
            read_all(files.get("a.txt", Some(6..11)).await?).await,
            b"world"
        );
        assert!(matches!(
            files.get("a.txt", Some(11..12)).await,
            Err(FilesError::RangeNotSatisfiable { size: 11 })
        ));
        files.put("empty", "text/plain", stream(vec![])).await?;
        assert_eq!(read_all(files.get("empty", None).await?).await, b"");
        assert_eq!(files.list().await?, vec!["a.txt", "empty"]);
        files.delete("a.txt").await?;
        files.delete("a.txt").await?;
        assert!(matches!(
            files.meta("a.txt").await,
            Err(FilesError::NotFound)
        ));
        Ok(())
    }

    #[tokio::test]
    async fn odd_names_stay_inside_the_folder() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err)?;
        let root = dir.path().join("files");
        let files = LocalFiles::open(root.clone()).map_err(FilesError::Backend)?;
        let long = "é".repeat(300);
        let names = [
            "../escape.txt",
            "../../etc/passwd",
            "..",
            ".",
            "a/b/c",
            "/abs",
            "back\\slash",
            "café ☕.txt",
            "nul\0x",
            long.as_str(),
        ];
        for n in names {
            files
                .put(n, "application/octet-stream", stream(vec![b"x"]))
                .await?;
            assert_eq!(files.meta(n).await?.name, n);
        }
        assert!(!dir.path().join("escape.txt").exists());
        // Every stored file is a direct child of data/ or meta/.
        for sub in ["data", "meta"] {
            for e in std::fs::read_dir(root.join(sub)).map_err(io_err)? {
                let e = e.map_err(io_err)?;
                assert!(e.file_type().map_err(io_err)?.is_file());
            }
        }
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(files.list().await?, want);
        Ok(())
    }

    #[tokio::test]
    async fn a_failed_upload_leaves_nothing() -> Result<()> {
        let dir = tempfile::tempdir().map_err(io_err)?;
        let root = dir.path().join("files");
        let files = LocalFiles::open(root.clone()).map_err(FilesError::Backend)?;
        let bad: ByteStream = futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err(std::io::Error::other("client went away")),
        ])
        .boxed();
        assert!(matches!(
            files.put("x", "text/plain", bad).await,
            Err(FilesError::Source(_))
        ));
        assert!(files.list().await?.is_empty());
        assert_eq!(
            std::fs::read_dir(root.join("tmp")).map_err(io_err)?.count(),
            0
        );
        Ok(())
    }
}
