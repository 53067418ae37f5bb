//! Pagination edges: empty collections, exact pages, limits above the maximum, forged and stale
//! cursors, cursors bound to their request, and cursors that survive a restart.

mod common;

use common::*;
use serde_json::{json, Value};

const T1: &str = "2021-01-01T00:00:00.000Z";

async fn page(hub: &TestHub, user: &str, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    json_of(hub.get(user, url).send().await.unwrap()).await
}

async fn follow_all(hub: &TestHub, user: &str, base: &str, limit: usize) -> Vec<String> {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{sep}limit={limit}");
    let mut seen = Vec::new();
    loop {
        let (code, _, body) = page(hub, user, &url).await;
        assert_eq!(code, 200, "{body}");
        let n = body["objects"].as_array().map_or(0, |a| a.len());
        assert!(n <= limit);
        seen.extend(ids_of(&body));
        if body["more"] == json!(true) {
            let next = body["next"].as_str().expect("more:true must come with next");
            url = format!("{base}{sep}limit={limit}&next={next}");
        } else {
            assert!(body.get("next").is_none());
            return seen;
        }
    }
}

#[tokio::test]
async fn empty_collection() {
    let hub = start().await;
    for rest in ["objects/", "manifest/"] {
        let (code, h, body) = page(&hub, "alpha", &hub.collection_url("empty", rest)).await;
        assert_eq!(code, 200);
        assert_eq!(body, json!({"more": false}));
        assert!(!h.contains_key("x-taxii-date-added-first"));
    }
}

#[tokio::test]
async fn exactly_one_page_and_pages_of_every_size() {
    let hub = start().await;
    let objects: Vec<Value> = (0..30).map(|n| indicator(n, T1)).collect();
    hub.add("alpha", "shared", &objects).await;
    let (_, _, body) = page(&hub, "beta", &format!("{}?limit=30", hub.collection_url("shared", "objects/"))).await;
    assert_eq!(body["more"], false);
    assert!(body.get("next").is_none());
    assert_eq!(ids_of(&body).len(), 30);
    let expected: Vec<String> = objects.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect();
    for limit in [1, 2, 7, 29, 30, 31] {
        assert_eq!(
            follow_all(&hub, "beta", &hub.collection_url("shared", "objects/"), limit).await,
            expected,
            "limit {limit}"
        );
    }
    let manifest_ids = follow_all(&hub, "beta", &hub.collection_url("shared", "manifest/"), 4).await;
    assert_eq!(manifest_ids, expected);
}

#[tokio::test]
async fn limit_above_maximum_is_reduced_and_default_applies() {
    let hub = start().await;
    let objects: Vec<Value> = (0..120).map(|n| indicator(n, T1)).collect();
    hub.add("alpha", "shared", &objects[..60]).await;
    hub.add("alpha", "shared", &objects[60..]).await;
    let (_, _, body) = page(&hub, "beta", &format!("{}?limit=100000", hub.collection_url("shared", "objects/"))).await;
    assert_eq!(ids_of(&body).len(), 100, "max_page_size is 100 in the test config");
    assert_eq!(body["more"], true);
    let (_, _, body) = page(&hub, "beta", &hub.collection_url("shared", "objects/")).await;
    assert_eq!(ids_of(&body).len(), 50, "default_page_size is 50 in the test config");
}

#[tokio::test]
async fn versions_paginate_too() {
    let hub = start().await;
    let versions: Vec<Value> = (0..12).map(|n| indicator(1, &format!("2021-01-{:02}T00:00:00.000Z", n + 1))).collect();
    hub.add("alpha", "shared", &versions).await;
    let id = versions[0]["id"].as_str().unwrap();
    let url = hub.collection_url("shared", &format!("objects/{id}/versions/"));
    let (_, _, p1) = page(&hub, "beta", &format!("{url}?limit=5")).await;
    assert_eq!(p1["versions"].as_array().unwrap().len(), 5);
    assert_eq!(p1["more"], true);
    let next = p1["next"].as_str().unwrap();
    let (_, _, p2) = page(&hub, "beta", &format!("{url}?limit=10&next={next}")).await;
    assert_eq!(p2["versions"].as_array().unwrap().len(), 7);
    assert_eq!(p2["more"], false);
    assert_eq!(p2["versions"][6], "2021-01-12T00:00:00.000Z");
}

#[tokio::test]
async fn forged_and_misused_cursors_are_refused() {
    let hub = start().await;
    let objects: Vec<Value> = (0..10).map(|n| indicator(n, T1)).collect();
    hub.add("alpha", "shared", &objects).await;
    let url = hub.collection_url("shared", "objects/");
    let (_, _, p1) = page(&hub, "beta", &format!("{url}?limit=3")).await;
    let next = p1["next"].as_str().unwrap().to_string();

    let mut forged = next.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for (user, u) in [
        ("beta", format!("{url}?limit=3&next={forged}")),
        ("beta", format!("{url}?limit=3&next=AAAA")),
        ("beta", format!("{url}?limit=3&next={next}&match[type]=malware")),
        ("alpha", format!("{url}?limit=3&next={next}")),
        ("beta", format!("{}?limit=3&next={next}", hub.collection_url("shared", "manifest/"))),
        ("beta", format!("{}?limit=3&next={next}", hub.collection_url("empty", "objects/"))),
    ] {
        let r = hub.get(user, &u).send().await.unwrap();
        let err = assert_taxii_error(r, 400).await;
        assert!(err["description"].as_str().unwrap().contains("next"), "{err}");
    }
    // The same cursor with the same filters is fine, and a different limit is allowed.
    let (code, _, p2) = page(&hub, "beta", &format!("{url}?limit=4&next={next}")).await;
    assert_eq!(code, 200);
    assert_eq!(ids_of(&p2), ids_of(&json!({"objects": objects[3..7]})));
}

#[tokio::test]
async fn stale_cursor_after_deletes_and_additions_neither_skips_nor_repeats() {
    let hub = start().await;
    let objects: Vec<Value> = (0..10).map(|n| indicator(n, T1)).collect();
    hub.add("alpha", "shared", &objects).await;
    let url = hub.collection_url("shared", "objects/");
    let (_, _, p1) = page(&hub, "beta", &format!("{url}?limit=4")).await;
    let next = p1["next"].as_str().unwrap().to_string();
    // Delete the last object served and one not yet served, then add a new one.
    for gone in [&objects[3], &objects[6]] {
        let r = hub
            .as_user(
                reqwest::Method::DELETE,
                "alpha",
                &hub.collection_url("shared", &format!("objects/{}/", gone["id"].as_str().unwrap())),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    hub.add("alpha", "shared", &[indicator(99, T1)]).await;
    let (_, _, rest) = page(&hub, "beta", &format!("{url}?limit=100&next={next}")).await;
    let expected: Vec<String> =
        [4, 5, 7, 8, 9, 99].iter().map(|n| indicator(*n, T1)["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids_of(&rest), expected);
}

#[tokio::test]
async fn cursors_survive_a_restart() {
    let mut hub = start().await;
    let objects: Vec<Value> = (0..6).map(|n| indicator(n, T1)).collect();
    hub.add("alpha", "shared", &objects).await;
    let url = hub.collection_url("shared", "objects/");
    let (_, _, p1) = page(&hub, "beta", &format!("{url}?limit=2")).await;
    let next = p1["next"].as_str().unwrap().to_string();
    hub.launch();
    let url = hub.collection_url("shared", "objects/");
    let (code, _, p2) = page(&hub, "beta", &format!("{url}?limit=2&next={next}")).await;
    assert_eq!(code, 200, "{p2}");
    assert_eq!(ids_of(&p2), ids_of(&json!({"objects": objects[2..4]})));
}
