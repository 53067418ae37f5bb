//! WAL checkpoints, mostly off the writer's thread. With SQLite's automatic checkpoint the writer
//! copies the WAL back into the database inline, every ~4 MB of commits, and everything queued
//! behind it waits (a quarter of the writer's time at 1M objects). Here a checkpoint thread copies
//! the bulk with PASSIVE checkpoints, alongside the writer and readers. A PASSIVE checkpoint can
//! never finish while commits keep arriving, and SQLite only starts the WAL over once one has;
//! so after each bulk copy the writer, between two transactions, copies the few frames committed
//! meanwhile (`after_commit`), and its next transaction starts the WAL from its beginning.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::rusqlite::{Connection, OpenFlags};
use crate::storage::StorageError;

/// Shortest pause between two bulk copies while commits keep coming: pages written many times
/// in a row (index interiors) are copied once per pause rather than once per commit.
const CHECKPOINT_SPACING: Duration = Duration::from_millis(1000);

#[derive(Clone)]
pub struct CheckpointSignal {
    inner: Arc<Shared>,
}

struct Shared {
    state: Mutex<SignalState>,
    wake: Condvar,
    /// Set by the checkpoint thread after a bulk copy: the writer finishes it after its next commit.
    bulk_copied: AtomicBool,
}

#[derive(Default)]
struct SignalState {
    pending: bool,
    closed: bool,
}

impl CheckpointSignal {
    fn new() -> Self {
        CheckpointSignal {
            inner: Arc::new(Shared {
                state: Mutex::new(SignalState::default()),
                wake: Condvar::new(),
                bulk_copied: AtomicBool::new(false),
            }),
        }
    }

    /// Called by the writer, on its own connection, after each commit.
    pub fn after_commit(&self, writer: &Connection) {
        if self.inner.bulk_copied.swap(false, Ordering::AcqRel) {
            if let Err(e) = checkpoint(writer) {
                tracing::warn!(error = %e, "WAL checkpoint (writer's share) failed");
            }
        }
        let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.pending {
            s.pending = true;
            self.inner.wake.notify_one();
        }
    }

    fn close(&self) {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        self.inner.wake.notify_one();
    }

    /// Blocks until a commit happened since the last call; false once the writer has gone.
    fn wait(&self) -> bool {
        let mut s = self.inner.state.lock().unwrap_or_else(|p| p.into_inner());
        while !s.pending && !s.closed {
            s = self.inner.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.pending = false;
        !s.closed
    }
}

/// Closes the signal when the writer thread ends, so the checkpoint thread ends too.
pub struct CloseOnDrop(pub CheckpointSignal);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Starts the checkpoint thread for the database at `path`; the writer connection must have
/// `wal_autocheckpoint = 0` and call `after_commit`.
pub fn start(path: &Path, synchronous: &str) -> Result<CheckpointSignal, StorageError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .and_then(|c| {
            c.execute_batch(&format!("PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 5000;"))?;
            Ok(c)
        })
        .map_err(super::db_err)?;
    let signal = CheckpointSignal::new();
    let theirs = signal.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || run(&conn, &theirs))
        .map_err(|e| StorageError::Database(format!("cannot start checkpoint thread: {e}")))?;
    Ok(signal)
}

fn run(conn: &Connection, signal: &CheckpointSignal) {
    while signal.wait() {
        match checkpoint(conn) {
            Ok(()) => signal.inner.bulk_copied.store(true, Ordering::Release),
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        std::thread::sleep(CHECKPOINT_SPACING);
    }
}

fn checkpoint(conn: &Connection) -> Result<(), super::rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_starts_over_while_commits_keep_coming() {
        let dir = std::env::temp_dir().join(format!("taxii-hub-ckpt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        let signal = start(&path, "OFF").unwrap();
        let _close = CloseOnDrop(signal.clone());
        // Commit without a pause for a while: a checkpoint running alongside never catches up alone.
        let began = std::time::Instant::now();
        let mut rows = 0u64;
        while began.elapsed() < CHECKPOINT_SPACING * 8 {
            writer.execute("INSERT INTO t VALUES (randomblob(3000))", []).unwrap();
            signal.after_commit(&writer);
            rows += 1;
        }
        // The WAL header counts the times the WAL started over (its "checkpoint sequence").
        let header = std::fs::read(dir.join("db.sqlite-wal")).unwrap();
        let restarts = u32::from_be_bytes(header[12..16].try_into().unwrap());
        assert!(restarts >= 3, "the WAL started over {restarts} times in {} commits", rows);
        let db = std::fs::metadata(&path).unwrap().len();
        assert!(db > rows * 3000 / 2, "the database file has {db} bytes of {} rows: the WAL was not copied back", rows);
        let reader = Connection::open(&path).unwrap();
        let n: i64 = reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n as u64, rows);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
