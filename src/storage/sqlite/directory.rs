//! SQLite: organisations, accounts, API keys, trust groups and collections.

use async_trait::async_trait;

use super::objects::{collection_from_row, COLLECTION_COLUMNS};
use super::rusqlite::{self, params, Connection, OptionalExtension, ToSql};
use super::{db_err, SqliteStorage};
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

fn account_from_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<AccountRecord> {
    let role: String = r.get(at + 3)?;
    Ok(AccountRecord {
        id: r.get(at)?,
        username: r.get(at + 1)?,
        organisation_id: r.get(at + 2)?,
        // An unknown role (never written by this code) gets the least power.
        role: Role::parse(&role).unwrap_or(Role::Reader),
        redistributes: r.get(at + 4)?,
        disabled: r.get(at + 5)?,
        password_hash: r.get(at + 6)?,
        cert_fingerprint: r.get(at + 7)?,
        cert_subject: r.get(at + 8)?,
        cert_issuer: r.get(at + 9)?,
        token_binding: r.get(at + 10)?,
    })
}

fn organisation_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Organisation> {
    let kind: String = r.get(4)?;
    Ok(Organisation {
        id: r.get(0)?,
        name: r.get(1)?,
        identity_id: r.get(2)?,
        sector: r.get(3)?,
        kind: OrganisationKind::parse(&kind).unwrap_or(OrganisationKind::Partner).as_str(),
    })
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.get(0)?,
        account_id: r.get(1)?,
        prefix: r.get(2)?,
        label: r.get(3)?,
        created: r.get(4)?,
        expires: r.get(5)?,
        revoked: r.get(6)?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.account_id, k.prefix, k.label, k.created, k.expires, k.revoked";

/// `UPDATE table SET a = ?, b = ? WHERE key_column = ?` from the fields that are set; fails with
/// NotFound when no row has that key.
fn update_row(
    conn: &Connection,
    table: &str,
    key_column: &str,
    key: &dyn ToSql,
    what: &str,
    sets: Vec<(&str, Box<dyn ToSql + Send>)>,
) -> Result<(), StorageError> {
    if sets.is_empty() {
        let exists: bool = conn
            .query_row(&format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE {key_column} = ?1)"), [key], |r| r.get(0))
            .map_err(db_err)?;
        return if exists { Ok(()) } else { Err(StorageError::NotFound(what.into())) };
    }
    let assignments: Vec<String> = sets.iter().enumerate().map(|(i, (c, _))| format!("{c} = ?{}", i + 1)).collect();
    let sql = format!("UPDATE {table} SET {} WHERE {key_column} = ?{}", assignments.join(", "), sets.len() + 1);
    let mut values: Vec<&dyn ToSql> = sets.iter().map(|(_, v)| v.as_ref() as &dyn ToSql).collect();
    values.push(key);
    let n = conn.execute(&sql, values.as_slice()).map_err(db_err)?;
    if n == 0 {
        return Err(StorageError::NotFound(what.into()));
    }
    Ok(())
}

fn delete_row(conn: &Connection, sql: &str, key: &dyn ToSql, what: &str) -> Result<(), StorageError> {
    match conn.execute(sql, [key]).map_err(db_err)? {
        0 => Err(StorageError::NotFound(what.into())),
        _ => Ok(()),
    }
}

fn refuse_if(conn: &Connection, sql: &str, key: &dyn ToSql, why: &str) -> Result<(), StorageError> {
    let used: bool = conn.query_row(sql, [key], |r| r.get(0)).map_err(db_err)?;
    if used {
        Err(StorageError::Conflict(why.into()))
    } else {
        Ok(())
    }
}

fn trust_group_members(conn: &Connection, id: i64) -> rusqlite::Result<Vec<GroupMember>> {
    let mut s = conn.prepare_cached(
        "SELECT organisation_id, can_read, can_write FROM trust_group_members WHERE trust_group_id = ?1 ORDER BY organisation_id",
    )?;
    let rows = s.query_map([id], |r| {
        Ok(GroupMember { organisation_id: r.get(0)?, can_read: r.get(1)?, can_write: r.get(2)? })
    })?;
    rows.collect()
}

#[async_trait]
impl DirectoryStore for SqliteStorage {
    async fn create_organisation(&self, org: NewOrganisation) -> Result<i64, StorageError> {
        self.write(move |c| {
            let identity = org.identity_id.unwrap_or_else(|| format!("identity--{}", uuid::Uuid::new_v4()));
            c.execute(
                "INSERT INTO organisations (name, identity_id, sector, kind, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![org.name, identity, org.sector, org.kind.as_str(), now_micros()],
            )
            .map_err(db_err)?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn organisations(&self) -> Result<Vec<Organisation>, StorageError> {
        self.read(|c| {
            let mut s = c
                .prepare_cached("SELECT id, name, identity_id, sector, kind FROM organisations ORDER BY id")
                .map_err(db_err)?;
            let rows = s.query_map([], organisation_from_row).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn organisation(&self, id: i64) -> Result<Option<Organisation>, StorageError> {
        self.read(move |c| {
            c.query_row(
                "SELECT id, name, identity_id, sector, kind FROM organisations WHERE id = ?1",
                [id],
                organisation_from_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn organisation_by_name(&self, name: &str) -> Result<Option<i64>, StorageError> {
        let name = name.to_string();
        self.read(move |c| {
            c.query_row("SELECT id FROM organisations WHERE name = ?1", [name], |r| r.get(0)).optional().map_err(db_err)
        })
        .await
    }

    async fn update_organisation(&self, id: i64, u: OrganisationUpdate) -> Result<(), StorageError> {
        self.write(move |c| {
            let mut sets: Vec<(&str, Box<dyn ToSql + Send>)> = Vec::new();
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
                sets.push(("kind", Box::new(v.as_str())));
            }
            update_row(c, "organisations", "id", &id, "organisation", sets)
        })
        .await
    }

    async fn delete_organisation(&self, id: i64) -> Result<(), StorageError> {
        self.write(move |c| {
            refuse_if(
                c,
                "SELECT EXISTS (SELECT 1 FROM accounts WHERE organisation_id = ?1)",
                &id,
                "the organisation still has accounts",
            )?;
            refuse_if(
                c,
                "SELECT EXISTS (SELECT 1 FROM objects WHERE producer_org = ?1)",
                &id,
                "the organisation has shared objects",
            )?;
            // What was addressed to it as TLP:RED stays with nobody.
            c.execute("DELETE FROM object_recipients WHERE organisation_id = ?1", [id]).map_err(db_err)?;
            delete_row(c, "DELETE FROM organisations WHERE id = ?1", &id, "organisation")
        })
        .await
    }

    async fn create_account(&self, a: NewAccount) -> Result<i64, StorageError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO accounts (organisation_id, username, password_hash, role, redistributes, cert_fingerprint, cert_subject, \
                 cert_issuer, token_binding, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    a.organisation_id,
                    a.username,
                    a.password_hash,
                    a.role.as_str(),
                    a.redistributes,
                    a.cert_fingerprint,
                    a.cert_subject,
                    a.cert_issuer,
                    new_token_binding(),
                    now_micros()
                ],
            )
            .map_err(db_err)?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn accounts(&self, organisation_id: Option<i64>) -> Result<Vec<AccountRecord>, StorageError> {
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE ?1 IS NULL OR a.organisation_id = ?1 ORDER BY a.id"
                ))
                .map_err(db_err)?;
            let rows = s.query_map([organisation_id], |r| account_from_row(r, 0)).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StorageError> {
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ?1"))
                .and_then(|mut s| s.query_row([id], |r| account_from_row(r, 0)).optional())
                .map_err(db_err)
        })
        .await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<AccountRecord>, StorageError> {
        let username = username.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.username = ?1"))
                .and_then(|mut s| s.query_row([username], |r| account_from_row(r, 0)).optional())
                .map_err(db_err)
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
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.cert_fingerprint = ?1 OR (a.cert_subject = ?2 AND a.cert_issuer = ?3) \
                 ORDER BY a.cert_fingerprint = ?1 DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row(params![fp, subject, issuer], |r| account_from_row(r, 0)).optional())
            .map_err(db_err)
        })
        .await
    }

    async fn update_account(&self, id: i64, u: AccountUpdate) -> Result<(), StorageError> {
        self.write(move |c| {
            let ends_tokens = u.ends_tokens();
            let mut sets: Vec<(&str, Box<dyn ToSql + Send>)> = Vec::new();
            if let Some(v) = u.role {
                sets.push(("role", Box::new(v.as_str())));
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
            update_row(c, "accounts", "id", &id, "account", sets)
        })
        .await
    }

    async fn delete_account(&self, id: i64) -> Result<(), StorageError> {
        // API keys go with the account (ON DELETE CASCADE) and its statuses with it; audit rows
        // keep the id, which no later account can get (AUTOINCREMENT).
        self.write(move |c| {
            c.execute("DELETE FROM statuses WHERE account_id = ?1", [id]).map_err(db_err)?;
            delete_row(c, "DELETE FROM accounts WHERE id = ?1", &id, "account")
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
        self.write(move |c| {
            let created = now_micros();
            c.execute(
                "INSERT INTO api_keys (account_id, prefix, hash, label, created, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![account_id, prefix, hash.to_vec(), label, created, expires],
            )
            .map_err(db_err)?;
            Ok(ApiKeyRecord { id: c.last_insert_rowid(), account_id, prefix, label, created, expires, revoked: false })
        })
        .await
    }

    async fn api_key_by_prefix(
        &self,
        prefix: &str,
    ) -> Result<Option<(ApiKeyRecord, Vec<u8>, AccountRecord)>, StorageError> {
        let prefix = prefix.to_string();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS}, k.hash, {ACCOUNT_COLUMNS} FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.prefix = ?1"
            ))
            .and_then(|mut s| {
                s.query_row([prefix], |r| Ok((key_from_row(r)?, r.get::<_, Vec<u8>>(7)?, account_from_row(r, 8)?)))
                    .optional()
            })
            .map_err(db_err)
        })
        .await
    }

    async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.read(move |c| {
            let mut s = c
                .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.account_id = ?1 ORDER BY k.id"))
                .map_err(db_err)?;
            let rows = s.query_map([account_id], key_from_row).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn revoke_api_key(&self, account_id: i64, key_id: i64) -> Result<(), StorageError> {
        self.write(move |c| {
            match c
                .execute("UPDATE api_keys SET revoked = 1 WHERE id = ?1 AND account_id = ?2", [key_id, account_id])
                .map_err(db_err)?
            {
                0 => Err(StorageError::NotFound("API key".into())),
                // Tokens minted with the key (perhaps a leaked one) end with it.
                _ => c
                    .execute(
                        "UPDATE accounts SET token_binding = ?1 WHERE id = ?2",
                        params![new_token_binding(), account_id],
                    )
                    .map(|_| ())
                    .map_err(db_err),
            }
        })
        .await
    }

    async fn create_trust_group(&self, name: &str, description: Option<&str>) -> Result<i64, StorageError> {
        let (name, description) = (name.to_string(), description.map(str::to_string));
        self.write(move |c| {
            c.execute(
                "INSERT INTO trust_groups (name, description, created) VALUES (?1, ?2, ?3)",
                params![name, description, now_micros()],
            )
            .map_err(db_err)?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn trust_groups(&self) -> Result<Vec<TrustGroup>, StorageError> {
        self.read(|c| {
            let mut s =
                c.prepare_cached("SELECT id, name, description FROM trust_groups ORDER BY id").map_err(db_err)?;
            let groups: Vec<(i64, String, Option<String>)> = s
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(db_err)?
                .collect::<Result<_, _>>()
                .map_err(db_err)?;
            groups
                .into_iter()
                .map(|(id, name, description)| {
                    Ok(TrustGroup { id, name, description, members: trust_group_members(c, id).map_err(db_err)? })
                })
                .collect()
        })
        .await
    }

    async fn trust_group(&self, id: i64) -> Result<Option<TrustGroup>, StorageError> {
        self.read(move |c| {
            let row: Option<(String, Option<String>)> = c
                .query_row("SELECT name, description FROM trust_groups WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(db_err)?;
            match row {
                None => Ok(None),
                Some((name, description)) => {
                    Ok(Some(TrustGroup { id, name, description, members: trust_group_members(c, id).map_err(db_err)? }))
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
        self.write(move |c| {
            let mut sets: Vec<(&str, Box<dyn ToSql + Send>)> = Vec::new();
            if let Some(v) = name {
                sets.push(("name", Box::new(v)));
            }
            if let Some(v) = description {
                sets.push(("description", Box::new(v)));
            }
            update_row(c, "trust_groups", "id", &id, "trust group", sets)
        })
        .await
    }

    async fn delete_trust_group(&self, id: i64) -> Result<(), StorageError> {
        self.write(move |c| {
            refuse_if(
                c,
                "SELECT EXISTS (SELECT 1 FROM collections WHERE trust_group_id = ?1)",
                &id,
                "collections still use the trust group",
            )?;
            c.execute("DELETE FROM trust_group_members WHERE trust_group_id = ?1", [id]).map_err(db_err)?;
            delete_row(c, "DELETE FROM trust_groups WHERE id = ?1", &id, "trust group")
        })
        .await
    }

    async fn set_membership(
        &self,
        trust_group_id: i64,
        organisation_id: i64,
        m: Membership,
    ) -> Result<(), StorageError> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO trust_group_members (trust_group_id, organisation_id, can_read, can_write) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (trust_group_id, organisation_id) DO UPDATE SET can_read = excluded.can_read, can_write = excluded.can_write",
                params![trust_group_id, organisation_id, m.can_read, m.can_write],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn remove_membership(&self, trust_group_id: i64, organisation_id: i64) -> Result<(), StorageError> {
        self.write(move |c| {
            match c
                .execute(
                    "DELETE FROM trust_group_members WHERE trust_group_id = ?1 AND organisation_id = ?2",
                    [trust_group_id, organisation_id],
                )
                .map_err(db_err)?
            {
                0 => Err(StorageError::NotFound("membership".into())),
                _ => Ok(()),
            }
        })
        .await
    }

    async fn create_collection(&self, n: NewCollection) -> Result<Collection, StorageError> {
        self.write(move |c| {
            let id = n.id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            c.execute(
                "INSERT INTO collections (id, api_root, alias, title, description, trust_group_id, default_tlp, custom_content, unknown_marking, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![id, n.api_root, n.alias, n.title, n.description, n.trust_group_id, n.default_tlp.rank(), n.custom_content.name(), n.unknown_marking.name(), now_micros()],
            )
            .map_err(db_err)?;
            Ok(Collection {
                key: c.last_insert_rowid(),
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
        self.read(|c| {
            let mut s = c
                .prepare_cached(&format!(
                    "SELECT {COLLECTION_COLUMNS} FROM collections c ORDER BY c.api_root, c.created, c.key"
                ))
                .map_err(db_err)?;
            let rows = s.query_map([], collection_from_row).map_err(db_err)?;
            rows.collect::<Result<_, _>>().map_err(db_err)
        })
        .await
    }

    async fn collection_by_id(&self, id: &str) -> Result<Option<Collection>, StorageError> {
        let id = id.to_string();
        self.read(move |c| {
            c.query_row(
                &format!("SELECT {COLLECTION_COLUMNS} FROM collections c WHERE c.id = ?1"),
                [id],
                collection_from_row,
            )
            .optional()
            .map_err(db_err)
        })
        .await
    }

    async fn update_collection(&self, id: &str, u: CollectionUpdate) -> Result<(), StorageError> {
        let id = id.to_string();
        self.write(move |c| {
            let mut sets: Vec<(&str, Box<dyn ToSql + Send>)> = Vec::new();
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
                sets.push(("custom_content", Box::new(v.name())));
            }
            if let Some(v) = u.unknown_marking {
                sets.push(("unknown_marking", Box::new(v.name())));
            }
            update_row(c, "collections", "id", &id, "collection", sets)
        })
        .await
    }

    async fn delete_collection(&self, id: &str) -> Result<(), StorageError> {
        let id = id.to_string();
        self.write(move |c| {
            refuse_if(
                c,
                "SELECT EXISTS (SELECT 1 FROM objects o JOIN collections c ON c.key = o.collection_key WHERE c.id = ?1)",
                &id,
                "the collection still holds objects",
            )?;
            delete_row(c, "DELETE FROM collections WHERE id = ?1", &id, "collection")
        })
        .await
    }
}
