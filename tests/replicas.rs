//! No poller ever misses an object: 8 concurrent writers on 2 replicas while 4 pollers follow
//! `added_after`/`next` across both replicas; every poller must end with exactly every object.
//! On PostgreSQL the replicas have separate connection pools, as separate processes would.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use serde_json::{json, Value};

const WRITERS: u64 = 8;
const ENVELOPES: u64 = 12;
const PER_ENVELOPE: u64 = 20;

async fn poll_until_done(
    client: reqwest::Client,
    bases: Vec<String>,
    collection: String,
    user: String,
    password: String,
    done: Arc<AtomicBool>,
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut last: Option<String> = None;
    let mut turn = 0usize;
    loop {
        let finished_before_poll = done.load(Ordering::SeqCst);
        let mut new = 0;
        let mut next: Option<String> = None;
        // The poll's added_after stays fixed while its pages are followed (`next` is bound to it).
        let from = last.clone();
        loop {
            turn += 1;
            let base = &bases[turn % bases.len()];
            let mut url = format!("{base}/hub/collections/{collection}/manifest/?limit=37");
            if let Some(a) = &from {
                url.push_str(&format!("&added_after={a}"));
            }
            if let Some(n) = &next {
                url.push_str(&format!("&next={n}"));
            }
            let resp =
                client.get(&url).basic_auth(&user, Some(&password)).header("Accept", TAXII).send().await.unwrap();
            let status = resp.status();
            let page: Value = resp.json().await.unwrap();
            assert_eq!(status, 200, "{url}: {page}");
            for record in page["objects"].as_array().into_iter().flatten() {
                seen.push(record["id"].as_str().unwrap().to_string());
                new += 1;
                let added = record["date_added"].as_str().unwrap().to_string();
                if last.as_ref().is_none_or(|l| added > *l) {
                    last = Some(added);
                }
            }
            if page["more"] == json!(true) {
                next = page["next"].as_str().map(str::to_string);
            } else {
                break;
            }
        }
        // `next` cursors are bound to added_after, so each poll starts afresh from `last`.
        if finished_before_poll && new == 0 {
            return seen;
        }
        if new == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

async fn run_once(round: u64) {
    let hub = start().await;
    let (replica, replica_base) = hub.replica();
    let bases = vec![hub.base.clone(), replica_base];
    let collection = hub.collections["shared"].clone();
    let done = Arc::new(AtomicBool::new(false));

    let mut pollers = Vec::new();
    for p in 0..4 {
        let user = if p % 2 == 0 { "beta" } else { "cert" };
        pollers.push(tokio::spawn(poll_until_done(
            hub.client.clone(),
            bases.clone(),
            collection.clone(),
            user.to_string(),
            hub.passwords[user].clone(),
            done.clone(),
        )));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, base, password, collection) =
            (hub.client.clone(), bases[(w % 2) as usize].clone(), hub.passwords["alpha"].clone(), collection.clone());
        writers.push(tokio::spawn(async move {
            for e in 0..ENVELOPES {
                let objects: Vec<Value> = (0..PER_ENVELOPE)
                    .map(|i| indicator(round * 1_000_000 + w * 10_000 + e * 100 + i, "2024-01-01T00:00:00.000Z"))
                    .collect();
                let resp = client
                    .post(format!("{base}/hub/collections/{collection}/objects/"))
                    .basic_auth("alpha", Some(&password))
                    .header("Accept", TAXII)
                    .header("Content-Type", TAXII)
                    .body(json!({ "objects": objects }).to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 202);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let expected: HashSet<String> = (0..WRITERS)
        .flat_map(|w| (0..ENVELOPES).flat_map(move |e| (0..PER_ENVELOPE).map(move |i| (w, e, i))))
        .map(|(w, e, i)| {
            indicator(round * 1_000_000 + w * 10_000 + e * 100 + i, "x")["id"].as_str().unwrap().to_string()
        })
        .collect();
    for (n, p) in pollers.into_iter().enumerate() {
        let seen = p.await.unwrap();
        let unique: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "poller {n} saw an object twice ({})", hub.backend());
        assert_eq!(
            unique,
            expected,
            "poller {n} missed objects ({}): {} of {}",
            hub.backend(),
            unique.len(),
            expected.len()
        );
    }
    replica.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_poller_misses_an_object_with_concurrent_writers_on_two_replicas() {
    for round in 0..3 {
        run_once(round).await;
    }
}
