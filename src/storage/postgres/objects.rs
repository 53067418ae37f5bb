//! PostgreSQL: TAXII object storage. Same SQL as SQLite (shared builder), `$n` placeholders.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Pool;
use tokio_postgres::Row;

use super::levels::{PgLevels, MIXED_CASE_STORED};
use super::{args, db_err, pool_err, refs, PostgresStorage};
use crate::domain::effective_tlp::TlpReason;
use crate::domain::model::{
    Collection, CustomContent, Membership, Page, StatusDetail, StatusResource, StoredObject, UnknownMarking,
    VersionSharing,
};
use crate::domain::policy::ObjectVisibility;
use crate::domain::timestamp::{format_nanos, now_micros, Micros};
use crate::domain::tlp::Tlp;
use crate::storage::inheritance;
use crate::storage::sql::{
    in_dialect, marking_definitions_sql, push_object_conditions, Dialect, Sql, COLLECTION_READERS, VERSION_SHARING,
};
use crate::storage::versions::Sibling;
use crate::storage::{DeleteOutcome, DeleteRequest, IngestBatch, ObjectQuery, ObjectStore, Projection, StorageError};

pub(super) const COLLECTION_COLUMNS: &str =
    "c.key, c.id, c.api_root, c.alias, c.title, c.description, c.trust_group_id, c.default_tlp, c.custom_content, c.unknown_marking";

pub(super) fn collection_from_row(r: &Row) -> Collection {
    Collection {
        key: r.get(0),
        id: r.get(1),
        api_root: r.get(2),
        alias: r.get(3),
        title: r.get(4),
        description: r.get(5),
        trust_group_id: r.get(6),
        default_tlp: Tlp::from_rank(r.get(7)).unwrap_or(Tlp::Amber),
        custom_content: CustomContent::parse(r.get::<_, &str>(8)).unwrap_or(CustomContent::Reject),
        unknown_marking: UnknownMarking::parse(r.get::<_, &str>(9)).unwrap_or_default(),
    }
}

fn with_membership(r: &Row) -> (Collection, Option<Membership>) {
    let can_read: Option<bool> = r.get(10);
    let can_write: Option<bool> = r.get(11);
    (collection_from_row(r), can_read.map(|can_read| Membership { can_read, can_write: can_write.unwrap_or(false) }))
}

fn select_with_membership() -> String {
    format!(
        "SELECT {COLLECTION_COLUMNS}, m.can_read, m.can_write FROM collections c \
         LEFT JOIN trust_group_members m ON m.trust_group_id = c.trust_group_id AND m.organisation_id = $1"
    )
}

/// An object of the envelope that is to be inserted: its index in the batch and its row values.
struct NewRow {
    index: usize,
    date_added: i64,
    version: i64,
    versioned: bool,
}

async fn ingest(pool: Pool, mut batch: IngestBatch) -> Result<StatusResource, StorageError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(db_err)?;
    let (collection_key, producer_org) = (batch.collection_key, batch.producer_org);
    // Reserve a block of date_added values. The row lock taken here is held until commit, so
    // writers to one collection commit in date_added order (see the schema's comment).
    let n = batch.objects.len() as i64;
    let block_end: i64 = tx
        .query_one(
            "UPDATE collections SET last_date_added = GREATEST(last_date_added + $2, $3 + $2 - 1) WHERE key = $1 RETURNING last_date_added",
            &[&collection_key, &n.max(1), &now_micros()],
        )
        .await
        .map_err(db_err)?
        .get(0);
    let mut next_date_added = block_end - n.max(1) + 1;
    let mut levels = PgLevels { tx: &tx, collection_key, producer_org };
    let container_raised = inheritance::inherit_from_stored(&mut levels, &mut batch.objects).await?;
    // Levels are final now: store the envelope least restricted first (see order_for_storage).
    crate::domain::effective_tlp::order_for_storage(&mut batch.objects);
    let mixed_case_stored: bool = tx.query_one(MIXED_CASE_STORED, &[&collection_key]).await.map_err(db_err)?.get(0);
    // Every stored version of the envelope's objects (usually none), in one query.
    let mut stored: HashMap<String, Vec<Sibling>> = HashMap::new();
    {
        let envelope_ids: Vec<&str> = batch.objects.iter().map(|o| o.object.stix_id.as_str()).collect();
        let found = tx
            .query(
                "SELECT seq, stix_id, spec_version, version, versioned, producer_org, has_newer FROM objects \
                 WHERE collection_key = $1 AND stix_id = ANY($2)",
                &[&collection_key, &envelope_ids],
            )
            .await
            .map_err(db_err)?;
        for r in found {
            stored.entry(r.get(1)).or_default().push(Sibling {
                seq: r.get(0),
                spec_version: r.get(2),
                version: r.get(3),
                versioned: r.get(4),
                producer_org: r.get(5),
                has_newer: r.get(6),
            });
        }
    }
    // The rows to insert, and per object its version and the date_added it is to be inserted
    // with (None for an unversioned object already present).
    let mut rows: Vec<NewRow> = Vec::with_capacity(batch.objects.len());
    let mut outcomes: Vec<(i64, Option<i64>)> = Vec::with_capacity(batch.objects.len());
    let mut fresh = inheritance::Fresh::default();
    for (index, resolved) in batch.objects.iter().enumerate() {
        let obj = &resolved.object;
        let stored_before =
            stored.get(&obj.stix_id).is_some_and(|known| known.iter().any(|k| k.producer_org == producer_org));
        fresh.note(&obj.stix_id, stored_before || mixed_case_stored || container_raised);
        let date_added = next_date_added;
        next_date_added += 1;
        let (version, versioned) = match obj.version {
            Some(v) => (v, true),
            None => (date_added * 1000, false),
        };
        if !versioned {
            let present = stored
                .get(&obj.stix_id)
                .is_some_and(|known| known.iter().any(|k| k.is_unversioned_copy(&obj.spec_version, producer_org)));
            if present {
                outcomes.push((version, None));
                continue;
            }
        }
        outcomes.push((version, Some(date_added)));
        rows.push(NewRow { index, date_added, version, versioned });
    }
    // One statement for the whole envelope; conflicting (already present) rows are not returned.
    let inserted: HashMap<i64, i64> = if rows.is_empty() {
        HashMap::new()
    } else {
        let object = |r: &NewRow| &batch.objects[r.index];
        let col = |f: &dyn Fn(&NewRow) -> String| rows.iter().map(f).collect::<Vec<String>>();
        let ids = col(&|r| object(r).object.stix_id.clone());
        let types = col(&|r| object(r).object.stix_type.clone());
        let specs = col(&|r| object(r).object.spec_version.clone());
        let raws = col(&|r| object(r).object.raw.clone());
        let date_added: Vec<i64> = rows.iter().map(|r| r.date_added).collect();
        let versions: Vec<i64> = rows.iter().map(|r| r.version).collect();
        let versioned: Vec<bool> = rows.iter().map(|r| r.versioned).collect();
        let tlps: Vec<i64> = rows.iter().map(|r| object(r).level.tlp.rank()).collect();
        let reasons: Vec<Option<String>> = rows.iter().map(|r| object(r).reason.stored()).collect();
        // The has_newer promise: no later version stored, none later in this envelope.
        let mut in_envelope: HashMap<&str, Vec<(&str, i64)>> = HashMap::new();
        for r in &rows {
            let o = &object(r).object;
            in_envelope.entry(o.stix_id.as_str()).or_default().push((o.spec_version.as_str(), r.version));
        }
        let has_newer: Vec<bool> = rows
            .iter()
            .map(|r| {
                let o = &object(r).object;
                let (id, spec, version) = (o.stix_id.as_str(), o.spec_version.as_str(), r.version);
                stored.get(id).is_some_and(|known| known.iter().any(|k| k.is_later_than(spec, version)))
                    || in_envelope.get(id).is_some_and(|vs| vs.iter().any(|v| *v > (spec, version)))
            })
            .collect();
        let outdated: Vec<i64> = stored
            .iter()
            .flat_map(|(id, known)| {
                let newest_here = in_envelope.get(id.as_str()).and_then(|vs| vs.iter().max().copied());
                known.iter().filter(move |k| newest_here.is_some_and(|(s, v)| k.loses_promise_to(s, v))).map(|k| k.seq)
            })
            .collect();
        if !outdated.is_empty() {
            tx.execute("UPDATE objects SET has_newer = TRUE WHERE seq = ANY($1)", &[&outdated])
                .await
                .map_err(db_err)?;
        }
        let returned = tx
            .query(
                "INSERT INTO objects (collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, tlp, raw, has_newer, tlp_reason) \
                 SELECT $1, t.stix_id, t.type, t.spec_version, t.version, t.versioned, t.date_added, $2, t.tlp, t.raw, t.has_newer, t.tlp_reason \
                 FROM UNNEST($3::text[], $4::text[], $5::text[], $6::bigint[], $7::bool[], $8::bigint[], $9::bigint[], $10::text[], $11::bool[], $12::text[]) \
                   AS t(stix_id, type, spec_version, version, versioned, date_added, tlp, raw, has_newer, tlp_reason) \
                 ON CONFLICT DO NOTHING RETURNING date_added, seq",
                &[&collection_key, &producer_org, &ids, &types, &specs, &versions, &versioned, &date_added, &tlps, &raws, &has_newer, &reasons],
            )
            .await
            .map_err(db_err)?;
        returned.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let (mut rec_seq, mut rec_org) = (Vec::new(), Vec::new());
    let (mut ref_seq, mut ref_id) = (Vec::new(), Vec::new());
    let (mut obs_seq, mut obs_type, mut obs_prop, mut obs_value) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in &rows {
        let Some(seq) = inserted.get(&row.date_added) else { continue };
        let resolved = &batch.objects[row.index];
        for org in &resolved.level.recipients {
            rec_seq.push(*seq);
            rec_org.push(*org);
        }
        for r in &resolved.object.marks.object_refs {
            ref_seq.push(*seq);
            ref_id.push(r.clone());
        }
        for o in &resolved.object.observables {
            obs_seq.push(*seq);
            obs_type.push(o.object_type.clone());
            obs_prop.push(o.property.clone());
            obs_value.push(o.value.clone());
        }
    }
    if !rec_seq.is_empty() {
        tx.execute(
            "INSERT INTO object_recipients (object_seq, organisation_id) SELECT * FROM UNNEST($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING",
            &[&rec_seq, &rec_org],
        )
        .await
        .map_err(db_err)?;
    }
    if !ref_seq.is_empty() {
        tx.execute(
            "INSERT INTO container_refs (container_seq, collection_key, producer_org, ref_id) \
             SELECT t.seq, $1, $2, t.ref_id FROM UNNEST($3::bigint[], $4::text[]) AS t(seq, ref_id)",
            &[&collection_key, &producer_org, &ref_seq, &ref_id],
        )
        .await
        .map_err(db_err)?;
    }
    if !obs_seq.is_empty() {
        tx.execute(
            "INSERT INTO indicator_observables (object_seq, object_type, property, value) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[])",
            &[&obs_seq, &obs_type, &obs_prop, &obs_value],
        )
        .await
        .map_err(db_err)?;
    }
    let was_inserted: Vec<bool> = outcomes.iter().map(|(_, d)| d.is_some_and(|d| inserted.contains_key(&d))).collect();
    inheritance::raise_stored(&mut levels, &batch.objects, &was_inserted, &fresh).await?;
    let successes = outcomes
        .into_iter()
        .zip(&batch.objects)
        .zip(&was_inserted)
        .map(|(((version, _), resolved), new)| StatusDetail {
            id: resolved.object.stix_id.clone(),
            version: format_nanos(version),
            message: if *new { resolved.status_message() } else { Some("already present".into()) },
        })
        .collect();
    let status = StatusResource::complete(
        batch.status_id,
        batch.request_timestamp,
        successes,
        batch.rejected,
        batch.rejected_not_listed,
    );
    let body = serde_json::to_string(&status).map_err(|e| StorageError::Database(e.to_string()))?;
    tx.execute(
        "INSERT INTO statuses (id, api_root, account_id, request_timestamp, body) VALUES ($1, $2, $3, $4, $5)",
        &[&status.id, &batch.api_root, &batch.account_id, &batch.request_timestamp, &body],
    )
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(status)
}

async fn delete(pool: Pool, req: DeleteRequest) -> Result<DeleteOutcome, StorageError> {
    let mut client = pool.get().await.map_err(pool_err)?;
    let tx = client.transaction().await.map_err(db_err)?;
    let mut sql = Sql::new(Dialect::Postgres);
    let ck = sql.bind(req.collection_key);
    sql.push(&format!("SELECT o.seq, o.producer_org FROM objects o WHERE o.collection_key = {ck}"));
    push_object_conditions(&mut sql, &req.visibility, Some(&req.object_id), &req.filter);
    sql.push(" FOR UPDATE");
    let a = args(&sql);
    let matched: Vec<(i64, i64)> =
        tx.query(&sql.text, &refs(&a)).await.map_err(db_err)?.iter().map(|r| (r.get(0), r.get(1))).collect();
    if matched.is_empty() {
        return Ok(DeleteOutcome::NotFound);
    }
    if let Some(org) = req.producer_org {
        if matched.iter().any(|(_, producer)| *producer != org) {
            return Ok(DeleteOutcome::NotProducer);
        }
    }
    let seqs: Vec<i64> = matched.iter().map(|(s, _)| *s).collect();
    tx.execute("DELETE FROM objects WHERE seq = ANY($1)", &[&seqs]).await.map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(DeleteOutcome::Deleted(seqs.len() as u64))
}

#[async_trait]
impl ObjectStore for PostgresStorage {
    async fn ping(&self) -> Result<(), StorageError> {
        self.run(|pool| async move {
            pool.get().await.map_err(pool_err)?.execute("SELECT 1", &[]).await.map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn shared_secret(&self, name: &str, make: fn() -> Vec<u8>) -> Result<Vec<u8>, StorageError> {
        let name = name.to_string();
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            // Two replicas starting together: the first insert wins, both read it back.
            client
                .execute(
                    "INSERT INTO hub_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &make()],
                )
                .await
                .map_err(db_err)?;
            Ok(client
                .query_one("SELECT value FROM hub_settings WHERE name = $1", &[&name])
                .await
                .map_err(db_err)?
                .get(0))
        })
        .await
    }

    async fn collections(
        &self,
        api_root: &str,
        organisation_id: i64,
    ) -> Result<Vec<(Collection, Option<Membership>)>, StorageError> {
        let api_root = api_root.to_string();
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let rows = client
                .query(
                    &format!("{} WHERE c.api_root = $2 ORDER BY c.created, c.key", select_with_membership()),
                    &[&organisation_id, &api_root],
                )
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(with_membership).collect())
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
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let row = client
                .query_opt(
                    &format!(
                        "{} WHERE c.api_root = $2 AND (c.id = $3 OR c.alias = $3) ORDER BY c.id = $3 DESC LIMIT 1",
                        select_with_membership()
                    ),
                    &[&organisation_id, &api_root, &key],
                )
                .await
                .map_err(db_err)?;
            Ok(row.as_ref().map(with_membership))
        })
        .await
    }

    async fn marking_definitions(
        &self,
        collection_key: i64,
        producer_org: i64,
        ids: &[String],
    ) -> Result<Vec<(String, String)>, StorageError> {
        let query = marking_definitions_sql(Dialect::Postgres, collection_key, producer_org, ids);
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let a = args(&query);
            let rows = client.query(&query.text, &refs(&a)).await.map_err(db_err)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }

    async fn collection_readers(&self, trust_group_id: i64) -> Result<HashMap<String, i64>, StorageError> {
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let rows = client
                .query(&in_dialect(COLLECTION_READERS, Dialect::Postgres), &[&trust_group_id])
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
        .await
    }

    async fn version_sharing(&self, collection_key: i64, object_id: &str) -> Result<Vec<VersionSharing>, StorageError> {
        let id = object_id.to_ascii_lowercase();
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let rows = client
                .query(&in_dialect(VERSION_SHARING, Dialect::Postgres), &[&collection_key, &id])
                .await
                .map_err(db_err)?;
            let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            let recipients = client
                .query("SELECT object_seq, organisation_id FROM object_recipients WHERE object_seq = ANY($1)", &[&seqs])
                .await
                .map_err(db_err)?;
            Ok(rows
                .iter()
                .map(|r| {
                    let seq: i64 = r.get(0);
                    VersionSharing {
                        seq,
                        stix_id: r.get(1),
                        spec_version: r.get(2),
                        version: r.get(3),
                        date_added: r.get(4),
                        producer_org: r.get(5),
                        tlp: Tlp::from_rank(r.get(6)).unwrap_or(Tlp::Red),
                        reason: TlpReason::from_stored(r.get::<_, Option<&str>>(7)),
                        recipients: recipients.iter().filter(|x| x.get::<_, i64>(0) == seq).map(|x| x.get(1)).collect(),
                    }
                })
                .collect())
        })
        .await
    }

    async fn add_objects(&self, batch: IngestBatch) -> Result<StatusResource, StorageError> {
        self.run(move |pool| ingest(pool, batch)).await
    }

    async fn list_objects(&self, q: ObjectQuery) -> Result<Page<StoredObject>, StorageError> {
        self.run(move |pool| async move {
            let mut sql = Sql::new(Dialect::Postgres);
            let columns = match q.projection {
                Projection::Full => "o.seq, o.stix_id, o.date_added, o.version, o.spec_version, o.raw",
                Projection::Metadata => "o.seq, o.stix_id, o.date_added, o.version, o.spec_version, NULL::text",
            };
            let ck = sql.bind(q.collection_key);
            sql.push(&format!("SELECT {columns} FROM objects o WHERE o.collection_key = {ck}"));
            if let Some(pos) = q.after {
                let da = sql.bind(pos.date_added);
                let seq = sql.bind(pos.seq);
                sql.push(&format!(" AND (o.date_added, o.seq) > ({da}, {seq})"));
            }
            push_object_conditions(&mut sql, &q.visibility, q.object_id.as_deref(), &q.filter);
            let limit = sql.bind(q.limit as i64 + 1);
            sql.push(&format!(" ORDER BY o.date_added, o.seq LIMIT {limit}"));
            let client = pool.get().await.map_err(pool_err)?;
            let stmt = client.prepare_cached(&sql.text).await.map_err(db_err)?;
            let a = args(&sql);
            let rows = client.query(&stmt, &refs(&a)).await.map_err(db_err)?;
            let mut items: Vec<StoredObject> = rows
                .iter()
                .map(|r| StoredObject {
                    seq: r.get(0),
                    stix_id: r.get(1),
                    date_added: r.get(2),
                    version: r.get(3),
                    spec_version: r.get(4),
                    raw: r.get(5),
                })
                .collect();
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
        self.run(move |pool| async move {
            let mut sql = Sql::new(Dialect::Postgres);
            let ck = sql.bind(collection_key);
            let idp = sql.bind(id);
            let pred = sql.visibility(&vis, "o");
            sql.push(&format!("SELECT EXISTS (SELECT 1 FROM objects o WHERE o.collection_key = {ck} AND o.stix_id = {idp} AND {pred})"));
            let client = pool.get().await.map_err(pool_err)?;
            let a = args(&sql);
            Ok(client.query_one(&sql.text, &refs(&a)).await.map_err(db_err)?.get(0))
        })
        .await
    }

    async fn delete_object(&self, req: DeleteRequest) -> Result<DeleteOutcome, StorageError> {
        self.run(move |pool| delete(pool, req)).await
    }

    async fn status(&self, api_root: &str, status_id: &str, account_id: i64) -> Result<Option<String>, StorageError> {
        let (api_root, id) = (api_root.to_string(), status_id.to_string());
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            let row = client
                .query_opt(
                    "SELECT body FROM statuses WHERE id = $1 AND api_root = $2 AND account_id = $3",
                    &[&id, &api_root, &account_id],
                )
                .await
                .map_err(db_err)?;
            Ok(row.map(|r| r.get(0)))
        })
        .await
    }

    async fn purge_statuses(&self, before: Micros) -> Result<u64, StorageError> {
        self.run(move |pool| async move {
            let client = pool.get().await.map_err(pool_err)?;
            client.execute("DELETE FROM statuses WHERE request_timestamp < $1", &[&before]).await.map_err(db_err)
        })
        .await
    }
}
