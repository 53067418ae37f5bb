//! The OASIS STIX 2.1 examples (../shared/stix2-json-schemas/examples) all validate. (The
//! `interop/` directory holds JSON schemas of the interop profile, not objects.)

use std::path::PathBuf;

use serde_json::Value;
use taxii_hub::domain::envelope;
use taxii_hub::domain::validation::CustomContent;

fn shared(dir: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/stix2-json-schemas")).join(dir);
    assert!(p.is_dir(), "{} is missing: the OASIS material must sit in ../shared beside the repository", p.display());
    p
}

fn objects_in(path: &std::path::Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    match v {
        Value::Object(ref m) if m.get("type").and_then(Value::as_str) == Some("bundle") => {
            m["objects"].as_array().cloned().unwrap_or_default()
        }
        Value::Array(a) => a,
        other => vec![other],
    }
}

fn files(dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(p));
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn every_oasis_example_and_interop_object_validates() {
    let mut total = 0;
    let mut refused = Vec::new();
    for dir in ["examples"] {
        for file in files(shared(dir)) {
            for obj in objects_in(&file) {
                total += 1;
                let body = serde_json::json!({ "objects": [obj] }).to_string();
                let parsed = envelope::parse(
                    body.as_bytes(),
                    CustomContent::Allow,
                    taxii_hub::domain::envelope::DEFAULT_MAX_OBJECTS,
                )
                .unwrap();
                for r in parsed.rejected {
                    refused.push(format!("{}: {} {}", file.display(), r.id, r.message.unwrap_or_default()));
                }
            }
        }
    }
    assert!(total > 100, "only {total} objects found");
    assert!(refused.is_empty(), "{} of {total} refused:\n{}", refused.len(), refused.join("\n"));
    eprintln!("{total} OASIS example and interop objects validate");
}
