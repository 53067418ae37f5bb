//! Full pull and deep pagination on one hub: `cargo bench --bench pull [-- OBJECTS]`.
//!
//! Ingests OBJECTS indicators (default 100,000), then reads them all back with `limit=1000`
//! following `next`, twice: once parsing every page as JSON (what a client must do), once only
//! receiving the bytes, so the hub's own throughput is visible apart from the client's. Also the
//! time of page 1 and page 1,000 at a small page size, and the hub's CPU time and peak memory.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use serde_json::Value;
use support::{indicator, HubProcess, TAXII};

async fn pull(hub: &HubProcess, limit: usize, parse: bool) -> (usize, std::time::Duration) {
    let start = Instant::now();
    let mut next: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = format!("{}?limit={limit}", hub.objects_url);
        if let Some(n) = &next {
            url.push_str(&format!("&next={n}"));
        }
        let r = hub.client.get(&url).basic_auth("", Some(&hub.key)).header("Accept", TAXII).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap();
        if parse {
            let page: Value = serde_json::from_slice(&bytes).unwrap();
            count += page["objects"].as_array().map_or(0, Vec::len);
            next = page["next"].as_str().map(str::to_string);
        } else {
            // Only the cursor: it sits right after `"more":true,"next":"`.
            let text = std::str::from_utf8(&bytes[..bytes.len().min(200)]).unwrap_or("");
            next = text.split("\"next\":\"").nth(1).and_then(|r| r.split('"').next()).map(str::to_string);
            count += limit.min(bytes.len());
        }
        if next.is_none() {
            break;
        }
    }
    (count, start.elapsed())
}

async fn page_time(hub: &HubProcess, limit: usize, page: usize) -> std::time::Duration {
    let mut next: Option<String> = None;
    for _ in 1..page {
        let mut url = format!("{}?limit={limit}", hub.objects_url);
        if let Some(n) = &next {
            url.push_str(&format!("&next={n}"));
        }
        let page: Value = hub
            .client
            .get(&url)
            .basic_auth("", Some(&hub.key))
            .header("Accept", TAXII)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        next = page["next"].as_str().map(str::to_string);
    }
    let mut url = format!("{}?limit={limit}", hub.objects_url);
    if let Some(n) = &next {
        url.push_str(&format!("&next={n}"));
    }
    let mut best = std::time::Duration::MAX;
    for _ in 0..20 {
        let start = Instant::now();
        let r = hub.client.get(&url).basic_auth("", Some(&hub.key)).header("Accept", TAXII).send().await.unwrap();
        let _ = r.bytes().await.unwrap();
        best = best.min(start.elapsed());
    }
    best
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = HubProcess::start(&rt);
    let objects: Vec<Value> = (0..n).map(indicator).collect();
    let t = Instant::now();
    rt.block_on(hub.ingest(&objects, 1000, 4));
    let ingest = t.elapsed();
    drop(objects);
    let cpu0 = hub.cpu();
    let (count, parsed) = rt.block_on(pull(&hub, 1000, true));
    let cpu_parsed = hub.cpu() - cpu0;
    assert_eq!(count, n);
    let cpu0 = hub.cpu();
    let (_, raw) = rt.block_on(pull(&hub, 1000, false));
    let cpu_raw = hub.cpu() - cpu0;
    let limit = (n / 1000).max(1);
    let p1 = rt.block_on(page_time(&hub, limit, 1));
    let p1000 = rt.block_on(page_time(&hub, limit, 1000.min(n / limit)));
    let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!("objects stored: {n} (ingested at {:.0} objects/s)", rate(ingest));
    println!(
        "full pull, limit=1000, client parses pages: {:>9.0} objects/s  (hub CPU {:.1} µs/object)",
        rate(parsed),
        cpu_parsed.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "full pull, limit=1000, client only receives: {:>8.0} objects/s  (hub CPU {:.1} µs/object)",
        rate(raw),
        cpu_raw.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "page 1 vs page 1,000 at limit={limit}: {:.2} ms vs {:.2} ms = {:.2}×",
        p1.as_secs_f64() * 1e3,
        p1000.as_secs_f64() * 1e3,
        p1000.as_secs_f64() / p1.as_secs_f64()
    );
    println!("hub peak RSS: {:.0} MB", hub.peak_rss() as f64 / 1e6);
}
