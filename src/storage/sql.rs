//! SQL shared by the backends: object listings and deletes built from the domain filter and the
//! sharing policy's predicate, with placeholders in each backend's dialect.

use crate::domain::filters::{ObjectFilter, SpecVersionFilter, VersionTerm};
use crate::domain::policy::ObjectVisibility;

/// A bound parameter; each backend converts these to its own parameter type.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlArg {
    Int(i64),
    Text(String),
}

impl From<i64> for SqlArg {
    fn from(v: i64) -> Self {
        SqlArg::Int(v)
    }
}

impl From<String> for SqlArg {
    fn from(v: String) -> Self {
        SqlArg::Text(v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// `?1`, `?2`, …
    #[default]
    Sqlite,
    /// `$1`, `$2`, …
    Postgres,
}

#[derive(Default)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub params: Vec<SqlArg>,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Sql { dialect, ..Default::default() }
    }

    fn placeholder(&self, n: usize) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }

    pub fn bind(&mut self, v: impl Into<SqlArg>) -> String {
        self.params.push(v.into());
        self.placeholder(self.params.len())
    }

    pub fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    pub fn visibility(&mut self, vis: &ObjectVisibility, alias: &str) -> String {
        let mut bound = Vec::new();
        let base = self.params.len();
        let dialect = Sql::new(self.dialect);
        let pred = vis.sql_predicate(alias, &mut |v| {
            bound.push(v);
            dialect.placeholder(base + bound.len())
        });
        self.params.extend(bound.into_iter().map(SqlArg::Int));
        pred
    }

    /// True when the row promises that no version of its object is later (`has_newer`), which
    /// settles `last` without looking at the siblings.
    fn has_no_newer(&self, alias: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => format!("{alias}.has_newer = 0"),
            Dialect::Postgres => format!("NOT {alias}.has_newer"),
        }
    }

    fn bind_list(&mut self, values: &[String]) -> String {
        let names: Vec<String> = values.iter().map(|v| self.bind(v.clone())).collect();
        names.join(", ")
    }
}

/// Appends `AND …` clauses selecting the rows of `o` that match `filter` and are visible.
/// Version selection (`last`, `first`) is computed among the *visible* versions only, so an
/// invisible newer version never hides, or reveals itself through, an older visible one.
pub fn push_object_conditions(sql: &mut Sql, vis: &ObjectVisibility, object_id: Option<&str>, filter: &ObjectFilter) {
    let pred = sql.visibility(vis, "o");
    sql.push(&format!(" AND {pred}"));
    if let Some(id) = object_id {
        let p = sql.bind(id.to_string());
        sql.push(&format!(" AND o.stix_id = {p}"));
    }
    if !filter.ids.is_empty() {
        let list = sql.bind_list(&filter.ids);
        sql.push(&format!(" AND o.stix_id IN ({list})"));
    }
    if !filter.types.is_empty() {
        let list = sql.bind_list(&filter.types);
        sql.push(&format!(" AND o.type IN ({list})"));
    }
    if let Some(after) = filter.added_after {
        let p = sql.bind(crate::domain::timestamp::micros_floor(after));
        sql.push(&format!(" AND o.date_added > {p}"));
    }

    let sibling = "SELECT 1 FROM objects o2 WHERE o2.collection_key = o.collection_key AND o2.stix_id = o.stix_id";
    let only_last = filter.versions == [VersionTerm::Last];
    let sibling_spec = match &filter.spec_versions {
        SpecVersionFilter::Only(list) => {
            let l = sql.bind_list(list);
            sql.push(&format!(" AND o.spec_version IN ({l})"));
            let l2 = sql.bind_list(list);
            format!("o2.spec_version IN ({l2})")
        }
        SpecVersionFilter::Latest if only_last => {
            // No visible sibling with a later (spec_version, version); a row that promises it has
            // no later sibling at all (the common case) needs no probe.
            let v = sql.visibility(vis, "o2");
            let settled = sql.has_no_newer("o");
            sql.push(&format!(
                " AND ({settled} OR NOT EXISTS ({sibling} AND (o2.spec_version > o.spec_version OR \
                 (o2.spec_version = o.spec_version AND o2.version > o.version)) AND {v}))"
            ));
            return;
        }
        SpecVersionFilter::Latest => {
            let v = sql.visibility(vis, "o2");
            sql.push(&format!(" AND NOT EXISTS ({sibling} AND o2.spec_version > o.spec_version AND {v})"));
            "o2.spec_version = o.spec_version".to_string()
        }
    };
    if filter.selects_all_versions() {
        return;
    }
    let mut terms = Vec::new();
    for term in &filter.versions {
        match term {
            VersionTerm::All => {}
            VersionTerm::Last | VersionTerm::First => {
                let cmp = if *term == VersionTerm::Last { ">" } else { "<" };
                let v = sql.visibility(vis, "o2");
                terms.push(format!("NOT EXISTS ({sibling} AND {sibling_spec} AND o2.version {cmp} o.version AND {v})"));
            }
            VersionTerm::Exactly(n) => {
                let p = sql.bind(*n);
                terms.push(format!("o.version = {p}"));
            }
        }
    }
    sql.push(&format!(" AND ({})", terms.join(" OR ")));
}

/// Every stored version of one object (lower-cased id, compared case-insensitively) with how it
/// is shared: (seq, stix_id, spec_version, version, date_added, producer_org, tlp, tlp_reason).
pub const VERSION_SHARING: &str =
    "SELECT seq, stix_id, spec_version, version, date_added, producer_org, tlp, tlp_reason \
     FROM objects WHERE collection_key = ?1 AND stix_id = ?2 \
     UNION ALL SELECT seq, stix_id, spec_version, version, date_added, producer_org, tlp, tlp_reason \
     FROM objects WHERE collection_key = ?1 AND stix_id <> lower(stix_id) AND lower(stix_id) = ?2 ORDER BY 5, 1";

/// The eligible recipients of a trust group's RED objects: (lower-cased identity id, organisation).
pub const COLLECTION_READERS: &str = "SELECT lower(o.identity_id), o.id FROM trust_group_members m \
     JOIN organisations o ON o.id = m.organisation_id WHERE m.trust_group_id = ?1 AND m.can_read";

/// The marking-definitions with these lower-cased ids that `producer_org` stored in the
/// collection: (lower-cased id, raw). Ids compare case-insensitively: lower-case ones through
/// the main index, the others through objects_by_folded_id.
pub fn marking_definitions_sql(dialect: Dialect, collection_key: i64, producer_org: i64, ids: &[String]) -> Sql {
    let mut sql = Sql::new(dialect);
    let ck = sql.bind(collection_key);
    let list = sql.bind_list(ids);
    let org = sql.bind(producer_org);
    let pred = format!("o.producer_org = {org}");
    let kind = "o.type = 'marking-definition'";
    sql.push(&format!(
        "SELECT lower(o.stix_id), o.raw FROM objects o WHERE o.collection_key = {ck} AND {kind} AND o.stix_id IN ({list}) AND {pred} \
         UNION ALL SELECT lower(o.stix_id), o.raw FROM objects o WHERE o.collection_key = {ck} AND {kind} \
         AND o.stix_id <> lower(o.stix_id) AND lower(o.stix_id) IN ({list}) AND {pred}"
    ));
    sql
}

/// SQL written with `?N` placeholders, in the backend's placeholder style.
pub fn in_dialect(sql: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => sql.to_string(),
        Dialect::Postgres => sql.replace('?', "$"),
    }
}
