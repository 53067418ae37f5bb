//! Moving a hub between backends and backing it up.
//!
//! `taxii-hub migrate --from sqlite:///… --to postgres://…` copies every table — objects with
//! their sequence numbers and date_added, recipients, statuses, the audit log, accounts and
//! API keys, and the shared secrets, so `next` cursors and tokens stay valid — into an empty
//! PostgreSQL database, in one transaction, and checks the row counts.

use std::path::Path;

use rusqlite::types::Value;
use tokio_postgres::types::ToSql;

use super::postgres::PostgresStorage;
use super::{StorageError, StorageOptions};

#[derive(Clone, Copy)]
enum Kind {
    Int,
    Text,
    Bool,
    Blob,
}

use Kind::*;

/// Every table, parents first, with its columns and their types.
const TABLES: &[(&str, &[(&str, Kind)])] = &[
    ("hub_settings", &[("name", Text), ("value", Blob)]),
    (
        "organisations",
        &[("id", Int), ("name", Text), ("identity_id", Text), ("sector", Text), ("kind", Text), ("created", Int)],
    ),
    (
        "accounts",
        &[
            ("id", Int),
            ("organisation_id", Int),
            ("username", Text),
            ("password_hash", Text),
            ("role", Text),
            ("redistributes", Bool),
            ("disabled", Bool),
            ("cert_fingerprint", Text),
            ("cert_subject", Text),
            ("cert_issuer", Text),
            ("token_binding", Text),
            ("created", Int),
        ],
    ),
    ("trust_groups", &[("id", Int), ("name", Text), ("description", Text), ("created", Int)]),
    (
        "trust_group_members",
        &[("trust_group_id", Int), ("organisation_id", Int), ("can_read", Bool), ("can_write", Bool)],
    ),
    (
        "collections",
        &[
            ("key", Int),
            ("id", Text),
            ("api_root", Text),
            ("alias", Text),
            ("title", Text),
            ("description", Text),
            ("trust_group_id", Int),
            ("default_tlp", Int),
            ("custom_content", Text),
            ("unknown_marking", Text),
            ("created", Int),
        ],
    ),
    (
        "objects",
        &[
            ("seq", Int),
            ("collection_key", Int),
            ("stix_id", Text),
            ("type", Text),
            ("spec_version", Text),
            ("version", Int),
            ("versioned", Bool),
            ("date_added", Int),
            ("producer_org", Int),
            ("tlp", Int),
            ("raw", Text),
            ("has_newer", Bool),
            ("tlp_reason", Text),
        ],
    ),
    ("object_recipients", &[("object_seq", Int), ("organisation_id", Int)]),
    ("container_refs", &[("container_seq", Int), ("collection_key", Int), ("producer_org", Int), ("ref_id", Text)]),
    ("indicator_observables", &[("object_seq", Int), ("object_type", Text), ("property", Text), ("value", Text)]),
    (
        "api_keys",
        &[
            ("id", Int),
            ("account_id", Int),
            ("prefix", Text),
            ("hash", Blob),
            ("label", Text),
            ("created", Int),
            ("expires", Int),
            ("revoked", Bool),
        ],
    ),
    ("statuses", &[("id", Text), ("api_root", Text), ("account_id", Int), ("request_timestamp", Int), ("body", Text)]),
    (
        "audit_log",
        &[
            ("id", Int),
            ("at", Int),
            ("request_id", Text),
            ("account_id", Int),
            ("username", Text),
            ("organisation_id", Int),
            ("method", Text),
            ("path", Text),
            ("collection_key", Int),
            ("status", Int),
            ("object_count", Int),
            ("date_added_first", Int),
            ("date_added_last", Int),
            ("object_ids", Text),
            ("filter", Text),
            ("detail", Text),
        ],
    ),
];

/// One table read from the source: its name, its columns and its rows.
type TableSnapshot<'a> = (&'a str, &'a [(&'a str, Kind)], Vec<Vec<Value>>);

/// Serial columns whose sequences must continue after the copied ids.
const SERIALS: &[(&str, &str)] = &[
    ("organisations", "id"),
    ("accounts", "id"),
    ("trust_groups", "id"),
    ("collections", "key"),
    ("objects", "seq"),
    ("api_keys", "id"),
    ("audit_log", "id"),
];

fn convert(v: Value, kind: Kind, table: &str, column: &str) -> Result<Box<dyn ToSql + Sync + Send>, StorageError> {
    let bad = || StorageError::Database(format!("{table}.{column}: unexpected value type"));
    Ok(match (v, kind) {
        (Value::Null, Int) => Box::new(None::<i64>),
        (Value::Null, Text) => Box::new(None::<String>),
        (Value::Null, Bool) => Box::new(None::<bool>),
        (Value::Null, Blob) => Box::new(None::<Vec<u8>>),
        (Value::Integer(i), Int) => Box::new(i),
        (Value::Integer(i), Bool) => Box::new(i != 0),
        (Value::Text(t), Text) => Box::new(t),
        (Value::Blob(b), Blob) => Box::new(b),
        _ => return Err(bad()),
    })
}

/// Copies a SQLite hub into an empty PostgreSQL database; returns (table, rows) copied.
pub fn sqlite_to_postgres(
    sqlite_path: &Path,
    postgres_url: &str,
    options: &StorageOptions,
) -> Result<Vec<(String, u64)>, StorageError> {
    // A database written by an older hub is upgraded first, so its columns are the ones copied.
    {
        let mut upgrade =
            rusqlite::Connection::open_with_flags(sqlite_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
                .map_err(|e| StorageError::Config(format!("{}: {e}", sqlite_path.display())))?;
        upgrade.busy_timeout(std::time::Duration::from_secs(5)).map_err(super::sqlite::db_err)?;
        let latest = super::sqlite::migrations::latest_version();
        super::sqlite::migrations::migrate_to(&mut upgrade, latest)?;
    }
    let source = rusqlite::Connection::open_with_flags(sqlite_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StorageError::Config(format!("{}: {e}", sqlite_path.display())))?;
    let target = PostgresStorage::open(postgres_url, options)?;
    // Read everything first, under one read transaction, so the copy is a consistent snapshot.
    let mut snapshot: Vec<TableSnapshot<'_>> = Vec::new();
    source.execute_batch("BEGIN").map_err(super::sqlite::db_err)?;
    for (table, columns) in TABLES {
        let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
        // Observables still waiting for their index are copied with the indexed ones.
        let from = if *table == "indicator_observables" { "indicator_observables_all" } else { table };
        let mut stmt =
            source.prepare(&format!("SELECT {} FROM {from}", names.join(", "))).map_err(super::sqlite::db_err)?;
        let rows = stmt
            .query_map([], |r| (0..names.len()).map(|i| r.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>())
            .map_err(super::sqlite::db_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(super::sqlite::db_err)?;
        snapshot.push((table, columns, rows));
    }
    // AUTOINCREMENT's high-water marks: ids deleted at the top of a table stay used up.
    let used_up: Vec<(String, i64)> = source
        .prepare("SELECT name, seq FROM sqlite_sequence")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(super::sqlite::db_err)?;
    source.execute_batch("COMMIT").map_err(super::sqlite::db_err)?;
    target.copy_in(
        snapshot.into_iter().map(|(t, cols, rows)| {
            let converted: Result<Vec<Vec<Box<dyn ToSql + Sync + Send>>>, StorageError> = rows
                .into_iter()
                .map(|row| row.into_iter().zip(cols.iter()).map(|(v, (c, k))| convert(v, *k, t, c)).collect())
                .collect();
            (t.to_string(), cols.iter().map(|c| c.0.to_string()).collect(), converted)
        }),
        SERIALS,
        &used_up,
    )
}

/// An online, consistent copy of a SQLite hub database (the SQLite backup API).
pub fn sqlite_backup(sqlite_path: &Path, destination: &Path) -> Result<(), StorageError> {
    if destination.exists() {
        return Err(StorageError::Config(format!("{} already exists", destination.display())));
    }
    let source = rusqlite::Connection::open_with_flags(sqlite_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| StorageError::Config(format!("{}: {e}", sqlite_path.display())))?;
    source
        .backup(rusqlite::MAIN_DB, destination, None)
        .map_err(|e| StorageError::Database(format!("backup to {}: {e}", destination.display())))
}
