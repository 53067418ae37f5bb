//! Runs the OASIS Python `taxii2-client` against the real server.
//!
//! The interpreter comes from `TAXII_HUB_PYTHON` (scripts/test sets it to a virtualenv with
//! taxii2-client); without it, `python3`. A missing client is a failure, never a silent pass.

mod common;

use common::start;
use taxii_hub::provision::{apply_with_env, ProvisionFile};

fn python() -> String {
    common::python::python("taxii2client", "taxii2-client")
}

use common::python::run_script;

#[tokio::test]
async fn taxii2_client_full_session() {
    let hub = start().await;
    let python = python();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/taxii2client_session.py").to_string();
    let ca = hub.ca_path.display().to_string();
    let args = vec![
        script,
        hub.base.clone(),
        "alpha".into(),
        hub.passwords["alpha"].clone(),
        ca,
        "beta".into(),
        hub.passwords["beta"].clone(),
    ];
    let out = tokio::task::spawn_blocking(move || run_script(python, args)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "taxii2-client session failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("interop: OK"), "{stdout}");
}

/// The demo world, one taxii2-client session per role (producer, recipient CERT, redistributing
/// feed with a Bearer token, other sectors, admin, read-only telco).
#[tokio::test]
async fn taxii2_client_sessions_per_demo_role() {
    let hub = start().await;
    let python = python();
    let plan = ProvisionFile::parse(taxii_hub::demo::DEMO_PROVISION).unwrap();
    let creds: Vec<serde_json::Value> = plan
        .accounts
        .iter()
        .map(|a| serde_json::json!({ "username": a.username, "password": format!("{}-{}", a.username, uuid::Uuid::new_v4()) }))
        .collect();
    let env = |name: &str| {
        creds
            .iter()
            .find(|c| taxii_hub::demo::password_variable(c["username"].as_str().unwrap()) == name)
            .map(|c| c["password"].as_str().unwrap().to_string())
    };
    apply_with_env(&hub.storage, &plan, &["hub".to_string()], &env).await.unwrap();
    let creds_path = hub.dir.path().join("demo-credentials.json");
    std::fs::write(&creds_path, serde_json::to_string(&creds).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/roles_session.py").to_string();
    let args = vec![script, hub.base.clone(), hub.ca_path.display().to_string(), creds_path.display().to_string()];
    let out = tokio::task::spawn_blocking(move || run_script(python, args)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "per-role session failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("per-role sessions: OK"), "{stdout}");
}
