//! TLP as real producers express it, enforced and failing closed: markings on the containers
//! of an event (MISP puts the event's TLP only on its grouping/report), containers posted in
//! other envelopes, standard ids in upper case, self-made TLP definitions, TLP 2.0 extension
//! definitions, statement and label TLPs, and markings the hub cannot resolve. Every test checks
//! every role of the sharing matrix over HTTPS.

// Envelopes are written as literal slices of the objects they hold.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod common;

use std::collections::BTreeSet;

use common::world::{audience, sharing_world, visible_ids, ROLES};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use taxii_hub::domain::tlp::Tlp;

const RED1: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const RED2: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const STRICT2: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const SELF_MADE: &str = "marking-definition--7e1f0000-aaaa-4bbb-8ccc-000000000001";

fn id(o: &Value) -> String {
    o["id"].as_str().unwrap().to_string()
}

fn grouping(n: u64, refs: &[&Value]) -> Value {
    json!({
        "type": "grouping", "spec_version": "2.1", "id": format!("grouping--{}", uuid_for(n)),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": "event", "context": "suspicious-activity",
        "object_refs": refs.iter().map(|o| o["id"].clone()).collect::<Vec<_>>(),
    })
}

/// Asserts that each role sees exactly the `expected` objects among `ids`.
async fn assert_audience(hub: &TestHub, ids: &[String], expected: impl Fn(&str) -> BTreeSet<&'static str>) {
    for role in ROLES {
        let seen = visible_ids(hub, role).await;
        for object in ids {
            let should = expected(object).contains(role);
            assert_eq!(
                seen.contains(object),
                should,
                "{role} {} {object}",
                if should { "must see" } else { "must not see" }
            );
        }
    }
}

async fn post(hub: &TestHub, user: &str, objects: &[Value]) -> Value {
    let resp = hub.post_objects(user, "intel", objects).await;
    assert_eq!(resp.status(), 202);
    resp.json().await.unwrap()
}

fn message_of<'a>(status: &'a Value, list: &str, object: &Value) -> &'a str {
    status[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == object["id"])
        .and_then(|d| d["message"].as_str())
        .unwrap_or("")
}

/// The reported leak: a RED event whose TLP is only on its grouping, as misp-stix writes it.
#[tokio::test]
async fn a_red_grouping_passes_its_tlp_and_recipients_to_everything_it_contains() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": format!("ipv4-addr--{}", uuid_for(1)), "value": "198.51.100.7"});
    let observed = json!({
        "type": "observed-data", "spec_version": "2.1", "id": format!("observed-data--{}", uuid_for(2)),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "first_observed": "2024-01-01T00:00:00Z", "last_observed": "2024-01-01T00:00:00Z", "number_observed": 1,
        "object_refs": [ip["id"]],
    });
    let ind = indicator(3, "2024-01-01T00:00:00.000Z");
    // The grouping names the observed-data only: the address inherits through it.
    let mut event = grouping(4, &[&observed, &ind]);
    event["object_marking_refs"] = json!([RED1]);
    event["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
    let unrelated = indicator(5, "2024-01-01T00:00:00.000Z");
    let status =
        post(&hub, "producer", &[ip.clone(), observed.clone(), ind.clone(), event.clone(), unrelated.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    assert!(message_of(&status, "successes", &ind).contains(&format!("inherited from {}", id(&event))), "{status}");
    assert!(message_of(&status, "successes", &ip).contains("effective TLP:RED"), "{status}");

    let red: Vec<String> = [&ip, &observed, &ind, &event].iter().map(|o| id(o)).collect();
    let mut all = red.clone();
    all.push(id(&unrelated));
    assert_audience(&hub, &all, |o| if *o == id(&unrelated) { audience(Tlp::Amber) } else { audience(Tlp::Red) }).await;
}

#[tokio::test]
async fn a_refused_red_grouping_refuses_its_contents_too() {
    let mut hub = start().await;
    sharing_world(&mut hub).await;
    let (a, b) = (indicator(1, "2024-01-01T00:00:00.000Z"), indicator(2, "2024-01-01T00:00:00.000Z"));
    let mut event = grouping(3, &[&a, &b]);
    event["object_marking_refs"] = json!([RED1]);
    let status = post(&hub, "producer", &[event.clone(), a.clone(), b.clone()]).await;
    assert_eq!(status["success_count"], 0, "{status}");
    assert!(message_of(&status, "failures", &event).contains("recipient"), "{status}");
    for o in [&a, &b] {
        assert!(message_of(&status, "failures", o).contains(&id(&event)), "{status}");
    }
    assert_audience(&hub, &[id(&a), id(&b), id(&event)], |_| BTreeSet::new()).await;
}

#[tokio::test]
async fn standard_ids_and_recipients_in_upper_case_are_recognised() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let upper = |s: &str| {
        let (kind, uuid) = s.split_once("--").unwrap();
        format!("{kind}--{}", uuid.to_ascii_uppercase())
    };
    let mut red = indicator(1, "2024-01-01T00:00:00.000Z");
    red["object_marking_refs"] = json!([upper(RED2)]);
    let status = post(&hub, "producer", &[red.clone()]).await;
    assert!(message_of(&status, "failures", &red).contains("recipient"), "unmarked RED must be refused: {status}");
    red["x_taxii_hub_recipients"] = json!([upper(&world.recipient_identity)]);
    let mut strict = indicator(2, "2024-01-01T00:00:00.000Z");
    strict["granular_markings"] = json!([{ "marking_ref": upper(STRICT2), "selectors": ["name"] }]);
    let status = post(&hub, "producer", &[red.clone(), strict.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    assert_audience(&hub, &[id(&red), id(&strict)], |o| {
        if *o == id(&red) {
            audience(Tlp::Red)
        } else {
            audience(Tlp::AmberStrict)
        }
    })
    .await;
}

#[tokio::test]
async fn self_made_extension_statement_and_label_tlps_are_enforced() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let definition = |n: u64, body: Value| {
        let mut d = json!({
            "type": "marking-definition", "spec_version": "2.1", "id": format!("marking-definition--{}", uuid_for(n)),
            "created": "2020-01-01T00:00:00.000Z",
        });
        d.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
        d
    };
    let own_red = definition(100, json!({"definition_type": "tlp", "definition": {"tlp": "red"}}));
    let ext_strict = definition(
        101,
        json!({"name": "amber strict", "extensions": {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension", "tlp_2_0": "amber+strict"}}}),
    );
    let statement_red = definition(
        102,
        json!({"definition_type": "statement", "definition": {"statement": "TLP: RED - recipients only"}}),
    );
    let marked = |n: u64, marking: &Value| {
        let mut o = indicator(n, "2024-01-01T00:00:00.000Z");
        o["object_marking_refs"] = json!([marking["id"]]);
        o["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
        o
    };
    let (a, b, c) = (marked(1, &own_red), marked(2, &ext_strict), marked(3, &statement_red));
    let mut labelled = indicator(4, "2024-01-01T00:00:00.000Z");
    labelled["labels"] = json!(["misp:type=\"ip-dst\"", "tlp:amber+strict"]);
    // The definitions in one envelope, the objects in the same one…
    let status = post(&hub, "producer", &[own_red.clone(), ext_strict.clone(), a.clone(), labelled.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    assert!(message_of(&status, "successes", &a).contains(&id(&own_red)), "{status}");
    // …or in a later one, the definition already stored.
    let status = post(&hub, "producer", &[statement_red.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    let status = post(&hub, "producer", &[b.clone(), c.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    let strict: BTreeSet<String> = [id(&b), id(&labelled)].into();
    assert_audience(&hub, &[id(&a), id(&b), id(&c), id(&labelled)], |o| {
        if strict.contains(o) {
            audience(Tlp::AmberStrict)
        } else {
            audience(Tlp::Red)
        }
    })
    .await;
}

#[tokio::test]
async fn unknown_markings_are_refused_or_red_by_the_collection_rule() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let mut o = indicator(1, "2024-01-01T00:00:00.000Z");
    o["object_marking_refs"] = json!([SELF_MADE]);
    let status = post(&hub, "producer", &[o.clone()]).await;
    let why = message_of(&status, "failures", &o);
    assert!(why.contains(&format!("{SELF_MADE} is unknown here; post it first or in the same envelope")), "{status}");
    // A definition in another collection the producer may not read does not count.
    let elsewhere = json!({"type": "marking-definition", "spec_version": "2.1", "id": SELF_MADE,
        "created": "2020-01-01T00:00:00.000Z", "definition_type": "tlp", "definition": {"tlp": "white"}});
    let r = hub
        .as_user(Method::POST, "other-group", &hub.collection_url("other", "objects/"))
        .header("Content-Type", TAXII)
        .body(json!({ "objects": [elsewhere.clone()] }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let status = post(&hub, "producer", &[o.clone()]).await;
    assert_eq!(status["success_count"], 0, "{status}");
    // A definition that claims TLP but names no level is as good as unknown.
    let unreadable = json!({"type": "marking-definition", "spec_version": "2.1", "id": SELF_MADE,
        "created": "2020-01-01T00:00:00.000Z", "extensions": {
        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {"extension_type": "property-extension", "tlp_2_0": "purple"}}});
    let mut p = indicator(2, "2024-01-01T00:00:00.000Z");
    p["object_marking_refs"] = json!([SELF_MADE]);
    let status = post(&hub, "producer", &[unreadable, p.clone()]).await;
    assert!(message_of(&status, "failures", &p).contains("cannot be read as TLP"), "{status}");

    // unknown_marking_tlp = "red": the same object is stored as RED (and needs recipients).
    let collection = hub.collections["intel"].clone();
    let r = hub
        .as_user(Method::PATCH, "admin", &hub.url(&format!("/admin/collections/{collection}/")))
        .header("Content-Type", "application/json")
        .body(json!({ "unknown_marking_tlp": "red" }).to_string())
        .send()
        .await
        .unwrap();
    let (code, _, body) = json_of(r).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["unknown_marking_tlp"], "red");
    let status = post(&hub, "producer", &[o.clone()]).await;
    assert!(message_of(&status, "failures", &o).contains("recipient"), "{status}");
    o["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
    let status = post(&hub, "producer", &[o.clone()]).await;
    assert_eq!(status["failure_count"], 0, "{status}");
    assert!(message_of(&status, "successes", &o).contains("unknown markings"), "{status}");
    assert_audience(&hub, &[id(&o)], |_| audience(Tlp::Red)).await;
    let r = hub
        .as_user(Method::PATCH, "admin", &hub.url(&format!("/admin/collections/{collection}/")))
        .header("Content-Type", "application/json")
        .body(json!({ "unknown_marking_tlp": "green" }).to_string())
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, 400).await;
}

#[tokio::test]
async fn a_container_posted_later_restricts_what_is_stored_and_what_comes_after() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let early = indicator(1, "2024-01-01T00:00:00.000Z");
    let peers = indicator(2, "2024-01-01T00:00:00.000Z");
    post(&hub, "producer", &[early.clone()]).await;
    post(&hub, "peer", &[peers.clone()]).await;
    assert!(visible_ids(&hub, "reader").await.contains(&id(&early)));

    // A RED grouping naming both (the first in upper case): the producer's own object becomes
    // RED before any further read; the peer's object is the peer's to mark and stays AMBER.
    let mut event = grouping(3, &[&early, &peers]);
    let upper_ref = format!("indicator--{}", uuid_for(1).to_ascii_uppercase());
    event["object_refs"] = json!([upper_ref, peers["id"]]);
    event["object_marking_refs"] = json!([RED2]);
    event["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
    post(&hub, "producer", &[event.clone()]).await;
    // A later version of the contained object, posted without any marking, inherits too.
    let later = indicator(1, "2024-02-01T00:00:00.000Z");
    let status = post(&hub, "producer", &[later.clone()]).await;
    assert!(message_of(&status, "successes", &later).contains(&id(&event)), "{status}");
    assert_audience(&hub, &[id(&early), id(&peers), id(&event)], |o| {
        if *o == id(&peers) {
            audience(Tlp::Amber)
        } else {
            audience(Tlp::Red)
        }
    })
    .await;
    // Both versions are RED: the reader gets 404 for the object, on every endpoint.
    for path in [format!("objects/{}/", id(&early)), format!("objects/{}/versions/", id(&early))] {
        assert_taxii_error(hub.get("reader", &hub.collection_url("intel", &path)).send().await.unwrap(), 404).await;
    }
}

#[tokio::test]
async fn re_posting_a_stored_object_with_a_stricter_marking_restricts_the_stored_copy() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let plain = indicator(1, "2024-01-01T00:00:00.000Z");
    post(&hub, "producer", &[plain.clone()]).await;
    let mut red = plain.clone();
    red["object_marking_refs"] = json!([RED2]);
    red["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
    let status = post(&hub, "producer", &[red]).await;
    assert_eq!(status["successes"][0]["message"], "already present", "{status}");
    assert_audience(&hub, &[id(&plain)], |_| audience(Tlp::Red)).await;
}

#[tokio::test]
async fn admins_see_how_each_version_is_shared_and_why() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let ind = indicator(1, "2024-01-01T00:00:00.000Z");
    let mut event = grouping(2, &[&ind]);
    event["labels"] = json!(["TLP:RED"]);
    event["x_taxii_hub_recipients"] = json!([world.recipient_identity]);
    post(&hub, "producer", &[ind.clone(), event.clone()]).await;
    let collection = hub.collections["intel"].clone();
    let sharing = |user: &'static str, object: String| {
        let url = hub.url(&format!("/admin/collections/{collection}/objects/{object}/"));
        let req = hub.get(user, &url);
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (code, _, body) = sharing("admin", id(&ind).to_ascii_uppercase().replace("INDICATOR", "indicator")).await;
    assert_eq!(code, 200, "{body}");
    let v = &body["versions"][0];
    assert_eq!(v["effective_tlp"], "red", "{body}");
    assert_eq!(v["tlp_reason"], format!("inherited from {}", id(&event)));
    assert_eq!(v["recipients"].as_array().unwrap().len(), 1);
    let (_, _, body) = sharing("admin", id(&event)).await;
    assert_eq!(body["versions"][0]["tlp_reason"], "label TLP:RED", "{body}");
    assert_eq!(sharing("admin", format!("indicator--{}", uuid_for(99))).await.0, 404);
    assert_eq!(sharing("producer", id(&ind)).await.0, 403, "partners do not reach the admin API");
}
