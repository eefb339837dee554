//! Per-route rate limits (Parse Server's `rateLimit`): a fixed window per client IP or per user.
//! Master-key requests are not limited (Parse's `includeMasterKey: false`).

use axum::http::Method;
use ferrobase_core::Error;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Path under the mount (`/login`), or a prefix when it ends in `*` (`/classes/*`).
    pub path: String,
    pub methods: Vec<Method>,
    pub count: u32,
    pub window: Duration,
    pub per_user: bool,
    /// The answer's message (Parse's `errorResponseMessage`).
    pub message: Option<String>,
    /// Requests from 127.0.0.1 are not counted (Parse's default for validator rate limits,
    /// unless `includeInternalRequests`).
    pub skip_loopback: bool,
}

impl Rule {
    /// Parses `PATH=COUNT/SECONDS[,user][,METHOD…]`.
    pub fn parse(spec: &str) -> Result<Rule, String> {
        let bad = || {
            format!("invalid --rate-limit {spec:?}: expected PATH=COUNT/SECONDS[,user][,METHOD]")
        };
        let (path, rest) = spec.trim().split_once('=').ok_or_else(bad)?;
        let mut parts = rest.split(',');
        let (count, secs) = parts
            .next()
            .and_then(|r| r.split_once('/'))
            .ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let secs: u64 = secs.trim().parse().map_err(|_| bad())?;
        if !path.starts_with('/') || count == 0 || secs == 0 {
            return Err(bad());
        }
        let mut rule = Rule {
            path: path.to_string(),
            methods: Vec::new(),
            count,
            window: Duration::from_secs(secs),
            per_user: false,
            message: None,
            skip_loopback: false,
        };
        for p in parts {
            match p.trim() {
                "user" => rule.per_user = true,
                m => rule.methods.push(
                    Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| bad())?,
                ),
            }
        }
        Ok(rule)
    }

    /// A Cloud Code validator's `rateLimit`, as the worker's manifest reports it
    /// (`requestPath`, `prefix`, `requestMethods`, `requestTimeWindow` in ms, `requestCount`,
    /// `errorResponseMessage`, `zone`).
    pub fn from_cloud(v: &serde_json::Value) -> Option<Rule> {
        let path = v.get("requestPath")?.as_str()?.to_string();
        let count = u32::try_from(v.get("requestCount")?.as_u64()?).ok()?;
        let window = Duration::from_millis(v.get("requestTimeWindow")?.as_u64()?);
        if count == 0 || window.is_zero() {
            return None;
        }
        let prefix = v.get("prefix").and_then(serde_json::Value::as_bool) == Some(true);
        let methods = v
            .get("requestMethods")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(serde_json::Value::as_str)
                    .filter_map(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                    .collect()
            })
            .unwrap_or_default();
        let zone = v.get("zone").and_then(serde_json::Value::as_str);
        Some(Rule {
            path: if prefix { format!("{path}*") } else { path },
            methods,
            count,
            window,
            per_user: matches!(zone, Some("user" | "session")),
            message: v
                .get("errorResponseMessage")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            skip_loopback: v
                .get("includeInternalRequests")
                .and_then(serde_json::Value::as_bool)
                != Some(true),
        })
    }

    fn matches(&self, method: &Method, rel_path: &str) -> bool {
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => rel_path.starts_with(prefix),
            None => rel_path == self.path,
        };
        path_ok && (self.methods.is_empty() || self.methods.contains(method))
    }
}

/// The counters of every rule.
#[derive(Default)]
pub struct Limiter {
    rules: Vec<Rule>,
    /// Rules from Cloud Code validators (replaced when main.js is loaded again).
    cloud: RwLock<Vec<Rule>>,
    windows: Mutex<HashMap<(usize, String), (Instant, u32)>>,
}

impl Limiter {
    pub fn new(rules: Vec<Rule>) -> Limiter {
        Limiter {
            rules,
            cloud: RwLock::new(Vec::new()),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Installs the rate limits Cloud Code's validators declare.
    pub fn set_cloud_rules(&self, rules: Vec<Rule>) {
        if let Ok(mut r) = self.cloud.write() {
            *r = rules;
        }
        if let Ok(mut w) = self.windows.lock() {
            w.retain(|(i, _), _| *i < self.rules.len());
        }
    }

    /// Counts a request; error 155 (HTTP 429) when a rule's budget is spent.
    pub fn check(
        &self,
        method: &Method,
        rel_path: &str,
        ip: &str,
        user: Option<&str>,
    ) -> Result<(), Error> {
        let cloud = self.cloud.read().map(|c| c.clone()).unwrap_or_default();
        if self.rules.is_empty() && cloud.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            return Ok(());
        };
        if windows.len() > 100_000 {
            let longest = self
                .rules
                .iter()
                .chain(cloud.iter())
                .map(|r| r.window)
                .max()
                .unwrap_or_default();
            windows.retain(|_, (start, _)| now.duration_since(*start) < longest);
        }
        for (i, rule) in self.rules.iter().chain(cloud.iter()).enumerate() {
            if !rule.matches(method, rel_path) || (rule.skip_loopback && ip == "127.0.0.1") {
                continue;
            }
            let who = match (rule.per_user, user) {
                (true, Some(u)) => format!("u:{u}"),
                _ => format!("ip:{ip}"),
            };
            let slot = windows.entry((i, who)).or_insert((now, 0));
            if now.duration_since(slot.0) >= rule.window {
                *slot = (now, 0);
            }
            slot.1 += 1;
            if slot.1 > rule.count {
                return Err(Error::RateLimited(
                    rule.message
                        .clone()
                        .unwrap_or_else(|| "Too many requests".into()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_count() -> Result<(), String> {
        let r = Rule::parse("/login=2/60,POST")?;
        assert_eq!(r.count, 2);
        assert_eq!(r.methods, vec![Method::POST]);
        assert!(Rule::parse("login=2/60").is_err());
        assert!(Rule::parse("/x=0/60").is_err());
        let l = Limiter::new(vec![r, Rule::parse("/classes/*=1/60,user")?]);
        assert!(l.check(&Method::POST, "/login", "1.1.1.1", None).is_ok());
        assert!(l.check(&Method::POST, "/login", "1.1.1.1", None).is_ok());
        assert!(l.check(&Method::POST, "/login", "1.1.1.1", None).is_err());
        assert!(l.check(&Method::POST, "/login", "2.2.2.2", None).is_ok());
        assert!(l.check(&Method::GET, "/login", "1.1.1.1", None).is_ok());
        assert!(l
            .check(&Method::GET, "/classes/A", "1.1.1.1", Some("u1"))
            .is_ok());
        assert!(l
            .check(&Method::GET, "/classes/B", "1.1.1.1", Some("u1"))
            .is_err());
        assert!(l
            .check(&Method::GET, "/classes/B", "1.1.1.1", Some("u2"))
            .is_ok());
        Ok(())
    }
}
