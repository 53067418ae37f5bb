//! Validation on the POST path: objects refused one by one with property-and-rule messages,
//! custom content per collection, STIX patterns checked, observables indexed.

mod common;

use common::*;
use serde_json::json;
use taxii_hub::domain::model::CollectionUpdate;
use taxii_hub::domain::validation::CustomContent;

#[tokio::test]
async fn invalid_objects_are_refused_with_the_property_and_the_rule() {
    let hub = start().await;
    let mut bad_pattern = indicator(1, "2024-01-01T00:00:00.000Z");
    bad_pattern["pattern"] = json!("[ipv4-addr:value = '10.0.0.1'");
    let mut bad_conf = indicator(2, "2024-01-01T00:00:00.000Z");
    bad_conf["confidence"] = json!(101);
    let mut bad_opinion = json!({"type": "opinion", "spec_version": "2.1", "id": "opinion--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "opinion": "maybe",
        "object_refs": ["indicator--00000000-0000-4000-8000-000000000001"]});
    let mut no_valid_from = indicator(3, "2024-01-01T00:00:00.000Z");
    no_valid_from.as_object_mut().unwrap().remove("valid_from");
    let resp = hub
        .post_objects(
            "alpha",
            "shared",
            &[bad_pattern, bad_conf, bad_opinion.take(), no_valid_from, indicator(4, "2024-01-01T00:00:00.000Z")],
        )
        .await;
    let (_, _, status) = json_of(resp).await;
    assert_eq!(status["success_count"], 1, "{status}");
    let messages: Vec<&str> =
        status["failures"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert_eq!(messages[0], "indicator.pattern: expected ']' at offset 29", "{messages:?}");
    assert_eq!(messages[1], "indicator.confidence: must be between 0 and 100");
    assert!(messages[2].starts_with("opinion.opinion: 'maybe' is not one of"), "{messages:?}");
    assert_eq!(messages[3], "indicator.valid_from: required property is missing");
    for f in status["failures"].as_array().unwrap() {
        assert!(f["id"].as_str().unwrap().contains("--") && f["version"].as_str().unwrap().ends_with('Z'), "{f}");
    }
}

#[tokio::test]
async fn custom_content_follows_the_collection_setting() {
    let hub = start().await;
    let mut custom_prop = indicator(1, "2024-01-01T00:00:00.000Z");
    custom_prop["x_acme_score"] = json!(7);
    let custom_type = json!({"type": "x-acme-widget", "spec_version": "2.1", "id": "x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "x_size": 3});
    let mut custom_pattern = indicator(2, "2024-01-01T00:00:00.000Z");
    custom_pattern["pattern"] = json!("[x-acme-widget:x_size = 3]");
    let objects = [custom_prop.clone(), custom_type.clone(), custom_pattern.clone()];
    let status = hub.add("alpha", "shared", &objects).await;
    assert_eq!(status["success_count"], 3);

    hub.storage
        .update_collection(
            &hub.collections["shared"],
            CollectionUpdate { custom_content: Some(CustomContent::Reject), ..Default::default() },
        )
        .await
        .unwrap();
    let mut renewed: Vec<serde_json::Value> = objects.to_vec();
    for o in &mut renewed {
        o["modified"] = json!("2024-02-01T00:00:00.000Z");
    }
    let (_, _, status) = json_of(hub.post_objects("alpha", "shared", &renewed).await).await;
    assert_eq!(status["failure_count"], 3, "{status}");
    let messages: Vec<&str> =
        status["failures"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(messages[0].contains("indicator.x_acme_score") && messages[0].contains("refuses custom"), "{messages:?}");
    assert!(messages[1].contains("x-acme-widget.type") && messages[1].contains("refuses custom"), "{messages:?}");
    assert!(messages[2].contains("indicator.pattern") && messages[2].contains("x-acme-widget"), "{messages:?}");
}

#[tokio::test]
async fn stix_pattern_observables_are_indexed() {
    let hub = start().await;
    if hub.backend() != "sqlite" {
        eprintln!("observable index checked through SQLite only (the PostgreSQL insert path is the same statement)");
        return;
    }
    let mut o = indicator(1, "2024-01-01T00:00:00.000Z");
    o["pattern"] = json!("[ipv4-addr:value = '198.51.100.7' OR file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] AND [domain-name:value IN ('a.example', 'b.example')]");
    let mut sigma = indicator(2, "2024-01-01T00:00:00.000Z");
    sigma["pattern_type"] = json!("sigma");
    sigma["pattern"] = json!("title: not parsed\ndetection: {}");
    hub.add("alpha", "shared", &[o, sigma]).await;
    let db = rusqlite::Connection::open(hub.config.storage.url.trim_start_matches("sqlite://")).unwrap();
    let observables = |table: &str| {
        let mut stmt = db.prepare(&format!("SELECT object_type, property, value FROM {table}")).unwrap();
        let rows: Vec<(String, String, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
        let mut flat: Vec<String> = rows.iter().map(|(t, p, v)| format!("{t}:{p}={v}")).collect();
        flat.sort();
        flat
    };
    let expected = vec![
        "domain-name:value=a.example".to_string(),
        "domain-name:value=b.example".to_string(),
        "file:hashes.'SHA-256'=aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f".to_string(),
        "ipv4-addr:value=198.51.100.7".to_string(),
    ];
    // Right after ingest they may still be waiting for their index; the view shows them either way.
    assert_eq!(observables("indicator_observables_all"), expected);
    // Once the writer has been idle for a moment they are in the indexed table.
    let waited = std::time::Instant::now();
    while observables("indicator_observables") != expected {
        assert!(waited.elapsed() < std::time::Duration::from_secs(10), "observables never reached their index");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(observables("indicator_observables_pending").is_empty());
}
