//! Authentication: HTTP Basic (password or API key), Bearer JWT, or a TLS client certificate.
//!
//! Passwords are argon2id hashes. A successful verification is remembered for a while, keyed by
//! a SHA-256 of (username, password, stored hash), so Basic auth costs one argon2 run per
//! credential and cache period rather than per request. The account row is read on every
//! request whatever the method, so a disabled or deleted account stops working at once, on
//! every replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::cpu_threads::{self, CpuThreads, FreedMemory};
use super::error::ApiError;
use super::throttle::{api_key_bucket, client_address, password_bucket};
use super::AppState;
use crate::certificate_names::ClientCertificate;
use crate::domain::credentials::{api_key_hash, api_key_prefix};
use crate::domain::model::AccountRecord;
use crate::domain::policy::Viewer;
use crate::domain::timestamp::now_micros;

pub use crate::domain::credentials::hash_password;

const MAX_CACHED: usize = 50_000;

pub struct CredentialCache {
    ttl: Duration,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
    /// A turn per password-check thread: requests with the same credentials that waited for a
    /// turn find the first one's result in `verified` instead of running argon2 again.
    argon2_turns: tokio::sync::Semaphore,
    password_checks: CpuThreads,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        let cores = cpu_threads::per_core();
        CredentialCache {
            ttl,
            verified: Mutex::new(HashMap::new()),
            argon2_turns: tokio::sync::Semaphore::new(cores),
            password_checks: CpuThreads::start("password-check", cores, FreedMemory::GiveBack),
        }
    }

    /// Waits for a turn to run argon2: one run at a time per core.
    async fn argon2_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.argon2_turns.acquire().await.map_err(|e| ApiError::Internal(e.to_string()))
    }

    async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        self.password_checks
            .run(move || crate::domain::credentials::verify_password(&password, &hash))
            .await
            .ok_or_else(|| ApiError::Internal("password check failed".into()))
    }

    fn key(username: &str, password: &str, hash: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        for part in [username, password, hash] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().into()
    }

    fn is_fresh(&self, key: &[u8; 32]) -> bool {
        let map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key).is_some_and(|t| t.elapsed() < self.ttl)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut map = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_CACHED {
            let ttl = self.ttl;
            map.retain(|_, t| t.elapsed() < ttl);
            if map.len() >= MAX_CACHED {
                map.clear();
            }
        }
        map.insert(key, Instant::now());
    }
}

/// A hash of a password nobody has, so unknown users cost as much as known ones.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("taxii-hub timing equaliser").unwrap_or_default());

/// The client certificate presented on this connection, if any, read once at TLS accept.
#[derive(Clone)]
pub struct PeerCertificate(pub ClientCertificate);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Password,
    ApiKey,
    Bearer,
    ClientCertificate,
}

/// The authenticated account behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountRecord,
    pub method: AuthMethod,
}

impl Caller {
    pub fn viewer(&self) -> Viewer {
        Viewer {
            account_id: self.account.id,
            organisation_id: self.account.organisation_id,
            role: self.account.role,
            redistributes: self.account.redistributes,
        }
    }
}

fn unauthenticated(why: &str) -> ApiError {
    ApiError::Unauthenticated(format!("authentication required: {why}"))
}

fn invalid() -> ApiError {
    unauthenticated("invalid credentials")
}

fn usable(account: Option<AccountRecord>) -> Result<AccountRecord, ApiError> {
    account.filter(|a| !a.disabled).ok_or_else(invalid)
}

fn basic_credentials(value: &str) -> Result<(String, String), ApiError> {
    let decoded = STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
    let (user, pass) = decoded.split_once(':').ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
    Ok((user.to_string(), pass.to_string()))
}

async fn by_password(
    state: &AppState,
    address: &str,
    username: String,
    password: String,
) -> Result<AccountRecord, ApiError> {
    let account = state.storage.account_by_username(&username).await?;
    let Some(account) = account.filter(|a| !a.disabled && a.password_hash.is_some()) else {
        // Spend the same effort, under the same limits, as for a real account before refusing.
        let _check = state.throttle.start_password_check(address).await?;
        let _turn = state.credentials.argon2_turn().await?;
        let _ = state.credentials.verify(password, DUMMY_HASH.clone()).await;
        return Err(invalid());
    };
    let hash = account.password_hash.clone().unwrap_or_default();
    let key = CredentialCache::key(&username, &password, &hash);
    if !state.credentials.is_fresh(&key) {
        let _check = state.throttle.start_password_check(address).await?;
        let _turn = state.credentials.argon2_turn().await?;
        // Requests with the same credentials that queued behind the first check need no own.
        if state.credentials.is_fresh(&key) {
            return Ok(account);
        }
        if !state.credentials.verify(password, hash).await? {
            return Err(invalid());
        }
        state.credentials.remember(key);
    }
    Ok(account)
}

/// Why an API key was refused: no key has its prefix, or the key with that prefix did not match.
enum KeyRefusal {
    Unknown,
    Wrong,
    Failed(ApiError),
}

async fn by_api_key(state: &AppState, username: &str, key: &str, prefix: &str) -> Result<AccountRecord, KeyRefusal> {
    let found = state.storage.api_key_by_prefix(prefix).await.map_err(|e| KeyRefusal::Failed(e.into()))?;
    let (record, stored_hash, account) = found.ok_or(KeyRefusal::Unknown)?;
    let matches = bool::from(subtle::ConstantTimeEq::ct_eq(&api_key_hash(key)[..], stored_hash.as_slice()));
    let expired = record.expires.is_some_and(|e| e <= now_micros());
    // The username may be left empty; when given it must be the key's owner.
    if !matches || record.revoked || expired || !(username.is_empty() || username == account.username) {
        return Err(KeyRefusal::Wrong);
    }
    usable(Some(account)).map_err(|_| KeyRefusal::Wrong)
}

async fn by_bearer(state: &AppState, token: &str) -> Result<AccountRecord, ApiError> {
    let subject = state.jwt.verify(token).map_err(|_| unauthenticated("invalid or expired token"))?;
    let account = state.storage.account(subject.account_id).await?;
    // The binding changes with the password, role, certificate or disabled flag, and no other
    // account has it: a token dies with any of these changes, even if an id came back.
    let bound = account
        .filter(|a| bool::from(subtle::ConstantTimeEq::ct_eq(a.token_binding.as_bytes(), subject.binding.as_bytes())));
    usable(bound).map_err(|_| unauthenticated("invalid or expired token"))
}

async fn by_certificate(state: &AppState, cert: &ClientCertificate) -> Result<AccountRecord, ApiError> {
    // A certificate whose names do not parse can still match by fingerprint; an empty subject
    // and issuer match no mapping (the columns are NULL or non-empty).
    let (subject, issuer) = cert.names.as_ref().map_or(("", ""), |n| (n.subject.as_str(), n.issuer.as_str()));
    let account = state.storage.account_by_certificate(&cert.fingerprint, subject, issuer).await?;
    // A subject mapping (not a fingerprint one) holds only if its CA in the bundle signed it.
    let account = account.filter(|a| {
        a.cert_fingerprint.as_deref() == Some(cert.fingerprint.as_str())
            || cert.names.as_ref().is_some_and(|n| n.issued_by_bundle_ca)
    });
    usable(account).map_err(|_| unauthenticated("the client certificate is not registered to an account"))
}

/// Authenticates a request by whichever credential it carries. `allow_bearer` is false where a
/// token must not be usable (minting a new token).
pub async fn authenticate(req: &HttpRequest, state: &AppState, allow_bearer: bool) -> Result<Caller, ApiError> {
    if let Some(value) = req.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
        let (scheme, rest) = value.split_once(' ').ok_or_else(|| unauthenticated("malformed Authorization header"))?;
        if scheme.eq_ignore_ascii_case("basic") {
            let (user, secret) = basic_credentials(rest)?;
            let address = client_address(req);
            if let Some(prefix) = api_key_prefix(&secret) {
                // Throttled per key, so bad keys never lock out another key.
                let bucket = api_key_bucket(&address, prefix);
                state.throttle.check_credential(&bucket)?;
                return match by_api_key(state, &user, &secret, prefix).await {
                    Ok(account) => Ok(Caller { account, method: AuthMethod::ApiKey }),
                    Err(KeyRefusal::Wrong) => {
                        state.throttle.failed(&bucket, &address);
                        Err(invalid())
                    }
                    // Keys nobody holds count against the address only, so spraying them
                    // neither fills the throttle's memory nor goes unthrottled.
                    Err(KeyRefusal::Unknown) => {
                        state.throttle.check_address(&address)?;
                        state.throttle.address_failed(&address);
                        Err(invalid())
                    }
                    Err(KeyRefusal::Failed(e)) => Err(e),
                };
            }
            let bucket = password_bucket(&address, &user);
            state.throttle.check_credential(&bucket)?;
            return match by_password(state, &address, user, secret).await {
                Ok(account) => Ok(Caller { account, method: AuthMethod::Password }),
                Err(e) => {
                    if matches!(e, ApiError::Unauthenticated(_)) {
                        state.throttle.failed(&bucket, &address);
                    }
                    Err(e)
                }
            };
        }
        if scheme.eq_ignore_ascii_case("bearer") && allow_bearer {
            return Ok(Caller { account: by_bearer(state, rest.trim()).await?, method: AuthMethod::Bearer });
        }
        return Err(unauthenticated("use HTTP Basic (password or API key) or a Bearer token"));
    }
    if let Some(cert) = req.conn_data::<PeerCertificate>() {
        return Ok(Caller { account: by_certificate(state, &cert.0).await?, method: AuthMethod::ClientCertificate });
    }
    Err(unauthenticated("send HTTP Basic credentials, a Bearer token or a client certificate"))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let caller = authenticate(&req, &state, true).await?;
            req.extensions_mut().insert(caller.clone());
            Ok(caller)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_depends_on_every_part() {
        let k = CredentialCache::key("a", "b", "c");
        assert_ne!(k, CredentialCache::key("a", "b", "d"));
        assert_ne!(k, CredentialCache::key("ab", "", "c"));
        let cache = CredentialCache::new(Duration::from_secs(60));
        assert!(!cache.is_fresh(&k));
        cache.remember(k);
        assert!(cache.is_fresh(&k));
        let expired = CredentialCache::new(Duration::from_secs(0));
        expired.remember(k);
        assert!(!expired.is_fresh(&k));
    }

    #[test]
    fn basic_parsing() {
        let v = STANDARD.encode("user:pa:ss");
        assert_eq!(basic_credentials(&v).unwrap(), ("user".into(), "pa:ss".into()));
        assert!(basic_credentials("%%%").is_err());
        assert!(basic_credentials(&STANDARD.encode("nocolon")).is_err());
    }
}
