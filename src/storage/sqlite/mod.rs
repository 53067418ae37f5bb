//! SQLite storage: WAL, one writer thread with group commit, a pool of readers.

mod audit;
mod checkpoint;
mod directory;
mod durability;
mod levels;
pub mod migrations;
mod objects;
mod observables;
mod writer;

pub use r2d2_sqlite::rusqlite;

use std::path::{Path, PathBuf};

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};

use self::writer::Writer;
use super::{StorageError, StorageOptions};

/// The builder's parameters as rusqlite values.
pub(crate) fn args(sql: &crate::storage::sql::Sql) -> rusqlite::ParamsFromIter<Vec<rusqlite::types::Value>> {
    use crate::storage::sql::SqlArg;
    rusqlite::params_from_iter(
        sql.params
            .iter()
            .map(|a| match a {
                SqlArg::Int(i) => rusqlite::types::Value::Integer(*i),
                SqlArg::Text(t) => rusqlite::types::Value::Text(t.clone()),
            })
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            let detail = msg.clone().unwrap_or_default();
            return StorageError::Conflict(format!("conflicts with an existing record ({detail})"));
        }
    }
    StorageError::Database(e.to_string())
}

pub struct SqliteStorage {
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// One permit per reader connection: requests beyond that wait here, as futures, rather
    /// than as blocked threads (each with its own stack and allocator cache) waiting on the pool.
    read_permits: std::sync::Arc<tokio::sync::Semaphore>,
    writer: Writer,
}

/// Page cache per connection, in KiB. Readers share the OS page cache for the rest, so memory
/// stays flat as the database grows (no mmap: mapped pages would count in the hub's RSS).
fn reader_pragmas(cache_kib: u32) -> String {
    format!(
        "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; PRAGMA cache_size = -{cache_kib}; PRAGMA mmap_size = 0;"
    )
}

impl SqliteStorage {
    pub fn open(path: &Path, options: &StorageOptions) -> Result<SqliteStorage, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let configured = match options.sqlite_synchronous.to_ascii_lowercase().as_str() {
            "full" => "FULL",
            "normal" => "NORMAL",
            "extra" => "EXTRA",
            other => {
                return Err(StorageError::Config(format!(
                    "storage.sqlite_synchronous '{other}': use full, normal or extra"
                )))
            }
        };
        let mut conn = Connection::open(path).map_err(db_err)?;
        // `full` is kept by syncing the WAL on the sync thread before callers hear back, so the
        // writer's own connection runs `normal` (durability.rs).
        let journal: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).map_err(db_err)?;
        let sync_behind_wal_of = conn
            .path()
            .filter(|p| configured == "FULL" && journal.eq_ignore_ascii_case("wal") && !p.is_empty())
            .map(PathBuf::from);
        let synchronous = if sync_behind_wal_of.is_some() { "NORMAL" } else { configured };
        conn.execute_batch(&format!(
            "PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000; PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY; \
             PRAGMA wal_autocheckpoint = 0;",
            options.sqlite_cache_kib.max(1024) * 4
        ))
        .map_err(db_err)?;
        // The writer's observable moves compute keys in SQL (migrations register it as well).
        observables::register_key_function(&conn)?;
        migrations::migrate_to(&mut conn, migrations::latest_version())?;
        conn.set_prepared_statement_cache_capacity(64);
        let manager = SqliteConnectionManager::file(path)
            .with_flags(
                OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
            )
            .with_init({
                let pragmas = reader_pragmas(options.sqlite_cache_kib.max(1024));
                move |c| {
                    c.set_prepared_statement_cache_capacity(64);
                    c.execute_batch(&pragmas)
                }
            });
        let readers = r2d2::Pool::builder()
            .max_size(options.reader_pool_size.max(1))
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| StorageError::Database(format!("cannot open reader pool: {e}")))?;
        let checkpoints = checkpoint::start(path, synchronous)?;
        let durability = match sync_behind_wal_of {
            Some(db) => durability::Durability::sync_behind(db)
                .map_err(|e| StorageError::Database(format!("cannot start the WAL sync thread: {e}")))?,
            None => durability::Durability::InCommit,
        };
        let writer = Writer::start(conn, checkpoints, durability)?;
        let read_permits = std::sync::Arc::new(tokio::sync::Semaphore::new(options.reader_pool_size.max(1) as usize));
        Ok(SqliteStorage { readers, read_permits, writer })
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let pool = self.readers.clone();
        let permit = self.read_permits.clone().acquire_owned().await.map_err(|_| StorageError::Unavailable)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = pool.get().map_err(|e| StorageError::Database(format!("no reader connection: {e}")))?;
            f(&conn)
        })
        .await
        .map_err(|e| StorageError::Database(format!("reader task failed: {e}")))?
    }

    /// Runs `f` on the writer connection, inside the writer's transaction.
    async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        self.writer.execute(move |ctx| f(&ctx.conn)).await
    }
}
