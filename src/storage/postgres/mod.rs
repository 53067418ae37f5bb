//! PostgreSQL storage, for several stateless hub replicas sharing one database.
//!
//! Runs on its own multi-threaded tokio runtime (the HTTP workers each have a single-threaded
//! one), with a deadpool of tokio-postgres connections, optionally over TLS (rustls).

mod audit;
mod directory;
mod levels;
mod migrations;
mod objects;

use std::future::Future;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;

use super::sql::{Sql, SqlArg};
use super::{StorageError, StorageOptions};

pub struct PostgresStorage {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StorageError {
    if let Some(db) = e.as_db_error() {
        // 23505 unique_violation, 23503 foreign_key_violation, 23514 check_violation
        if matches!(db.code().code(), "23505" | "23503" | "23514") {
            return StorageError::Conflict(format!("conflicts with an existing record ({})", db.message()));
        }
        return StorageError::Database(format!("{}: {}", db.code().code(), db.message()));
    }
    StorageError::Database(e.to_string())
}

pub(crate) fn pool_err(e: deadpool_postgres::PoolError) -> StorageError {
    StorageError::Database(format!("no PostgreSQL connection: {e}"))
}

/// The builder's parameters as tokio-postgres values.
pub(crate) fn args(sql: &Sql) -> Vec<Box<dyn ToSql + Sync + Send>> {
    sql.params
        .iter()
        .map(|a| -> Box<dyn ToSql + Sync + Send> {
            match a {
                SqlArg::Int(i) => Box::new(*i),
                SqlArg::Text(t) => Box::new(t.clone()),
            }
        })
        .collect()
}

pub(crate) fn refs(args: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a.as_ref() as &(dyn ToSql + Sync)).collect()
}

fn tls_connector(options: &StorageOptions) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StorageError> {
    let mut roots = rustls::RootCertStore::empty();
    let bundle = options.postgres_ca_file.clone().unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
    if let Ok(pem) = std::fs::read(&bundle) {
        for cert in crate::tls::load_certs(&pem).map_err(|e| StorageError::Config(e.to_string()))? {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A schema name safe to splice into SQL (letters, digits, underscore).
fn valid_schema(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !s.as_bytes()[0].is_ascii_digit()
}

impl PostgresStorage {
    pub fn open(url: &str, options: &StorageOptions) -> Result<PostgresStorage, StorageError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| StorageError::Config(format!("storage.url: {e}")))?;
        if let Some(schema) = &options.postgres_schema {
            if !valid_schema(schema) {
                return Err(StorageError::Config(format!(
                    "storage.postgres_schema '{schema}': letters, digits and _ only"
                )));
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("postgres")
            .enable_all()
            .build()
            .map_err(|e| StorageError::Config(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        // TLS when the URL asks for it (`sslmode=require`); the default `prefer` would fail hard
        // on a server whose certificate we cannot verify, so it means plain TCP here.
        let manager = if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            Manager::from_config(config, tls_connector(options)?, manager_config)
        } else {
            Manager::from_config(config, tokio_postgres::NoTls, manager_config)
        };
        let mut builder = Pool::builder(manager)
            .max_size(options.reader_pool_size.max(4) as usize * 2)
            .runtime(deadpool_postgres::Runtime::Tokio1);
        if let Some(schema) = options.postgres_schema.clone() {
            builder = builder.post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
                let schema = schema.clone();
                Box::pin(async move {
                    client
                        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {schema}; SET search_path TO {schema}"))
                        .await
                        .map_err(|e| deadpool_postgres::HookError::Message(e.to_string().into()))
                })
            }));
        }
        let pool = builder.build().map_err(|e| StorageError::Config(format!("PostgreSQL pool: {e}")))?;
        let storage = PostgresStorage { pool, runtime: Some(runtime), handle };
        // Wait on a channel rather than `block_on`, so opening also works from async code.
        let pool = storage.pool.clone();
        let (done, result) = std::sync::mpsc::channel();
        storage.handle.spawn(async move {
            let _ = done.send(migrations::migrate(&pool).await);
        });
        result.recv().map_err(|_| StorageError::Database("PostgreSQL migration task stopped".into()))??;
        Ok(storage)
    }

    /// Runs `f` on the storage's own runtime.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, StorageError>> + Send + 'static,
    {
        self.handle
            .spawn(f(self.pool.clone()))
            .await
            .map_err(|e| StorageError::Database(format!("PostgreSQL task failed: {e}")))?
    }
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Rows of one table for [`PostgresStorage::copy_in`]: name, columns, converted rows.
pub(crate) type TableCopy = (String, Vec<String>, Result<Vec<Vec<Box<dyn ToSql + Sync + Send>>>, StorageError>);

impl PostgresStorage {
    /// Copies whole tables into an empty database in one transaction, then moves the serial
    /// sequences past the copied ids and sets each collection's date_added clock.
    pub(crate) fn copy_in(
        &self,
        tables: impl Iterator<Item = TableCopy>,
        serials: &'static [(&'static str, &'static str)],
        used_up: &[(String, i64)],
    ) -> Result<Vec<(String, u64)>, StorageError> {
        let tables: Vec<TableCopy> = tables.collect();
        let used_up = used_up.to_vec();
        let pool = self.pool.clone();
        let (done, result) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let outcome = async {
                let mut client = pool.get().await.map_err(pool_err)?;
                let tx = client.transaction().await.map_err(db_err)?;
                let used: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM organisations) OR EXISTS (SELECT 1 FROM objects)", &[]).await.map_err(db_err)?.get(0);
                if used {
                    return Err(StorageError::Conflict("the PostgreSQL database already holds a hub; migrate into an empty one".into()));
                }
                // The migration made these; the copy brings the source's own values.
                tx.execute("DELETE FROM hub_settings", &[]).await.map_err(db_err)?;
                let mut counts = Vec::new();
                for (table, columns, rows) in tables {
                    let rows = rows?;
                    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
                    let stmt = tx
                        .prepare(&format!("INSERT INTO {table} ({}) VALUES ({})", columns.join(", "), placeholders.join(", ")))
                        .await
                        .map_err(db_err)?;
                    for row in &rows {
                        tx.execute(&stmt, &refs(row)).await.map_err(db_err)?;
                    }
                    counts.push((table, rows.len() as u64));
                }
                for (table, column) in serials {
                    // Past the copied ids and past ids the source used up: none comes back.
                    let floor = used_up.iter().find(|(t, _)| t == table).map_or(1, |(_, seq)| *seq);
                    tx.execute(
                        &format!("SELECT setval(pg_get_serial_sequence('{table}', '{column}'), GREATEST((SELECT MAX({column}) FROM {table}), $1::BIGINT, 1))"),
                        &[&floor],
                    )
                    .await
                    .map_err(db_err)?;
                }
                tx.execute(
                    "UPDATE collections c SET last_date_added = COALESCE((SELECT MAX(date_added) FROM objects o WHERE o.collection_key = c.key), 0)",
                    &[],
                )
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
                Ok(counts)
            }
            .await;
            let _ = done.send(outcome);
        });
        result.recv().map_err(|_| StorageError::Database("copy task stopped".into()))?
    }
}
