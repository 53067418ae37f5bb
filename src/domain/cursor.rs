//! Stateless, tamper-proof pagination cursors (`next`).
//!
//! A cursor is the keyset position of the last item served (`date_added`, `seq`), MAC-ed together
//! with the scope it was issued for: endpoint, collection, account, object id and filters. The
//! secret lives in the database, so cursors survive restarts and work on every replica. Using a
//! cursor with another account, collection or filter fails the MAC and is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::timestamp::Micros;
use super::DomainError;

const FORMAT: u8 = 1;
const MAC_LEN: usize = 16;

#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn new(secret: [u8; 32]) -> Self {
        CursorKey(secret)
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

impl CursorKey {
    fn mac(&self, scope: &Scope<'_>, body: &[u8]) -> [u8; MAC_LEN] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        m.update(body);
        m.update(&[scope.endpoint]);
        m.update(&scope.collection_key.to_be_bytes());
        m.update(&scope.account_id.to_be_bytes());
        let id = scope.object_id.unwrap_or("");
        m.update(&(id.len() as u64).to_be_bytes());
        m.update(id.as_bytes());
        m.update(scope.filter.as_bytes());
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    pub fn encode(&self, scope: &Scope<'_>, pos: Position) -> String {
        let mut buf = Vec::with_capacity(17 + MAC_LEN);
        buf.push(FORMAT);
        buf.extend_from_slice(&pos.date_added.to_be_bytes());
        buf.extend_from_slice(&pos.seq.to_be_bytes());
        let mac = self.mac(scope, &buf);
        buf.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(buf)
    }

    pub fn decode(&self, scope: &Scope<'_>, token: &str) -> Result<Position, DomainError> {
        let invalid =
            || DomainError::BadCursor("the 'next' value is not valid for this request; start again without it".into());
        let buf = URL_SAFE_NO_PAD.decode(token.as_bytes()).map_err(|_| invalid())?;
        if buf.len() != 17 + MAC_LEN || buf[0] != FORMAT {
            return Err(invalid());
        }
        let (body, mac) = buf.split_at(17);
        let expected = self.mac(scope, body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], mac)) {
            return Err(invalid());
        }
        let date_added = i64::from_be_bytes(body[1..9].try_into().map_err(|_| invalid())?);
        let seq = i64::from_be_bytes(body[9..17].try_into().map_err(|_| invalid())?);
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
        fn any_flipped_bit_is_refused(da in any::<i64>(), seq in any::<i64>(), bit in 0usize..(33 * 8)) {
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
}
