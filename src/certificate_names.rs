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

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

/// The names a subject mapping compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    pub subject: String,
    pub issuer: String,
}

/// The subject and issuer of a DER certificate; `None` when it does not parse.
pub fn certificate_names(der: &[u8]) -> Option<CertificateNames> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    Some(CertificateNames { subject: render(cert.subject()), issuer: render(cert.issuer()) })
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
                        None => format!("{kind}=#{}", hex(value.as_bytes())),
                    }
                })
                .collect();
            attributes.join(" + ")
        })
        .collect();
    rdns.join(", ")
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
        let names = certificate_names(&der).unwrap();
        assert_eq!(names.subject, "CN=cert-pt-feed, O=CERT.PT");
        assert_eq!(names.issuer, names.subject, "self-signed");
    }

    #[test]
    fn a_value_holding_separators_cannot_pass_for_two_attributes() {
        let forged = certificate_names(&cert_with(&[(DnType::CommonName, "alice-feed, O=Org A")])).unwrap();
        let real =
            certificate_names(&cert_with(&[(DnType::CommonName, "alice-feed"), (DnType::OrganizationName, "Org A")]))
                .unwrap();
        assert_eq!(real.subject, "CN=alice-feed, O=Org A");
        assert_eq!(forged.subject, "CN=alice-feed\\, O\\=Org A");
        assert_ne!(forged.subject, real.subject);
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
