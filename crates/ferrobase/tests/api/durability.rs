//! Data survives a graceful stop and a kill -9; the binary's start-up contract.

use crate::helpers::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

#[tokio::test]
async fn data_survives_a_graceful_restart() {
    let app = spawn().await;
    let id = app.create("Keep", json!({"v": 1})).await;
    let dir = app.stop().await;
    let mut config = test_config(dir.path());
    config.port = 0;
    let again = ferrobase::serve::start(config).await.expect("restart");
    let r = reqwest::Client::new()
        .get(format!("{}/classes/Keep/{id}", again.url))
        .header("X-Parse-Application-Id", APP_ID)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    again.stop().await;
}

/// Starts the real binary and returns it with its URL (read from the start-up line).
fn start_binary(dir: &std::path::Path, extra: &[&str]) -> (Child, String, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrobase"))
        .args(["serve", "--port", "0", "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("no stdout");
    };
    let mut lines = Vec::new();
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server exited before listening: {lines:?}");
        }
        let line = line.trim_end().to_string();
        if let Some(url) = line.strip_prefix("ferrobase listening on ") {
            let url = url.to_string();
            lines.push(line);
            return (child, url, lines);
        }
        lines.push(line);
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("dir");
    let keys = [
        "--app-id",
        APP_ID,
        "--master-key",
        MASTER_KEY,
        "--bcrypt-cost",
        "4",
    ];
    let (mut child, url, _) = start_binary(dir.path(), &keys);
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..200 {
        let r = client
            .post(format!("{url}/classes/Durable"))
            .header("X-Parse-Application-Id", APP_ID)
            .header("X-Parse-Master-Key", MASTER_KEY)
            .json(&json!({"i": i}))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.expect("json");
        ids.push(v["objectId"].as_str().expect("id").to_string());
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let (mut child, url, _) = start_binary(dir.path(), &keys);
    let r = client
        .get(format!("{url}/classes/Durable?count=1&limit=1000"))
        .header("X-Parse-Application-Id", APP_ID)
        .send()
        .await
        .expect("sent");
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(v["count"], json!(200));
    let found: Vec<&str> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|o| o["objectId"].as_str())
        .collect();
    for id in &ids {
        assert!(found.contains(&id.as_str()), "lost {id}");
    }
    child.kill().expect("stop");
    let _ = child.wait();
}

#[tokio::test]
async fn first_start_generates_and_prints_keys_once() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, url, lines) = start_binary(dir.path(), &[]);
    child.kill().expect("stop");
    let _ = child.wait();
    assert!(url.ends_with("/parse"), "{url}");
    let text = lines.join("\n");
    let stored: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("keys.json")).expect("keys.json"),
    )
    .expect("json");
    let master = stored["masterKey"].as_str().expect("masterKey");
    let app_id = stored["appId"].as_str().expect("appId");
    assert!(text.contains(master) && text.contains(app_id), "{text}");
    let (mut child, _, lines) = start_binary(dir.path(), &[]);
    child.kill().expect("stop");
    let _ = child.wait();
    assert!(
        !lines.join("\n").contains(master),
        "the master key is printed only once"
    );
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let (child, _, _) = start_binary(dir.path(), &["--app-id", "a", "--master-key", "m"]);
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("exit");
    assert!(out.status.success(), "exit status {:?}", out.status);
    // A clean close checkpoints the WAL into the main file.
    let wal = dir.path().join("ferrobase.sqlite-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0);
}
