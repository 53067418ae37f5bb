//! The subject and issuer names of a client certificate, rendered so that two different names
//! never render the same.
//!
//! A subject mapping signs in whoever presents a certificate whose names render exactly as
//! stored. x509-parser's own rendering does not escape values, so a certificate whose single
//! common name is `alice-feed, O=Org A` rendered like one with two attributes. Here every value
//! is escaped as RFC 4514 asks (`\,` `\+` `\"` `\\` `\<` `\>` `\;`, a leading `#` or space, a
//! trailing space) and `=` too; values that are not strings render as `#` and their DER in hex.
//! The order of the attributes is the certificate's own (`CN=…, O=…`, as admins write it), not
//! RFC 4514's reversed order, so mappings written for the unescaped rendering keep matching
//! wherever the name held none of those characters.

use sha2::{Digest, Sha256};
use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The names a subject mapping compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    pub subject: String,
    pub issuer: String,
    /// Whether a CA of the client bundle whose subject renders as `issuer` signed the
    /// certificate itself. A subject mapping holds only then: comparing the issuer *name* alone
    /// would let any other CA in the bundle sign an intermediate named like the partner's CA and
    /// issue a matching certificate under it.
    pub issued_by_bundle_ca: bool,
}

/// What authentication needs of a client certificate, read once per TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// SHA-256 of the DER, lower-case hex: what fingerprint mappings compare.
    pub fingerprint: String,
    /// `None` when the certificate does not parse (it can still match by fingerprint).
    pub names: Option<CertificateNames>,
}

/// The client CA bundle (`tls.client_ca`): each CA's rendered subject beside its DER.
#[derive(Debug, Clone, Default)]
pub struct CaBundle(Vec<(String, Vec<u8>)>);

impl CaBundle {
    pub fn new(cas: impl IntoIterator<Item = Vec<u8>>) -> CaBundle {
        let named = cas
            .into_iter()
            .filter_map(|der| {
                let subject = X509Certificate::from_der(&der).ok().map(|(_, ca)| render(ca.subject()))?;
                Some((subject, der))
            })
            .collect();
        CaBundle(named)
    }
}

/// Reads a DER client certificate: its fingerprint, its names, and whether a bundle CA of its
/// issuer's name signed it.
pub fn read_client_certificate(der: &[u8], bundle: &CaBundle) -> ClientCertificate {
    let fingerprint = Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect();
    let names = X509Certificate::from_der(der).ok().map(|(_, leaf)| {
        let issuer = render(leaf.issuer());
        let issued_by_bundle_ca = bundle.0.iter().filter(|(subject, _)| *subject == issuer).any(|(_, ca)| {
            X509Certificate::from_der(ca).is_ok_and(|(_, ca)| leaf.verify_signature(Some(ca.public_key())).is_ok())
        });
        CertificateNames { subject: render(leaf.subject()), issuer, issued_by_bundle_ca }
    });
    ClientCertificate { fingerprint, names }
}

/// `TYPE=value` per attribute, `+` between the attributes of one RDN, `, ` between RDNs.
pub fn render(name: &X509Name<'_>) -> String {
    let registry = x509_parser::objects::oid_registry();
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            let attributes: Vec<String> = rdn
                .iter()
                .map(|attr| {
                    let oid = attr.attr_type();
                    let kind = match x509_parser::objects::oid2abbrev(oid, registry) {
                        Ok(abbrev) => abbrev.to_string(),
                        Err(_) => oid.to_id_string(),
                    };
                    let value = attr.attr_value();
                    let text = match value.tag() {
                        Tag::Utf8String
                        | Tag::PrintableString
                        | Tag::Ia5String
                        | Tag::VisibleString
                        | Tag::NumericString
                        | Tag::T61String
                        | Tag::GeneralString
                        | Tag::GraphicString
                        | Tag::VideotexString => std::str::from_utf8(value.data).ok().map(str::to_string),
                        Tag::BmpString => bmp_string(value.data),
                        _ => None,
                    };
                    match text {
                        Some(text) => format!("{kind}={}", escape_value(&text)),
                        // RFC 4514 §2.4: `#` and the value's BER encoding, tag included, so
                        // values of different types never render alike.
                        None => format!("{kind}=#{}", hex(&der_encoding(value))),
                    }
                })
                .collect();
            attributes.join(" + ")
        })
        .collect();
    rdns.join(", ")
}

/// A value's tag, length and content, DER-encoded.
fn der_encoding(value: &x509_parser::der_parser::asn1_rs::Any<'_>) -> Vec<u8> {
    let header = &value.header;
    let class = (header.class() as u8) << 6;
    let constructed = if header.is_constructed() { 0x20 } else { 0 };
    let tag = header.tag().0;
    let mut out = Vec::with_capacity(value.data.len() + 8);
    if tag < 31 {
        out.push(class | constructed | tag as u8);
    } else {
        out.push(class | constructed | 0x1F);
        let mut groups = Vec::new();
        let mut rest = tag;
        loop {
            groups.push((rest & 0x7F) as u8);
            rest >>= 7;
            if rest == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().enumerate().rev() {
            out.push(if i == 0 { *g } else { g | 0x80 });
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(value.data);
    out
}

/// UTF-16 big-endian, as BMPString holds it.
fn bmp_string(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = data.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
    String::from_utf16(&units).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An attribute value escaped as RFC 4514 §2.4 asks, plus `=`; control characters as `\XX`.
pub fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, KeyPair};

    fn names_of(der: &[u8]) -> CertificateNames {
        read_client_certificate(der, &CaBundle::default()).names.unwrap()
    }

    fn cert_with(attributes: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in attributes {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.self_signed(&KeyPair::generate().unwrap()).unwrap().der().to_vec()
    }

    #[test]
    fn plain_names_render_as_admins_write_them() {
        let der = cert_with(&[(DnType::CommonName, "cert-pt-feed"), (DnType::OrganizationName, "CERT.PT")]);
        let names = names_of(&der);
        assert_eq!(names.subject, "CN=cert-pt-feed, O=CERT.PT");
        assert_eq!(names.issuer, names.subject, "self-signed");
    }

    #[test]
    fn a_value_holding_separators_cannot_pass_for_two_attributes() {
        let forged = names_of(&cert_with(&[(DnType::CommonName, "alice-feed, O=Org A")]));
        let real = names_of(&cert_with(&[(DnType::CommonName, "alice-feed"), (DnType::OrganizationName, "Org A")]));
        assert_eq!(real.subject, "CN=alice-feed, O=Org A");
        assert_eq!(forged.subject, "CN=alice-feed\\, O\\=Org A");
        assert_ne!(forged.subject, real.subject);
    }

    /// A certificate counts as issued by a bundle CA only if that CA's key signed it: another
    /// CA's intermediate bearing the same name does not.
    #[test]
    fn issuance_is_checked_by_signature_not_by_name() {
        let partner = crate::tls::client_ca("Partner CA").unwrap();
        let other = crate::tls::client_ca("Other CA").unwrap();
        let bundle = CaBundle::new([partner.der().to_vec(), other.der().to_vec()]);
        let only_other = CaBundle::new([other.der().to_vec()]);
        let (genuine, _) = crate::tls::client_certificate("feed", "CERT", &partner).unwrap();
        let genuine = rustls_pemfile::certs(&mut genuine.as_bytes()).next().unwrap().unwrap().to_vec();
        let names = read_client_certificate(&genuine, &bundle).names.unwrap();
        assert_eq!(names.issuer, "CN=Partner CA");
        assert!(names.issued_by_bundle_ca);
        let names = read_client_certificate(&genuine, &only_other).names.unwrap();
        assert!(!names.issued_by_bundle_ca, "the CA must be in the bundle");

        // Other CA signs an intermediate named "CN=Partner CA", which issues a lookalike.
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Partner CA");
        let fake_key = KeyPair::generate().unwrap();
        let fake_ca = rcgen::CertifiedIssuer::signed_by(params, fake_key, &other).unwrap();
        let (lookalike, _) = crate::tls::client_certificate("feed", "CERT", &fake_ca).unwrap();
        let lookalike = rustls_pemfile::certs(&mut lookalike.as_bytes()).next().unwrap().unwrap().to_vec();
        let names = read_client_certificate(&lookalike, &bundle).names.unwrap();
        assert_eq!(names.issuer, "CN=Partner CA");
        assert!(!names.issued_by_bundle_ca);
    }

    #[test]
    fn escaping_follows_rfc_4514() {
        assert_eq!(escape_value("a+b"), "a\\+b");
        assert_eq!(escape_value("#x"), "\\#x");
        assert_eq!(escape_value("x#"), "x#");
        assert_eq!(escape_value(" pad "), "\\ pad\\ ");
        assert_eq!(escape_value("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
        assert_eq!(escape_value("nul\0"), "nul\\00");
        assert_eq!(escape_value("Zé"), "Zé");
    }
}
