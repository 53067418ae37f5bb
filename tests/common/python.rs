//! The Python interpreter of the interop tests and how scripts run under it.
//!
//! The interpreter comes from `TAXII_HUB_PYTHON` (scripts/test sets it to a virtualenv with the
//! packages); without it, `python3`. A missing package is a failure, never a silent pass.

use std::process::{Command, Output};

/// The interpreter, after checking that it imports `modules` (e.g. "taxii2client, pymisp").
pub fn python(modules: &str, packages: &str) -> String {
    let python = std::env::var("TAXII_HUB_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", &format!("import {modules}")]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "these tests need the Python packages {packages}: run scripts/test (it installs them), \
         or set TAXII_HUB_PYTHON to an interpreter that has them ({python} could not import them)"
    );
    python
}

/// Runs a script; blocking, so call it from `spawn_blocking`.
pub fn run_script(python: String, args: Vec<String>) -> Output {
    // requests lets these variables override the `verify=` a client passes (psf/requests#3829).
    Command::new(python)
        .args(args)
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .output()
        .expect("python runs")
}
