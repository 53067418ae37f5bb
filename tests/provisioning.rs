//! Provisioning: idempotent, removal takes access away, secrets only from the environment or
//! files; and the demo command end to end, as the README tells a new user to run it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

use taxii_hub::provision::{apply_with_env, ProvisionFile};

/// A stand-in environment (setting real variables races with other test threads).
struct Env(Mutex<HashMap<String, String>>);

impl Env {
    fn set(&self, k: &str, v: &str) {
        self.0.lock().unwrap().insert(k.into(), v.into());
    }
}

async fn apply(
    storage: &taxii_hub::storage::SharedStorage,
    file: &ProvisionFile,
    roots: &[String],
    env: &Env,
) -> Result<Vec<String>, taxii_hub::provision::ProvisionError> {
    let lookup = |k: &str| env.0.lock().unwrap().get(k).cloned();
    apply_with_env(storage, file, roots, &lookup).await
}

fn file(members: &str, accounts: &str) -> ProvisionFile {
    ProvisionFile::parse(&format!(
        r#"
[[organisations]]
name = "Bank One"
kind = "partner"
sector = "financial-services"

[[organisations]]
name = "Bank Two"
kind = "partner"

[[trust_groups]]
name = "Banks"
members = [{members}]

[[collections]]
api_root = "hub"
alias = "bank-ioc"
title = "Bank indicators"
trust_group = "Banks"
default_tlp = "green"

{accounts}
"#
    ))
    .unwrap()
}

const BOTH: &str =
    r#"{ organisation = "Bank One", access = "read-write" }, { organisation = "Bank Two", access = "read" }"#;
const ONE: &str = r#"{ organisation = "Bank One", access = "read-write" }"#;
const ACCOUNTS: &str = r#"
[[accounts]]
username = "one"
organisation = "Bank One"
role = "member"
password_env = "PROVISION_TEST_ONE"

[[accounts]]
username = "two"
organisation = "Bank Two"
role = "reader"
password_file = "PLACEHOLDER"
"#;

#[tokio::test]
async fn provisioning_is_idempotent_and_removal_takes_access_away() {
    let mut hub = start().await;
    let secret_file = hub.dir.path().join("two.secret");
    std::fs::write(&secret_file, "two-password-from-a-file\n").unwrap();
    let env = Env(Mutex::new(HashMap::new()));
    env.set("PROVISION_TEST_ONE", "one-password-from-env");
    let accounts = ACCOUNTS.replace("PLACEHOLDER", &secret_file.display().to_string());
    let roots = vec!["hub".to_string()];

    let first = apply(&hub.storage, &file(BOTH, &accounts), &roots, &env).await.unwrap();
    assert!(first.iter().any(|c| c.contains("created collection 'bank-ioc'")), "{first:?}");
    let second = apply(&hub.storage, &file(BOTH, &accounts), &roots, &env).await.unwrap();
    assert!(second.is_empty(), "a second run changes nothing: {second:?}");

    hub.passwords.insert("one".into(), "one-password-from-env".into());
    hub.passwords.insert("two".into(), "two-password-from-a-file".into());
    let (code, _, cols) = json_of(hub.get("two", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(cols["collections"][0]["alias"], "bank-ioc");
    assert_eq!(cols["collections"][0]["can_write"], false);

    // Bank Two leaves the group in the file: it loses access.
    let changes = apply(&hub.storage, &file(ONE, &accounts), &roots, &env).await.unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    let (_, _, cols) = json_of(hub.get("two", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    assert_eq!(cols, serde_json::json!({}));
    assert_taxii_error(hub.get("two", &hub.collection_url_by_alias("bank-ioc")).send().await.unwrap(), 404).await;

    // An account dropped from the file is disabled; a changed secret is re-hashed.
    let only_one = accounts.split("[[accounts]]").nth(1).map(|a| format!("[[accounts]]{a}")).unwrap();
    let changes = apply(&hub.storage, &file(ONE, &only_one), &roots, &env).await.unwrap();
    assert_eq!(changes, vec!["disabled account 'two' (not in the file)".to_string()]);
    assert_taxii_error(hub.get("two", &hub.url("/hub/collections/")).send().await.unwrap(), 401).await;
    env.set("PROVISION_TEST_ONE", "a-brand-new-password");
    let changes = apply(&hub.storage, &file(ONE, &only_one), &roots, &env).await.unwrap();
    assert_eq!(changes, vec!["updated account 'one'".to_string()]);
    assert_taxii_error(hub.get("one", &hub.url("/hub/collections/")).send().await.unwrap(), 401).await;
    hub.passwords.insert("one".into(), "a-brand-new-password".into());
    assert_eq!(hub.get("one", &hub.url("/hub/collections/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn bad_files_are_refused_before_anything_is_written() {
    let hub = start().await;
    let roots = vec!["hub".to_string()];
    let env = Env(Mutex::new(HashMap::new()));
    let missing_env = r#"
[[accounts]]
username = "x"
organisation = "Bank One"
role = "member"
password_env = "PROVISION_TEST_SURELY_UNSET"
"#;
    let err = apply(&hub.storage, &file(BOTH, missing_env), &roots, &env).await.unwrap_err();
    assert!(err.to_string().contains("PROVISION_TEST_SURELY_UNSET"), "{err}");
    assert!(
        ProvisionFile::parse("[[accounts]]\nusername = \"x\"\npassword = \"plaintext\"\n").is_err(),
        "plaintext passwords are not a field"
    );
    let bad_group = file(r#"{ organisation = "Nobody", access = "read" }"#, "");
    assert!(apply(&hub.storage, &bad_group, &roots, &env).await.unwrap_err().to_string().contains("Nobody"));
}

impl TestHub {
    fn collection_url_by_alias(&self, alias: &str) -> String {
        self.url(&format!("/{ROOT}/collections/{alias}/objects/"))
    }
}

/// `cargo run --release -- demo`, as the README says: it starts, prints working credentials, and
/// a second start reuses the data and the passwords.
#[test]
fn the_demo_command_starts_a_working_hub_and_reuses_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let run = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_taxii-hub"))
            .args(["demo", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("demo.log")).unwrap())
            .spawn()
            .unwrap();
        let mut out = String::new();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while let Some(Ok(line)) = lines.next() {
            out.push_str(&line);
            out.push('\n');
            if line.contains("for c in server.default.collections") {
                break;
            }
        }
        // Keep draining, so the hub never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (child, out)
    };
    let (mut child, banner) = run();
    assert!(banner.contains(&format!("https://127.0.0.1:{port}/taxii2/")), "{banner}");
    let creds: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/demo-credentials.json")).unwrap()).unwrap();
    let banco = creds.iter().find(|a| a["username"] == "banco").unwrap()["password"].as_str().unwrap().to_string();
    assert!(banner.contains(&banco));
    let ca = std::fs::read(dir.path().join("data/tls/ca.pem")).unwrap();
    let client = reqwest::client_trusting(&ca);
    let get = |client: &reqwest::Client| {
        let req = client
            .get(format!("https://127.0.0.1:{port}/hub/collections/"))
            .basic_auth("banco", Some(&banco))
            .header("Accept", TAXII);
        tokio::runtime::Runtime::new().unwrap().block_on(async move {
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    let (code, cols) = get(&client);
    assert_eq!(code, 200);
    let aliases: Vec<&str> =
        cols["collections"].as_array().unwrap().iter().map(|c| c["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, vec!["finance-ioc", "national-feed"]);
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut again, banner2) = run();
    assert!(
        banner2.contains("taxii-hub demo is running"),
        "second start: {banner2}\n{}",
        std::fs::read_to_string(dir.path().join("demo.log")).unwrap_or_default()
    );
    let creds2: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("data/demo-credentials.json")).unwrap()).unwrap();
    assert_eq!(creds, creds2, "passwords are reused");
    // A new client: the old one's pooled connection went with the first process.
    assert_eq!(get(&reqwest::client_trusting(&ca)).0, 200);
    again.kill().unwrap();
    again.wait().unwrap();
}

mod reqwest {
    pub use ::reqwest::*;
    pub fn client_trusting(ca: &[u8]) -> Client {
        Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(Certificate::from_pem(ca).unwrap())
            .build()
            .unwrap()
    }
}
