//! What STIX validation costs on ingest: `cargo bench --bench validation`.
//!
//! Measures, in one run, (A) the work validation adds per object — checking it against the
//! STIX 2.1 rules, parsing and checking its STIX pattern, extracting observables (the JSON parse
//! that ingest needs anyway is shown separately) —
//! and (B) the end-to-end ingest of the same objects: HTTPS POSTs of 1,000-object envelopes to a
//! hub process on SQLite (synchronous = full), until acknowledged, with the hub's CPU time read
//! from /proc. Reports A as a share of the hub's ingest CPU time; the target is ≤ 20 %.

use std::time::{Duration, Instant};

// The same allocator as the hub binary, so (A) is measured as the hub would run it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{json, Value};

#[path = "support/mod.rs"]
mod support;
use support::indicator;
use taxii_hub::domain::json::Json;
use taxii_hub::domain::validation::{self, CustomContent};
use taxii_hub::domain::{envelope, pattern};

const OBJECTS: usize = 20_000;
const ENVELOPE: usize = 1_000;

/// (JSON parse, validation) times. The parse is what ingest needs anyway to read an object's id,
/// type, version and markings; validation is the STIX 2.1 rules including the pattern parse.
fn validation_work(raws: &[String]) -> (Duration, Duration) {
    let start = Instant::now();
    let objects: Vec<taxii_hub::domain::json::Obj<'_>> = raws
        .iter()
        .map(|r| match Json::parse(r).unwrap() {
            Json::Obj(o) => o,
            _ => panic!("an object"),
        })
        .collect();
    let parse = start.elapsed();
    let start = Instant::now();
    let mut observables = 0;
    for obj in &objects {
        let p = validation::validate(obj, CustomContent::Allow).unwrap().expect("a STIX pattern");
        observables += pattern::observables(&p).len();
    }
    let validation = start.elapsed();
    assert!(observables >= raws.len() * 3);
    (parse, validation)
}

fn parts(raws: &[String]) {
    let t = Instant::now();
    let maps: Vec<taxii_hub::domain::json::Obj<'_>> = raws
        .iter()
        .map(|r| match Json::parse(r).unwrap() {
            Json::Obj(o) => o,
            _ => panic!(),
        })
        .collect();
    let parse = t.elapsed();
    let t = Instant::now();
    let mut pats = Vec::new();
    for m in &maps {
        pats.push(pattern::parse(m.get("pattern").and_then(Json::as_str).unwrap()).unwrap());
    }
    let pat = t.elapsed();
    let t = Instant::now();
    for m in &maps {
        validation::validate(m, CustomContent::Allow).unwrap();
    }
    let val = t.elapsed();
    let n = raws.len() as f64;
    eprintln!(
        "parts: map parse {:.2} µs, pattern parse {:.2} µs, validate incl. pattern {:.2} µs",
        parse.as_secs_f64() * 1e6 / n,
        pat.as_secs_f64() * 1e6 / n,
        val.as_secs_f64() * 1e6 / n
    );
}

fn main() {
    let objects: Vec<Value> = (0..OBJECTS).map(indicator).collect();
    let raws: Vec<String> = objects.iter().map(Value::to_string).collect();
    if std::env::var("PARTS").is_ok() {
        parts(&raws);
        parts(&raws);
        return;
    }
    let bytes: usize = raws.iter().map(String::len).sum();
    // Sanity: the whole envelope path accepts every object.
    let sample = json!({ "objects": &objects[..10] }).to_string();
    assert_eq!(
        envelope::parse(sample.as_bytes(), CustomContent::Allow, taxii_hub::domain::envelope::DEFAULT_MAX_OBJECTS)
            .unwrap()
            .accepted
            .len(),
        10
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let hub = support::HubProcess::start(&rt);
    let (client, url, key, port) = (hub.client.clone(), hub.objects_url.clone(), hub.key.clone(), hub.port);
    let _ = port;
    let envelopes: Vec<String> = objects.chunks(ENVELOPE).map(|c| json!({ "objects": c }).to_string()).collect();

    let _ = validation_work(&raws[..1000]); // warm-up
    let cpu_before = hub.cpu();
    let ingest = rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, body) in envelopes.into_iter().enumerate() {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let r = client
                    .post(url)
                    .basic_auth("", Some(key))
                    .header("Content-Type", "application/taxii+json;version=2.1")
                    .header("Accept", "application/taxii+json;version=2.1")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 202, "envelope {i}");
                let status: Value = r.json().await.unwrap();
                assert_eq!(status["success_count"], ENVELOPE);
            }));
            if tasks.len() == 4 {
                for t in tasks.drain(..) {
                    t.await.unwrap();
                }
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
        start.elapsed()
    });
    let hub_cpu = hub.cpu() - cpu_before;
    let (parse, validation) = validation_work(&raws);
    drop(hub);

    let per = |d: Duration| d.as_secs_f64() * 1e6 / OBJECTS as f64;
    println!(
        "objects: {OBJECTS} indicators, {:.0} bytes each on average, envelopes of {ENVELOPE}",
        bytes as f64 / OBJECTS as f64
    );
    println!(
        "JSON parse of each object (ingest reads id/type/version/markings from it): {:>6.2} µs/object",
        per(parse)
    );
    println!(
        "validation (STIX 2.1 rules + STIX pattern parse and check + observables):  {:>6.2} µs/object",
        per(validation)
    );
    println!("end-to-end ingest (HTTPS POST, SQLite synchronous=full, acknowledged):    {:>6.2} µs/object  ({:.0} objects/s)", per(ingest), OBJECTS as f64 / ingest.as_secs_f64());
    println!(
        "hub CPU time during that ingest (user + system, both cores):              {:>6.2} µs/object",
        per(hub_cpu)
    );
    println!(
        "validation / hub ingest CPU = {:.1} %  (target ≤ 20 %)",
        validation.as_secs_f64() * 100.0 / hub_cpu.as_secs_f64()
    );
    println!("validation / ingest wall time = {:.1} %", validation.as_secs_f64() * 100.0 / ingest.as_secs_f64());
}
