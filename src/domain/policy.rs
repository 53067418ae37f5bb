//! The sharing policy: who may see and change what. Every read path asks this module.
//!
//! Storage backends do not decide visibility themselves: they render the predicate this module
//! produces into their object queries, so filtering happens in SQL, before `LIMIT`, and pages,
//! `more`, cursors, headers and counts never reflect objects the caller may not see.

use super::model::{Membership, Role};
use super::tlp::Tlp;

/// The authenticated caller, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub account_id: i64,
    pub organisation_id: i64,
    pub role: Role,
    pub redistributes: bool,
}

/// What the caller may do with one collection (`can_read` / `can_write` in TAXII responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    pub can_read: bool,
    pub can_write: bool,
}

impl Access {
    /// A collection the caller's organisation has no membership for is not shown at all.
    pub fn is_listed(self) -> bool {
        self.can_read || self.can_write
    }
}

/// Access follows the organisation's trust-group membership; the account's role can only narrow it.
pub fn collection_access(viewer: &Viewer, membership: Option<Membership>) -> Access {
    let m = membership.unwrap_or_default();
    Access { can_read: m.can_read, can_write: m.can_write && viewer.role != Role::Reader }
}

/// The row-level rule applied to every object version a query may return, for a caller who
/// may read the collection (checked before, by [`collection_access`]). For a version posted by
/// organisation P, seen by an account of organisation X:
/// - P always sees what P posted (except through a redistributing account, see below);
/// - CLEAR/WHITE, GREEN and AMBER are visible to every reader of the collection;
/// - AMBER+STRICT to every reader except redistributing accounts;
/// - RED only to P and to the organisations named in the version's recipient list, never to
///   redistributing accounts — not even P's own, because their feeds leave the organisation.
///
/// The effective TLP of a version is stored with it at ingest ([`super::effective_tlp`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVisibility {
    pub organisation_id: i64,
    pub redistributes: bool,
}

impl ObjectVisibility {
    pub fn for_viewer(viewer: &Viewer) -> Self {
        ObjectVisibility { organisation_id: viewer.organisation_id, redistributes: viewer.redistributes }
    }

    /// SQL predicate over the object row `alias`; `bind` turns a value into a placeholder of
    /// the backend's dialect.
    pub fn sql_predicate(&self, alias: &str, bind: &mut dyn FnMut(i64) -> String) -> String {
        let org = bind(self.organisation_id);
        rule_sql(alias, &org, if self.redistributes { "1" } else { "0" })
    }

    /// The same rule evaluated in memory, for one stored version. Used by tests as the model
    /// the SQL must agree with.
    pub fn allows(&self, producer_org: i64, tlp: Tlp, recipients: &[i64]) -> bool {
        match tlp {
            Tlp::Clear | Tlp::Green | Tlp::Amber => true,
            _ if self.redistributes => false,
            Tlp::AmberStrict => true,
            Tlp::Red => producer_org == self.organisation_id || recipients.contains(&self.organisation_id),
        }
    }
}

/// The visibility rule as SQL over the object row `alias`, for a viewer whose organisation id and
/// redistributing flag (0/1) are the SQL expressions `org` and `redistributes`. Uses
/// `objects.producer_org`, `objects.tlp` and `object_recipients (object_seq, organisation_id)`.
/// Both the per-request queries and the audit's "who received this object" use it.
pub fn rule_sql(alias: &str, org: &str, redistributes: &str) -> String {
    format!(
        "({alias}.tlp <= {amber} OR ({redistributes} = 0 AND ({alias}.tlp = {strict} OR {alias}.producer_org = {org} \
         OR ({alias}.tlp = {red} AND EXISTS (SELECT 1 FROM object_recipients r \
         WHERE r.object_seq = {alias}.seq AND r.organisation_id = {org})))))",
        amber = Tlp::Amber.rank(),
        strict = Tlp::AmberStrict.rank(),
        red = Tlp::Red.rank(),
    )
}

/// The recipient organisations of a TLP:RED version, or why it is refused: it must name at
/// least one organisation, and only organisations that may read the collection
/// (`readers`: lower-cased identity id → organisation id). The refusal does not say which
/// organisations read the collection.
pub fn red_recipients(
    stix_type: &str,
    recipients: &[String],
    readers: &std::collections::HashMap<String, i64>,
) -> Result<Vec<i64>, String> {
    let property = crate::domain::envelope::RECIPIENTS_PROPERTY;
    if recipients.is_empty() {
        return Err(format!(
            "{stix_type}.{property}: a TLP:RED object must name its recipient organisations (identity ids)"
        ));
    }
    recipients
        .iter()
        .map(|r| {
            readers.get(r).copied().ok_or_else(|| format!("{stix_type}.{property}: '{r}' is not an eligible recipient"))
        })
        .collect()
}

/// Whether the caller may delete these versions: only the producing organisation, or an admin.
pub fn may_delete(viewer: &Viewer, producer_orgs: &[i64]) -> bool {
    viewer.role == Role::Admin || producer_orgs.iter().all(|p| *p == viewer.organisation_id)
}
