//! SQLite: TAXII object storage (collections as callers see them, ingest, listings, deletes, statuses).

use std::collections::HashMap;

use async_trait::async_trait;

use super::levels::{run_now, SqliteLevels, MIXED_CASE_STORED};
use super::rusqlite::{self, params, OptionalExtension};
use super::writer::WriterCtx;
use super::{db_err, SqliteStorage};
use crate::domain::effective_tlp::TlpReason;
use crate::domain::model::{
    Collection, CustomContent, Membership, Page, StatusDetail, StatusResource, StoredObject, UnknownMarking,
    VersionSharing,
};
use crate::domain::policy::ObjectVisibility;
use crate::domain::timestamp::{format_nanos, Micros};
use crate::domain::tlp::Tlp;
use crate::storage::inheritance;
use crate::storage::sql::{
    marking_definitions_sql, push_object_conditions, Dialect, Sql, COLLECTION_READERS, VERSION_SHARING,
};
use crate::storage::versions::Sibling;
use crate::storage::{DeleteOutcome, DeleteRequest, IngestBatch, ObjectQuery, ObjectStore, Projection, StorageError};

pub(super) const COLLECTION_COLUMNS: &str =
    "c.key, c.id, c.api_root, c.alias, c.title, c.description, c.trust_group_id, c.default_tlp, c.custom_content, c.unknown_marking";

pub(super) fn collection_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Collection> {
    Ok(Collection {
        key: r.get(0)?,
        id: r.get(1)?,
        api_root: r.get(2)?,
        alias: r.get(3)?,
        title: r.get(4)?,
        description: r.get(5)?,
        trust_group_id: r.get(6)?,
        default_tlp: Tlp::from_rank(r.get(7)?).unwrap_or(Tlp::Amber),
        custom_content: CustomContent::parse(&r.get::<_, String>(8)?).unwrap_or(CustomContent::Reject),
        unknown_marking: UnknownMarking::parse(&r.get::<_, String>(9)?).unwrap_or_default(),
    })
}

fn with_membership(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Collection, Option<Membership>)> {
    let collection = collection_from_row(r)?;
    let can_read: Option<bool> = r.get(10)?;
    let can_write: Option<bool> = r.get(11)?;
    Ok((collection, can_read.map(|can_read| Membership { can_read, can_write: can_write.unwrap_or(false) })))
}

fn select_with_membership() -> String {
    format!(
        "SELECT {COLLECTION_COLUMNS}, m.can_read, m.can_write FROM collections c \
         LEFT JOIN trust_group_members m ON m.trust_group_id = c.trust_group_id AND m.organisation_id = ?1"
    )
}

fn ingest(ctx: &mut WriterCtx, mut batch: IngestBatch) -> Result<StatusResource, StorageError> {
    let mut successes = Vec::with_capacity(batch.objects.len());
    let WriterCtx { conn, clock, pending_observables } = ctx;
    let (collection_key, producer_org) = (batch.collection_key, batch.producer_org);
    let mut levels = SqliteLevels { conn, collection_key, producer_org };
    let container_raised = run_now(inheritance::inherit_from_stored(&mut levels, &mut batch.objects))?;
    // Levels are final now: store the envelope least restricted first (see order_for_storage).
    crate::domain::effective_tlp::order_for_storage(&mut batch.objects);
    let mixed_case_stored: bool = levels
        .conn
        .prepare_cached(MIXED_CASE_STORED)
        .and_then(|mut s| s.query_row(params![collection_key], |r| r.get(0)))
        .map_err(db_err)?;
    let mut fresh = inheritance::Fresh::default();
    let mut inserted_seqs = std::collections::HashSet::new();
    let mut inserted_rows = Vec::with_capacity(batch.objects.len());
    {
        let conn = &*levels.conn;
        // Every stored version of the object, usually none: tells an unversioned duplicate, the
        // new row's `has_newer`, and which older rows lose their promise (see 0004_latest_hint.sql).
        let mut siblings = conn
            .prepare_cached(
                "SELECT seq, spec_version, version, versioned, producer_org, has_newer FROM objects \
                 WHERE collection_key = ?1 AND stix_id = ?2",
            )
            .map_err(db_err)?;
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO objects (collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, tlp, raw, has_newer, tlp_reason) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
            )
            .map_err(db_err)?;
        let mut lose_promise =
            conn.prepare_cached("UPDATE objects SET has_newer = 1 WHERE seq = ?1").map_err(db_err)?;
        let mut insert_recipient = conn.prepare_cached(inheritance::sql::ADD_RECIPIENT).map_err(db_err)?;
        let mut insert_container_ref = conn.prepare_cached(inheritance::sql::ADD_CONTAINER_REF).map_err(db_err)?;
        let mut insert_observable = conn
            .prepare_cached(
                "INSERT INTO indicator_observables_pending (object_seq, object_type, property, value) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(db_err)?;
        let first_date_added = clock.block(batch.objects.len());
        for (index, resolved) in batch.objects.iter().enumerate() {
            let obj = &resolved.object;
            let date_added = first_date_added + index as i64;
            let (version, versioned) = match obj.version {
                Some(v) => (v, true),
                None => (date_added * 1000, false),
            };
            let known: Vec<Sibling> = siblings
                .query_map(params![collection_key, obj.stix_id], |r| {
                    Ok(Sibling {
                        seq: r.get(0)?,
                        spec_version: r.get(1)?,
                        version: r.get(2)?,
                        versioned: r.get(3)?,
                        producer_org: r.get(4)?,
                        has_newer: r.get(5)?,
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(db_err)?;
            let stored_before = known.iter().any(|k| k.producer_org == producer_org && !inserted_seqs.contains(&k.seq));
            fresh.note(&obj.stix_id, stored_before || mixed_case_stored || container_raised);
            let duplicate = !versioned && known.iter().any(|k| k.is_unversioned_copy(&obj.spec_version, producer_org));
            let has_newer = known.iter().any(|k| k.is_later_than(&obj.spec_version, version));
            let inserted = !duplicate
                && insert
                    .execute(params![
                        collection_key,
                        obj.stix_id,
                        obj.stix_type,
                        obj.spec_version,
                        version,
                        versioned,
                        date_added,
                        producer_org,
                        resolved.level.tlp.rank(),
                        obj.raw,
                        has_newer,
                        resolved.reason.stored(),
                    ])
                    .map_err(db_err)?
                    == 1;
            if inserted {
                let seq = conn.last_insert_rowid();
                inserted_seqs.insert(seq);
                for older in known.iter().filter(|k| k.loses_promise_to(&obj.spec_version, version)) {
                    lose_promise.execute([older.seq]).map_err(db_err)?;
                }
                for org in &resolved.level.recipients {
                    insert_recipient.execute(params![seq, org]).map_err(db_err)?;
                }
                for r in &obj.marks.object_refs {
                    insert_container_ref.execute(params![seq, collection_key, producer_org, r]).map_err(db_err)?;
                }
                for o in &obj.observables {
                    insert_observable.execute(params![seq, o.object_type, o.property, o.value]).map_err(db_err)?;
                }
                *pending_observables += obj.observables.len() as u64;
            }
            inserted_rows.push(inserted);
            successes.push(StatusDetail {
                id: obj.stix_id.clone(),
                version: format_nanos(version),
                message: if inserted { resolved.status_message() } else { Some("already present".into()) },
            });
        }
    }
    run_now(inheritance::raise_stored(&mut levels, &batch.objects, &inserted_rows, &fresh))?;
    let conn = &*levels.conn;
    let status = StatusResource::complete(
        batch.status_id,
        batch.request_timestamp,
        successes,
        batch.rejected,
        batch.rejected_not_listed,
    );
    let body = serde_json::to_string(&status).map_err(|e| StorageError::Database(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO statuses (id, api_root, account_id, request_timestamp, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![status.id, batch.api_root, batch.account_id, batch.request_timestamp, body]))
    .map_err(db_err)?;
    Ok(status)
}

fn delete(ctx: &mut WriterCtx, req: DeleteRequest) -> Result<DeleteOutcome, StorageError> {
    let mut sql = Sql::default();
    let ck = sql.bind(req.collection_key);
    sql.push(&format!("SELECT o.seq, o.producer_org FROM objects o WHERE o.collection_key = {ck}"));
    push_object_conditions(&mut sql, &req.visibility, Some(&req.object_id), &req.filter);
    let matched: Vec<(i64, i64)> = {
        let mut stmt = ctx.conn.prepare(&sql.text).map_err(db_err)?;
        let rows = stmt.query_map(super::args(&sql), |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
        rows.collect::<Result<_, _>>().map_err(db_err)?
    };
    if matched.is_empty() {
        return Ok(DeleteOutcome::NotFound);
    }
    if let Some(org) = req.producer_org {
        if matched.iter().any(|(_, producer)| *producer != org) {
            return Ok(DeleteOutcome::NotProducer);
        }
    }
    let mut stmt = ctx.conn.prepare_cached("DELETE FROM objects WHERE seq = ?1").map_err(db_err)?;
    for (seq, _) in &matched {
        stmt.execute([seq]).map_err(db_err)?;
    }
    Ok(DeleteOutcome::Deleted(matched.len() as u64))
}

#[async_trait]
impl ObjectStore for SqliteStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(db_err)).await
    }

    async fn shared_secret(&self, name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StorageError> {
        let name = name.to_string();
        self.writer
            .execute(move |ctx| {
                let existing: Option<Vec<u8>> = ctx
                    .conn
                    .query_row("SELECT value FROM hub_settings WHERE name = ?1", [&name], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?;
                if let Some(v) = existing {
                    return Ok(v);
                }
                let v = make();
                ctx.conn
                    .execute("INSERT INTO hub_settings (name, value) VALUES (?1, ?2)", params![name, v])
                    .map_err(db_err)?;
                Ok(v)
            })
            .await
    }

    async fn collections(
        &self,
        api_root: &str,
        organisation_id: i64,
    ) -> Result<Vec<(Collection, Option<Membership>)>, StorageError> {
        let api_root = api_root.to_string();
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "{} WHERE c.api_root = ?2 ORDER BY c.created, c.key",
                    select_with_membership()
                ))
                .map_err(db_err)?;
            let rows = s.query_map(params![organisation_id, api_root], with_membership).map_err(db_err)?;
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
                "{} WHERE c.api_root = ?2 AND (c.id = ?3 OR c.alias = ?3) ORDER BY c.id = ?3 DESC LIMIT 1",
                select_with_membership()
            ))
            .and_then(|mut s| s.query_row(params![organisation_id, api_root, key], with_membership).optional())
            .map_err(db_err)
        })
        .await
    }

    async fn marking_definitions(
        &self,
        collection_key: i64,
        producer_org: i64,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StorageError> {
        let query = marking_definitions_sql(Dialect::Sqlite, collection_key, producer_org, ids);
        self.read(move |c| {
            let mut stmt = c.prepare(&query.text).map_err(db_err)?;
            let rows = stmt.query_map(super::args(&query), |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn collection_readers(&self, trust_group_id: i64) -> Result<HashMap<String, i64>, StorageError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(COLLECTION_READERS).map_err(db_err)?;
            let rows = stmt.query_map([trust_group_id], |r| Ok((r.get(0)?, r.get(1)?))).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn version_sharing(&self, collection_key: i64, object_id: &str) -> Result<Vec<VersionSharing>, StorageError> {
        let id = object_id.to_ascii_lowercase();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(VERSION_SHARING).map_err(db_err)?;
            let mut versions: Vec<VersionSharing> = stmt
                .query_map(params![collection_key, id], |r| {
                    let reason: Option<String> = r.get(7)?;
                    Ok(VersionSharing {
                        seq: r.get(0)?,
                        stix_id: r.get(1)?,
                        spec_version: r.get(2)?,
                        version: r.get(3)?,
                        date_added: r.get(4)?,
                        producer_org: r.get(5)?,
                        tlp: Tlp::from_rank(r.get(6)?).unwrap_or(Tlp::Red),
                        reason: TlpReason::from_stored(reason.as_deref()),
                        recipients: Vec::new(),
                    })
                })
                .and_then(|rows| rows.collect())
                .map_err(db_err)?;
            let mut recipients = c.prepare_cached(inheritance::sql::RECIPIENTS_OF).map_err(db_err)?;
            for v in versions.iter_mut().filter(|v| v.tlp == Tlp::Red) {
                v.recipients =
                    recipients.query_map([v.seq], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(db_err)?;
            }
            Ok(versions)
        })
        .await
    }

    async fn add_objects(&self, batch: IngestBatch) -> Result<StatusResource, StorageError> {
        self.writer.execute_rows(batch.objects.len().max(1), move |ctx| ingest(ctx, batch)).await
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
                .query_map(super::args(&sql), |r| {
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

    async fn object_visible(
        &self,
        collection_key: i64,
        visibility: &ObjectVisibility,
        object_id: &str,
    ) -> Result<bool, StorageError> {
        let (vis, id) = (visibility.clone(), object_id.to_string());
        self.read(move |c| {
            let mut sql = Sql::default();
            let ck = sql.bind(collection_key);
            let idp = sql.bind(id);
            let pred = sql.visibility(&vis, "o");
            sql.push(&format!(
                "SELECT EXISTS (SELECT 1 FROM objects o WHERE o.collection_key = {ck} AND o.stix_id = {idp} AND {pred})"
            ));
            c.prepare_cached(&sql.text).and_then(|mut s| s.query_row(super::args(&sql), |r| r.get(0))).map_err(db_err)
        })
        .await
    }

    async fn delete_object(&self, req: DeleteRequest) -> Result<DeleteOutcome, StorageError> {
        self.writer.execute(move |ctx| delete(ctx, req)).await
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
                let n =
                    ctx.conn.execute("DELETE FROM statuses WHERE request_timestamp < ?1", [before]).map_err(db_err)?;
                Ok(n as u64)
            })
            .await
    }
}
