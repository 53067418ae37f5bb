//! Property: following `next` from the first page visits every object version the filters
//! select exactly once, in `date_added` order, whatever the page size, and the selection equals
//! an independent model of TAXII's `match[...]` and `added_after` semantics.

mod common;

use std::collections::BTreeMap;

use common::*;
use proptest::prelude::*;
use serde_json::{json, Value};
use taxii_hub::domain::model::NewCollection;

const STAMPS: [&str; 5] = [
    "2021-01-01T00:00:00.000Z",
    "2021-02-01T00:00:00.000Z",
    "2021-03-01T00:00:00.500Z",
    "2021-04-01T00:00:00.000001Z",
    "2021-05-01T00:00:00.000Z",
];

#[derive(Debug, Clone)]
enum Versions {
    Last,
    First,
    All,
    FirstAndLast,
    Exactly(usize),
    FirstOr(usize),
}

#[derive(Debug, Clone)]
struct Case {
    /// (object index, stamp index) in posting order; duplicates allowed.
    posts: Vec<(u64, usize)>,
    envelopes: usize,
    types: Vec<&'static str>,
    versions: Versions,
    /// Index into the stored versions (in date_added order) to use as added_after.
    added_after: Option<usize>,
    limit: usize,
}

fn type_of(n: u64) -> &'static str {
    if n.is_multiple_of(3) {
        "malware"
    } else {
        "indicator"
    }
}

fn object(n: u64, stamp: usize) -> Value {
    let ty = type_of(n);
    let mut o = json!({
        "type": ty, "spec_version": "2.1", "id": format!("{ty}--{}", uuid_for(n)),
        "created": "2020-01-01T00:00:00.000Z", "modified": STAMPS[stamp], "name": format!("o{n}"),
    });
    if ty == "malware" {
        o["is_family"] = json!(true);
    } else {
        o["pattern"] = json!("[ipv4-addr:value = '192.0.2.1']");
        o["pattern_type"] = json!("stix");
        o["valid_from"] = json!("2020-01-01T00:00:00Z");
    }
    o
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec((0u64..7, 0usize..5), 1..20),
        1usize..4,
        prop_oneof![Just(vec![]), Just(vec!["indicator"]), Just(vec!["malware"]), Just(vec!["malware", "indicator"])],
        prop_oneof![
            Just(Versions::Last),
            Just(Versions::First),
            Just(Versions::All),
            Just(Versions::FirstAndLast),
            (0usize..5).prop_map(Versions::Exactly),
            (0usize..5).prop_map(Versions::FirstOr),
        ],
        proptest::option::of(0usize..25),
        1usize..9,
    )
        .prop_map(|(posts, envelopes, types, versions, added_after, limit)| Case {
            posts,
            envelopes,
            types,
            versions,
            added_after,
            limit,
        })
}

/// The model: which (id, version) pairs a request selects, in date_added order.
fn expected(stored: &[(String, String, String)], case: &Case, added_after: Option<&str>) -> Vec<(String, String)> {
    let mut by_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, version, _) in stored {
        by_id.entry(id.as_str()).or_default().push(version.as_str());
    }
    let selected = |id: &str, version: &str| -> bool {
        let vs = &by_id[id];
        // Stamps sort lexicographically in time order here (same length, same zone).
        let first = vs
            .iter()
            .min_by_key(|v| {
                taxii_hub::domain::timestamp::parse(v, taxii_hub::domain::timestamp::Zone::UtcOnly).unwrap()
            })
            .unwrap();
        let last = vs
            .iter()
            .max_by_key(|v| {
                taxii_hub::domain::timestamp::parse(v, taxii_hub::domain::timestamp::Zone::UtcOnly).unwrap()
            })
            .unwrap();
        match &case.versions {
            Versions::Last => version == *last,
            Versions::First => version == *first,
            Versions::All => true,
            Versions::FirstAndLast => version == *first || version == *last,
            Versions::Exactly(i) => version == STAMPS[*i],
            Versions::FirstOr(i) => version == *first || version == STAMPS[*i],
        }
    };
    stored
        .iter()
        .filter(|(id, _, _)| case.types.is_empty() || case.types.contains(&id.split("--").next().unwrap()))
        .filter(|(id, v, _)| selected(id, v))
        .filter(|(_, _, added)| added_after.is_none_or(|a| added.as_str() > a))
        .map(|(id, v, _)| (id.clone(), v.clone()))
        .collect()
}

fn query(case: &Case, added_after: Option<&str>) -> String {
    let mut q = vec![format!("limit={}", case.limit)];
    if !case.types.is_empty() {
        q.push(format!("match[type]={}", case.types.join(",")));
    }
    q.push(format!(
        "match[version]={}",
        match &case.versions {
            Versions::Last => "last".to_string(),
            Versions::First => "first".to_string(),
            Versions::All => "all".to_string(),
            Versions::FirstAndLast => "first,last".to_string(),
            Versions::Exactly(i) => STAMPS[*i].to_string(),
            Versions::FirstOr(i) => format!("first,{}", STAMPS[*i]),
        }
    ));
    if let Some(a) = added_after {
        q.push(format!("added_after={a}"));
    }
    q.join("&")
}

async fn run_case(hub: &TestHub, case: &Case, n: usize) -> Result<(), TestCaseError> {
    let alias = format!("prop-{n}");
    let group = 1; // trust group G1 of the fixture
    let collection = hub
        .storage
        .create_collection(NewCollection {
            api_root: ROOT.into(),
            id: None,
            alias: Some(alias.clone()),
            title: alias.clone(),
            description: None,
            trust_group_id: group,
            default_tlp: taxii_hub::domain::tlp::Tlp::Amber,
            custom_content: Default::default(),
            unknown_marking: Default::default(),
        })
        .await
        .unwrap();
    let objects: Vec<Value> = case.posts.iter().map(|(n, s)| object(*n, *s)).collect();
    let per = objects.len().div_ceil(case.envelopes);
    for chunk in objects.chunks(per) {
        let url = hub.url(&format!("/{ROOT}/collections/{}/objects/", collection.id));
        let resp = hub
            .as_user(reqwest::Method::POST, "alpha", &url)
            .header("Content-Type", TAXII)
            .body(json!({"objects": chunk}).to_string())
            .send()
            .await
            .unwrap();
        prop_assert_eq!(resp.status().as_u16(), 202);
    }
    // What is stored: every distinct (id, version), first posting wins, in date_added order.
    let manifest_url =
        hub.url(&format!("/{ROOT}/collections/{}/manifest/?match[version]=all&limit=100", collection.id));
    let (_, _, manifest) = json_of(hub.get("beta", &manifest_url).send().await.unwrap()).await;
    let stored: Vec<(String, String, String)> = manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                r["version"].as_str().unwrap().to_string(),
                r["date_added"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut distinct: Vec<(String, String)> = Vec::new();
    for (n, s) in &case.posts {
        let key = (object(*n, *s)["id"].as_str().unwrap().to_string(), STAMPS[*s].to_string());
        if !distinct.contains(&key) {
            distinct.push(key);
        }
    }
    let stored_keys: Vec<(String, String)> = stored.iter().map(|(i, v, _)| (i.clone(), v.clone())).collect();
    prop_assert_eq!(&stored_keys, &distinct, "stored once each, in posting order");

    let added_after = case.added_after.and_then(|i| stored.get(i)).map(|s| s.2.clone());
    let want = expected(&stored, case, added_after.as_deref());
    for endpoint in ["objects", "manifest"] {
        let base = hub.url(&format!("/{ROOT}/collections/{}/{endpoint}/", collection.id));
        let q = query(case, added_after.as_deref());
        let mut url = format!("{base}?{q}");
        let mut got: Vec<(String, String)> = Vec::new();
        for _ in 0..200 {
            let (code, headers, page) = json_of(hub.get("beta", &url).send().await.unwrap()).await;
            prop_assert_eq!(code, 200, "{}", page);
            let items = page["objects"].as_array().cloned().unwrap_or_default();
            prop_assert!(items.len() <= case.limit);
            prop_assert_eq!(headers.contains_key("x-taxii-date-added-first"), !items.is_empty());
            for o in &items {
                let v = if endpoint == "objects" { o["modified"].clone() } else { o["version"].clone() };
                got.push((o["id"].as_str().unwrap().to_string(), v.as_str().unwrap().to_string()));
            }
            if page["more"] == json!(true) {
                prop_assert!(!items.is_empty(), "more:true on an empty page");
                url = format!("{base}?{q}&next={}", page["next"].as_str().expect("next with more"));
            } else {
                prop_assert!(page.get("next").is_none());
                break;
            }
        }
        prop_assert_eq!(&got, &want, "{} with {}", endpoint, q);
    }
    Ok(())
}

#[test]
fn following_next_visits_every_selected_version_once_in_order() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = rt.block_on(start());
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let config = ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(case in case())| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        rt.block_on(run_case(&hub, &case, n))?;
    });
}
