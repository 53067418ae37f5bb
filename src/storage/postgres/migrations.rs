//! PostgreSQL migrations, compiled in and applied on start under an advisory lock, so replicas
//! starting together apply each migration once.

use deadpool_postgres::Pool;

use super::{db_err, pool_err};
use crate::domain::timestamp::now_micros;
use crate::storage::StorageError;

pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../schemas/postgres/0001_init.sql")),
    (2, include_str!("../../../schemas/postgres/0002_validation.sql")),
    (3, include_str!("../../../schemas/postgres/0003_latest_hint.sql")),
    (4, include_str!("../../../schemas/postgres/0004_expressed_tlp.sql")),
    (5, include_str!("../../../schemas/postgres/0005_ids_never_reused.sql")),
];
const LOCK_KEY: i64 = 0x7461_7869_6968_7562; // "taxiihub"

pub async fn migrate(pool: &Pool) -> Result<i64, StorageError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    client.execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY]).await.map_err(db_err)?;
    let result = async {
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await
            .map_err(db_err)?;
        let current: Option<i64> =
            client.query_one("SELECT MAX(version) FROM schema_migrations", &[]).await.map_err(db_err)?.get(0);
        let mut version = current.unwrap_or(0);
        let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
        if version > latest {
            return Err(StorageError::Config(format!(
                "the database has schema version {version}, newer than this binary knows ({latest}); upgrade taxii-hub"
            )));
        }
        let from = version;
        for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
            let tx = client.transaction().await.map_err(db_err)?;
            tx.batch_execute(sql).await.map_err(db_err)?;
            tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", &[v, &now_micros()])
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            tracing::info!(version = v, "applied PostgreSQL schema migration");
            version = *v;
        }
        Ok(version)
    }
    .await;
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    result
}
