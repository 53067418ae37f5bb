//! Declarative provisioning: `taxii-hub provision FILE.toml` makes the directory (organisations,
//! trust groups and their members, collections, accounts) match the file. Running it twice
//! changes nothing; an organisation removed from a group's member list loses access; an account
//! of a listed organisation that the file no longer lists is disabled. Nothing is deleted, so the
//! audit log keeps its references.
//!
//! Secrets never appear in the file: a password comes from `password_env` (an environment
//! variable) or `password_file` (a file, e.g. a container secret), or `password_hash` (argon2id).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use crate::domain::credentials::{hash_password, verify_password};
use crate::domain::model::{
    AccountUpdate, CollectionUpdate, CustomContent, Membership, NewAccount, NewCollection, NewOrganisation,
    OrganisationKind, OrganisationUpdate, Role, UnknownMarking,
};
use crate::domain::tlp::Tlp;
use crate::storage::{SharedStorage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("provisioning file: {0}")]
    File(String),
    #[error("provisioning: {0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionFile {
    #[serde(default)]
    pub organisations: Vec<OrganisationSpec>,
    #[serde(default)]
    pub trust_groups: Vec<TrustGroupSpec>,
    #[serde(default)]
    pub collections: Vec<CollectionSpec>,
    #[serde(default)]
    pub accounts: Vec<AccountSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganisationSpec {
    pub name: String,
    pub kind: OrganisationKind,
    pub sector: Option<String>,
    pub identity_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustGroupSpec {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub members: Vec<MemberSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    pub organisation: String,
    /// read, write or read-write
    pub access: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionSpec {
    pub api_root: String,
    pub alias: String,
    /// Fixed collection id (UUID); generated on first creation when absent.
    pub id: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub trust_group: String,
    pub default_tlp: Option<String>,
    /// allow (default) or reject custom properties, object types and extensions.
    pub custom_content: Option<String>,
    /// What an object referring to a marking-definition the hub cannot read gets: `refuse`
    /// (default) or `red`.
    pub unknown_marking_tlp: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSpec {
    pub username: String,
    pub organisation: String,
    pub role: String,
    #[serde(default)]
    pub redistributes: bool,
    #[serde(default)]
    pub disabled: bool,
    pub password_env: Option<String>,
    pub password_file: Option<String>,
    pub password_hash: Option<String>,
    pub cert_fingerprint: Option<String>,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
}

impl ProvisionFile {
    pub fn parse(text: &str) -> Result<ProvisionFile, ProvisionError> {
        toml::from_str(text).map_err(|e| ProvisionError::File(e.to_string()))
    }

    pub fn load(path: &Path) -> Result<ProvisionFile, ProvisionError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ProvisionError::File(format!("{}: {e}", path.display())))?;
        Self::parse(&text)
    }
}

/// Where a password comes from.
enum Secret {
    None,
    Plain(String),
    Hash(String),
}

fn secret_of(a: &AccountSpec, env: &dyn Fn(&str) -> Option<String>) -> Result<Secret, ProvisionError> {
    let given =
        [a.password_env.is_some(), a.password_file.is_some(), a.password_hash.is_some()].iter().filter(|x| **x).count();
    if given > 1 {
        return Err(ProvisionError::Invalid(format!(
            "account '{}': give at most one of password_env, password_file, password_hash",
            a.username
        )));
    }
    if let Some(var) = &a.password_env {
        let v = env(var).ok_or_else(|| {
            ProvisionError::Invalid(format!("account '{}': environment variable {var} is not set", a.username))
        })?;
        return Ok(Secret::Plain(v));
    }
    if let Some(file) = &a.password_file {
        let v = std::fs::read_to_string(file)
            .map_err(|e| ProvisionError::Invalid(format!("account '{}': {file}: {e}", a.username)))?;
        return Ok(Secret::Plain(v.trim_end_matches(['\n', '\r']).to_string()));
    }
    if let Some(h) = &a.password_hash {
        if !h.starts_with("$argon2") {
            return Err(ProvisionError::Invalid(format!(
                "account '{}': password_hash must be an argon2 hash",
                a.username
            )));
        }
        return Ok(Secret::Hash(h.clone()));
    }
    Ok(Secret::None)
}

fn access(s: &str, group: &str) -> Result<Membership, ProvisionError> {
    Membership::parse(s).ok_or_else(|| {
        ProvisionError::Invalid(format!("trust group '{group}': access '{s}': use read, write or read-write"))
    })
}

/// Applies the file, reading `password_env` secrets from the process environment; returns a line
/// per change made (empty when the directory already matched).
pub async fn apply(
    storage: &SharedStorage,
    file: &ProvisionFile,
    api_roots: &[String],
) -> Result<Vec<String>, ProvisionError> {
    apply_with_env(storage, file, api_roots, &|name| std::env::var(name).ok()).await
}

/// [`apply`] with the environment given as a lookup function.
pub async fn apply_with_env(
    storage: &SharedStorage,
    file: &ProvisionFile,
    api_roots: &[String],
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Vec<String>, ProvisionError> {
    // Resolve every secret first, so a missing one refuses the whole file before any write.
    let secrets: Vec<Secret> = file.accounts.iter().map(|a| secret_of(a, env)).collect::<Result<_, _>>()?;
    let mut changes = Vec::new();

    let existing_orgs = storage.organisations().await?;
    let mut org_ids: BTreeMap<String, i64> = existing_orgs.iter().map(|o| (o.name.clone(), o.id)).collect();
    for spec in &file.organisations {
        match existing_orgs.iter().find(|o| o.name == spec.name) {
            None => {
                let id = storage
                    .create_organisation(NewOrganisation {
                        name: spec.name.clone(),
                        identity_id: spec.identity_id.clone(),
                        sector: spec.sector.clone(),
                        kind: spec.kind,
                    })
                    .await?;
                org_ids.insert(spec.name.clone(), id);
                changes.push(format!("created organisation '{}'", spec.name));
            }
            Some(o) => {
                let update = OrganisationUpdate {
                    name: None,
                    identity_id: spec.identity_id.clone().filter(|i| *i != o.identity_id),
                    sector: (spec.sector != o.sector).then(|| spec.sector.clone()),
                    kind: (spec.kind.as_str() != o.kind).then_some(spec.kind),
                };
                if update.identity_id.is_some() || update.sector.is_some() || update.kind.is_some() {
                    storage.update_organisation(o.id, update).await?;
                    changes.push(format!("updated organisation '{}'", spec.name));
                }
            }
        }
    }
    let org = |name: &str| -> Result<i64, ProvisionError> {
        org_ids.get(name).copied().ok_or_else(|| ProvisionError::Invalid(format!("unknown organisation '{name}'")))
    };

    let existing_groups = storage.trust_groups().await?;
    let mut group_ids: BTreeMap<String, i64> = existing_groups.iter().map(|g| (g.name.clone(), g.id)).collect();
    for spec in &file.trust_groups {
        let wanted: BTreeMap<i64, Membership> = spec
            .members
            .iter()
            .map(|m| Ok((org(&m.organisation)?, access(&m.access, &spec.name)?)))
            .collect::<Result<_, ProvisionError>>()?;
        let (id, current) = match existing_groups.iter().find(|g| g.name == spec.name) {
            Some(g) => {
                if g.description != spec.description {
                    storage.update_trust_group(g.id, None, Some(spec.description.clone())).await?;
                    changes.push(format!("updated trust group '{}'", spec.name));
                }
                let current: BTreeMap<i64, Membership> = g
                    .members
                    .iter()
                    .map(|m| (m.organisation_id, Membership { can_read: m.can_read, can_write: m.can_write }))
                    .collect();
                (g.id, current)
            }
            None => {
                let id = storage.create_trust_group(&spec.name, spec.description.as_deref()).await?;
                group_ids.insert(spec.name.clone(), id);
                changes.push(format!("created trust group '{}'", spec.name));
                (id, BTreeMap::new())
            }
        };
        for (org_id, m) in &wanted {
            if current.get(org_id) != Some(m) {
                storage.set_membership(id, *org_id, *m).await?;
                changes.push(format!("trust group '{}': organisation {org_id} → {}", spec.name, m.name()));
            }
        }
        for org_id in current.keys().filter(|o| !wanted.contains_key(o)) {
            storage.remove_membership(id, *org_id).await?;
            changes.push(format!("trust group '{}': removed organisation {org_id}", spec.name));
        }
    }

    for spec in &file.collections {
        if !api_roots.contains(&spec.api_root) {
            return Err(ProvisionError::Invalid(format!(
                "collection '{}': no API root '{}' is configured",
                spec.alias, spec.api_root
            )));
        }
        let group = *group_ids.get(&spec.trust_group).ok_or_else(|| {
            ProvisionError::Invalid(format!("collection '{}': unknown trust group '{}'", spec.alias, spec.trust_group))
        })?;
        let tlp = match &spec.default_tlp {
            None => Tlp::Amber,
            Some(t) => Tlp::parse(t)
                .ok_or_else(|| ProvisionError::Invalid(format!("collection '{}': default_tlp '{t}'", spec.alias)))?,
        };
        let custom = match &spec.custom_content {
            None => CustomContent::Allow,
            Some(c) => CustomContent::parse(c)
                .ok_or_else(|| ProvisionError::Invalid(format!("collection '{}': custom_content '{c}'", spec.alias)))?,
        };
        let unknown_marking = match &spec.unknown_marking_tlp {
            None => UnknownMarking::Refuse,
            Some(u) => UnknownMarking::parse(u).ok_or_else(|| {
                ProvisionError::Invalid(format!(
                    "collection '{}': unknown_marking_tlp '{u}' (refuse or red)",
                    spec.alias
                ))
            })?,
        };
        let existing = match &spec.id {
            Some(id) => storage.collection_by_id(id).await?,
            None => storage.collection(&spec.api_root, &spec.alias, 0).await?.map(|(c, _)| c),
        };
        match existing {
            None => {
                storage
                    .create_collection(NewCollection {
                        api_root: spec.api_root.clone(),
                        id: spec.id.clone(),
                        alias: Some(spec.alias.clone()),
                        title: spec.title.clone(),
                        description: spec.description.clone(),
                        trust_group_id: group,
                        default_tlp: tlp,
                        custom_content: custom,
                        unknown_marking,
                    })
                    .await?;
                changes.push(format!("created collection '{}'", spec.alias));
            }
            Some(c) => {
                let update = CollectionUpdate {
                    alias: (c.alias.as_deref() != Some(spec.alias.as_str())).then(|| Some(spec.alias.clone())),
                    title: (c.title != spec.title).then(|| spec.title.clone()),
                    description: (c.description != spec.description).then(|| spec.description.clone()),
                    trust_group_id: (c.trust_group_id != group).then_some(group),
                    default_tlp: (c.default_tlp != tlp).then_some(tlp),
                    custom_content: (c.custom_content != custom).then_some(custom),
                    unknown_marking: (c.unknown_marking != unknown_marking).then_some(unknown_marking),
                };
                let changed = [
                    update.alias.is_some(),
                    update.title.is_some(),
                    update.description.is_some(),
                    update.trust_group_id.is_some(),
                    update.default_tlp.is_some(),
                    update.custom_content.is_some(),
                    update.unknown_marking.is_some(),
                ];
                if changed.iter().any(|c| *c) {
                    storage.update_collection(&c.id, update).await?;
                    changes.push(format!("updated collection '{}'", spec.alias));
                }
            }
        }
    }

    let mut listed: BTreeSet<String> = BTreeSet::new();
    for (spec, secret) in file.accounts.iter().zip(secrets) {
        listed.insert(spec.username.clone());
        let org_id = org(&spec.organisation)?;
        let role = Role::parse(&spec.role)
            .ok_or_else(|| ProvisionError::Invalid(format!("account '{}': role '{}'", spec.username, spec.role)))?;
        let fingerprint = spec.cert_fingerprint.as_ref().map(|f| f.to_ascii_lowercase());
        crate::directory::check_subject_mapping(spec.cert_subject.as_deref(), spec.cert_issuer.as_deref())
            .map_err(|e| ProvisionError::Invalid(format!("account '{}': {e}", spec.username)))?;
        match storage.account_by_username(&spec.username).await? {
            None => {
                let password_hash = match &secret {
                    Secret::None => None,
                    Secret::Plain(p) => Some(hash_password(p).map_err(ProvisionError::Invalid)?),
                    Secret::Hash(h) => Some(h.clone()),
                };
                let id = storage
                    .create_account(NewAccount {
                        organisation_id: org_id,
                        username: spec.username.clone(),
                        password_hash,
                        role,
                        redistributes: spec.redistributes,
                        cert_fingerprint: fingerprint,
                        cert_subject: spec.cert_subject.clone(),
                        cert_issuer: spec.cert_issuer.clone(),
                    })
                    .await?;
                if spec.disabled {
                    storage.update_account(id, AccountUpdate { disabled: Some(true), ..Default::default() }).await?;
                }
                changes.push(format!("created account '{}'", spec.username));
            }
            Some(a) => {
                if a.organisation_id != org_id {
                    return Err(ProvisionError::Invalid(format!(
                        "account '{}' belongs to another organisation; accounts cannot move (create a new one)",
                        spec.username
                    )));
                }
                let password_hash = match &secret {
                    Secret::None => None,
                    Secret::Plain(p) => match &a.password_hash {
                        Some(h) if verify_password(p, h) => None,
                        _ => Some(Some(hash_password(p).map_err(ProvisionError::Invalid)?)),
                    },
                    Secret::Hash(h) => (a.password_hash.as_ref() != Some(h)).then(|| Some(h.clone())),
                };
                let update = AccountUpdate {
                    role: (a.role != role).then_some(role),
                    redistributes: (a.redistributes != spec.redistributes).then_some(spec.redistributes),
                    disabled: (a.disabled != spec.disabled).then_some(spec.disabled),
                    password_hash,
                    cert_fingerprint: (a.cert_fingerprint != fingerprint).then(|| fingerprint.clone()),
                    cert_subject: (a.cert_subject != spec.cert_subject).then(|| spec.cert_subject.clone()),
                    cert_issuer: (a.cert_issuer != spec.cert_issuer).then(|| spec.cert_issuer.clone()),
                };
                let changed = [
                    update.role.is_some(),
                    update.redistributes.is_some(),
                    update.disabled.is_some(),
                    update.password_hash.is_some(),
                    update.cert_fingerprint.is_some(),
                    update.cert_subject.is_some(),
                    update.cert_issuer.is_some(),
                ];
                if changed.iter().any(|c| *c) {
                    storage.update_account(a.id, update).await?;
                    changes.push(format!("updated account '{}'", spec.username));
                }
            }
        }
    }
    // Accounts of the file's organisations that the file no longer lists are disabled.
    let managed: BTreeSet<i64> = file.organisations.iter().filter_map(|o| org_ids.get(&o.name).copied()).collect();
    for a in storage.accounts(None).await? {
        if managed.contains(&a.organisation_id) && !listed.contains(&a.username) && !a.disabled {
            storage.update_account(a.id, AccountUpdate { disabled: Some(true), ..Default::default() }).await?;
            changes.push(format!("disabled account '{}' (not in the file)", a.username));
        }
    }
    Ok(changes)
}
