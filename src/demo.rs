//! `taxii-hub demo`: a self-contained hub with demo organisations, trust groups, collections
//! and accounts, on SQLite with a self-signed certificate. Re-running reuses the data.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::model::{Membership, NewAccount, NewCollection, NewOrganisation, OrganisationKind, Role};
use crate::domain::tlp::Tlp;
use crate::http::auth::hash_password;
use crate::storage::{SharedStorage, StorageError};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoAccount {
    pub username: String,
    pub password: String,
    pub organisation: String,
    pub role: String,
    pub note: String,
}

struct OrgSpec {
    name: &'static str,
    kind: OrganisationKind,
    sector: &'static str,
}

const ORGS: &[OrgSpec] = &[
    OrgSpec { name: "Hub Operator", kind: OrganisationKind::Operator, sector: "government" },
    OrgSpec { name: "CERT.PT", kind: OrganisationKind::NationalCert, sector: "government" },
    OrgSpec { name: "Banco Atlântico", kind: OrganisationKind::Partner, sector: "financial-services" },
    OrgSpec { name: "Rede Energia", kind: OrganisationKind::Partner, sector: "energy" },
    OrgSpec { name: "TelcoPT", kind: OrganisationKind::Partner, sector: "telecommunications" },
];

/// (trust group, [(organisation, read, write)], collection alias, collection title)
type GroupSpec = (&'static str, &'static [(&'static str, bool, bool)], &'static str, &'static str);

const GROUPS: &[GroupSpec] = &[
    (
        "PT Finance ISAC",
        &[("Banco Atlântico", true, true), ("CERT.PT", true, true)],
        "finance-ioc",
        "PT Finance ISAC indicators",
    ),
    ("Energy sector", &[("Rede Energia", true, true), ("CERT.PT", true, true)], "energy-ioc", "Energy sector indicators"),
    (
        "National CSIRT network",
        &[("CERT.PT", true, true), ("Banco Atlântico", true, false), ("Rede Energia", true, false), ("TelcoPT", true, false)],
        "national-feed",
        "National CERT feed",
    ),
];

/// (username, organisation, role, redistributes, note)
const ACCOUNTS: &[(&str, &str, Role, bool, &str)] = &[
    ("admin", "Hub Operator", Role::Admin, false, "hub administrator"),
    ("cert-pt", "CERT.PT", Role::Member, false, "national CERT analyst: reads and writes every group it is in"),
    ("cert-pt-feed", "CERT.PT", Role::Reader, true, "national CERT's outbound feed (redistributes)"),
    ("banco", "Banco Atlântico", Role::Member, false, "bank analyst: PT Finance ISAC, reads the national feed"),
    ("energia", "Rede Energia", Role::Member, false, "energy company analyst: Energy sector, reads the national feed"),
    ("telco", "TelcoPT", Role::Reader, false, "telco SOC: reads the national feed"),
];

fn random_password() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

pub fn credentials_path(data_dir: &Path) -> PathBuf {
    data_dir.join("demo-credentials.json")
}

/// Creates the demo world unless it exists; returns the demo accounts and their passwords.
pub async fn seed(storage: &SharedStorage, api_root: &str, data_dir: &Path) -> Result<Vec<DemoAccount>, StorageError> {
    let path = credentials_path(data_dir);
    if storage.organisation_by_name("CERT.PT").await?.is_some() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| StorageError::Config(format!("demo data exists but {} is unreadable: {e}", path.display())))?;
        return serde_json::from_str(&text).map_err(|e| StorageError::Config(format!("{}: {e}", path.display())));
    }
    let mut org_ids = std::collections::HashMap::new();
    for org in ORGS {
        let id = storage
            .create_organisation(NewOrganisation {
                name: org.name.into(),
                identity_id: None,
                sector: Some(org.sector.into()),
                kind: org.kind,
            })
            .await?;
        org_ids.insert(org.name, id);
    }
    for (group, members, alias, title) in GROUPS {
        let gid = storage.create_trust_group(group, None).await?;
        for (org, can_read, can_write) in *members {
            storage
                .set_membership(gid, org_ids[org], Membership { can_read: *can_read, can_write: *can_write })
                .await?;
        }
        storage
            .create_collection(NewCollection {
                api_root: api_root.into(),
                id: None,
                alias: Some((*alias).into()),
                title: (*title).into(),
                description: Some(format!("Audience: trust group '{group}'")),
                trust_group_id: gid,
                default_tlp: Tlp::Amber,
            })
            .await?;
    }
    let mut accounts = Vec::new();
    for (username, org, role, redistributes, note) in ACCOUNTS {
        let password = random_password();
        let hash = hash_password(&password).map_err(StorageError::Config)?;
        storage
            .create_account(NewAccount {
                organisation_id: org_ids[org],
                username: (*username).into(),
                password_hash: Some(hash),
                role: *role,
                redistributes: *redistributes,
                cert_fingerprint: None,
                cert_subject: None,
            })
            .await?;
        accounts.push(DemoAccount {
            username: (*username).into(),
            password,
            organisation: (*org).into(),
            role: role.as_str().into(),
            note: (*note).into(),
        });
    }
    let json = serde_json::to_string_pretty(&accounts).map_err(|e| StorageError::Config(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| StorageError::Config(format!("cannot write {}: {e}", path.display())))?;
    Ok(accounts)
}

pub fn banner(base: &str, api_root: &str, ca: &Path, accounts: &[DemoAccount]) -> String {
    let mut s = String::new();
    s.push_str("\ntaxii-hub demo is running\n\n");
    s.push_str(&format!("  Discovery:  {base}/taxii2/\n  API root:   {base}/{api_root}/\n  CA cert:    {}\n\n", ca.display()));
    s.push_str("  Accounts (password, organisation, role):\n");
    for a in accounts {
        s.push_str(&format!("    {:<13} {}  {:<16} {:<7} {}\n", a.username, a.password, a.organisation, a.role, a.note));
    }
    let banco = accounts.iter().find(|a| a.username == "banco").unwrap_or(&accounts[0]);
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
    s
}
