//! Directory operations shared by the admin API, the CLI and provisioning.

use crate::domain::credentials::new_api_key;
use crate::domain::timestamp::now_micros;
use crate::storage::{SharedStorage, StorageError};

/// The longest an API key may be issued for: ten years.
pub const MAX_API_KEY_DAYS: u32 = 3650;

/// Checks `expires_in_days` (1 to [`MAX_API_KEY_DAYS`]), so an expiry never overflows into the past.
pub fn check_api_key_days(days: Option<u32>) -> Result<(), String> {
    match days {
        Some(d) if d == 0 || d > MAX_API_KEY_DAYS => {
            Err(format!("expires_in_days must be between 1 and {MAX_API_KEY_DAYS}, got {d}"))
        }
        _ => Ok(()),
    }
}

/// The longest subject or issuer name a certificate mapping may hold.
const MAX_NAME_LEN: usize = 1024;

/// Checks a client-certificate subject mapping: a subject and the issuing CA's subject, both
/// or neither, each as the hub renders certificate names (`CN=…, O=…`, values escaped as
/// RFC 4514 asks). A subject alone would let any CA in the trust bundle mint a matching
/// certificate, so it is refused.
pub fn check_subject_mapping(subject: Option<&str>, issuer: Option<&str>) -> Result<(), String> {
    match (subject, issuer) {
        (None, None) => Ok(()),
        (Some(_), None) => {
            Err("cert_subject needs cert_issuer: the subject of the CA that issues the certificate".into())
        }
        (None, Some(_)) => Err("cert_issuer is only meaningful with cert_subject".into()),
        (Some(s), Some(i)) => {
            for (field, name) in [("cert_subject", s), ("cert_issuer", i)] {
                if name.trim().is_empty() || name.len() > MAX_NAME_LEN || !name.contains('=') {
                    return Err(format!(
                        "{field} must be a distinguished name such as 'CN=feed, O=CERT.PT' (at most {MAX_NAME_LEN} bytes)"
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Issues a new API key for an account, optionally revoking its other keys (rotation).
/// Returns the key's id and the key itself, which is never stored and must be shown once.
pub async fn issue_api_key(
    storage: &SharedStorage,
    account_id: i64,
    label: Option<&str>,
    expires_in_days: Option<u32>,
    revoke_others: bool,
) -> Result<(i64, String), StorageError> {
    check_api_key_days(expires_in_days).map_err(StorageError::Config)?;
    if storage.account(account_id).await?.is_none() {
        return Err(StorageError::NotFound(format!("account {account_id}")));
    }
    let expires = expires_in_days.map(|d| now_micros() + i64::from(d) * 86_400_000_000);
    let key = new_api_key();
    let record = storage.create_api_key(account_id, &key.prefix, key.hash, label, expires).await?;
    if revoke_others {
        for old in storage.api_keys(account_id).await? {
            if old.id != record.id && !old.revoked {
                storage.revoke_api_key(account_id, old.id).await?;
            }
        }
    }
    Ok((record.id, key.key))
}
