//! The hub's domain records, independent of HTTP and of the storage engine.

pub use crate::domain::effective_tlp::UnknownMarking;
use serde::Serialize;

use super::timestamp::{Micros, Nanos};
use super::tlp::Tlp;
pub use super::validation::CustomContent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads and writes wherever its organisation may.
    Member,
    /// Reads only.
    Reader,
    /// Manages the hub; reads intelligence only where its organisation is a member.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Reader => "reader",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "reader" => Some(Role::Reader),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OrganisationKind {
    Partner,
    NationalCert,
    Operator,
}

impl OrganisationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::Partner => "partner",
            OrganisationKind::NationalCert => "national-cert",
            OrganisationKind::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<OrganisationKind> {
        match s {
            "partner" => Some(OrganisationKind::Partner),
            "national-cert" => Some(OrganisationKind::NationalCert),
            "operator" => Some(OrganisationKind::Operator),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub id: i64,
    pub name: String,
    /// The STIX `identity` id that stands for this organisation (e.g. in RED recipient lists).
    pub identity_id: String,
    pub sector: Option<String>,
    pub kind: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct OrganisationUpdate {
    pub name: Option<String>,
    pub identity_id: Option<String>,
    pub sector: Option<Option<String>>,
    pub kind: Option<OrganisationKind>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrustGroup {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<GroupMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    pub organisation_id: i64,
    pub can_read: bool,
    pub can_write: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AccountUpdate {
    pub role: Option<Role>,
    pub redistributes: Option<bool>,
    pub disabled: Option<bool>,
    pub password_hash: Option<Option<String>>,
    pub cert_fingerprint: Option<Option<String>>,
    /// A subject mapping is a (subject, issuer) pair: both set, or both cleared.
    pub cert_subject: Option<Option<String>>,
    pub cert_issuer: Option<Option<String>>,
}

impl AccountUpdate {
    /// Whether this change must end the account's access tokens: who it is, what it may do,
    /// or how it signs in changes.
    pub fn ends_tokens(&self) -> bool {
        self.role.is_some()
            || self.disabled.is_some()
            || self.password_hash.is_some()
            || self.cert_fingerprint.is_some()
            || self.cert_subject.is_some()
            || self.cert_issuer.is_some()
    }
}

#[derive(Debug, Clone, Default)]
pub struct CollectionUpdate {
    pub alias: Option<Option<String>>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub trust_group_id: Option<i64>,
    pub default_tlp: Option<Tlp>,
    pub custom_content: Option<CustomContent>,
    pub unknown_marking: Option<UnknownMarking>,
}

/// An API key as stored: never the key itself, only its lookup prefix and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub account_id: i64,
    pub prefix: String,
    pub label: Option<String>,
    pub created: Micros,
    pub expires: Option<Micros>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: i64,
    pub username: String,
    pub organisation_id: i64,
    pub role: Role,
    pub redistributes: bool,
    pub disabled: bool,
    pub password_hash: Option<String>,
    pub cert_fingerprint: Option<String>,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
    /// Random, replaced whenever the account's password, role, certificate or disabled flag
    /// changes: access tokens carry it, so none outlives such a change or the account itself.
    pub token_binding: String,
}

#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub name: String,
    pub identity_id: Option<String>,
    pub sector: Option<String>,
    pub kind: OrganisationKind,
}

#[derive(Debug, Clone)]
pub struct NewAccount {
    pub organisation_id: i64,
    pub username: String,
    pub password_hash: Option<String>,
    pub role: Role,
    pub redistributes: bool,
    pub cert_fingerprint: Option<String>,
    pub cert_subject: Option<String>,
    pub cert_issuer: Option<String>,
}

/// A fresh value for `accounts.token_binding`.
pub fn new_token_binding() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Clone)]
pub struct NewCollection {
    pub api_root: String,
    pub id: Option<String>,
    pub alias: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub trust_group_id: i64,
    pub default_tlp: Tlp,
    pub custom_content: CustomContent,
    pub unknown_marking: UnknownMarking,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    /// Internal key; never shown to clients.
    pub key: i64,
    pub id: String,
    pub api_root: String,
    pub alias: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub trust_group_id: i64,
    /// TLP of objects that carry no TLP marking.
    pub default_tlp: Tlp,
    /// Whether custom properties, object types and extensions are accepted.
    pub custom_content: CustomContent,
    /// What an object referring to a marking the hub cannot read gets: refused, or TLP:RED.
    pub unknown_marking: UnknownMarking,
}

impl Collection {
    pub fn tlp_rules(&self) -> crate::domain::effective_tlp::TlpRules {
        crate::domain::effective_tlp::TlpRules { default_tlp: self.default_tlp, unknown_marking: self.unknown_marking }
    }
}

/// What a trust group grants one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Membership {
    pub can_read: bool,
    pub can_write: bool,
}

impl Membership {
    /// `read`, `write` or `read-write`, as memberships are written in the API and in files.
    pub fn parse(s: &str) -> Option<Membership> {
        match s {
            "read" => Some(Membership { can_read: true, can_write: false }),
            "write" => Some(Membership { can_read: false, can_write: true }),
            "read-write" => Some(Membership { can_read: true, can_write: true }),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match (self.can_read, self.can_write) {
            (true, true) => "read-write",
            (true, false) => "read",
            _ => "write",
        }
    }
}

/// One stored object version as listing endpoints see it.
#[derive(Debug, Clone)]
pub struct StoredObject {
    pub seq: i64,
    pub stix_id: String,
    pub date_added: Micros,
    pub version: Nanos,
    pub spec_version: String,
    /// The JSON exactly as the producer sent it; `None` when the query did not ask for it.
    pub raw: Option<String>,
}

/// How one stored version is shared: what administrators see when they ask why an object
/// reached (or did not reach) someone. Metadata only, never the object itself.
#[derive(Debug, Clone)]
pub struct VersionSharing {
    pub seq: i64,
    pub stix_id: String,
    pub spec_version: String,
    pub version: Nanos,
    pub date_added: Micros,
    pub producer_org: i64,
    pub tlp: Tlp,
    pub reason: crate::domain::effective_tlp::TlpReason,
    /// For RED: the organisations besides the producer that may read it.
    pub recipients: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

/// TAXII 2.1 §4.3.1 status-details.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StatusDetail {
    pub id: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// TAXII 2.1 §4.3.1 status resource. Writes are synchronous, so it is always `complete`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusResource {
    pub id: String,
    pub status: &'static str,
    pub request_timestamp: String,
    pub total_count: usize,
    pub success_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<StatusDetail>,
    pub failure_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<StatusDetail>,
    pub pending_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pendings: Vec<StatusDetail>,
}

impl StatusResource {
    pub fn complete(
        id: String,
        request_timestamp: Micros,
        successes: Vec<StatusDetail>,
        failures: Vec<StatusDetail>,
        failures_not_listed: usize,
    ) -> Self {
        let failure_count = failures.len() + failures_not_listed;
        StatusResource {
            id,
            status: "complete",
            request_timestamp: super::timestamp::format_micros(request_timestamp),
            total_count: successes.len() + failure_count,
            success_count: successes.len(),
            successes,
            failure_count,
            failures,
            pending_count: 0,
            pendings: vec![],
        }
    }
}
