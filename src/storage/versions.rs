//! The versions of one object already stored, as ingest sees them: they tell an unversioned
//! duplicate, a new row's `has_newer` promise, and which older rows lose theirs (see the schemas'
//! latest_hint migrations).

pub struct Sibling {
    pub seq: i64,
    pub spec_version: String,
    pub version: i64,
    pub versioned: bool,
    pub producer_org: i64,
    pub has_newer: bool,
}

impl Sibling {
    /// STIX order of versions: spec_version first (as text, like SQL's), then the version.
    pub fn is_later_than(&self, spec_version: &str, version: i64) -> bool {
        (self.spec_version.as_str(), self.version) > (spec_version, version)
    }

    /// Whether adding the version (spec_version, version) breaks this row's promise that no
    /// later version exists, so its `has_newer` must be set.
    pub fn loses_promise_to(&self, spec_version: &str, version: i64) -> bool {
        !self.has_newer && (self.spec_version.as_str(), self.version) < (spec_version, version)
    }

    /// The same unversioned object (an SCO without a version) from the same producer.
    pub fn is_unversioned_copy(&self, spec_version: &str, producer_org: i64) -> bool {
        !self.versioned && self.spec_version == spec_version && self.producer_org == producer_org
    }
}
