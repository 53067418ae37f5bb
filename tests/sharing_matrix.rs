//! The sharing matrix: every kind of account × every TLP marking × every read endpoint, over
//! HTTPS against the real server. Expected visibility is written out by hand, row by row.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use taxii_hub::domain::model::{Membership, OrganisationKind, Role};
use taxii_hub::domain::tlp::Tlp;

const CLEAR2: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const GREEN2: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER2: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
const STRICT2: &str = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
const RED2: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const WHITE1: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
const GREEN1: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const AMBER1: &str = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82";
const RED1: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const STATEMENT: &str = "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";

/// (label, object_marking_refs, granular marking ref, is RED)
const MARKINGS: &[(&str, &[&str], Option<&str>, bool)] = &[
    ("none", &[], None, false),
    ("statement-only", &[STATEMENT], None, false),
    ("clear", &[CLEAR2], None, false),
    ("green", &[GREEN2], None, false),
    ("amber", &[AMBER2], None, false),
    ("amber+strict", &[STRICT2], None, false),
    ("red", &[RED2], None, true),
    ("tlp1-white", &[WHITE1], None, false),
    ("tlp1-green", &[GREEN1], None, false),
    ("tlp1-amber", &[AMBER1], None, false),
    ("tlp1-red", &[RED1], None, true),
    ("mixed-green-strict", &[GREEN2, STRICT2], None, false),
    ("mixed-granular-red", &[GREEN2], Some(RED2), true),
];

/// Who sees which marking. Columns follow MARKINGS.
const MATRIX: &[(&str, [bool; 13])] = &[
    //                none  stmt  clear green amber strict red  w1    g1    a1    r1    g+s   g+RED
    ("producer", [true, true, true, true, true, true, true, true, true, true, true, true, true]),
    ("reader", [true, true, true, true, true, true, false, true, true, true, false, true, false]),
    ("redistributor", [true, true, true, true, true, false, false, true, true, true, false, false, false]),
    ("recipient", [true, true, true, true, true, true, true, true, true, true, true, true, true]),
    ("other-group", [false; 13]),
    ("no-group", [false; 13]),
    ("admin", [false; 13]),
];

fn object(n: usize, marking: &(&str, &[&str], Option<&str>, bool), recipient: &str) -> Value {
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{}", uuid_for(n as u64 + 1)),
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "name": format!("marked {}", marking.0),
        "pattern": "[ipv4-addr:value = '203.0.113.7']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    });
    if !marking.1.is_empty() {
        o["object_marking_refs"] = json!(marking.1);
    }
    if let Some(g) = marking.2 {
        o["granular_markings"] = json!([{ "marking_ref": g, "selectors": ["name"] }]);
    }
    if marking.3 {
        o["x_taxii_hub_recipients"] = json!([recipient]);
    }
    o
}

async fn observed(hub: &TestHub, user: &str) -> [BTreeSet<String>; 4] {
    let list = |rest: &str| {
        let url = format!("{}?match[version]=all&limit=100", hub.collection_url("intel", rest));
        let req = hub.get(user, &url);
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (code, _, objects) = list("objects/").await;
    let indicators = |envelope: &Value| -> BTreeSet<String> {
        ids_of(envelope).into_iter().filter(|id| id.starts_with("indicator--")).collect()
    };
    let from_list: BTreeSet<String> = if code == 200 { indicators(&objects) } else { BTreeSet::new() };
    let (code, _, manifest) = list("manifest/").await;
    let from_manifest: BTreeSet<String> = if code == 200 { indicators(&manifest) } else { BTreeSet::new() };
    let mut from_get = BTreeSet::new();
    let mut from_versions = BTreeSet::new();
    for n in 0..MARKINGS.len() {
        let id = format!("indicator--{}", uuid_for(n as u64 + 1));
        let r = hub.get(user, &hub.collection_url("intel", &format!("objects/{id}/"))).send().await.unwrap();
        match r.status().as_u16() {
            200 => {
                from_get.insert(id.clone());
            }
            404 => {
                let body: Value = r.json().await.unwrap();
                // An invisible object answers exactly like one that never existed.
                let absent = hub
                    .get(user, &hub.collection_url("intel", "objects/indicator--ffffffff-0000-4000-8000-000000000000/"))
                    .send()
                    .await
                    .unwrap();
                let absent: Value = absent.json().await.unwrap();
                assert_eq!(body["title"], absent["title"]);
                assert_eq!(body["http_status"], absent["http_status"]);
                assert_eq!(
                    body["description"].as_str().unwrap().replace(&id, "X"),
                    absent["description"]
                        .as_str()
                        .unwrap()
                        .replace("indicator--ffffffff-0000-4000-8000-000000000000", "X")
                );
            }
            other => panic!("{user} GET {id}: unexpected {other}"),
        }
        let r = hub.get(user, &hub.collection_url("intel", &format!("objects/{id}/versions/"))).send().await.unwrap();
        if r.status() == 200 {
            from_versions.insert(id);
        }
    }
    [from_list, from_manifest, from_get, from_versions]
}

#[tokio::test]
async fn every_account_sees_exactly_what_its_column_says() {
    let mut hub = start().await;
    let (producer, _) = hub.add_org("Producer Bank", OrganisationKind::Partner).await;
    let (reader, _) = hub.add_org("Reader Telco", OrganisationKind::Partner).await;
    let (feeder, _) = hub.add_org("National CERT", OrganisationKind::NationalCert).await;
    let (recipient, recipient_identity) = hub.add_org("Recipient Energy", OrganisationKind::Partner).await;
    let (other, _) = hub.add_org("Other Sector", OrganisationKind::Partner).await;
    let (nogroup, _) = hub.add_org("Lonely Ministry", OrganisationKind::Partner).await;
    let (operator, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    let read = Membership { can_read: true, can_write: false };
    let rw = Membership { can_read: true, can_write: true };
    let group = hub.add_group("Finance", &[(producer, rw), (reader, read), (feeder, read), (recipient, read)]).await;
    let other_group = hub.add_group("Energy", &[(other, rw)]).await;
    hub.add_collection("intel", group, Tlp::Amber).await;
    hub.add_collection("other", other_group, Tlp::Amber).await;
    hub.add_key_account("producer", producer, Role::Member, false).await;
    hub.add_key_account("reader", reader, Role::Reader, false).await;
    hub.add_key_account("redistributor", feeder, Role::Reader, true).await;
    hub.add_key_account("recipient", recipient, Role::Member, false).await;
    hub.add_key_account("other-group", other, Role::Member, false).await;
    hub.add_key_account("no-group", nogroup, Role::Member, false).await;
    hub.add_key_account("admin", operator, Role::Admin, false).await;

    // The statement marking is defined in the envelope: a marking the hub cannot resolve refuses the object.
    let statement = json!({
        "type": "marking-definition", "spec_version": "2.1", "id": STATEMENT, "created": "2024-01-01T00:00:00.000Z",
        "definition_type": "statement", "definition": { "statement": "Copyright Producer Bank" },
    });
    let mut objects: Vec<Value> = MARKINGS.iter().enumerate().map(|(n, m)| object(n, m, &recipient_identity)).collect();
    objects.push(statement);
    let status = hub.add("producer", "intel", &objects).await;
    assert_eq!(status["success_count"], MARKINGS.len() + 1);

    for (user, row) in MATRIX {
        let expected: BTreeSet<String> = MARKINGS
            .iter()
            .enumerate()
            .filter(|(n, _)| row[*n])
            .map(|(n, _)| format!("indicator--{}", uuid_for(n as u64 + 1)))
            .collect();
        let [list, manifest, get, versions] = observed(&hub, user).await;
        for (surface, seen) in
            [("objects", &list), ("manifest", &manifest), ("get object", &get), ("versions", &versions)]
        {
            let label = |ids: &BTreeSet<String>| -> Vec<&str> {
                ids.iter().map(|id| MARKINGS[usize::from_str_radix(&id[id.len() - 12..], 16).unwrap() - 1].0).collect()
            };
            assert_eq!(label(seen), label(&expected), "{user} through {surface}");
        }
        // Collection listing: the intel collection is listed exactly for those with membership.
        let (_, _, cols) = json_of(hub.get(user, &hub.url("/hub/collections/")).send().await.unwrap()).await;
        let listed = cols["collections"].as_array().is_some_and(|cs| cs.iter().any(|c| c["alias"] == "intel"));
        assert_eq!(listed, row.iter().any(|v| *v), "{user}: collection listing");
    }
}

#[tokio::test]
async fn red_needs_member_recipients_and_versions_are_judged_on_their_own_markings() {
    let mut hub = start().await;
    let (producer, _) = hub.add_org("P", OrganisationKind::Partner).await;
    let (reader, reader_identity) = hub.add_org("R", OrganisationKind::Partner).await;
    let (outsider, outsider_identity) = hub.add_org("O", OrganisationKind::Partner).await;
    let rw = Membership { can_read: true, can_write: true };
    let g = hub.add_group("G", &[(producer, rw), (reader, Membership { can_read: true, can_write: false })]).await;
    hub.add_group("H", &[(outsider, rw)]).await;
    hub.add_collection("intel", g, Tlp::Amber).await;
    hub.add_key_account("p", producer, Role::Member, false).await;
    hub.add_key_account("r", reader, Role::Member, false).await;

    let red = |n: u64, recipients: Value| {
        let mut o = indicator(n, "2024-01-01T00:00:00.000Z");
        o["object_marking_refs"] = json!([RED2]);
        o["x_taxii_hub_recipients"] = recipients;
        o
    };
    let resp = hub
        .post_objects(
            "p",
            "intel",
            &[red(1, json!([])), red(2, json!([outsider_identity])), red(3, json!([reader_identity]))],
        )
        .await;
    let (_, _, status) = json_of(resp).await;
    assert_eq!(status["success_count"], 1, "{status}");
    assert_eq!(status["failure_count"], 2);
    let messages: Vec<&str> =
        status["failures"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(messages[0].contains("must name its recipient"), "{messages:?}");
    assert!(messages[1].contains("is not an eligible recipient"), "{messages:?}");

    // Upgrade: v1 GREEN, v2 RED without the reader → the reader keeps seeing v1 as the latest it may see.
    let id = indicator(10, "x")["id"].as_str().unwrap().to_string();
    let mut v1 = indicator(10, "2024-01-01T00:00:00.000Z");
    v1["object_marking_refs"] = json!([GREEN2]);
    let mut v2 = indicator(10, "2024-02-01T00:00:00.000Z");
    v2["object_marking_refs"] = json!([RED2]);
    v2["x_taxii_hub_recipients"] = json!([hub.storage.organisation(producer).await.unwrap().unwrap().identity_id]);
    hub.add("p", "intel", &[v1, v2]).await;
    let get = |user: &'static str| {
        let req = hub.get(user, &hub.collection_url("intel", &format!("objects/{id}/")));
        async move { json_of(req.send().await.unwrap()).await.2 }
    };
    assert_eq!(get("r").await["objects"][0]["modified"], "2024-01-01T00:00:00.000Z");
    assert_eq!(get("p").await["objects"][0]["modified"], "2024-02-01T00:00:00.000Z");
    let (_, _, versions) =
        json_of(hub.get("r", &hub.collection_url("intel", &format!("objects/{id}/versions/"))).send().await.unwrap())
            .await;
    assert_eq!(versions["versions"], json!(["2024-01-01T00:00:00.000Z"]));

    // Downgrade: v3 CLEAR becomes visible to the reader.
    let mut v3 = indicator(10, "2024-03-01T00:00:00.000Z");
    v3["object_marking_refs"] = json!([CLEAR2]);
    hub.add("p", "intel", &[v3]).await;
    assert_eq!(get("r").await["objects"][0]["modified"], "2024-03-01T00:00:00.000Z");
}

#[tokio::test]
async fn only_the_producer_or_an_admin_deletes_and_reposting_does_not_reveal_existence() {
    let mut hub = start().await;
    let (a, _) = hub.add_org("A", OrganisationKind::Partner).await;
    let (b, _) = hub.add_org("B", OrganisationKind::Partner).await;
    let (op, _) = hub.add_org("Op", OrganisationKind::Operator).await;
    let rw = Membership { can_read: true, can_write: true };
    let g = hub.add_group("G", &[(a, rw), (b, rw), (op, rw)]).await;
    hub.add_collection("intel", g, Tlp::Green).await;
    hub.add_key_account("a", a, Role::Member, false).await;
    hub.add_key_account("b", b, Role::Member, false).await;
    hub.add_key_account("admin", op, Role::Admin, false).await;

    let mut red = indicator(1, "2024-01-01T00:00:00.000Z");
    red["object_marking_refs"] = json!([RED2]);
    red["x_taxii_hub_recipients"] = json!([hub.storage.organisation(a).await.unwrap().unwrap().identity_id]);
    hub.add("a", "intel", &[red.clone(), indicator(2, "2024-01-01T00:00:00.000Z")]).await;

    // B re-posts the same id+version: stored as B's own copy, a plain success, no hint that A's exists.
    let mut same = red.clone();
    same["object_marking_refs"] = json!([GREEN2]);
    same.as_object_mut().unwrap().remove("x_taxii_hub_recipients");
    let status = hub.add("b", "intel", &[same]).await;
    assert!(status["successes"][0].get("message").is_none(), "{status}");

    let url = |n: u64| hub.collection_url("intel", &format!("objects/{}/", indicator(n, "x")["id"].as_str().unwrap()));
    let r = hub.as_user(Method::DELETE, "b", &url(2)).send().await.unwrap();
    assert_taxii_error(r, 403).await;
    let r = hub.as_user(Method::DELETE, "a", &url(2)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // B deletes its own copy of object 1; A's RED copy stays.
    let r = hub.as_user(Method::DELETE, "b", &url(1)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (code, _, env) = json_of(hub.get("a", &url(1)).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(env["objects"][0]["object_marking_refs"][0], RED2);
    assert_taxii_error(hub.get("b", &url(1)).send().await.unwrap(), 404).await;
    // An admin may delete what it can see.
    hub.add("b", "intel", &[indicator(3, "2024-01-01T00:00:00.000Z")]).await;
    let r = hub.as_user(Method::DELETE, "admin", &url(3)).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
