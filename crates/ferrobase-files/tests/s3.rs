//! The S3 adapter against a real S3 server (moto) on loopback.

use bytes::Bytes;
use ferrobase_files::testing::Moto;
use ferrobase_files::{ByteStream, FilesAdapter, FilesError, S3Files};
use futures_util::StreamExt;

fn stream(parts: Vec<Vec<u8>>) -> ByteStream {
    futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from(p)))).boxed()
}

async fn read_all(files: &S3Files, name: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let mut body = files.get(name, range).await.expect("get").body;
    let mut out = Vec::new();
    while let Some(c) = body.next().await {
        out.extend_from_slice(&c.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn s3_round_trip() {
    let Some(moto) = Moto::start() else {
        return;
    };
    let uri = moto.bucket("ferrobase-test").await.expect("bucket");
    let files = S3Files::from_uri(&format!("{uri}&virtual_hosted_style=false")).expect("configure");
    // 20 MiB in 1 MiB chunks: a multipart upload of several parts.
    let big: Vec<u8> = (0..20 * 1024 * 1024)
        .map(|i: usize| (i % 253) as u8)
        .collect();
    let parts: Vec<Vec<u8>> = big.chunks(1024 * 1024).map(<[u8]>::to_vec).collect();
    let meta = files
        .put("0123_big.bin", "application/octet-stream", stream(parts))
        .await
        .expect("put big");
    assert_eq!(meta.size, big.len() as u64);
    assert_eq!(read_all(&files, "0123_big.bin", None).await, big);
    assert_eq!(
        read_all(&files, "0123_big.bin", Some(1000..2000)).await,
        &big[1000..2000]
    );
    let odd = "../café ☕.txt";
    files
        .put(odd, "text/plain", stream(vec![b"hi".to_vec()]))
        .await
        .expect("put odd");
    let m = files.meta(odd).await.expect("meta");
    assert_eq!((m.size, m.content_type.as_str()), (2, "text/plain"));
    let mut names = files.list().await.expect("list");
    names.sort();
    assert_eq!(names, vec![odd.to_string(), "0123_big.bin".to_string()]);
    files.delete(odd).await.expect("delete");
    files.delete(odd).await.expect("delete again");
    assert!(matches!(files.meta(odd).await, Err(FilesError::NotFound)));
    // A failed stream stores nothing.
    let bad: ByteStream = futures_util::stream::iter(vec![
        Ok(Bytes::from_static(b"x")),
        Err(std::io::Error::other("gone")),
    ])
    .boxed();
    assert!(files.put("bad", "text/plain", bad).await.is_err());
    assert!(matches!(files.meta("bad").await, Err(FilesError::NotFound)));
}
