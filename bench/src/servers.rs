//! Starting the servers under test, each on loopback with a fresh store:
//! - taxii-hub: `taxii-hub serve` over HTTPS (self-signed CA made here), SQLite with
//!   `sqlite_synchronous = "full"`, organisations/accounts/collections made with `taxii-hub provision`;
//! - medallion: memory backend, one waitress process with `workers` threads, plain HTTP;
//! - OpenTAXII: TAXII 2.1 server with its SQLite persistence, gunicorn with `workers` processes,
//!   plain HTTP, bearer token from `/management/auth`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::process::Command;

use crate::corpus::{ts_micros, uuid_id, Envelope};
use crate::procs::{self, Proc};
use crate::taxii::{self, Endpoint};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Hub,
    Medallion,
    Opentaxii,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hub => "hub",
            Kind::Medallion => "medallion",
            Kind::Opentaxii => "opentaxii",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hub" | "taxii-hub" => Some(Kind::Hub),
            "medallion" => Some(Kind::Medallion),
            "opentaxii" => Some(Kind::Opentaxii),
            _ => None,
        }
    }
}

/// What the servers need from the harness.
pub struct Env {
    pub hub_bin: PathBuf,
    pub python: PathBuf,
    pub peers_dir: PathBuf,
    pub workers: usize,
    pub partners: usize,
    pub hub_log_level: String,
    pub seed: u64,
    pub hub_env: Vec<(String, String)>,
}

pub struct Server {
    pub kind: Kind,
    pub proc: Option<Proc>,
    pub dir: PathBuf,
    pub transport: &'static str,
    pub ca_pem: Option<Vec<u8>>,
    /// Collection name → objects URL.
    pub collections: BTreeMap<String, String>,
    /// `Authorization` header value per partner organisation.
    pub partners: Vec<String>,
    /// STIX identity id per partner organisation (taxii-hub: read back from the admin API).
    pub identities: Vec<String>,
    pub db_files: Vec<PathBuf>,
    /// `next` may be sent again (stateless cursor): page 1,000 can be timed repeatedly.
    pub cursor_reusable: bool,
    pub process_model: String,
    pub notes: Vec<String>,
    port: u16,
}

impl Server {
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(|p| p.pid)
    }

    pub fn client(&self) -> reqwest::Client {
        taxii::client(self.ca_pem.as_deref())
    }

    /// The objects endpoint of `collection` as partner `p`, on a new connection pool.
    pub fn endpoint(&self, collection: &str, p: usize) -> Endpoint {
        Endpoint {
            client: self.client(),
            url: self
                .collections
                .get(collection)
                .cloned()
                .unwrap_or_else(|| panic!("{} has no collection {collection}", self.kind.name())),
            auth: self.partners[p % self.partners.len()].clone(),
        }
    }

    pub fn peak_rss(&self) -> u64 {
        self.pid().map(procs::tree_peak_rss).unwrap_or(0)
    }

    pub fn cpu_seconds(&self) -> f64 {
        self.pid().map(procs::tree_cpu_seconds).unwrap_or(0.0)
    }

    pub fn db_bytes(&self) -> u64 {
        self.db_files.iter().map(|p| procs::file_size(p)).sum()
    }

    pub fn check_alive(&mut self) -> Result<(), String> {
        if let Some(p) = self.proc.as_mut() {
            if let Some(status) = p.exited() {
                return Err(format!("{} exited ({status}); log:\n{}", p.name(), p.log_tail(20)));
            }
        }
        Ok(())
    }

    pub async fn stop(&mut self) {
        if let Some(p) = self.proc.take() {
            p.stop(Duration::from_secs(15)).await;
        }
    }
}

/// Identity ids the harness gives the hub's partner organisations (and uses in the corpora).
pub fn partner_identities(seed: u64, partners: usize) -> Vec<String> {
    (0..partners).map(|i| uuid_id("identity", seed, 0x1d, i as u64, 7)).collect()
}

pub fn partner_name(i: usize) -> String {
    format!("Partner {}", i + 1)
}

// ---- taxii-hub ---------------------------------------------------------------------------------

pub async fn start_hub(env: &Env, dir: &Path) -> Result<Server, String> {
    std::fs::create_dir_all(dir.join("tls")).map_err(|e| e.to_string())?;
    let made = taxii_hub::tls::generate_self_signed(&["localhost", "127.0.0.1"]).map_err(|e| e.to_string())?;
    let (cert, key, ca) = (dir.join("tls/server.pem"), dir.join("tls/server.key"), dir.join("tls/ca.pem"));
    taxii_hub::tls::write_self_signed(&made, &cert, &key, &ca).map_err(|e| e.to_string())?;
    let port = procs::free_port();
    let db = dir.join("hub.db");
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "# taxii-hub benchmark configuration (written by taxii-hub-bench)\n\
             [server]\nlisten = \"127.0.0.1:{port}\"\nworkers = {workers}\n\n\
             [tls]\ncert = {cert:?}\nkey = {key:?}\n\n\
             [storage]\nurl = \"sqlite://{db}\"\nsqlite_synchronous = \"full\"\n\n\
             [log]\nlevel = {level:?}\n",
            workers = env.workers,
            cert = cert.display().to_string(),
            key = key.display().to_string(),
            db = db.display(),
            level = env.hub_log_level,
        ),
    )
    .map_err(|e| e.to_string())?;

    // Organisations, one trust group, two collections and the accounts, as an operator would.
    let identities = partner_identities(env.seed, env.partners);
    let mut passwords: Vec<(String, String)> = Vec::new();
    let mut plan = String::from(
        "# written by taxii-hub-bench\n[[organisations]]\nname = \"Bench Operator\"\nkind = \"operator\"\nsector = \"government\"\n\n",
    );
    for (i, identity) in identities.iter().enumerate() {
        plan += &format!(
            "[[organisations]]\nname = \"{}\"\nkind = \"partner\"\nsector = \"{}\"\nidentity_id = \"{identity}\"\n\n",
            partner_name(i),
            ["financial-services", "energy", "telecommunications", "government", "healthcare"][i % 5]
        );
    }
    plan += "[[trust_groups]]\nname = \"Bench sharing group\"\ndescription = \"The benchmark's partner organisations\"\nmembers = [\n";
    for i in 0..env.partners {
        plan += &format!("  {{ organisation = \"{}\", access = \"read-write\" }},\n", partner_name(i));
    }
    plan += "]\n\n";
    for (alias, tlp) in [("bench", "green"), ("tlp", "amber"), ("plain", "green")] {
        plan += &format!(
            "[[collections]]\napi_root = \"hub\"\nalias = \"{alias}\"\ntitle = \"Benchmark collection {alias}\"\ntrust_group = \"Bench sharing group\"\ndefault_tlp = \"{tlp}\"\n\n"
        );
    }
    let admin_pw = taxii_hub::domain::credentials::random_password();
    plan += "[[accounts]]\nusername = \"bench-admin\"\norganisation = \"Bench Operator\"\nrole = \"admin\"\npassword_env = \"TAXII_BENCH_PASSWORD_ADMIN\"\n\n";
    passwords.push(("TAXII_BENCH_PASSWORD_ADMIN".into(), admin_pw.clone()));
    let mut partner_pw = Vec::new();
    for i in 0..env.partners {
        let var = format!("TAXII_BENCH_PASSWORD_{}", i + 1);
        let pw = taxii_hub::domain::credentials::random_password();
        plan += &format!(
            "[[accounts]]\nusername = \"partner-{}\"\norganisation = \"{}\"\nrole = \"member\"\npassword_env = \"{var}\"\n\n",
            i + 1,
            partner_name(i)
        );
        passwords.push((var, pw.clone()));
        partner_pw.push(pw);
    }
    let plan_path = dir.join("provision.toml");
    std::fs::write(&plan_path, plan).map_err(|e| e.to_string())?;
    let mut prov = Command::new(&env.hub_bin);
    prov.arg("provision")
        .arg(&plan_path)
        .arg("--config")
        .arg(&config)
        .envs(passwords.iter().cloned())
        .envs(env.hub_env.iter().cloned());
    let out = prov.output().await.map_err(|e| format!("cannot run {}: {e}", env.hub_bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "taxii-hub provision failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let mut cmd = Command::new(&env.hub_bin);
    cmd.arg("serve").arg("--config").arg(&config).envs(env.hub_env.iter().cloned());
    let proc = Proc::spawn("taxii-hub", cmd, &dir.join("hub.log"))?;
    let base = format!("https://127.0.0.1:{port}");
    let ca_pem = made.ca_pem.into_bytes();
    let client = taxii::client(Some(&ca_pem));
    let health = format!("{base}/healthz");
    let mut server = Server {
        kind: Kind::Hub,
        proc: Some(proc),
        dir: dir.to_path_buf(),
        transport: "HTTPS (TLS 1.3, rustls)",
        ca_pem: Some(ca_pem),
        collections: ["bench", "tlp", "plain"]
            .iter()
            .map(|c| (c.to_string(), format!("{base}/hub/collections/{c}/objects/")))
            .collect(),
        partners: partner_pw
            .iter()
            .enumerate()
            .map(|(i, pw)| taxii::basic(&format!("partner-{}", i + 1), pw))
            .collect(),
        identities: Vec::new(),
        db_files: vec![db.clone(), dir.join("hub.db-wal"), dir.join("hub.db-shm")],
        cursor_reusable: true,
        process_model: format!("1 process, {} HTTP workers, SQLite writer thread + reader pool", env.workers),
        notes: Vec::new(),
        port,
    };
    let ready = procs::wait_until(Duration::from_secs(30), || {
        let (c, u) = (client.clone(), health.clone());
        async move { c.get(&u).send().await.map(|r| r.status().is_success()).unwrap_or(false) }
    })
    .await;
    server.check_alive()?;
    if !ready {
        return Err(format!("taxii-hub did not answer {health} within 30 s"));
    }

    // RED objects name their recipients by identity id: read them as an operator would.
    let resp = client
        .get(format!("{base}/admin/organisations/"))
        .header("Authorization", taxii::basic("bench-admin", &admin_pw))
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("GET /admin/organisations/: {e}"))?;
    let status = resp.status();
    let body: Value = serde_json::from_slice(&resp.bytes().await.map_err(|e| e.to_string())?)
        .map_err(|e| format!("GET /admin/organisations/: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET /admin/organisations/: HTTP {status}: {body}"));
    }
    let orgs = body["organisations"].as_array().cloned().unwrap_or_default();
    for i in 0..env.partners {
        let name = partner_name(i);
        let id = orgs
            .iter()
            .find(|o| o["name"] == name.as_str())
            .and_then(|o| o["identity_id"].as_str())
            .ok_or_else(|| format!("the admin API does not list '{name}' with an identity_id: {body}"))?;
        server.identities.push(id.to_string());
    }
    if server.identities != identities {
        server.notes.push("identity ids differ from the provisioning file; the admin API's are used".into());
    }
    Ok(server)
}

/// After the hub has stopped: fold the WAL into the database and measure the file, with a
/// per-table breakdown when SQLite's dbstat table is available.
pub fn hub_db_after_checkpoint(dir: &Path) -> (u64, Vec<(String, u64)>) {
    use taxii_hub::storage::sqlite::rusqlite::Connection;
    let db = dir.join("hub.db");
    let mut breakdown = Vec::new();
    if let Ok(conn) = Connection::open(&db) {
        let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        if let Ok(mut stmt) = conn.prepare("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC") {
            if let Ok(rows) = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))) {
                breakdown = rows.flatten().collect();
            }
        }
    }
    let bytes = [db.clone(), dir.join("hub.db-wal")].iter().map(|p| procs::file_size(p)).sum();
    (bytes, breakdown)
}

// ---- peers -------------------------------------------------------------------------------------

/// Whether the venv has what a peer needs; `Err(reason)` for the table otherwise.
pub async fn peer_available(env: &Env, kind: Kind) -> Result<String, String> {
    if !env.python.exists() {
        return Err(format!("not installed: no Python venv at {} (scripts/bench creates it)", env.python.display()));
    }
    let (modules, dist) = match kind {
        Kind::Medallion => ("medallion, waitress", "medallion"),
        Kind::Opentaxii => ("opentaxii, gunicorn, opentaxii.persistence.sqldb", "opentaxii"),
        Kind::Hub => return Ok(String::new()),
    };
    let code = format!("import {modules}; from importlib.metadata import version; print(version('{dist}'))");
    let out = Command::new(&env.python).arg("-c").arg(code).output().await.map_err(|e| format!("not runnable: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("not installed: {}", err.lines().last().unwrap_or("import failed")))
    }
}

const MEDALLION_COLLECTION: &str = "6b1f5c3e-2d4a-4f8e-9a6b-0c1d2e3f4a5b";

/// medallion with its memory backend; `preload` fills the collection from the data file.
pub async fn start_medallion(env: &Env, dir: &Path, preload: Option<&[Envelope]>) -> Result<Server, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let port = procs::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let password = taxii_hub::domain::credentials::random_password();
    let mut objects: Vec<Value> = Vec::new();
    let mut manifest: Vec<Value> = Vec::new();
    if let Some(envs) = preload {
        let t0 = crate::corpus::now_micros();
        for e in envs {
            let v: Value = serde_json::from_slice(&e.body).map_err(|e| e.to_string())?;
            for obj in v["objects"].as_array().cloned().unwrap_or_default() {
                let date_added = ts_micros(t0 + manifest.len() as i64);
                manifest.push(json!({
                    "id": obj["id"],
                    "date_added": date_added,
                    "version": obj.get("modified").or(obj.get("created")).cloned().unwrap_or(Value::Null),
                    "media_type": "application/stix+json;version=2.1",
                }));
                objects.push(obj);
            }
        }
    }
    let data = json!({
        "/discovery": {
            "title": "medallion (benchmark)",
            "description": "taxii-hub benchmark peer",
            "default": format!("{base}/bench/"),
            "api_roots": [format!("{base}/bench/")]
        },
        "bench": {
            "information": {
                "title": "bench",
                "description": "benchmark API root",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 104_857_600
            },
            "status": [],
            "collections": [{
                "id": MEDALLION_COLLECTION,
                "title": "bench",
                "description": "benchmark collection",
                "can_read": true,
                "can_write": true,
                "media_types": ["application/stix+json;version=2.1"],
                "objects": objects,
                "manifest": manifest
            }]
        }
    });
    let data_path = dir.join("data.json");
    let f = std::fs::File::create(&data_path).map_err(|e| e.to_string())?;
    serde_json::to_writer(std::io::BufWriter::new(f), &data).map_err(|e| e.to_string())?;
    let config_path = dir.join("config.json");
    let config = json!({
        "backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend", "filename": data_path},
        "users": {"bench": password},
        "taxii": {"max_page_size": 10000}
    });
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).map_err(|e| e.to_string())?;

    let mut cmd = Command::new(&env.python);
    cmd.arg(env.peers_dir.join("medallion_serve.py"))
        .arg(&config_path)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(env.workers.to_string());
    let proc = Proc::spawn("medallion", cmd, &dir.join("medallion.log"))?;
    let auth = taxii::basic("bench", &password);
    let mut server = Server {
        kind: Kind::Medallion,
        proc: Some(proc),
        dir: dir.to_path_buf(),
        transport: "HTTP (plain)",
        ca_pem: None,
        collections: [("bench".to_string(), format!("{base}/bench/collections/{MEDALLION_COLLECTION}/objects/"))].into_iter().collect(),
        partners: vec![auth.clone(); env.partners],
        identities: partner_identities(env.seed, env.partners),
        db_files: Vec::new(),
        cursor_reusable: false,
        process_model: format!(
            "1 waitress process, {} threads (the memory backend's data lives in one process, so it cannot be split across processes)",
            env.workers
        ),
        notes: Vec::new(),
        port,
    };
    let client = taxii::client(None);
    let url = format!("{base}/taxii2/");
    let limit = Duration::from_secs(60 + objects_hint(preload) / 2000);
    let ready = procs::wait_until(limit, || {
        let (c, u, a) = (client.clone(), url.clone(), auth.clone());
        async move {
            c.get(&u)
                .header("Authorization", a)
                .header("Accept", taxii::TAXII)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }
    })
    .await;
    server.check_alive()?;
    if !ready {
        return Err(format!("medallion did not answer {url} within {} s", limit.as_secs()));
    }
    Ok(server)
}

fn objects_hint(preload: Option<&[Envelope]>) -> u64 {
    preload.map(|e| e.iter().map(|x| x.objects as u64).sum()).unwrap_or(0)
}

pub async fn start_opentaxii(env: &Env, dir: &Path) -> Result<Server, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let port = procs::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let password = taxii_hub::domain::credentials::random_password();
    let config_path = dir.join("opentaxii.yml");
    std::fs::write(
        &config_path,
        format!(
            "# written by taxii-hub-bench: OpenTAXII as a TAXII 2.1-only server on SQLite\n\
             domain: \"127.0.0.1:{port}\"\n\
             support_basic_auth: yes\n\
             return_server_error_details: yes\n\
             auth_api:\n  class: opentaxii.auth.sqldb.SQLDatabaseAPI\n  parameters:\n    db_connection: sqlite:///{auth}\n    create_tables: yes\n    secret: {secret}\n    token_ttl_secs: 86400\n\
             taxii1:\n\
             taxii2:\n  persistence_api:\n    class: opentaxii.persistence.sqldb.Taxii2SQLDatabaseAPI\n    parameters:\n      db_connection: sqlite:///{data}\n      create_tables: yes\n  title: bench\n  max_content_length: 104857600\n  allow_custom_properties: yes\n\
             logging:\n  opentaxii: warning\n  root: warning\n",
            auth = dir.join("auth.db").display(),
            data = dir.join("data.db").display(),
            secret = taxii_hub::domain::credentials::random_password(),
        ),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(&env.python)
        .arg(env.peers_dir.join("opentaxii_setup.py"))
        .arg("bench")
        .arg(&password)
        .env("OPENTAXII_CONFIG", &config_path)
        .output()
        .await
        .map_err(|e| format!("OpenTAXII setup: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let ids: Value = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok()).ok_or_else(|| {
        format!(
            "OpenTAXII setup failed: {}{}",
            stdout,
            String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
        )
    })?;
    let (root, coll) = (
        ids["api_root"].as_str().unwrap_or_default().to_string(),
        ids["collection"].as_str().unwrap_or_default().to_string(),
    );

    let proc = spawn_gunicorn(env, dir, port)?;
    let client = taxii::client(None);
    let auth_url = format!("{base}/management/auth");
    let body = json!({"username": "bench", "password": password}).to_string();
    let mut token = None;
    for _ in 0..300 {
        if let Ok(r) = client.post(&auth_url).header("Content-Type", "application/json").body(body.clone()).send().await
        {
            if r.status().is_success() {
                if let Ok(v) = serde_json::from_slice::<Value>(&r.bytes().await.unwrap_or_default()) {
                    token = v["token"].as_str().map(str::to_string);
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut server = Server {
        kind: Kind::Opentaxii,
        proc: Some(proc),
        dir: dir.to_path_buf(),
        transport: "HTTP (plain)",
        ca_pem: None,
        collections: [("bench".to_string(), format!("{base}/taxii2/{root}/collections/{coll}/objects/"))]
            .into_iter()
            .collect(),
        partners: Vec::new(),
        identities: partner_identities(env.seed, env.partners),
        db_files: vec![dir.join("data.db"), dir.join("data.db-journal"), dir.join("data.db-wal")],
        cursor_reusable: true,
        process_model: format!("gunicorn, {} sync worker processes", env.workers),
        notes: Vec::new(),
        port,
    };
    server.check_alive()?;
    let token = token.ok_or_else(|| format!("OpenTAXII gave no token at {auth_url}"))?;
    server.partners = vec![format!("Bearer {token}"); env.partners];
    Ok(server)
}

fn spawn_gunicorn(env: &Env, dir: &Path, port: u16) -> Result<Proc, String> {
    let gunicorn = env.python.parent().map(|p| p.join("gunicorn")).unwrap_or_else(|| PathBuf::from("gunicorn"));
    let mut cmd = Command::new(gunicorn);
    cmd.arg("opentaxii.http:app")
        .arg("--workers")
        .arg(env.workers.to_string())
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--timeout")
        .arg("3600")
        .arg("--log-level")
        .arg("warning")
        .env("OPENTAXII_CONFIG", dir.join("opentaxii.yml"));
    Proc::spawn("opentaxii", cmd, &dir.join("opentaxii.log"))
}

/// A stopped OpenTAXII started again on the same SQLite files, port and token.
pub async fn restart_opentaxii(env: &Env, mut server: Server) -> Result<Server, String> {
    server.proc = Some(spawn_gunicorn(env, &server.dir, server.port)?);
    let ep = server.endpoint("bench", 0);
    let ready = procs::wait_until(Duration::from_secs(60), || {
        let ep = ep.clone();
        async move { taxii::get_page(&ep, &[("limit", "1")]).await.is_ok() }
    })
    .await;
    server.check_alive()?;
    if !ready {
        return Err("OpenTAXII did not come back after a restart".into());
    }
    Ok(server)
}
