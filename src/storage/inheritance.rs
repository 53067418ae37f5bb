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

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;

use crate::domain::effective_tlp::{Level, ResolvedObject, TlpReason};
use crate::domain::tlp::Tlp;
use crate::storage::StorageError;

/// A stored version as inheritance sees it.
pub struct StoredLevel {
    pub seq: i64,
    pub stix_id: String,
    pub spec_version: String,
    pub version: i64,
    pub level: Level,
}

/// Stored versions to raise: those with this lower-cased id, or only one version of it.
struct Raise {
    id: String,
    /// (spec_version, version) for the stored copy of a re-posted versioned object; for an
    /// unversioned one, its copy of that spec_version. None: every version (a container's ref).
    only: Option<(String, Option<i64>)>,
    level: Level,
    reason: TlpReason,
}

impl Raise {
    fn applies_to(&self, row: &StoredLevel) -> bool {
        match &self.only {
            None => true,
            Some((spec, version)) => row.spec_version == *spec && version.is_none_or(|v| v == row.version),
        }
    }
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

/// Raises the batch's objects to what the stored containers referring to them express (a
/// container whose TLP is the collection default expresses nothing: its `tlp_reason` is NULL).
/// Returns whether a container of the batch was raised (what it contains in the batch was
/// resolved with its former level, see [`raise_stored`]).
pub async fn inherit_from_stored(
    store: &mut dyn StoredLevels,
    objects: &mut [ResolvedObject],
) -> Result<bool, StorageError> {
    let mut ids: Vec<String> = objects.iter().map(|o| o.object.stix_id.to_ascii_lowercase()).collect();
    ids.sort();
    ids.dedup();
    let mut containers: HashMap<String, Vec<StoredLevel>> = HashMap::new();
    for (id, container) in store.containers_of(&ids).await? {
        containers.entry(id).or_default().push(container);
    }
    let mut container_raised = false;
    for object in objects {
        let Some(found) = containers.get_mut(&object.object.stix_id.to_ascii_lowercase()) else { continue };
        // The same order on both backends, so the reason recorded is the same.
        found.sort_by_key(|c| c.seq);
        for container in found.iter() {
            let raised = object.inherit(&container.stix_id, &container.level);
            container_raised |= raised && !object.object.marks.object_refs.is_empty();
        }
    }
    Ok(container_raised)
}

/// Lower-cased ids of the batch whose only versions from this producer are rows the batch
/// itself inserted: those rows already carry what the batch's containers pass on (the domain
/// resolved them together), so [`raise_stored`] need not look them up. The backends know it
/// from their exact-id sibling lookups, which are complete for a lower-case id when the
/// collection holds no id with upper-case letters; and it holds only while
/// no container of the batch was raised by a stored one.
#[derive(Debug, Default)]
pub struct Fresh {
    ids: HashSet<String>,
    not_fresh: HashSet<String>,
}

impl Fresh {
    /// Notes an object of the batch: its id is fresh if the id is lower case and no version of
    /// the producer was stored before the batch (`stored_before`, from an exact-id lookup), for
    /// every object of the batch with that id.
    pub fn note(&mut self, id: &str, stored_before: bool) {
        if stored_before || id.bytes().any(|b| b.is_ascii_uppercase()) {
            self.ids.remove(id);
            self.not_fresh.insert(id.to_ascii_lowercase());
        } else if !self.not_fresh.contains(id) {
            self.ids.insert(id.to_string());
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }
}

/// Makes stored versions at least as restrictive as what the batch expresses: for each
/// container of the batch, every version of what it refers to; for each object that was
/// already present, its stored copy. `inserted[i]` tells whether `objects[i]` was stored as a
/// new row.
pub async fn raise_stored(
    store: &mut dyn StoredLevels,
    objects: &[ResolvedObject],
    inserted: &[bool],
    fresh: &Fresh,
) -> Result<(), StorageError> {
    let contents = |id: String, level: Level, container: &str| Raise {
        id,
        only: None,
        level,
        reason: TlpReason::InheritedFrom(container.to_string()),
    };
    let mut work: Vec<Raise> = Vec::new();
    // Only what expresses a TLP (its own or inherited) passes it on; the collection default does not.
    for (o, new) in objects.iter().zip(inserted).filter(|(o, _)| o.reason != TlpReason::CollectionDefault) {
        let object = &o.object;
        let stored_refs = object.marks.object_refs.iter().filter(|r| !fresh.contains(r));
        work.extend(stored_refs.map(|r| contents(r.clone(), o.level.clone(), &object.stix_id)));
        if !new {
            work.push(Raise {
                id: object.stix_id.to_ascii_lowercase(),
                only: Some((object.spec_version.clone(), object.version)),
                level: o.level.clone(),
                reason: o.reason.clone(),
            });
        }
    }
    // In rounds, one lookup per round: a round goes on only through rows it made strictly more
    // restrictive (a higher TLP, or fewer RED recipients), so this ends, cycles included.
    while !work.is_empty() {
        let mut ids: Vec<String> = work.iter().map(|w| w.id.clone()).collect();
        ids.sort();
        ids.dedup();
        let mut rows: HashMap<String, Vec<StoredLevel>> = HashMap::new();
        for (id, row) in store.versions_of(&ids).await? {
            rows.entry(id).or_default().push(row);
        }
        // Per stored row (by seq, in seq order): its new level and why.
        let mut changed: BTreeMap<i64, (&StoredLevel, Level, TlpReason)> = BTreeMap::new();
        for raise in &work {
            for row in rows.get(&raise.id).into_iter().flatten().filter(|row| raise.applies_to(row)) {
                let current = changed.get(&row.seq).map_or(&row.level, |(_, l, _)| l);
                let raised = current.and(&raise.level);
                if raised != *current {
                    changed.insert(row.seq, (row, raised, raise.reason.clone()));
                }
            }
        }
        let mut next = Vec::new();
        for (row, level, reason) in changed.into_values() {
            store.set_level(row.seq, &level, &reason).await?;
            next.extend(store.refs_of(row.seq).await?.into_iter().map(|r| contents(r, level.clone(), &row.stix_id)));
        }
        work = next;
    }
    Ok(())
}

/// The SQL both backends run for [`StoredLevels`], written with `?N` placeholders
/// ([`crate::storage::sql::in_dialect`]).
pub mod sql {
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
