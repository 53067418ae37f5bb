//! Shared by the benchmarks: a realistic indicator, and a hub started as its own process on a
//! fresh SQLite database (so its CPU time and memory can be read from /proc).
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};
use taxii_hub::config::Config;
use taxii_hub::domain::model::{Membership, NewAccount, NewCollection, NewOrganisation, OrganisationKind, Role};
use taxii_hub::domain::validation::CustomContent;

pub const TAXII: &str = "application/taxii+json;version=2.1";

/// An indicator of about 1.1 KB, as partners post them.
pub fn indicator(n: usize) -> Value {
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

pub struct HubProcess {
    pub dir: std::sync::Arc<tempfile::TempDir>,
    pub child: std::process::Child,
    pub client: reqwest::Client,
    pub port: u16,
    pub objects_url: String,
    /// API key of a member account (Basic auth with an empty username).
    pub key: String,
}

impl HubProcess {
    pub fn start(rt: &tokio::runtime::Runtime) -> HubProcess {
        Self::start_on(rt, None)
    }

    /// A hub on PostgreSQL (`url`, a fresh schema) when given, else on a fresh SQLite file.
    pub fn start_on(rt: &tokio::runtime::Runtime, postgres: Option<&str>) -> HubProcess {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("hub.db");
        let storage_toml = match postgres {
            Some(url) => format!("url = \"{url}\"\npostgres_schema = \"bench_{}\"\n", uuid::Uuid::new_v4().simple()),
            None => format!("url = \"sqlite://{}\"\nsqlite_synchronous = \"full\"\n", db.display()),
        };
        std::fs::write(dir.path().join("storage.toml"), format!("[storage]\n{storage_toml}")).unwrap();
        let key = taxii_hub::domain::credentials::new_api_key();
        let collection = {
            let config = Config::load(Some(&dir.path().join("storage.toml"))).unwrap();
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
                        cert_issuer: None,
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
                        unknown_marking: Default::default(),
                    })
                    .await
                    .unwrap()
            })
        };
        let made = taxii_hub::tls::generate_self_signed(&["localhost"]).unwrap();
        std::fs::write(dir.path().join("server.pem"), &made.chain_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &made.key_pem).unwrap();
        std::fs::write(dir.path().join("ca.pem"), &made.ca_pem).unwrap();
        let key = key.key;
        let collection_id = collection.id;
        Self::spawn(rt, std::sync::Arc::new(dir), &storage_toml, &collection_id, key)
    }

    /// Another hub process on the same database (a replica).
    pub fn replica(&self, rt: &tokio::runtime::Runtime) -> HubProcess {
        let storage_toml =
            std::fs::read_to_string(self.dir.path().join("storage.toml")).unwrap().replace("[storage]\n", "");
        let collection_id =
            self.objects_url.split("/collections/").nth(1).unwrap().trim_end_matches("/objects/").to_string();
        Self::spawn(rt, self.dir.clone(), &storage_toml, &collection_id, self.key.clone())
    }

    fn spawn(
        rt: &tokio::runtime::Runtime,
        dir: std::sync::Arc<tempfile::TempDir>,
        storage_toml: &str,
        collection_id: &str,
        key: String,
    ) -> HubProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = dir.path().join(format!("hub-{port}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nworkers = 2\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n[storage]\n{storage_toml}[taxii]\nmax_content_length = 67108864\n[log]\nlevel = \"warn\"\n",
                dir.path().join("server.pem").display(),
                dir.path().join("server.key").display(),
            ),
        )
        .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_taxii-hub"))
            .args(["serve", "--config"])
            .arg(&config)
            .spawn()
            .unwrap();
        let ca = std::fs::read(dir.path().join("ca.pem")).unwrap();
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .build()
            .unwrap();
        rt.block_on(async {
            for _ in 0..100 {
                if client.get(format!("https://localhost:{port}/healthz")).send().await.is_ok() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the hub did not start");
        });
        let objects_url = format!("https://localhost:{port}/hub/collections/{collection_id}/objects/");
        HubProcess { dir, child, client, port, objects_url, key }
    }

    /// User + system CPU time of the hub process, from /proc/<pid>/stat (clock ticks of 10 ms).
    pub fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10)
    }

    /// Peak resident memory of the hub process (VmHWM), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    }

    /// Posts envelopes of `per` objects, `concurrency` at a time; every object must be accepted.
    pub async fn ingest(&self, objects: &[Value], per: usize, concurrency: usize) {
        let mut tasks = Vec::new();
        for chunk in objects.chunks(per) {
            let body = json!({ "objects": chunk }).to_string();
            let (client, url, key, n) = (self.client.clone(), self.objects_url.clone(), self.key.clone(), chunk.len());
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
                let status: Value = r.json().await.unwrap();
                assert_eq!(status["success_count"], n);
            }));
            if tasks.len() == concurrency {
                for t in tasks.drain(..) {
                    t.await.unwrap();
                }
            }
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

impl Drop for HubProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
