//! Job schedules (`_JobSchedule`, written by Parse Dashboard's "Schedule a job"): beyond Parse
//! Server, which stores them but never runs them, ferrobase runs each when it is due — after
//! `startAfter`, on `daysOfWeek` (0 = Sunday; none = every day), every `repeatMinutes`, or once a
//! day at `timeOfDay` (UTC), or once. `lastRun` (ms since the epoch) is claimed with a conditional
//! write, so on several nodes sharing a store only one runs each occurrence.

use crate::app::App;
use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use ferrobase_core::rest::{Ctx, FindOptions};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often schedules are looked at.
const TICK: Duration = Duration::from_secs(5);

fn parse_time(s: &str) -> Option<NaiveTime> {
    let s = s.trim_end_matches('Z');
    ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
        .iter()
        .find_map(|f| NaiveTime::parse_from_str(s, f).ok())
}

fn date(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = match v? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("iso")?.as_str()?,
        _ => return None,
    };
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Whether a schedule is due at `now`, given when it last ran.
pub fn due(schedule: &Map<String, Value>, now: DateTime<Utc>) -> bool {
    let start = date(schedule.get("startAfter")).or_else(|| date(schedule.get("createdAt")));
    if start.is_some_and(|s| now < s) {
        return false;
    }
    if let Some(days) = schedule.get("daysOfWeek").and_then(Value::as_array) {
        let today = i64::from(now.weekday().num_days_from_sunday());
        if !days.is_empty() && !days.iter().any(|d| d.as_i64() == Some(today)) {
            return false;
        }
    }
    let last = schedule
        .get("lastRun")
        .and_then(Value::as_i64)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    let repeat = schedule
        .get("repeatMinutes")
        .and_then(Value::as_f64)
        .filter(|m| *m > 0.0);
    let time_of_day = schedule
        .get("timeOfDay")
        .and_then(Value::as_str)
        .and_then(parse_time);
    match (repeat, time_of_day) {
        (Some(m), _) => last.is_none_or(|l| (now - l).num_seconds() as f64 >= m * 60.0),
        (None, Some(t)) => {
            let today_at = now.date_naive().and_time(t).and_utc();
            now >= today_at && last.is_none_or(|l| l < today_at)
        }
        (None, None) => last.is_none(),
    }
}

/// Runs due schedules until the server stops.
pub async fn run(app: Weak<App>) {
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let Some(app) = app.upgrade() else { return };
        if app.core.schema("_JobSchedule").is_none() {
            continue;
        }
        if let Err(e) = run_due(&app).await {
            tracing::warn!(error = %e, "job schedules could not be read");
        }
    }
}

async fn run_due(app: &Arc<App>) -> Result<(), ferrobase_core::Error> {
    let master = Ctx::new(ferrobase_core::auth::Auth::master());
    let found = app
        .core
        .find(
            &master,
            "_JobSchedule",
            &FindOptions {
                limit: Some(1000),
                ..FindOptions::default()
            },
        )
        .await?;
    let now = Utc::now();
    for s in found.results {
        if !due(&s, now) {
            continue;
        }
        let (Some(id), Some(name)) = (
            s.get("objectId").and_then(Value::as_str),
            s.get("jobName").and_then(Value::as_str),
        ) else {
            continue;
        };
        let seen = s.get("lastRun").and_then(Value::as_number);
        if !app
            .core
            .system_claim(
                "_JobSchedule",
                id,
                "lastRun",
                seen,
                json!(now.timestamp_millis()),
            )
            .await?
        {
            continue; // another node runs this one
        }
        let params = match s.get("params") {
            Some(Value::String(text)) => serde_json::from_str(text).unwrap_or_else(|_| json!({})),
            Some(Value::Object(o)) => Value::Object(o.clone()),
            _ => json!({}),
        };
        let request = app.core.cloud_request(&master);
        match crate::routes::jobs::start_job(app, name, params, request, "schedule").await {
            Ok(job) => tracing::info!(job = name, status = %job, "scheduled job started"),
            Err(e) => tracing::warn!(job = name, error = %e, "scheduled job could not start"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::due;
    use chrono::{TimeZone, Utc};
    use serde_json::{json, Map, Value};

    fn s(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn schedules_fall_due_as_written() {
        // Tuesday 2026-12-08 10:30 UTC.
        let now = Utc
            .with_ymd_and_hms(2026, 12, 8, 10, 30, 0)
            .single()
            .unwrap_or_default();
        let ms = |h, m| {
            Utc.with_ymd_and_hms(2026, 12, 8, h, m, 0)
                .single()
                .unwrap_or_default()
                .timestamp_millis()
        };
        assert!(due(
            &s(json!({"startAfter": "2026-12-01T00:00:00.000Z"})),
            now
        ));
        assert!(!due(
            &s(json!({"startAfter": "2026-12-09T00:00:00.000Z"})),
            now
        ));
        assert!(!due(&s(json!({"lastRun": ms(9, 0)})), now), "once");
        assert!(due(
            &s(json!({"repeatMinutes": 60, "lastRun": ms(9, 0)})),
            now
        ));
        assert!(!due(
            &s(json!({"repeatMinutes": 60, "lastRun": ms(10, 0)})),
            now
        ));
        assert!(due(
            &s(json!({"timeOfDay": "10:00:00.000Z", "lastRun": ms(9, 0)})),
            now
        ));
        assert!(!due(
            &s(json!({"timeOfDay": "10:00:00.000Z", "lastRun": ms(10, 5)})),
            now
        ));
        assert!(
            !due(&s(json!({"timeOfDay": "11:00:00"})), now),
            "not yet today"
        );
        assert!(due(&s(json!({"daysOfWeek": [2]})), now), "Tuesday");
        assert!(
            !due(&s(json!({"daysOfWeek": [0, 6]})), now),
            "weekends only"
        );
    }
}
