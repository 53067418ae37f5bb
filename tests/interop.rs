//! Runs the OASIS Python `taxii2-client` against the real server.
//!
//! The interpreter comes from `TAXII_HUB_PYTHON` (scripts/test sets it to a virtualenv with
//! taxii2-client); without it, `python3`. A missing client is a failure, never a silent pass.

mod common;

use common::start;

use std::process::Command;

#[tokio::test]
async fn taxii2_client_full_session() {
    let hub = start().await;
    let python = std::env::var("TAXII_HUB_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import taxii2client"]).output();
    let available = probe.as_ref().is_ok_and(|o| o.status.success());
    assert!(
        available,
        "the interop test needs the Python package taxii2-client: run scripts/test (it installs it), \
         or set TAXII_HUB_PYTHON to an interpreter that has it ({python} could not import it)"
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/taxii2client_session.py");
    let base = hub.base.clone();
    let ca = hub.ca_path.display().to_string();
    let (alpha, beta) = (hub.passwords["alpha"].clone(), hub.passwords["beta"].clone());
    let out = tokio::task::spawn_blocking(move || {
        // requests lets these variables override the `verify=` a client passes (psf/requests#3829).
        Command::new(&python)
            .args([script, &base, "alpha", &alpha, &ca, "beta", &beta])
            .env_remove("REQUESTS_CA_BUNDLE")
            .env_remove("CURL_CA_BUNDLE")
            .output()
    })
    .await
    .unwrap()
    .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "taxii2-client session failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("interop: OK"), "{stdout}");
}
