//! Command-line helpers for common administration tasks, working directly on the storage.

use clap::Subcommand;

use crate::app::AppError;
use crate::domain::model::{AccountUpdate, NewAccount, Role};
use crate::storage::SharedStorage;

#[derive(Subcommand)]
pub enum AccountAction {
    /// Create an account and print its API key (shown once).
    Create {
        #[arg(long)]
        username: String,
        /// Organisation name.
        #[arg(long)]
        organisation: String,
        /// member, reader or admin
        #[arg(long, default_value = "member")]
        role: String,
        /// The account's feed leaves the organisation (never receives AMBER+STRICT or RED).
        #[arg(long)]
        redistributes: bool,
    },
    /// Issue a new API key and revoke the account's other keys.
    RotateKey {
        #[arg(long)]
        username: String,
        /// Keep the existing keys valid (add a key rather than rotate).
        #[arg(long)]
        keep_old: bool,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Disable an account at once (all its credentials stop working).
    Disable {
        #[arg(long)]
        username: String,
    },
}

pub fn other(e: impl std::fmt::Display) -> AppError {
    AppError::Server(std::io::Error::other(e.to_string()))
}

pub async fn account(storage: &SharedStorage, action: AccountAction) -> Result<(), AppError> {
    match action {
        AccountAction::Create { username, organisation, role, redistributes } => {
            let org = storage
                .organisation_by_name(&organisation)
                .await?
                .ok_or_else(|| other(format!("no organisation named '{organisation}'")))?;
            let role =
                Role::parse(&role).ok_or_else(|| other(format!("role '{role}': use member, reader or admin")))?;
            let id = storage
                .create_account(NewAccount {
                    organisation_id: org,
                    username: username.clone(),
                    password_hash: None,
                    role,
                    redistributes,
                    cert_fingerprint: None,
                    cert_subject: None,
                    cert_issuer: None,
                })
                .await?;
            let (_, key) = crate::directory::issue_api_key(storage, id, Some("cli"), None, false).await?;
            println!("created account '{username}' (id {id})\nAPI key (shown once): {key}");
        }
        AccountAction::RotateKey { username, keep_old, expires_in_days } => {
            let account = storage
                .account_by_username(&username)
                .await?
                .ok_or_else(|| other(format!("no account '{username}'")))?;
            let (_, key) =
                crate::directory::issue_api_key(storage, account.id, Some("cli"), expires_in_days, !keep_old).await?;
            println!("new API key for '{username}' (shown once): {key}");
        }
        AccountAction::Disable { username } => {
            let account = storage
                .account_by_username(&username)
                .await?
                .ok_or_else(|| other(format!("no account '{username}'")))?;
            storage.update_account(account.id, AccountUpdate { disabled: Some(true), ..Default::default() }).await?;
            println!("disabled account '{username}'");
        }
    }
    Ok(())
}
