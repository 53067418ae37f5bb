//! The hub's directory: organisations, accounts and their credentials, trust groups, collections.

use async_trait::async_trait;

use super::StorageError;
use crate::domain::model::{
    AccountRecord, AccountUpdate, ApiKeyRecord, Collection, CollectionUpdate, Membership, NewAccount, NewCollection,
    NewOrganisation, Organisation, OrganisationUpdate, TrustGroup,
};
use crate::domain::timestamp::Micros;

#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn create_organisation(&self, org: NewOrganisation) -> Result<i64, StorageError>;
    async fn organisations(&self) -> Result<Vec<Organisation>, StorageError>;
    async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StorageError>;
    async fn organisation_by_name(&self, name: &str) -> Result<Option<i64>, StorageError>;
    async fn update_organisation(&self, id: i64, update: OrganisationUpdate) -> Result<(), StorageError>;
    /// Refused (Conflict) while accounts or objects still refer to the organisation.
    async fn delete_organisation(&self, id: i64) -> Result<(), StorageError>;

    async fn create_account(&self, account: NewAccount) -> Result<i64, StorageError>;
    async fn accounts(&self, organisation_id: Option<i64>) -> Result<Vec<AccountRecord>, StorageError>;
    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StorageError>;
    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>, StorageError>;
    /// The account a client certificate maps to, by SHA-256 fingerprint first, then subject.
    /// The account mapped to this certificate's fingerprint, else to its (subject, issuer) pair.
    async fn account_by_certificate(
        &self,
        fingerprint: &str,
        subject: &str,
        issuer: &str,
    ) -> Result<Option<AccountRecord>, StorageError>;
    async fn update_account(&self, id: i64, update: AccountUpdate) -> Result<(), StorageError>;
    async fn delete_account(&self, id: i64) -> Result<(), StorageError>;

    async fn create_api_key(
        &self,
        account_id: i64,
        prefix: &str,
        hash: [u8; 32],
        label: Option<&str>,
        expires: Option<Micros>,
    ) -> Result<ApiKeyRecord, StorageError>;
    /// The key's record, its stored hash and its account.
    async fn api_key_by_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKeyRecord, Vec<u8>, AccountRecord)>, StorageError>;
    async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyRecord>, StorageError>;
    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<(), StorageError>;

    async fn create_trust_group(&self, name: &str, description: Option<&str>) -> Result<i64, StorageError>;
    async fn trust_groups(&self) -> Result<Vec<TrustGroup>, StorageError>;
    async fn trust_group(&self, id: i64) -> Result<Option<TrustGroup>, StorageError>;
    async fn update_trust_group(
        &self,
        id: i64,
        name: Option<String>,
        description: Option<Option<String>>,
    ) -> Result<(), StorageError>;
    /// Refused (Conflict) while collections still use the group.
    async fn delete_trust_group(&self, id: i64) -> Result<(), StorageError>;
    async fn set_membership(
        &self,
        trust_group_id: i64,
        organisation_id: i64,
        m: Membership,
    ) -> Result<(), StorageError>;
    async fn remove_membership(&self, trust_group_id: i64, organisation_id: i64) -> Result<(), StorageError>;

    async fn create_collection(&self, c: NewCollection) -> Result<Collection, StorageError>;
    /// Every collection of every API root, for administrators.
    async fn all_collections(&self) -> Result<Vec<Collection>, StorageError>;
    async fn collection_by_id(&self, id: &str) -> Result<Option<Collection>, StorageError>;
    async fn update_collection(&self, id: &str, update: CollectionUpdate) -> Result<(), StorageError>;
    /// Refused (Conflict) while the collection holds objects.
    async fn delete_collection(&self, id: &str) -> Result<(), StorageError>;
}
