//! `POST /push` (Parse Server's PushRouter and PushController): validation, the `_PushStatus`
//! record and delivery through a [`PushAdapter`].

use super::{Core, Ctx, FindOptions};
use crate::error::{Error, Result};
use crate::push::PushAdapter;
use crate::types::{now_iso, Object};
use md5::{Digest, Md5};
use serde_json::{json, Value};

const PUSH_MISCONFIGURED: i32 = 115;

/// A push accepted and recorded, waiting to be delivered.
#[derive(Debug, Clone)]
pub struct PushJob {
    pub status_id: String,
    pub where_: Value,
    pub body: Value,
}

fn misconfigured(message: impl Into<String>) -> Error {
    Error::new(PUSH_MISCONFIGURED, message)
}

/// How JavaScript prints a value in `… is not valid time.`.
fn js_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(_) => "[object Object]".into(),
        Value::Array(a) => a.iter().map(js_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// Parse's `getPushTime`/`getExpirationTime`: seconds since the epoch or a date string.
fn valid_time(body: &Object, key: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(v) = body.get(key) else {
        return Ok(None);
    };
    let bad = || misconfigured(format!("{} is not valid time.", js_text(v)));
    let t = match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| f.is_finite())
            .and_then(|f| chrono::DateTime::from_timestamp_millis((f * 1000.0) as i64)),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&chrono::Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                    .ok()
                    .map(|n| n.and_utc())
            })
            .or_else(|| {
                chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|n| n.and_utc())
            }),
        _ => None,
    };
    t.map(Some).ok_or_else(bad)
}

impl Core {
    /// Validates a push as Parse does and records its `_PushStatus` (`pending`).
    pub async fn start_push(&self, ctx: &Ctx, body: Value, configured: bool) -> Result<PushJob> {
        if !ctx.auth.master {
            return Err(Error::Forbidden("Permission denied".into()));
        }
        if ctx.auth.read_only {
            return Err(Error::forbidden_op("Permission denied"));
        }
        let body = match body {
            Value::Object(o) => o,
            _ => Object::new(),
        };
        let where_ = match (body.get("where"), body.get("channels")) {
            (Some(_), Some(_)) => {
                return Err(misconfigured(
                    "Channels and query can not be set at the same time.",
                ))
            }
            (Some(w), None) => match w {
                Value::String(s) => serde_json::from_str(s)
                    .map_err(|_| Error::invalid_json("where parameter is not valid JSON"))?,
                w => w.clone(),
            },
            (None, Some(c)) => json!({"channels": {"$in": c}}),
            (None, None) => {
                return Err(misconfigured(
                    "Sending a push requires either \"channels\" or a \"where\" query.",
                ))
            }
        };
        if !configured {
            return Err(misconfigured("Missing push configuration"));
        }
        let expiration = valid_time(&body, "expiration_time")?;
        let interval = match body.get("expiration_interval") {
            None => None,
            Some(Value::Number(n)) if n.as_f64().is_some_and(|f| f > 0.0) => n.as_f64(),
            Some(_) => {
                return Err(misconfigured(
                    "expiration_interval must be a number greater than 0",
                ))
            }
        };
        if expiration.is_some() && interval.is_some() {
            return Err(misconfigured(
                "Both expiration_time and expiration_interval cannot be set",
            ));
        }
        valid_time(&body, "push_time")?;
        // The query must be one the installations class accepts.
        self.find(
            &ctx.as_master(),
            "_Installation",
            &FindOptions {
                where_: Some(where_.clone()),
                limit: Some(0),
                ..FindOptions::default()
            },
        )
        .await?;
        let data = body.get("data").cloned().unwrap_or_else(|| json!({}));
        let push_hash = match data.get("alert") {
            Some(Value::String(s)) => hex::encode(Md5::digest(s.as_bytes())),
            Some(a @ Value::Object(_)) => hex::encode(Md5::digest(a.to_string().as_bytes())),
            _ => "d41d8cd98f00b204e9800998ecf8427e".to_string(),
        };
        let mut status = json!({
            "pushTime": now_iso(),
            "query": where_.to_string(),
            "payload": data.to_string(),
            "source": "rest",
            "status": "pending",
            "numSent": 0,
            "pushHash": push_hash,
            "ACL": {},
        });
        if let Some(t) = expiration {
            status["expiry"] = json!(t.timestamp_millis());
        }
        if let Some(i) = interval {
            status["expiration_interval"] = json!(i);
        }
        let created = self.create(&ctx.as_master(), "_PushStatus", status).await?;
        let status_id = created
            .created_id
            .ok_or_else(|| Error::internal("no _PushStatus id"))?;
        Ok(PushJob {
            status_id,
            where_,
            body: Value::Object(body),
        })
    }

    /// Delivers a recorded push and writes the outcome into its `_PushStatus`.
    pub async fn run_push(&self, job: &PushJob, adapter: &dyn PushAdapter) {
        let set = |fields: Value| self.set_push_status(&job.status_id, fields);
        set(json!({"status": "running"})).await;
        let installations = match self.push_targets(&job.where_).await {
            Ok(i) => i,
            Err(e) => {
                set(json!({"status": "failed", "errorMessage": {"message": e.to_string()}})).await;
                return;
            }
        };
        match adapter.send(&job.body, &installations).await {
            Ok(report) => {
                let sent: u64 = report.sent.values().sum();
                let failed: u64 = report.failed.values().sum();
                let mut fields = json!({
                    "status": "succeeded",
                    "numSent": sent,
                    "numFailed": failed,
                    "count": {"__op": "Delete"},
                });
                if !report.sent.is_empty() {
                    fields["sentPerType"] = json!(report.sent);
                }
                if !report.failed.is_empty() {
                    fields["failedPerType"] = json!(report.failed);
                }
                set(fields).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, id = %job.status_id, "push delivery failed");
                set(json!({"status": "failed", "errorMessage": {"message": e.to_string()}})).await;
            }
        }
    }

    async fn set_push_status(&self, id: &str, fields: Value) {
        let master = Ctx::new(crate::auth::Auth::master());
        if let Err(e) = self.update(&master, "_PushStatus", id, fields).await {
            tracing::warn!(error = %e, id, "cannot update _PushStatus");
        }
    }

    /// The installations a push's `where` selects (read as the master key).
    async fn push_targets(&self, where_: &Value) -> Result<Vec<Object>> {
        let found = self
            .find(
                &Ctx::new(crate::auth::Auth::master()),
                "_Installation",
                &FindOptions {
                    where_: Some(where_.clone()),
                    limit: Some(1_000_000),
                    ..FindOptions::default()
                },
            )
            .await?;
        Ok(found.results)
    }
}
