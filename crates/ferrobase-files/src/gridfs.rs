//! Files in MongoDB GridFS, in Parse Server's layout (`fs.files`/`fs.chunks`, the Parse file name
//! as `filename`), so files written by Parse Server's GridFSBucketAdapter are served unchanged.
//! `--files-uri mongodb://host/db`. Streams both ways; a Range read skips to its start.

use crate::{ByteStream, FileMeta, FileRead, FilesAdapter, FilesError, Result};
use async_trait::async_trait;
use futures_util::io::AsyncWriteExt;
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::gridfs::{FilesCollectionDocument, GridFsBucket};
use std::ops::Range;
use tokio::io::AsyncReadExt;
use tokio::sync::OnceCell;
use tokio_util::compat::FuturesAsyncReadCompatExt;

pub struct GridFsFiles {
    uri: String,
    bucket: OnceCell<GridFsBucket>,
}

fn backend(e: impl std::fmt::Display) -> FilesError {
    FilesError::Backend(e.to_string())
}

impl GridFsFiles {
    /// Connects lazily, on first use (opening is synchronous in the adapter API).
    pub fn from_uri(uri: &str) -> Result<GridFsFiles, String> {
        if !(uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
            return Err("GridFS needs a mongodb:// URI".into());
        }
        Ok(GridFsFiles {
            uri: uri.to_string(),
            bucket: OnceCell::new(),
        })
    }

    async fn bucket(&self) -> Result<&GridFsBucket> {
        self.bucket
            .get_or_try_init(|| async {
                let client = mongodb::Client::with_uri_str(&self.uri)
                    .await
                    .map_err(backend)?;
                let db = client
                    .default_database()
                    .unwrap_or_else(|| client.database("parse"));
                Ok(db.gridfs_bucket(None))
            })
            .await
    }

    /// The newest revision of a file.
    async fn latest(&self, name: &str) -> Result<FilesCollectionDocument> {
        self.bucket()
            .await?
            .find_one(doc! { "filename": name })
            .sort(doc! { "uploadDate": -1 })
            .await
            .map_err(backend)?
            .ok_or(FilesError::NotFound)
    }

    fn meta_of(name: &str, f: &FilesCollectionDocument) -> FileMeta {
        let content_type = f
            .metadata
            .as_ref()
            .and_then(|m| m.get_str("contentType").ok())
            .map(str::to_string)
            .unwrap_or_else(|| "application/octet-stream".into());
        let id = match &f.id {
            Bson::ObjectId(o) => o.to_hex(),
            other => other.to_string(),
        };
        FileMeta {
            name: name.to_string(),
            size: f.length,
            content_type,
            etag: format!("\"{id}-{}\"", f.length),
            last_modified: chrono::DateTime::from_timestamp_millis(
                f.upload_date.timestamp_millis(),
            )
            .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl FilesAdapter for GridFsFiles {
    async fn put(&self, name: &str, content_type: &str, mut data: ByteStream) -> Result<FileMeta> {
        let bucket = self.bucket().await?;
        let mut up = bucket
            .open_upload_stream(name)
            .metadata(doc! { "contentType": content_type })
            .await
            .map_err(backend)?;
        while let Some(chunk) = data.next().await {
            match chunk {
                Ok(c) => up.write_all(&c).await.map_err(backend)?,
                Err(e) => {
                    let _ = up.abort().await;
                    return Err(FilesError::Source(e));
                }
            }
        }
        up.close().await.map_err(backend)?;
        let new_id = up.id().clone();
        // Replace: older revisions of the name go once the new one is complete.
        let mut old = bucket
            .find(doc! { "filename": name })
            .await
            .map_err(backend)?;
        while let Some(f) = old.try_next().await.map_err(backend)? {
            if f.id != new_id {
                bucket.delete(f.id).await.map_err(backend)?;
            }
        }
        self.meta(name).await
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<FileRead> {
        let f = self.latest(name).await?;
        let meta = Self::meta_of(name, &f);
        let range = range.unwrap_or(0..meta.size);
        if range.start > range.end || range.end > meta.size {
            return Err(FilesError::RangeNotSatisfiable { size: meta.size });
        }
        let stream = self
            .bucket()
            .await?
            .open_download_stream(f.id)
            .await
            .map_err(backend)?;
        let mut reader = stream.compat();
        if range.start > 0 {
            tokio::io::copy(&mut (&mut reader).take(range.start), &mut tokio::io::sink())
                .await
                .map_err(backend)?;
        }
        let body = tokio_util::io::ReaderStream::new(reader.take(range.end - range.start)).boxed();
        Ok(FileRead { meta, range, body })
    }

    async fn meta(&self, name: &str) -> Result<FileMeta> {
        let f = self.latest(name).await?;
        Ok(Self::meta_of(name, &f))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        let bucket = self.bucket().await?;
        let mut all = bucket
            .find(doc! { "filename": name })
            .await
            .map_err(backend)?;
        while let Some(f) = all.try_next().await.map_err(backend)? {
            bucket.delete(f.id).await.map_err(backend)?;
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        let mut all = self
            .bucket()
            .await?
            .find(Document::new())
            .await
            .map_err(backend)?;
        while let Some(f) = all.try_next().await.map_err(backend)? {
            if let Some(n) = f.filename {
                names.push(n);
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn describe(&self) -> String {
        "GridFS (fs.files/fs.chunks)".into()
    }
}
