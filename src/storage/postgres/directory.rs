//! PostgreSQL: organisations, accounts, API keys, trust groups and collections.

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Pool};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::objects::{collection_from_row, COLLECTION_COLUMNS};
use super::{db_err, pool_err, PostgresStorage};
use crate::domain::model::new_token_binding;
use crate::domain::model::{
    AccountRecord, AccountUpdate, ApiKeyRecord, Collection, CollectionUpdate, GroupMember, Membership, NewAccount,
    NewCollection, NewOrganisation, Organisation, OrganisationKind, OrganisationUpdate, Role, TrustGroup,
};
use crate::domain::timestamp::{now_micros, Micros};
use crate::storage::directory::DirectoryStore;
use crate::storage::StorageError;

const ACCOUNT_COLUMNS: &str =
    "a.id, a.username, a.organisation_id, a.role, a.redistributes, a.disabled, a.password_hash, a.cert_fingerprint, a.cert_subject, a.cert_issuer, a.token_binding";
const KEY_COLUMNS: &str = "k.id, k.account_id, k.prefix, k.label, k.created, k.expires, k.revoked";

fn account_from_row(r: &Row, at: usize) -> AccountRecord {
    let role: String = r.get(at + 3);
    AccountRecord {
        id: r.get(at),
        username: r.get(at + 1),
        organisation_id: r.get(at + 2),
        role: Role::parse(&role).unwrap_or(Role::Reader),
        redistributes: r.get(at + 4),
        disabled: r.get(at + 5),
        password_hash: r.get(at + 6),
        cert_fingerprint: r.get(at + 7),
        cert_subject: r.get(at + 8),
        cert_issuer: r.get(at + 9),
        token_binding: r.get(at + 10),
    }
}

fn organisation_from_row(r: &Row) -> Organisation {
    let kind: String = r.get(4);
    Organisation {
        id: r.get(0),
        name: r.get(1),
        identity_id: r.get(2),
        sector: r.get(3),
        kind: OrganisationKind::parse(&kind).unwrap_or(OrganisationKind::Partner).as_str(),
    }
}

fn key_from_row(r: &Row) -> ApiKeyRecord {
    ApiKeyRecord {
        id: r.get(0),
        account_id: r.get(1),
        prefix: r.get(2),
        label: r.get(3),
        created: r.get(4),
        expires: r.get(5),
        revoked: r.get(6),
    }
}

type Sets = Vec<(&'static str, Box<dyn ToSql + Sync + Send>)>;

async fn update_row(
    pool: &Pool,
    table: &str,
    key_column: &str,
    key: Box<dyn ToSql + Sync + Send>,
    what: &str,
    sets: Sets,
) -> Result<(), StorageError> {
    let client = pool.get().await.map_err(pool_err)?;
    let n = if sets.is_empty() {
        client
            .execute(&format!("SELECT 1 FROM {table} WHERE {key_column} = $1"), &[key.as_ref() as &(dyn ToSql + Sync)])
            .await
            .map_err(db_err)?
    } else {
        let assignments: Vec<String> = sets.iter().enumerate().map(|(i, (c, _))| format!("{c} = ${}", i + 1)).collect();
        let sql = format!("UPDATE {table} SET {} WHERE {key_column} = ${}", assignments.join(", "), sets.len() + 1);
        let mut values: Vec<&(dyn ToSql + Sync)> =
            sets.iter().map(|(_, v)| v.as_ref() as &(dyn ToSql + Sync)).collect();
        values.push(key.as_ref());
        client.execute(&sql, &values).await.map_err(db_err)?
    };
    if n == 0 {
        return Err(StorageError::NotFound(what.into()));
    }
    Ok(())
}

async fn exists<C: GenericClient>(client: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<bool, StorageError> {
    Ok(client.query_one(sql, params).await.map_err(db_err)?.get(0))
}

async fn members<C: GenericClient>(client: &C, id: i64) -> Result<Vec<GroupMember>, StorageError> {
    let rows = client
        .query("SELECT organisation_id, can_read, can_write FROM trust_group_members WHERE trust_group_id = $1 ORDER BY organisation_id", &[&id])
        .await
        .map_err(db_err)?;
    Ok(rows
        .iter()
        .map(|r| GroupMember { organisation_id: r.get(0), can_read: r.get(1), can_write: r.get(2) })
        .collect())
}

macro_rules! with_client {
    ($self:ident, |$client:ident| $body:expr) => {
        $self.run(move |pool| async move {
            let $client = pool.get().await.map_err(pool_err)?;
            $body
        })
    };
}

#[async_trait]
impl DirectoryStore for PostgresStorage {
    async fn create_organisation(&self, org: NewOrganisation) -> Result<i64, StorageError> {
        with_client!(self, |c| {
            let identity = org.identity_id.unwrap_or_else(|| format!("identity--{}", uuid::Uuid::new_v4()));
            let row = c
                .query_one(
                    "INSERT INTO organisations (name, identity_id, sector, kind, created) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    &[&org.name, &identity, &org.sector, &org.kind.as_str(), &now_micros()],
                )
                .await
                .map_err(db_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>, StorageError> {
        with_client!(self, |c| {
            let rows = c
                .query("SELECT id, name, identity_id, sector, kind FROM organisations ORDER BY id", &[])
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(organisation_from_row).collect())
        })
        .await
    }

    async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StorageError> {
        with_client!(self, |c| {
            let row = c
                .query_opt("SELECT id, name, identity_id, sector, kind FROM organisations WHERE id = $1", &[&id])
                .await
                .map_err(db_err)?;
            Ok(row.as_ref().map(organisation_from_row))
        })
        .await
    }

    async fn organisation_by_name(&self, name: &str) -> Result<Option<i64>, StorageError> {
        let name = name.to_string();
        with_client!(self, |c| {
            Ok(c.query_opt("SELECT id FROM organisations WHERE name = $1", &[&name])
                .await
                .map_err(db_err)?
                .map(|r| r.get(0)))
        })
        .await
    }

    async fn update_organisation(&self, id: i64, u: OrganisationUpdate) -> Result<(), StorageError> {
        self.run(move |pool| async move {
            let mut sets: Sets = Vec::new();
            if let Some(v) = u.name {
                sets.push(("name", Box::new(v)));
            }
            if let Some(v) = u.identity_id {
                sets.push(("identity_id", Box::new(v)));
            }
            if let Some(v) = u.sector {
                sets.push(("sector", Box::new(v)));
            }
            if let Some(v) = u.kind {
                sets.push(("kind", Box::new(v.as_str().to_string())));
            }
            update_row(&pool, "organisations", "id", Box::new(id), "organisation", sets).await
        })
        .await
    }

    async fn delete_organisation(&self, id: i64) -> Result<(), StorageError> {
        with_client!(self, |c| {
            let mut c = c;
            let tx = c.transaction().await.map_err(db_err)?;
            // Locked first, so no account or object can be added for it while it is checked.
            if tx
                .query_opt("SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE", &[&id])
                .await
                .map_err(db_err)?
                .is_none()
            {
                return Err(StorageError::NotFound("organisation".into()));
            }
            if exists(&tx, "SELECT EXISTS (SELECT 1 FROM accounts WHERE organisation_id = $1)", &[&id]).await? {
                return Err(StorageError::Conflict("the organisation still has accounts".into()));
            }
            if exists(&tx, "SELECT EXISTS (SELECT 1 FROM objects WHERE producer_org = $1)", &[&id]).await? {
                return Err(StorageError::Conflict("the organisation has shared objects".into()));
            }
            // What was addressed to it as TLP:RED stays with nobody.
            tx.execute("DELETE FROM object_recipients WHERE organisation_id = $1", &[&id]).await.map_err(db_err)?;
            tx.execute("DELETE FROM organisations WHERE id = $1", &[&id]).await.map_err(db_err)?;
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn create_account(&self, a: NewAccount) -> Result<i64, StorageError> {
        with_client!(self, |c| {
            let row = c
                .query_one(
                    "INSERT INTO accounts (organisation_id, username, password_hash, role, redistributes, cert_fingerprint, cert_subject, \
                     cert_issuer, token_binding, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                    &[&a.organisation_id, &a.username, &a.password_hash, &a.role.as_str(), &a.redistributes, &a.cert_fingerprint, &a.cert_subject,
                      &a.cert_issuer, &new_token_binding(), &now_micros()],
                )
                .await
                .map_err(db_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn accounts(&self, organisation_id: Option<i64>) -> Result<Vec<AccountRecord>, StorageError> {
        with_client!(self, |c| {
            let rows = c
                .query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE $1::BIGINT IS NULL OR a.organisation_id = $1 ORDER BY a.id"), &[&organisation_id])
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(|r| account_from_row(r, 0)).collect())
        })
        .await
    }

    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StorageError> {
        with_client!(self, |c| {
            let stmt = c
                .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = $1"))
                .await
                .map_err(db_err)?;
            Ok(c.query_opt(&stmt, &[&id]).await.map_err(db_err)?.map(|r| account_from_row(&r, 0)))
        })
        .await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>, StorageError> {
        let username = username.to_string();
        with_client!(self, |c| {
            let stmt = c
                .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.username = $1"))
                .await
                .map_err(db_err)?;
            Ok(c.query_opt(&stmt, &[&username]).await.map_err(db_err)?.map(|r| account_from_row(&r, 0)))
        })
        .await
    }

    async fn account_by_certificate(
        &self,
        fingerprint: &str,
        subject: &str,
        issuer: &str,
    ) -> Result<Option<AccountRecord>, StorageError> {
        let (fp, subject, issuer) = (fingerprint.to_ascii_lowercase(), subject.to_string(), issuer.to_string());
        with_client!(self, |c| {
            let row = c
                .query_opt(
                    &format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.cert_fingerprint = $1 OR (a.cert_subject = $2 AND a.cert_issuer = $3) \
                         ORDER BY a.cert_fingerprint = $1 DESC LIMIT 1"
                    ),
                    &[&fp, &subject, &issuer],
                )
                .await
                .map_err(db_err)?;
            Ok(row.map(|r| account_from_row(&r, 0)))
        })
        .await
    }

    async fn update_account(&self, id: i64, u: AccountUpdate) -> Result<(), StorageError> {
        self.run(move |pool| async move {
            let ends_tokens = u.ends_tokens();
            let mut sets: Sets = Vec::new();
            if let Some(v) = u.role {
                sets.push(("role", Box::new(v.as_str().to_string())));
            }
            if let Some(v) = u.redistributes {
                sets.push(("redistributes", Box::new(v)));
            }
            if let Some(v) = u.disabled {
                sets.push(("disabled", Box::new(v)));
            }
            if let Some(v) = u.password_hash {
                sets.push(("password_hash", Box::new(v)));
            }
            if let Some(v) = u.cert_fingerprint {
                sets.push(("cert_fingerprint", Box::new(v.map(|f| f.to_ascii_lowercase()))));
            }
            if let Some(v) = u.cert_subject {
                sets.push(("cert_subject", Box::new(v)));
            }
            if let Some(v) = u.cert_issuer {
                sets.push(("cert_issuer", Box::new(v)));
            }
            if ends_tokens {
                sets.push(("token_binding", Box::new(new_token_binding())));
            }
            update_row(&pool, "accounts", "id", Box::new(id), "account", sets).await
        })
        .await
    }

    async fn delete_account(&self, id: i64) -> Result<(), StorageError> {
        // API keys go with the account (ON DELETE CASCADE) and its statuses with it; audit rows
        // keep the id, which the sequence never hands out again.
        with_client!(self, |c| {
            let mut c = c;
            let tx = c.transaction().await.map_err(db_err)?;
            tx.execute("DELETE FROM statuses WHERE account_id = $1", &[&id]).await.map_err(db_err)?;
            match tx.execute("DELETE FROM accounts WHERE id = $1", &[&id]).await.map_err(db_err)? {
                0 => Err(StorageError::NotFound("account".into())),
                _ => tx.commit().await.map_err(db_err),
            }
        })
        .await
    }

    async fn create_api_key(
        &self,
        account_id: i64,
        prefix: &str,
        hash: [u8; 32],
        label: Option<&str>,
        expires: Option<Micros>,
    ) -> Result<ApiKeyRecord, StorageError> {
        let (prefix, label) = (prefix.to_string(), label.map(str::to_string));
        with_client!(self, |c| {
            let created = now_micros();
            let row = c
                .query_one(
                    "INSERT INTO api_keys (account_id, prefix, hash, label, created, expires) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[&account_id, &prefix, &hash.to_vec(), &label, &created, &expires],
                )
                .await
                .map_err(db_err)?;
            Ok(ApiKeyRecord { id: row.get(0), account_id, prefix, label, created, expires, revoked: false })
        })
        .await
    }

    async fn api_key_by_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKeyRecord, Vec<u8>, AccountRecord)>, StorageError> {
        let prefix = prefix.to_string();
        with_client!(self, |c| {
            let stmt = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS}, k.hash, {ACCOUNT_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.prefix = $1"))
                .await
                .map_err(db_err)?;
            Ok(c.query_opt(&stmt, &[&prefix]).await.map_err(db_err)?.map(|r| (key_from_row(&r), r.get(7), account_from_row(&r, 8))))
        })
        .await
    }

    async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyRecord>, StorageError> {
        with_client!(self, |c| {
            let rows = c
                .query(
                    &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = $1 ORDER BY k.id"),
                    &[&account_id],
                )
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(key_from_row).collect())
        })
        .await
    }

    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<(), StorageError> {
        with_client!(self, |c| {
            let mut c = c;
            let tx = c.transaction().await.map_err(db_err)?;
            match tx
                .execute(
                    "UPDATE api_keys SET revoked = TRUE WHERE id = $1 AND account_id = $2",
                    &[&key_id, &account_id],
                )
                .await
                .map_err(db_err)?
            {
                0 => Err(StorageError::NotFound("API key".into())),
                _ => {
                    // Tokens minted with the key (perhaps a leaked one) end with it.
                    tx.execute(
                        "UPDATE accounts SET token_binding = $1 WHERE id = $2",
                        &[&new_token_binding(), &account_id],
                    )
                    .await
                    .map_err(db_err)?;
                    tx.commit().await.map_err(db_err)
                }
            }
        })
        .await
    }

    async fn create_trust_group(&self, name: &str, description: Option<&str>) -> Result<i64, StorageError> {
        let (name, description) = (name.to_string(), description.map(str::to_string));
        with_client!(self, |c| {
            let row = c
                .query_one(
                    "INSERT INTO trust_groups (name, description, created) VALUES ($1, $2, $3) RETURNING id",
                    &[&name, &description, &now_micros()],
                )
                .await
                .map_err(db_err)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn trust_groups(&self) -> Result<Vec<TrustGroup>, StorageError> {
        with_client!(self, |c| {
            let rows =
                c.query("SELECT id, name, description FROM trust_groups ORDER BY id", &[]).await.map_err(db_err)?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                let id: i64 = r.get(0);
                out.push(TrustGroup { id, name: r.get(1), description: r.get(2), members: members(&c, id).await? });
            }
            Ok(out)
        })
        .await
    }

    async fn trust_group(&self, id: i64) -> Result<Option<TrustGroup>, StorageError> {
        with_client!(self, |c| {
            match c
                .query_opt("SELECT name, description FROM trust_groups WHERE id = $1", &[&id])
                .await
                .map_err(db_err)?
            {
                None => Ok(None),
                Some(r) => {
                    Ok(Some(TrustGroup { id, name: r.get(0), description: r.get(1), members: members(&c, id).await? }))
                }
            }
        })
        .await
    }

    async fn update_trust_group(
        &self,
        id: i64,
        name: Option<String>,
        description: Option<Option<String>>,
    ) -> Result<(), StorageError> {
        self.run(move |pool| async move {
            let mut sets: Sets = Vec::new();
            if let Some(v) = name {
                sets.push(("name", Box::new(v)));
            }
            if let Some(v) = description {
                sets.push(("description", Box::new(v)));
            }
            update_row(&pool, "trust_groups", "id", Box::new(id), "trust group", sets).await
        })
        .await
    }

    async fn delete_trust_group(&self, id: i64) -> Result<(), StorageError> {
        with_client!(self, |c| {
            if exists(&c, "SELECT EXISTS (SELECT 1 FROM collections WHERE trust_group_id = $1)", &[&id]).await? {
                return Err(StorageError::Conflict("collections still use the trust group".into()));
            }
            match c.execute("DELETE FROM trust_groups WHERE id = $1", &[&id]).await.map_err(db_err)? {
                0 => Err(StorageError::NotFound("trust group".into())),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn set_membership(
        &self,
        trust_group_id: i64,
        organisation_id: i64,
        m: Membership,
    ) -> Result<(), StorageError> {
        with_client!(self, |c| {
            c.execute(
                "INSERT INTO trust_group_members (trust_group_id, organisation_id, can_read, can_write) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (trust_group_id, organisation_id) DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write",
                &[&trust_group_id, &organisation_id, &m.can_read, &m.can_write],
            )
            .await
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_membership(&self, trust_group_id: i64, organisation_id: i64) -> Result<(), StorageError> {
        with_client!(self, |c| {
            match c
                .execute(
                    "DELETE FROM trust_group_members WHERE trust_group_id = $1 AND organisation_id = $2",
                    &[&trust_group_id, &organisation_id],
                )
                .await
                .map_err(db_err)?
            {
                0 => Err(StorageError::NotFound("membership".into())),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn create_collection(&self, n: NewCollection) -> Result<Collection, StorageError> {
        with_client!(self, |c| {
            let id = n.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let row = c
                .query_one(
                    "INSERT INTO collections (id, api_root, alias, title, description, trust_group_id, default_tlp, custom_content, unknown_marking, created) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING key",
                    &[&id, &n.api_root, &n.alias, &n.title, &n.description, &n.trust_group_id, &n.default_tlp.rank(), &n.custom_content.name(), &n.unknown_marking.name(), &now_micros()],
                )
                .await
                .map_err(db_err)?;
            Ok(Collection {
                key: row.get(0),
                id,
                api_root: n.api_root,
                alias: n.alias,
                title: n.title,
                description: n.description,
                trust_group_id: n.trust_group_id,
                default_tlp: n.default_tlp,
                custom_content: n.custom_content,
                unknown_marking: n.unknown_marking,
            })
        })
        .await
    }

    async fn all_collections(&self) -> Result<Vec<Collection>, StorageError> {
        with_client!(self, |c| {
            let rows = c
                .query(
                    &format!("SELECT {COLLECTION_COLUMNS} FROM collections c ORDER BY c.api_root, c.created, c.key"),
                    &[],
                )
                .await
                .map_err(db_err)?;
            Ok(rows.iter().map(collection_from_row).collect())
        })
        .await
    }

    async fn collection_by_id(&self, id: &str) -> Result<Option<Collection>, StorageError> {
        let id = id.to_string();
        with_client!(self, |c| {
            Ok(c.query_opt(&format!("SELECT {COLLECTION_COLUMNS} FROM collections c WHERE c.id = $1"), &[&id])
                .await
                .map_err(db_err)?
                .as_ref()
                .map(collection_from_row))
        })
        .await
    }

    async fn update_collection(&self, id: &str, u: CollectionUpdate) -> Result<(), StorageError> {
        let id = id.to_string();
        self.run(move |pool| async move {
            let mut sets: Sets = Vec::new();
            if let Some(v) = u.alias {
                sets.push(("alias", Box::new(v)));
            }
            if let Some(v) = u.title {
                sets.push(("title", Box::new(v)));
            }
            if let Some(v) = u.description {
                sets.push(("description", Box::new(v)));
            }
            if let Some(v) = u.trust_group_id {
                sets.push(("trust_group_id", Box::new(v)));
            }
            if let Some(v) = u.default_tlp {
                sets.push(("default_tlp", Box::new(v.rank())));
            }
            if let Some(v) = u.custom_content {
                sets.push(("custom_content", Box::new(v.name().to_string())));
            }
            if let Some(v) = u.unknown_marking {
                sets.push(("unknown_marking", Box::new(v.name().to_string())));
            }
            update_row(&pool, "collections", "id", Box::new(id), "collection", sets).await
        })
        .await
    }

    async fn delete_collection(&self, id: &str) -> Result<(), StorageError> {
        let id = id.to_string();
        with_client!(self, |c| {
            if exists(&c, "SELECT EXISTS (SELECT 1 FROM objects o JOIN collections c ON c.key = o.collection_key WHERE c.id = $1)", &[&id]).await? {
                return Err(StorageError::Conflict("the collection still holds objects".into()));
            }
            match c.execute("DELETE FROM collections WHERE id = $1", &[&id]).await.map_err(db_err)? {
                0 => Err(StorageError::NotFound("collection".into())),
                _ => Ok(()),
            }
        })
        .await
    }
}
