//! LiveQuery: Parse's realtime protocol over WebSocket (the `parse` SDKs' `LiveQueryClient`), and
//! the same events as Server-Sent Events (`GET <mount>/realtime`).
//!
//! Every write publishes a change event on `core.changes`. The [`Hub`] listens to that feed (only
//! while someone subscribes, or always when Redis fan-out is on), numbers each event, keeps a short
//! per-class replay buffer for SSE resume, and offers the event to the bounded queue of every
//! connection that has a subscription on the class. Each connection task then applies, per
//! subscription, the query (the in-memory matcher), the ACL, the CLP, field projection and private
//! fields, and writes the Parse messages itself.
//!
//! Back-pressure: a connection whose queue is full (it reads slower than events arrive) is sent an
//! `error` (code 155, `reconnect: true`) and closed; the SDK reconnects and resubscribes. Writers
//! never wait for subscribers.

mod hooks;
pub(crate) mod protocol;
mod redis_bus;
pub(crate) mod sse;
pub(crate) mod ws;

use crate::app::App;
use ferrobase_core::events::ChangeEvent;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch, Notify};

/// LiveQuery settings (from the server's `--live-query-*` flags).
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Classes whose changes are delivered (Parse's `liveQuery.classNames`); `None` = all.
    pub classes: Option<HashSet<String>>,
    /// Redis URL for fan-out across nodes; `None` = this node only.
    pub redis_url: Option<String>,
    /// Events a connection may have waiting before it is dropped.
    pub queue_size: usize,
    /// WebSocket ping interval; a peer silent for two intervals is disconnected.
    pub ping_interval: Duration,
    /// Events per class kept for SSE `Last-Event-ID` resume.
    pub replay_size: usize,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            classes: None,
            redis_url: None,
            queue_size: 1000,
            ping_interval: Duration::from_secs(10),
            replay_size: 500,
        }
    }
}

/// One change event as this node delivers it, with its sequence number (SSE event ids).
pub struct Dispatched {
    pub seq: u64,
    pub event: Arc<ChangeEvent>,
}

/// The hub's side of one connection: its bounded queue and the overflow signal.
pub(crate) struct ConnHandle {
    tx: mpsc::Sender<Arc<Dispatched>>,
    overflowed: AtomicBool,
    pub(crate) kill: Notify,
}

impl ConnHandle {
    fn offer(&self, d: &Arc<Dispatched>) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(d.clone()) {
            if !self.overflowed.swap(true, Ordering::SeqCst) {
                metrics::counter!("ferrobase_livequery_dropped_connections_total").increment(1);
                self.kill.notify_one();
            }
        }
    }
}

#[derive(Default)]
struct Replay {
    events: VecDeque<Arc<Dispatched>>,
    /// Highest sequence number evicted from `events` (0 = none).
    evicted_upto: u64,
}

/// Idle ticks (of `IDLE_TICK`) without any subscriber before the hub stops listening.
const IDLE_TICK: Duration = Duration::from_secs(30);
const IDLE_TICKS: u32 = 2;

pub struct Hub {
    pub config: LiveConfig,
    /// Identifies this node (Redis messages, SSE ids).
    pub node_id: String,
    next_conn: AtomicU64,
    seq: AtomicU64,
    registry: RwLock<HashMap<String, HashMap<u64, Arc<ConnHandle>>>>,
    replay: Mutex<HashMap<String, Replay>>,
    listening: Mutex<bool>,
    shutdown: watch::Sender<bool>,
    redis: OnceLock<mpsc::Sender<String>>,
    app: OnceLock<Weak<App>>,
}

fn lock<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(PoisonError::into_inner)
}

impl Hub {
    pub fn new(config: LiveConfig) -> Hub {
        Hub {
            config,
            node_id: ferrobase_core::types::random_string(8),
            next_conn: AtomicU64::new(1),
            seq: AtomicU64::new(0),
            registry: RwLock::new(HashMap::new()),
            replay: Mutex::new(HashMap::new()),
            listening: Mutex::new(false),
            shutdown: watch::channel(false).0,
            redis: OnceLock::new(),
            app: OnceLock::new(),
        }
    }

    /// Starts the hub's background work: Redis fan-out when configured (which listens to the
    /// change feed at all times, since other nodes may have subscribers).
    pub fn start(&self, app: &Arc<App>) -> Result<(), String> {
        let _ = self.app.set(Arc::downgrade(app));
        if let Some(url) = &self.config.redis_url {
            let tx = redis_bus::start(
                Arc::downgrade(app),
                url,
                self.channel(app),
                self.shutdown.subscribe(),
            )?;
            let _ = self.redis.set(tx);
            self.ensure_listening();
        }
        Ok(())
    }

    fn channel(&self, app: &App) -> String {
        format!("ferrobase:{}:livequery", app.core.config.app_id)
    }

    /// Closes every LiveQuery connection and stops the background tasks.
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn class_enabled(&self, class: &str) -> bool {
        self.config
            .classes
            .as_ref()
            .is_none_or(|c| c.contains(class))
    }

    /// A new connection: its id, its handle and the receiving end of its queue.
    pub(crate) fn open(&self) -> (u64, Arc<ConnHandle>, mpsc::Receiver<Arc<Dispatched>>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("ferrobase_livequery_connections").increment(1.0);
        let (tx, rx) = mpsc::channel(self.config.queue_size.max(1));
        let handle = Arc::new(ConnHandle {
            tx,
            overflowed: AtomicBool::new(false),
            kill: Notify::new(),
        });
        (id, handle, rx)
    }

    /// Starts delivering `class` events to connection `id`.
    pub(crate) fn watch_class(&self, id: u64, class: &str, handle: &Arc<ConnHandle>) {
        lock(self.registry.write())
            .entry(class.to_string())
            .or_default()
            .insert(id, handle.clone());
        self.ensure_listening();
    }

    pub(crate) fn unwatch_class(&self, id: u64, class: &str) {
        let mut reg = lock(self.registry.write());
        if let Some(conns) = reg.get_mut(class) {
            conns.remove(&id);
            if conns.is_empty() {
                reg.remove(class);
            }
        }
    }

    /// Forgets a closed connection.
    pub(crate) fn close(&self, id: u64) {
        metrics::gauge!("ferrobase_livequery_connections").decrement(1.0);
        let mut reg = lock(self.registry.write());
        reg.retain(|_, conns| {
            conns.remove(&id);
            !conns.is_empty()
        });
    }

    /// Number of connections watching at least one class (for tests and logs).
    pub fn watchers(&self) -> usize {
        let reg = lock(self.registry.read());
        let ids: HashSet<u64> = reg.values().flat_map(|c| c.keys().copied()).collect();
        ids.len()
    }

    /// Subscribes to the change feed if nobody does yet. Synchronous, so that an event written
    /// after a subscription is acknowledged is never missed.
    fn ensure_listening(&self) {
        let Some(app) = self.app.get().and_then(Weak::upgrade) else {
            return;
        };
        let mut listening = lock(self.listening.lock());
        if *listening {
            return;
        }
        *listening = true;
        let rx = app.core.changes.subscribe();
        tokio::spawn(listen(Arc::downgrade(&app), rx, self.shutdown.subscribe()));
    }

    /// An event written on this node: to Redis (for the other nodes) and to local subscribers.
    fn local_event(&self, event: Arc<ChangeEvent>) {
        // `_Role` changes always go to the other nodes: they drop their cached role grants.
        if !self.class_enabled(&event.class) && event.class != "_Role" {
            return;
        }
        if let Some(tx) = self.redis.get() {
            let msg = redis_bus::encode(&self.node_id, &event);
            if tx.try_send(msg).is_err() {
                tracing::warn!("LiveQuery: Redis publish queue full, an event was not fanned out");
            }
        }
        self.dispatch(event);
    }

    /// Numbers an event, keeps it for replay, and offers it to every watching connection.
    pub(crate) fn dispatch(&self, event: Arc<ChangeEvent>) {
        if !self.class_enabled(&event.class) {
            return;
        }
        metrics::counter!("ferrobase_livequery_events_total").increment(1);
        let d = Arc::new(Dispatched {
            seq: self.seq.fetch_add(1, Ordering::SeqCst) + 1,
            event,
        });
        if self.config.replay_size > 0 {
            let mut replay = lock(self.replay.lock());
            let r = replay.entry(d.event.class.clone()).or_default();
            r.events.push_back(d.clone());
            while r.events.len() > self.config.replay_size {
                if let Some(old) = r.events.pop_front() {
                    r.evicted_upto = old.seq;
                }
            }
        }
        let reg = lock(self.registry.read());
        if let Some(conns) = reg.get(&d.event.class) {
            for h in conns.values() {
                h.offer(&d);
            }
        }
    }

    /// The buffered events of `class` after `after`, or `None` if some of them are gone.
    pub(crate) fn replay_since(&self, class: &str, after: u64) -> Option<Vec<Arc<Dispatched>>> {
        if after > self.seq.load(Ordering::SeqCst) {
            return None;
        }
        let replay = lock(self.replay.lock());
        let Some(r) = replay.get(class) else {
            return Some(Vec::new());
        };
        if after < r.evicted_upto {
            return None;
        }
        Some(r.events.iter().filter(|d| d.seq > after).cloned().collect())
    }

    /// Whether the listener may stop: nobody watches and no Redis fan-out.
    fn may_stop_listening(&self) -> bool {
        let mut listening = lock(self.listening.lock());
        if self.redis.get().is_some() || !lock(self.registry.read()).is_empty() {
            return false;
        }
        *listening = false;
        true
    }
}

/// Forwards the change feed to the hub while anyone listens.
async fn listen(
    app: Weak<App>,
    mut rx: broadcast::Receiver<Arc<ChangeEvent>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(IDLE_TICK);
    tick.tick().await;
    let mut idle_ticks = 0;
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(event) => {
                    let Some(app) = app.upgrade() else { break };
                    // Cloud Code's afterLiveQueryEvent, in event order, before the fan-out.
                    let Some(event) = hooks::after_event(&app, event).await else { continue };
                    app.live.local_event(event);
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    metrics::counter!("ferrobase_livequery_lost_events_total").increment(n);
                    tracing::warn!(missed = n, "LiveQuery fell behind the change feed; events were lost");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = tick.tick() => {
                let Some(app) = app.upgrade() else { break };
                if lock(app.live.registry.read()).is_empty() {
                    idle_ticks += 1;
                    if idle_ticks >= IDLE_TICKS && app.live.may_stop_listening() {
                        break;
                    }
                } else {
                    idle_ticks = 0;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrobase_core::events::ChangeKind;

    fn event(class: &str) -> Arc<ChangeEvent> {
        Arc::new(ChangeEvent {
            class: class.into(),
            kind: ChangeKind::Create,
            object: Default::default(),
            original: None,
        })
    }

    #[tokio::test]
    async fn a_full_queue_kills_the_connection() {
        let hub = Hub::new(LiveConfig {
            queue_size: 2,
            ..LiveConfig::default()
        });
        let (id, handle, mut rx) = hub.open();
        hub.watch_class(id, "A", &handle);
        hub.dispatch(event("A"));
        hub.dispatch(event("B"));
        hub.dispatch(event("A"));
        assert!(!handle.overflowed.load(Ordering::SeqCst));
        hub.dispatch(event("A"));
        assert!(handle.overflowed.load(Ordering::SeqCst));
        // The connection task is woken to close itself.
        tokio::time::timeout(Duration::from_secs(1), handle.kill.notified())
            .await
            .ok();
        assert_eq!(rx.recv().await.map(|d| d.seq), Some(1));
        hub.close(id);
        assert_eq!(hub.watchers(), 0);
    }

    #[test]
    fn replay_knows_its_gaps() {
        let hub = Hub::new(LiveConfig {
            replay_size: 2,
            ..LiveConfig::default()
        });
        for _ in 0..3 {
            hub.dispatch(event("A"));
        }
        assert!(hub.replay_since("A", 0).is_none(), "event 1 was evicted");
        assert_eq!(
            hub.replay_since("A", 1)
                .map(|v| v.iter().map(|d| d.seq).collect::<Vec<_>>()),
            Some(vec![2, 3])
        );
        assert_eq!(hub.replay_since("B", 3).map(|v| v.len()), Some(0));
        assert!(hub.replay_since("A", 99).is_none());
    }

    #[test]
    fn classes_can_be_limited() {
        let hub = Hub::new(LiveConfig {
            classes: Some(["A".to_string()].into_iter().collect()),
            ..LiveConfig::default()
        });
        assert!(hub.class_enabled("A"));
        assert!(!hub.class_enabled("B"));
    }
}
