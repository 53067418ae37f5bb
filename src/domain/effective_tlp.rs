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

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::envelope::{IncomingObject, ParsedEnvelope};
use super::markings::{MarkingMeaning, TlpReading};
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

/// Orders an envelope's objects for storage from the least to the most restricted (stably, so
/// objects of one level keep the producer's order). Objects of one envelope get consecutive
/// `date_added` values; in this order what a reader may see of an envelope is one unbroken run
/// at its start, so the gaps between the values it sees do not count the objects hidden from it.
/// (TLP:RED objects for different recipients are the exception: they sort by recipient set.)
pub fn order_for_storage(accepted: &mut [ResolvedObject]) {
    accepted.sort_by(|a, b| (a.level.tlp.rank(), &a.level.recipients).cmp(&(b.level.tlp.rank(), &b.level.recipients)));
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

/// What an object expresses on its own.
#[derive(Debug, Clone)]
enum Own {
    Nothing,
    Level(Level, TlpReason),
    /// RED without recipients of its own: a RED container referring to it can name them.
    RedWithoutRecipients(TlpReason),
}

/// Decides the effective TLP of every accepted object of the envelope. `stored` holds the
/// meaning of the producer's stored marking-definitions (lower-cased ids) among
/// [`refs_to_look_up`]; `readers` maps lower-cased identity ids of the collection's readers to
/// organisations.
///
/// Linear in the envelope: levels are passed on per id, and an id's level can only become more
/// restrictive a bounded number of times, so a container is looked at again only when what it
/// expresses has changed.
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
    // Every reading of a ref counts: the standard id, the envelope's definition, the stored one.
    let meaning_of = |r: &str| -> Option<MarkingMeaning> {
        [
            Tlp::of_marking(r).map(|t| MarkingMeaning::Tlp(TlpReading::stated(t))),
            in_envelope.get(r).cloned(),
            stored.get(r).cloned(),
        ]
        .into_iter()
        .flatten()
        .reduce(MarkingMeaning::and)
    };

    // 1. What each object expresses itself.
    let mut own: Vec<Own> = Vec::with_capacity(objects.len());
    let mut refusal: Vec<Option<String>> = Vec::with_capacity(objects.len());
    for o in &objects {
        match own_level(o, &meaning_of, readers, rules) {
            Ok(level) => {
                own.push(level);
                refusal.push(None);
            }
            Err(message) => {
                own.push(Own::Nothing);
                refusal.push(Some(message));
            }
        }
    }
    let ids: Vec<String> = objects.iter().map(|o| o.stix_id.to_ascii_lowercase()).collect();
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        by_id.entry(id.as_str()).or_default().push(i);
    }
    let is_container = |i: usize| !objects[i].marks.object_refs.is_empty();

    // 2. What containers pass on, per referenced id, until nothing changes.
    let mut inherited: HashMap<&str, (Level, &str)> = HashMap::new();
    let expressed = |i: usize, inherited: &HashMap<&str, (Level, &str)>| -> Option<(Level, TlpReason)> {
        combine(&own[i], inherited.get(ids[i].as_str()))
    };
    let mut queue: VecDeque<usize> = (0..objects.len()).filter(|i| is_container(*i)).collect();
    let mut queued: Vec<bool> = (0..objects.len()).map(is_container).collect();
    while let Some(c) = queue.pop_front() {
        queued[c] = false;
        if refusal[c].is_some() {
            continue;
        }
        let Some((level, _)) = expressed(c, &inherited) else { continue };
        for r in &objects[c].marks.object_refs {
            let Some((key, targets)) = by_id.get_key_value(r.as_str()) else { continue };
            let raised = match inherited.get(key) {
                Some((before, _)) => before.and(&level),
                None => level.clone(),
            };
            if inherited.get(key).is_some_and(|(before, _)| *before == raised) {
                continue;
            }
            inherited.insert(key, (raised, objects[c].stix_id.as_str()));
            for &j in targets {
                if is_container(j) && !queued[j] {
                    queued[j] = true;
                    queue.push_back(j);
                }
            }
        }
    }

    // 3. RED without recipients of its own needs a RED container that names them.
    for i in 0..objects.len() {
        if refusal[i].is_none() && matches!(own[i], Own::RedWithoutRecipients(_)) {
            let resolved = inherited.get(ids[i].as_str()).is_some_and(|(l, _)| l.tlp == Tlp::Red);
            if !resolved {
                refusal[i] = red_recipients(&objects[i].stix_type, &[], readers).err();
            }
        }
    }

    // 4. A refused container refuses what it contains, transitively, each id once.
    let mut queue: Vec<(String, Vec<String>)> = refused_containers;
    for (i, o) in objects.iter().enumerate() {
        if refusal[i].is_some() && is_container(i) {
            queue.push((o.stix_id.clone(), o.marks.object_refs.clone()));
        }
    }
    let mut done: HashSet<String> = HashSet::new();
    while let Some((container, refs)) = queue.pop() {
        for r in refs {
            if !done.insert(r.clone()) {
                continue;
            }
            for &j in by_id.get(r.as_str()).into_iter().flatten() {
                if refusal[j].is_none() {
                    refusal[j] = Some(format!(
                        "{}: refused with its container {container}, which was refused (the TLP it expresses cannot be applied)",
                        objects[j].stix_type
                    ));
                }
                if is_container(j) {
                    queue.push((objects[j].stix_id.clone(), objects[j].marks.object_refs.clone()));
                }
            }
        }
    }

    // 5. The collection default for what expressed nothing; RED by default needs recipients too.
    let levels: Vec<Option<(Level, TlpReason)>> = (0..objects.len()).map(|i| expressed(i, &inherited)).collect();
    let mut accepted = Vec::with_capacity(objects.len());
    for ((object, level), refused_because) in objects.into_iter().zip(levels).zip(refusal) {
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

/// An object's level from what it expresses and what its containers pass on to its id.
fn combine(own: &Own, inherited: Option<&(Level, &str)>) -> Option<(Level, TlpReason)> {
    let from = |c: &str| TlpReason::InheritedFrom(c.to_string());
    match (own, inherited) {
        (Own::Nothing, None) => None,
        (Own::Nothing, Some((level, c))) => Some((level.clone(), from(c))),
        (Own::Level(level, reason), None) => Some((level.clone(), reason.clone())),
        (Own::Level(level, reason), Some((passed, c))) => {
            let both = level.and(passed);
            let reason = if both == *level { reason.clone() } else { from(c) };
            Some((both, reason))
        }
        // Its own RED, shared with the recipients its RED container names.
        (Own::RedWithoutRecipients(reason), Some((passed, _))) if passed.tlp == Tlp::Red => {
            Some((passed.clone(), reason.clone()))
        }
        (Own::RedWithoutRecipients(reason), _) => Some((Level::new(Tlp::Red, []), reason.clone())),
    }
}

/// The level an object expresses through its own markings and labels.
fn own_level(
    o: &IncomingObject,
    meaning_of: &dyn Fn(&str) -> Option<MarkingMeaning>,
    readers: &HashMap<String, i64>,
    rules: TlpRules,
) -> Result<Own, String> {
    let mut best: Option<(Tlp, TlpReason)> = None;
    let mut consider = |tlp: Option<Tlp>, reason: TlpReason| {
        if let Some(tlp) = tlp.filter(|t| best.as_ref().is_none_or(|(b, _)| t > b)) {
            best = Some((tlp, reason));
        }
    };
    for r in &o.marks.marking_refs {
        let unknown = match meaning_of(r) {
            Some(MarkingMeaning::Tlp(reading)) => {
                consider(reading.level(rules.default_tlp), TlpReason::Marking(r.clone()));
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
            UnknownMarking::Red => consider(Some(Tlp::Red), TlpReason::UnknownMarking(r.clone())),
        }
    }
    if let Some((reading, label)) = &o.marks.label {
        consider(reading.level(rules.default_tlp), TlpReason::Label(label.clone()));
    }
    match best {
        None => Ok(Own::Nothing),
        Some((Tlp::Red, reason)) if o.recipients.is_empty() => Ok(Own::RedWithoutRecipients(reason)),
        Some((tlp, reason)) => Ok(Own::Level(red_level(o, tlp, readers)?, reason)),
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
