//! LiveQuery over real WebSockets (and SSE): protocol shapes, ACL/CLP per subscriber, keys,
//! private fields, logout, heartbeats.

use crate::helpers::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn ws_url(app: &TestApp) -> String {
    app.url.replacen("http://", "ws://", 1)
}

async fn open(app: &TestApp) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(ws_url(app))
        .await
        .expect("websocket connects");
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// The next JSON message, or `None` after `wait` without one.
async fn next_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(wait, ws.next()).await.ok()??.ok()?;
        match msg {
            Message::Text(t) => return serde_json::from_str(t.as_str()).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

async fn next(ws: &mut Ws) -> Value {
    next_within(ws, Duration::from_secs(5))
        .await
        .expect("a message within 5 s")
}

async fn quiet(ws: &mut Ws) {
    if let Some(m) = next_within(ws, Duration::from_millis(400)).await {
        panic!("expected no message, got {m}");
    }
}

/// Opens a socket and sends `connect` with these extra fields; returns it after `connected`.
async fn connected(app: &TestApp, extra: Value) -> Ws {
    let mut ws = open(app).await;
    let mut msg = json!({"op": "connect", "applicationId": APP_ID});
    if let (Some(m), Some(e)) = (msg.as_object_mut(), extra.as_object()) {
        m.extend(e.clone());
    }
    send(&mut ws, msg).await;
    let reply = next(&mut ws).await;
    assert_eq!(reply["op"], "connected", "{reply}");
    ws
}

async fn subscribe(ws: &mut Ws, request_id: i64, query: Value, token: Option<&str>) -> Value {
    let mut msg = json!({"op": "subscribe", "requestId": request_id, "query": query});
    if let Some(t) = token {
        msg["sessionToken"] = json!(t);
    }
    send(ws, msg).await;
    next(ws).await
}

async fn class_with(app: &TestApp, class: &str, clp: Option<Value>) {
    let mut body = json!({"className": class, "fields": {"name": {"type": "String"}, "n": {"type": "Number"}, "tags": {"type": "Array"}}});
    if let Some(c) = clp {
        body["classLevelPermissions"] = c;
    }
    let (s, v) = app
        .post(&format!("/schemas/{class}"), body, As::Master)
        .await;
    assert_eq!(s.as_u16(), 200, "{v}");
}

#[tokio::test]
async fn every_event_type_in_parse_shapes() {
    let app = spawn().await;
    class_with(&app, "Game", None).await;
    let mut ws = connected(&app, json!({"installationId": "inst-1"})).await;
    let sub = subscribe(
        &mut ws,
        1,
        json!({"className": "Game", "where": {"n": {"$gt": 5}}}),
        None,
    )
    .await;
    assert_eq!(sub["op"], "subscribed");
    assert_eq!(sub["requestId"], 1);
    assert_eq!(sub["installationId"], "inst-1");
    let client_id = sub["clientId"].as_str().expect("clientId").to_string();
    assert_eq!(client_id.len(), 36);

    // Not matching: nothing.
    let id = app.create("Game", json!({"name": "low", "n": 1})).await;
    quiet(&mut ws).await;
    // Enters the query.
    app.put(&format!("/classes/Game/{id}"), json!({"n": 10}), As::Master)
        .await;
    let enter = next(&mut ws).await;
    assert_eq!(enter["op"], "enter", "{enter}");
    assert_eq!(enter["requestId"], 1);
    assert_eq!(enter["clientId"], client_id.as_str());
    assert_eq!(enter["object"]["className"], "Game");
    assert_eq!(enter["object"]["objectId"], id.as_str());
    assert_eq!(enter["object"]["n"], 10);
    assert_eq!(enter["original"]["n"], 1);
    // Update inside the query.
    app.put(
        &format!("/classes/Game/{id}"),
        json!({"n": 11, "name": "x"}),
        As::Master,
    )
    .await;
    let update = next(&mut ws).await;
    assert_eq!(update["op"], "update", "{update}");
    assert_eq!(update["object"]["n"], 11);
    assert_eq!(update["original"]["n"], 10);
    assert!(update["object"]["updatedAt"].is_string());
    // Leaves.
    app.put(&format!("/classes/Game/{id}"), json!({"n": 0}), As::Master)
        .await;
    let leave = next(&mut ws).await;
    assert_eq!(leave["op"], "leave", "{leave}");
    assert_eq!(leave["object"]["n"], 0);
    // Create and delete.
    let id2 = app.create("Game", json!({"name": "hi", "n": 99})).await;
    let create = next(&mut ws).await;
    assert_eq!(create["op"], "create", "{create}");
    assert!(create.get("original").is_none());
    let obj = create["object"].as_object().expect("object");
    assert!(obj.keys().all(|k| !k.starts_with('_')), "{create}");
    app.delete(&format!("/classes/Game/{id2}"), As::Master)
        .await;
    let delete = next(&mut ws).await;
    assert_eq!(delete["op"], "delete", "{delete}");
    assert_eq!(delete["object"]["objectId"], id2.as_str());
    // Unsubscribe: no more events.
    send(&mut ws, json!({"op": "unsubscribe", "requestId": 1})).await;
    let unsub = next(&mut ws).await;
    assert_eq!(unsub["op"], "unsubscribed");
    assert_eq!(unsub["requestId"], 1);
    app.create("Game", json!({"n": 50})).await;
    quiet(&mut ws).await;
    app.stop().await;
}

#[tokio::test]
async fn errors_have_parse_codes() {
    let app = spawn().await;
    class_with(&app, "Thing", None).await;
    // Subscribing before connecting.
    let mut ws = open(&app).await;
    let e = subscribe(&mut ws, 1, json!({"className": "Thing", "where": {}}), None).await;
    assert_eq!(
        (e["op"].as_str(), e["code"].as_i64()),
        (Some("error"), Some(2)),
        "{e}"
    );
    // Wrong application id.
    send(&mut ws, json!({"op": "connect", "applicationId": "nope"})).await;
    let e = next(&mut ws).await;
    assert_eq!(e["code"], 4, "{e}");
    // Unknown op.
    send(&mut ws, json!({"op": "dance"})).await;
    assert_eq!(next(&mut ws).await["code"], 1);
    // Bad session token on connect.
    send(
        &mut ws,
        json!({"op": "connect", "applicationId": APP_ID, "sessionToken": "r:bad"}),
    )
    .await;
    assert_eq!(next(&mut ws).await["code"], 209);

    let mut ws = connected(&app, json!({})).await;
    let e = subscribe(
        &mut ws,
        2,
        json!({"className": "Thing", "where": {"a": {"$bogus": 1}}}),
        None,
    )
    .await;
    assert_eq!(
        (e["code"].as_i64(), e["requestId"].as_i64()),
        (Some(107), Some(2)),
        "{e}"
    );
    let e = subscribe(
        &mut ws,
        3,
        json!({"className": "Thing", "where": {"_rperm": "x"}}),
        None,
    )
    .await;
    assert_eq!(e["code"], 105, "{e}");
    let e = subscribe(&mut ws, 4, json!({"className": "Thing", "where": {"p": {"$inQuery": {"className": "Other", "where": {}}}}}), None).await;
    assert_eq!(e["code"], 102, "{e}");
    assert!(
        e["error"].as_str().unwrap_or_default().contains("$inQuery"),
        "{e}"
    );
    let e = subscribe(
        &mut ws,
        5,
        json!({"className": "Thing", "where": {}}),
        Some("r:bad"),
    )
    .await;
    assert_eq!(
        (e["code"].as_i64(), e["requestId"].as_i64()),
        (Some(209), Some(5)),
        "{e}"
    );
    send(&mut ws, json!({"op": "unsubscribe", "requestId": 77})).await;
    assert_eq!(next(&mut ws).await["code"], 2);
    app.stop().await;
}

#[tokio::test]
async fn acl_clp_keys_and_private_fields_per_subscriber() {
    let app = spawn_with(|c| c.live_query_trust_master_key = true).await;
    class_with(&app, "Note", None).await;
    let (ann, ann_token) = app.signup("ann", "pw").await;
    let (bob, bob_token) = app.signup("bob", "pw").await;
    let mut anon = connected(&app, json!({})).await;
    let mut ann_ws = connected(&app, json!({"sessionToken": ann_token})).await;
    // Bob authenticates per subscription instead of on connect.
    let mut bob_ws = connected(&app, json!({})).await;
    let mut master = connected(&app, json!({"masterKey": MASTER_KEY})).await;
    let q = json!({"className": "Note", "where": {}});
    for ws in [&mut anon, &mut ann_ws, &mut master] {
        assert_eq!(subscribe(ws, 1, q.clone(), None).await["op"], "subscribed");
    }
    assert_eq!(
        subscribe(&mut bob_ws, 1, q.clone(), Some(&bob_token)).await["op"],
        "subscribed"
    );

    let acl = json!({ann.clone(): {"read": true, "write": true}});
    let id = app
        .create("Note", json!({"name": "secret", "ACL": acl}))
        .await;
    let got = next(&mut ann_ws).await;
    assert_eq!(got["op"], "create");
    assert_eq!(got["object"]["ACL"][&ann]["read"], true);
    assert_eq!(next(&mut master).await["op"], "create");
    quiet(&mut anon).await;
    quiet(&mut bob_ws).await;

    // Made public: Bob and the public see it enter, without the state they could not read.
    app.put(
        &format!("/classes/Note/{id}"),
        json!({"ACL": {"*": {"read": true}}}),
        As::Master,
    )
    .await;
    let enter = next(&mut bob_ws).await;
    assert_eq!(enter["op"], "enter", "{enter}");
    assert!(enter.get("original").is_none(), "{enter}");
    assert_eq!(next(&mut anon).await["op"], "enter");
    assert_eq!(
        next(&mut ann_ws).await["op"],
        "update",
        "public includes Ann"
    );
    assert_eq!(next(&mut master).await["op"], "update");
    // Only Bob may read now: the others see it leave, with the last state they could read.
    app.put(
        &format!("/classes/Note/{id}"),
        json!({"name": "bob's", "ACL": {bob.clone(): {"read": true}}}),
        As::Master,
    )
    .await;
    assert_eq!(next(&mut bob_ws).await["op"], "update");
    let leave = next(&mut ann_ws).await;
    assert_eq!(leave["op"], "leave", "{leave}");
    assert_eq!(leave["object"]["name"], "secret", "{leave}");
    assert_eq!(next(&mut anon).await["op"], "leave");
    assert_eq!(next(&mut master).await["op"], "update");

    // keys projection.
    let mut keyed = connected(&app, json!({})).await;
    subscribe(
        &mut keyed,
        9,
        json!({"className": "Note", "where": {}, "keys": ["n"]}),
        None,
    )
    .await;
    app.create("Note", json!({"name": "visible", "n": 3})).await;
    let e = next(&mut keyed).await;
    let keys: Vec<&String> = e["object"].as_object().expect("object").keys().collect();
    assert!(
        keys.iter().any(|k| *k == "n") && !keys.iter().any(|k| *k == "name"),
        "{e}"
    );
    assert_eq!(e["object"]["className"], "Note");
    for ws in [&mut anon, &mut ann_ws, &mut bob_ws, &mut master] {
        assert_eq!(next(ws).await["op"], "create");
    }

    // CLP: find only for Ann.
    class_with(
        &app,
        "Diary",
        Some(
            json!({"find": {ann.clone(): true}, "get": {ann.clone(): true}, "create": {"*": true}}),
        ),
    )
    .await;
    let e = subscribe(
        &mut bob_ws,
        2,
        json!({"className": "Diary", "where": {}}),
        Some(&bob_token),
    )
    .await;
    assert_eq!(e["code"], 119, "{e}");
    assert_eq!(
        subscribe(
            &mut ann_ws,
            2,
            json!({"className": "Diary", "where": {}}),
            None
        )
        .await["op"],
        "subscribed"
    );

    // Private user fields: others never see email.
    let mut users = connected(&app, json!({})).await;
    subscribe(
        &mut users,
        3,
        json!({"className": "_User", "where": {}}),
        Some(&bob_token),
    )
    .await;
    // Users are private (Parse 9): Bob does not see Ann change.
    app.put(
        &format!("/users/{ann}"),
        json!({"email": "ann@example.com"}),
        As::User(&ann_token),
    )
    .await;
    quiet(&mut users).await;
    // Made publicly readable: Bob sees her enter, without her email.
    app.put(
        &format!("/users/{ann}"),
        json!({"ACL": {"*": {"read": true}, ann.clone(): {"read": true, "write": true}}}),
        As::Master,
    )
    .await;
    let e = next(&mut users).await;
    assert_eq!(e["op"], "enter", "{e}");
    assert!(e["object"].get("email").is_none(), "{e}");
    assert!(e["object"].get("sessionToken").is_none() && e["object"].get("password").is_none());
    app.stop().await;
}

#[tokio::test]
async fn logged_out_subscriber_stops_receiving() {
    let app = spawn().await;
    class_with(&app, "Mail", None).await;
    let (carl, token) = app.signup("carl", "pw").await;
    let mut ws = connected(&app, json!({})).await;
    subscribe(
        &mut ws,
        1,
        json!({"className": "Mail", "where": {}}),
        Some(&token),
    )
    .await;
    let acl = json!({carl.clone(): {"read": true}});
    app.create("Mail", json!({"name": "one", "ACL": acl.clone()}))
        .await;
    assert_eq!(next(&mut ws).await["op"], "create");
    let (s, _) = app.post("/logout", json!({}), As::User(&token)).await;
    assert_eq!(s.as_u16(), 200);
    app.create("Mail", json!({"name": "two", "ACL": acl})).await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["op"].as_str(), e["code"].as_i64()),
        (Some("error"), Some(209)),
        "{e}"
    );
    assert_eq!(e["requestId"], 1);
    app.create("Mail", json!({"name": "three"})).await;
    quiet(&mut ws).await;
    app.stop().await;
}

#[tokio::test]
async fn silent_peers_are_disconnected() {
    let app = spawn_with(|c| c.live_query_ping_interval = 1).await;
    let mut ws = connected(&app, json!({})).await;
    // Not reading means not answering pings: after two intervals the server hangs up.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let mut closed = false;
    for _ in 0..10 {
        match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                closed = true;
                break;
            }
            Ok(Some(Ok(_))) => continue,
            Err(_) => break,
        }
    }
    assert!(
        closed,
        "the server should close a connection that stopped answering pings"
    );
    app.stop().await;
}

#[tokio::test]
async fn live_query_classes_limit_deliveries() {
    let app = spawn_with(|c| c.live_query_classes = Some(vec!["Yes".into()])).await;
    class_with(&app, "Yes", None).await;
    class_with(&app, "No", None).await;
    let mut ws = connected(&app, json!({})).await;
    subscribe(&mut ws, 1, json!({"className": "Yes", "where": {}}), None).await;
    subscribe(&mut ws, 2, json!({"className": "No", "where": {}}), None).await;
    app.create("No", json!({"n": 1})).await;
    app.create("Yes", json!({"n": 1})).await;
    let e = next(&mut ws).await;
    assert_eq!(
        (e["op"].as_str(), e["requestId"].as_i64()),
        (Some("create"), Some(1))
    );
    quiet(&mut ws).await;
    app.stop().await;
}

/// Reads SSE frames from a streaming response until one with `event: <name>` arrives.
async fn sse_event(resp: &mut reqwest::Response, buf: &mut String, name: &str) -> (String, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = "";
            let mut id = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v;
                } else if let Some(v) = line.strip_prefix("id: ") {
                    id = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if event == name {
                return (id, serde_json::from_str(&data).unwrap_or(Value::Null));
            }
        }
        let chunk = tokio::time::timeout_at(deadline, resp.chunk())
            .await
            .expect("SSE event in time")
            .expect("stream readable")
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn server_sent_events_with_resume() {
    let app = spawn().await;
    class_with(&app, "Feed", None).await;
    let (_dora, token) = app.signup("dora", "pw").await;
    let url = format!(
        "{}/realtime?className=Feed&where={}",
        app.url,
        urlencode(r#"{"n":{"$gte":1}}"#)
    );
    let mut resp = app
        .client
        .get(&url)
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Session-Token", &token)
        .send()
        .await
        .expect("SSE request");
    assert_eq!(resp.status().as_u16(), 200);
    let mut buf = String::new();
    sse_event(&mut resp, &mut buf, "subscribed").await;
    app.create("Feed", json!({"n": 0})).await;
    app.create("Feed", json!({"n": 1, "name": "first"})).await;
    let (id1, data) = sse_event(&mut resp, &mut buf, "create").await;
    assert_eq!(data["object"]["name"], "first");
    assert_eq!(data["object"]["className"], "Feed");
    drop(resp);
    // Missed while disconnected, then replayed after Last-Event-ID.
    app.create("Feed", json!({"n": 2, "name": "second"})).await;
    let mut resp = app
        .client
        .get(format!("{url}&applicationId={APP_ID}&sessionToken={token}"))
        .header("Last-Event-ID", &id1)
        .send()
        .await
        .expect("SSE request");
    let mut buf = String::new();
    sse_event(&mut resp, &mut buf, "subscribed").await;
    let (_, data) = sse_event(&mut resp, &mut buf, "create").await;
    assert_eq!(data["object"]["name"], "second");
    // Unknown Last-Event-ID: reset.
    let mut resp = app
        .client
        .get(format!("{url}&applicationId={APP_ID}&lastEventId=zzz-99"))
        .send()
        .await
        .expect("SSE request");
    let mut buf = String::new();
    sse_event(&mut resp, &mut buf, "reset").await;
    // Without the application id: 403 as REST.
    let r = app.client.get(&url).send().await.expect("request");
    assert_eq!(r.status().as_u16(), 403);
    app.stop().await;
}

#[tokio::test]
async fn role_changes_reach_live_subscribers_at_once() {
    let app = spawn().await;
    class_with(&app, "Intel", None).await;
    let (uid, token) = app.signup("spy", "pw").await;
    let mut ws = connected(&app, json!({"sessionToken": token})).await;
    subscribe(&mut ws, 1, json!({"className": "Intel", "where": {}}), None).await;
    let acl = json!({"role:Agents": {"read": true}});
    app.create("Intel", json!({"name": "before", "ACL": acl.clone()}))
        .await;
    quiet(&mut ws).await;
    let user = json!([{"__type": "Pointer", "className": "_User", "objectId": uid}]);
    let (s, v) = app
        .post(
            "/roles",
            json!({"name": "Agents", "ACL": {"*": {"read": true}}, "users": {"__op": "AddRelation", "objects": user}}),
            As::Master,
        )
        .await;
    assert_eq!(s.as_u16(), 201, "{v}");
    let agents = v["objectId"].as_str().expect("id").to_string();
    app.create("Intel", json!({"name": "member", "ACL": acl.clone()}))
        .await;
    let got = next(&mut ws).await;
    assert_eq!(
        (got["op"].as_str(), got["object"]["name"].as_str()),
        (Some("create"), Some("member")),
        "{got}"
    );
    let out = json!({"users": {"__op": "RemoveRelation", "objects": user}});
    app.put(&format!("/roles/{agents}"), out, As::Master).await;
    app.create("Intel", json!({"name": "after", "ACL": acl}))
        .await;
    quiet(&mut ws).await;
    app.stop().await;
}

#[tokio::test]
async fn a_master_key_in_connect_is_ignored_unless_trusted() {
    let app = spawn().await;
    class_with(&app, "Memo", None).await;
    let (_, token) = app.signup("eve", "pw").await;
    let mut ws = connected(
        &app,
        json!({"masterKey": MASTER_KEY, "sessionToken": token}),
    )
    .await;
    subscribe(&mut ws, 1, json!({"className": "Memo", "where": {}}), None).await;
    app.create("Memo", json!({"name": "private", "ACL": {}}))
        .await;
    quiet(&mut ws).await;
    app.create("Memo", json!({"name": "public"})).await;
    assert_eq!(next(&mut ws).await["object"]["name"], "public");
    // SSE answers the same way (and a master key there is not a 403 either).
    let resp = app
        .client
        .get(format!("{}/realtime?className=Memo", app.url))
        .header("X-Parse-Application-Id", APP_ID)
        .header("X-Parse-Master-Key", MASTER_KEY)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    app.stop().await;
}

#[tokio::test]
async fn live_query_resolves_credentials_as_rest_does() {
    let app = spawn_with(|c| {
        c.live_query_trust_master_key = true;
        c.read_only_master_key = Some("read-only-key".into());
    })
    .await;
    class_with(&app, "Memo", None).await;
    // The read-only master key reads everything, as on REST.
    let mut ro = connected(&app, json!({"masterKey": "read-only-key"})).await;
    // A wrong master key is no master key: the client is public, as on REST.
    let mut wrong = connected(&app, json!({"masterKey": "not-the-key"})).await;
    let mut master = connected(&app, json!({"masterKey": MASTER_KEY})).await;
    for ws in [&mut ro, &mut wrong, &mut master] {
        let r = subscribe(ws, 1, json!({"className": "Memo", "where": {}}), None).await;
        assert_eq!(r["op"], "subscribed", "{r}");
    }
    app.create("Memo", json!({"name": "private", "ACL": {}}))
        .await;
    assert_eq!(next(&mut ro).await["object"]["name"], "private");
    assert_eq!(next(&mut master).await["object"]["name"], "private");
    quiet(&mut wrong).await;
    // SSE: a wrong master key is public too (not 403), the right one reads everything.
    let sse = |key: &'static str| {
        app.client
            .get(format!("{}/realtime?className=Memo", app.url))
            .header("X-Parse-Application-Id", APP_ID)
            .header("X-Parse-Master-Key", key)
            .send()
    };
    let wrong_sse = sse("not-the-key").await.expect("sent");
    assert_eq!(wrong_sse.status().as_u16(), 200);
    let mut master_sse = sse(MASTER_KEY).await.expect("sent");
    assert_eq!(master_sse.status().as_u16(), 200);
    let mut buf = String::new();
    sse_event(&mut master_sse, &mut buf, "subscribed").await;
    app.create("Memo", json!({"name": "hidden", "ACL": {}}))
        .await;
    let (_, data) = sse_event(&mut master_sse, &mut buf, "create").await;
    assert_eq!(data["object"]["name"], "hidden");
    // Bad credentials answer with Parse codes: a wrong application id.
    let mut bad = open(&app).await;
    send(&mut bad, json!({"op": "connect", "applicationId": "nope"})).await;
    assert_eq!(next(&mut bad).await["code"], 4);
    app.stop().await;
}

/// Cloud Code's LiveQuery triggers (e2e/cloud/main.js): beforeConnect refuses clients without a
/// session, beforeSubscribe narrows the keys to `score`, afterLiveQueryEvent drops hidden objects.
#[tokio::test]
async fn cloud_code_live_query_triggers() {
    let main = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e/cloud/main.js");
    let app = spawn_with(|c| c.cloud = Some(main)).await;
    app.post(
        "/schemas/GameScore",
        json!({"className": "GameScore"}),
        As::Master,
    )
    .await;
    let mut ws = open(&app).await;
    send(&mut ws, json!({"op": "connect", "applicationId": APP_ID})).await;
    let refused = next(&mut ws).await;
    assert_eq!(refused["op"], json!("error"), "{refused}");
    assert_eq!(refused["code"], json!(141));
    assert_eq!(refused["error"], json!("login first"));
    let (_, token) = app.signup("live-cloud", "pw").await;
    let mut ws = connected(&app, json!({"sessionToken": token})).await;
    let ack = subscribe(
        &mut ws,
        1,
        json!({"className": "GameScore", "where": {}}),
        Some(&token),
    )
    .await;
    assert_eq!(ack["op"], json!("subscribed"), "{ack}");
    app.create("GameScore", json!({"score": 3, "player": "p"}))
        .await;
    let ev = next(&mut ws).await;
    assert_eq!(ev["op"], json!("create"), "{ev}");
    assert_eq!(ev["object"]["score"], json!(3));
    assert!(
        ev["object"].get("player").is_none(),
        "keys from beforeSubscribe: {ev}"
    );
    app.create("GameScore", json!({"score": 4, "hidden": true}))
        .await;
    quiet(&mut ws).await;
    app.stop().await;
}
