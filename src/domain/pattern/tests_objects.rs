//! Tests of `observables`, `check_objects`, the SCO tables and the example indicators shipped
//! with the STIX 2.1 JSON schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::objects::{COMMON_PROPERTIES, SCO_PROPERTIES};
use super::tests::{ok, SPEC_EXAMPLES};
use super::*;

const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/stix2-json-schemas");

fn obs(t: &str, p: &str, v: &str) -> Observable {
    Observable { object_type: t.into(), property: p.into(), value: v.into() }
}

#[test]
fn observables_from_equality_and_in() {
    let p = ok("[ipv4-addr:value = '10.0.0.1' OR ipv4-addr:value = '10.0.0.1' OR \
                domain-name:value IN ('a.example', 'b.example', 'a.example')] \
                AND [file:hashes.'SHA-256' = 'ef53' AND file:hashes.'MD5' == 'aa11'] \
                FOLLOWEDBY [url:value = 'http://x/'] WITHIN 5 SECONDS");
    assert_eq!(
        observables(&p),
        vec![
            obs("ipv4-addr", "value", "10.0.0.1"),
            obs("domain-name", "value", "a.example"),
            obs("domain-name", "value", "b.example"),
            obs("file", "hashes.'SHA-256'", "ef53"),
            obs("file", "hashes.MD5", "aa11"),
            obs("url", "value", "http://x/"),
        ]
    );
}

#[test]
fn observables_skip_negated_and_non_equality() {
    let p = ok("[email-addr:value NOT = 'a@x' OR email-addr:value != 'b@x' OR \
                email-addr:value LIKE '%@x' OR email-addr:value MATCHES 'c' OR \
                email-addr:value NOT IN ('d@x') OR email-addr:value > 'e' OR \
                email-addr:display_name = 5 OR email-addr:value = h'00' OR \
                email-addr:value IN (1, 2) OR EXISTS email-addr:value OR \
                email-addr:value = 'kept@x']");
    assert_eq!(observables(&p), vec![obs("email-addr", "value", "kept@x")]);
    assert!(observables(&ok("[ipv4-addr:value ISSUBSET '10.0.0.0/8']")).is_empty());
}

#[test]
fn observable_properties_are_normalised() {
    let p = ok("[file : extensions . 'windows-pebinary-ext' . sections [ * ] . name = 'x'] OR \
                [x:a[+1].'b c'.'it\\'s'.'IN' = 'y'] OR [file:'hashes'.'SHA-256' = 'z']");
    assert_eq!(
        observables(&p),
        vec![
            obs("file", "extensions.'windows-pebinary-ext'.sections[*].name", "x"),
            obs("x", "a[1].'b c'.'it\\'s'.'IN'", "y"),
            obs("file", "hashes.'SHA-256'", "z"),
        ]
    );
    // Values are unescaped.
    let p = ok(r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']");
    assert_eq!(observables(&p)[0].value, r"HKEY_LOCAL_MACHINE\foo\bar");
}

#[test]
fn check_objects_standard_types() {
    for good in [
        "[ipv4-addr:value = '1.2.3.4']",
        "[file:hashes.'SHA-256' = 'x' AND file:size > 5 AND file:name_enc = 'x']",
        "[file:extensions.'ntfs-ext'.sid = '234']",
        "[ipv4-addr:id = 'ipv4-addr--x' OR url:defanged = true OR mutex:spec_version = '2.1']",
        "[network-traffic:dst_ref.whatever = 1]", // only the first property is checked
        "[email-message:body_multipart[*].body_raw_ref.name = 'x' AND email-message:is_multipart = true]",
        "[x509-certificate:x509_v3_extensions.basic_constraints = 'x']",
    ] {
        let p = ok(good);
        check_objects(&p, false).unwrap_or_else(|e| panic!("{good}: {e}"));
        check_objects(&p, true).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

#[track_caller]
fn check_err(input: &str, allow_custom: bool, offset: usize, message: &str) {
    let e = check_objects(&ok(input), allow_custom).expect_err(input);
    assert_eq!((e.offset, e.message.as_str()), (offset, message), "{input}");
}

#[test]
fn check_objects_errors() {
    check_err("[foo:bar = 1]", false, 1, "unknown SCO type 'foo' at offset 1");
    check_err(
        "[ipv4-addr:value = '1.2.3.4' OR x-usb-device:serial = '1']",
        false,
        32,
        "custom object type 'x-usb-device' is not allowed at offset 32",
    );
    check_err(
        "[file:name = 'a' AND file:created = t'2014-01-13T07:03:17Z']",
        true,
        26,
        "'created' is not a property of SCO type 'file' at offset 26",
    );
    check_err(
        "[ipv4-addr:x_acme_score > 5]",
        false,
        11,
        "custom property 'x_acme_score' of SCO type 'ipv4-addr' is not allowed at offset 11",
    );
    check_err(
        "[ipv4-addr:x_Acme = 5]",
        true,
        11,
        "invalid custom property name 'x_Acme' (only a-z, 0-9 and '_', 3-250 characters) at \
         offset 11",
    );
    check_err(
        "[x_whatever:detected = 1]",
        true,
        1,
        "invalid custom object type 'x_whatever' (only a-z, 0-9 and single '-', starting with a \
         letter, 3-250 characters) at offset 1",
    );
    let e = check_objects(&ok("[x--y:abc = 1]"), true).unwrap_err();
    assert!(e.message.starts_with("invalid custom object type 'x--y'"), "{e}");
    check_err(
        "[x-acme:ab = 1]",
        true,
        8,
        "invalid property name 'ab' for custom object type 'x-acme' (only a-z, 0-9 and '_', \
         3-250 characters) at offset 8",
    );
    check_err("[file:'hashes-x' = 1]", true, 6, "'hashes-x' is not a property of SCO type 'file' at offset 6");
    // Keys on the standard types are case-sensitive, like JSON.
    check_err("[File:name = 'a']", false, 1, "unknown SCO type 'File' at offset 1");
    // The first offending path in input order is reported.
    check_err("[file:nope = 1] AND [bad:x = 1]", false, 6, "'nope' is not a property of SCO type 'file' at offset 6");
}

#[test]
fn check_objects_custom_allowed() {
    for input in [
        "[x-usb-device:usbdrive.serial_number = '575833314133343231313937']",
        "[ipv4-addr:x_acme_score > 5]",
        "[acme-thing:id = 'x' AND acme-thing:type = 'acme-thing']",
        "[foo:bar = 1]",
    ] {
        check_objects(&ok(input), true).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert!(check_objects(&ok(input), false).is_err(), "{input}");
    }
}

#[test]
fn check_objects_on_spec_examples() {
    let mut rejected_strict = Vec::new();
    let mut rejected_custom = Vec::new();
    for example in SPEC_EXAMPLES {
        let p = ok(example);
        if let Err(e) = check_objects(&p, false) {
            rejected_strict.push(e.message);
        }
        if let Err(e) = check_objects(&p, true) {
            rejected_custom.push(e.message);
        }
    }
    // The spec's own examples use the STIX 2.0 properties `process:name` (9.6.1; 2.1 has
    // `image_ref.name`) and `file:created` (9.8; 2.1 has `ctime`), and one is a custom object.
    assert_eq!(
        rejected_strict,
        [
            "'name' is not a property of SCO type 'process' at offset 9",
            "'created' is not a property of SCO type 'file' at offset 56",
            "custom object type 'x-usb-device' is not allowed at offset 1",
        ]
    );
    assert_eq!(
        rejected_custom,
        [
            "'name' is not a property of SCO type 'process' at offset 9",
            "'created' is not a property of SCO type 'file' at offset 56",
        ]
    );
}

fn schema_properties(schema: &serde_json::Value, out: &mut BTreeSet<String>) {
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        out.extend(props.keys().cloned());
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for branch in schema.get(combinator).and_then(|b| b.as_array()).into_iter().flatten() {
            schema_properties(branch, out);
        }
    }
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sco_tables_match_the_json_schemas() {
    let core = read_json(&Path::new(SCHEMAS).join("schemas/common/cyber-observable-core.json"));
    let mut common = BTreeSet::new();
    schema_properties(&core, &mut common);
    let ours: BTreeSet<String> = COMMON_PROPERTIES.iter().map(|s| s.to_string()).collect();
    assert_eq!(ours, common);

    let dir = Path::new(SCHEMAS).join("schemas/observables");
    let mut types = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("observable schemas directory") {
        let path = entry.expect("dir entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        types.insert(name.to_string());
        let mut props = BTreeSet::new();
        schema_properties(&read_json(&path), &mut props);
        let expected: BTreeSet<String> = props.difference(&common).cloned().collect();
        let table =
            SCO_PROPERTIES.iter().find(|(t, _)| *t == name).unwrap_or_else(|| panic!("no table entry for {name}"));
        let ours: BTreeSet<String> = table.1.iter().map(|s| s.to_string()).collect();
        assert_eq!(ours, expected, "properties of {name}");
    }
    let ours: BTreeSet<String> = SCO_PROPERTIES.iter().map(|(t, _)| t.to_string()).collect();
    assert_eq!(ours, types);
    assert_eq!(types.len(), 18);
}

fn collect_patterns(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            let is_stix_indicator = map.get("type").and_then(|t| t.as_str()) == Some("indicator")
                && map.get("pattern_type").and_then(|t| t.as_str()).is_none_or(|t| t == "stix");
            if let (true, Some(p)) = (is_stix_indicator, map.get("pattern").and_then(|p| p.as_str())) {
                out.push(p.to_string());
            }
            map.values().for_each(|v| collect_patterns(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, out)),
        _ => {}
    }
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn example_indicators_from_the_schema_repository() {
    let mut files = Vec::new();
    json_files(&Path::new(SCHEMAS).join("examples"), &mut files);
    let mut patterns = Vec::new();
    for file in &files {
        collect_patterns(&read_json(file), &mut patterns);
    }
    assert!(patterns.len() >= 40, "only {} example patterns found", patterns.len());
    let mut indexed = 0;
    for pattern in &patterns {
        let p = ok(pattern);
        check_objects(&p, false).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        indexed += observables(&p).len();
    }
    assert!(indexed >= 80, "only {indexed} observables extracted");
    let p = ok("[file:hashes.'SHA-256' = 'ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c']");
    assert!(patterns.iter().any(|s| without(s) == without(&p.to_string())));
}

fn without(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}
