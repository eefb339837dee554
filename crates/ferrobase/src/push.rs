//! The webhook push adapter: each push is POSTed as JSON to `--push-webhook-url`, with the
//! installations it targets, for a service of the operator's to deliver (APNs/FCM cannot be
//! reached from here, so ferrobase ships no direct adapter for them).
//!
//! Body: `{"push": <the /push request body>, "installations": [<installation objects>]}`; a 2xx
//! answer counts every installation as sent, anything else as failed. `X-Parse-Webhook-Key` is
//! sent when `--webhook-key` is set.

use ferrobase_core::push::{PushAdapter, PushReport};
use ferrobase_core::types::Object;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::time::Duration;

pub struct WebhookPush {
    url: String,
    key: Option<String>,
    client: reqwest::Client,
}

impl WebhookPush {
    pub fn new(url: &str, key: Option<String>) -> WebhookPush {
        WebhookPush {
            url: url.to_string(),
            key,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap_or_default(),
        }
    }
}

fn per_type(installations: &[Object]) -> std::collections::BTreeMap<String, u64> {
    let mut m = std::collections::BTreeMap::new();
    for i in installations {
        let t = i
            .get("deviceType")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string();
        *m.entry(t).or_insert(0) += 1;
    }
    m
}

#[async_trait::async_trait]
impl PushAdapter for WebhookPush {
    async fn send(
        &self,
        push: &Value,
        installations: &[Object],
    ) -> ferrobase_core::Result<PushReport> {
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({"push": push, "installations": installations}));
        if let Some(k) = &self.key {
            req = req.header("X-Parse-Webhook-Key", k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Error::internal(format!("push webhook: {e}")))?;
        let counts = per_type(installations);
        Ok(if resp.status().is_success() {
            PushReport {
                sent: counts,
                failed: Default::default(),
            }
        } else {
            tracing::warn!(status = %resp.status(), "push webhook refused the push");
            PushReport {
                sent: Default::default(),
                failed: counts,
            }
        })
    }
}
