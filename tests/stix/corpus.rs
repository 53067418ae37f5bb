//! A generated corpus for comparing the hub's verdicts with the reference validator: valid
//! objects of every STIX 2.1 type, then systematic mutations of each.

use serde_json::{json, Map, Value};
use taxii_hub::domain::validation::{spec_of, Kind};

pub struct Case {
    pub label: String,
    pub object: Value,
}

const ID: &str = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const T0: &str = "2020-01-01T00:00:00.000Z";
const T1: &str = "2020-06-01T00:00:00.000Z";

fn sdo(ty: &str, extra: Value) -> Value {
    let mut o =
        json!({ "type": ty, "spec_version": "2.1", "id": format!("{ty}--{ID}"), "created": T0, "modified": T1 });
    merge(&mut o, extra);
    o
}

fn sco(ty: &str, extra: Value) -> Value {
    let mut o = json!({ "type": ty, "spec_version": "2.1", "id": format!("{ty}--{ID}") });
    merge(&mut o, extra);
    o
}

fn merge(o: &mut Value, extra: Value) {
    if let (Some(m), Value::Object(e)) = (o.as_object_mut(), extra) {
        m.extend(e);
    }
}

fn r(ty: &str) -> String {
    format!("{ty}--6b0e8b2d-2f7e-4d36-9a6c-1a0c9a7f4a11")
}

/// One valid object of every type.
pub fn bases() -> Vec<Value> {
    vec![
        sdo(
            "attack-pattern",
            json!({"name": "Spear phishing", "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}]}),
        ),
        sdo("campaign", json!({"name": "Operation Tagus", "first_seen": T0, "last_seen": T1})),
        sdo("course-of-action", json!({"name": "Block the C2 domain"})),
        sdo("grouping", json!({"context": "suspicious-activity", "object_refs": [r("indicator")]})),
        sdo("identity", json!({"name": "CERT.PT", "identity_class": "organization", "sectors": ["government"]})),
        sdo("incident", json!({"name": "Ransomware at a hospital"})),
        sdo(
            "indicator",
            json!({"name": "C2", "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": T0, "valid_until": T1, "indicator_types": ["malicious-activity"]}),
        ),
        sdo("infrastructure", json!({"name": "Botnet C2", "infrastructure_types": ["command-and-control"]})),
        sdo("intrusion-set", json!({"name": "APT Lusitania", "first_seen": T0})),
        sdo("location", json!({"region": "southern-europe", "country": "PT"})),
        sdo("malware", json!({"name": "Emotet", "is_family": true, "malware_types": ["trojan"]})),
        sdo("malware-analysis", json!({"product": "sandbox", "result": "malicious"})),
        sdo("note", json!({"content": "Seen again today", "object_refs": [r("malware")]})),
        sdo(
            "observed-data",
            json!({"first_observed": T0, "last_observed": T1, "number_observed": 3, "object_refs": [r("ipv4-addr")]}),
        ),
        sdo("opinion", json!({"opinion": "agree", "object_refs": [r("indicator")]})),
        sdo(
            "report",
            json!({"name": "Weekly report", "published": T1, "object_refs": [r("indicator")], "report_types": ["threat-report"]}),
        ),
        sdo("threat-actor", json!({"name": "Crew", "threat_actor_types": ["crime-syndicate"]})),
        sdo("tool", json!({"name": "mimikatz"})),
        sdo(
            "vulnerability",
            json!({"name": "CVE-2021-44228", "external_references": [{"source_name": "cve", "external_id": "CVE-2021-44228"}]}),
        ),
        sdo(
            "relationship",
            json!({"relationship_type": "indicates", "source_ref": r("indicator"), "target_ref": r("malware")}),
        ),
        sdo(
            "sighting",
            json!({"sighting_of_ref": r("indicator"), "count": 2, "where_sighted_refs": [r("identity")], "first_seen": T0, "last_seen": T1}),
        ),
        sco("artifact", json!({"mime_type": "application/zip", "payload_bin": "UEsDBAoAAAAAAA=="})),
        sco("autonomous-system", json!({"number": 64512, "name": "Example AS"})),
        sco("directory", json!({"path": "C:\\Windows\\Temp"})),
        sco("domain-name", json!({"value": "evil.example"})),
        sco("email-addr", json!({"value": "phisher@evil.example"})),
        sco("email-message", json!({"is_multipart": false, "subject": "Invoice", "body": "see attachment"})),
        sco(
            "file",
            json!({"name": "invoice.exe", "hashes": {"SHA-256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}}),
        ),
        sco("ipv4-addr", json!({"value": "198.51.100.7"})),
        sco("ipv6-addr", json!({"value": "2001:db8::1"})),
        sco("mac-addr", json!({"value": "d2:fb:49:24:37:18"})),
        sco("mutex", json!({"name": "Global\\evil"})),
        sco("network-traffic", json!({"protocols": ["ipv4", "tcp"], "src_ref": r("ipv4-addr"), "dst_port": 443})),
        sco("process", json!({"pid": 1234, "command_line": "evil.exe -x"})),
        sco("software", json!({"name": "Word", "vendor": "Microsoft"})),
        sco("url", json!({"value": "https://evil.example/payload"})),
        sco("user-account", json!({"user_id": "1001", "account_login": "jdoe"})),
        sco("windows-registry-key", json!({"key": "HKEY_LOCAL_MACHINE\\Software\\Evil"})),
        sco("x509-certificate", json!({"issuer": "CN=Evil CA", "serial_number": "01"})),
        json!({"type": "marking-definition", "spec_version": "2.1", "id": format!("marking-definition--{ID}"), "created": T0, "definition_type": "statement", "definition": {"statement": "Copyright 2020"}}),
        sdo("language-content", json!({"object_ref": r("indicator"), "contents": {"pt": {"name": "Indicador"}}})),
        sdo(
            "extension-definition",
            json!({"created_by_ref": r("identity"), "name": "x", "schema": "https://example.org/schema.json", "version": "1.0", "extension_types": ["property-extension"]}),
        ),
    ]
}

const BROKEN_PATTERNS: &[&str] = &[
    "[ipv4-addr:value = '1.2.3.4'",
    "ipv4-addr:value = '1.2.3.4']",
    "[ipv4-addr:value == '1.2.3.4']",
    "[ipv4-addr:value = 1.2.3.4]",
    "[ipv4-addr:value = '1.2.3.4'] AND",
    "[]",
    "[ipv4-addr:value = '1.2.3.4'] WITHIN seconds",
    "[ipv4-addr:value = '1.2.3.4'] REPEATS TIMES",
    "[file:hashes.'SHA-256' = h'abc']",
    "[file:content_ref.payload_bin = b'@@@@']",
    "[ipv4-addr:value = '1.2.3.4' AND]",
    "[network-traffic:dst_port IN (80 443)]",
    "[ipv4-addr:value = t'2016-13-01T00:00:00Z']",
    "[ipv4-addr value = '1.2.3.4']",
    "[(ipv4-addr:value = '1.2.3.4']",
    "[ipv4-addr:value = '1.2.3.4'] START t'2016-01-01T00:00:00Z'",
    "[ipv4-addr:value NOT = '1.2.3.4'] FOLLOWEDBY",
    "",
];

const GOOD_PATTERNS: &[&str] = &[
    "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
    "[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32']",
    "[domain-name:value = 'evil.example'] FOLLOWEDBY [url:value = 'https://evil.example/']",
    "[network-traffic:dst_port IN (80, 443) AND network-traffic:protocols[*] = 'tcp'] WITHIN 300 SECONDS",
    "[file:name MATCHES '^invoice.*\\\\.exe$'] REPEATS 5 TIMES",
    "[email-message:from_ref.value LIKE '%@evil.example']",
    "[process:command_line = 'evil.exe' AND process:pid > 100] START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
    "[user-account:account_login EXISTS]",
    "[x509-certificate:issuer = 'CN=Evil' AND NOT x509-certificate:serial_number = '01']",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Evil']",
    "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
    "[artifact:payload_bin = b'UEsDBAo=']",
];

fn mutate(label: &str, base: &Value, f: impl FnOnce(&mut Map<String, Value>)) -> Case {
    let mut o = base.clone();
    f(o.as_object_mut().expect("objects"));
    Case { label: label.to_string(), object: o }
}

pub fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for base in bases() {
        let ty = base["type"].as_str().unwrap().to_string();
        let spec = spec_of(&ty).unwrap();
        cases.push(Case { label: format!("{ty}/valid"), object: base.clone() });
        for req in spec.required.iter().chain(["id", "type"].iter()) {
            cases.push(mutate(&format!("{ty}/drop:{req}"), &base, |m| {
                m.remove(*req);
            }));
        }
        for (prop, kind) in spec.properties {
            let present = base.get(*prop).is_some();
            let bad: Vec<(&str, Value)> = match kind {
                Kind::Timestamp | Kind::TimestampMillis => vec![
                    ("month13", json!("2016-13-01T00:00:00.000Z")),
                    ("no-zone", json!("2016-01-01T00:00:00.000")),
                    ("words", json!("yesterday")),
                    ("number", json!(1451606400)),
                    ("feb30", json!("2016-02-30T00:00:00.000Z")),
                    ("offset", json!("2016-01-01T00:00:00.000+01:00")),
                ],
                Kind::Ref(_) => vec![
                    ("not-id", json!("not-an-id")),
                    ("bad-uuid", json!(format!("{}--1234", prop.trim_end_matches("_ref")))),
                    ("number", json!(5)),
                ],
                Kind::RefList(_) => vec![
                    ("empty", json!([])),
                    ("not-id", json!(["nope"])),
                    ("not-list", json!("identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")),
                ],
                Kind::StrList => vec![("empty", json!([])), ("ints", json!([1, 2])), ("string", json!("x"))],
                Kind::Bool => vec![("string", json!("true")), ("int", json!(1))],
                Kind::Int(lo, hi) => {
                    let mut v = vec![("string", json!("7")), ("float", json!(1.5))];
                    if let Some(lo) = lo {
                        v.push(("below", json!(lo - 1)));
                    }
                    if let Some(hi) = hi {
                        v.push(("above", json!(hi + 1)));
                    }
                    v
                }
                Kind::Enum(_) => vec![("not-in-vocab", json!("definitely-not-a-value")), ("number", json!(3))],
                Kind::Str => vec![("number", json!(42)), ("list", json!(["a"]))],
                Kind::Hashes => vec![
                    ("short-sha256", json!({"SHA-256": "abc"})),
                    ("empty", json!({})),
                    ("not-hex-md5", json!({"MD5": "zz5e7bcf6a0b4f6ed6b2b7d8e9a1c4d2"})),
                ],
                Kind::ExtRefs => vec![
                    ("no-source", json!([{"url": "https://x"}])),
                    ("only-source", json!([{"source_name": "x"}])),
                    ("empty", json!([])),
                ],
                Kind::KillChains => vec![("no-phase", json!([{"kill_chain_name": "k"}])), ("empty", json!([]))],
                Kind::GranularMarkings => vec![
                    ("no-selectors", json!([{"marking_ref": format!("marking-definition--{ID}")}])),
                    ("bad-ref", json!([{"marking_ref": "x", "selectors": ["name"]}])),
                ],
                Kind::Dict => vec![("empty", json!({})), ("string", json!("x"))],
                Kind::Binary => vec![("not-base64", json!("@@@"))],
                Kind::Hex => vec![("odd", json!("abc")), ("not-hex", json!("zz"))],
                _ => vec![],
            };
            // Mutate properties the base has, and also add each bad value where it is absent.
            for (what, value) in bad {
                let verb = if present { "bad" } else { "add-bad" };
                cases.push(mutate(&format!("{ty}/{verb}:{prop}:{what}"), &base, |m| {
                    m.insert(prop.to_string(), value);
                }));
            }
        }
        cases.push(mutate(&format!("{ty}/id-wrong-type"), &base, |m| {
            m.insert("id".into(), json!(format!("campaign--{ID}")));
        }));
        cases.push(mutate(&format!("{ty}/id-not-uuid"), &base, |m| {
            m.insert("id".into(), json!(format!("{ty}--not-a-uuid")));
        }));
        cases.push(mutate(&format!("{ty}/spec-2.0"), &base, |m| {
            m.insert("spec_version".into(), json!("2.0"));
        }));
        cases.push(mutate(&format!("{ty}/custom-x-property"), &base, |m| {
            m.insert("x_acme_score".into(), json!(7));
        }));
        cases.push(mutate(&format!("{ty}/property-name-uppercase"), &base, |m| {
            m.insert("x_Acme".into(), json!(7));
        }));
        if base.get("modified").is_some() {
            cases.push(mutate(&format!("{ty}/modified-before-created"), &base, |m| {
                m.insert("modified".into(), json!("2019-01-01T00:00:00.000Z"));
            }));
        }
        cases.push(mutate(&format!("{ty}/marking-ref-wrong-type"), &base, |m| {
            m.insert("object_marking_refs".into(), json!([r("identity")]));
        }));
        cases.push(mutate(&format!("{ty}/created-by-wrong-type"), &base, |m| {
            m.insert("created_by_ref".into(), json!(r("malware")));
        }));
    }
    let indicator = bases().into_iter().find(|b| b["type"] == "indicator").unwrap();
    for (i, p) in BROKEN_PATTERNS.iter().enumerate() {
        cases.push(mutate(&format!("indicator/broken-pattern:{i}"), &indicator, |m| {
            m.insert("pattern".into(), json!(p));
        }));
    }
    for (i, p) in GOOD_PATTERNS.iter().enumerate() {
        cases.push(mutate(&format!("indicator/good-pattern:{i}"), &indicator, |m| {
            m.insert("pattern".into(), json!(p));
        }));
    }
    cases.push(mutate("indicator/valid-until-before-valid-from", &indicator, |m| {
        m.insert("valid_until".into(), json!("2019-01-01T00:00:00Z"));
    }));
    cases
}
