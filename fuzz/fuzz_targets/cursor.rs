//! A `next` value, as any reader could send it. Looked for: panics, and any value this key did
//! not issue being accepted (it would be a forged position).
#![no_main]

use libfuzzer_sys::fuzz_target;
use taxii_hub::domain::cursor::{CursorKey, Scope};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let key = CursorKey::new([7; 32]);
    let scope = Scope { endpoint: 1, collection_key: 3, account_id: 5, object_id: None, filter: "" };
    assert!(key.decode(&scope, text).is_err(), "a value the hub never issued was accepted: {text:?}");
});
