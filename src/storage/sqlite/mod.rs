//! SQLite storage: WAL, one writer thread with group commit, a pool of readers.

pub mod migrations;
mod query;
mod writer;

pub use r2d2_sqlite::rusqlite;

use std::path::Path;

use async_trait::async_trait;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use self::query::{push_object_conditions, Sql};
use self::writer::{Writer, WriterCtx};
use super::{DeleteRequest, IngestBatch, ObjectQuery, Projection, Storage, StorageError, StorageOptions};
use crate::domain::model::{
    AccountRecord, Collection, Membership, NewAccount, NewCollection, NewOrganisation, Page, Role, StatusDetail,
    StatusResource, StoredObject,
};
use crate::domain::policy::ObjectVisibility;
use crate::domain::timestamp::{format_nanos, now_micros, Micros};

pub(crate) fn db_err(e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e {
        if f.code == rusqlite::ErrorCode::ConstraintViolation {
            return StorageError::Conflict(msg.clone().unwrap_or_else(|| "a record".into()));
        }
    }
    StorageError::Database(e.to_string())
}

pub struct SqliteStorage {
    readers: r2d2::Pool<SqliteConnectionManager>,
    writer: Writer,
}

const READER_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; PRAGMA cache_size = -32000; PRAGMA mmap_size = 268435456;";

impl SqliteStorage {
    pub fn open(path: &Path, options: &StorageOptions) -> Result<SqliteStorage, StorageError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Config(format!("cannot create {}: {e}", dir.display())))?;
        }
        let synchronous = match options.sqlite_synchronous.to_ascii_lowercase().as_str() {
            "full" => "FULL",
            "normal" => "NORMAL",
            "extra" => "EXTRA",
            other => return Err(StorageError::Config(format!("storage.sqlite_synchronous '{other}': use full, normal or extra"))),
        };
        let mut conn = Connection::open(path).map_err(db_err)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000; PRAGMA cache_size = -32000;"
        ))
        .map_err(db_err)?;
        migrations::migrate_to(&mut conn, migrations::latest_version())?;
        conn.set_prepared_statement_cache_capacity(64);
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI)
            .with_init(|c| {
                c.set_prepared_statement_cache_capacity(64);
                c.execute_batch(READER_PRAGMAS)
            });
        let readers = r2d2::Pool::builder()
            .max_size(options.reader_pool_size.max(1))
            .min_idle(Some(1))
            .build(manager)
            .map_err(|e| StorageError::Database(format!("cannot open reader pool: {e}")))?;
        let writer = Writer::start(conn)?;
        Ok(SqliteStorage { readers, writer })
    }

    async fn read<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StorageError> + Send + 'static,
    {
        let pool = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get().map_err(|e| StorageError::Database(format!("no reader connection: {e}")))?;
            f(&conn)
        })
        .await
        .map_err(|e| StorageError::Database(format!("reader task failed: {e}")))?
    }
}

fn collection_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Collection, Option<Membership>)> {
    let collection = Collection {
        key: r.get(0)?,
        id: r.get(1)?,
        api_root: r.get(2)?,
        alias: r.get(3)?,
        title: r.get(4)?,
        description: r.get(5)?,
        trust_group_id: r.get(6)?,
    };
    let can_read: Option<bool> = r.get(7)?;
    let can_write: Option<bool> = r.get(8)?;
    let membership = can_read.map(|can_read| Membership { can_read, can_write: can_write.unwrap_or(false) });
    Ok((collection, membership))
}

const COLLECTION_SELECT: &str = "SELECT c.key, c.id, c.api_root, c.alias, c.title, c.description, c.trust_group_id, \
     m.can_read, m.can_write FROM collections c \
     LEFT JOIN trust_group_members m ON m.trust_group_id = c.trust_group_id AND m.organisation_id = ?1";

fn ingest(ctx: &mut WriterCtx, batch: IngestBatch) -> Result<StatusResource, StorageError> {
    let mut successes = Vec::with_capacity(batch.objects.len());
    {
        let WriterCtx { conn, clock } = ctx;
        let mut existing_unversioned = conn
            .prepare_cached(
                "SELECT 1 FROM objects WHERE collection_key = ?1 AND stix_id = ?2 AND spec_version = ?3 AND versioned = 0 LIMIT 1",
            )
            .map_err(db_err)?;
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO objects (collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, tlp, raw) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
            )
            .map_err(db_err)?;
        for obj in &batch.objects {
            let date_added = clock.next();
            let (version, versioned) = match obj.version {
                Some(v) => (v, true),
                None => (date_added * 1000, false),
            };
            let duplicate = if versioned {
                false
            } else {
                existing_unversioned
                    .exists(params![batch.collection_key, obj.stix_id, obj.spec_version])
                    .map_err(db_err)?
            };
            let inserted = !duplicate
                && insert
                    .execute(params![
                        batch.collection_key,
                        obj.stix_id,
                        obj.stix_type,
                        obj.spec_version,
                        version,
                        versioned,
                        date_added,
                        batch.producer_org,
                        0i64,
                        obj.raw
                    ])
                    .map_err(db_err)?
                    == 1;
            successes.push(StatusDetail {
                id: obj.stix_id.clone(),
                version: format_nanos(version),
                message: if inserted { None } else { Some("already present".into()) },
            });
        }
    }
    let status = StatusResource::complete(batch.status_id, batch.request_timestamp, successes, batch.rejected);
    let body = serde_json::to_string(&status).map_err(|e| StorageError::Database(e.to_string()))?;
    ctx.conn
        .prepare_cached("INSERT INTO statuses (id, api_root, account_id, request_timestamp, body) VALUES (?1, ?2, ?3, ?4, ?5)")
        .and_then(|mut s| s.execute(params![status.id, batch.api_root, batch.account_id, batch.request_timestamp, body]))
        .map_err(db_err)?;
    Ok(status)
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err)).await
    }

    async fn cursor_secret(&self) -> Result<[u8; 32], StorageError> {
        self.writer
            .execute(|ctx| {
                let existing: Option<Vec<u8>> = ctx
                    .conn
                    .query_row("SELECT value FROM hub_settings WHERE name = 'cursor_secret'", [], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                let secret: [u8; 32] = match existing.and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok()) {
                    Some(s) => s,
                    None => {
                        let s: [u8; 32] = rand::random();
                        ctx.conn
                            .execute(
                                "INSERT OR REPLACE INTO hub_settings (name, value) VALUES ('cursor_secret', ?1)",
                                [s.to_vec()],
                            )
                            .map_err(db_err)?;
                        s
                    }
                };
                Ok(secret)
            })
            .await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>, StorageError> {
        let username = username.to_string();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT id, username, organisation_id, role, redistributes, disabled, password_hash FROM accounts WHERE username = ?1",
            )
            .and_then(|mut s| {
                s.query_row([username], |r| {
                    let role: String = r.get(3)?;
                    Ok(AccountRecord {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        organisation_id: r.get(2)?,
                        role: Role::parse(&role).unwrap_or(Role::Reader),
                        redistributes: r.get(4)?,
                        disabled: r.get(5)?,
                        password_hash: r.get(6)?,
                    })
                })
                .optional()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn create_organisation(&self, org: NewOrganisation) -> Result<i64, StorageError> {
        self.writer
            .execute(move |ctx| {
                let identity = org.identity_id.unwrap_or_else(|| format!("identity--{}", uuid::Uuid::new_v4()));
                ctx.conn
                    .execute(
                        "INSERT INTO organisations (name, identity_id, sector, kind, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![org.name, identity, org.sector, org.kind.as_str(), now_micros()],
                    )
                    .map_err(db_err)?;
                Ok(ctx.conn.last_insert_rowid())
            })
            .await
    }

    async fn organisation_by_name(&self, name: &str) -> Result<Option<i64>, StorageError> {
        let name = name.to_string();
        self.read(move |c| {
            c.query_row("SELECT id FROM organisations WHERE name = ?1", [name], |r| r.get(0))
                .optional()
                .map_err(db_err)
        })
        .await
    }

    async fn create_account(&self, a: NewAccount) -> Result<i64, StorageError> {
        self.writer
            .execute(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO accounts (organisation_id, username, password_hash, role, redistributes, created) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![a.organisation_id, a.username, a.password_hash, a.role.as_str(), a.redistributes, now_micros()],
                    )
                    .map_err(db_err)?;
                Ok(ctx.conn.last_insert_rowid())
            })
            .await
    }

    async fn create_trust_group(&self, name: &str, description: Option<&str>) -> Result<i64, StorageError> {
        let (name, description) = (name.to_string(), description.map(str::to_string));
        self.writer
            .execute(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO trust_groups (name, description, created) VALUES (?1, ?2, ?3)",
                        params![name, description, now_micros()],
                    )
                    .map_err(db_err)?;
                Ok(ctx.conn.last_insert_rowid())
            })
            .await
    }

    async fn set_membership(&self, trust_group_id: i64, organisation_id: i64, m: Membership) -> Result<(), StorageError> {
        self.writer
            .execute(move |ctx| {
                ctx.conn
                    .execute(
                        "INSERT INTO trust_group_members (trust_group_id, organisation_id, can_read, can_write) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (trust_group_id, organisation_id) DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write",
                        params![trust_group_id, organisation_id, m.can_read, m.can_write],
                    )
                    .map_err(db_err)?;
                Ok(())
            })
            .await
    }

    async fn create_collection(&self, c: NewCollection) -> Result<Collection, StorageError> {
        self.writer
            .execute(move |ctx| {
                let id = c.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                ctx.conn
                    .execute(
                        "INSERT INTO collections (id, api_root, alias, title, description, trust_group_id, created) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        params![id, c.api_root, c.alias, c.title, c.description, c.trust_group_id, now_micros()],
                    )
                    .map_err(db_err)?;
                Ok(Collection {
                    key: ctx.conn.last_insert_rowid(),
                    id,
                    api_root: c.api_root,
                    alias: c.alias,
                    title: c.title,
                    description: c.description,
                    trust_group_id: c.trust_group_id,
                })
            })
            .await
    }

    async fn collections(&self, api_root: &str, organisation_id: i64) -> Result<Vec<(Collection, Option<Membership>)>, StorageError> {
        let api_root = api_root.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!("{COLLECTION_SELECT} WHERE c.api_root = ?2 ORDER BY c.created, c.key"))
                .map_err(db_err)?;
            let rows = s.query_map(params![organisation_id, api_root], collection_from_row).map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }

    async fn collection(
        &self,
        api_root: &str,
        id_or_alias: &str,
        organisation_id: i64,
    ) -> Result<Option<(Collection, Option<Membership>)>, StorageError> {
        let (api_root, key) = (api_root.to_string(), id_or_alias.to_string());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "{COLLECTION_SELECT} WHERE c.api_root = ?2 AND (c.id = ?3 OR c.alias = ?3) ORDER BY c.id = ?3 DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row(params![organisation_id, api_root, key], collection_from_row).optional())
            .map_err(db_err)
        })
        .await
    }

    async fn add_objects(&self, batch: IngestBatch) -> Result<StatusResource, StorageError> {
        self.writer.execute(move |ctx| ingest(ctx, batch)).await
    }

    async fn list_objects(&self, q: ObjectQuery) -> Result<Page<StoredObject>, StorageError> {
        self.read(move |c| {
            let mut sql = Sql::default();
            let columns = match q.projection {
                Projection::Full => "o.seq, o.stix_id, o.date_added, o.version, o.spec_version, o.raw",
                Projection::Metadata => "o.seq, o.stix_id, o.date_added, o.version, o.spec_version, NULL",
            };
            let ck = sql.bind(q.collection_key);
            sql.push(&format!("SELECT {columns} FROM objects o WHERE o.collection_key = {ck}"));
            if let Some(pos) = q.after {
                let da = sql.bind(pos.date_added);
                let seq = sql.bind(pos.seq);
                sql.push(&format!(" AND (o.date_added > {da} OR (o.date_added = {da} AND o.seq > {seq}))"));
            }
            push_object_conditions(&mut sql, &q.visibility, q.object_id.as_deref(), &q.filter);
            let limit = sql.bind(q.limit as i64 + 1);
            sql.push(&format!(" ORDER BY o.date_added, o.seq LIMIT {limit}"));
            let mut stmt = c.prepare_cached(&sql.text).map_err(db_err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
                    Ok(StoredObject {
                        seq: r.get(0)?,
                        stix_id: r.get(1)?,
                        date_added: r.get(2)?,
                        version: r.get(3)?,
                        spec_version: r.get(4)?,
                        raw: r.get(5)?,
                    })
                })
                .map_err(db_err)?;
            let mut items = rows.collect::<Result<Vec<_>, _>>().map_err(db_err)?;
            let more = items.len() > q.limit;
            items.truncate(q.limit);
            Ok(Page { items, more })
        })
        .await
    }

    async fn object_visible(&self, collection_key: i64, visibility: &ObjectVisibility, object_id: &str) -> Result<bool, StorageError> {
        let (vis, id) = (visibility.clone(), object_id.to_string());
        self.read(move |c| {
            let mut sql = Sql::default();
            let ck = sql.bind(collection_key);
            let idp = sql.bind(id);
            let pred = sql.visibility(&vis, "o");
            sql.push(&format!(
                "SELECT EXISTS (SELECT 1 FROM objects o WHERE o.collection_key = {ck} AND o.stix_id = {idp} AND {pred})"
            ));
            c.prepare_cached(&sql.text)
                .and_then(|mut s| s.query_row(rusqlite::params_from_iter(sql.params.iter()), |r| r.get(0)))
                .map_err(db_err)
        })
        .await
    }

    async fn delete_object(&self, req: DeleteRequest) -> Result<u64, StorageError> {
        self.writer
            .execute(move |ctx| {
                let mut sql = Sql::default();
                let ck = sql.bind(req.collection_key);
                sql.push(&format!(
                    "DELETE FROM objects WHERE seq IN (SELECT o.seq FROM objects o WHERE o.collection_key = {ck}"
                ));
                push_object_conditions(&mut sql, &req.visibility, Some(&req.object_id), &req.filter);
                sql.push(")");
                let n = ctx
                    .conn
                    .execute(&sql.text, rusqlite::params_from_iter(sql.params.iter()))
                    .map_err(db_err)?;
                Ok(n as u64)
            })
            .await
    }

    async fn status(&self, api_root: &str, status_id: &str, account_id: i64) -> Result<Option<String>, StorageError> {
        let (api_root, id) = (api_root.to_string(), status_id.to_string());
        self.read(move |c| {
            c.prepare_cached("SELECT body FROM statuses WHERE id = ?1 AND api_root = ?2 AND account_id = ?3")
                .and_then(|mut s| s.query_row(params![id, api_root, account_id], |r| r.get(0)).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn purge_statuses(&self, before: Micros) -> Result<u64, StorageError> {
        self.writer
            .execute(move |ctx| {
                let n = ctx
                    .conn
                    .execute("DELETE FROM statuses WHERE request_timestamp < ?1", [before])
                    .map_err(db_err)?;
                Ok(n as u64)
            })
            .await
    }
}
