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
use taxii_hub::config::Config;
use taxii_hub::domain::json::Json;
use taxii_hub::domain::model::{Membership, NewAccount, NewCollection, NewOrganisation, OrganisationKind, Role};
use taxii_hub::domain::validation::{self, CustomContent};
use taxii_hub::domain::{envelope, pattern};

const OBJECTS: usize = 20_000;
const ENVELOPE: usize = 1_000;

fn indicator(n: usize) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--{:08x}-0000-4000-8000-{:012x}", n, n),
        "created_by_ref": "identity--f431f809-377b-45e0-aa1c-6a4751cae5ff",
        "created": "2024-03-01T10:00:00.000Z", "modified": "2024-03-01T10:00:00.000Z",
        "name": format!("C2 beacon {n}"),
        "description": "Outbound connection to a command-and-control server observed in several member networks during the campaign; block and hunt for earlier connections.",
        "indicator_types": ["malicious-activity", "attribution"],
        "pattern": format!("[ipv4-addr:value = '198.51.{}.{}' OR domain-name:value = 'c2-{n}.evil.example'] AND [file:hashes.'SHA-256' = '{:064x}']", n / 256 % 256, n % 256, n),
        "pattern_type": "stix", "pattern_version": "2.1",
        "valid_from": "2024-03-01T10:00:00Z", "valid_until": "2025-03-01T10:00:00Z",
        "kill_chain_phases": [{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "command-and-control"}],
        "confidence": 85, "labels": ["c2", "campaign-tagus"],
        "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"],
        "external_references": [{"source_name": "cert.pt", "url": "https://cert.example/advisories/2024-031", "external_id": "2024-031"}]
    })
}

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
    assert_eq!(envelope::parse(sample.as_bytes(), CustomContent::Allow).unwrap().accepted.len(), 10);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hub.db");
    let key = taxii_hub::domain::credentials::new_api_key();
    let collection = {
        let mut config = Config::default();
        config.storage.url = format!("sqlite://{}", db.display());
        let storage = taxii_hub::app::open_storage(&config).unwrap();
        rt.block_on(async {
            let org = storage
                .create_organisation(NewOrganisation {
                    name: "bench".into(),
                    identity_id: None,
                    sector: None,
                    kind: OrganisationKind::Partner,
                })
                .await
                .unwrap();
            let group = storage.create_trust_group("bench", None).await.unwrap();
            storage.set_membership(group, org, Membership { can_read: true, can_write: true }).await.unwrap();
            let account = storage
                .create_account(NewAccount {
                    organisation_id: org,
                    username: "bench".into(),
                    password_hash: None,
                    role: Role::Member,
                    redistributes: false,
                    cert_fingerprint: None,
                    cert_subject: None,
                })
                .await
                .unwrap();
            storage.create_api_key(account, &key.prefix, key.hash, None, None).await.unwrap();
            storage
                .create_collection(NewCollection {
                    api_root: "hub".into(),
                    id: None,
                    alias: None,
                    title: "bench".into(),
                    description: None,
                    trust_group_id: group,
                    default_tlp: taxii_hub::domain::tlp::Tlp::Amber,
                    custom_content: CustomContent::Allow,
                })
                .await
                .unwrap()
        })
    };
    // The hub as its own process, so its CPU time can be read from /proc.
    let made = taxii_hub::tls::generate_self_signed(&["localhost"]).unwrap();
    std::fs::write(dir.path().join("server.pem"), &made.chain_pem).unwrap();
    std::fs::write(dir.path().join("server.key"), &made.key_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        dir.path().join("hub.toml"),
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nworkers = 2\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n[storage]\nurl = \"sqlite://{}\"\nsqlite_synchronous = \"full\"\n[taxii]\nmax_content_length = 67108864\n[log]\nlevel = \"warn\"\n",
            dir.path().join("server.pem").display(),
            dir.path().join("server.key").display(),
            db.display()
        ),
    )
    .unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_taxii-hub"))
        .args(["serve", "--config"])
        .arg(dir.path().join("hub.toml"))
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(made.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/hub/collections/{}/objects/", collection.id);
    rt.block_on(async {
        for _ in 0..100 {
            if client.get(format!("https://localhost:{port}/healthz")).send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the hub did not start");
    });
    let envelopes: Vec<String> = objects.chunks(ENVELOPE).map(|c| json!({ "objects": c }).to_string()).collect();

    let _ = validation_work(&raws[..1000]); // warm-up
    let cpu_before = process_cpu(server.id());
    let ingest = rt.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for (i, body) in envelopes.into_iter().enumerate() {
            let (client, url, key) = (client.clone(), url.clone(), key.key.clone());
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
    let hub_cpu = process_cpu(server.id()) - cpu_before;
    let (parse, validation) = validation_work(&raws);
    let _ = server.kill();
    let _ = server.wait();

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

/// User + system CPU time of a process, from /proc/<pid>/stat.
fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz = 100; // sysconf(_SC_CLK_TCK) on Linux
    Duration::from_millis(ticks * 1000 / hz)
}
