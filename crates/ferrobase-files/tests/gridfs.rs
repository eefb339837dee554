//! The GridFS adapter on a real MongoDB-wire server (FerretDB in scripts/test.sh).

use bytes::Bytes;
use ferrobase_files::FilesError;
use futures_util::StreamExt;

fn stream(parts: Vec<&'static [u8]>) -> ferrobase_files::ByteStream {
    futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
}

async fn read_all(f: ferrobase_files::FileRead) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = f.body;
    while let Some(c) = body.next().await {
        out.extend_from_slice(&c.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn gridfs_round_trip_range_replace_delete() {
    let Ok(base) = std::env::var("FERROBASE_TEST_MONGODB_URI") else {
        eprintln!("SKIPPED: FERROBASE_TEST_MONGODB_URI is not set (scripts/test.sh sets it with FerretDB)");
        return;
    };
    let uri = format!(
        "{}/gridfs_{}",
        base.trim_end_matches('/'),
        std::process::id()
    );
    let files =
        ferrobase_files::open(Some(&uri), std::path::Path::new("/nonexistent")).expect("adapter");
    let big: &'static [u8] = Box::leak(vec![7u8; 600_000].into_boxed_slice());
    let m = files
        .put(
            "a_photo.bin",
            "image/png",
            stream(vec![b"head", big, b"tail"]),
        )
        .await
        .expect("put");
    assert_eq!(m.size, 600_008);
    assert_eq!(m.content_type, "image/png");
    let all = read_all(files.get("a_photo.bin", None).await.expect("get")).await;
    assert_eq!(all.len(), 600_008);
    assert_eq!(&all[..4], b"head");
    let part = read_all(
        files
            .get("a_photo.bin", Some(600_004..600_008))
            .await
            .expect("range"),
    )
    .await;
    assert_eq!(part, b"tail");
    assert!(matches!(
        files.get("a_photo.bin", Some(10..700_000)).await,
        Err(FilesError::RangeNotSatisfiable { .. })
    ));
    files
        .put("a_photo.bin", "image/png", stream(vec![b"new"]))
        .await
        .expect("replace");
    assert_eq!(
        read_all(files.get("a_photo.bin", None).await.expect("get")).await,
        b"new"
    );
    files
        .put("b.txt", "text/plain", stream(vec![]))
        .await
        .expect("empty");
    assert_eq!(
        files.list().await.expect("list"),
        vec!["a_photo.bin", "b.txt"]
    );
    files.delete("a_photo.bin").await.expect("delete");
    assert!(matches!(
        files.meta("a_photo.bin").await,
        Err(FilesError::NotFound)
    ));
}
