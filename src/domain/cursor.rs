//! Stateless, tamper-proof, opaque pagination cursors (`next`).
//!
//! A cursor is the keyset position of the last item served (`date_added`, `seq`), encrypted and
//! authenticated (ChaCha20-Poly1305, from `ring`) together with the scope it was issued for as
//! associated data: endpoint, collection, account, object id and filters. Encrypted, because
//! `seq` counts every version stored in the hub: two plain cursors would tell a reader how many
//! objects were stored between them, hidden ones included. The secret lives in the database, so
//! cursors survive restarts and work on every replica. Using a cursor with another account,
//! collection or filter fails authentication and is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use sha2::Sha256;

use super::timestamp::Micros;
use super::DomainError;

/// Format 1 was a MAC-ed plain position; its cursors are refused (the client starts again).
const FORMAT: u8 = 2;
const POSITION_LEN: usize = 16;
const TAG_LEN: usize = 16;
const CURSOR_LEN: usize = 1 + NONCE_LEN + POSITION_LEN + TAG_LEN;

#[derive(Clone)]
pub struct CursorKey(std::sync::Arc<LessSafeKey>);

impl CursorKey {
    /// The AEAD key is derived from the stored secret, so the secret itself never keys a cipher.
    pub fn new(secret: [u8; 32]) -> Self {
        let mut derive = Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC accepts any key length");
        derive.update(b"taxii-hub cursor encryption v2");
        let key = derive.finalize().into_bytes();
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte ChaCha20-Poly1305 key");
        CursorKey(std::sync::Arc::new(LessSafeKey::new(unbound)))
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// The keyset position after which the next page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub date_added: Micros,
    pub seq: i64,
}

/// What a cursor is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope<'a> {
    pub endpoint: u8,
    pub collection_key: i64,
    pub account_id: i64,
    pub object_id: Option<&'a str>,
    pub filter: &'a str,
}

impl Scope<'_> {
    /// The associated data: every field length-prefixed or fixed-size, so two scopes never
    /// encode alike.
    fn associated_data(&self) -> Vec<u8> {
        let id = self.object_id.unwrap_or("");
        let mut out = Vec::with_capacity(32 + id.len() + self.filter.len());
        out.push(FORMAT);
        out.push(self.endpoint);
        out.extend_from_slice(&self.collection_key.to_be_bytes());
        out.extend_from_slice(&self.account_id.to_be_bytes());
        out.extend_from_slice(&(id.len() as u64).to_be_bytes());
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(self.filter.as_bytes());
        out
    }
}

impl CursorKey {
    pub fn encode(&self, scope: &Scope<'_>, pos: Position) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = Vec::with_capacity(POSITION_LEN + TAG_LEN);
        sealed.extend_from_slice(&pos.date_added.to_be_bytes());
        sealed.extend_from_slice(&pos.seq.to_be_bytes());
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(scope.associated_data()),
                &mut sealed,
            )
            .expect("sealing 16 bytes cannot fail");
        let mut buf = Vec::with_capacity(CURSOR_LEN);
        buf.push(FORMAT);
        buf.extend_from_slice(&nonce_bytes);
        buf.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn decode(&self, scope: &Scope<'_>, token: &str) -> Result<Position, DomainError> {
        let invalid =
            || DomainError::BadCursor("the 'next' value is not valid for this request; start again without it".into());
        if token.len() > 2 * CURSOR_LEN {
            return Err(invalid());
        }
        let buf = URL_SAFE_NO_PAD.decode(token.as_bytes()).map_err(|_| invalid())?;
        if buf.len() != CURSOR_LEN || buf[0] != FORMAT {
            return Err(invalid());
        }
        let nonce: [u8; NONCE_LEN] = buf[1..1 + NONCE_LEN].try_into().map_err(|_| invalid())?;
        let mut sealed = buf[1 + NONCE_LEN..].to_vec();
        let plain = self
            .0
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(scope.associated_data()), &mut sealed)
            .map_err(|_| invalid())?;
        let date_added = i64::from_be_bytes(plain[0..8].try_into().map_err(|_| invalid())?);
        let seq = i64::from_be_bytes(plain[8..16].try_into().map_err(|_| invalid())?);
        Ok(Position { date_added, seq })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope<'a>(filter: &'a str) -> Scope<'a> {
        Scope { endpoint: 0, collection_key: 7, account_id: 3, object_id: None, filter }
    }

    proptest! {
        #[test]
        fn round_trips(da in any::<i64>(), seq in any::<i64>()) {
            let key = CursorKey::new([9; 32]);
            let pos = Position { date_added: da, seq };
            let t = key.encode(&scope("f"), pos);
            prop_assert_eq!(key.decode(&scope("f"), &t).unwrap(), pos);
        }

        #[test]
        fn any_flipped_bit_is_refused(da in any::<i64>(), seq in any::<i64>(), bit in 0usize..(CURSOR_LEN * 8)) {
            let key = CursorKey::new([1; 32]);
            let t = key.encode(&scope("f"), Position { date_added: da, seq });
            let mut raw = URL_SAFE_NO_PAD.decode(t).unwrap();
            raw[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(key.decode(&scope("f"), &URL_SAFE_NO_PAD.encode(raw)).is_err());
        }

        #[test]
        fn garbage_never_panics(s in ".{0,64}") {
            let _ = CursorKey::new([0; 32]).decode(&scope("f"), &s);
        }
    }

    #[test]
    fn bound_to_scope_and_key() {
        let key = CursorKey::new([1; 32]);
        let pos = Position { date_added: 5, seq: 6 };
        let t = key.encode(&scope("a"), pos);
        assert!(key.decode(&scope("b"), &t).is_err());
        let other_account = Scope { account_id: 4, ..scope("a") };
        assert!(key.decode(&other_account, &t).is_err());
        let other_object = Scope { object_id: Some("x--1"), ..scope("a") };
        assert!(key.decode(&other_object, &t).is_err());
        assert!(CursorKey::new([2; 32]).decode(&scope("a"), &t).is_err());
    }

    /// The same position never encodes the same way, and nothing of it shows: cursors of
    /// neighbouring positions share no more bytes than chance leaves.
    #[test]
    fn cursors_reveal_nothing_of_the_position() {
        let key = CursorKey::new([3; 32]);
        let decoded = |t: String| URL_SAFE_NO_PAD.decode(t).unwrap();
        let a = decoded(key.encode(&scope("f"), Position { date_added: 1_000, seq: 41 }));
        let b = decoded(key.encode(&scope("f"), Position { date_added: 1_000, seq: 41 }));
        let c = decoded(key.encode(&scope("f"), Position { date_added: 1_000, seq: 102 }));
        assert_ne!(a, b, "a fresh nonce each time");
        let same = |x: &[u8], y: &[u8]| x.iter().zip(y).skip(1).filter(|(p, q)| p == q).count();
        assert!(same(&a, &c) < 8, "{} equal bytes", same(&a, &c));
        assert!(!a.windows(8).any(|w| w == 41i64.to_be_bytes()), "seq in the clear");
        assert!(!a.windows(8).any(|w| w == 1_000i64.to_be_bytes()), "date_added in the clear");
    }

    #[test]
    fn cursors_of_the_old_plain_format_are_refused() {
        let mut old = vec![1u8];
        old.extend_from_slice(&5i64.to_be_bytes());
        old.extend_from_slice(&6i64.to_be_bytes());
        old.extend_from_slice(&[0u8; 16]);
        assert!(CursorKey::new([1; 32]).decode(&scope("a"), &URL_SAFE_NO_PAD.encode(old)).is_err());
    }
}
