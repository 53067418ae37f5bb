//! Configuration: TOML file under `config/`, every key overridable by `TAXII_HUB_…` environment
//! variables (nested keys joined by `__`, e.g. `TAXII_HUB_SERVER__LISTEN=0.0.0.0:443`).

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub storage: StorageConfig,
    pub taxii: TaxiiConfig,
    pub auth: AuthConfig,
    pub uploads: UploadConfig,
    pub log: LogConfig,
}

/// Limits on envelopes being received, so uploads cannot exhaust memory or connections.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UploadConfig {
    /// Uploads being received at once across the hub; more are answered 429.
    pub max_concurrent: usize,
    /// Uploads one account may have in flight at once.
    pub max_concurrent_per_account: usize,
    /// How long an upload waits for a slot before it is answered 429.
    pub slot_wait_seconds: u64,
    /// A body that sends nothing for this long is answered 408 and its connection closed.
    pub idle_timeout_seconds: u64,
    /// A body must be complete within this long.
    pub body_timeout_seconds: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_concurrent: 64,
            max_concurrent_per_account: 8,
            slot_wait_seconds: 10,
            idle_timeout_seconds: 30,
            body_timeout_seconds: 300,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address the HTTPS listener binds, e.g. `0.0.0.0:8443`.
    pub listen: String,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Addresses of TCP load balancers that send a PROXY protocol v2 header (haproxy
    /// `send-proxy-v2`) on each connection; sign-in limits then apply to the client address the
    /// header states. Connections from other addresses are taken as they come. Empty = off.
    pub proxy_protocol_from: Vec<std::net::IpAddr>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain presented to clients (leaf first).
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM bundle of CAs whose client certificates are accepted (mutual TLS); unset = no mTLS.
    pub client_ca: Option<PathBuf>,
    /// `optional` (other credentials still work) or `required` (handshake fails without one).
    pub client_auth: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sqlite:///absolute/path/hub.db`, `sqlite://relative/path/hub.db`, or
    /// `postgres://user:password@host:5432/db?sslmode=require` for several replicas.
    pub url: String,
    /// SQLite reader connections (default: one per core, at least 2); PostgreSQL pools twice as
    /// many connections, at least 8.
    pub reader_pool_size: u32,
    /// `full` (every acknowledged write survives power loss), `normal` or `extra`.
    pub sqlite_synchronous: String,
    /// Status resources are kept at least this long (TAXII asks for at least 24 hours).
    pub status_retention_hours: u64,
    /// SQLite page cache per reader connection, KiB (the writer gets four times as much). The OS page
    /// cache holds the rest of the database; this bounds the hub's own memory.
    pub sqlite_cache_kib: u32,
    /// PostgreSQL only: the schema to use (created if missing).
    pub postgres_schema: Option<String>,
    /// PostgreSQL only: PEM bundle to verify the server with `sslmode=require` (default: the system bundle).
    pub postgres_ca_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxiiConfig {
    pub title: String,
    pub description: Option<String>,
    pub contact: Option<String>,
    /// Path of the API root advertised as `default` in discovery.
    pub default_api_root: Option<String>,
    /// The hub's public address, e.g. `https://taxii.cert.example:8443`: discovery's URLs start
    /// with it. Unset: the request's `Host` header (never `X-Forwarded-Host`).
    pub public_url: Option<String>,
    /// Largest POST body accepted, in bytes, unless an API root sets its own.
    pub max_content_length: usize,
    /// Page size when the client gives no `limit`.
    pub default_page_size: usize,
    /// Largest page served; larger `limit` values are reduced to it.
    pub max_page_size: usize,
    /// Most objects one envelope may hold; a larger one is refused whole (413).
    pub max_envelope_objects: usize,
    /// Most failure entries a status lists; `failure_count` still counts them all.
    pub max_status_failures: usize,
    pub api_roots: Vec<ApiRootConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ApiRootConfig {
    /// URL path segment: `https://host/<path>/`.
    pub path: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub max_content_length: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// How long a verified password is remembered, so Basic auth does not cost an argon2 run per request.
    pub credential_cache_seconds: u64,
    /// Lifetime of tokens from `POST /auth/token`.
    pub token_ttl_seconds: u64,
    /// `iss` and `aud` of the tokens; replicas of one hub share them.
    pub token_issuer: String,
    pub token_audience: String,
    /// PEM PKCS#8 Ed25519 key that signs tokens. Unset: one is generated and kept in the
    /// database, so every replica on that database shares it.
    pub token_key_file: Option<PathBuf>,
    /// Failed Basic sign-ins allowed per (client address, username) before 429s…
    pub failed_logins_burst: u32,
    /// …and the seconds it takes to earn one more attempt.
    pub failed_logins_refill_seconds: u64,
    /// Failed sign-ins allowed per client address, whatever the usernames, before password
    /// sign-ins from it that are not already verified wait (valid API keys are not affected).
    pub failed_logins_per_address_burst: u32,
    /// Password checks (argon2) one client address may have running at once; more wait.
    pub password_checks_per_address: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter such as `info` or `taxii_hub=debug,actix_web=info`.
    pub level: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { listen: "127.0.0.1:8443".into(), workers: 0, proxy_protocol_from: Vec::new() }
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: "data/tls/server.pem".into(),
            key: "data/tls/server.key".into(),
            client_ca: None,
            client_auth: "optional".into(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            url: "sqlite://data/hub.db".into(),
            reader_pool_size: crate::storage::default_reader_pool_size(),
            sqlite_synchronous: "full".into(),
            status_retention_hours: 168,
            sqlite_cache_kib: 4096,
            postgres_schema: None,
            postgres_ca_file: None,
        }
    }
}

impl Default for TaxiiConfig {
    fn default() -> Self {
        TaxiiConfig {
            title: "taxii-hub".into(),
            description: Some("National threat-information-sharing hub".into()),
            contact: None,
            default_api_root: Some("hub".into()),
            public_url: None,
            max_content_length: 10 * 1024 * 1024,
            default_page_size: 1000,
            max_page_size: 10_000,
            max_envelope_objects: crate::domain::envelope::DEFAULT_MAX_OBJECTS,
            max_status_failures: 1_000,
            api_roots: vec![ApiRootConfig {
                path: "hub".into(),
                title: "Threat sharing".into(),
                description: Some("Collections shared between member organisations and the national CERT".into()),
                max_content_length: None,
            }],
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            credential_cache_seconds: 300,
            token_ttl_seconds: 900,
            token_issuer: "taxii-hub".into(),
            token_audience: "taxii-hub".into(),
            token_key_file: None,
            failed_logins_burst: 10,
            failed_logins_refill_seconds: 30,
            failed_logins_per_address_burst: 50,
            password_checks_per_address: 2,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: "text".into(), level: "info".into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then the TOML file (if given), then `TAXII_HUB_…` variables.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", path.display())));
            }
            fig = fig.merge(Toml::file(path));
        }
        let config: Config = fig
            // Only SECTION__KEY variables: TAXII_HUB_CONFIG (the file path) and others are not keys.
            .merge(Env::prefixed("TAXII_HUB_").filter(|k| k.as_str().contains("__")).split("__"))
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.taxii.api_roots.is_empty() {
            return bad("taxii.api_roots must list at least one API root".into());
        }
        for root in &self.taxii.api_roots {
            let ok = !root.path.is_empty()
                && root.path.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                && !RESERVED_PATHS.contains(&root.path.as_str());
            if !ok {
                return bad(format!(
                    "API root path '{}' must be letters, digits, '-' or '_' and not one of {RESERVED_PATHS:?}",
                    root.path
                ));
            }
        }
        if let Some(default) = &self.taxii.default_api_root {
            if !self.taxii.api_roots.iter().any(|r| &r.path == default) {
                return bad(format!("taxii.default_api_root '{default}' is not in taxii.api_roots"));
            }
        }
        if let Some(url) = &self.taxii.public_url {
            let rest = url.strip_prefix("https://").unwrap_or("");
            let host = rest.trim_end_matches('/');
            if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
                return bad(format!("taxii.public_url '{url}': give https://host[:port], nothing more"));
            }
        }
        if self.taxii.max_envelope_objects == 0 || self.taxii.max_status_failures == 0 {
            return bad("taxii.max_envelope_objects and taxii.max_status_failures must be at least 1".into());
        }
        if self.taxii.default_page_size == 0 || self.taxii.max_page_size < self.taxii.default_page_size {
            return bad("taxii.default_page_size must be ≥ 1 and ≤ taxii.max_page_size".into());
        }
        if self.storage.status_retention_hours < 24 {
            return bad("storage.status_retention_hours must be at least 24 (TAXII 2.1 §4.3)".into());
        }
        if !matches!(self.tls.client_auth.as_str(), "optional" | "required") {
            return bad(format!("tls.client_auth '{}': use optional or required", self.tls.client_auth));
        }
        if self.auth.token_ttl_seconds == 0 || self.auth.token_ttl_seconds > 86_400 {
            return bad("auth.token_ttl_seconds must be between 1 and 86400".into());
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return bad(format!("log.format '{}': use text or json", self.log.format));
        }
        Ok(())
    }

    pub fn api_root(&self, path: &str) -> Option<&ApiRootConfig> {
        self.taxii.api_roots.iter().find(|r| r.path == path)
    }

    pub fn max_content_length(&self, root: &ApiRootConfig) -> usize {
        root.max_content_length.unwrap_or(self.taxii.max_content_length)
    }
}

/// Top-level paths the hub serves itself; an API root may not take them.
pub const RESERVED_PATHS: &[&str] = &["taxii2", "healthz", "readyz", "admin", "auth"];

#[cfg(test)]
// figment's Jail closures return its own (large) error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        // Inside a Jail: jails are serialised, so no other test's variables leak in.
        figment::Jail::expect_with(|_| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/hub.example.toml");
            let c = Config::load(Some(&path)).map_err(|e| e.to_string())?;
            assert!(!c.taxii.api_roots.is_empty());
            assert_eq!(c.storage.url, "sqlite:///var/lib/taxii-hub/hub.db");
            Ok(())
        });
    }

    #[test]
    fn env_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "[server]\nlisten = \"127.0.0.1:1\"\n[storage]\nurl = \"sqlite://a.db\"\n")?;
            jail.set_env("TAXII_HUB_SERVER__LISTEN", "0.0.0.0:9443");
            jail.set_env("TAXII_HUB_TAXII__MAX_PAGE_SIZE", "50");
            jail.set_env("TAXII_HUB_TAXII__DEFAULT_PAGE_SIZE", "10");
            jail.set_env("TAXII_HUB_CONFIG", "elsewhere.toml");
            let c = Config::load(Some(Path::new("hub.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.listen, "0.0.0.0:9443");
            assert_eq!(c.storage.url, "sqlite://a.db");
            assert_eq!(c.taxii.max_page_size, 50);
            Ok(())
        });
    }

    #[test]
    fn rejects_bad_values() {
        let mut c = Config::default();
        c.taxii.api_roots[0].path = "taxii2".into();
        assert!(c.validate().is_err());
        let mut c = Config::default();
        c.storage.status_retention_hours = 1;
        assert!(c.validate().is_err());
    }
}
