//! A POST body, as any partner could send it: envelope parsing, STIX validation of every
//! object, and the effective-TLP resolution that decides who may read what was accepted.
//! Looked for: panics, and accepted objects whose stored bytes are not the JSON object they
//! were, or that lose their TLP.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use taxii_hub::domain::effective_tlp::{self, TlpRules, UnknownMarking};
use taxii_hub::domain::envelope;
use taxii_hub::domain::tlp::Tlp;
use taxii_hub::domain::validation::CustomContent;

fuzz_target!(|data: &[u8]| {
    for custom in [CustomContent::Allow, CustomContent::Reject] {
        let Ok(parsed) = envelope::parse(data, custom, 1_000) else { continue };
        let submitted = parsed.accepted.len() + parsed.rejected.len();
        for object in &parsed.accepted {
            let value: serde_json::Value = serde_json::from_str(&object.raw).expect("accepted bytes are JSON");
            assert!(value.is_object(), "an accepted entry is an object");
        }
        let rules = TlpRules { default_tlp: Tlp::Amber, unknown_marking: UnknownMarking::Refuse };
        let resolution = effective_tlp::resolve(parsed, &HashMap::new(), &HashMap::new(), rules);
        assert_eq!(resolution.accepted.len() + resolution.refused.len(), submitted, "every object is answered");
        for resolved in &resolution.accepted {
            assert!(resolved.level.tlp.rank() >= Tlp::Clear.rank());
        }
    }
});
