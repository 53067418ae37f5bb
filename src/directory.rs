//! Directory operations shared by the admin API, the CLI and provisioning.

use crate::domain::credentials::new_api_key;
use crate::domain::timestamp::now_micros;
use crate::storage::{SharedStorage, StorageError};

/// Issues a new API key for an account, optionally revoking its other keys (rotation).
/// Returns the key's id and the key itself, which is never stored and must be shown once.
pub async fn issue_api_key(
    storage: &SharedStorage,
    account_id: i64,
    label: Option<&str>,
    expires_in_days: Option<u32>,
    revoke_others: bool,
) -> Result<(i64, String), StorageError> {
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
