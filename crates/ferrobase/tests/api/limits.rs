//! Hostile input is refused or answered fast: a 10 MB body of deep nesting, a catastrophic
//! `$regex` on a long string.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_deeply_nested_10_mb_body_is_refused_fast() {
    let app = spawn().await;
    let half = 5 * 1024 * 1024;
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let n = half / open.len();
        let body = format!("{}1{}", open.repeat(n), close.repeat(n));
        let started = Instant::now();
        let (s, _, v) = app
            .raw(
                reqwest::Method::POST,
                "/classes/Deep",
                Some(body),
                As::Master,
            )
            .await;
        let took = started.elapsed();
        // Parse answers a body it cannot parse with 400 and the parser's message, without a code.
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(
            v["error"].as_str().is_some_and(|e| e.contains("JSON")),
            "{v}"
        );
        assert!(took < Duration::from_secs(5), "refused in {took:?}");
    }
    // The server is fine afterwards.
    app.create("Deep", json!({"ok": true})).await;
    app.stop().await;
}

#[tokio::test]
async fn a_catastrophic_regex_on_a_long_string_returns_quickly() {
    let app = spawn().await;
    let long = format!("{}!", "a".repeat(100_000));
    app.create("Long", json!({"s": long})).await;
    for pattern in ["(a+)+$", "^(a|aa)*b", "(a*)*(b|c)$", "(.*a){20}x"] {
        let w = json!({"s": {"$regex": pattern}});
        let started = Instant::now();
        let (s, v) = app
            .get(
                &format!("/classes/Long?where={}", urlencode(&w.to_string())),
                As::Public,
            )
            .await;
        let took = started.elapsed();
        assert!(
            s == StatusCode::OK || s == StatusCode::BAD_REQUEST,
            "{pattern}: {s} {v}"
        );
        assert!(took < Duration::from_secs(3), "{pattern} took {took:?}");
    }
    app.stop().await;
}
