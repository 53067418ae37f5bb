//! One vs two hub replicas on PostgreSQL: `cargo bench --bench replicas [-- OBJECTS]`.
//!
//! Needs PostgreSQL (TAXII_HUB_BENCH_POSTGRES, default postgres://postgres@127.0.0.1:5432/test; a
//! fresh schema per run). Measures ingest (8 partners posting envelopes of 500 concurrently) and
//! pull (4 CERTs each pulling the whole collection with limit=1000 via next, concurrently), first
//! with every client on one replica, then with the clients spread over two.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{indicator, HubProcess, TAXII};

async fn ingest(hubs: &[&HubProcess], objects: &[Value]) -> Duration {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (i, chunk) in objects.chunks(500).enumerate() {
        let hub = hubs[i % hubs.len()];
        let (client, url, key, body) =
            (hub.client.clone(), hub.objects_url.clone(), hub.key.clone(), json!({ "objects": chunk }).to_string());
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .basic_auth("", Some(key))
                .header("Content-Type", TAXII)
                .header("Accept", TAXII)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 202);
        }));
        if tasks.len() == 8 {
            for t in tasks.drain(..) {
                t.await.unwrap();
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

async fn pulls(hubs: &[&HubProcess], pullers: usize) -> (usize, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..pullers {
        let hub = hubs[p % hubs.len()];
        let (client, objects_url, key) = (hub.client.clone(), hub.objects_url.clone(), hub.key.clone());
        tasks.push(tokio::spawn(pull_all(client, objects_url, key)));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    (total, start.elapsed())
}

/// Follows `next` through the whole collection; the number of objects delivered.
async fn pull_all(client: reqwest::Client, objects_url: String, key: String) -> usize {
    let mut next: Option<String> = None;
    let mut n = 0;
    loop {
        let mut url = format!("{objects_url}?limit=1000");
        if let Some(c) = &next {
            url.push_str(&format!("&next={c}"));
        }
        let page: Value = client
            .get(&url)
            .basic_auth("", Some(&key))
            .header("Accept", TAXII)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n += page["objects"].as_array().map_or(0, Vec::len);
        next = page["next"].as_str().map(str::to_string);
        if next.is_none() {
            return n;
        }
    }
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let url =
        std::env::var("TAXII_HUB_BENCH_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let one = HubProcess::start_on(&rt, Some(&url));
    let two = one.replica(&rt);
    let first: Vec<Value> = (0..n).map(indicator).collect();
    let second: Vec<Value> = (n..2 * n).map(indicator).collect();
    let t1 = rt.block_on(ingest(&[&one], &first));
    let t2 = rt.block_on(ingest(&[&one, &two], &second));
    let (p1n, p1) = rt.block_on(pulls(&[&one], 4));
    let (p2n, p2) = rt.block_on(pulls(&[&one, &two], 4));
    assert_eq!(p1n, 4 * 2 * n);
    assert_eq!(p2n, p1n);
    let rate = |count: usize, d: Duration| count as f64 / d.as_secs_f64();
    println!("PostgreSQL, {n} objects per ingest phase, {} stored for the pulls", 2 * n);
    println!(
        "ingest, 8 concurrent partners:  1 replica {:>8.0} objects/s   2 replicas {:>8.0} objects/s   ({:.2}×)",
        rate(n, t1),
        rate(n, t2),
        t1.as_secs_f64() / t2.as_secs_f64()
    );
    println!(
        "pull, 4 concurrent CERTs:       1 replica {:>8.0} objects/s   2 replicas {:>8.0} objects/s   ({:.2}×)",
        rate(p1n, p1),
        rate(p2n, p2),
        p1.as_secs_f64() / p2.as_secs_f64()
    );
    println!("(2 cores shared by PostgreSQL, both replicas and the clients: a second replica adds no CPU here)");
}
