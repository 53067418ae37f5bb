//! Agreement with the reference validator (Python stix2-validator + stix2-patterns) on a
//! generated corpus of valid objects of every STIX 2.1 type and systematic mutations.
//! Every disagreement must be listed, with its reason, in tests/stix/known-disagreements.txt.

#[path = "stix/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{json, Value};
use taxii_hub::domain::envelope;
use taxii_hub::domain::validation::CustomContent;

fn hub_verdict(object: &Value) -> (bool, String) {
    let body = json!({ "objects": [object] }).to_string();
    match envelope::parse(body.as_bytes(), CustomContent::Allow, taxii_hub::domain::envelope::DEFAULT_MAX_OBJECTS) {
        Ok(p) if p.rejected.is_empty() => (true, String::new()),
        Ok(p) => (false, p.rejected[0].message.clone().unwrap_or_default()),
        Err(e) => (false, e.to_string()),
    }
}

/// `pattern  reason` lines; `*` in a pattern matches any run of characters.
fn known() -> Vec<(String, String)> {
    let text = include_str!("stix/known-disagreements.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, why) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (k.to_string(), why.trim().to_string())
        })
        .collect()
}

#[test]
fn verdicts_agree_with_the_reference_validator() {
    let cases = corpus::corpus();
    assert!(cases.len() >= 2000, "the corpus has only {} cases", cases.len());
    let python = std::env::var("TAXII_HUB_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import stix2validator, stix2patterns"]).output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "this test needs the Python packages stix2-validator and stix2-patterns: run scripts/test (it installs them)"
    );
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("corpus.json"), dir.path().join("verdicts.json"));
    let payload: Vec<Value> = cases.iter().map(|c| json!({ "label": c.label, "object": c.object })).collect();
    std::fs::write(&input, serde_json::to_string(&payload).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/validate_corpus.py");
    let out = Command::new(&python).args([script, input.to_str().unwrap(), output.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reference: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(reference.len(), cases.len());

    let known = known();
    let mut agree = 0;
    let mut explained: BTreeMap<String, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for (case, theirs) in cases.iter().zip(&reference) {
        let (ours, why) = hub_verdict(&case.object);
        let their = theirs["valid"].as_bool().unwrap();
        if ours == their {
            agree += 1;
            continue;
        }
        // Only the hub refusing what the reference accepts may be excused.
        match known.iter().find(|(pattern, _)| !ours && glob(pattern, &case.label)) {
            Some((prefix, _)) => *explained.entry(prefix.clone()).or_default() += 1,
            None => unexplained.push(format!(
                "{}: hub {} ({why}), reference {} ({})",
                case.label,
                if ours { "accepts" } else { "refuses" },
                if their { "accepts" } else { "refuses" },
                theirs["message"].as_str().unwrap_or("")
            )),
        }
    }
    let rate = agree as f64 * 100.0 / cases.len() as f64;
    eprintln!("agreement with stix2-validator: {agree}/{} = {rate:.1}%", cases.len());
    for (prefix, n) in &explained {
        let why = &known.iter().find(|(p, _)| p == prefix).unwrap().1;
        eprintln!("  {n:>4} known disagreement(s) {prefix}: {why}");
    }
    assert!(unexplained.is_empty(), "{} unexplained disagreement(s):\n{}", unexplained.len(), unexplained.join("\n"));
}

fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len())
                    .any(|i| text.is_char_boundary(head.len() + i) && glob(rest, &text[head.len() + i..]))
        }
    }
}

#[test]
fn glob_matches() {
    assert!(glob("*/spec-2.0", "file/spec-2.0"));
    assert!(glob("file/add-bad:*_ref*:*", "file/add-bad:content_ref:not-id"));
    assert!(!glob("file/add-bad:*_ref*:*", "file/add-bad:name:number"));
    assert!(!glob("*/spec-2.0", "file/spec-2.01"));
}
