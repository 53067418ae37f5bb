//! TLS: loading the server's certificate for rustls, and making a self-signed CA and server
//! certificate (rcgen) for the demo and for tests.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("TLS: {0}")]
    Invalid(String),
}

/// A CA and a server certificate signed by it; clients trust `ca_pem`.
pub struct SelfSigned {
    pub ca_pem: String,
    pub chain_pem: String,
    pub key_pem: String,
}

pub fn generate_self_signed(hosts: &[&str]) -> Result<SelfSigned, TlsError> {
    let err = |e: rcgen::Error| TlsError::Invalid(e.to_string());
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(DnType::CommonName, "taxii-hub local CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(err)?).map_err(err)?;

    let names: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
    let mut params = CertificateParams::new(names).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, hosts.first().copied().unwrap_or("localhost"));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, &ca).map_err(err)?;
    Ok(SelfSigned { ca_pem: ca.pem(), chain_pem: format!("{}{}", cert.pem(), ca.pem()), key_pem: key.serialize_pem() })
}

/// Writes `ca.pem`, `server.pem` and `server.key` into `dir` unless they already exist.
/// Returns the CA path.
pub fn ensure_self_signed(dir: &Path) -> Result<PathBuf, TlsError> {
    let (ca, cert, key) = (dir.join("ca.pem"), dir.join("server.pem"), dir.join("server.key"));
    if ca.exists() && cert.exists() && key.exists() {
        return Ok(ca);
    }
    let generated = generate_self_signed(&["localhost", "127.0.0.1", "::1"])?;
    write_self_signed(&generated, &cert, &key, &ca)?;
    Ok(ca)
}

/// Writes the chain, the private key (mode 0600) and the CA certificate, creating directories.
pub fn write_self_signed(made: &SelfSigned, cert: &Path, key: &Path, ca: &Path) -> Result<(), TlsError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TlsError::Read { path, source }
    };
    for p in [cert, key, ca] {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
    }
    std::fs::write(ca, &made.ca_pem).map_err(io(ca))?;
    std::fs::write(cert, &made.chain_pem).map_err(io(cert))?;
    write_private(key, made.key_pem.as_bytes()).map_err(io(key))
}

fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(data)
}

pub fn load_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(pem))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Invalid(format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid("no certificate found in PEM".into()));
    }
    Ok(certs)
}

pub fn load_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    rustls_pemfile::private_key(&mut BufReader::new(pem))
        .map_err(|e| TlsError::Invalid(format!("bad private key PEM: {e}")))?
        .ok_or_else(|| TlsError::Invalid("no private key found in PEM".into()))
}

/// Client certificates (mutual TLS): whom to trust and whether a certificate is required.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    /// PEM bundle of the CAs that issue partner client certificates; `None` turns mTLS off.
    pub ca_pem: Option<Vec<u8>>,
    /// Refuse the TLS handshake without a client certificate (otherwise it is optional and
    /// other credentials still work).
    pub required: bool,
}

pub fn server_config_from_files(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
    client_required: bool,
) -> Result<rustls::ServerConfig, TlsError> {
    let read = |p: &Path| std::fs::read(p).map_err(|source| TlsError::Read { path: p.to_path_buf(), source });
    let client = ClientAuth { ca_pem: client_ca.map(read).transpose()?, required: client_required };
    server_config_with_clients(&read(cert)?, &read(key)?, &client)
}

pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<rustls::ServerConfig, TlsError> {
    server_config_with_clients(cert_pem, key_pem, &ClientAuth::default())
}

pub fn server_config_with_clients(
    cert_pem: &[u8],
    key_pem: &[u8],
    client: &ClientAuth,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    let builder = match &client.ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca_pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in load_certs(ca_pem)? {
                roots.add(cert).map_err(|e| TlsError::Invalid(format!("client CA: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if client.required { verifier } else { verifier.allow_unauthenticated() };
            builder
                .with_client_cert_verifier(verifier.build().map_err(|e| TlsError::Invalid(format!("client CA: {e}")))?)
        }
    };
    builder
        .with_single_cert(load_certs(cert_pem)?, load_key(key_pem)?)
        .map_err(|e| TlsError::Invalid(format!("certificate and key do not fit together: {e}")))
}

/// A client certificate signed by `ca`'s key, for tests and for operators who run their own CA.
pub fn client_certificate(
    common_name: &str,
    organisation: &str,
    ca: &CertifiedIssuer<'_, KeyPair>,
) -> Result<(String, String), TlsError> {
    let err = |e: rcgen::Error| TlsError::Invalid(e.to_string());
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.distinguished_name.push(DnType::OrganizationName, organisation);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().map_err(err)?;
    let cert = params.signed_by(&key, ca).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A CA for client certificates.
pub fn client_ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, TlsError> {
    let err = |e: rcgen::Error| TlsError::Invalid(e.to_string());
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, KeyPair::generate().map_err(err)?).map_err(err)
}
