//! The effective TLP of every object of an envelope, from everything its producer expressed:
//! its own markings and labels ([`super::markings`]), the containers that refer to it, and the
//! collection's rules for objects without a TLP and for markings the hub cannot read.
//!
//! The rule, failing closed:
//! - an object's own TLP is the most restrictive of its marking refs (standard, defined in the
//!   envelope, or stored in the collection) and its TLP labels;
//! - a container (anything with `object_refs`) that expresses a TLP passes it to every object it
//!   refers to in the envelope, transitively; an object ends at least as restrictive as each of
//!   its containers, and a RED object is shared only with recipients every RED source names;
//! - a marking the hub cannot resolve refuses the object (or counts as RED where the collection
//!   says so), and a refused container refuses the objects it contains;
//! - an object that expresses nothing gets the collection's default.
//!
//! Storage then applies the same [`Level::and`] to containers stored earlier (see the ingest of
//! each backend), so the effective TLP of a version can only become more restrictive.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::envelope::{IncomingObject, ParsedEnvelope};
use super::markings::MarkingMeaning;
use super::model::StatusDetail;
use super::policy::red_recipients;
use super::timestamp::format_nanos;
use super::tlp::Tlp;

/// What a collection does with an object that refers to a marking-definition the hub cannot
/// resolve (not standard, not in the envelope, not stored) or cannot read as TLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownMarking {
    /// Refuse the object (the default): "post the definition first or in the same envelope".
    #[default]
    Refuse,
    /// Treat the marking as TLP:RED (the object then needs recipients like any RED object).
    Red,
}

impl UnknownMarking {
    pub fn parse(s: &str) -> Option<UnknownMarking> {
        match s.trim().to_ascii_lowercase().as_str() {
            "refuse" => Some(UnknownMarking::Refuse),
            "red" | "tlp:red" => Some(UnknownMarking::Red),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            UnknownMarking::Refuse => "refuse",
            UnknownMarking::Red => "red",
        }
    }
}

/// The collection's TLP rules.
#[derive(Debug, Clone, Copy)]
pub struct TlpRules {
    pub default_tlp: Tlp,
    pub unknown_marking: UnknownMarking,
}

/// A TLP with, for RED, the organisations (besides the producer) that may read the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub tlp: Tlp,
    pub recipients: BTreeSet<i64>,
}

impl Level {
    pub fn new(tlp: Tlp, recipients: impl IntoIterator<Item = i64>) -> Level {
        let recipients = if tlp == Tlp::Red { recipients.into_iter().collect() } else { BTreeSet::new() };
        Level { tlp, recipients }
    }

    /// The least restrictive level that is at least as restrictive as both: the higher TLP, and
    /// for two REDs only the recipients both name.
    pub fn and(&self, other: &Level) -> Level {
        match (self.tlp == Tlp::Red, other.tlp == Tlp::Red) {
            (true, true) => {
                Level { tlp: Tlp::Red, recipients: self.recipients.intersection(&other.recipients).copied().collect() }
            }
            (true, false) => self.clone(),
            (false, true) => other.clone(),
            (false, false) => Level { tlp: self.tlp.max(other.tlp), recipients: BTreeSet::new() },
        }
    }
}

/// Why a version has its effective TLP; stored with it and shown to its producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlpReason {
    /// It expressed no TLP.
    CollectionDefault,
    /// Its own marking (a lower-cased marking-definition id).
    Marking(String),
    /// A TLP label among its `labels`.
    Label(String),
    /// A marking the hub cannot read, under the collection's `unknown_marking_tlp = "red"`.
    UnknownMarking(String),
    /// A container that refers to it (its id).
    InheritedFrom(String),
}

impl TlpReason {
    /// The text kept with the version; `None` for the collection default.
    pub fn stored(&self) -> Option<String> {
        match self {
            TlpReason::CollectionDefault => None,
            TlpReason::Marking(r) => Some(format!("marking {r}")),
            TlpReason::Label(l) => Some(format!("label {l}")),
            TlpReason::UnknownMarking(r) => Some(format!("unknown marking {r}")),
            TlpReason::InheritedFrom(c) => Some(format!("inherited from {c}")),
        }
    }

    pub fn from_stored(text: Option<&str>) -> TlpReason {
        let Some(text) = text else { return TlpReason::CollectionDefault };
        let (kind, value) = text.split_once(' ').unwrap_or((text, ""));
        match kind {
            "marking" => TlpReason::Marking(value.into()),
            "label" => TlpReason::Label(value.into()),
            "unknown" => TlpReason::UnknownMarking(value.trim_start_matches("marking ").into()),
            _ => TlpReason::InheritedFrom(value.trim_start_matches("from ").into()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TlpReason::CollectionDefault => "the collection's default (no TLP expressed)".into(),
            TlpReason::Marking(r) => format!("its marking {r}"),
            TlpReason::Label(l) => format!("its label '{l}'"),
            TlpReason::UnknownMarking(r) => format!("the collection's rule for unknown markings ({r})"),
            TlpReason::InheritedFrom(c) => format!("inherited from {c}"),
        }
    }
}

/// An object ready to store: its effective level and why.
#[derive(Debug, Clone)]
pub struct ResolvedObject {
    pub object: IncomingObject,
    pub level: Level,
    pub reason: TlpReason,
}

impl ResolvedObject {
    /// Raises the object to what a container referring to it expresses; true when that changed it.
    pub fn inherit(&mut self, container_id: &str, container: &Level) -> bool {
        let raised = self.level.and(container);
        if raised == self.level {
            return false;
        }
        self.level = raised;
        self.reason = TlpReason::InheritedFrom(container_id.to_string());
        true
    }

    /// The status message of an accepted object, when the hub's reading of its TLP is worth
    /// telling: anything but a standard marking of its own or the collection default.
    pub fn status_message(&self) -> Option<String> {
        let plain = match &self.reason {
            TlpReason::CollectionDefault => true,
            TlpReason::Marking(r) => Tlp::of_marking(r).is_some(),
            _ => false,
        };
        if plain {
            return None;
        }
        let mut text =
            format!("effective TLP:{}: {}", self.level.tlp.name().to_ascii_uppercase(), self.reason.describe());
        if self.level.tlp == Tlp::Red && self.level.recipients.is_empty() {
            text.push_str("; its RED sources name no recipient in common, so only your organisation may read it");
        }
        Some(text)
    }
}

#[derive(Debug)]
pub struct Resolution {
    pub accepted: Vec<ResolvedObject>,
    pub refused: Vec<StatusDetail>,
}

/// Marking refs of the envelope that are neither standard TLP ids nor defined in the envelope:
/// the collection's stored marking-definitions are looked up for these.
pub fn refs_to_look_up(parsed: &ParsedEnvelope) -> Vec<String> {
    let defined: HashSet<String> = parsed
        .accepted
        .iter()
        .filter(|o| o.marks.definition.is_some())
        .map(|o| o.stix_id.to_ascii_lowercase())
        .collect();
    let mut refs: Vec<String> = parsed
        .accepted
        .iter()
        .flat_map(|o| o.marks.marking_refs.iter())
        .filter(|r| Tlp::of_marking(r).is_none() && !defined.contains(r.as_str()))
        .cloned()
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

/// Whether resolving needs the collection's readers (identity id → organisation): only when an
/// object names recipients. A RED object naming none is refused without them.
pub fn needs_readers(parsed: &ParsedEnvelope) -> bool {
    parsed.accepted.iter().any(|o| !o.recipients.is_empty())
}

/// Decides the effective TLP of every accepted object of the envelope. `stored` holds the
/// meaning of the collection's stored marking-definitions (lower-cased ids) among
/// [`refs_to_look_up`]; `readers` maps lower-cased identity ids of the collection's readers to
/// organisations.
pub fn resolve(
    parsed: ParsedEnvelope,
    stored: &HashMap<String, MarkingMeaning>,
    readers: &HashMap<String, i64>,
    rules: TlpRules,
) -> Resolution {
    let ParsedEnvelope { accepted: objects, rejected: mut refused, refused_containers } = parsed;
    let mut in_envelope: HashMap<String, MarkingMeaning> = HashMap::new();
    for o in &objects {
        if let Some(meaning) = &o.marks.definition {
            let id = o.stix_id.to_ascii_lowercase();
            let merged = match in_envelope.remove(&id) {
                Some(before) => before.and(meaning.clone()),
                None => meaning.clone(),
            };
            in_envelope.insert(id, merged);
        }
    }
    let meaning_of = |r: &str| -> Option<MarkingMeaning> {
        let standard = Tlp::of_marking(r).map(MarkingMeaning::Tlp);
        let posted = in_envelope.get(r).or_else(|| stored.get(r)).cloned();
        match (standard, posted) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        }
    };

    // 1. What each object expresses itself; None where it expresses nothing.
    let mut expressed: Vec<Option<(Level, TlpReason)>> = Vec::with_capacity(objects.len());
    let mut refusal: Vec<Option<String>> = Vec::with_capacity(objects.len());
    for o in &objects {
        match own_level(o, &meaning_of, readers, rules) {
            Ok(level) => {
                expressed.push(level);
                refusal.push(None);
            }
            Err(message) => {
                expressed.push(None);
                refusal.push(Some(message));
            }
        }
    }

    // 2. Containers pass what they express to what they refer to, until nothing changes. Each
    // change makes a level strictly more restrictive, so this ends.
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        by_id.entry(o.stix_id.to_ascii_lowercase()).or_default().push(i);
    }
    let containers: Vec<usize> = (0..objects.len()).filter(|i| !objects[*i].marks.object_refs.is_empty()).collect();
    loop {
        let mut changed = false;
        for &c in &containers {
            let (Some((level, _)), None) = (expressed[c].clone(), &refusal[c]) else { continue };
            for r in &objects[c].marks.object_refs {
                for &j in by_id.get(r).into_iter().flatten() {
                    if j == c {
                        continue;
                    }
                    let raised = match &expressed[j] {
                        Some((own, _)) => own.and(&level),
                        None => level.clone(),
                    };
                    if expressed[j].as_ref().map(|(l, _)| l) != Some(&raised) {
                        expressed[j] = Some((raised, TlpReason::InheritedFrom(objects[c].stix_id.clone())));
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }

    // 3. A refused container refuses what it contains, transitively.
    let mut queue: Vec<(String, Vec<String>)> = refused_containers;
    for (i, o) in objects.iter().enumerate() {
        if refusal[i].is_some() && !o.marks.object_refs.is_empty() {
            queue.push((o.stix_id.clone(), o.marks.object_refs.clone()));
        }
    }
    while let Some((container, refs)) = queue.pop() {
        for r in &refs {
            for &j in by_id.get(r).into_iter().flatten() {
                if refusal[j].is_none() {
                    refusal[j] = Some(format!(
                        "{}: refused with its container {container}, which was refused (the TLP it expresses cannot be applied)",
                        objects[j].stix_type
                    ));
                    if !objects[j].marks.object_refs.is_empty() {
                        queue.push((objects[j].stix_id.clone(), objects[j].marks.object_refs.clone()));
                    }
                }
            }
        }
    }

    // 4. The collection default for what expressed nothing; RED by default needs recipients too.
    let mut accepted = Vec::with_capacity(objects.len());
    for ((object, level), refused_because) in objects.into_iter().zip(expressed).zip(refusal) {
        let outcome = match (refused_because, level) {
            (Some(message), _) => Err(message),
            (None, Some((level, reason))) => Ok((level, reason)),
            (None, None) => red_level(&object, rules.default_tlp, readers).map(|l| (l, TlpReason::CollectionDefault)),
        };
        match outcome {
            Ok((level, reason)) => accepted.push(ResolvedObject { object, level, reason }),
            Err(message) => refused.push(StatusDetail {
                id: object.stix_id,
                version: object.version.map(format_nanos).unwrap_or_default(),
                message: Some(message),
            }),
        }
    }
    Resolution { accepted, refused }
}

/// The level an object expresses through its own markings and labels.
fn own_level(
    o: &IncomingObject,
    meaning_of: &dyn Fn(&str) -> Option<MarkingMeaning>,
    readers: &HashMap<String, i64>,
    rules: TlpRules,
) -> Result<Option<(Level, TlpReason)>, String> {
    let mut best: Option<(Tlp, TlpReason)> = None;
    let mut consider = |tlp: Tlp, reason: TlpReason| {
        if best.as_ref().is_none_or(|(b, _)| tlp > *b) {
            best = Some((tlp, reason));
        }
    };
    for r in &o.marks.marking_refs {
        let unknown = match meaning_of(r) {
            Some(MarkingMeaning::Tlp(t)) => {
                consider(t, TlpReason::Marking(r.clone()));
                continue;
            }
            Some(MarkingMeaning::NotTlp) => continue,
            Some(MarkingMeaning::Unreadable(why)) => {
                format!("{}: marking {r} cannot be read as TLP ({why})", o.stix_type)
            }
            None => format!("{}: {r} is unknown here; post it first or in the same envelope", o.stix_type),
        };
        match rules.unknown_marking {
            UnknownMarking::Refuse => return Err(unknown),
            UnknownMarking::Red => consider(Tlp::Red, TlpReason::UnknownMarking(r.clone())),
        }
    }
    if let Some((t, label)) = &o.marks.label {
        consider(*t, TlpReason::Label(label.clone()));
    }
    match best {
        None => Ok(None),
        Some((tlp, reason)) => Ok(Some((red_level(o, tlp, readers)?, reason))),
    }
}

/// `tlp` as a level; for RED, with the object's own recipients, which it must name.
fn red_level(o: &IncomingObject, tlp: Tlp, readers: &HashMap<String, i64>) -> Result<Level, String> {
    if tlp != Tlp::Red {
        return Ok(Level::new(tlp, []));
    }
    Ok(Level::new(Tlp::Red, red_recipients(&o.stix_type, &o.recipients, readers)?))
}

#[cfg(test)]
#[path = "effective_tlp_tests.rs"]
mod tests;
