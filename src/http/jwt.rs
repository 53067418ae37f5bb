//! Short-lived access tokens for `POST /auth/token` and `Authorization: Bearer`.
//!
//! Tokens are EdDSA (Ed25519) JWTs. Only EdDSA is ever accepted on the way in, so the classic
//! `alg: none` and HS256-with-the-public-key tricks cannot work. Every registered claim we rely on
//! (`exp`, `iss`, `aud`, `sub`) must be present: `jsonwebtoken` only checks `iss`/`aud` when the
//! token carries them, unless they are listed as required.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp`. Small, because tokens are short-lived and the same hub (or a
/// replica with the same key) both issues and checks them.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("token key: {0}")]
    Key(String),
}

/// Our claim set. Fields are typed strictly (single-string `aud`/`iss`, integer times) so a
/// token shaped differently from what [`JwtKeys::issue`] produces fails to deserialize.
#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    iat: u64,
    exp: u64,
    jti: String,
    /// The account's `token_binding` when the token was issued: a token outlives neither the
    /// account nor a change to its password, role, certificate or disabled flag.
    bnd: String,
}

/// Whom a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    pub account_id: i64,
    pub binding: String,
}

/// Signing and verification keys plus the fixed claims every token carries.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Raw 32-byte Ed25519 public key; kept for tests and a future JWKS endpoint.
    #[cfg_attr(not(test), allow(dead_code))]
    public_key: [u8; 32],
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl fmt::Debug for JwtKeys {
    /// Never prints key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> Result<u64, JwtError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| JwtError::Key("system clock is before 1970".into()))
}

impl JwtKeys {
    /// pkcs8: an Ed25519 private key in PKCS#8 DER (from a PEM file or generated).
    ///
    /// Accepts PKCS#8 v1 (what `openssl genpkey -algorithm ed25519` writes) and v2 (what
    /// [`JwtKeys::generate_pkcs8`] returns). A probe token is signed and verified here so a key
    /// the JWT backend cannot use fails at startup, not on the first login.
    pub fn from_pkcs8(pkcs8_der: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Result<JwtKeys, JwtError> {
        // With both backend features unified into the build, jsonwebtoken would panic on first
        // use instead of picking one; installing ours first avoids that. Err = already installed.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();

        if issuer.is_empty() || audience.is_empty() {
            return Err(JwtError::Key("issuer and audience must not be empty".into()));
        }
        if ttl.as_secs() == 0 {
            return Err(JwtError::Key("token lifetime must be at least one second".into()));
        }
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8_der)
            .map_err(|e| JwtError::Key(format!("not an Ed25519 PKCS#8 private key: {e}")))?;
        let public_key: [u8; 32] = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| JwtError::Key("unexpected Ed25519 public key length".into()))?;

        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);

        let keys = JwtKeys {
            encoding: EncodingKey::from_ed_der(pkcs8_der),
            // Despite the name, the Ed25519 DecodingKey wants the raw 32-byte public key, not SPKI.
            decoding: DecodingKey::from_ed_der(&public_key),
            public_key,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
        };
        let (probe, _) = keys.issue(0, "probe").map_err(|e| JwtError::Key(format!("key cannot sign: {e}")))?;
        keys.verify(&probe).map_err(|e| JwtError::Key(format!("key cannot verify its own token: {e}")))?;
        Ok(keys)
    }

    /// Reads a PEM "PRIVATE KEY" (PKCS#8 Ed25519) file's contents.
    ///
    /// Exactly one such section is required, so a file holding two keys is not silently
    /// half-used.
    pub fn from_pem(pem: &[u8], issuer: &str, audience: &str, ttl: Duration) -> Result<JwtKeys, JwtError> {
        let mut keys = PrivatePkcs8KeyDer::pem_slice_iter(pem);
        let der = match keys.next() {
            Some(Ok(der)) => der,
            Some(Err(e)) => return Err(JwtError::Key(format!("bad PEM: {e}"))),
            None => return Err(JwtError::Key("no \"PRIVATE KEY\" (PKCS#8) section in PEM".into())),
        };
        if keys.next().is_some() {
            return Err(JwtError::Key("more than one \"PRIVATE KEY\" section in PEM".into()));
        }
        JwtKeys::from_pkcs8(der.secret_pkcs8_der(), issuer, audience, ttl)
    }

    /// A fresh Ed25519 key in PKCS#8 v2 DER, for deployments that do not configure a key file
    /// (tokens then die with the process, which is acceptable for short-lived tokens).
    pub fn generate_pkcs8() -> Result<Vec<u8>, JwtError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| JwtError::Key("could not generate an Ed25519 key".into()))
    }

    /// Issues a token for account id `account_id` (claim `sub` = id as a decimal string), with iat,
    /// exp, iss, aud, jti (uuid v4). Returns the token and its lifetime in seconds, as
    /// `expires_in` wants it.
    pub fn issue(&self, account_id: i64, binding: &str) -> Result<(String, u64), JwtError> {
        let iat = now_secs()?;
        let expires_in = self.ttl.as_secs();
        let exp =
            iat.checked_add(expires_in).ok_or_else(|| JwtError::Key("token lifetime overflows the clock".into()))?;
        let claims = Claims {
            sub: account_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat,
            exp,
            jti: uuid::Uuid::new_v4().to_string(),
            bnd: binding.to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &self.encoding)
            .map_err(|e| JwtError::Key(format!("signing failed: {e}")))?;
        Ok((token, expires_in))
    }

    /// Validates signature (EdDSA only — any other alg, including "none", is rejected), exp (no
    /// leeway beyond 30 s), iss, aud, and that sub parses as i64; returns the account id.
    ///
    /// The error text names the reason; it is meant for logs, not for the client.
    pub fn verify(&self, token: &str) -> Result<TokenSubject, JwtError> {
        refuse_critical_extensions(token)?;
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| JwtError::Invalid(e.to_string()))?;
        let sub = data.claims.sub;
        let id: i64 = sub.parse().map_err(|_| JwtError::Invalid("sub is not an account id".into()))?;
        // Only the canonical decimal form we issue ("+7", "007" are not ours).
        if id.to_string() != sub {
            return Err(JwtError::Invalid("sub is not an account id".into()));
        }
        Ok(TokenSubject { account_id: id, binding: data.claims.bnd })
    }
}

/// RFC 7515 §4.1.11: a token whose `crit` header names extensions the recipient does not
/// understand must be refused. The hub understands none, so any `crit` refuses the token.
fn refuse_critical_extensions(token: &str) -> Result<(), JwtError> {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| JwtError::Invalid("the header is not base64url".into()))?;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| JwtError::Invalid("the header is not JSON".into()))?;
    if header.get("crit").is_some() {
        return Err(JwtError::Invalid(
            "the header has a crit parameter naming extensions this hub does not understand".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::{json, Value};

    use super::*;

    const ISS: &str = "https://hub.example/";
    const AUD: &str = "taxii-hub";
    const TTL: Duration = Duration::from_secs(300);

    fn keys() -> JwtKeys {
        let der = JwtKeys::generate_pkcs8().expect("keygen");
        JwtKeys::from_pkcs8(&der, ISS, AUD, TTL).expect("keys")
    }

    /// Claims that `verify` accepts; each negative test changes exactly one thing.
    fn good_claims() -> Value {
        let now = now_secs().expect("clock");
        json!({ "sub": "42", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 300, "jti": "x", "bnd": "b" })
    }

    fn sign(keys: &JwtKeys, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &keys.encoding).expect("encode")
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"))
    }

    /// Asserts an `Invalid` error whose message mentions `reason`, so a test cannot pass because
    /// the token was rejected for some other, accidental reason.
    fn assert_invalid(result: Result<TokenSubject, JwtError>, reason: &str) {
        match result {
            Err(JwtError::Invalid(msg)) => assert!(msg.contains(reason), "expected {reason:?}, got {msg:?}"),
            other => panic!("expected Invalid({reason}), got {other:?}"),
        }
    }

    #[test]
    fn round_trip_returns_account_id() {
        let keys = keys();
        let (token, expires_in) = keys.issue(42, "b1").expect("issue");
        assert_eq!(expires_in, 300);
        assert_eq!(keys.verify(&token).expect("verify"), TokenSubject { account_id: 42, binding: "b1".into() });
        let (token, _) = keys.issue(-7, "b2").expect("issue");
        assert_eq!(keys.verify(&token).expect("verify").account_id, -7);
    }

    /// Signs header.claims with the key itself, for headers `jsonwebtoken` cannot write.
    fn sign_raw(der: &[u8], header: &Value, claims: &Value) -> String {
        let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).expect("key");
        let input = format!("{}.{}", b64(header), b64(claims));
        let signature = URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref());
        format!("{input}.{signature}")
    }

    #[test]
    fn unknown_critical_header_extensions_are_rejected() {
        let der = JwtKeys::generate_pkcs8().expect("keygen");
        let keys = JwtKeys::from_pkcs8(&der, ISS, AUD, TTL).expect("keys");
        let plain = json!({"alg": "EdDSA", "typ": "JWT"});
        // Control: the same hand-signed token without crit is accepted.
        assert_eq!(keys.verify(&sign_raw(&der, &plain, &good_claims())).expect("verify").account_id, 42);
        let critical = json!({"alg": "EdDSA", "typ": "JWT", "crit": ["exp-ext"], "exp-ext": true});
        assert_invalid(keys.verify(&sign_raw(&der, &critical, &good_claims())), "crit");
    }

    #[test]
    fn hand_built_good_claims_are_accepted() {
        // Control for the negative tests below: the helpers alone do not cause rejection.
        let keys = keys();
        assert_eq!(keys.verify(&sign(&keys, &good_claims())).expect("verify").account_id, 42);
    }

    #[test]
    fn tokens_carry_expected_claims_and_header() {
        let keys = keys();
        let (token, _) = keys.issue(9, "b").expect("issue");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("json");
        assert_eq!(header["alg"], "EdDSA");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        assert_eq!(claims["sub"], "9");
        assert_eq!(claims["iss"], ISS);
        assert_eq!(claims["aud"], AUD);
        let (iat, exp) = (claims["iat"].as_u64().expect("iat"), claims["exp"].as_u64().expect("exp"));
        assert_eq!(exp - iat, 300);
        assert!(uuid::Uuid::parse_str(claims["jti"].as_str().expect("jti")).is_ok());
        let (other, _) = keys.issue(9, "b").expect("issue");
        assert_ne!(token, other, "jti must make every token unique");
    }

    #[test]
    fn expired_token_is_rejected() {
        let keys = keys();
        let mut claims = good_claims();
        let now = now_secs().expect("clock");
        claims["iat"] = json!(now - 3600);
        claims["exp"] = json!(now - LEEWAY_SECS - 5);
        assert_invalid(keys.verify(&sign(&keys, &claims)), "ExpiredSignature");
    }

    #[test]
    fn wrong_audience_is_rejected() {
        let keys = keys();
        let mut claims = good_claims();
        claims["aud"] = json!("some-other-service");
        assert_invalid(keys.verify(&sign(&keys, &claims)), "InvalidAudience");
        // Same key, different configured audience: a token for one service is no good at another.
        let der = JwtKeys::generate_pkcs8().expect("keygen");
        let here = JwtKeys::from_pkcs8(&der, ISS, AUD, TTL).expect("keys");
        let elsewhere = JwtKeys::from_pkcs8(&der, ISS, "elsewhere", TTL).expect("keys");
        let (token, _) = elsewhere.issue(42, "b").expect("issue");
        assert_invalid(here.verify(&token), "InvalidAudience");
    }

    #[test]
    fn wrong_issuer_is_rejected() {
        let keys = keys();
        let mut claims = good_claims();
        claims["iss"] = json!("https://evil.example/");
        assert_invalid(keys.verify(&sign(&keys, &claims)), "InvalidIssuer");
    }

    #[test]
    fn missing_registered_claims_are_rejected() {
        // jsonwebtoken skips the iss/aud check when the claim is absent unless it is required;
        // the strict `Claims` struct catches it even earlier. Either way the claim is named.
        let keys = keys();
        for claim in ["iss", "aud", "exp", "sub"] {
            let mut claims = good_claims();
            claims.as_object_mut().expect("object").remove(claim);
            assert_invalid(keys.verify(&sign(&keys, &claims)), claim);
        }
    }

    #[test]
    fn token_from_another_key_is_rejected() {
        let ours = keys();
        let theirs = keys();
        let (token, _) = theirs.issue(42, "b").expect("issue");
        assert_invalid(ours.verify(&token), "InvalidSignature");
    }

    #[test]
    fn alg_none_is_rejected() {
        let keys = keys();
        let header = b64(&json!({ "alg": "none", "typ": "JWT" }));
        let token = format!("{header}.{}.", b64(&good_claims()));
        assert!(matches!(keys.verify(&token), Err(JwtError::Invalid(_))));
        // Also with a signature copied from a genuine token.
        let (real, _) = keys.issue(42, "b").expect("issue");
        let sig = real.rsplit('.').next().expect("sig");
        assert!(matches!(keys.verify(&format!("{header}.{}.{sig}", b64(&good_claims()))), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn hs256_signed_with_public_key_is_rejected() {
        let keys = keys();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(),
            &EncodingKey::from_secret(&keys.public_key),
        )
        .expect("encode");
        assert_invalid(keys.verify(&forged), "InvalidAlgorithm");
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let keys = keys();
        let (token, _) = keys.issue(42, "b").expect("issue");
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);

        // One character flipped in the claims part.
        let mut payload: Vec<u8> = parts[1].bytes().collect();
        payload[5] = if payload[5] == b'A' { b'B' } else { b'A' };
        let flipped = format!("{}.{}.{}", parts[0], String::from_utf8(payload).expect("ascii"), parts[2]);
        assert_invalid(keys.verify(&flipped), "InvalidSignature");

        // A well-formed claims part for another account, original signature kept.
        let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        claims["sub"] = json!("1");
        let swapped = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert_invalid(keys.verify(&swapped), "InvalidSignature");
    }

    #[test]
    fn garbage_is_rejected_without_panicking() {
        let keys = keys();
        let long = "a".repeat(100_000);
        let garbage = [
            "",
            ".",
            "..",
            "...",
            "a.b.c",
            "a.b.c.d",
            "not a token",
            "Bearer x.y.z",
            "é.ü.€",
            "eyJhbGciOiJFZERTQSJ9..",
            "eyJhbGciOiJFZERTQSJ9.e30.AAAA",
            "eyJhbGciOiJFZERTQSJ9.e30.!!!!",
            long.as_str(),
        ];
        for g in garbage {
            assert!(matches!(keys.verify(g), Err(JwtError::Invalid(_))), "accepted {g:?}");
        }
    }

    #[test]
    fn non_numeric_sub_is_rejected() {
        let keys = keys();
        for sub in ["alice", "", "1.5", "+42", "042", "99999999999999999999"] {
            let mut claims = good_claims();
            claims["sub"] = json!(sub);
            assert_invalid(keys.verify(&sign(&keys, &claims)), "sub is not an account id");
        }
        let mut claims = good_claims();
        claims["sub"] = json!(42);
        assert!(matches!(keys.verify(&sign(&keys, &claims)), Err(JwtError::Invalid(_))));
    }

    #[test]
    fn pem_keys_load_and_match_der() {
        let der = JwtKeys::generate_pkcs8().expect("keygen");
        let body = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        let from_pem = JwtKeys::from_pem(pem.as_bytes(), ISS, AUD, TTL).expect("pem");
        let from_der = JwtKeys::from_pkcs8(&der, ISS, AUD, TTL).expect("der");
        let (token, _) = from_der.issue(5, "b").expect("issue");
        assert_eq!(from_pem.verify(&token).expect("verify").account_id, 5);
    }

    #[test]
    fn openssl_style_pkcs8_v1_key_is_accepted() {
        // RFC 8410 §10.3 example key: PKCS#8 v1, no embedded public key.
        let pem = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let keys = JwtKeys::from_pem(pem, ISS, AUD, TTL).expect("v1 pem");
        // RFC 8410 §10.1 gives the matching public key.
        assert_eq!(
            URL_SAFE_NO_PAD.encode(keys.public_key),
            URL_SAFE_NO_PAD.encode([
                0x19, 0xbf, 0x44, 0x09, 0x69, 0x84, 0xcd, 0xfe, 0x85, 0x41, 0xba, 0xc1, 0x67, 0xdc, 0x3b, 0x96, 0xc8,
                0x50, 0x86, 0xaa, 0x30, 0xb6, 0xb6, 0xcb, 0x0c, 0x5c, 0x38, 0xad, 0x70, 0x31, 0x66, 0xe1,
            ])
        );
        let (token, _) = keys.issue(3, "b").expect("issue");
        assert_eq!(keys.verify(&token).expect("verify").account_id, 3);
    }

    #[test]
    fn bad_key_material_is_rejected() {
        assert!(matches!(JwtKeys::from_pkcs8(b"", ISS, AUD, TTL), Err(JwtError::Key(_))));
        assert!(matches!(JwtKeys::from_pkcs8(&[0u8; 48], ISS, AUD, TTL), Err(JwtError::Key(_))));
        assert!(matches!(JwtKeys::from_pem(b"", ISS, AUD, TTL), Err(JwtError::Key(_))));
        assert!(matches!(
            JwtKeys::from_pem(b"-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----\n", ISS, AUD, TTL),
            Err(JwtError::Key(_))
        ));
        // A P-256 PKCS#8 key is well-formed PKCS#8 but not Ed25519.
        let p256 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &ring::rand::SystemRandom::new(),
        )
        .expect("p256");
        assert!(matches!(JwtKeys::from_pkcs8(p256.as_ref(), ISS, AUD, TTL), Err(JwtError::Key(_))));
        let der = JwtKeys::generate_pkcs8().expect("keygen");
        assert!(matches!(JwtKeys::from_pkcs8(&der, ISS, AUD, Duration::ZERO), Err(JwtError::Key(_))));
        assert!(matches!(JwtKeys::from_pkcs8(&der, "", AUD, TTL), Err(JwtError::Key(_))));
        let huge = JwtKeys::from_pkcs8(&der, ISS, AUD, Duration::MAX);
        assert!(matches!(huge, Err(JwtError::Key(_))), "exp overflow must be an error, not a panic");
    }
}
