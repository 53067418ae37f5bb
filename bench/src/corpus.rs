//! Seeded, realistic STIX 2.1 corpora: indicators with real STIX patterns (~1 KB each),
//! relationships, sightings, reports, malware, and new versions of earlier indicators.
//!
//! Everything is a pure function of (seed, stream, envelope index), so the same command produces
//! the same bytes on every machine, and every server in a run receives exactly the same envelopes.
//! Envelope `e` belongs to partner `e % partners`; a revision only revises an indicator that the
//! same partner posted in an earlier envelope (so it is a new version of that partner's object).

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

pub const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
pub const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
pub const TLP_AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
pub const TLP_AMBER_STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
pub const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// Objects per effective TLP level and RED objects per recipient, after each report passed its
/// level to the objects of the envelope it refers to: the more restrictive of the two, and for
/// two REDs only the recipients both name (reports refer to this envelope's indicators only).
fn effective_tallies(
    objects: &[Value],
    mut levels: Vec<(usize, Vec<usize>)>,
    partners: usize,
) -> ([usize; 5], Vec<usize>) {
    let index: std::collections::HashMap<&str, usize> =
        objects.iter().enumerate().filter_map(|(i, o)| Some((o["id"].as_str()?, i))).collect();
    for (r, report) in objects.iter().enumerate() {
        let Some(refs) = report["object_refs"].as_array() else { continue };
        let (level, recipients) = levels[r].clone();
        for target in refs.iter().filter_map(|t| index.get(t.as_str()?)) {
            let own = &mut levels[*target];
            match (own.0 == 4, level == 4) {
                (true, true) => own.1.retain(|o| recipients.contains(o)),
                (false, true) => *own = (4, recipients.clone()),
                _ => own.0 = own.0.max(level),
            }
        }
    }
    let mut per_tlp = [0usize; 5];
    let mut red = vec![0usize; partners];
    for (level, recipients) in levels {
        per_tlp[level] += 1;
        if level == 4 {
            for r in recipients {
                red[r] += 1;
            }
        }
    }
    (per_tlp, red)
}

/// Which TLP levels a stream uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Markings {
    /// CLEAR, GREEN and AMBER: every reader of the collection may see every object.
    Shared,
    /// All five TLP 2.0 levels; RED objects name 1–2 recipient organisations.
    Mixed,
}

#[derive(Clone, Debug)]
pub struct Stream {
    pub seed: u64,
    /// Distinguishes streams with the same seed ("bench", "tlp", "live").
    pub tag: &'static str,
    /// STIX identity id of each partner (index = partner number).
    pub producers: Vec<String>,
    pub markings: Markings,
    /// Fraction of each envelope that revises earlier indicators of the same partner.
    pub revision_share: f64,
}

/// One envelope, serialised, with what the server should report back.
#[derive(Clone)]
pub struct Envelope {
    pub partner: usize,
    pub body: Bytes,
    pub objects: usize,
    /// Objects that are new versions of ids posted before (they add a version, not an id).
    pub revisions: usize,
    /// Per TLP level (CLEAR..RED), for the visibility accounting of the TLP workload.
    pub per_tlp: [usize; 5],
    /// RED objects naming each partner as a recipient (index = partner).
    pub red_recipients: Vec<usize>,
}

/// Builds envelopes of a stream in order, remembering how many indicators each one has, so
/// later envelopes can revise them.
pub struct Generator {
    stream: Stream,
    indicator_slots: Vec<u32>,
}

const BASE_MS: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

impl Generator {
    pub fn new(stream: Stream) -> Self {
        Generator { stream, indicator_slots: Vec::new() }
    }

    /// The next envelope of the stream, with `size` objects.
    pub fn envelope(&mut self, size: usize) -> Envelope {
        let e = self.indicator_slots.len() as u64;
        let partners = self.stream.producers.len().max(1);
        let partner = (e % partners as u64) as usize;
        let mut rng = StdRng::seed_from_u64(mix(self.stream.seed, hash_str(self.stream.tag), e, 0x5eed));
        let producer = self
            .stream
            .producers
            .get(partner)
            .cloned()
            .unwrap_or_else(|| uuid_id("identity", self.stream.seed, 1, 0, 0));

        // Composition: ~2% revisions, 58% indicators, 20% relationships, 10% sightings,
        // 3% malware, the rest reports.
        let has_earlier = e >= partners as u64;
        let revisions = if has_earlier { (size as f64 * self.stream.revision_share).round() as usize } else { 0 };
        let indicators = ((size as f64) * 0.58).round().max(1.0) as usize;
        let relationships = (size as f64 * 0.20).round() as usize;
        let sightings = (size as f64 * 0.10).round() as usize;
        let malware = (size as f64 * 0.03).round() as usize;
        let fixed = revisions + indicators + relationships + sightings + malware;
        let (indicators, reports) =
            if fixed >= size { (indicators.saturating_sub(fixed - size), 0) } else { (indicators, size - fixed) };

        let mut objects: Vec<Value> = Vec::with_capacity(size);
        // Each object's TLP level and RED recipients, as marked; tallied per level once reports
        // have passed theirs to the indicators they refer to (the hub's container rule).
        let mut levels: Vec<(usize, Vec<usize>)> = Vec::with_capacity(size);
        let mark = |rng: &mut StdRng, obj: &mut Value, levels: &mut Vec<(usize, Vec<usize>)>| {
            let level = self::pick_tlp(rng, self.stream.markings);
            let marking = [TLP_CLEAR, TLP_GREEN, TLP_AMBER, TLP_AMBER_STRICT, TLP_RED][level];
            obj["object_marking_refs"] = json!([marking]);
            let mut chosen: Vec<usize> = Vec::new();
            if level == 4 {
                // Recipients: one or two other partners (the producer always sees its own).
                let n = (if partners > 2 && rng.gen_bool(0.5) { 2 } else { 1 }).min(partners.saturating_sub(1));
                while chosen.len() < n {
                    let r = rng.gen_range(0..partners);
                    if r != partner && !chosen.contains(&r) {
                        chosen.push(r);
                    }
                }
                let ids: Vec<&str> = chosen.iter().map(|r| self.stream.producers[*r].as_str()).collect();
                obj["x_taxii_hub_recipients"] = json!(ids);
            }
            levels.push((level, chosen));
        };

        let mut indicator_ids = Vec::with_capacity(indicators);
        for slot in 0..indicators {
            let id = uuid_id("indicator", self.stream.seed, hash_str(self.stream.tag), e, slot as u64);
            let created = created_ms(self.stream.seed, self.stream.tag, e, slot as u64);
            let mut obj = indicator(&mut rng, &id, &producer, created, created);
            mark(&mut rng, &mut obj, &mut levels);
            indicator_ids.push(id);
            objects.push(obj);
        }
        let mut malware_ids = Vec::with_capacity(malware);
        for slot in 0..malware {
            let id = uuid_id("malware", self.stream.seed, hash_str(self.stream.tag) ^ 0x11, e, slot as u64);
            let created = created_ms(self.stream.seed, self.stream.tag, e, 10_000 + slot as u64);
            let mut obj = malware_obj(&mut rng, &id, &producer, created);
            mark(&mut rng, &mut obj, &mut levels);
            malware_ids.push(id);
            objects.push(obj);
        }
        for slot in 0..relationships {
            let id = uuid_id("relationship", self.stream.seed, hash_str(self.stream.tag) ^ 0x22, e, slot as u64);
            let created = created_ms(self.stream.seed, self.stream.tag, e, 20_000 + slot as u64);
            let source = &indicator_ids[rng.gen_range(0..indicator_ids.len())];
            let target = if !malware_ids.is_empty() && rng.gen_bool(0.5) {
                malware_ids[rng.gen_range(0..malware_ids.len())].clone()
            } else {
                // A family posted earlier in the stream (dangling references are legal STIX).
                let earlier = rng.gen_range(0..=e);
                uuid_id("malware", self.stream.seed, hash_str(self.stream.tag) ^ 0x11, earlier, 0)
            };
            let mut obj = relationship(&mut rng, &id, &producer, created, source, &target);
            mark(&mut rng, &mut obj, &mut levels);
            objects.push(obj);
        }
        for slot in 0..sightings {
            let id = uuid_id("sighting", self.stream.seed, hash_str(self.stream.tag) ^ 0x33, e, slot as u64);
            let created = created_ms(self.stream.seed, self.stream.tag, e, 30_000 + slot as u64);
            let of = &indicator_ids[rng.gen_range(0..indicator_ids.len())];
            let mut obj = sighting(&mut rng, &id, &producer, created, of);
            mark(&mut rng, &mut obj, &mut levels);
            objects.push(obj);
        }
        for slot in 0..reports {
            let id = uuid_id("report", self.stream.seed, hash_str(self.stream.tag) ^ 0x44, e, slot as u64);
            let created = created_ms(self.stream.seed, self.stream.tag, e, 40_000 + slot as u64);
            let n = rng.gen_range(8..=20).min(indicator_ids.len());
            let mut refs: Vec<String> =
                (0..n).map(|_| indicator_ids[rng.gen_range(0..indicator_ids.len())].clone()).collect();
            refs.sort();
            refs.dedup();
            let mut obj = report(&mut rng, &id, &producer, created, &refs);
            mark(&mut rng, &mut obj, &mut levels);
            objects.push(obj);
        }
        let mut revised = std::collections::HashSet::new();
        for slot in 0..revisions {
            // An indicator this partner posted in an earlier envelope, revised in this one.
            let earlier = loop {
                let k = rng.gen_range(0..(e / partners as u64));
                let cand = k * partners as u64 + partner as u64;
                if cand < e {
                    break cand;
                }
            };
            let slots = self.indicator_slots[earlier as usize].max(1) as u64;
            let old_slot = rng.gen_range(0..slots);
            if !revised.insert((earlier, old_slot)) {
                // Two revisions of one id in one envelope would only be one more version.
                continue;
            }
            let id = uuid_id("indicator", self.stream.seed, hash_str(self.stream.tag), earlier, old_slot);
            let created = created_ms(self.stream.seed, self.stream.tag, earlier, old_slot);
            // Strictly later than any version of it posted before: one second per envelope.
            let modified = created + 86_400_000 + (e as i64) * 1000 + slot as i64;
            let mut obj = indicator(&mut rng, &id, &producer, created, modified);
            obj["confidence"] = json!(rng.gen_range(30..=100));
            mark(&mut rng, &mut obj, &mut levels);
            objects.push(obj);
        }
        let revisions = revised.len();
        let count = objects.len();
        let (per_tlp, red_recipients) = effective_tallies(&objects, levels, partners);
        self.indicator_slots.push(indicators as u32);
        let body = serde_json::to_vec(&json!({ "objects": objects })).expect("JSON");
        Envelope { partner, body: Bytes::from(body), objects: count, revisions, per_tlp, red_recipients }
    }
}

fn pick_tlp(rng: &mut StdRng, markings: Markings) -> usize {
    let x: f64 = rng.gen();
    match markings {
        // CLEAR 30%, GREEN 40%, AMBER 30%
        Markings::Shared => {
            if x < 0.3 {
                0
            } else if x < 0.7 {
                1
            } else {
                2
            }
        }
        // CLEAR 25%, GREEN 25%, AMBER 25%, AMBER+STRICT 15%, RED 10%
        Markings::Mixed => {
            if x < 0.25 {
                0
            } else if x < 0.5 {
                1
            } else if x < 0.75 {
                2
            } else if x < 0.9 {
                3
            } else {
                4
            }
        }
    }
}

// ---- deterministic ids and times -------------------------------------------------------------

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn mix(a: u64, b: u64, c: u64, d: u64) -> u64 {
    splitmix(splitmix(splitmix(splitmix(a) ^ b) ^ c) ^ d)
}

pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// `type--<uuid v4>` from a hash of the inputs.
pub fn uuid_id(kind: &str, seed: u64, tag: u64, a: u64, b: u64) -> String {
    let hi = mix(seed, tag ^ hash_str(kind), a, b);
    let lo = mix(hi, seed, b, a ^ 0xa5a5);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{kind}--{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn created_ms(seed: u64, tag: &str, e: u64, slot: u64) -> i64 {
    // Within 2025, millisecond precision.
    BASE_MS + (mix(seed, hash_str(tag) ^ 0x77, e, slot) % (300 * 86_400_000)) as i64
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
pub fn ts_ms(ms: i64) -> String {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{milli:03}Z")
}

/// `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`
pub fn ts_micros(us: i64) -> String {
    let (secs, micro) = (us.div_euclid(1_000_000), us.rem_euclid(1_000_000));
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{micro:06}Z")
}

pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32, (rem % 60) as u32)
}

// ---- object bodies ----------------------------------------------------------------------------

const FAMILIES: &[&str] = &[
    "Emotet",
    "QakBot",
    "IcedID",
    "Cobalt Strike",
    "AgentTesla",
    "LockBit",
    "BlackCat",
    "Sliver",
    "AsyncRAT",
    "RedLine",
    "Raccoon",
    "Formbook",
    "Remcos",
    "DarkGate",
    "Pikabot",
    "Lumma",
    "SocGholish",
    "Bumblebee",
    "Akira",
    "Rhysida",
];
const SECTORS: &[&str] =
    &["financial", "energy", "telecommunications", "government", "healthcare", "transport", "water"];
const ACTIVITY: &[&str] = &[
    "command-and-control infrastructure",
    "phishing delivery",
    "initial access brokerage",
    "credential harvesting",
    "ransomware staging",
    "data exfiltration",
    "loader distribution",
];
const PHASES: &[&str] = &[
    "reconnaissance",
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "command-and-control",
    "exfiltration",
    "impact",
];
const TLDS: &[&str] = &["com", "net", "org", "info", "xyz", "top", "online", "site", "eu", "pt"];
const SYLL: &[&str] = &[
    "up", "date", "sec", "cdn", "mail", "cloud", "port", "al", "net", "sync", "auth", "login", "ver", "ify", "pay",
    "box", "drive", "doc", "srv", "api", "tel", "bank", "web", "id",
];

fn hex(rng: &mut StdRng, n: usize) -> String {
    const H: &[u8] = b"0123456789abcdef";
    (0..n).map(|_| H[rng.gen_range(0..16)] as char).collect()
}

fn ipv4(rng: &mut StdRng) -> String {
    format!("{}.{}.{}.{}", rng.gen_range(11..223), rng.gen_range(0..256), rng.gen_range(0..256), rng.gen_range(1..255))
}

fn domain(rng: &mut StdRng) -> String {
    let n = rng.gen_range(2..4);
    let label: String = (0..n).map(|_| SYLL[rng.gen_range(0..SYLL.len())]).collect::<Vec<_>>().join("");
    let num = if rng.gen_bool(0.4) { format!("{}", rng.gen_range(1..99)) } else { String::new() };
    format!("{label}{num}.{}", TLDS[rng.gen_range(0..TLDS.len())])
}

fn pattern(rng: &mut StdRng) -> String {
    match rng.gen_range(0..8) {
        0 => format!("[file:hashes.'SHA-256' = '{}']", hex(rng, 64)),
        1 => format!("[ipv4-addr:value = '{}']", ipv4(rng)),
        2 => format!("[domain-name:value = '{}']", domain(rng)),
        3 => format!("[url:value = 'https://{}/{}/{}.php?id={}']", domain(rng), SYLL[rng.gen_range(0..SYLL.len())], hex(rng, 8), rng.gen_range(100..99999)),
        4 => format!("[file:hashes.MD5 = '{}'] OR [file:hashes.'SHA-1' = '{}']", hex(rng, 32), hex(rng, 40)),
        5 => format!(
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '{}' AND network-traffic:dst_port = {}]",
            ipv4(rng),
            [443, 8443, 4444, 8080, 53, 25][rng.gen_range(0..6)]
        ),
        6 => format!("[email-message:from_ref.value = '{}@{}' AND email-message:subject = 'Invoice {}']", SYLL[rng.gen_range(0..SYLL.len())], domain(rng), rng.gen_range(1000..99999)),
        _ => format!("[ipv4-addr:value = '{}'] FOLLOWEDBY [domain-name:value = '{}'] WITHIN 600 SECONDS", ipv4(rng), domain(rng)),
    }
}

fn indicator(rng: &mut StdRng, id: &str, producer: &str, created: i64, modified: i64) -> Value {
    let family = FAMILIES[rng.gen_range(0..FAMILIES.len())];
    let activity = ACTIVITY[rng.gen_range(0..ACTIVITY.len())];
    let sector = SECTORS[rng.gen_range(0..SECTORS.len())];
    let advisory = rng.gen_range(1000..9999);
    let first = created - rng.gen_range(1..30) * 86_400_000;
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": producer,
        "created": ts_ms(created),
        "modified": ts_ms(modified),
        "name": format!("{family} {activity}"),
        "description": format!(
            "Observable associated with {family} {activity}, first seen {} during an incident response engagement in the {sector} sector. \
             Extracted from network telemetry and confirmed by sandbox detonation of a related sample. \
             Block at the perimeter and search proxy, DNS and EDR logs for historical matches.",
            &ts_ms(first)[..10]
        ),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern(rng),
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": ts_ms(created),
        "valid_until": ts_ms(created + 180 * 86_400_000),
        "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": PHASES[rng.gen_range(0..PHASES.len())]}],
        "labels": [sector, family.to_lowercase().replace(' ', "-")],
        "confidence": rng.gen_range(30..=95),
        "lang": "en",
        "external_references": [{
            "source_name": "national-cert-advisory",
            "url": format!("https://cert.example/advisories/2025-{advisory}"),
            "external_id": format!("ADV-2025-{advisory}")
        }]
    })
}

fn malware_obj(rng: &mut StdRng, id: &str, producer: &str, created: i64) -> Value {
    let family = FAMILIES[rng.gen_range(0..FAMILIES.len())];
    let kind = ["ransomware", "trojan", "backdoor", "dropper", "remote-access-trojan"][rng.gen_range(0..5)];
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": producer,
        "created": ts_ms(created),
        "modified": ts_ms(created),
        "name": format!("{family} variant {}", rng.gen_range(1..40)),
        "description": format!("{family} build observed in {} campaigns; shares code with earlier variants.", SECTORS[rng.gen_range(0..SECTORS.len())]),
        "malware_types": [kind],
        "is_family": false,
        "aliases": [format!("{}-{}", family.to_lowercase().replace(' ', ""), hex(rng, 4))]
    })
}

fn relationship(rng: &mut StdRng, id: &str, producer: &str, created: i64, source: &str, target: &str) -> Value {
    json!({
        "type": "relationship",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": producer,
        "created": ts_ms(created),
        "modified": ts_ms(created),
        "relationship_type": "indicates",
        "source_ref": source,
        "target_ref": target,
        "description": format!("Indicator linked to the family by infrastructure overlap (confidence {}).", rng.gen_range(40..95))
    })
}

fn sighting(rng: &mut StdRng, id: &str, producer: &str, created: i64, of: &str) -> Value {
    let first = created - rng.gen_range(1..72) * 3_600_000;
    json!({
        "type": "sighting",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": producer,
        "created": ts_ms(created),
        "modified": ts_ms(created),
        "first_seen": ts_ms(first),
        "last_seen": ts_ms(created),
        "count": rng.gen_range(1..500),
        "sighting_of_ref": of,
        "where_sighted_refs": [producer]
    })
}

fn report(rng: &mut StdRng, id: &str, producer: &str, created: i64, refs: &[String]) -> Value {
    let family = FAMILIES[rng.gen_range(0..FAMILIES.len())];
    let sector = SECTORS[rng.gen_range(0..SECTORS.len())];
    json!({
        "type": "report",
        "spec_version": "2.1",
        "id": id,
        "created_by_ref": producer,
        "created": ts_ms(created),
        "modified": ts_ms(created),
        "name": format!("Weekly {sector} sector threat summary: {family}"),
        "description": format!(
            "Summary of {family} activity against {sector} organisations this week: delivery infrastructure, \
             second-stage payloads and the indicators partners should block. Includes detection guidance."
        ),
        "report_types": ["threat-report"],
        "published": ts_ms(created),
        "object_refs": refs,
        "labels": [sector]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(markings: Markings) -> Stream {
        Stream {
            seed: 42,
            tag: "t",
            producers: (0..5).map(|i| uuid_id("identity", 1, 2, i, 0)).collect(),
            markings,
            revision_share: 0.02,
        }
    }

    #[test]
    fn deterministic_and_sized() {
        let mut a = Generator::new(stream(Markings::Mixed));
        let mut b = Generator::new(stream(Markings::Mixed));
        for _ in 0..12 {
            let (x, y) = (a.envelope(100), b.envelope(100));
            assert_eq!(x.body, y.body);
            assert!((98..=100).contains(&x.objects), "{} objects", x.objects);
        }
        let e = a.envelope(1000);
        let avg = e.body.len() / e.objects;
        assert!((600..1200).contains(&avg), "average object size {avg}");
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts_ms(BASE_MS), "2025-01-01T00:00:00.000Z");
        assert_eq!(ts_micros(951_782_400_000_001), "2000-02-29T00:00:00.000001Z");
    }
}
