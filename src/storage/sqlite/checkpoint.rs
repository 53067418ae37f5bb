//! WAL checkpoints on their own thread. With SQLite's automatic checkpoint the writer copies the
//! WAL back into the database inline, every ~4 MB of commits, and everything queued behind it
//! waits (a quarter of the writer's time at 1M objects). Here the writer only appends to the WAL;
//! this thread copies it back with PASSIVE checkpoints, which run alongside the writer and
//! readers, and SQLite restarts the WAL from its beginning once a checkpoint has caught up.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::rusqlite::{Connection, OpenFlags};
use crate::storage::StorageError;

/// Shortest pause between two checkpoints while commits keep coming: pages written many times
/// in a row (index interiors) are copied once per pause rather than once per commit.
const CHECKPOINT_SPACING: Duration = Duration::from_millis(200);

/// WAL frames (pages) beyond which a checkpoint insists on catching up: it waits for readers
/// holding old snapshots (their busy timeout) instead of leaving the WAL to grow without end.
const WAL_FRAMES_BEFORE_RESTART: i64 = 65_536;

#[derive(Clone)]
pub struct CheckpointSignal {
    inner: Arc<(Mutex<SignalState>, Condvar)>,
}

#[derive(Default)]
struct SignalState {
    pending: bool,
    closed: bool,
}

impl CheckpointSignal {
    /// Called by the writer after each commit.
    pub fn committed(&self) {
        let (state, wake) = &*self.inner;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        if !s.pending {
            s.pending = true;
            wake.notify_one();
        }
    }

    fn close(&self) {
        let (state, wake) = &*self.inner;
        state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
        wake.notify_one();
    }

    /// Blocks until a commit happened since the last call; false once the writer has gone.
    fn wait(&self) -> bool {
        let (state, wake) = &*self.inner;
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        while !s.pending && !s.closed {
            s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.pending = false;
        !s.closed
    }
}

/// Closes the signal when the writer thread ends, so the checkpointer ends too.
pub struct CloseOnDrop(pub CheckpointSignal);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Starts the checkpoint thread for the database at `path`; the writer connection must have
/// `wal_autocheckpoint = 0`.
pub fn start(path: &Path, synchronous: &str) -> Result<CheckpointSignal, StorageError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .and_then(|c| {
            c.execute_batch(&format!("PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 5000;"))?;
            Ok(c)
        })
        .map_err(super::db_err)?;
    let signal = CheckpointSignal { inner: Arc::new((Mutex::new(SignalState::default()), Condvar::new())) };
    let theirs = signal.clone();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || run(&conn, &theirs))
        .map_err(|e| StorageError::Database(format!("cannot start checkpoint thread: {e}")))?;
    Ok(signal)
}

fn run(conn: &Connection, signal: &CheckpointSignal) {
    while signal.wait() {
        match checkpoint(conn, "PASSIVE") {
            Ok((_, frames)) if frames >= WAL_FRAMES_BEFORE_RESTART => {
                if let Err(e) = checkpoint(conn, "RESTART") {
                    tracing::warn!(error = %e, frames, "WAL checkpoint (restart) failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
        std::thread::sleep(CHECKPOINT_SPACING);
    }
}

/// Returns (busy, frames in the WAL).
fn checkpoint(conn: &Connection, mode: &str) -> Result<(bool, i64), super::rusqlite::Error> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| Ok((r.get::<_, i64>(0)? != 0, r.get(1)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wal_is_copied_back_and_reused_without_the_writer_checkpointing() {
        let dir = std::env::temp_dir().join(format!("taxii-hub-ckpt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db.sqlite");
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        let signal = start(&path, "FULL").unwrap();
        let _close = CloseOnDrop(signal.clone());
        let write_round = || {
            for _ in 0..50 {
                writer.execute("INSERT INTO t VALUES (randomblob(4000))", []).unwrap();
                signal.committed();
            }
        };
        write_round();
        std::thread::sleep(CHECKPOINT_SPACING * 3);
        let wal_len = std::fs::metadata(dir.join("db.sqlite-wal")).unwrap().len();
        // Everything was copied back, so the next commit starts the WAL from its beginning.
        write_round();
        std::thread::sleep(CHECKPOINT_SPACING * 3);
        let after = std::fs::metadata(dir.join("db.sqlite-wal")).unwrap().len();
        assert!(after <= wal_len + 64 * 1024, "WAL grew from {wal_len} to {after} bytes: it was not reused");
        let db_len = std::fs::metadata(&path).unwrap().len();
        assert!(db_len > 100 * 4000 * 9 / 10, "the database file holds the rows ({db_len} bytes)");
        let reader = Connection::open(&path).unwrap();
        let n: i64 = reader.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 100);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
