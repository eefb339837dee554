//! Files in an S3-compatible bucket (AWS, MinIO, Ceph, moto, …) through `object_store`. Uploads
//! are streamed as multipart uploads in 8 MiB parts (small files as one PUT); the content type is
//! the object's `Content-Type`; the validator is the store's ETag.

use crate::Result;
use crate::{decode_name, encode_name, ByteStream, FileMeta, FileRead, FilesAdapter, FilesError};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{Attribute, Attributes, GetOptions, GetRange, ObjectStore};
use std::ops::Range;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

const PART_SIZE: usize = 8 * 1024 * 1024;

pub struct S3Files {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
}

fn store_err(e: object_store::Error) -> FilesError {
    match e {
        object_store::Error::NotFound { .. } => FilesError::NotFound,
        other => FilesError::Backend(other.to_string()),
    }
}

impl S3Files {
    /// `s3://bucket[/prefix]?endpoint=http://127.0.0.1:9000&region=us-east-1&allow_http=true
    /// &access_key_id=…&secret_access_key=…`; anything not given comes from `AWS_*` variables.
    pub fn from_uri(uri: &str) -> Result<S3Files, String> {
        let url = url::Url::parse(uri).map_err(|e| format!("invalid --files-uri: {e}"))?;
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or("--files-uri s3://… needs a bucket name")?
            .to_string();
        let prefix = url.path().trim_matches('/').to_string();
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        let mut endpoint = None;
        let mut allow_http = None;
        let mut region_set = false;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "endpoint" => {
                    endpoint = Some(v.to_string());
                    b = b.with_endpoint(v.as_ref());
                }
                "region" => {
                    region_set = true;
                    b = b.with_region(v.as_ref());
                }
                "access_key_id" => b = b.with_access_key_id(v.as_ref()),
                "secret_access_key" => b = b.with_secret_access_key(v.as_ref()),
                "allow_http" => allow_http = Some(v == "true" || v == "1"),
                "virtual_hosted_style" => {
                    b = b.with_virtual_hosted_style_request(v == "true" || v == "1")
                }
                other => return Err(format!("unknown --files-uri parameter {other}")),
            }
        }
        let http_endpoint = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        b = b.with_allow_http(allow_http.unwrap_or(http_endpoint));
        if !region_set && std::env::var_os("AWS_REGION").is_none() {
            b = b.with_region("us-east-1");
        }
        let store = b
            .build()
            .map_err(|e| format!("cannot configure S3 files: {e}"))?;
        Ok(S3Files {
            store: Arc::new(store),
            bucket,
            prefix,
            endpoint,
        })
    }

    fn path(&self, name: &str) -> Result<Path> {
        if name.is_empty() {
            return Err(FilesError::InvalidName("empty name".into()));
        }
        let key = if self.prefix.is_empty() {
            encode_name(name)
        } else {
            format!("{}/{}", self.prefix, encode_name(name))
        };
        Path::parse(key).map_err(|e| FilesError::InvalidName(e.to_string()))
    }

    fn meta_from(name: &str, m: &object_store::ObjectMeta, attrs: &Attributes) -> FileMeta {
        FileMeta {
            name: name.to_string(),
            size: m.size,
            content_type: attrs
                .get(&Attribute::ContentType)
                .map(|v| v.as_ref().to_string())
                .unwrap_or_else(|| "application/octet-stream".into()),
            etag: m
                .e_tag
                .clone()
                .map(|t| {
                    if t.starts_with('"') {
                        t
                    } else {
                        format!("\"{t}\"")
                    }
                })
                .unwrap_or_else(|| format!("\"{}-{}\"", m.size, m.last_modified.timestamp())),
            last_modified: m.last_modified,
        }
    }
}

#[async_trait::async_trait]
impl FilesAdapter for S3Files {
    async fn put(&self, name: &str, content_type: &str, mut data: ByteStream) -> Result<FileMeta> {
        let path = self.path(name)?;
        let mut attrs = Attributes::new();
        attrs.insert(Attribute::ContentType, content_type.to_string().into());
        let mut w = BufWriter::with_capacity(self.store.clone(), path.clone(), PART_SIZE)
            .with_attributes(attrs);
        while let Some(chunk) = data.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    let _ = w.abort().await;
                    return Err(FilesError::Source(e));
                }
            };
            if let Err(e) = w.write_all(&chunk).await {
                let _ = w.abort().await;
                return Err(FilesError::Backend(e.to_string()));
            }
        }
        w.shutdown()
            .await
            .map_err(|e| FilesError::Backend(e.to_string()))?;
        self.meta(name).await
    }

    async fn get(&self, name: &str, range: Option<Range<u64>>) -> Result<FileRead> {
        let path = self.path(name)?;
        if let Some(r) = &range {
            if r.start >= r.end {
                let size = self.meta(name).await?.size;
                return Err(FilesError::RangeNotSatisfiable { size });
            }
        }
        let opts = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let res = self
            .store
            .get_opts(&path, opts)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => FilesError::NotFound,
                other => FilesError::Backend(other.to_string()),
            })?;
        let meta = Self::meta_from(name, &res.meta, &res.attributes);
        let served = res.range.clone();
        let body = res.into_stream().map_err(std::io::Error::other).boxed();
        Ok(FileRead {
            meta,
            range: served,
            body,
        })
    }

    async fn meta(&self, name: &str) -> Result<FileMeta> {
        let path = self.path(name)?;
        let opts = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let res = self.store.get_opts(&path, opts).await.map_err(store_err)?;
        Ok(Self::meta_from(name, &res.meta, &res.attributes))
    }

    async fn delete(&self, name: &str) -> Result<()> {
        match self.store.delete(&self.path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(e)),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        let prefix = if self.prefix.is_empty() {
            None
        } else {
            Some(Path::from(self.prefix.as_str()))
        };
        let mut out = Vec::new();
        let mut items = self.store.list(prefix.as_ref());
        while let Some(m) = items.next().await {
            let m = m.map_err(store_err)?;
            if let Some(n) = m
                .location
                .filename()
                .and_then(decode_name)
                .filter(|_| m.location.parts().count() == prefix_len(&self.prefix) + 1)
            {
                out.push(n);
            }
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("S3 bucket {} at {e}", self.bucket),
            None => format!("S3 bucket {}", self.bucket),
        }
    }
}

fn prefix_len(prefix: &str) -> usize {
    prefix.split('/').filter(|s| !s.is_empty()).count()
}
