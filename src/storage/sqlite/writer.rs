//! The single SQLite writer. Jobs from all requests queue here; whatever is queued when the
//! writer wakes is committed in one transaction (group commit), each job in its own savepoint so
//! one failing job never undoes another. A job's caller hears back only once the commit is
//! durable (`durability.rs`: possibly from the sync thread, while the writer goes on).
//! WAL checkpoints are left to the checkpoint thread (`checkpoint.rs`).

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;

use tokio::sync::oneshot;

use super::checkpoint::{CheckpointSignal, CloseOnDrop};
use super::durability::{Durability, Settle};
use super::rusqlite::Connection;
use crate::domain::timestamp::{now_micros, Micros};
use crate::storage::StorageError;

/// Jobs committed together at most; bounds the latency a large queue adds to the first job.
const MAX_JOBS_PER_COMMIT: usize = 256;

/// Rows (objects) after which a batch takes no further job. A job that fills a batch alone is
/// committed alone, without a savepoint, whose journal would copy every page the job touches.
const MAX_ROWS_PER_COMMIT: usize = 1000;

/// Quiet time after which the writer does its deferred work (moving pending observables).
const IDLE_BEFORE_MAINTENANCE: std::time::Duration = std::time::Duration::from_millis(500);

pub struct WriterCtx {
    pub conn: Connection,
    pub clock: DateAddedClock,
    /// Observables appended since the last move into their index (see observables.rs).
    pub pending_observables: u64,
}

/// Hands out `date_added` values that strictly increase across the whole database, even if the
/// system clock steps back.
pub struct DateAddedClock {
    last: Micros,
}

impl DateAddedClock {
    /// The first of `n` consecutive values for one envelope, from now on: its objects are
    /// exactly one microsecond apart, so the time spent on each one (on objects a reader may not
    /// see among them too) shows in no reader's `date_added`.
    pub fn block(&mut self, n: usize) -> Micros {
        let first = now_micros().max(self.last + 1);
        self.last = first + (n.max(1) as i64) - 1;
        first
    }
}

trait Job: Send {
    /// Rows the job writes, roughly (objects of an envelope; 1 for small jobs).
    fn rows(&self) -> usize;
    /// Runs inside the open transaction; false when the job failed and its savepoint must be undone.
    fn run(&mut self, ctx: &mut WriterCtx) -> bool;
    fn finish(self: Box<Self>, committed: Result<(), StorageError>);
}

struct TypedJob<T, F> {
    rows: usize,
    op: Option<F>,
    result: Option<Result<T, StorageError>>,
    reply: oneshot::Sender<Result<T, StorageError>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&mut WriterCtx) -> Result<T, StorageError> + Send,
{
    fn rows(&self) -> usize {
        self.rows
    }

    fn run(&mut self, ctx: &mut WriterCtx) -> bool {
        let Some(op) = self.op.take() else { return false };
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| op(ctx)))
            .unwrap_or_else(|_| Err(StorageError::Database("a write operation panicked".into())));
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), StorageError>) {
        let outcome = match (committed, self.result) {
            (Ok(()), Some(r)) => r,
            (Ok(()), None) => Err(StorageError::Database("write job was not run".into())),
            (Err(e), Some(Err(own))) => Err(own).or(Err(e)),
            (Err(e), _) => Err(e),
        };
        let _ = self.reply.send(outcome);
    }
}

#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub fn start(
        conn: Connection,
        checkpoints: CheckpointSignal,
        durability: Durability,
    ) -> Result<Writer, StorageError> {
        let last: Option<i64> =
            conn.query_row("SELECT MAX(date_added) FROM objects", [], |r| r.get(0)).map_err(super::db_err)?;
        let pending_observables = super::observables::pending(&conn)?;
        let mut ctx = WriterCtx { conn, clock: DateAddedClock { last: last.unwrap_or(0) }, pending_observables };
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let checkpoints = CloseOnDrop(checkpoints);
                run(&mut ctx, jobs, &checkpoints.0, &durability)
            })
            .map_err(|e| StorageError::Database(format!("cannot start writer thread: {e}")))?;
        Ok(Writer { queue })
    }

    /// Runs `op` in the writer's transaction and resolves once it is durably committed.
    pub async fn execute<T, F>(&self, op: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterCtx) -> Result<T, StorageError> + Send + 'static,
    {
        self.execute_rows(1, op).await
    }

    /// `execute` for a job that writes about `rows` rows.
    pub async fn execute_rows<T, F>(&self, rows: usize, op: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriterCtx) -> Result<T, StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(TypedJob { rows, op: Some(op), result: None, reply });
        self.queue.send(job).map_err(|_| StorageError::Unavailable)?;
        answer.await.map_err(|_| StorageError::Unavailable)?
    }
}

/// A committed batch, answered once durable.
struct Committed(Vec<Box<dyn Job>>);

impl Settle for Committed {
    fn settle(self: Box<Self>, synced: std::io::Result<()>) {
        let synced = synced.map_err(|e| format!("the commit could not be made durable: {e}"));
        for job in self.0 {
            job.finish(synced.clone().map_err(StorageError::Database));
        }
    }
}

fn run(
    ctx: &mut WriterCtx,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    checkpoints: &CheckpointSignal,
    durability: &Durability,
) {
    loop {
        let first = match jobs.recv_timeout(IDLE_BEFORE_MAINTENANCE) {
            Ok(job) => job,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                move_observables_if_due(ctx, checkpoints, true);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                move_observables_if_due(ctx, checkpoints, true);
                return;
            }
        };
        let mut rows = first.rows();
        let mut batch = vec![first];
        while batch.len() < MAX_JOBS_PER_COMMIT && rows < MAX_ROWS_PER_COMMIT {
            match jobs.try_recv() {
                Ok(job) => {
                    rows += job.rows();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        if let Some(failure) = durability.failure() {
            fail_all(
                batch,
                &format!("writes are refused since an fsync of the database's WAL failed ({failure}); restart the hub"),
            );
            continue;
        }
        match commit_batch(ctx, &mut batch) {
            Ok(()) => {
                durability.settle(Box::new(Committed(batch)));
                checkpoints.after_commit(&ctx.conn);
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "write transaction failed");
                fail_all(batch, &e.to_string());
            }
        }
        move_observables_if_due(ctx, checkpoints, false);
    }
}

/// Answers every job of a batch that was not committed.
fn fail_all(batch: Vec<Box<dyn Job>>, why: &str) {
    for job in batch {
        job.finish(Err(StorageError::Database(why.to_string())));
    }
}

/// The writer's deferred work (observables into their index), a commit like any other.
fn move_observables_if_due(ctx: &mut WriterCtx, checkpoints: &CheckpointSignal, idle: bool) {
    if super::observables::merge_if_due(ctx, idle) {
        checkpoints.after_commit(&ctx.conn);
    }
}

fn commit_batch(ctx: &mut WriterCtx, batch: &mut [Box<dyn Job>]) -> Result<(), StorageError> {
    ctx.conn.execute_batch("BEGIN IMMEDIATE").map_err(super::db_err)?;
    let result = (|| {
        if let [only] = batch {
            // Alone in the transaction: the transaction is the job's savepoint.
            return if only.run(ctx) {
                ctx.conn.execute_batch("COMMIT").map_err(super::db_err)
            } else {
                ctx.conn.execute_batch("ROLLBACK").map_err(super::db_err)
            };
        }
        for job in batch.iter_mut() {
            ctx.conn.execute_batch("SAVEPOINT job").map_err(super::db_err)?;
            if job.run(ctx) {
                ctx.conn.execute_batch("RELEASE job").map_err(super::db_err)?;
            } else {
                ctx.conn.execute_batch("ROLLBACK TO job; RELEASE job").map_err(super::db_err)?;
            }
        }
        ctx.conn.execute_batch("COMMIT").map_err(super::db_err)
    })();
    if result.is_err() {
        let _ = ctx.conn.execute_batch("ROLLBACK");
    }
    result
}
