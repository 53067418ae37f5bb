//! TLP that containers pass on across envelopes. Within one envelope the domain resolves it
//! ([`crate::domain::effective_tlp`]); here, in the ingest transaction, the same rule meets what
//! is already stored, for versions of the same producer in the same collection:
//! - a new object is at least as restrictive as every stored container that refers to its id;
//! - a new container (and a re-posted object whose copy is stored) makes the stored versions it
//!   refers to at least as restrictive as itself, and passes that on through stored containers.
//!
//! Effective TLP only ever becomes more restrictive; each change is written in the same
//! transaction as the envelope, so it applies before any further read. One algorithm for both
//! backends, over [`StoredLevels`].

use async_trait::async_trait;

use crate::domain::effective_tlp::{Level, ResolvedObject, TlpReason};
use crate::domain::tlp::Tlp;
use crate::storage::StorageError;

/// A stored version as inheritance sees it.
pub struct StoredLevel {
    pub seq: i64,
    pub stix_id: String,
    pub level: Level,
}

/// The stored rows of one producer in one collection, inside the ingest transaction.
#[async_trait]
pub trait StoredLevels: Send {
    /// Stored containers that refer to any of these lower-cased ids, as (id, container).
    async fn containers_of(&mut self, ref_ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError>;
    /// Stored versions with any of these lower-cased ids (compared case-insensitively), as
    /// (lower-cased id, version).
    async fn versions_of(&mut self, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError>;
    /// What a stored container refers to (lower-cased ids).
    async fn refs_of(&mut self, container_seq: i64) -> Result<Vec<String>, StorageError>;
    async fn set_level(&mut self, seq: i64, level: &Level, reason: &TlpReason) -> Result<(), StorageError>;
}

/// Raises the batch's objects to what the stored containers referring to them express.
pub async fn inherit_from_stored(
    store: &mut dyn StoredLevels,
    objects: &mut [ResolvedObject],
) -> Result<(), StorageError> {
    let mut ids: Vec<String> = objects.iter().map(|o| o.object.stix_id.to_ascii_lowercase()).collect();
    ids.sort();
    ids.dedup();
    let containers = store.containers_of(&ids).await?;
    if containers.is_empty() {
        return Ok(());
    }
    for object in objects {
        let id = object.object.stix_id.to_ascii_lowercase();
        for (_, container) in containers.iter().filter(|(r, _)| *r == id) {
            object.inherit(&container.stix_id, &container.level);
        }
    }
    Ok(())
}

/// Makes stored versions at least as restrictive as what the batch expresses: for each
/// container of the batch, what it refers to; for each object that was already present, its
/// stored copies. `inserted[i]` tells whether `objects[i]` was stored as a new row.
pub async fn raise_stored(
    store: &mut dyn StoredLevels,
    objects: &[ResolvedObject],
    inserted: &[bool],
) -> Result<(), StorageError> {
    let mut work: Vec<(String, Level, TlpReason)> = Vec::new();
    for (o, new) in objects.iter().zip(inserted) {
        for r in &o.object.marks.object_refs {
            work.push((r.clone(), o.level.clone(), TlpReason::InheritedFrom(o.object.stix_id.clone())));
        }
        if !new {
            work.push((o.object.stix_id.to_ascii_lowercase(), o.level.clone(), o.reason.clone()));
        }
    }
    // In rounds, one lookup per round: a round goes on only through rows it made strictly more
    // restrictive (a higher TLP, or fewer RED recipients), so this ends, cycles included.
    while !work.is_empty() {
        let mut ids: Vec<String> = work.iter().map(|(id, _, _)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        let rows = store.versions_of(&ids).await?;
        let mut changed: Vec<(StoredLevel, TlpReason)> = Vec::new();
        for (id, level, reason) in &work {
            for (_, row) in rows.iter().filter(|(r, _)| r == id) {
                let current = changed.iter().find(|(c, _)| c.seq == row.seq).map_or(&row.level, |(c, _)| &c.level);
                let raised = current.and(level);
                if raised == *current {
                    continue;
                }
                changed.retain(|(c, _)| c.seq != row.seq);
                changed
                    .push((StoredLevel { seq: row.seq, stix_id: row.stix_id.clone(), level: raised }, reason.clone()));
            }
        }
        work = Vec::new();
        for (row, reason) in changed {
            store.set_level(row.seq, &row.level, &reason).await?;
            for r in store.refs_of(row.seq).await? {
                work.push((r, row.level.clone(), TlpReason::InheritedFrom(row.stix_id.clone())));
            }
        }
    }
    Ok(())
}

/// The SQL both backends run for [`StoredLevels`], written with `?N` placeholders
/// ([`crate::storage::sql::in_dialect`]).
pub mod sql {
    /// One id per statement (see VERSIONS_OF).
    pub const CONTAINERS_OF: &str =
        "SELECT c.ref_id, o.seq, o.stix_id, o.tlp FROM container_refs c JOIN objects o ON o.seq = c.container_seq \
         WHERE c.collection_key = ?1 AND c.producer_org = ?2 AND c.ref_id = ?3";
    /// One id per statement (SQLite's lookups are in-process). Two branches: lower-case ids through
    /// the main index, others through objects_by_folded_id.
    pub const VERSIONS_OF: &str = "SELECT lower(stix_id), seq, stix_id, tlp FROM objects WHERE collection_key = ?1 AND producer_org = ?2 AND stix_id = ?3 \
         UNION ALL SELECT lower(stix_id), seq, stix_id, tlp FROM objects WHERE collection_key = ?1 AND producer_org = ?2 \
         AND stix_id <> lower(stix_id) AND lower(stix_id) = ?3";
    pub const RECIPIENTS_OF: &str = "SELECT organisation_id FROM object_recipients WHERE object_seq = ?1";
    pub const REFS_OF: &str = "SELECT ref_id FROM container_refs WHERE container_seq = ?1";
    pub const SET_LEVEL: &str = "UPDATE objects SET tlp = ?2, tlp_reason = ?3 WHERE seq = ?1";
    pub const CLEAR_RECIPIENTS: &str = "DELETE FROM object_recipients WHERE object_seq = ?1";
    pub const ADD_RECIPIENT: &str = "INSERT INTO object_recipients (object_seq, organisation_id) VALUES (?1, ?2)";
    pub const ADD_CONTAINER_REF: &str =
        "INSERT INTO container_refs (container_seq, collection_key, producer_org, ref_id) VALUES (?1, ?2, ?3, ?4)";
}

/// A stored row's level from its TLP rank and, for RED, its recipients.
pub fn stored_level(tlp_rank: i64, recipients: impl IntoIterator<Item = i64>) -> Level {
    // An unknown rank would be a corrupt row: read it as RED with no recipients (producer only).
    Level::new(Tlp::from_rank(tlp_rank).unwrap_or(Tlp::Red), recipients)
}
