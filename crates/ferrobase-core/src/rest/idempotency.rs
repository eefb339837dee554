//! Parse's idempotency (middlewares.js `promiseEnsureIdempotency`): a request carrying
//! `X-Parse-Request-Id` on a configured path is recorded in `_Idempotency` (`reqId`, `expire`);
//! the same id again before it expires is refused with 159 `Duplicate request`.
//!
//! The row's objectId is derived from the request id, so the store's primary key makes the
//! check atomic across nodes sharing a database (Parse relies on a unique index on `reqId`).
//! Expired rows are removed when their id comes again and by a sweep at most once a minute.

use super::{Core, Ctx};
use crate::error::{code, Error, Result};
use crate::query::{Cond, Filter, Scalar, StoreQuery};
use crate::schema::FieldType;
use crate::types::{date_value, iso, now_iso, Object};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const CLASS: &str = "_Idempotency";
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// When expired `_Idempotency` rows were last swept.
static LAST_SWEEP: Mutex<Option<Instant>> = Mutex::new(None);

fn row_id(request_id: &str) -> String {
    let digest = Sha256::digest(request_id.as_bytes());
    format!("idem{}", hex::encode(&digest[..12]))
}

fn duplicate() -> Error {
    Error::new(code::DUPLICATE_REQUEST, "Duplicate request")
}

impl Core {
    /// Records `request_id` for `ttl_secs`, or answers 159 when it is already recorded.
    pub async fn ensure_idempotent(&self, request_id: &str, ttl_secs: u64) -> Result<()> {
        let ctx = Ctx::new(crate::auth::Auth::master());
        let schema = self
            .ensure_fields(
                &ctx,
                CLASS,
                &[
                    ("reqId".into(), FieldType::String),
                    ("expire".into(), FieldType::Date),
                ],
            )
            .await?;
        let now = chrono::Utc::now();
        let now_s = iso(now);
        let ttl = i64::try_from(ttl_secs).unwrap_or(i64::MAX / 4_000_000);
        let expire = iso(now + chrono::Duration::seconds(ttl.min(100 * 365 * 24 * 3600)));
        let live = Filter::eq("reqId", Scalar::String(request_id.into())).and(Filter::Field {
            path: "expire".into(),
            cond: Cond::Gt(Scalar::Date(now_s.clone())),
        });
        // A row written by Parse Server itself (random objectId) on a shared database.
        let mut q = StoreQuery::filter(live);
        q.limit = Some(1);
        if !self.store.find(&schema, &q, None).await?.is_empty() {
            return Err(duplicate());
        }
        let id = row_id(request_id);
        let mut row = Object::new();
        row.insert("objectId".into(), Value::String(id.clone()));
        row.insert("createdAt".into(), Value::String(now_s.clone()));
        row.insert("updatedAt".into(), Value::String(now_s.clone()));
        row.insert("reqId".into(), Value::String(request_id.into()));
        row.insert("expire".into(), date_value(&expire));
        let result = match self.store_insert(&ctx, &schema, row.clone()).await {
            Err(e) if e.code() == Some(code::DUPLICATE_VALUE) => {
                // Taken: refused unless that row has expired (then it is replaced).
                let expired = Filter::object_id(&id).and(Filter::Field {
                    path: "expire".into(),
                    cond: Cond::Lte(Scalar::Date(now_s.clone())),
                });
                if self.store_delete(&ctx, &schema, &expired).await? == 0 {
                    return Err(duplicate());
                }
                match self.store_insert(&ctx, &schema, row).await {
                    Err(e) if e.code() == Some(code::DUPLICATE_VALUE) => Err(duplicate()),
                    r => r,
                }
            }
            r => r,
        };
        self.sweep_idempotency(&ctx, &schema).await;
        result
    }

    /// Deletes expired `_Idempotency` rows, at most once a minute per process.
    async fn sweep_idempotency(&self, ctx: &Ctx, schema: &crate::schema::ClassSchema) {
        let due = LAST_SWEEP
            .lock()
            .map(|mut last| {
                let due = last.is_none_or(|t| t.elapsed() >= SWEEP_EVERY);
                if due {
                    *last = Some(Instant::now());
                }
                due
            })
            .unwrap_or(false);
        if !due {
            return;
        }
        let expired = Filter::Field {
            path: "expire".into(),
            cond: Cond::Lte(Scalar::Date(now_iso())),
        };
        match self.store_delete(ctx, schema, &expired).await {
            Ok(n) if n > 0 => tracing::debug!(removed = n, "expired idempotency rows"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "idempotency sweep failed"),
        }
    }

    /// Removes every expired `_Idempotency` row now (tests and maintenance).
    pub async fn sweep_expired_idempotency(&self) -> Result<u64> {
        let Some(schema) = self.schema_fresh(CLASS).await else {
            return Ok(0);
        };
        let expired = Filter::Field {
            path: "expire".into(),
            cond: Cond::Lte(Scalar::Date(now_iso())),
        };
        self.store_delete(&Ctx::new(crate::auth::Auth::master()), &schema, &expired)
            .await
    }
}
