use super::*;
use crate::domain::envelope::parse;
use crate::domain::validation::CustomContent;
use serde_json::{json, Value};

const RED2: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const RED1: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const STRICT: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const ALICE: &str = "identity--a11ce000-0000-4000-8000-000000000001";
const BOB: &str = "identity--b0b00000-0000-4000-8000-000000000002";
const OWN_RED: &str = "marking-definition--0000aaaa-1111-4222-8333-444455556666";

fn uuid(n: u32) -> String {
    format!("{n:08x}-0000-4000-8000-000000000000")
}

fn indicator(n: u32) -> Value {
    json!({"type":"indicator","spec_version":"2.1","id":format!("indicator--{}", uuid(n)),
        "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z",
        "pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"})
}

fn grouping(n: u32, refs: &[&Value]) -> Value {
    json!({"type":"grouping","spec_version":"2.1","id":format!("grouping--{}", uuid(n)),
        "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","context":"suspicious-activity",
        "object_refs": refs.iter().map(|o| o["id"].clone()).collect::<Vec<_>>()})
}

fn readers() -> HashMap<String, i64> {
    HashMap::from([(ALICE.to_string(), 1), (BOB.to_string(), 2)])
}

fn rules(unknown_marking: UnknownMarking) -> TlpRules {
    TlpRules { default_tlp: Tlp::Amber, unknown_marking }
}

fn run(objects: &[Value], unknown: UnknownMarking) -> Resolution {
    run_with(objects, &HashMap::new(), unknown)
}

fn run_with(objects: &[Value], stored: &HashMap<String, MarkingMeaning>, unknown: UnknownMarking) -> Resolution {
    let body = json!({ "objects": objects }).to_string();
    resolve(
        parse(body.as_bytes(), CustomContent::Allow, crate::domain::envelope::DEFAULT_MAX_OBJECTS).unwrap(),
        stored,
        &readers(),
        rules(unknown),
    )
}

fn level_of(r: &Resolution, id: &Value) -> Option<Level> {
    r.accepted.iter().find(|o| o.object.stix_id == id["id"].as_str().unwrap()).map(|o| o.level.clone())
}

fn refused(r: &Resolution, id: &Value) -> Option<String> {
    r.refused.iter().find(|d| d.id == id["id"].as_str().unwrap()).and_then(|d| d.message.clone())
}

#[test]
fn contents_inherit_the_container_tlp_and_recipients() {
    let (a, b) = (indicator(1), indicator(2));
    let mut g = grouping(3, &[&a, &b]);
    g["object_marking_refs"] = json!([RED1]);
    g["x_taxii_hub_recipients"] = json!([ALICE]);
    let r = run(&[g.clone(), a.clone(), b.clone()], UnknownMarking::Refuse);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    for o in [&g, &a, &b] {
        assert_eq!(level_of(&r, o), Some(Level::new(Tlp::Red, [1])));
    }
    let inherited = r.accepted.iter().find(|o| o.object.stix_id == a["id"]).unwrap();
    assert_eq!(inherited.reason, TlpReason::InheritedFrom(g["id"].as_str().unwrap().into()));
    assert!(inherited.status_message().unwrap().contains("inherited from grouping--"));
}

#[test]
fn most_restrictive_of_own_and_containers_and_red_recipients_intersect() {
    let (mut a, b, c) = (indicator(1), indicator(2), indicator(3));
    a["object_marking_refs"] = json!([RED2]);
    a["x_taxii_hub_recipients"] = json!([ALICE, BOB]);
    let mut strict = grouping(10, &[&b]);
    strict["object_marking_refs"] = json!([STRICT]);
    let mut red = grouping(11, &[&a, &c]);
    red["object_marking_refs"] = json!([RED2]);
    red["x_taxii_hub_recipients"] = json!([BOB.to_ascii_uppercase().replace("IDENTITY", "identity")]);
    let mut green = grouping(12, &[&a, &b, &c]);
    green["object_marking_refs"] = json!([GREEN]);
    let r = run(&[a.clone(), b.clone(), c.clone(), strict, red, green], UnknownMarking::Refuse);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [2])));
    assert_eq!(level_of(&r, &b), Some(Level::new(Tlp::AmberStrict, [])));
    assert_eq!(level_of(&r, &c), Some(Level::new(Tlp::Red, [2])));
}

#[test]
fn inheritance_is_transitive_through_nested_containers() {
    let ip = json!({"type":"ipv4-addr","id":"ipv4-addr--00000001-0000-4000-8000-000000000000","value":"198.51.100.7"});
    let observed = json!({"type":"observed-data","spec_version":"2.1","id":"observed-data--00000002-0000-4000-8000-000000000000",
        "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","first_observed":"2024-01-01T00:00:00Z",
        "last_observed":"2024-01-01T00:00:00Z","number_observed":1,"object_refs":[ip["id"]]});
    let mut report = grouping(3, &[&observed]);
    report["labels"] = json!(["Threat-Report", "tlp:amber+strict"]);
    let r = run(&[ip.clone(), observed.clone(), report], UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &ip), Some(Level::new(Tlp::AmberStrict, [])));
    assert_eq!(level_of(&r, &observed), Some(Level::new(Tlp::AmberStrict, [])));
}

#[test]
fn a_refused_container_refuses_its_contents() {
    let (a, b, unrelated) = (indicator(1), indicator(2), indicator(4));
    let mut g = grouping(3, &[&a, &b]);
    g["object_marking_refs"] = json!([RED1]); // RED without recipients
    let r = run(&[g.clone(), a.clone(), b.clone(), unrelated.clone()], UnknownMarking::Refuse);
    assert!(refused(&r, &g).unwrap().contains("recipient"));
    for o in [&a, &b] {
        let why = refused(&r, o).unwrap();
        assert!(why.contains(g["id"].as_str().unwrap()), "{why}");
    }
    assert_eq!(level_of(&r, &unrelated), Some(Level::new(Tlp::Amber, [])));
    // An invalid container (its TLP cannot be read at all) refuses its contents too.
    let mut broken = grouping(5, &[&a]);
    broken["context"] = json!(42);
    let r = run(&[broken.clone(), a.clone()], UnknownMarking::Refuse);
    assert!(refused(&r, &broken).is_some());
    assert!(refused(&r, &a).unwrap().contains("grouping--"));
}

#[test]
fn upper_case_standard_ids_are_recognised() {
    let mut a = indicator(1);
    a["object_marking_refs"] = json!([RED2.to_ascii_uppercase().replace("MARKING-DEFINITION", "marking-definition")]);
    let r = run(&[a.clone()], UnknownMarking::Refuse);
    assert!(refused(&r, &a).unwrap().contains("recipient"), "{:?}", r.refused);
    a["x_taxii_hub_recipients"] = json!([ALICE.to_ascii_uppercase().replace("IDENTITY", "identity")]);
    let r = run(&[a.clone()], UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [1])));
}

#[test]
fn self_made_definitions_in_the_envelope_or_stored() {
    let definition = json!({"type":"marking-definition","spec_version":"2.1","id":OWN_RED,"created":"2020-01-01T00:00:00.000Z",
        "definition_type":"tlp","definition":{"tlp":"red"}});
    let mut a = indicator(1);
    a["object_marking_refs"] = json!([OWN_RED]);
    a["x_taxii_hub_recipients"] = json!([ALICE]);
    let r = run(&[definition.clone(), a.clone()], UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [1])));
    assert!(r.accepted.iter().any(|o| o.status_message().is_some_and(|m| m.contains(OWN_RED))));
    // Already stored: the caller looked it up.
    let stored = HashMap::from([(
        OWN_RED.to_string(),
        MarkingMeaning::Tlp(crate::domain::markings::TlpReading::stated(Tlp::Red)),
    )]);
    let r = run_with(&[a.clone()], &stored, UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [1])));
    // Neither: refused by default, RED under the collection's rule.
    let r = run(&[a.clone()], UnknownMarking::Refuse);
    assert!(refused(&r, &a).unwrap().contains("is unknown here; post it first or in the same envelope"));
    let r = run(&[a.clone()], UnknownMarking::Red);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [1])));
    a.as_object_mut().unwrap().remove("x_taxii_hub_recipients");
    let r = run(&[a.clone()], UnknownMarking::Red);
    assert!(refused(&r, &a).is_some());
}

#[test]
fn non_tlp_markings_are_known_and_neutral() {
    let copyright = json!({"type":"marking-definition","spec_version":"2.1","id":OWN_RED,"created":"2020-01-01T00:00:00.000Z",
        "definition_type":"statement","definition":{"statement":"Copyright ACME"}});
    let mut a = indicator(1);
    a["object_marking_refs"] = json!([OWN_RED, GREEN]);
    let r = run(&[copyright, a.clone()], UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Green, [])));
}

#[test]
fn reasons_survive_storage() {
    for reason in [
        TlpReason::CollectionDefault,
        TlpReason::Marking(RED2.into()),
        TlpReason::Label("tlp:red".into()),
        TlpReason::Label("misp:tag=\"tlp red\"".into()),
        TlpReason::UnknownMarking(OWN_RED.into()),
        TlpReason::InheritedFrom("report--00000001-0000-4000-8000-000000000000".into()),
    ] {
        assert_eq!(TlpReason::from_stored(reason.stored().as_deref()), reason);
    }
}

#[test]
fn levels_only_become_more_restrictive() {
    let all = [
        Level::new(Tlp::Clear, []),
        Level::new(Tlp::Amber, []),
        Level::new(Tlp::AmberStrict, []),
        Level::new(Tlp::Red, []),
        Level::new(Tlp::Red, [1]),
        Level::new(Tlp::Red, [1, 2]),
    ];
    for a in &all {
        for b in &all {
            let c = a.and(b);
            assert!(c.tlp >= a.tlp && c.tlp >= b.tlp);
            if c.tlp == Tlp::Red {
                for x in &c.recipients {
                    assert!(
                        (a.tlp != Tlp::Red || a.recipients.contains(x))
                            && (b.tlp != Tlp::Red || b.recipients.contains(x))
                    );
                }
            }
            assert_eq!(c, b.and(a));
        }
    }
}

#[test]
fn red_contents_without_recipients_take_those_of_their_red_container() {
    let mut a = indicator(1);
    a["labels"] = json!(["tlp:red"]);
    let mut g = grouping(3, &[&a]);
    g["object_marking_refs"] = json!([RED1]);
    g["x_taxii_hub_recipients"] = json!([BOB]);
    let r = run(&[g.clone(), a.clone()], UnknownMarking::Refuse);
    assert!(r.refused.is_empty(), "{:?}", r.refused);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Red, [2])));
    // Without a RED container, its own RED still needs recipients.
    let r = run(&[a.clone()], UnknownMarking::Refuse);
    assert!(refused(&r, &a).unwrap().contains("recipient"));
}

#[test]
fn a_mention_never_shares_more_than_the_default() {
    let negated = json!({"type":"marking-definition","spec_version":"2.1","id":OWN_RED,"created":"2020-01-01T00:00:00.000Z",
        "definition_type":"statement","definition":{"statement":"must not be treated as TLP:WHITE"}});
    let mut a = indicator(1);
    a["object_marking_refs"] = json!([OWN_RED]);
    let mut b = indicator(2);
    b["labels"] = json!(["not tlp:clear-text", "see TLP:WHITE guidance"]);
    let r = run(&[negated, a.clone(), b.clone()], UnknownMarking::Refuse);
    assert_eq!(level_of(&r, &a), Some(Level::new(Tlp::Amber, [])));
    assert_eq!(level_of(&r, &b), Some(Level::new(Tlp::Amber, [])));
}

/// Long chains and many copies of one container: levels pass along each id a bounded number of
/// times, so envelopes shaped like these resolve in linear work (and correctly).
#[test]
fn chains_and_repeated_containers() {
    let n = 3000u32;
    let mut objects: Vec<Value> = Vec::new();
    let leaf = indicator(1);
    objects.push(leaf.clone());
    let mut previous = leaf.clone();
    for k in 0..n {
        let g = grouping(100 + k, &[&previous]);
        objects.push(g.clone());
        previous = g;
    }
    // Only the last grouping of the chain is marked.
    let last = objects.len() - 1;
    objects[last]["object_marking_refs"] = json!([STRICT]);
    // Many copies of one self-referring grouping.
    let mut copy = grouping(99, &[]);
    copy["object_refs"] = json!([copy["id"], leaf["id"]]);
    copy["object_marking_refs"] = json!([GREEN]);
    objects.extend(std::iter::repeat_n(copy.clone(), 3000));
    let r = run(&objects, UnknownMarking::Refuse);
    assert!(r.refused.is_empty());
    assert_eq!(level_of(&r, &leaf), Some(Level::new(Tlp::AmberStrict, [])));
    assert_eq!(level_of(&r, &objects[1]), Some(Level::new(Tlp::AmberStrict, [])));
    assert_eq!(level_of(&r, &copy), Some(Level::new(Tlp::Green, [])));
}
