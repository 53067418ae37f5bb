//! Property: for random organisations, trust-group memberships, accounts and objects with
//! random markings and versions, what every account can observe through every endpoint equals
//! what the sharing rule allows — and its pages, `more` flags and counts are the same as in a
//! world where the objects it may not see were never posted.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use taxii_hub::domain::model::{Membership, OrganisationKind, Role};
use taxii_hub::domain::tlp::Tlp;

const MARKS: &[(&str, Option<&str>)] = &[
    ("default", None),
    ("clear", Some("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487")),
    ("green", Some("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da")),
    ("amber", Some("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421")),
    ("strict", Some("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003")),
    ("red", Some("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1")),
    ("red1", Some("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed")),
];

#[derive(Debug, Clone)]
struct Org {
    /// 0 none, 1 read, 2 write, 3 read-write
    access: u8,
    reader_role: bool,
    redistributes: bool,
}

#[derive(Debug, Clone)]
struct Post {
    producer: usize,
    object: u64,
    version: usize,
    mark: usize,
    recipients: u8,
}

#[derive(Debug, Clone)]
struct World {
    orgs: Vec<Org>,
    posts: Vec<Post>,
    limit: usize,
}

fn world() -> impl Strategy<Value = World> {
    let org = (0u8..4, any::<bool>(), any::<bool>()).prop_map(|(access, reader_role, redistributes)| Org {
        access,
        reader_role,
        redistributes,
    });
    (
        proptest::collection::vec(org, 2..5),
        proptest::collection::vec((0usize..5, 0u64..5, 0usize..3, 0usize..MARKS.len(), any::<u8>()), 1..16),
        1usize..6,
    )
        .prop_map(|(mut orgs, posts, limit)| {
            // Organisation 0 can always post, so every world has some intelligence in it.
            orgs[0] = Org { access: 3, reader_role: false, redistributes: orgs[0].redistributes };
            let posts = posts
                .into_iter()
                .map(|(producer, object, version, mark, recipients)| Post {
                    producer: producer % orgs.len(),
                    object,
                    version,
                    mark,
                    recipients,
                })
                .collect();
            World { orgs, posts, limit }
        })
}

fn can_read(o: &Org) -> bool {
    o.access & 1 == 1
}
fn can_write(o: &Org) -> bool {
    o.access & 2 == 2 && !o.reader_role
}
fn stamp(v: usize) -> String {
    format!("2024-0{}-01T00:00:00.000Z", v + 1)
}

/// A stored version in the model.
#[derive(Debug, Clone)]
struct Row {
    producer: usize,
    id: String,
    version: String,
    tlp: u8,
    recipients: Vec<usize>,
}

/// TLP rank of a mark: 1 clear … 3 amber (also the collection default), 4 amber+strict, 5 red.
fn rank(mark: usize) -> u8 {
    match MARKS[mark].0 {
        "clear" => 1,
        "green" => 2,
        "default" | "amber" => 3,
        "strict" => 4,
        _ => 5,
    }
}

/// The rule, written independently of the hub's code.
fn visible(row: &Row, viewer: usize, w: &World) -> bool {
    let v = &w.orgs[viewer];
    if !can_read(v) {
        return false;
    }
    match row.tlp {
        1..=3 => true,
        _ if v.redistributes => false,
        4 => true,
        _ => row.producer == viewer || row.recipients.contains(&viewer),
    }
}

/// Which posts are stored: producer may write, RED names ≥ 1 reader and only readers, first copy
/// wins — but a re-post of a stored copy with a stricter marking makes the stored copy as strict
/// (a RED copy re-posted as RED keeps only the recipients both name).
fn stored(w: &World) -> Vec<(usize, Row)> {
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for (i, p) in w.posts.iter().enumerate() {
        if !can_write(&w.orgs[p.producer]) {
            continue;
        }
        let recipients: Vec<usize> = (0..w.orgs.len()).filter(|o| p.recipients & (1 << o) != 0).collect();
        let tlp = rank(p.mark);
        let red = tlp == 5;
        if red && (recipients.is_empty() || recipients.iter().any(|r| !can_read(&w.orgs[*r]))) {
            continue;
        }
        let row = Row {
            producer: p.producer,
            id: format!("indicator--{}", uuid_for(p.object)),
            version: stamp(p.version),
            tlp,
            recipients: if red { recipients } else { vec![] },
        };
        if let Some((_, old)) =
            rows.iter_mut().find(|(_, r)| r.producer == row.producer && r.id == row.id && r.version == row.version)
        {
            if MARKS[p.mark].1.is_none() {
                continue; // a re-post that expresses no TLP leaves the stored copy as it is
            }
            match (old.tlp == 5, red) {
                (true, true) => old.recipients.retain(|o| row.recipients.contains(o)),
                (false, true) => *old = row,
                _ => old.tlp = old.tlp.max(row.tlp),
            }
            continue;
        }
        rows.push((i, row));
    }
    rows
}

fn object_json(p: &Post, identities: &[String]) -> Value {
    let mut o = json!({
        "type": "indicator", "spec_version": "2.1", "id": format!("indicator--{}", uuid_for(p.object)),
        "created": "2024-01-01T00:00:00.000Z", "modified": stamp(p.version), "name": "prop",
        "pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
    });
    if let Some(m) = MARKS[p.mark].1 {
        o["object_marking_refs"] = json!([m]);
    }
    let recipients: Vec<&String> =
        identities.iter().enumerate().filter(|(i, _)| p.recipients & (1 << i) != 0).map(|(_, id)| id).collect();
    if !recipients.is_empty() {
        o["x_taxii_hub_recipients"] = json!(recipients);
    }
    o
}

/// Pages of (id, version) with their `more` flags, following `next`.
async fn pages(
    hub: &TestHub,
    user: &str,
    collection: &str,
    endpoint: &str,
    query: &str,
) -> Vec<(Vec<(String, String)>, bool, bool)> {
    let base = hub.url(&format!("/{ROOT}/collections/{collection}/{endpoint}/"));
    let mut url = format!("{base}?{query}");
    let mut out = Vec::new();
    for _ in 0..100 {
        let (code, headers, body) = json_of(hub.get(user, &url).send().await.unwrap()).await;
        assert_eq!(code, 200, "{user} {endpoint}: {body}");
        let key = if endpoint == "objects" || endpoint == "manifest" { "objects" } else { "versions" };
        let items: Vec<(String, String)> = body[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|o| match endpoint {
                        "objects" => (o["id"].as_str().unwrap().into(), o["modified"].as_str().unwrap().into()),
                        "manifest" => (o["id"].as_str().unwrap().into(), o["version"].as_str().unwrap().into()),
                        _ => (String::new(), o.as_str().unwrap().into()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let more = body["more"] == json!(true);
        out.push((items, more, headers.contains_key("x-taxii-date-added-first")));
        if !more {
            break;
        }
        url = format!("{base}?{query}&next={}", body["next"].as_str().unwrap());
    }
    out
}

struct Built {
    collection: String,
    users: Vec<String>,
}

async fn build(hub: &mut TestHub, w: &World, tag: &str, only: Option<&[usize]>) -> Built {
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
    let collection = hub.add_collection(&format!("{tag}-c"), group, Tlp::Amber).await;
    let mut users = Vec::new();
    for (i, o) in w.orgs.iter().enumerate() {
        let user = format!("{tag}-u{i}");
        let role = if o.reader_role { Role::Reader } else { Role::Member };
        hub.add_key_account(&user, orgs[i], role, o.redistributes).await;
        users.push(user);
    }
    for (i, p) in w.posts.iter().enumerate() {
        if only.is_some_and(|keep| !keep.contains(&i)) {
            continue;
        }
        let url = hub.url(&format!("/{ROOT}/collections/{collection}/objects/"));
        let resp = hub
            .as_user(reqwest::Method::POST, &users[p.producer], &url)
            .header("Content-Type", TAXII)
            .body(json!({ "objects": [object_json(p, &identities)] }).to_string())
            .send()
            .await
            .unwrap();
        // TAXII: no read and no write → 404 (as if absent); one of them → 403.
        let o = &w.orgs[p.producer];
        let expect = if can_write(o) {
            202
        } else if can_read(o) {
            403
        } else {
            404
        };
        assert_eq!(resp.status().as_u16(), expect, "post by org{} {:?}", p.producer, w.orgs[p.producer]);
    }
    Built { collection, users }
}

async fn check(hub: &mut TestHub, w: &World, n: usize) -> Result<(), TestCaseError> {
    let rows = stored(w);
    let full = build(hub, w, &format!("w{n}"), None).await;
    for viewer in 0..w.orgs.len() {
        let user = &full.users[viewer];
        let org = &w.orgs[viewer];
        let url = hub.url(&format!("/{ROOT}/collections/{}/objects/", full.collection));
        let code = hub.get(user, &url).send().await.unwrap().status().as_u16();
        if !can_read(org) {
            prop_assert_eq!(code, if can_write(org) { 403 } else { 404 });
            continue;
        }
        prop_assert_eq!(code, 200);
        let mine: Vec<&(usize, Row)> = rows.iter().filter(|(_, r)| visible(r, viewer, w)).collect();
        let all_versions: Vec<(String, String)> = mine.iter().map(|(_, r)| (r.id.clone(), r.version.clone())).collect();
        let q = format!("match[version]=all&limit={}", w.limit);
        let got: Vec<(String, String)> =
            pages(hub, user, &full.collection, "objects", &q).await.into_iter().flat_map(|p| p.0).collect();
        prop_assert_eq!(&got, &all_versions, "org{} sees exactly the allowed versions", viewer);

        // Latest visible version per object.
        let mut latest: BTreeMap<&str, &str> = BTreeMap::new();
        for (_, r) in &mine {
            let e = latest.entry(r.id.as_str()).or_insert(r.version.as_str());
            if r.version.as_str() > *e {
                *e = r.version.as_str();
            }
        }
        let want_last: Vec<(String, String)> = mine
            .iter()
            .filter(|(_, r)| latest[r.id.as_str()] == r.version)
            .map(|(_, r)| (r.id.clone(), r.version.clone()))
            .collect();
        let got_last: Vec<(String, String)> =
            pages(hub, user, &full.collection, "manifest", &format!("limit={}", w.limit))
                .await
                .into_iter()
                .flat_map(|p| p.0)
                .collect();
        prop_assert_eq!(&got_last, &want_last, "org{} manifest (latest versions)", viewer);

        for object in 0..5u64 {
            let id = format!("indicator--{}", uuid_for(object));
            let exists = mine.iter().any(|(_, r)| r.id == id);
            let code = hub
                .get(user, &hub.url(&format!("/{ROOT}/collections/{}/objects/{id}/versions/", full.collection)))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            prop_assert_eq!(code, if exists { 200 } else { 404 }, "org{} versions of {}", viewer, id);
        }

        // The same pages as a world where the invisible objects were never posted.
        let keep: Vec<usize> = mine.iter().map(|(i, _)| *i).collect();
        let clean = build(hub, w, &format!("w{n}v{viewer}"), Some(&keep)).await;
        for (endpoint, query) in [
            ("objects", q.clone()),
            ("manifest", format!("limit={}", w.limit)),
            ("objects", format!("limit={}", w.limit)),
        ] {
            let a = pages(hub, user, &full.collection, endpoint, &query).await;
            let b = pages(hub, &clean.users[viewer], &clean.collection, endpoint, &query).await;
            prop_assert_eq!(
                a,
                b,
                "org{}: {} {} differs from the world without invisible objects",
                viewer,
                endpoint,
                query
            );
        }
    }
    Ok(())
}

#[test]
fn observations_equal_the_rule_and_ignore_invisible_objects() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = std::cell::RefCell::new(rt.block_on(start()));
    let n = std::cell::Cell::new(0);
    let config = ProptestConfig { cases: 40, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(w in world())| {
        n.set(n.get() + 1);
        rt.block_on(check(&mut hub.borrow_mut(), &w, n.get()))?;
    });
}
