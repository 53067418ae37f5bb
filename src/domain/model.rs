//! The hub's domain records, independent of HTTP and of the storage engine.

use serde::Serialize;

use super::timestamp::{Micros, Nanos};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

#[derive(Debug, Clone)]
pub struct NewCollection {
    pub api_root: String,
    pub id: Option<String>,
    pub alias: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub trust_group_id: i64,
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
}

/// What a trust group grants one organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Membership {
    pub can_read: bool,
    pub can_write: bool,
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
    pub fn complete(id: String, request_timestamp: Micros, successes: Vec<StatusDetail>, failures: Vec<StatusDetail>) -> Self {
        StatusResource {
            id,
            status: "complete",
            request_timestamp: super::timestamp::format_micros(request_timestamp),
            total_count: successes.len() + failures.len(),
            success_count: successes.len(),
            successes,
            failure_count: failures.len(),
            failures,
            pending_count: 0,
            pendings: vec![],
        }
    }
}
