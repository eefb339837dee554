//! Email verification and password reset, with real emails over SMTP to a sink on loopback.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A minimal SMTP server that accepts every message and keeps its text.
async fn smtp_sink() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let inbox = Arc::new(Mutex::new(Vec::new()));
    let store = inbox.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"220 sink ESMTP\r\n").await;
                let mut data = false;
                let mut message = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    if data {
                        if line == "." {
                            data = false;
                            if let Ok(mut s) = store.lock() {
                                s.push(std::mem::take(&mut message));
                            }
                            let _ = w.write_all(b"250 OK\r\n").await;
                        } else {
                            message.push_str(&line);
                            message.push('\n');
                        }
                        continue;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        b"250 sink\r\n"
                    } else if cmd.starts_with("DATA") {
                        data = true;
                        b"354 go\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    let _ = w.write_all(reply).await;
                }
            });
        }
    });
    (format!("smtp://127.0.0.1:{port}"), inbox)
}

/// The first link in the newest message (quoted-printable soft breaks undone).
fn last_link(inbox: &Arc<Mutex<Vec<String>>>) -> String {
    let msgs = inbox.lock().expect("inbox");
    let text = msgs
        .last()
        .expect("an email arrived")
        .replace("=\n", "")
        .replace("=3D", "=");
    let start = text.find("http://").expect("a link");
    text[start..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_string()
}

async fn wait_for_mail(inbox: &Arc<Mutex<Vec<String>>>, n: usize) {
    for _ in 0..100 {
        if inbox.lock().map(|m| m.len()).unwrap_or(0) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no email arrived");
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn email_verification_flow() {
    let (smtp, inbox) = smtp_sink().await;
    let app = spawn_with(|c| {
        c.smtp_url = Some(smtp);
        c.verify_user_emails = true;
        c.prevent_login_with_unverified_email = true;
        c.app_name = "Shop".into();
    })
    .await;
    let (s, v) = app
        .post(
            "/users",
            json!({"username": "ann", "password": "pw", "email": "ann@shop.example"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(
        v.get("sessionToken").is_none(),
        "no session before verification: {v}"
    );
    wait_for_mail(&inbox, 1).await;
    assert!(inbox.lock().expect("inbox")[0].contains("Please verify your e-mail for Shop"));
    assert_parse_error(
        &app.get("/login?username=ann&password=pw", As::Public).await,
        400,
        205,
    );
    let link = last_link(&inbox);
    assert!(
        link.contains("/apps/test-app/verify_email?token="),
        "{link}"
    );
    let r = no_redirects().get(&link).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers()["location"]
        .to_str()
        .expect("ascii")
        .ends_with("/apps/verify_email_success.html"));
    let (s, v) = app.get("/login?username=ann&password=pw", As::Public).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["emailVerified"], json!(true));
    // The link works once.
    let r = no_redirects().get(&link).send().await.expect("sent");
    assert!(r.headers()["location"]
        .to_str()
        .expect("ascii")
        .contains("invalid"));
    assert_parse_error(
        &app.post(
            "/verificationEmailRequest",
            json!({"email": "ann@shop.example"}),
            As::Public,
        )
        .await,
        400,
        -1,
    );
    assert_parse_error(
        &app.post(
            "/verificationEmailRequest",
            json!({"email": "nobody@shop.example"}),
            As::Public,
        )
        .await,
        400,
        205,
    );
    // The success page is served.
    let r = app
        .client
        .get(format!("{}/apps/verify_email_success.html", app.url))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("html").contains("verified"));
}

#[tokio::test]
async fn password_reset_flow() {
    let (smtp, inbox) = smtp_sink().await;
    let app = spawn_with(|c| c.smtp_url = Some(smtp)).await;
    let (_, v) = app
        .post(
            "/users",
            json!({"username": "bob", "password": "old-pw", "email": "bob@shop.example"}),
            As::Public,
        )
        .await;
    let old_token = v["sessionToken"].as_str().expect("token").to_string();
    let (s, v) = app
        .post(
            "/requestPasswordReset",
            json!({"email": "bob@shop.example"}),
            As::Public,
        )
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!({})));
    // Unknown addresses get the same answer (no account enumeration) and no email.
    let (s, _) = app
        .post(
            "/requestPasswordReset",
            json!({"email": "who@shop.example"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    wait_for_mail(&inbox, 1).await;
    let link = last_link(&inbox);
    assert!(link.contains("/request_password_reset?token="), "{link}");
    let r = no_redirects().get(&link).send().await.expect("sent");
    let chooser = r.headers()["location"].to_str().expect("ascii").to_string();
    assert!(chooser.contains("/apps/choose_password?"), "{chooser}");
    let page = app
        .client
        .get(&chooser)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(page.contains("name=\"new_password\""), "{page}");
    let token = link
        .split("token=")
        .nth(1)
        .expect("token")
        .split('&')
        .next()
        .expect("token")
        .to_string();
    let r = no_redirects()
        .post(format!("{}/apps/test-app/request_password_reset", app.url))
        .form(&[("token", token.as_str()), ("new_password", "new-pw")])
        .send()
        .await
        .expect("sent");
    assert!(r.headers()["location"]
        .to_str()
        .expect("ascii")
        .ends_with("/apps/password_reset_success.html"));
    assert_parse_error(
        &app.get("/login?username=bob&password=old-pw", As::Public)
            .await,
        404,
        101,
    );
    let (s, _) = app
        .get("/login?username=bob&password=new-pw", As::Public)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_parse_error(&app.get("/users/me", As::User(&old_token)).await, 400, 209);
    // The link is spent.
    let r = no_redirects().get(&link).send().await.expect("sent");
    assert!(r.headers()["location"]
        .to_str()
        .expect("ascii")
        .contains("invalid_link"));
}

#[tokio::test]
async fn email_endpoints_without_smtp_say_so() {
    let app = spawn().await;
    let (s, v) = app
        .post(
            "/requestPasswordReset",
            json!({"email": "a@b.co"}),
            As::Public,
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(v["code"], json!(1));
}
