//! The single writer: one thread owns the write connection. Concurrent writes are grouped into
//! one transaction and one fsync (group commit), each in its own savepoint so one failing write
//! does not undo the others. A transactional batch takes the writer for itself until it commits.

use ferrobase_core::storage::TxId;
use ferrobase_core::{Error, Result};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

/// What a job hands back: whether it succeeded, and what to do once the commit is known.
pub type Done = Box<dyn FnOnce(Option<Error>) + Send>;
/// A job gets the connection, or the error that keeps it from running (it must still answer).
pub type Job = Box<dyn FnOnce(Result<&Connection>) -> (bool, Done) + Send>;

pub enum Msg {
    Job {
        tx: Option<TxId>,
        job: Job,
    },
    Begin {
        tx: TxId,
        reply: tokio::sync::oneshot::Sender<Result<()>>,
    },
    End {
        tx: TxId,
        commit: bool,
        reply: tokio::sync::oneshot::Sender<Result<()>>,
    },
    Close,
}

/// Most writes grouped into one commit.
const GROUP_MAX: usize = 256;
/// A transactional batch that sends nothing for this long is rolled back.
const TX_IDLE_LIMIT: Duration = Duration::from_secs(30);

/// Messages sent to the writer and not yet taken off its channel (`ferrobase_sqlite_writer_queue_depth`).
pub(crate) fn enqueued() {
    metrics::gauge!("ferrobase_sqlite_writer_queue_depth").increment(1.0);
}

pub(crate) fn dequeued() {
    metrics::gauge!("ferrobase_sqlite_writer_queue_depth").decrement(1.0);
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::internal(e)
}

struct Writer {
    conn: Connection,
    rx: Receiver<Msg>,
    deferred: VecDeque<Msg>,
}

impl Writer {
    fn next(&mut self) -> Option<Msg> {
        self.deferred.pop_front().or_else(|| {
            let m = self.rx.recv().ok();
            if m.is_some() {
                dequeued();
            }
            m
        })
    }

    fn run_in_savepoint(&self, job: Job) -> Done {
        if let Err(e) = self.conn.execute_batch("SAVEPOINT w") {
            let (_, done) = job(Err(sql_err(e)));
            return done;
        }
        let (ok, done) = job(Ok(&self.conn));
        let end = if ok {
            "RELEASE w"
        } else {
            "ROLLBACK TO w; RELEASE w"
        };
        if let Err(e) = self.conn.execute_batch(end) {
            tracing::error!(error = %e, "savepoint end failed");
        }
        done
    }

    fn group(&mut self, first: Job) {
        let mut jobs = vec![first];
        while jobs.len() < GROUP_MAX {
            match self.rx.try_recv() {
                Ok(Msg::Job { tx: None, job }) => {
                    dequeued();
                    jobs.push(job)
                }
                Ok(other) => {
                    dequeued();
                    self.deferred.push_back(other);
                    break;
                }
                Err(_) => break,
            }
        }
        metrics::histogram!("ferrobase_sqlite_group_commit_size").record(jobs.len() as f64);
        let started = std::time::Instant::now();
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let e = sql_err(e);
            for job in jobs {
                let (_, done) = job(Err(e.clone()));
                done(None);
            }
            return;
        }
        let dones: Vec<Done> = jobs.into_iter().map(|j| self.run_in_savepoint(j)).collect();
        let commit = self.conn.execute_batch("COMMIT").err().map(sql_err);
        if commit.is_some() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        metrics::histogram!("ferrobase_sqlite_commit_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        for done in dones {
            done(commit.clone());
        }
    }

    fn transaction(&mut self, id: TxId, reply: tokio::sync::oneshot::Sender<Result<()>>) {
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            let _ = reply.send(Err(sql_err(e)));
            return;
        }
        let _ = reply.send(Ok(()));
        loop {
            let msg = match self.rx.recv_timeout(TX_IDLE_LIMIT) {
                Ok(m) => {
                    dequeued();
                    m
                }
                Err(RecvTimeoutError::Timeout) => {
                    tracing::warn!("transaction idle too long: rolled back");
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return;
                }
            };
            match msg {
                Msg::Job { tx: Some(t), job } if t == id => {
                    let done = self.run_in_savepoint(job);
                    done(None);
                }
                Msg::End { tx, commit, reply } if tx == id => {
                    let sql = if commit { "COMMIT" } else { "ROLLBACK" };
                    let r = self.conn.execute_batch(sql).map_err(sql_err);
                    if r.is_err() {
                        let _ = self.conn.execute_batch("ROLLBACK");
                    }
                    let _ = reply.send(r);
                    return;
                }
                other => self.deferred.push_back(other),
            }
        }
    }
}

/// Runs the writer loop until `Close` (or every sender is gone).
pub fn run(conn: Connection, rx: Receiver<Msg>) {
    let mut w = Writer {
        conn,
        rx,
        deferred: VecDeque::new(),
    };
    while let Some(msg) = w.next() {
        match msg {
            Msg::Job { tx: None, job } => w.group(job),
            Msg::Job { tx: Some(_), job } => {
                let (_, done) = job(Err(Error::new(
                    ferrobase_core::error::code::INTERNAL,
                    "transaction is no longer open",
                )));
                done(None);
            }
            Msg::Begin { tx, reply } => w.transaction(tx, reply),
            Msg::End { reply, .. } => {
                let _ = reply.send(Err(Error::new(
                    ferrobase_core::error::code::INTERNAL,
                    "transaction is no longer open",
                )));
            }
            Msg::Close => break,
        }
    }
    if let Err(e) = w
        .conn
        .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")
    {
        tracing::warn!(error = %e, "checkpoint on close failed");
    }
}
