//! Test harness: starts the real hub on a random port over HTTPS with a small fixture world.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use reqwest::{Client, RequestBuilder, Response};
use serde_json::{json, Value};

use taxii_hub::app::RunningHub;
use taxii_hub::config::Config;
use taxii_hub::domain::model::{Membership, NewAccount, NewCollection, NewOrganisation, OrganisationKind, Role};
use taxii_hub::http::auth::hash_password;
use taxii_hub::storage::SharedStorage;

pub mod python;
pub mod world;

pub const TAXII: &str = "application/taxii+json;version=2.1";
pub const ROOT: &str = "hub";

pub struct Account {
    pub username: &'static str,
    pub password: String,
}

pub struct TestHub {
    pub hub: Option<RunningHub>,
    pub base: String,
    pub client: Client,
    pub storage: SharedStorage,
    pub config: Config,
    pub dir: tempfile::TempDir,
    pub ca_path: PathBuf,
    pub ca_pem: String,
    pub tls_chain: String,
    pub tls_key: String,
    /// PEM of the CA whose client certificates the hub accepts (mutual TLS), if any.
    pub client_ca_pem: Option<String>,
    /// Client certificate + key (PEM) the test client presents, if any.
    pub client_identity: Option<String>,
    pub passwords: HashMap<String, String>,
    pub collections: HashMap<String, String>,
}

/// The fixture world:
/// - `shared` (trust group "G1"): alpha read-write, beta read-only, cert read-write.
/// - `dropbox` (trust group "G2"): alpha write-only.
/// - `empty` (trust group "G1"): never written to.
/// - accounts: alpha (member), alpha-reader (reader), beta (member), gamma (member, no group),
///   cert (member), disabled (member of alpha, disabled later by tests that need it).
pub async fn start() -> TestHub {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestHub {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.workers = 2;
    config.storage.url = format!("sqlite://{}", dir.path().join("hub.db").display());
    config.storage.sqlite_synchronous = "normal".into();
    // The same suites run on PostgreSQL when scripts/test sets this (a fresh schema per hub).
    if let Ok(url) = std::env::var("TAXII_HUB_TEST_POSTGRES") {
        config.storage.url = url;
        config.storage.postgres_schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
    }
    config.taxii.default_page_size = 50;
    config.taxii.max_page_size = 100;
    config.taxii.max_content_length = 64 * 1024;
    tweak(&mut config);
    let storage = taxii_hub::app::open_storage(&config).expect("storage");

    let mut orgs = HashMap::new();
    for (name, kind) in [
        ("alpha", OrganisationKind::Partner),
        ("beta", OrganisationKind::Partner),
        ("gamma", OrganisationKind::Partner),
        ("cert", OrganisationKind::NationalCert),
    ] {
        let id = storage
            .create_organisation(NewOrganisation { name: name.into(), identity_id: None, sector: None, kind })
            .await
            .unwrap();
        orgs.insert(name, id);
    }
    let g1 = storage.create_trust_group("G1", None).await.unwrap();
    let g2 = storage.create_trust_group("G2", None).await.unwrap();
    let rw = Membership { can_read: true, can_write: true };
    storage.set_membership(g1, orgs["alpha"], rw).await.unwrap();
    storage.set_membership(g1, orgs["beta"], Membership { can_read: true, can_write: false }).await.unwrap();
    storage.set_membership(g1, orgs["cert"], rw).await.unwrap();
    storage.set_membership(g2, orgs["alpha"], Membership { can_read: false, can_write: true }).await.unwrap();
    let mut collections = HashMap::new();
    for (alias, group) in [("shared", g1), ("dropbox", g2), ("empty", g1)] {
        let c = storage
            .create_collection(NewCollection {
                api_root: ROOT.into(),
                id: None,
                alias: Some(alias.into()),
                title: format!("{alias} collection"),
                description: None,
                trust_group_id: group,
                default_tlp: taxii_hub::domain::tlp::Tlp::Amber,
                custom_content: Default::default(),
                unknown_marking: Default::default(),
            })
            .await
            .unwrap();
        collections.insert(alias.to_string(), c.id);
    }
    let mut passwords = HashMap::new();
    for (username, org, role) in [
        ("alpha", "alpha", Role::Member),
        ("alpha-reader", "alpha", Role::Reader),
        ("beta", "beta", Role::Member),
        ("gamma", "gamma", Role::Member),
        ("cert", "cert", Role::Member),
    ] {
        let password = format!("{username}-pw-{}", uuid::Uuid::new_v4().simple());
        storage
            .create_account(NewAccount {
                organisation_id: orgs[org],
                username: username.into(),
                password_hash: Some(hash_password(&password).unwrap()),
                role,
                redistributes: false,
                cert_fingerprint: None,
                cert_subject: None,
                cert_issuer: None,
            })
            .await
            .unwrap();
        passwords.insert(username.to_string(), password);
    }

    let generated = taxii_hub::tls::generate_self_signed(&["localhost", "127.0.0.1"]).unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &generated.ca_pem).unwrap();
    let mut hub = TestHub {
        hub: None,
        base: String::new(),
        client: Client::new(),
        storage,
        config,
        dir,
        ca_path,
        ca_pem: generated.ca_pem,
        tls_chain: generated.chain_pem,
        tls_key: generated.key_pem,
        client_ca_pem: None,
        client_identity: None,
        passwords,
        collections,
    };
    hub.launch();
    hub
}

impl TestHub {
    /// Starts (or restarts) the server on the same database.
    pub fn launch(&mut self) {
        if let Some(h) = self.hub.take() {
            h.stop();
        }
        let client =
            taxii_hub::tls::ClientAuth { ca_pem: self.client_ca_pem.clone().map(String::into_bytes), required: false };
        // The hub reads the bundle from its configuration too (subject mappings check issuance).
        self.config.tls.client_ca = self.client_ca_pem.as_ref().map(|pem| {
            let path = self.dir.path().join("client-ca.pem");
            std::fs::write(&path, pem).unwrap();
            path
        });
        let tls =
            taxii_hub::tls::server_config_with_clients(self.tls_chain.as_bytes(), self.tls_key.as_bytes(), &client)
                .unwrap();
        let running = RunningHub::start(self.config.clone(), self.storage.clone(), tls).expect("hub starts");
        self.base = format!("https://localhost:{}", running.addr.port());
        self.client = self.client_with(self.client_identity.as_deref());
        self.hub = Some(running);
    }

    /// A client trusting the hub's CA, presenting `identity` (certificate + key PEM) if given.
    pub fn client_with(&self, identity: Option<&str>) -> Client {
        let mut b = Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap());
        if let Some(pem) = identity {
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }

    pub async fn add_org(&self, name: &str, kind: OrganisationKind) -> (i64, String) {
        let id = self
            .storage
            .create_organisation(NewOrganisation { name: name.into(), identity_id: None, sector: None, kind })
            .await
            .unwrap();
        let identity = self.storage.organisation(id).await.unwrap().unwrap().identity_id;
        (id, identity)
    }

    /// An account that authenticates with an API key (cheap to make, unlike argon2 passwords).
    pub async fn add_key_account(&mut self, username: &str, org: i64, role: Role, redistributes: bool) -> i64 {
        let id = self
            .storage
            .create_account(NewAccount {
                organisation_id: org,
                username: username.into(),
                password_hash: None,
                role,
                redistributes,
                cert_fingerprint: None,
                cert_subject: None,
                cert_issuer: None,
            })
            .await
            .unwrap();
        let key = taxii_hub::domain::credentials::new_api_key();
        self.storage.create_api_key(id, &key.prefix, key.hash, None, None).await.unwrap();
        self.passwords.insert(username.to_string(), key.key);
        id
    }

    pub async fn add_group(&self, name: &str, members: &[(i64, Membership)]) -> i64 {
        let g = self.storage.create_trust_group(name, None).await.unwrap();
        for (org, m) in members {
            self.storage.set_membership(g, *org, *m).await.unwrap();
        }
        g
    }

    pub async fn add_collection(
        &mut self,
        alias: &str,
        group: i64,
        default_tlp: taxii_hub::domain::tlp::Tlp,
    ) -> String {
        let c = self
            .storage
            .create_collection(NewCollection {
                api_root: ROOT.into(),
                id: None,
                alias: Some(alias.into()),
                title: alias.into(),
                description: None,
                trust_group_id: group,
                default_tlp,
                custom_content: Default::default(),
                unknown_marking: Default::default(),
            })
            .await
            .unwrap();
        self.collections.insert(alias.to_string(), c.id.clone());
        c.id
    }

    /// Another hub replica on the same database: on PostgreSQL a separate storage (its own pool
    /// and runtime), as a second process would have; on SQLite, which is one process per file,
    /// a second HTTP server over the same storage. Returns the replica and its base URL.
    pub fn replica(&self) -> (RunningHub, String) {
        let storage = if self.config.storage.url.starts_with("postgres") {
            taxii_hub::app::open_storage(&self.config).expect("second PostgreSQL storage")
        } else {
            self.storage.clone()
        };
        let tls = taxii_hub::tls::server_config(self.tls_chain.as_bytes(), self.tls_key.as_bytes()).unwrap();
        let running = RunningHub::start(self.config.clone(), storage, tls).expect("replica starts");
        let base = format!("https://localhost:{}", running.addr.port());
        (running, base)
    }

    pub fn backend(&self) -> &'static str {
        if self.config.storage.url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn collection_url(&self, alias: &str, rest: &str) -> String {
        self.url(&format!("/{ROOT}/collections/{}/{rest}", self.collections[alias]))
    }

    pub fn as_user(&self, method: reqwest::Method, user: &str, url: &str) -> RequestBuilder {
        self.client.request(method, url).basic_auth(user, Some(&self.passwords[user])).header("Accept", TAXII)
    }

    pub fn get(&self, user: &str, url: &str) -> RequestBuilder {
        self.as_user(reqwest::Method::GET, user, url)
    }

    pub async fn post_objects(&self, user: &str, alias: &str, objects: &[Value]) -> Response {
        self.as_user(reqwest::Method::POST, user, &self.collection_url(alias, "objects/"))
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string())
            .send()
            .await
            .unwrap()
    }

    /// Posts and asserts every object was accepted; returns the status resource.
    pub async fn add(&self, user: &str, alias: &str, objects: &[Value]) -> Value {
        let resp = self.post_objects(user, alias, objects).await;
        assert_eq!(resp.status(), 202);
        let status: Value = resp.json().await.unwrap();
        assert_eq!(status["failure_count"], 0, "{status}");
        status
    }
}

pub async fn json_of(resp: Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, headers, body)
}

/// Asserts a TAXII error resource with the given status.
pub async fn assert_taxii_error(resp: Response, status: u16) -> Value {
    let (code, headers, body) = json_of(resp).await;
    assert_eq!(code, status, "body: {body}");
    assert_eq!(headers["content-type"], TAXII);
    assert_eq!(body["http_status"], status.to_string(), "{body}");
    assert!(body["title"].is_string() && body["description"].is_string(), "{body}");
    body
}

pub fn uuid_for(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

pub fn indicator(n: u64, modified: &str) -> Value {
    json!({
        "type": "indicator",
        "spec_version": "2.1",
        "id": format!("indicator--{}", uuid_for(n)),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": modified,
        "name": format!("indicator {n}"),
        "pattern": format!("[ipv4-addr:value = '10.0.{}.{}']", n / 256 % 256, n % 256),
        "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00Z"
    })
}

pub fn malware(n: u64) -> Value {
    json!({
        "type": "malware",
        "spec_version": "2.1",
        "id": format!("malware--{}", uuid_for(n)),
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "name": format!("malware {n}"),
        "is_family": true
    })
}

pub fn ids_of(envelope: &Value) -> Vec<String> {
    envelope["objects"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}
