//! `ferrobase backup`/`restore` while writes go on, and `export`/`import` round trips.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BATCH: usize = 5;

/// Acknowledged writes, in the order their answers arrived.
#[derive(Default)]
struct Acked {
    singles: Vec<String>,
    batches: Vec<String>,
}

async fn batch(app: &TestApp, tag: &str) -> bool {
    let requests: Vec<Value> = (0..BATCH)
        .map(|i| json!({"method": "POST", "path": "/parse/classes/Batched", "body": {"tag": tag, "i": i}}))
        .collect();
    let (s, v) = app
        .post(
            "/batch",
            json!({"requests": requests, "transaction": true}),
            As::Master,
        )
        .await;
    if s != StatusCode::OK {
        eprintln!("batch: {s} {v}");
    }
    s == StatusCode::OK
        && v.as_array()
            .is_some_and(|a| a.len() == BATCH && a.iter().all(|r| r.get("success").is_some()))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrobase"))
}

#[tokio::test]
async fn backup_while_writing_is_consistent_and_serves() {
    if on_mongo() {
        return; // backup copies the embedded store; MongoDB has mongodump
    }
    let app = spawn().await;
    // Some volume, so that the backup takes a while: 2,000 objects of 10 KB.
    let blob = "x".repeat(10_000);
    for b in 0..40 {
        let requests: Vec<Value> = (0..50)
            .map(|i| json!({"method": "POST", "path": "/parse/classes/Seed", "body": {"b": b, "i": i, "blob": blob}}))
            .collect();
        let (s, _) = app
            .post("/batch", json!({"requests": requests}), As::Master)
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    // The classes exist before the concurrent writers start (see the note in the report: a
    // transactional batch that creates a class while another request creates one can stall).
    assert!(batch(&app, "first").await);
    app.create("Single", json!({"first": true})).await;
    let app = Arc::new(app);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..3 {
        let (app, acked, stop) = (app.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                if w == 0 {
                    let tag = format!("w{w}-{n}");
                    if batch(&app, &tag).await {
                        acked.lock().expect("lock").batches.push(tag);
                    }
                } else {
                    let (s, v) = app
                        .post("/classes/Single", json!({"w": w, "n": n}), As::Master)
                        .await;
                    if s != StatusCode::CREATED {
                        eprintln!("single: {s} {v}");
                    }
                    if s == StatusCode::CREATED {
                        if let Some(id) = v["objectId"].as_str() {
                            acked.lock().expect("lock").singles.push(id.to_string());
                        }
                    }
                }
            }
        }));
    }
    // Until each kind of write has been acknowledged a few times.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let a = acked.lock().expect("lock");
        if (a.singles.len() >= 10 && a.batches.len() >= 3) || Instant::now() > deadline {
            break;
        }
    }
    // Everything acknowledged now was committed before the backup starts.
    let (singles_before, batches_before) = {
        let a = acked.lock().expect("lock");
        (a.singles.clone(), a.batches.clone())
    };
    assert!(!singles_before.is_empty() && !batches_before.is_empty());
    let target = tempfile::tempdir().expect("dir");
    let to = target.path().join("bk");
    let data_dir = app.dir.path().to_path_buf();
    let to2 = to.clone();
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .args(["backup", "--data-dir"])
            .arg(&data_dir)
            .arg("--to")
            .arg(&to2)
            .output()
    })
    .await
    .expect("join")
    .expect("backup runs");
    let took = started.elapsed();
    let during = {
        let a = acked.lock().expect("lock");
        a.singles.len() + a.batches.len() - singles_before.len() - batches_before.len()
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.expect("writer");
    }
    assert!(
        out.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("backup took {took:?}; {during} writes acknowledged meanwhile");
    assert!(during > 0, "writes went on during the backup");
    assert!(to.join("backup.json").is_file());

    // Restore into a fresh data dir and serve from it.
    let restored = tempfile::tempdir().expect("dir");
    let out = bin()
        .args(["restore", "--from"])
        .arg(&to)
        .arg("--data-dir")
        .arg(restored.path())
        .output()
        .expect("restore runs");
    assert!(
        out.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A second restore over it needs --force.
    let again = bin()
        .args(["restore", "--from"])
        .arg(&to)
        .arg("--data-dir")
        .arg(restored.path())
        .output()
        .expect("restore runs");
    assert!(!again.status.success());

    let node = ferrobase::serve::start(test_config(restored.path()))
        .await
        .expect("serves from the restored backup");
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{}{path}", node.url))
            .header("X-Parse-Application-Id", APP_ID)
            .header("X-Parse-Master-Key", MASTER_KEY)
    };
    let all = |class: &'static str, keys: &'static str| {
        get(format!("/classes/{class}?limit=1000000&keys={keys}"))
    };
    let singles: Value = all("Single", "objectId")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let have: HashSet<&str> = singles["results"]
        .as_array()
        .map(|a| a.iter().filter_map(|o| o["objectId"].as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<&String> = singles_before
        .iter()
        .filter(|id| !have.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged creates missing",
        missing.len()
    );
    let batched: Value = all("Batched", "tag")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let mut per_tag: BTreeMap<String, usize> = BTreeMap::new();
    for o in batched["results"].as_array().cloned().unwrap_or_default() {
        *per_tag
            .entry(o["tag"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    for tag in &batches_before {
        assert_eq!(per_tag.get(tag), Some(&BATCH), "batch {tag} is whole");
    }
    let torn: Vec<_> = per_tag.iter().filter(|(_, n)| **n != BATCH).collect();
    assert!(torn.is_empty(), "torn transactions: {torn:?}");
    let r = get("/classes/Seed?count=1&limit=0".into())
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["count"], json!(2000));
    // It takes writes.
    let r = client
        .post(format!("{}/classes/Single", node.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .json(&json!({"after": "restore"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::CREATED);
    node.stop().await;
    if let Ok(app) = Arc::try_unwrap(app) {
        app.stop().await;
    }
}

#[tokio::test]
async fn a_backup_includes_local_files_and_a_single_file_backup_the_database() {
    if on_mongo() {
        return;
    }
    let app = spawn().await;
    let r = app
        .client
        .post(format!("{}/files/hello.txt", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .header("Content-Type", "text/plain")
        .body("hello backup")
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    let name = v["name"].as_str().unwrap_or_default().to_string();
    app.create("Doc", json!({"file": {"__type": "File", "name": name}}))
        .await;
    let mut config = test_config(app.dir.path());
    config.port = 0;
    let out = tempfile::tempdir().expect("dir");
    let dir = out.path().join("full");
    let report = ferrobase::backup::backup(&config, &dir).expect("backup");
    assert_eq!(report.files, 1);
    let file = out.path().join("db.sqlite");
    let single = ferrobase::backup::backup(&config, &file).expect("single-file backup");
    assert!(single.database_bytes > 0 && file.is_file());
    assert!(
        ferrobase::backup::backup(&config, &file).is_err(),
        "never overwrites"
    );
    app.stop().await;

    let restored = tempfile::tempdir().expect("dir");
    let rconfig = test_config(restored.path());
    ferrobase::backup::restore(&rconfig, &dir, false).expect("restore");
    let node = ferrobase::serve::start(rconfig).await.expect("serves");
    let r = reqwest::get(format!("{}/files/{APP_ID}/{name}", node.url))
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().await.expect("text"), "hello backup");
    node.stop().await;

    // A single-file backup restores the database.
    let again = tempfile::tempdir().expect("dir");
    let aconfig = test_config(again.path());
    ferrobase::backup::restore(&aconfig, &file, false).expect("restore a file");
    let node = ferrobase::serve::start(aconfig).await.expect("serves");
    let r = reqwest::Client::new()
        .get(format!("{}/classes/Doc?count=1", node.url))
        .header("X-Parse-Application-Id", APP_ID)
        .send()
        .await
        .expect("sent");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["count"], json!(1));
    node.stop().await;
}

#[tokio::test]
async fn export_then_import_keeps_users_acls_relations_and_files() {
    let app = spawn().await;
    let (uid, _) = app.signup("ann", "ann-pw").await;
    let mut fans = Vec::new();
    for i in 0..3 {
        fans.push(app.create("Fan", json!({"n": i})).await);
    }
    let rel = json!({"__op": "AddRelation", "objects": fans.iter().map(|f| json!({"__type": "Pointer", "className": "Fan", "objectId": f})).collect::<Vec<_>>()});
    let band = app
        .create(
            "Band",
            json!({"name": "b", "fans": rel, "when": {"__type": "Date", "iso": "2020-01-02T03:04:05.000Z"},
                   "logo": {"__type": "File", "name": "x_logo.png", "url": "http://h/files/x_logo.png"},
                   "owner": {"__type": "Pointer", "className": "_User", "objectId": uid}}),
        )
        .await;
    let (s, v) = app
        .post(
            "/classes/Secret",
            json!({"v": 1, "ACL": {uid.clone(): {"read": true, "write": true}}}),
            As::Master,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Many objects, over several pages.
    let requests: Vec<Value> = (0..1500)
        .map(|i| json!({"method": "POST", "path": "/parse/classes/Many", "body": {"i": i}}))
        .collect();
    for chunk in requests.chunks(500) {
        let (s, _) = app
            .post("/batch", json!({"requests": chunk}), As::Master)
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    let mut config = test_config(app.dir.path());
    config.port = 0;
    let out = tempfile::tempdir().expect("dir");
    let exp = out.path().join("export");
    // While the server runs (the export goes through the storage trait, as any client).
    let report = ferrobase::export::export(&config, &exp, true)
        .await
        .expect("export");
    assert!(report.objects >= 1506, "{report:?}");
    assert_eq!(report.relations, 3);
    assert_eq!(report.files, 1);
    app.stop().await;
    let many = std::fs::read_to_string(exp.join("classes/Many.jsonl")).expect("class file");
    assert_eq!(many.lines().count(), 1500);
    let users = std::fs::read_to_string(exp.join("classes/_User.jsonl")).expect("users");
    assert!(
        users.contains("_hashed_password"),
        "password hashes are exported"
    );
    assert!(exp.join("manifest.json").is_file());

    let dst = tempfile::tempdir().expect("dir");
    let dconfig = test_config(dst.path());
    let r = ferrobase::export::import(&dconfig, &exp, true)
        .await
        .expect("import");
    assert_eq!(r.inserted, report.objects);
    assert_eq!(r.relations, 3);
    // Run again (as after an interruption): nothing is duplicated.
    let r2 = ferrobase::export::import(&dconfig, &exp, true)
        .await
        .expect("import again");
    assert_eq!(r2.inserted, 0);
    assert_eq!(r2.skipped, report.objects);

    let node = ferrobase::serve::start(dconfig).await.expect("serves");
    let client = reqwest::Client::new();
    let get = |path: String| {
        client
            .get(format!("{}{path}", node.url))
            .header("X-Parse-Application-Id", APP_ID)
    };
    let r = get("/login?username=ann&password=ann-pw".into())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK, "the password hash came along");
    let v: Value = r.json().await.expect("json");
    let new_token = v["sessionToken"].as_str().unwrap_or_default().to_string();
    let v: Value = get("/classes/Secret".into())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["results"],
        json!([]),
        "the ACL came along: hidden from the public"
    );
    let v: Value = get("/classes/Secret".into())
        .header("X-Parse-Session-Token", &new_token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v["results"].as_array().map(Vec::len), Some(1));
    let v: Value = get(format!("/classes/Band/{band}?include=owner"))
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v["owner"]["username"], json!("ann"));
    assert_eq!(v["when"]["iso"], json!("2020-01-02T03:04:05.000Z"));
    assert_eq!(v["logo"]["name"], json!("x_logo.png"));
    let w = json!({"$relatedTo": {"object": {"__type": "Pointer", "className": "Band", "objectId": band}, "key": "fans"}});
    let v: Value = get(format!(
        "/classes/Fan?count=1&where={}",
        urlencode(&w.to_string())
    ))
    .send()
    .await
    .expect("sent")
    .json()
    .await
    .expect("json");
    assert_eq!(v["count"], json!(3), "relations came along");
    let v: Value = get("/classes/Many?count=1&limit=0".into())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v["count"], json!(1500));
    node.stop().await;
}
