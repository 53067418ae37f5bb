//! Adding, reading, filtering, versioning and deleting objects; status resources.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const T1: &str = "2021-01-01T00:00:00.000Z";
const T2: &str = "2021-06-01T00:00:00.000Z";
const T3: &str = "2022-01-01T00:00:00.123456Z";

#[tokio::test]
async fn post_returns_a_status_and_objects_come_back_byte_for_byte() {
    let hub = start().await;
    let raw = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2021-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z",  "pattern":"[domain-name:value = 'évil.example']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z","x_extra":{"k":[1,2.50,true]}}"#;
    let resp = hub
        .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
        .header("Content-Type", TAXII)
        .body(format!("{{\"objects\":[{raw}]}}"))
        .send()
        .await
        .unwrap();
    let (code, headers, status) = json_of(resp).await;
    assert_eq!(code, 202);
    assert_eq!(headers["content-type"], TAXII);
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 1);
    assert_eq!(status["success_count"], 1);
    assert_eq!(status["pending_count"], 0);
    assert_eq!(status["successes"][0]["version"], T1);

    let text = hub.get("beta", &hub.collection_url("shared", "objects/")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(raw), "stored bytes must be served as received: {text}");

    // The status resource is the creator's alone.
    let status_url = hub.url(&format!("/hub/status/{}/", status["id"].as_str().unwrap()));
    let (code, _, again) = json_of(hub.get("alpha", &status_url).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(again, status);
    assert_taxii_error(hub.get("alpha-reader", &status_url).send().await.unwrap(), 404).await;
    assert_taxii_error(hub.get("beta", &status_url).send().await.unwrap(), 404).await;
    assert_taxii_error(
        hub.get("alpha", &hub.url("/hub/status/00000000-0000-4000-8000-000000000000/")).send().await.unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn duplicates_are_success_and_stored_once() {
    let hub = start().await;
    hub.add("alpha", "shared", &[indicator(1, T1)]).await;
    let status = hub.add("alpha", "shared", &[indicator(1, T1), indicator(1, T1)]).await;
    assert_eq!(status["success_count"], 2);
    assert_eq!(status["successes"][0]["message"], "already present");
    let (_, _, versions) = json_of(
        hub.get(
            "alpha",
            &hub.collection_url("shared", &format!("objects/{}/versions/", indicator(1, T1)["id"].as_str().unwrap())),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(versions["versions"], json!([T1]));

    // Unversioned objects (SCOs) are duplicates when the id repeats.
    let sco = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "198.51.100.3"});
    hub.add("alpha", "shared", std::slice::from_ref(&sco)).await;
    let again = hub.add("alpha", "shared", &[sco]).await;
    assert_eq!(again["successes"][0]["message"], "already present");
    let (_, _, m) = json_of(
        hub.get("alpha", &format!("{}?match[type]=ipv4-addr", hub.collection_url("shared", "manifest/")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(m["objects"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_objects_fail_one_by_one() {
    let hub = start().await;
    let mut broken_id = indicator(2, T1);
    broken_id["id"] = json!("malware--00000000-0000-4000-8000-000000000002");
    let mut stix20 = indicator(3, T1);
    stix20.as_object_mut().unwrap().remove("spec_version");
    let mut bad_time = indicator(4, T1);
    bad_time["modified"] = json!("yesterday");
    let mut backwards = indicator(5, "2019-01-01T00:00:00.000Z");
    backwards["created"] = json!(T1);
    let resp = hub.post_objects("alpha", "shared", &[indicator(1, T1), broken_id, stix20, bad_time, backwards]).await;
    let (code, _, status) = json_of(resp).await;
    assert_eq!(code, 202);
    assert_eq!(status["success_count"], 1);
    assert_eq!(status["failure_count"], 4);
    let messages: Vec<&str> =
        status["failures"].as_array().unwrap().iter().map(|f| f["message"].as_str().unwrap()).collect();
    assert!(messages[0].contains("indicator.id"), "{messages:?}");
    assert!(messages[1].contains("spec_version"), "{messages:?}");
    assert!(messages[2].contains("indicator.modified"), "{messages:?}");
    assert!(messages[3].contains("earlier than created"), "{messages:?}");
    let (_, _, env) = json_of(hub.get("alpha", &hub.collection_url("shared", "objects/")).send().await.unwrap()).await;
    assert_eq!(ids_of(&env).len(), 1);
}

#[tokio::test]
async fn malformed_bodies() {
    let hub = start().await;
    let post = |body: &'static str| {
        hub.as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
            .header("Content-Type", TAXII)
            .body(body)
            .send()
    };
    assert_taxii_error(post("{not json").await.unwrap(), 400).await;
    assert_taxii_error(post("[1,2,3]").await.unwrap(), 422).await;
    assert_taxii_error(post(r#"{"objects": {}}"#).await.unwrap(), 422).await;
    assert_taxii_error(post(r#"{"more": true}"#).await.unwrap(), 422).await;
    // An entry that is not an object refuses the whole envelope, with one error.
    let body = assert_taxii_error(post(r#"{"objects": [{"type": "x"}, "x"]}"#).await.unwrap(), 422).await;
    assert!(body["description"].as_str().unwrap().contains("objects[1]"), "{body}");
    let (_, _, env) = json_of(hub.get("alpha", &hub.collection_url("shared", "objects/")).send().await.unwrap()).await;
    assert_eq!(env, json!({"more": false}), "nothing may be written by a refused request");
}

#[tokio::test]
async fn oversized_bodies_get_413_with_and_without_content_length() {
    let hub = start().await;
    let big: Vec<Value> = (0..400).map(|n| indicator(n, T1)).collect();
    let body = json!({ "objects": big }).to_string();
    assert!(body.len() > 64 * 1024);
    let r = hub
        .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
        .header("Content-Type", TAXII)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, 413).await;
    // Chunked, no Content-Length: the limit is enforced while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.into_bytes().chunks(4096).map(|c| Ok(c.to_vec())).collect();
    let stream = futures_util::stream::iter(chunks);
    let r = hub
        .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
        .header("Content-Type", TAXII)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, 413).await;
    let (_, _, env) = json_of(hub.get("alpha", &hub.collection_url("shared", "objects/")).send().await.unwrap()).await;
    assert_eq!(env, json!({"more": false}));
}

async fn setup_versions(hub: &TestHub) {
    hub.add("alpha", "shared", &[indicator(1, T1), indicator(1, T2), indicator(1, T3), indicator(2, T1), malware(3)])
        .await;
}

fn versions_of(env: &Value) -> Vec<(String, String)> {
    env["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["id"].as_str().unwrap().into(), o["modified"].as_str().unwrap().into()))
        .collect()
}

#[tokio::test]
async fn match_version_variants() {
    let hub = start().await;
    setup_versions(&hub).await;
    let i1 = indicator(1, T1)["id"].as_str().unwrap().to_string();
    let get = |q: String| {
        let url = format!("{}?{q}", hub.collection_url("shared", "objects/"));
        let req = hub.get("beta", &url);
        async move { json_of(req.send().await.unwrap()).await.2 }
    };
    let last = get("match[type]=indicator".into()).await;
    assert_eq!(
        versions_of(&last),
        vec![(i1.clone(), T3.into()), (indicator(2, T1)["id"].as_str().unwrap().into(), T1.into())]
    );
    let first = get(format!("match[id]={i1}&match[version]=first")).await;
    assert_eq!(versions_of(&first), vec![(i1.clone(), T1.into())]);
    let all = get(format!("match[id]={i1}&match[version]=all")).await;
    assert_eq!(all["objects"].as_array().unwrap().len(), 3);
    let exact = get(format!("match[id]={i1}&match[version]={T2}")).await;
    assert_eq!(versions_of(&exact), vec![(i1.clone(), T2.into())]);
    let combo = get(format!("match[id]={i1}&match[version]=first,last")).await;
    assert_eq!(versions_of(&combo), vec![(i1.clone(), T1.into()), (i1.clone(), T3.into())]);
    let combo2 = get(format!("match[id]={i1}&match[version]={T1},{T2}")).await;
    assert_eq!(combo2["objects"].as_array().unwrap().len(), 2);
    let none = get(format!("match[id]={i1}&match[version]=2030-01-01T00:00:00Z")).await;
    assert_eq!(none, json!({"more": false}));
    let sv = get("match[spec_version]=2.1&match[type]=malware".into()).await;
    assert_eq!(sv["objects"].as_array().unwrap().len(), 1);
    let sv20 = get("match[spec_version]=2.0".into()).await;
    assert_eq!(sv20, json!({"more": false}));
    let types = get("match[type]=malware,indicator&match[version]=all".into()).await;
    assert_eq!(types["objects"].as_array().unwrap().len(), 5);
}

/// The latest version is the latest whatever order the versions arrive in: later envelopes with
/// older versions, several versions out of order in one envelope, deletes of the latest.
#[tokio::test]
async fn the_latest_version_does_not_depend_on_the_order_of_arrival() {
    let hub = start().await;
    hub.add("alpha", "shared", &[indicator(5, T2)]).await;
    hub.add("alpha", "shared", &[indicator(5, T3), indicator(5, T1)]).await;
    hub.add("alpha", "shared", &[indicator(6, T3), indicator(6, T1)]).await;
    hub.add("alpha", "shared", &[indicator(6, T2)]).await;
    let id = |n| indicator(n, T1)["id"].as_str().unwrap().to_string();
    let list = hub.collection_url("shared", "objects/?match[type]=indicator");
    let (_, _, env) = json_of(hub.get("beta", &list).send().await.unwrap()).await;
    assert_eq!(versions_of(&env), vec![(id(5), T3.into()), (id(6), T3.into())]);
    let (_, _, manifest) = json_of(
        hub.get("beta", &hub.collection_url("shared", "manifest/?match[type]=indicator")).send().await.unwrap(),
    )
    .await;
    let versions: Vec<&str> =
        manifest["objects"].as_array().unwrap().iter().map(|m| m["version"].as_str().unwrap()).collect();
    assert_eq!(versions, vec![T3, T3]);
    let url = hub.collection_url("shared", &format!("objects/{}/", id(6)));
    let r = hub.as_user(Method::DELETE, "alpha", &format!("{url}?match[version]={T3}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, _, env) = json_of(hub.get("beta", &list).send().await.unwrap()).await;
    assert_eq!(versions_of(&env), vec![(id(5), T3.into()), (id(6), T2.into())], "T2 arrived last");
    hub.add("alpha", "shared", &[indicator(6, T3)]).await;
    let (_, _, env) = json_of(hub.get("beta", &list).send().await.unwrap()).await;
    assert_eq!(versions_of(&env), vec![(id(5), T3.into()), (id(6), T3.into())], "T3 again, after its delete");
}

#[tokio::test]
async fn malformed_filters_are_400() {
    let hub = start().await;
    for q in [
        "limit=0",
        "limit=abc",
        "limit=-5",
        "added_after=notatime",
        "match[version]=newest",
        "match[id]=foo",
        "match[spec_version]=x",
        "match[version]=all,first",
        "next=garbage",
        "added_after=2020-13-01T00:00:00Z",
    ] {
        let r = hub.get("alpha", &format!("{}?{q}", hub.collection_url("shared", "objects/"))).send().await.unwrap();
        assert_taxii_error(r, 400).await;
    }
    let r = hub
        .get(
            "alpha",
            &format!(
                "{}?match[type]=indicator",
                hub.collection_url("shared", "objects/indicator--00000000-0000-4000-8000-000000000001/versions/")
            ),
        )
        .send()
        .await
        .unwrap();
    assert_taxii_error(r, 400).await;
}

#[tokio::test]
async fn object_endpoint_versions_manifest_and_headers() {
    let hub = start().await;
    setup_versions(&hub).await;
    let i1 = indicator(1, T1)["id"].as_str().unwrap().to_string();
    let (code, h, env) =
        json_of(hub.get("beta", &hub.collection_url("shared", &format!("objects/{i1}/"))).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(versions_of(&env), vec![(i1.clone(), T3.into())]);
    assert!(h.contains_key("x-taxii-date-added-first") && h.contains_key("x-taxii-date-added-last"));

    let (_, h, env) = json_of(
        hub.get("beta", &format!("{}?match[version]=all", hub.collection_url("shared", &format!("objects/{i1}/"))))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(env["objects"].as_array().unwrap().len(), 3);
    let (first, last) =
        (h["x-taxii-date-added-first"].to_str().unwrap(), h["x-taxii-date-added-last"].to_str().unwrap());
    assert!(first < last, "{first} {last}");
    assert_eq!(first.len(), "2021-01-01T00:00:00.000000Z".len());

    let (code, h, versions) = json_of(
        hub.get("beta", &hub.collection_url("shared", &format!("objects/{i1}/versions/"))).send().await.unwrap(),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(versions, json!({"more": false, "versions": [T1, T2, T3]}));
    assert!(h.contains_key("x-taxii-date-added-last"));

    let (code, h, manifest) =
        json_of(hub.get("beta", &hub.collection_url("shared", "manifest/")).send().await.unwrap()).await;
    assert_eq!(code, 200);
    let records = manifest["objects"].as_array().unwrap();
    assert_eq!(records.len(), 3);
    let rec = records.iter().find(|r| r["id"] == i1.as_str()).unwrap();
    assert_eq!(rec["version"], T3);
    assert_eq!(rec["media_type"], "application/stix+json;version=2.1");
    assert!(rec["date_added"].as_str().unwrap().ends_with('Z'));
    assert_eq!(h["x-taxii-date-added-last"].to_str().unwrap(), records.last().unwrap()["date_added"].as_str().unwrap());

    let absent = "indicator--99999999-0000-4000-8000-000000000000";
    assert_taxii_error(
        hub.get("beta", &hub.collection_url("shared", &format!("objects/{absent}/"))).send().await.unwrap(),
        404,
    )
    .await;
    assert_taxii_error(
        hub.get("beta", &hub.collection_url("shared", &format!("objects/{absent}/versions/"))).send().await.unwrap(),
        404,
    )
    .await;
    // An existing object whose versions are all filtered out is an empty 200, not a 404.
    let (code, h, env) = json_of(
        hub.get(
            "beta",
            &format!("{}?match[version]=2030-01-01T00:00:00Z", hub.collection_url("shared", &format!("objects/{i1}/"))),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!((code, env), (200, json!({"more": false})));
    assert!(!h.contains_key("x-taxii-date-added-first"));
}

#[tokio::test]
async fn added_after_selects_later_additions() {
    let hub = start().await;
    hub.add("alpha", "shared", &[indicator(1, T1)]).await;
    let (_, h, _) = json_of(hub.get("alpha", &hub.collection_url("shared", "objects/")).send().await.unwrap()).await;
    let mark = h["x-taxii-date-added-last"].to_str().unwrap().to_string();
    hub.add("alpha", "shared", &[indicator(2, T1), indicator(1, T2)]).await;
    let (_, _, env) = json_of(
        hub.get("alpha", &format!("{}?added_after={mark}", hub.collection_url("shared", "objects/")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        versions_of(&env),
        vec![
            (indicator(2, T1)["id"].as_str().unwrap().into(), T1.into()),
            (indicator(1, T1)["id"].as_str().unwrap().into(), T2.into())
        ]
    );
    let (_, _, env) = json_of(
        hub.get(
            "alpha",
            &format!("{}?added_after=2000-01-01T00:00:00%2B01:00", hub.collection_url("shared", "objects/")),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(env["objects"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delete_versions_and_objects() {
    let hub = start().await;
    setup_versions(&hub).await;
    let i1 = indicator(1, T1)["id"].as_str().unwrap().to_string();
    let url = hub.collection_url("shared", &format!("objects/{i1}/"));
    let r = hub.as_user(Method::DELETE, "alpha", &format!("{url}?match[version]={T3}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], TAXII);
    let (_, _, env) = json_of(hub.get("beta", &url).send().await.unwrap()).await;
    assert_eq!(versions_of(&env), vec![(i1.clone(), T2.into())], "the previous version becomes the latest");
    let r = hub.as_user(Method::DELETE, "alpha", &url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_taxii_error(hub.get("beta", &url).send().await.unwrap(), 404).await;
    assert_taxii_error(hub.as_user(Method::DELETE, "alpha", &url).send().await.unwrap(), 404).await;
    let (_, _, env) = json_of(hub.get("beta", &hub.collection_url("shared", "objects/")).send().await.unwrap()).await;
    assert_eq!(ids_of(&env).len(), 2);
}

#[tokio::test]
async fn date_added_strictly_increases_under_concurrent_posts() {
    let hub = start().await;
    let mut tasks = Vec::new();
    for w in 0..8u64 {
        let objects: Vec<Value> = (0..25).map(|n| indicator(w * 1000 + n, T1)).collect();
        let req = hub
            .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
            .header("Content-Type", TAXII)
            .body(json!({ "objects": objects }).to_string());
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 202);
    }
    let (_, _, m) = json_of(
        hub.get("alpha", &format!("{}?limit=100", hub.collection_url("shared", "manifest/"))).send().await.unwrap(),
    )
    .await;
    let mut all: Vec<String> =
        m["objects"].as_array().unwrap().iter().map(|r| r["date_added"].as_str().unwrap().to_string()).collect();
    let (_, _, m2) = json_of(
        hub.get(
            "alpha",
            &format!("{}?limit=100&next={}", hub.collection_url("shared", "manifest/"), m["next"].as_str().unwrap()),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    all.extend(m2["objects"].as_array().unwrap().iter().map(|r| r["date_added"].as_str().unwrap().to_string()));
    assert_eq!(all.len(), 200);
    assert!(all.windows(2).all(|w| w[0] < w[1]), "date_added must strictly increase");
}
