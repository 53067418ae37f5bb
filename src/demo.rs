//! `taxii-hub demo`: a self-contained hub on SQLite with a self-signed certificate and the demo
//! world of `config/demo-provision.toml` (compiled in). Passwords are generated on the first run
//! and kept in `<data-dir>/demo-credentials.json`; re-running reuses data and passwords.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::credentials::random_password;
use crate::provision::{ProvisionError, ProvisionFile};

pub const DEMO_PROVISION: &str = include_str!("../config/demo-provision.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoAccount {
    pub username: String,
    pub password: String,
    pub organisation: String,
    pub role: String,
    pub redistributes: bool,
}

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-credentials.json")
}

/// The environment variable the demo provisioning file reads an account's password from.
pub fn password_variable(username: &str) -> String {
    format!("TAXII_HUB_DEMO_PASSWORD_{}", username.to_ascii_uppercase().replace('-', "_"))
}

/// The demo file and its accounts' passwords (made once, then reused).
pub fn prepare(data_dir: &Path) -> Result<(ProvisionFile, Vec<DemoAccount>), ProvisionError> {
    let file = ProvisionFile::parse(DEMO_PROVISION)?;
    let path = credentials_path(data_dir);
    let saved: Vec<DemoAccount> = match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| ProvisionError::File(format!("{}: {e}", path.display())))?
        }
        Err(_) => Vec::new(),
    };
    let accounts: Vec<DemoAccount> = file
        .accounts
        .iter()
        .map(|a| DemoAccount {
            username: a.username.clone(),
            password: saved
                .iter()
                .find(|s| s.username == a.username)
                .map(|s| s.password.clone())
                .unwrap_or_else(random_password),
            organisation: a.organisation.clone(),
            role: a.role.clone(),
            redistributes: a.redistributes,
        })
        .collect();
    std::fs::create_dir_all(data_dir).map_err(|e| ProvisionError::File(format!("{}: {e}", data_dir.display())))?;
    let json = serde_json::to_string_pretty(&accounts).map_err(|e| ProvisionError::File(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| ProvisionError::File(format!("{}: {e}", path.display())))?;
    Ok((file, accounts))
}

pub fn banner(base: &str, api_root: &str, ca: &Path, accounts: &[DemoAccount]) -> String {
    let mut s = String::new();
    s.push_str("\ntaxii-hub demo is running\n\n");
    s.push_str(&format!(
        "  Discovery:  {base}/taxii2/\n  API root:   {base}/{api_root}/\n  CA cert:    {}\n\n",
        ca.display()
    ));
    s.push_str("  Accounts (username, password, organisation, role):\n");
    for a in accounts {
        let note = if a.redistributes { "  (redistributing feed: never receives AMBER+STRICT or RED)" } else { "" };
        s.push_str(&format!("    {:<13} {}  {:<16} {}{note}\n", a.username, a.password, a.organisation, a.role));
    }
    if let Some(banco) = accounts.iter().find(|a| a.username == "banco") {
        s.push_str(&format!(
            "\n  curl:\n    curl --cacert {ca} -u {u}:{p} -H 'Accept: application/taxii+json;version=2.1' {base}/{api_root}/collections/\n",
            ca = ca.display(),
            u = banco.username,
            p = banco.password
        ));
        s.push_str(&format!(
            "\n  Python (pip install taxii2-client):\n    from taxii2client.v21 import Server\n    \
             server = Server('{base}/taxii2/', user='{u}', password='{p}', verify='{ca}')\n    \
             for c in server.default.collections: print(c.title, c.can_read, c.can_write)\n\n",
            ca = ca.display(),
            u = banco.username,
            p = banco.password
        ));
    }
    s
}
