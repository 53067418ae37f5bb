//! Authentication of TAXII requests: HTTP Basic against accounts in the database.
//!
//! Passwords are argon2id hashes. A successful verification is remembered for a while, keyed by
//! a SHA-256 of (username, password, stored hash), so Basic auth costs one argon2 run per
//! credential and cache period rather than per request. The account row is still read on every
//! request, so a disabled account or a changed password stops working at once, on every replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use crate::domain::model::AccountRecord;
use crate::domain::policy::Viewer;

const MAX_CACHED: usize = 50_000;

pub struct CredentialCache {
    ttl: Duration,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        CredentialCache { ttl, verified: Mutex::new(HashMap::new()) }
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

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash of a password nobody has, so unknown users cost as much as known ones.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("taxii-hub timing equaliser").unwrap_or_default());

/// The authenticated account behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: AccountRecord,
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

fn basic_credentials(req: &HttpRequest) -> Result<(String, String), ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthenticated("send HTTP Basic credentials"))?
        .to_str()
        .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(|| unauthenticated("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(unauthenticated("only the Basic scheme is supported"));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|d| String::from_utf8(d).ok())
        .ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
    let (user, pass) = decoded.split_once(':').ok_or_else(|| unauthenticated("malformed Basic credentials"))?;
    Ok((user.to_string(), pass.to_string()))
}

pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let (username, password) = basic_credentials(req)?;
    let account = state.storage.account_by_username(&username).await?;
    let usable = account.filter(|a| !a.disabled && a.password_hash.is_some());
    let Some(account) = usable else {
        // Spend the same effort as for a real account before refusing.
        let _ = web::block(move || verify_password(&password, &DUMMY_HASH)).await;
        return Err(unauthenticated("invalid username or password"));
    };
    let hash = account.password_hash.clone().unwrap_or_default();
    let key = CredentialCache::key(&username, &password, &hash);
    if !state.credentials.is_fresh(&key) {
        let ok = web::block(move || verify_password(&password, &hash))
            .await
            .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
        if !ok {
            return Err(unauthenticated("invalid username or password"));
        }
        state.credentials.remember(key);
    }
    Ok(Caller { account })
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
            authenticate(&req, &state).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret!", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

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
}
