//! When a commit's callers hear back. With `synchronous = full` SQLite would fsync the WAL inside
//! every commit, and the writer would sit idle for that (a fifth of its time at 30k objects/s).
//! Instead the writer commits with `synchronous = normal` (no fsync in the commit; checkpoints
//! still sync) and hands the committed jobs to a sync thread, which fsyncs the WAL file and only
//! then answers them; meanwhile the writer runs the next transaction. One fsync answers every
//! commit written before it, so under load several commits share one.
//!
//! What a caller is told is unchanged: an answer means the commit is on disk. What changes is
//! that readers may see a commit a moment (one fsync) before it is durable; after a power loss
//! such a commit is gone, but nobody was told it was stored, and a retry stores it again.
//!
//! A failed fsync is final: the kernel may have dropped the pages it could not write and report
//! the next fsync as a success, and WAL recovery stops at the first missing frame, so nothing
//! committed after it could be promised either. The hub then refuses writes until restarted.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, OnceLock};

/// Whatever must wait for the sync: the committed jobs, answered afterwards.
pub trait Settle: Send {
    fn settle(self: Box<Self>, synced: io::Result<()>);
}

/// How the writer's commits become durable before their callers hear back.
pub enum Durability {
    /// SQLite syncs inside the commit (or, with `synchronous = normal`, not at all).
    InCommit,
    /// A sync thread fsyncs the WAL after the commit (see the module comment).
    SyncBehind { queue: mpsc::Sender<Box<dyn Settle>>, failed: Arc<OnceLock<String>> },
}

impl Durability {
    /// Starts the sync thread for the WAL of the database file `db_path`.
    pub fn sync_behind(db_path: PathBuf) -> io::Result<Durability> {
        let mut wal = WalFile { path: wal_path(db_path), open: None };
        Self::sync_behind_with(move || wal.sync())
    }

    /// `sync_behind` with the sync itself given (tests hold it to watch the ordering).
    pub fn sync_behind_with(mut sync: impl FnMut() -> io::Result<()> + Send + 'static) -> io::Result<Durability> {
        let (queue, committed) = mpsc::channel::<Box<dyn Settle>>();
        let failed = Arc::new(OnceLock::<String>::new());
        let record = failed.clone();
        std::thread::Builder::new().name("sqlite-sync".into()).spawn(move || {
            while let Ok(first) = committed.recv() {
                let mut waiting = vec![first];
                waiting.extend(committed.try_iter());
                let synced = match record.get() {
                    Some(earlier) => Err(earlier.clone()),
                    None => sync().map_err(|e| {
                        tracing::error!(error = %e, "fsync of the SQLite WAL failed; writes are refused until the hub restarts");
                        record.get_or_init(|| e.to_string()).clone()
                    }),
                };
                for w in waiting {
                    w.settle(synced.clone().map_err(io::Error::other));
                }
            }
        })?;
        Ok(Durability::SyncBehind { queue, failed })
    }

    /// Why writes are refused: an earlier fsync of the WAL failed.
    pub fn failure(&self) -> Option<String> {
        match self {
            Durability::InCommit => None,
            Durability::SyncBehind { failed, .. } => failed.get().cloned(),
        }
    }

    /// Answers `committed` once it is durable: now, or after the sync thread's next fsync.
    pub fn settle(&self, committed: Box<dyn Settle>) {
        match self {
            Durability::InCommit => committed.settle(Ok(())),
            Durability::SyncBehind { queue, .. } => {
                if let Err(mpsc::SendError(committed)) = queue.send(committed) {
                    committed.settle(Err(io::Error::other("the WAL sync thread has stopped")));
                }
            }
        }
    }
}

fn wal_path(db_path: PathBuf) -> PathBuf {
    let mut name = db_path.into_os_string();
    name.push("-wal");
    PathBuf::from(name)
}

/// The WAL file, kept open between syncs; reopened if SQLite ever replaced it (it deletes the
/// WAL only when the last connection closes, after copying it all into the database).
struct WalFile {
    path: PathBuf,
    open: Option<(File, u64)>,
}

impl WalFile {
    fn sync(&mut self) -> io::Result<()> {
        let inode = std::fs::metadata(&self.path)?.ino();
        if self.open.as_ref().is_none_or(|(_, ino)| *ino != inode) {
            self.open = Some((File::open(&self.path)?, inode));
        }
        self.open.as_ref().expect("just opened").0.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    struct Reply(mpsc::Sender<io::Result<()>>);
    impl Settle for Reply {
        fn settle(self: Box<Self>, synced: io::Result<()>) {
            let _ = self.0.send(synced);
        }
    }

    #[test]
    fn nobody_hears_back_before_the_sync_has_finished() {
        // The sync blocks until the test releases it.
        let (release, gate) = mpsc::channel::<io::Result<()>>();
        let gate = Mutex::new(gate);
        let syncs = Arc::new(Mutex::new(0));
        let counted = syncs.clone();
        let durability = Durability::sync_behind_with(move || {
            *counted.lock().unwrap() += 1;
            gate.lock().unwrap().recv().unwrap()
        })
        .unwrap();
        let (reply, answers) = mpsc::channel();
        durability.settle(Box::new(Reply(reply.clone())));
        assert!(answers.recv_timeout(Duration::from_millis(200)).is_err(), "answered before the sync returned");
        // Commits arriving while a sync runs wait for the next one, which covers them all.
        durability.settle(Box::new(Reply(reply.clone())));
        durability.settle(Box::new(Reply(reply)));
        release.send(Ok(())).unwrap();
        assert!(answers.recv_timeout(Duration::from_secs(5)).unwrap().is_ok());
        assert!(answers.recv_timeout(Duration::from_millis(200)).is_err(), "answered before the second sync");
        release.send(Err(io::Error::other("disk gone"))).unwrap();
        for _ in 0..2 {
            assert!(
                answers.recv_timeout(Duration::from_secs(5)).unwrap().is_err(),
                "a failed sync must fail its commits"
            );
        }
        assert_eq!(*syncs.lock().unwrap(), 2);
    }

    #[test]
    fn the_wal_file_is_synced_and_reopened_when_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.db");
        let mut wal = WalFile { path: wal_path(db.clone()), open: None };
        assert!(wal.sync().is_err(), "no WAL yet");
        std::fs::write(dir.path().join("hub.db-wal"), b"frames").unwrap();
        wal.sync().unwrap();
        let first = wal.open.as_ref().unwrap().1;
        std::fs::remove_file(dir.path().join("hub.db-wal")).unwrap();
        std::fs::write(dir.path().join("hub.db-wal"), b"new frames").unwrap();
        wal.sync().unwrap();
        assert_ne!(wal.open.as_ref().unwrap().1, first);
    }
}
