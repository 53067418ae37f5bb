//! Property: TLP written the way real producers write it is enforced. Random worlds of
//! organisations and envelopes whose objects and containers express TLP in every form the hub
//! must recognise — standard ids in either case and TLP version, granular markings, self-made
//! definitions in the envelope or stored earlier, TLP 2.0 extension definitions under random
//! ids, statement markings, labels, unknown marking refs — and containers (in the envelope or
//! posted in another one) that refer to them, some refused. What every account observes equals
//! an independent model of the rule: each version at least as restrictive as everything its
//! producer expressed for it, refused where the hub cannot tell.

mod common;

use std::collections::BTreeSet;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use taxii_hub::domain::model::{Membership, OrganisationKind, Role};
use taxii_hub::domain::tlp::Tlp;

const LEVELS: [Tlp; 5] = [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red];

/// How a producer writes a TLP on an object.
#[derive(Debug, Clone)]
enum Style {
    Nothing,
    Standard { tlp: usize, tlp1: bool, upper: bool },
    Granular { tlp: usize },
    SelfMade { tlp: usize, stored: bool },
    Extension { tlp: usize, id: u32 },
    Statement { tlp: usize, spelling: usize },
    Label { tlp: usize, spelling: usize },
    Unknown { id: u32 },
}

#[derive(Debug, Clone)]
struct Org {
    access: u8,
    reader_role: bool,
    redistributes: bool,
}

#[derive(Debug, Clone)]
struct Item {
    object: u64,
    version: usize,
    style: Style,
    recipients: u8,
}

#[derive(Debug, Clone)]
struct Envelope {
    producer: usize,
    items: Vec<Item>,
    /// A grouping: how it is marked, its recipients, and the object numbers it refers to.
    container: Option<(Style, u8, Vec<u64>)>,
}

#[derive(Debug, Clone)]
struct World {
    orgs: Vec<Org>,
    envelopes: Vec<Envelope>,
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![
        3 => Just(Style::Nothing),
        3 => (0usize..5, any::<bool>(), any::<bool>()).prop_map(|(tlp, tlp1, upper)| Style::Standard { tlp, tlp1, upper }),
        1 => (0usize..5).prop_map(|tlp| Style::Granular { tlp }),
        2 => (0usize..5, any::<bool>()).prop_map(|(tlp, stored)| Style::SelfMade { tlp, stored }),
        1 => (0usize..5, any::<u32>()).prop_map(|(tlp, id)| Style::Extension { tlp, id }),
        1 => (0usize..5, 0usize..3).prop_map(|(tlp, spelling)| Style::Statement { tlp, spelling }),
        1 => (0usize..5, 0usize..3).prop_map(|(tlp, spelling)| Style::Label { tlp, spelling }),
        1 => any::<u32>().prop_map(|id| Style::Unknown { id }),
    ]
}

fn world() -> impl Strategy<Value = World> {
    let org = (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(access, reader_role, redistributes)| Org {
        access,
        reader_role,
        redistributes,
    });
    let item = (0u64..4, 0usize..2, style(), any::<u8>()).prop_map(|(object, version, style, recipients)| Item {
        object,
        version,
        style,
        recipients,
    });
    let container = proptest::option::weighted(0.6, (style(), any::<u8>(), proptest::collection::vec(0u64..4, 1..4)));
    let envelope = (0usize..4, proptest::collection::vec(item, 1..4), container)
        .prop_map(|(producer, items, container)| Envelope { producer, items, container });
    (proptest::collection::vec(org, 2..5), proptest::collection::vec(envelope, 1..5)).prop_map(
        |(mut orgs, envelopes)| {
            orgs[0] = Org { access: 3, reader_role: false, redistributes: orgs[0].redistributes };
            let n = orgs.len();
            let envelopes = envelopes.into_iter().map(|e| Envelope { producer: e.producer % n, ..e }).collect();
            World { orgs, envelopes }
        },
    )
}

fn can_read(o: &Org) -> bool {
    o.access & 1 == 1
}
fn can_write(o: &Org) -> bool {
    o.access & 2 == 2 && !o.reader_role
}

// ---- how the hub is told -------------------------------------------------------------------

const TLP2: [&str; 5] = [
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
];
/// TLP 1.0 has no AMBER+STRICT: that level is always written with the TLP 2.0 id.
const TLP1: [&str; 5] = [
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
];
const SPELLINGS: [[&str; 5]; 3] = [
    ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"],
    ["tlp:white", "tlp:green", "tlp:amber", "tlp:amber+strict", "tlp:red"],
    ["Distribution TLP: WHITE", "tlp green", "TLP_AMBER only", "TLP: AMBER + STRICT", "TLP-RED"],
];

const NAMES_1: [&str; 5] = ["white", "green", "amber", "amber+strict", "red"];
const NAMES_2: [&str; 5] = ["clear", "green", "amber", "amber+strict", "red"];

fn def_id(kind: u32, n: u64) -> String {
    format!("marking-definition--{kind:08x}-0000-4000-8000-{n:012x}")
}

fn definition(id: &str, body: Value) -> Value {
    let mut d =
        json!({"type": "marking-definition", "spec_version": "2.1", "id": id, "created": "2020-01-01T00:00:00.000Z"});
    d.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    d
}

/// A self-made TLP definition: `definition_type: "tlp"` where STIX allows the level (TLP 1.0
/// names), the TLP 2.0 extension for AMBER+STRICT.
fn self_made(id: &str, tlp: usize) -> Value {
    if LEVELS[tlp] == Tlp::AmberStrict {
        let ext = json!({"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
            {"extension_type": "property-extension", "tlp_2_0": NAMES_2[tlp]}});
        return definition(id, json!({ "extensions": ext }));
    }
    definition(id, json!({"definition_type": "tlp", "definition": {"tlp": NAMES_1[tlp]}}))
}

/// The stored self-made definitions (posted first, by every writer): one per level.
fn stored_definitions() -> Vec<Value> {
    (0..5).map(|t| self_made(&def_id(0x5700, t as u64), t)).collect()
}

/// Marks `o` in `style`; returns the definitions the envelope must carry for it.
fn mark(o: &mut Value, style: &Style, salt: u64) -> Vec<Value> {
    let upper_uuid = |id: &str| {
        let (kind, uuid) = id.split_once("--").unwrap();
        format!("{kind}--{}", uuid.to_ascii_uppercase())
    };
    match style {
        Style::Nothing => vec![],
        Style::Standard { tlp, tlp1, upper } => {
            let id = if *tlp1 { TLP1[*tlp] } else { TLP2[*tlp] };
            o["object_marking_refs"] = json!([if *upper { upper_uuid(id) } else { id.to_string() }]);
            vec![]
        }
        Style::Granular { tlp } => {
            o["granular_markings"] = json!([{ "marking_ref": TLP2[*tlp], "selectors": ["name"] }]);
            vec![]
        }
        Style::SelfMade { tlp, stored: true } => {
            o["object_marking_refs"] = json!([def_id(0x5700, *tlp as u64)]);
            vec![]
        }
        Style::SelfMade { tlp, stored: false } => {
            let id = def_id(0x5e1f, salt * 8 + *tlp as u64);
            o["object_marking_refs"] = json!([id]);
            vec![self_made(&id, *tlp)]
        }
        Style::Extension { tlp, id } => {
            let id = def_id(*id | 1, salt);
            o["object_marking_refs"] = json!([id]);
            let ext = json!({"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
                {"extension_type": "property-extension", "tlp_2_0": NAMES_2[*tlp]}});
            vec![definition(&id, json!({"name": "partner marking", "extensions": ext}))]
        }
        Style::Statement { tlp, spelling } => {
            let id = def_id(0x57a7, salt * 8 + *tlp as u64);
            o["object_marking_refs"] = json!([id]);
            vec![definition(
                &id,
                json!({"definition_type": "statement", "definition": {"statement": SPELLINGS[*spelling][*tlp]}}),
            )]
        }
        Style::Label { tlp, spelling } => {
            o["labels"] = json!(["misp:category=\"Network activity\"", SPELLINGS[*spelling][*tlp]]);
            vec![]
        }
        Style::Unknown { id } => {
            o["object_marking_refs"] = json!([def_id(0xdead_0000 | (*id & 0xffff), salt)]);
            vec![]
        }
    }
}

fn stamp(v: usize) -> String {
    format!("2024-0{}-01T00:00:00.000Z", v + 1)
}

fn recipients_of(mask: u8, identities: &[String]) -> Vec<String> {
    identities.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, id)| id.clone()).collect()
}

fn envelope_json(e: &Envelope, n: usize, identities: &[String]) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut definitions = Vec::new();
    for (k, item) in e.items.iter().enumerate() {
        let mut o = json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", uuid_for(item.object)),
            "created": "2024-01-01T00:00:00.000Z", "modified": stamp(item.version), "name": "prop",
            "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
        });
        definitions.extend(mark(&mut o, &item.style, (n * 10 + k) as u64));
        if item.recipients != 0 {
            o["x_taxii_hub_recipients"] = json!(recipients_of(item.recipients, identities));
        }
        objects.push(o);
    }
    if let Some((style, recipients, refs)) = &e.container {
        let mut g = json!({
            "type": "grouping", "spec_version": "2.1", "id": format!("grouping--{}", uuid_for(1000 + n as u64)),
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "context": "suspicious-activity",
            "object_refs": refs.iter().map(|r| format!("indicator--{}", uuid_for(*r))).collect::<Vec<_>>(),
        });
        definitions.extend(mark(&mut g, style, (n * 10 + 9) as u64));
        if *recipients != 0 {
            g["x_taxii_hub_recipients"] = json!(recipients_of(*recipients, identities));
        }
        objects.push(g);
    }
    definitions.extend(objects);
    definitions
}

// ---- the model ---------------------------------------------------------------------------

/// A TLP with RED recipients (organisation indices).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Level(Tlp, BTreeSet<usize>);

fn both(a: &Level, b: &Level) -> Level {
    match (a.0 == Tlp::Red, b.0 == Tlp::Red) {
        (true, true) => Level(Tlp::Red, a.1.intersection(&b.1).copied().collect()),
        (true, false) => a.clone(),
        (false, true) => b.clone(),
        _ => Level(a.0.max(b.0), BTreeSet::new()),
    }
}

/// What `style` expresses on its own: Ok(None) for nothing, Ok(Some(RED, ∅)) for RED naming no
/// recipients (a RED container can name them), Err for a refusal.
fn expressed(style: &Style, recipients: u8, w: &World) -> Result<Option<Level>, ()> {
    let tlp = match style {
        Style::Nothing => return Ok(None),
        Style::Unknown { .. } => return Err(()),
        Style::Standard { tlp, .. }
        | Style::Granular { tlp }
        | Style::SelfMade { tlp, .. }
        | Style::Extension { tlp, .. }
        | Style::Statement { tlp, .. }
        | Style::Label { tlp, .. } => LEVELS[*tlp],
    };
    if tlp != Tlp::Red {
        return Ok(Some(Level(tlp, BTreeSet::new())));
    }
    let named: BTreeSet<usize> = (0..w.orgs.len()).filter(|o| recipients & (1 << o) != 0).collect();
    if named.iter().any(|o| !can_read(&w.orgs[*o])) {
        return Err(());
    }
    Ok(Some(Level(Tlp::Red, named)))
}

/// A stored version in the model.
#[derive(Debug, Clone)]
struct Row {
    producer: usize,
    object: u64,
    version: String,
    level: Level,
}

/// Stored containers: (producer, refs, level).
type Containers = Vec<(usize, Vec<u64>, Level)>;

fn model(w: &World) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    let mut containers: Containers = Vec::new();
    for e in &w.envelopes {
        let p = e.producer;
        if !can_write(&w.orgs[p]) {
            continue;
        }
        // A RED container naming no recipients is refused (nothing above it can name them).
        let container = e.container.as_ref().map(|(style, recipients, refs)| {
            let c = expressed(style, *recipients, w).and_then(|c| match c {
                Some(Level(Tlp::Red, named)) if named.is_empty() => Err(()),
                c => Ok(c),
            });
            (c, refs)
        });
        for item in &e.items {
            let own = expressed(&item.style, item.recipients, w);
            let Ok(own) = own else { continue };
            let pending = matches!(&own, Some(Level(Tlp::Red, named)) if named.is_empty());
            let mut level = own;
            let mut resolved = !pending;
            if let Some((c, refs)) = &container {
                if refs.contains(&item.object) {
                    match c {
                        Err(()) => continue,
                        // Its own RED takes the recipients its RED container names.
                        Ok(Some(c)) if pending && c.0 == Tlp::Red => {
                            level = Some(c.clone());
                            resolved = true;
                        }
                        Ok(Some(c)) => level = Some(level.map_or(c.clone(), |l| both(&l, c))),
                        Ok(None) => {}
                    }
                }
            }
            if !resolved {
                continue;
            }
            for (_, _, c) in containers.iter().filter(|(cp, refs, _)| *cp == p && refs.contains(&item.object)) {
                level = Some(level.map_or(c.clone(), |l| both(&l, c)));
            }
            let version = stamp(item.version);
            // A re-post of a stored version makes it as strict as what the re-post expresses.
            match rows.iter_mut().find(|r| r.producer == p && r.object == item.object && r.version == version) {
                Some(stored) => {
                    if let Some(level) = level {
                        stored.level = both(&stored.level, &level);
                    }
                }
                None => {
                    let level = level.unwrap_or(Level(Tlp::Amber, BTreeSet::new()));
                    rows.push(Row { producer: p, object: item.object, version, level });
                }
            }
        }
        if let Some((Ok(Some(c)), refs)) = container {
            for r in rows.iter_mut().filter(|r| r.producer == p && refs.contains(&r.object)) {
                r.level = both(&r.level, &c);
            }
            containers.push((p, refs.clone(), c));
        }
    }
    rows
}

fn visible(row: &Row, viewer: usize, w: &World) -> bool {
    let v = &w.orgs[viewer];
    match row.level.0 {
        Tlp::Clear | Tlp::Green | Tlp::Amber => true,
        _ if v.redistributes => false,
        Tlp::AmberStrict => true,
        Tlp::Red => row.producer == viewer || row.level.1.contains(&viewer),
    }
}

// ---- the run -----------------------------------------------------------------------------

async fn check(hub: &mut TestHub, w: &World, n: usize) -> Result<(), TestCaseError> {
    let tag = format!("m{n}");
    let mut orgs = Vec::new();
    let mut identities = Vec::new();
    for i in 0..w.orgs.len() {
        let (id, identity) = hub.add_org(&format!("{tag}-org{i}"), OrganisationKind::Partner).await;
        orgs.push(id);
        identities.push(identity);
    }
    let members: Vec<(i64, Membership)> = w
        .orgs
        .iter()
        .enumerate()
        .filter(|(_, o)| o.access != 0)
        .map(|(i, o)| (orgs[i], Membership { can_read: o.access & 1 == 1, can_write: o.access & 2 == 2 }))
        .collect();
    let group = hub.add_group(&format!("{tag}-group"), &members).await;
    let alias = format!("{tag}-c");
    hub.add_collection(&alias, group, Tlp::Amber).await;
    let mut users = Vec::new();
    for (i, o) in w.orgs.iter().enumerate() {
        let user = format!("{tag}-u{i}");
        let role = if o.reader_role { Role::Reader } else { Role::Member };
        hub.add_key_account(&user, orgs[i], role, o.redistributes).await;
        users.push(user);
    }
    // Each writer stores its own copy of the self-made definitions (another organisation's copy
    // would not count for it).
    for (i, org) in w.orgs.iter().enumerate().filter(|(_, o)| can_write(o)) {
        let status = hub.add(&users[i], &alias, &stored_definitions()).await;
        prop_assert_eq!(status["success_count"].as_u64(), Some(5), "org{} {:?}", i, org);
    }
    for (k, e) in w.envelopes.iter().enumerate() {
        let resp = hub.post_objects(&users[e.producer], &alias, &envelope_json(e, k, &identities)).await;
        let expect = if can_write(&w.orgs[e.producer]) {
            202
        } else if can_read(&w.orgs[e.producer]) {
            403
        } else {
            404
        };
        prop_assert_eq!(resp.status().as_u16(), expect);
    }
    let rows = model(w);
    for (viewer, user) in users.iter().enumerate() {
        if !can_read(&w.orgs[viewer]) {
            continue;
        }
        let url =
            format!("{}?match[type]=indicator&match[version]=all&limit=1000", hub.collection_url(&alias, "objects/"));
        let (code, _, body) = json_of(hub.get(user, &url).send().await.unwrap()).await;
        prop_assert_eq!(code, 200);
        let mut got: Vec<(String, String)> = body["objects"]
            .as_array()
            .map(|a| {
                a.iter().map(|o| (o["id"].as_str().unwrap().into(), o["modified"].as_str().unwrap().into())).collect()
            })
            .unwrap_or_default();
        got.sort();
        let mut want: Vec<(String, String)> = rows
            .iter()
            .filter(|r| visible(r, viewer, w))
            .map(|r| (format!("indicator--{}", uuid_for(r.object)), r.version.clone()))
            .collect();
        want.sort();
        prop_assert_eq!(got, want, "org{} sees exactly what the expressed TLPs allow", viewer);
    }
    Ok(())
}

#[test]
fn what_producers_express_is_what_readers_get() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = std::cell::RefCell::new(rt.block_on(start()));
    let n = std::cell::Cell::new(0);
    let config = ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(w in world())| {
        n.set(n.get() + 1);
        rt.block_on(check(&mut hub.borrow_mut(), &w, n.get()))?;
    });
}
