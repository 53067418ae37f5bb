//! MISP events through MISP's own STIX 2.1 exporter (`misp-stix`, events built with `pymisp`),
//! posted with the OASIS `taxii2-client` (tests/interop/misp_events.py): every object of every
//! event is visible exactly to the audience of the most restrictive TLP MISP gave it, for every
//! role of the sharing matrix. misp-stix marks only the grouping and the tagged attributes'
//! objects, so this is the hub's container inheritance meeting a real producer.
//!
//! The interpreter comes from `TAXII_HUB_PYTHON` (scripts/test installs the packages); a missing
//! package is a failure, never a silent pass.

mod common;

use std::collections::BTreeMap;

use common::python::{python, run_script};
use common::world::{audience, sharing_world, visible_ids, ROLES};
use common::*;
use serde_json::Value;
use taxii_hub::domain::tlp::Tlp;

#[tokio::test]
async fn misp_events_are_shared_exactly_as_their_tags_say() {
    let mut hub = start().await;
    let world = sharing_world(&mut hub).await;
    let python = python("taxii2client, pymisp, misp_stix_converter", "taxii2-client, pymisp and misp-stix");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/misp_events.py").to_string();
    let args = vec![
        script,
        hub.base.clone(),
        "producer".into(),
        hub.passwords["producer"].clone(),
        hub.ca_path.display().to_string(),
        hub.collections["intel"].clone(),
        world.recipient_identity.clone(),
    ];
    let out = tokio::task::spawn_blocking(move || run_script(python, args)).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "misp_events.py failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // Object id → the TLP MISP meant (objects shared by several events keep the strictest).
    let mut expected: BTreeMap<String, Tlp> = BTreeMap::new();
    let mut events = 0;
    for line in stdout.lines() {
        let report: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        events += 1;
        let status = &report["status"];
        assert_eq!(status["failure_count"], 0, "{}: every object is accepted: {status}", report["event"]);
        assert!(status["success_count"].as_u64().unwrap() >= 10, "{}: {status}", report["event"]);
        for (id, tlp) in report["expected"].as_object().unwrap() {
            let tlp = match tlp.as_str().unwrap() {
                "default" => Tlp::Amber,
                name => Tlp::parse(name).unwrap(),
            };
            let e = expected.entry(id.clone()).or_insert(tlp);
            *e = (*e).max(tlp);
        }
    }
    assert_eq!(events, 10, "{stdout}");
    let reds = expected.values().filter(|t| **t == Tlp::Red).count();
    assert!(reds >= 20, "the RED event and the RED attributes make RED objects: {reds}");

    for role in ROLES {
        let seen = visible_ids(&hub, role).await;
        for (id, tlp) in &expected {
            let should = audience(*tlp).contains(role);
            assert_eq!(seen.contains(id), should, "{role} and {id} (MISP TLP {})", tlp.name());
        }
    }
}
