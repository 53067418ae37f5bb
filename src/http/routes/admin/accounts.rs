//! Admin API: organisations, accounts and API keys.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::{audit_change, created, json_body, no_content, Admin};
use crate::directory::{check_subject_mapping, issue_api_key};
use crate::domain::credentials::{hash_password, new_api_key};
use crate::domain::model::{
    AccountRecord, AccountUpdate, NewAccount, NewOrganisation, OrganisationKind, OrganisationUpdate, Role,
};
use crate::domain::timestamp::format_micros;
use crate::http::error::ApiError;
use crate::http::AppState;

fn account_json(a: &AccountRecord) -> serde_json::Value {
    serde_json::json!({
        "id": a.id,
        "username": a.username,
        "organisation_id": a.organisation_id,
        "role": a.role.as_str(),
        "redistributes": a.redistributes,
        "disabled": a.disabled,
        "has_password": a.password_hash.is_some(),
        "cert_fingerprint": a.cert_fingerprint,
        "cert_subject": a.cert_subject,
        "cert_issuer": a.cert_issuer,
    })
}

fn kind(s: &str) -> Result<OrganisationKind, ApiError> {
    OrganisationKind::parse(s)
        .ok_or_else(|| ApiError::BadRequest(format!("kind '{s}': use partner, national-cert or operator")))
}

fn role(s: &str) -> Result<Role, ApiError> {
    Role::parse(s).ok_or_else(|| ApiError::BadRequest(format!("role '{s}': use member, reader or admin")))
}

fn hash(password: &str) -> Result<String, ApiError> {
    if password.len() < 12 {
        return Err(ApiError::BadRequest("passwords must have at least 12 characters".into()));
    }
    hash_password(password).map_err(ApiError::Internal)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationBody {
    name: Option<String>,
    kind: Option<String>,
    sector: Option<Option<String>>,
    identity_id: Option<String>,
}

async fn list_organisations(state: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(serde_json::json!({ "organisations": state.storage.organisations().await? })))
}

async fn create_organisation(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: OrganisationBody = json_body(&body)?;
    let name = b.name.ok_or_else(|| ApiError::BadRequest("name is required".into()))?;
    if let Some(id) = &b.identity_id {
        if !crate::domain::stix_id::is_valid_stix_id(id) || !id.starts_with("identity--") {
            return Err(ApiError::BadRequest(format!("identity_id '{id}' is not an identity id")));
        }
    }
    let id = state
        .storage
        .create_organisation(NewOrganisation {
            name: name.clone(),
            identity_id: b.identity_id,
            sector: b.sector.flatten(),
            kind: kind(b.kind.as_deref().unwrap_or("partner"))?,
        })
        .await?;
    audit_change(&req, format!("created organisation {id} '{name}'"));
    Ok(created(state.storage.organisation(id).await?))
}

async fn get_organisation(state: web::Data<AppState>, _a: Admin, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let org =
        state.storage.organisation(*id).await?.ok_or_else(|| ApiError::NotFound(format!("no organisation {id}")))?;
    Ok(HttpResponse::Ok().json(org))
}

async fn update_organisation(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: OrganisationBody = json_body(&body)?;
    let update = OrganisationUpdate {
        name: b.name,
        identity_id: b.identity_id,
        sector: b.sector,
        kind: b.kind.as_deref().map(kind).transpose()?,
    };
    state.storage.update_organisation(*id, update).await?;
    audit_change(&req, format!("updated organisation {id}: {}", String::from_utf8_lossy(&body)));
    Ok(HttpResponse::Ok().json(state.storage.organisation(*id).await?))
}

async fn delete_organisation(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.storage.delete_organisation(*id).await?;
    audit_change(&req, format!("deleted organisation {id}"));
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountBody {
    username: Option<String>,
    organisation_id: Option<i64>,
    role: Option<String>,
    redistributes: Option<bool>,
    disabled: Option<bool>,
    password: Option<Option<String>>,
    cert_fingerprint: Option<Option<String>>,
    cert_subject: Option<Option<String>>,
    cert_issuer: Option<Option<String>>,
    /// On create: issue an API key (default true).
    api_key: Option<bool>,
}

#[derive(Deserialize)]
struct AccountFilter {
    organisation: Option<i64>,
}

async fn list_accounts(req: HttpRequest, state: web::Data<AppState>, _a: Admin) -> Result<HttpResponse, ApiError> {
    let f: AccountFilter =
        serde_urlencoded::from_str(req.query_string()).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let accounts: Vec<_> = state.storage.accounts(f.organisation).await?.iter().map(account_json).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "accounts": accounts })))
}

fn check_fingerprint(fp: &Option<Option<String>>) -> Result<(), ApiError> {
    if let Some(Some(fp)) = fp {
        if fp.len() != 64 || !fp.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(ApiError::BadRequest(
                "cert_fingerprint must be the SHA-256 of the certificate's DER, in hex".into(),
            ));
        }
    }
    Ok(())
}

async fn create_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: AccountBody = json_body(&body)?;
    let username = b.username.ok_or_else(|| ApiError::BadRequest("username is required".into()))?;
    let organisation_id =
        b.organisation_id.ok_or_else(|| ApiError::BadRequest("organisation_id is required".into()))?;
    if state.storage.organisation(organisation_id).await?.is_none() {
        return Err(ApiError::BadRequest(format!("no organisation {organisation_id}")));
    }
    check_fingerprint(&b.cert_fingerprint)?;
    let (cert_subject, cert_issuer) = (b.cert_subject.flatten(), b.cert_issuer.flatten());
    check_subject_mapping(cert_subject.as_deref(), cert_issuer.as_deref()).map_err(ApiError::BadRequest)?;
    let password_hash = b.password.flatten().as_deref().map(hash).transpose()?;
    let id = state
        .storage
        .create_account(NewAccount {
            organisation_id,
            username: username.clone(),
            password_hash,
            role: role(b.role.as_deref().unwrap_or("member"))?,
            redistributes: b.redistributes.unwrap_or(false),
            cert_fingerprint: b.cert_fingerprint.flatten().map(|f| f.to_ascii_lowercase()),
            cert_subject,
            cert_issuer,
        })
        .await?;
    let mut out = serde_json::json!({});
    if b.api_key.unwrap_or(true) {
        let key = new_api_key();
        let record = state.storage.create_api_key(id, &key.prefix, key.hash, Some("initial"), None).await?;
        out["api_key"] = key.key.into();
        out["api_key_id"] = record.id.into();
    }
    let account = state.storage.account(id).await?.ok_or_else(|| ApiError::Internal("account vanished".into()))?;
    out["account"] = account_json(&account);
    audit_change(&req, format!("created account {id} '{username}' in organisation {organisation_id}"));
    Ok(created(out))
}

async fn get_account(state: web::Data<AppState>, _a: Admin, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let account = state.storage.account(*id).await?.ok_or_else(|| ApiError::NotFound(format!("no account {id}")))?;
    Ok(HttpResponse::Ok().json(account_json(&account)))
}

async fn update_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: AccountBody = json_body(&body)?;
    if b.username.is_some() || b.organisation_id.is_some() || b.api_key.is_some() {
        return Err(ApiError::BadRequest("username, organisation_id and api_key cannot be changed".into()));
    }
    check_fingerprint(&b.cert_fingerprint)?;
    // The subject mapping is replaced (or cleared) as one pair.
    let mapping = if b.cert_subject.is_some() || b.cert_issuer.is_some() {
        // One side alone is paired with the stored other side (adding the issuer to a mapping
        // stored before issuers were required, say); clearing the subject clears the mapping.
        let (subject, issuer) = match (b.cert_subject.clone(), b.cert_issuer.clone()) {
            (Some(subject), Some(issuer)) => (subject, issuer),
            (Some(None), None) => (None, None),
            (subject, issuer) => {
                let stored =
                    state.storage.account(*id).await?.ok_or_else(|| ApiError::NotFound(format!("no account {id}")))?;
                (subject.unwrap_or(stored.cert_subject), issuer.unwrap_or(stored.cert_issuer))
            }
        };
        check_subject_mapping(subject.as_deref(), issuer.as_deref()).map_err(ApiError::BadRequest)?;
        Some((subject, issuer))
    } else {
        None
    };
    let update = AccountUpdate {
        role: b.role.as_deref().map(role).transpose()?,
        redistributes: b.redistributes,
        disabled: b.disabled,
        password_hash: b.password.map(|p| p.as_deref().map(hash).transpose()).transpose()?,
        cert_fingerprint: b.cert_fingerprint,
        cert_subject: mapping.as_ref().map(|m| m.0.clone()),
        cert_issuer: mapping.map(|m| m.1),
    };
    state.storage.update_account(*id, update).await?;
    // Never echo a password into the audit log.
    let mut changed: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if let Some(obj) = changed.as_object_mut() {
        if obj.contains_key("password") {
            obj.insert("password".into(), "(changed)".into());
        }
    }
    audit_change(&req, format!("updated account {id}: {changed}"));
    let account = state.storage.account(*id).await?.ok_or_else(|| ApiError::NotFound(format!("no account {id}")))?;
    Ok(HttpResponse::Ok().json(account_json(&account)))
}

async fn delete_account(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.storage.delete_account(*id).await?;
    audit_change(&req, format!("deleted account {id}"));
    Ok(no_content())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct KeyBody {
    label: Option<String>,
    expires_in_days: Option<u32>,
    /// Revoke the account's other keys (rotation).
    revoke_others: Option<bool>,
}

async fn list_keys(state: web::Data<AppState>, _a: Admin, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<_> = state
        .storage
        .api_keys(*id)
        .await?
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "id": k.id, "prefix": k.prefix, "label": k.label, "created": format_micros(k.created),
                "expires": k.expires.map(format_micros), "revoked": k.revoked,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": keys })))
}

async fn create_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let b: KeyBody = if body.is_empty() { KeyBody::default() } else { json_body(&body)? };
    crate::directory::check_api_key_days(b.expires_in_days).map_err(ApiError::BadRequest)?;
    let (key_id, key) =
        issue_api_key(&state.storage, *id, b.label.as_deref(), b.expires_in_days, b.revoke_others.unwrap_or(false))
            .await?;
    audit_change(&req, format!("issued API key {key_id} for account {id}"));
    Ok(created(serde_json::json!({ "id": key_id, "api_key": key })))
}

async fn revoke_key(
    req: HttpRequest,
    state: web::Data<AppState>,
    _a: Admin,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (account, key) = path.into_inner();
    state.storage.revoke_api_key(account, key).await?;
    audit_change(&req, format!("revoked API key {key} of account {account}"));
    Ok(no_content())
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/organisations/")
            .route(web::get().to(list_organisations))
            .route(web::post().to(create_organisation)),
    )
    .service(
        web::resource("/organisations/{id}/")
            .route(web::get().to(get_organisation))
            .route(web::patch().to(update_organisation))
            .route(web::delete().to(delete_organisation)),
    )
    .service(web::resource("/accounts/").route(web::get().to(list_accounts)).route(web::post().to(create_account)))
    .service(
        web::resource("/accounts/{id}/")
            .route(web::get().to(get_account))
            .route(web::patch().to(update_account))
            .route(web::delete().to(delete_account)),
    )
    .service(web::resource("/accounts/{id}/keys/").route(web::get().to(list_keys)).route(web::post().to(create_key)))
    .service(web::resource("/accounts/{id}/keys/{key}/").route(web::delete().to(revoke_key)));
}
