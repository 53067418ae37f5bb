//! Credentials the hub issues and checks: argon2id password hashes and API keys.
//!
//! An API key is `thk_<prefix>_<secret>`: 12 + 32 random base62 characters (≈ 262 bits). Only
//! the prefix (for lookup) and a SHA-256 of the whole key are stored; the key is shown once.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;
use sha2::{Digest, Sha256};

pub const API_KEY_MARK: &str = "thk_";
const PREFIX_LEN: usize = 12;
const SECRET_LEN: usize = 32;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

pub struct NewApiKey {
    /// The whole key, to show the owner once.
    pub key: String,
    pub prefix: String,
    pub hash: [u8; 32],
}

fn random_base62(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n).map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char).collect()
}

pub fn new_api_key() -> NewApiKey {
    let prefix = random_base62(PREFIX_LEN);
    let key = format!("{API_KEY_MARK}{prefix}_{}", random_base62(SECRET_LEN));
    let hash = api_key_hash(&key);
    NewApiKey { key, prefix, hash }
}

pub fn api_key_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// The lookup prefix of something shaped like an API key.
pub fn api_key_prefix(candidate: &str) -> Option<&str> {
    let rest = candidate.strip_prefix(API_KEY_MARK)?;
    let (prefix, secret) = rest.split_once('_')?;
    (prefix.len() == PREFIX_LEN
        && secret.len() == SECRET_LEN
        && prefix.bytes().chain(secret.bytes()).all(|c| c.is_ascii_alphanumeric()))
    .then_some(prefix)
}

pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A random password for generated accounts (demo, provisioning without a secret).
pub fn random_password() -> String {
    random_base62(24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_have_a_prefix_and_verify_by_hash() {
        let k = new_api_key();
        assert_eq!(api_key_prefix(&k.key), Some(k.prefix.as_str()));
        assert_eq!(api_key_hash(&k.key), k.hash);
        assert_ne!(new_api_key().key, k.key);
        assert_eq!(api_key_prefix("thk_short_x"), None);
        assert_eq!(api_key_prefix("password"), None);
        let mut tampered = k.key.clone();
        tampered.pop();
        tampered.push('!');
        assert_eq!(api_key_prefix(&tampered), None);
    }

    #[test]
    fn passwords() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret!", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }
}
