//! Rules of STIX 2.1 that the per-type tables cannot express: reference targets, properties that
//! depend on each other, formats of hashes and vocabulary-bound values, and the STIX pattern.

use crate::domain::json::{Json, Obj};

use super::spec::{is_sco, is_sdo, Category, TypeSpec};
use super::{check_kind, Ctx, CustomContent, Kind, Violation};
use crate::domain::pattern;
use crate::domain::stix_id::{is_valid_stix_id, type_of};
use crate::domain::timestamp::{self, Zone};

/// Pseudo-types in reference rules: any SDO, any SCO.
const SDO: &str = "<sdo>";
const SCO: &str = "<sco>";
const ADDRESSES: &[&str] = &["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"];

/// Reference targets from the specification where the schemas leave them open.
pub fn ref_targets(ty: &str, property: &str) -> Option<&'static [&'static str]> {
    Some(match (ty, property) {
        (_, "created_by_ref") => &["identity"],
        (_, "object_marking_refs") => &["marking-definition"],
        ("sighting", "sighting_of_ref") => &[SDO],
        ("sighting", "observed_data_refs") => &["observed-data"],
        ("sighting", "where_sighted_refs") => &["identity", "location"],
        ("observed-data", "object_refs") => &[SCO, "relationship"],
        ("malware", "operating_system_refs") => &["software"],
        ("malware", "sample_refs") => &["file", "artifact"],
        ("malware-analysis", "host_vm_ref" | "operating_system_ref" | "installed_software_refs") => &["software"],
        ("malware-analysis", "sample_ref") => &["file", "artifact", "network-traffic"],
        ("malware-analysis", "analysis_sco_refs") => &[SCO],
        ("directory", "contains_refs") => &["file", "directory"],
        ("domain-name", "resolves_to_refs") => &["ipv4-addr", "ipv6-addr", "domain-name"],
        ("email-addr", "belongs_to_ref") => &["user-account"],
        ("email-message", "from_ref" | "sender_ref" | "to_refs" | "cc_refs" | "bcc_refs") => &["email-addr"],
        ("email-message", "raw_email_ref") => &["artifact"],
        ("file", "parent_directory_ref") => &["directory"],
        ("file", "content_ref") => &["artifact"],
        ("file", "contains_refs") => &[SCO],
        ("ipv4-addr" | "ipv6-addr", "resolves_to_refs") => &["mac-addr"],
        ("ipv4-addr" | "ipv6-addr", "belongs_to_refs") => &["autonomous-system"],
        ("network-traffic", "src_ref" | "dst_ref") => ADDRESSES,
        ("network-traffic", "src_payload_ref" | "dst_payload_ref") => &["artifact"],
        ("network-traffic", "encapsulates_refs" | "encapsulated_by_ref") => &["network-traffic"],
        ("process", "opened_connection_refs") => &["network-traffic"],
        ("process", "creator_user_ref") | ("windows-registry-key", "creator_user_ref") => &["user-account"],
        ("process", "image_ref") => &["file"],
        ("process", "parent_ref" | "child_refs") => &["process"],
        _ => return None,
    })
}

pub fn ref_target_matches(allowed: &[&str], t: &str) -> bool {
    (allowed.contains(&SDO) && (is_sdo(t) || t.starts_with("x-")))
        || (allowed.contains(&SCO) && (is_sco(t) || t.starts_with("x-")))
}

/// Properties outside the tables that are still standard (none today; kept as the one place to add them).
pub fn tolerated_extra(_ty: &str, _property: &str) -> bool {
    false
}

fn ts(obj: &Obj<'_>, name: &str) -> Option<i64> {
    obj.get(name).and_then(Json::as_str).and_then(|s| timestamp::parse(s, Zone::UtcOnly).ok())
}

fn not_before(obj: &Obj<'_>, ctx: &Ctx<'_>, earlier: &str, later: &str, strictly: bool) -> Result<(), Violation> {
    if let (Some(a), Some(b)) = (ts(obj, earlier), ts(obj, later)) {
        if b < a || (strictly && b == a) {
            let how = if strictly { "later than" } else { "earlier than" };
            return if strictly {
                ctx.fail(later, format!("must be {how} {earlier}"))
            } else {
                ctx.fail(later, format!("must not be {how} {earlier}"))
            };
        }
    }
    Ok(())
}

pub fn common(obj: &Obj<'_>, spec: &TypeSpec, ctx: &Ctx<'_>) -> Result<(), Violation> {
    if let Some(v) = obj.get("spec_version") {
        if v.as_str() != Some("2.1") {
            return ctx.fail("spec_version", "must be '2.1'");
        }
    }
    not_before(obj, ctx, "created", "modified", false)?;
    if let Some(ext) = obj.get("extensions") {
        extensions(ctx, ext, spec.category)?;
    }
    Ok(())
}

fn extensions(ctx: &Ctx<'_>, value: &Json<'_>, category: Category) -> Result<(), Violation> {
    let Some(map) = value.as_object() else { return ctx.fail("extensions", "must be a dictionary") };
    if map.is_empty() {
        return ctx.fail("extensions", "must not be an empty dictionary");
    }
    for (key, ext) in map.iter() {
        if !ext.is_object() {
            return ctx.fail("extensions", format!("'{key}' must be an object"));
        }
        if key.starts_with("extension-definition--") {
            if !is_valid_stix_id(key) {
                return ctx.fail("extensions", format!("'{key}' is not an extension-definition identifier"));
            }
            if ctx.custom == CustomContent::Reject {
                return ctx.fail("extensions", format!("'{key}': this collection refuses custom extensions"));
            }
        } else if category != Category::Sco && ctx.custom == CustomContent::Reject {
            return ctx.fail(
                "extensions",
                format!("'{key}' is not a predefined extension, and this collection refuses custom content"),
            );
        }
    }
    Ok(())
}

/// Custom object types (allowed by the collection): the common properties still hold.
pub fn custom_object(obj: &Obj<'_>, ctx: &Ctx<'_>) -> Result<(), Violation> {
    for (name, kind) in [
        ("created", Kind::TimestampMillis),
        ("modified", Kind::TimestampMillis),
        ("created_by_ref", Kind::Ref(&["identity"])),
        ("object_marking_refs", Kind::RefList(&["marking-definition"])),
        ("granular_markings", Kind::GranularMarkings),
        ("external_references", Kind::ExtRefs),
        ("labels", Kind::StrList),
        ("confidence", Kind::Int(Some(0), Some(100))),
        ("revoked", Kind::Bool),
    ] {
        if let Some(v) = obj.get(name) {
            check_kind(ctx, name, v, kind)?;
        }
    }
    not_before(obj, ctx, "created", "modified", false)
}

const HASH_LENGTHS: &[(&str, usize)] =
    &[("MD5", 32), ("SHA-1", 40), ("SHA-256", 64), ("SHA-512", 128), ("SHA3-256", 64), ("SHA3-512", 128)];

pub fn hashes(ctx: &Ctx<'_>, name: &str, value: &Json<'_>) -> Result<(), Violation> {
    let Some(map) = value.as_object() else { return ctx.fail(name, "must be a dictionary of hashes") };
    if map.is_empty() {
        return ctx.fail(name, "must not be empty");
    }
    for (alg, h) in map.iter() {
        let Some(h) = h.as_str() else { return ctx.fail(name, format!("'{alg}' must be a string")) };
        if alg.len() > 250 {
            return ctx.fail(name, "hash algorithm names are at most 250 characters");
        }
        if let Some((_, len)) = HASH_LENGTHS.iter().find(|(a, _)| *a == alg) {
            if h.len() != *len || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                return ctx.fail(name, format!("'{alg}' must be {len} hex digits"));
            }
        }
    }
    Ok(())
}

pub fn kill_chains(ctx: &Ctx<'_>, name: &str, value: &Json<'_>) -> Result<(), Violation> {
    let Some(list) = value.as_array().filter(|l| !l.is_empty()) else {
        return ctx.fail(name, "must be a non-empty list");
    };
    for p in list {
        let ok = p.get("kill_chain_name").and_then(Json::as_str).is_some()
            && p.get("phase_name").and_then(Json::as_str).is_some();
        if !ok {
            return ctx.fail(name, "each kill chain phase needs kill_chain_name and phase_name strings");
        }
    }
    Ok(())
}

pub fn external_references(ctx: &Ctx<'_>, name: &str, value: &Json<'_>) -> Result<(), Violation> {
    let Some(list) = value.as_array().filter(|l| !l.is_empty()) else {
        return ctx.fail(name, "must be a non-empty list");
    };
    for r in list {
        let Some(r) = r.as_object() else { return ctx.fail(name, "each external reference must be an object") };
        let Some(source) = r.get("source_name").and_then(Json::as_str) else {
            return ctx.fail(name, "each external reference needs a source_name");
        };
        if !["description", "url", "external_id"].iter().any(|k| r.contains_key(k)) {
            return ctx
                .fail(name, "an external reference needs a description, url or external_id as well as source_name");
        }
        for k in ["description", "url", "external_id"] {
            if r.get(k).is_some_and(|v| !v.is_string()) {
                return ctx.fail(name, format!("external reference {k} must be a string"));
            }
        }
        if matches!(source, "capec" | "cve") && !r.contains_key("external_id") {
            return ctx.fail(name, format!("a '{source}' external reference needs an external_id"));
        }
        if let Some(h) = r.get("hashes") {
            hashes(ctx, name, h)?;
        }
    }
    Ok(())
}

pub fn granular_markings(ctx: &Ctx<'_>, name: &str, value: &Json<'_>) -> Result<(), Violation> {
    let Some(list) = value.as_array().filter(|l| !l.is_empty()) else {
        return ctx.fail(name, "must be a non-empty list");
    };
    for g in list {
        let Some(g) = g.as_object() else { return ctx.fail(name, "each granular marking must be an object") };
        let selectors = g.get("selectors").and_then(Json::as_array);
        if !selectors.is_some_and(|s| !s.is_empty() && s.iter().all(Json::is_string)) {
            return ctx.fail(name, "selectors must be a non-empty list of strings");
        }
        match (g.get("marking_ref"), g.get("lang")) {
            (Some(m), None) => match m.as_str() {
                Some(m) if is_valid_stix_id(m) && type_of(m) == Some("marking-definition") => {}
                _ => return ctx.fail(name, "marking_ref must reference a marking-definition"),
            },
            (None, Some(l)) if l.is_string() => {}
            _ => return ctx.fail(name, "each granular marking needs exactly one of marking_ref or lang"),
        }
    }
    Ok(())
}

fn has(obj: &Obj<'_>, k: &str) -> bool {
    obj.contains_key(k)
}

/// Type-specific rules; for a STIX-pattern indicator, returns its parsed pattern.
pub fn specific(obj: &Obj<'_>, spec: &TypeSpec, ctx: &Ctx<'_>) -> Result<Option<pattern::Pattern>, Violation> {
    match spec.name {
        "indicator" => {
            not_before(obj, ctx, "valid_from", "valid_until", true)?;
            if obj.get("pattern_type").and_then(Json::as_str) == Some("stix") {
                let text = obj.get("pattern").and_then(Json::as_str).unwrap_or("");
                let parsed = pattern::parse(text).map_err(|e| Violation(format!("indicator.pattern: {e}")))?;
                pattern::check_objects(&parsed, ctx.custom == CustomContent::Allow)
                    .map_err(|e| Violation(format!("indicator.pattern: {e}")))?;
                return Ok(Some(parsed));
            }
        }
        "malware" => {
            if obj.get("is_family").and_then(Json::as_bool) == Some(true) && !has(obj, "name") {
                return ctx.fail("name", "required when is_family is true");
            }
            not_before(obj, ctx, "first_seen", "last_seen", false)?;
        }
        "malware-analysis" if !has(obj, "result") && !has(obj, "analysis_sco_refs") => {
            return ctx.fail("result", "one of result or analysis_sco_refs is required");
        }
        "observed-data" => {
            if !has(obj, "object_refs") && !has(obj, "objects") {
                return ctx.fail("object_refs", "required property is missing");
            }
            if has(obj, "object_refs") && has(obj, "objects") {
                return ctx.fail("objects", "must not be used together with object_refs");
            }
            if let Some(n) = obj.get("number_observed").and_then(Json::as_i64) {
                if !(1..=999_999_999).contains(&n) {
                    return ctx.fail("number_observed", "must be between 1 and 999999999");
                }
            }
            not_before(obj, ctx, "first_observed", "last_observed", false)?;
        }
        "sighting" => {
            not_before(obj, ctx, "first_seen", "last_seen", false)?;
            if let Some(n) = obj.get("count").and_then(Json::as_i64) {
                if !(0..=999_999_999).contains(&n) {
                    return ctx.fail("count", "must be between 0 and 999999999");
                }
            }
        }
        "campaign" | "intrusion-set" | "threat-actor" | "infrastructure" => {
            not_before(obj, ctx, "first_seen", "last_seen", false)?
        }
        "location" => location(obj, ctx)?,
        "relationship" => {
            for end in ["source_ref", "target_ref"] {
                let t = obj.get(end).and_then(Json::as_str).and_then(type_of).unwrap_or("");
                if matches!(
                    t,
                    "relationship" | "sighting" | "marking-definition" | "language-content" | "extension-definition"
                ) {
                    return ctx.fail(end, format!("must reference an SDO or SCO, not '{t}'"));
                }
            }
            not_before(obj, ctx, "start_time", "stop_time", true)?;
        }
        "marking-definition" => marking_definition(obj, ctx)?,
        "extension-definition" if ctx.custom == CustomContent::Reject => {
            return ctx.fail("type", "this collection refuses custom content, including extension definitions");
        }
        "artifact" => {
            if has(obj, "payload_bin") && has(obj, "url") {
                return ctx.fail("url", "must not be used together with payload_bin");
            }
            if has(obj, "url") && !has(obj, "hashes") {
                return ctx.fail("hashes", "required when url is present");
            }
        }
        "file" if !has(obj, "hashes") && !has(obj, "name") => {
            return ctx.fail("name", "one of hashes or name is required")
        }
        "network-traffic" => {
            if !has(obj, "src_ref") && !has(obj, "dst_ref") {
                return ctx.fail("src_ref", "one of src_ref or dst_ref is required");
            }
            not_before(obj, ctx, "start", "end", false)?;
        }
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" if !has(obj, "value") => {
            return ctx.fail("value", "required property is missing");
        }
        "autonomous-system" if !has(obj, "number") => return ctx.fail("number", "required property is missing"),
        "directory" if !has(obj, "path") => return ctx.fail("path", "required property is missing"),
        "email-message" if !has(obj, "is_multipart") => {
            return ctx.fail("is_multipart", "required property is missing")
        }
        "email-message" => {
            let multipart = obj.get("is_multipart").and_then(Json::as_bool) == Some(true);
            if multipart && has(obj, "body") {
                return ctx.fail("body", "must not be present when is_multipart is true (use body_multipart)");
            }
            if !multipart && has(obj, "body_multipart") {
                return ctx.fail("body_multipart", "only allowed when is_multipart is true");
            }
        }
        "process" | "user-account" | "windows-registry-key" | "x509-certificate" => {
            let meaningful = obj.keys().any(|k| {
                !matches!(k, "type" | "id" | "spec_version" | "object_marking_refs" | "granular_markings" | "defanged")
            });
            if !meaningful {
                return ctx.fail("type", "at least one property specific to this type is required");
            }
        }
        _ => {}
    }
    Ok(None)
}

fn location(obj: &Obj<'_>, ctx: &Ctx<'_>) -> Result<(), Violation> {
    let (lat, lon) = (obj.get("latitude").and_then(Json::as_f64), obj.get("longitude").and_then(Json::as_f64));
    if lat.is_some() != lon.is_some() {
        return ctx.fail("longitude", "latitude and longitude must be given together");
    }
    if lat.is_some_and(|v| !(-90.0..=90.0).contains(&v)) {
        return ctx.fail("latitude", "must be between -90 and 90");
    }
    if lon.is_some_and(|v| !(-180.0..=180.0).contains(&v)) {
        return ctx.fail("longitude", "must be between -180 and 180");
    }
    if has(obj, "precision") && lat.is_none() {
        return ctx.fail("precision", "only allowed with latitude and longitude");
    }
    if !has(obj, "region") && !has(obj, "country") && lat.is_none() {
        return ctx.fail("region", "one of region, country, or latitude and longitude is required");
    }
    Ok(())
}

fn marking_definition(obj: &Obj<'_>, ctx: &Ctx<'_>) -> Result<(), Violation> {
    for required in ["id", "spec_version", "created"] {
        if !has(obj, required) {
            return ctx.fail(required, "required property is missing");
        }
    }
    if let Some(created) = obj.get("created") {
        check_kind(ctx, "created", created, Kind::TimestampMillis)?;
    }
    if has(obj, "modified") {
        return ctx.fail("modified", "marking definitions are not versioned and have no modified property");
    }
    match (obj.get("definition_type").and_then(Json::as_str), obj.get("definition")) {
        (Some("statement"), Some(d)) if d.get("statement").and_then(Json::as_str).is_some() => Ok(()),
        (Some("tlp"), Some(d))
            if matches!(d.get("tlp").and_then(Json::as_str), Some("white" | "green" | "amber" | "red")) =>
        {
            Ok(())
        }
        (Some("statement" | "tlp"), _) => ctx.fail("definition", "does not match definition_type"),
        (Some(other), _) => ctx.fail("definition_type", format!("'{other}' is not 'statement' or 'tlp'")),
        (None, Some(_)) => ctx.fail("definition_type", "required when definition is present"),
        (None, None) if has(obj, "extensions") => Ok(()),
        (None, None) => {
            ctx.fail("definition", "a marking definition needs definition_type and definition, or extensions")
        }
    }
}
