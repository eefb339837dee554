//! One Node.js worker process and its channel: a Unix socket carrying length-prefixed JSON frames
//! (docs/cloud-protocol.md), multiplexed both ways by request id. The reader never waits on Cloud
//! Code; each `rest` frame from the worker runs on its own task.

use ferrobase_core::error::code;
use ferrobase_core::Error;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// Frames larger than this are refused (the protocol's bound).
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// What the worker answered to a call.
pub type Answer = Result<Value, Error>;

/// How a worker is started.
pub struct Spawn {
    pub node: PathBuf,
    pub bootstrap: PathBuf,
    pub socket: PathBuf,
    pub env: Vec<(String, String)>,
}

/// Frames the worker sends on its own (not answers): handled by the owner.
pub enum Incoming {
    /// A Parse call; its answer goes back to the worker that sent it.
    Rest {
        id: u64,
        request: Value,
        from: std::sync::Weak<Worker>,
    },
    Log {
        level: String,
        message: String,
        meta: serde_json::Map<String, Value>,
    },
    JobMessage {
        job_id: String,
        message: String,
    },
    /// A job ended: its final `_JobStatus` fields (sent through the same queue as its messages,
    /// so that a message sent before the end never overwrites it).
    JobDone {
        job_id: String,
        update: Value,
    },
    Output {
        line: String,
        stderr: bool,
    },
}

pub struct Worker {
    out: mpsc::UnboundedSender<Vec<u8>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    next_id: AtomicU64,
    alive: AtomicBool,
    child: Mutex<Option<Child>>,
}

pub fn unavailable() -> Error {
    Error::new(code::SCRIPT_FAILED, "Cloud Code unavailable")
}

fn encode(v: &Value) -> Vec<u8> {
    let body = v.to_string().into_bytes();
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

async fn read_frame(r: &mut OwnedReadHalf) -> std::io::Result<Option<Value>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    serde_json::from_slice(&buf)
        .map(Some)
        .map_err(|e| std::io::Error::other(format!("bad frame: {e}")))
}

/// The error a failed `result` carries.
fn answer_error(v: &Value) -> Error {
    let e = v.get("error");
    let c = e
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(code::SCRIPT_FAILED);
    let m = e
        .and_then(|e| e.get("message").or_else(|| e.get("error")))
        .and_then(Value::as_str)
        .unwrap_or("Script failed.");
    Error::new(c, m)
}

impl Worker {
    /// Starts the process, waits for it to connect and report its manifest. Frames the worker
    /// sends on its own go to `incoming`.
    pub async fn start(
        spawn: &Spawn,
        incoming: mpsc::UnboundedSender<Incoming>,
    ) -> Result<(Arc<Worker>, Value), String> {
        let _ = std::fs::remove_file(&spawn.socket);
        let listener = UnixListener::bind(&spawn.socket)
            .map_err(|e| format!("cannot listen on {}: {e}", spawn.socket.display()))?;
        let mut cmd = Command::new(&spawn.node);
        cmd.arg(&spawn.bootstrap)
            .envs(spawn.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("FERROBASE_CLOUD_SOCKET", &spawn.socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", spawn.node.display()))?;
        for (pipe, stderr) in [
            (child.stdout.take().map(|p| Box::new(p) as BoxRead), false),
            (child.stderr.take().map(|p| Box::new(p) as BoxRead), true),
        ] {
            if let Some(pipe) = pipe {
                let tx = incoming.clone();
                tokio::spawn(async move {
                    let mut lines = BufReader::new(pipe).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let _ = tx.send(Incoming::Output { line, stderr });
                    }
                });
            }
        }
        let accepted = tokio::select! {
            a = listener.accept() => a.map_err(|e| e.to_string())?,
            status = child.wait() => {
                return Err(format!("the Cloud Code process exited at start ({})",
                    status.map(|s| s.to_string()).unwrap_or_default()));
            }
            _ = tokio::time::sleep(Duration::from_secs(30)) => {
                return Err("the Cloud Code process did not connect within 30 s".into());
            }
        };
        let _ = std::fs::remove_file(&spawn.socket);
        let (mut read, mut write) = accepted.0.into_split();
        // The first frame is the manifest (or the reason main.js could not load).
        let first = tokio::select! {
            f = read_frame(&mut read) => f.map_err(|e| e.to_string())?,
            status = child.wait() => {
                return Err(format!("the Cloud Code process exited while loading main.js ({})",
                    status.map(|s| s.to_string()).unwrap_or_default()));
            }
            _ = tokio::time::sleep(Duration::from_secs(120)) => {
                return Err("main.js did not finish loading within 120 s".into());
            }
        };
        let manifest = match first {
            Some(f) if f.get("t").and_then(Value::as_str) == Some("ready") => {
                f.get("manifest").cloned().unwrap_or_else(|| json!({}))
            }
            Some(f) if f.get("t").and_then(Value::as_str) == Some("fatal") => {
                return Err(format!(
                    "main.js failed to load: {}",
                    f.get("error")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                ));
            }
            _ => return Err("the Cloud Code process sent no manifest".into()),
        };
        let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let worker = Arc::new(Worker {
            out,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            alive: AtomicBool::new(true),
            child: Mutex::new(Some(child)),
        });
        tokio::spawn(async move {
            while let Some(frame) = out_rx.recv().await {
                if write.write_all(&frame).await.is_err() {
                    break;
                }
            }
        });
        let reader = worker.clone();
        tokio::spawn(async move {
            loop {
                match read_frame(&mut read).await {
                    Ok(Some(frame)) => Worker::dispatch(&reader, frame, &incoming),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "Cloud Code channel failed");
                        break;
                    }
                }
            }
            reader.fail_all();
        });
        Ok((worker, manifest))
    }

    fn dispatch(this: &Arc<Worker>, frame: Value, incoming: &mpsc::UnboundedSender<Incoming>) {
        let id = frame.get("id").and_then(Value::as_u64).unwrap_or(0);
        match frame.get("t").and_then(Value::as_str).unwrap_or_default() {
            "result" | "pong" => {
                let answer = if frame.get("t").and_then(Value::as_str) == Some("pong")
                    || frame.get("ok").and_then(Value::as_bool) == Some(true)
                {
                    Ok(frame.get("value").cloned().unwrap_or(Value::Null))
                } else {
                    Err(answer_error(&frame))
                };
                let waiter = this.pending.lock().ok().and_then(|mut p| p.remove(&id));
                if let Some(w) = waiter {
                    let _ = w.send(answer);
                }
            }
            "rest" => {
                let _ = incoming.send(Incoming::Rest {
                    id,
                    request: frame,
                    from: Arc::downgrade(this),
                });
            }
            "log" => {
                let text = |k: &str| text_of(&frame, k);
                let _ = incoming.send(Incoming::Log {
                    level: text("level"),
                    message: text("message"),
                    meta: frame
                        .get("meta")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                });
            }
            "job_message" => {
                let text = |k: &str| text_of(&frame, k);
                let _ = incoming.send(Incoming::JobMessage {
                    job_id: text("jobId"),
                    message: text("message"),
                });
            }
            other => tracing::debug!(frame = other, "unknown Cloud Code frame"),
        }
    }

    /// The worker is gone: every call in flight answers 141.
    fn fail_all(&self) {
        self.alive.store(false, Ordering::SeqCst);
        let waiting: Vec<_> = self
            .pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for (_, w) in waiting {
            let _ = w.send(Err(unavailable()));
        }
    }

    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }

    pub fn send(&self, frame: &Value) {
        let _ = self.out.send(encode(frame));
    }

    /// Sends `message` (a `call` or `ping` without its id) and waits for the answer, at most
    /// `timeout` (then 124 "Script timed out").
    pub async fn call(&self, mut message: Value, timeout: Option<Duration>) -> Answer {
        if !self.is_alive() {
            return Err(unavailable());
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        if let Value::Object(m) = &mut message {
            m.insert("id".into(), json!(id));
        }
        if self.out.send(encode(&message)).is_err() {
            self.forget(id);
            return Err(unavailable());
        }
        let answer = match timeout {
            Some(t) => match tokio::time::timeout(t, rx).await {
                Ok(a) => a,
                Err(_) => {
                    self.forget(id);
                    return Err(Error::new(code::TIMEOUT, "Script timed out"));
                }
            },
            None => rx.await,
        };
        answer.unwrap_or_else(|_| Err(unavailable()))
    }

    fn forget(&self, id: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }

    /// Waits until no call is in flight (at most `limit`).
    pub async fn drain(&self, limit: Duration) {
        let until = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < until {
            let busy = self.pending.lock().map(|p| !p.is_empty()).unwrap_or(false);
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the process (a watchdog restart, a reload, the server's shutdown).
    pub fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
        if let Some(mut child) = self.child.lock().ok().and_then(|mut c| c.take()) {
            let _ = child.start_kill();
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
        }
        self.fail_all();
    }

    /// Waits until the process exits (or was killed).
    pub async fn exited(&self) {
        loop {
            if !self.is_alive() {
                return;
            }
            let status = self
                .child
                .lock()
                .ok()
                .and_then(|mut c| c.as_mut().map(|c| c.try_wait()));
            match status {
                Some(Ok(Some(_))) | None | Some(Err(_)) => {
                    self.fail_all();
                    return;
                }
                Some(Ok(None)) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
}

/// A frame's text field, empty when absent.
fn text_of(frame: &Value, key: &str) -> String {
    frame
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

type BoxRead = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// A socket path no other process (or other server in this process) uses.
pub fn socket_path(dir: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("ferrobase-cloud-{}-{n}.sock", std::process::id()))
}
