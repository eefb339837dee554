//! Cloud Code (Parse Server's `cloud` option): the app's unchanged `main.js` runs in a supervised
//! Node.js worker (`bootstrap.cjs`, embedded here). The core asks for triggers through
//! [`ferrobase_core::hooks::Hooks`]; `/functions` and `/jobs` call the worker directly; Parse
//! calls made inside Cloud Code come back over the channel and run through the router (`rest.rs`).
//! Protocol: docs/cloud-protocol.md.

mod rest;
mod schedule;
mod webhooks;
mod worker;

pub use webhooks::Dispatch;

use crate::app::App;
use async_trait::async_trait;
use ferrobase_core::error::code;
use ferrobase_core::hooks::{Hooks, Trigger};
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use worker::{Incoming, Spawn, Worker};

const BOOTSTRAP: &str = include_str!("bootstrap.cjs");
/// The `parse` SDK the worker loads when the app has none of its own (Parse Server 9's).
const PARSE_SDK_VERSION: &str = "8.6.2";
/// Lines kept for `/scriptlog`.
const LOG_LINES: usize = 1000;

/// What `main.js` registered.
#[derive(Debug, Default)]
pub struct Manifest {
    pub functions: HashSet<String>,
    pub jobs: Vec<String>,
    triggers: HashMap<String, HashSet<String>>,
    /// Validators' `rateLimit`s, enforced by the server's limiter.
    pub rate_limits: Vec<crate::ratelimit::Rule>,
}

impl Manifest {
    fn from_json(v: &Value) -> Manifest {
        let mut m = Manifest::default();
        if let Some(f) = v.get("functions").and_then(Value::as_object) {
            m.functions = f.keys().cloned().collect();
        }
        if let Some(j) = v.get("jobs").and_then(Value::as_array) {
            m.jobs = j
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect();
        }
        if let Some(r) = v.get("rateLimits").and_then(Value::as_array) {
            m.rate_limits = r
                .iter()
                .filter_map(crate::ratelimit::Rule::from_cloud)
                .collect();
        }
        if let Some(t) = v.get("triggers").and_then(Value::as_object) {
            for (class, names) in t {
                let set = names
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default();
                m.triggers.insert(class.clone(), set);
            }
        }
        m
    }

    pub fn has_trigger(&self, class: &str, name: &str) -> bool {
        self.triggers.get(class).is_some_and(|s| s.contains(name))
    }
}

/// Settings of the Cloud Code runtime.
pub struct CloudSettings {
    pub main: PathBuf,
    /// Reload when a file beside main.js changes.
    pub watch: bool,
    /// Worker processes for functions and triggers (jobs get one of their own).
    pub workers: usize,
    pub node: PathBuf,
    pub timeout: Duration,
    pub app_id: String,
    pub master_key: String,
    pub server_url: String,
}

/// One line of Cloud Code output, for `/scriptlog`.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub at: chrono::DateTime<chrono::Utc>,
    pub level: String,
    pub message: String,
    /// The logger call's other arguments (Parse's log entry carries them as fields).
    pub meta: serde_json::Map<String, Value>,
}

/// winston's levels, most severe first: asking for one gives it and every more severe one.
fn severity(level: &str) -> usize {
    ["error", "warn", "info", "http", "verbose", "debug", "silly"]
        .iter()
        .position(|l| *l == level)
        .unwrap_or(2)
}

pub struct Cloud {
    settings: CloudSettings,
    /// Worker slots: `0..workers` serve functions and triggers (round robin), the last one jobs
    /// when main.js defines any.
    slots: Vec<Slot>,
    next: std::sync::atomic::AtomicUsize,
    manifest: RwLock<Arc<Manifest>>,
    app: OnceLock<Weak<App>>,
    log: Mutex<VecDeque<LogLine>>,
    stopped: AtomicBool,
    incoming: OnceLock<mpsc::UnboundedSender<Incoming>>,
}

/// One worker process and how to (re)start it.
struct Slot {
    spawn: Spawn,
    worker: RwLock<Option<Arc<Worker>>>,
}

impl Slot {
    fn current(&self) -> Option<Arc<Worker>> {
        self.worker.read().ok()?.clone().filter(|w| w.is_alive())
    }

    fn set(&self, w: Arc<Worker>) -> Option<Arc<Worker>> {
        self.worker.write().ok().and_then(|mut s| s.replace(w))
    }
}

fn no_cloud() -> Error {
    Error::new(code::SCRIPT_FAILED, "Cloud Code unavailable")
}

impl Cloud {
    /// Starts the worker and waits for its manifest: a `main.js` that fails to load stops the
    /// server's start, as it does Parse Server's.
    pub async fn start(settings: CloudSettings) -> Result<Arc<Cloud>, String> {
        let main = std::fs::canonicalize(&settings.main)
            .map_err(|e| format!("--cloud {}: {e}", settings.main.display()))?;
        let cache = cache_dir();
        std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
        let bootstrap = cache.join(format!("bootstrap-{}.cjs", short_hash(BOOTSTRAP)));
        if !bootstrap.exists() {
            std::fs::write(&bootstrap, BOOTSTRAP)
                .map_err(|e| format!("{}: {e}", bootstrap.display()))?;
        }
        let parse_dir = parse_sdk(&main, &cache, &settings.node).await?;
        let socket_dir = std::env::temp_dir();
        let env = vec![
            (
                "FERROBASE_CLOUD_MAIN".to_string(),
                main.display().to_string(),
            ),
            (
                "FERROBASE_CLOUD_PARSE".to_string(),
                parse_dir.display().to_string(),
            ),
            ("FERROBASE_APP_ID".to_string(), settings.app_id.clone()),
            (
                "FERROBASE_MASTER_KEY".to_string(),
                settings.master_key.clone(),
            ),
            (
                "FERROBASE_SERVER_URL".to_string(),
                settings.server_url.clone(),
            ),
            ("FERROBASE_CLOUD_WORKER".to_string(), "main".to_string()),
        ];
        let spawn = |kind: &str| {
            let mut env = env.clone();
            if let Some(e) = env.iter_mut().find(|(k, _)| k == "FERROBASE_CLOUD_WORKER") {
                e.1 = kind.to_string();
            }
            Slot {
                spawn: Spawn {
                    node: settings.node.clone(),
                    bootstrap: bootstrap.clone(),
                    socket: worker::socket_path(&socket_dir),
                    env,
                },
                worker: RwLock::new(None),
            }
        };
        let (incoming_tx, mut incoming_rx) = mpsc::unbounded_channel();
        let first = spawn("main");
        let (w, manifest) = match Worker::start(&first.spawn, incoming_tx.clone()).await {
            Ok(started) => started,
            Err(e) => {
                // What the process printed says why (a syntax error in main.js, a missing module).
                tokio::time::sleep(Duration::from_millis(100)).await;
                let mut printed = String::new();
                while let Ok(Incoming::Output { line, .. }) = incoming_rx.try_recv() {
                    printed.push_str("\n  ");
                    printed.push_str(&line);
                }
                return Err(format!("{e}{printed}"));
            }
        };
        first.set(w);
        let has_jobs = !Manifest::from_json(&manifest).jobs.is_empty();
        let mut slots = vec![first];
        for _ in 1..settings.workers.max(1) {
            slots.push(spawn("main"));
        }
        if has_jobs && settings.workers > 1 {
            slots.push(spawn("jobs"));
        }
        let cloud = Arc::new(Cloud {
            settings,
            slots,
            next: std::sync::atomic::AtomicUsize::new(0),
            manifest: RwLock::new(Arc::new(Manifest::default())),
            app: OnceLock::new(),
            log: Mutex::new(VecDeque::new()),
            stopped: AtomicBool::new(false),
            incoming: OnceLock::new(),
        });
        cloud.install_manifest(&manifest);
        // The other slots start now, each supervised (a slot with no worker yet starts one).
        let _ = cloud.incoming.set(incoming_tx.clone());
        tokio::spawn(handle_incoming(Arc::downgrade(&cloud), incoming_rx));
        if cloud.settings.watch {
            let dir = main.parent().map(Path::to_path_buf).unwrap_or_default();
            tokio::spawn(watch(Arc::downgrade(&cloud), dir, incoming_tx.clone()));
        }
        for i in 0..cloud.slots.len() {
            tokio::spawn(supervise(Arc::downgrade(&cloud), i, incoming_tx.clone()));
        }
        Ok(cloud)
    }

    /// Gives the runtime the application, for the Parse calls Cloud Code makes.
    pub fn attach(&self, app: &Arc<App>) {
        let _ = self.app.set(Arc::downgrade(app));
        tokio::spawn(schedule::run(Arc::downgrade(app)));
        app.limiter
            .set_cloud_rules(self.manifest().rate_limits.clone());
    }

    /// Takes a worker's manifest as the app's (every worker loads the same main.js).
    fn install_manifest(&self, manifest: &Value) {
        let m = Manifest::from_json(manifest);
        tracing::info!(
            functions = m.functions.len(),
            jobs = m.jobs.len(),
            triggers = m.triggers.values().map(HashSet::len).sum::<usize>(),
            workers = self.slots.len(),
            "Cloud Code loaded"
        );
        if let Some(app) = self.app.get().and_then(Weak::upgrade) {
            app.limiter.set_cloud_rules(m.rate_limits.clone());
        }
        if let Ok(mut slot) = self.manifest.write() {
            *slot = Arc::new(m);
        }
    }

    pub fn manifest(&self) -> Arc<Manifest> {
        self.manifest.read().map(|m| m.clone()).unwrap_or_default()
    }

    /// The slots that serve functions and triggers.
    fn call_slots(&self) -> &[Slot] {
        let jobs_slot = self.slots.len() > self.settings.workers.max(1);
        &self.slots[..self.slots.len() - usize::from(jobs_slot)]
    }

    /// A live worker for a function or trigger call, round robin.
    fn pick(&self) -> Option<Arc<Worker>> {
        let slots = self.call_slots();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..slots.len()).find_map(|i| slots.get((start + i) % slots.len())?.current())
    }

    async fn call(&self, message: Value, timeout: Option<Duration>) -> Result<Value, Error> {
        let hook = crate::observe::cloud_hook_label(&message);
        let started = std::time::Instant::now();
        let r = match self.pick() {
            Some(w) => w.call(message, timeout).await,
            None => Err(no_cloud()),
        };
        crate::observe::cloud_call(hook, started.elapsed(), r.is_ok());
        r
    }

    /// `POST /functions/<name>`: `{"result": …}` as the worker encodes it.
    pub async fn run_function(&self, name: &str, request: Value) -> Result<Value, Error> {
        if !self.manifest().functions.contains(name) {
            return Err(Error::new(
                code::SCRIPT_FAILED,
                format!("Invalid function: \"{name}\""),
            ));
        }
        self.call(
            json!({"t": "call", "hook": "function", "name": name, "request": request}),
            Some(self.settings.timeout),
        )
        .await
    }

    /// Runs a job to its end (no deadline).
    pub async fn run_job(&self, name: &str, request: Value) -> Result<Value, Error> {
        let message = json!({"t": "call", "hook": "job", "name": name, "request": request});
        // Jobs run in their own worker when there is one, so long jobs never hold up requests.
        let own = (self.slots.len() > self.call_slots().len())
            .then(|| self.slots.last().and_then(Slot::current))
            .flatten();
        match own {
            Some(w) => w.call(message, None).await,
            None => self.call(message, None).await,
        }
    }

    /// Records a job's end after every message it sent before.
    pub fn finish_job(&self, job_id: String, update: Value) {
        if let Some(tx) = self.incoming.get() {
            let _ = tx.send(Incoming::JobDone { job_id, update });
        }
    }

    fn record(&self, level: &str, message: String, meta: serde_json::Map<String, Value>) {
        if let Ok(mut log) = self.log.lock() {
            if log.len() >= LOG_LINES {
                log.pop_front();
            }
            log.push_back(LogLine {
                at: chrono::Utc::now(),
                level: level.to_string(),
                message,
                meta,
            });
        }
    }

    /// The newest Cloud Code log lines (for `/scriptlog`), newest first.
    pub fn recent_log(&self, size: usize, level: Option<&str>) -> Vec<LogLine> {
        self.log
            .lock()
            .map(|l| {
                l.iter()
                    .rev()
                    .filter(|x| level.is_none_or(|lv| severity(&x.level) <= severity(lv)))
                    .take(size)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        for slot in &self.slots {
            if let Some(w) = slot.worker.write().ok().and_then(|mut w| w.take()) {
                w.kill();
            }
        }
    }
}

#[async_trait]
impl Hooks for Cloud {
    fn has(&self, class: &str, trigger: Trigger) -> bool {
        self.manifest
            .read()
            .map(|m| m.has_trigger(class, trigger.name()))
            .unwrap_or(false)
    }

    async fn run(&self, class: &str, trigger: Trigger, request: Value) -> Result<Value, Error> {
        self.call(
            json!({"t": "call", "hook": "trigger", "trigger": trigger.name(),
                   "className": class, "request": request}),
            Some(self.settings.timeout),
        )
        .await
    }
}

/// Frames the worker sends on its own: Parse calls, log lines, job messages, console output.
async fn handle_incoming(cloud: Weak<Cloud>, mut rx: mpsc::UnboundedReceiver<Incoming>) {
    while let Some(msg) = rx.recv().await {
        let Some(c) = cloud.upgrade() else { break };
        match msg {
            Incoming::Rest { id, request, from } => {
                let app = c.app.get().and_then(Weak::upgrade);
                let worker = from.upgrade();
                let base_url = c.settings.server_url.clone();
                tokio::spawn(async move {
                    let answer = match app {
                        Some(app) => rest::run(&app, &base_url, &request).await,
                        None => {
                            json!({"status": 503, "body": {"code": 1, "error": "server is starting"}})
                        }
                    };
                    if let Some(w) = worker {
                        let mut frame = answer;
                        if let Value::Object(m) = &mut frame {
                            m.insert("t".into(), json!("rest_result"));
                            m.insert("id".into(), json!(id));
                        }
                        w.send(&frame);
                    }
                });
            }
            Incoming::Log {
                level,
                message,
                meta,
            } => {
                match level.as_str() {
                    "error" => tracing::error!(target: "cloud", "{message}"),
                    "warn" => tracing::warn!(target: "cloud", "{message}"),
                    _ => tracing::info!(target: "cloud", "{message}"),
                }
                c.record(&level, message, meta);
            }
            Incoming::Output { line, stderr } => {
                let level = if stderr { "error" } else { "info" };
                tracing::info!(target: "cloud", stream = if stderr { "stderr" } else { "stdout" }, "{line}");
                c.record(level, line, serde_json::Map::new());
            }
            Incoming::JobMessage { job_id, message } => {
                if let Some(app) = c.app.get().and_then(Weak::upgrade) {
                    crate::routes::jobs::record(&app, &job_id, json!({ "message": message })).await;
                }
            }
            Incoming::JobDone { job_id, update } => {
                if let Some(app) = c.app.get().and_then(Weak::upgrade) {
                    crate::routes::jobs::record(&app, &job_id, update).await;
                }
            }
        }
    }
}

/// Restarts a worker that crashed or stopped answering pings, with back-off; calls in flight
/// meanwhile answer 141 "Cloud Code unavailable" and the server keeps serving.
async fn supervise(cloud: Weak<Cloud>, slot: usize, incoming: mpsc::UnboundedSender<Incoming>) {
    let mut backoff = Duration::from_millis(100);
    let mut ran = false;
    loop {
        let Some(c) = cloud.upgrade() else { return };
        if c.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Some(s) = c.slots.get(slot) else { return };
        let Some(w) = s.current() else {
            drop(c);
            if ran {
                tokio::time::sleep(backoff).await;
            }
            let Some(c) = cloud.upgrade() else { return };
            let Some(s) = c.slots.get(slot) else { return };
            if c.stopped.load(Ordering::SeqCst) {
                return;
            }
            match Worker::start(&s.spawn, incoming.clone()).await {
                Ok((w, manifest)) => {
                    if ran {
                        tracing::warn!(slot, "Cloud Code process restarted");
                    }
                    s.set(w);
                    if slot == 0 {
                        c.install_manifest(&manifest);
                    }
                }
                Err(e) => {
                    tracing::error!(slot, error = %e, "Cloud Code process could not start");
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
            ran = true;
            continue;
        };
        drop(c);
        ran = true;
        let started = Instant::now();
        // Watch the worker: exit, or pings left unanswered (CPU-bound JS cannot be interrupted).
        loop {
            tokio::select! {
                _ = w.exited() => break,
                _ = tokio::time::sleep(Duration::from_secs(5)) => {
                    let ping = w.call(json!({"t": "ping"}), Some(Duration::from_secs(20))).await;
                    if ping.is_err() && w.is_alive() {
                        tracing::error!(slot, "Cloud Code process stopped answering: restarting it");
                        w.kill();
                    }
                    if !w.is_alive() {
                        break;
                    }
                }
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            backoff = Duration::from_millis(100);
        }
        if cloud
            .upgrade()
            .is_some_and(|c| !c.stopped.load(Ordering::SeqCst))
        {
            tracing::error!(slot, "Cloud Code process exited; restarting it");
        }
    }
}

/// The newest modification time among the app's files (not `node_modules`), a few levels deep.
fn newest_change(dir: &Path, depth: usize) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "node_modules" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let t = if meta.is_dir() {
            if depth == 0 {
                continue;
            }
            newest_change(&path, depth - 1)
        } else {
            meta.modified().ok()
        };
        newest = newest.max(t);
    }
    newest
}

/// `--cloud-watch`: when a file changes, a new worker loads main.js; it takes over once its
/// manifest is in, and the old one finishes the calls it has before it is stopped. A main.js that
/// fails to load leaves the running worker in place.
async fn watch(cloud: Weak<Cloud>, dir: PathBuf, incoming: mpsc::UnboundedSender<Incoming>) {
    let mut seen = newest_change(&dir, 4);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(c) = cloud.upgrade() else { return };
        if c.stopped.load(Ordering::SeqCst) {
            return;
        }
        let now = newest_change(&dir, 4);
        if now == seen {
            continue;
        }
        seen = now;
        // Each slot in turn: a new worker loads the changed code; the old one drains.
        for (i, slot) in c.slots.iter().enumerate() {
            match Worker::start(&slot.spawn, incoming.clone()).await {
                Ok((w, manifest)) => {
                    if i == 0 {
                        c.install_manifest(&manifest);
                        tracing::info!("Cloud Code reloaded");
                    }
                    if let Some(old) = slot.set(w) {
                        tokio::spawn(async move {
                            old.drain(Duration::from_secs(60)).await;
                            old.kill();
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "Cloud Code reload failed; the old code keeps running");
                    break;
                }
            }
        }
    }
}

fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("ferrobase").join("cloud")
}

fn short_hash(s: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The `parse` package the worker loads: the app's own (a `node_modules/parse` beside main.js or
/// above it), else one installed once with npm into the cache and reused.
async fn parse_sdk(main: &Path, cache: &Path, node: &Path) -> Result<PathBuf, String> {
    let mut dir = main.parent();
    while let Some(d) = dir {
        let candidate = d.join("node_modules").join("parse");
        if candidate.join("node.js").exists() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    let prefix = cache.join(format!("sdk-{PARSE_SDK_VERSION}"));
    let installed = prefix.join("node_modules").join("parse");
    if installed.join("node.js").exists() {
        return Ok(installed);
    }
    tracing::info!(
        version = PARSE_SDK_VERSION,
        "installing the parse SDK for Cloud Code (once)"
    );
    // npm sits beside node.
    let npm = node
        .parent()
        .map(|d| d.join("npm"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("npm"));
    let status = tokio::process::Command::new(npm)
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&prefix)
        .arg(format!("parse@{PARSE_SDK_VERSION}"))
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("cannot run npm to install the parse SDK: {e}"))?;
    if !status.success() || !installed.join("node.js").exists() {
        return Err(format!(
            "npm could not install parse@{PARSE_SDK_VERSION} into {}",
            prefix.display()
        ));
    }
    Ok(installed)
}
