//! Discovery, API roots, collections, media types, authentication and error shapes, over HTTPS.

mod common;

use common::*;
use reqwest::Method;

#[tokio::test]
async fn discovery_lists_api_roots_as_absolute_urls() {
    let hub = start().await;
    let (code, headers, body) = json_of(hub.get("alpha", &hub.url("/taxii2/")).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(headers["content-type"], TAXII);
    assert_eq!(body["title"], "taxii-hub");
    assert_eq!(body["api_roots"][0], format!("{}/hub/", hub.base));
    assert_eq!(body["default"], format!("{}/hub/", hub.base));
}

#[tokio::test]
async fn api_root_information() {
    let hub = start().await;
    let (code, _, body) = json_of(hub.get("beta", &hub.url("/hub/")).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(body["versions"][0], TAXII);
    assert_eq!(body["max_content_length"], 64 * 1024);
    assert_taxii_error(hub.get("beta", &hub.url("/nope/")).send().await.unwrap(), 404).await;
    assert_taxii_error(hub.get("beta", &hub.url("/nope/collections/")).send().await.unwrap(), 404).await;
}

#[tokio::test]
async fn authentication_is_required_everywhere_and_answers_401_with_basic_challenge() {
    let hub = start().await;
    for path in ["/taxii2/", "/hub/", "/hub/collections/", "/hub/status/x/"] {
        let resp = hub.client.get(hub.url(path)).header("Accept", TAXII).send().await.unwrap();
        assert!(resp.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        assert_taxii_error(resp, 401).await;
    }
    let wrong = hub.client.get(hub.url("/taxii2/")).basic_auth("alpha", Some("wrong")).send().await.unwrap();
    assert_taxii_error(wrong, 401).await;
    let unknown = hub.client.get(hub.url("/taxii2/")).basic_auth("nobody", Some("x")).send().await.unwrap();
    let a = assert_taxii_error(unknown, 401).await;
    let wrong = hub.client.get(hub.url("/taxii2/")).basic_auth("alpha", Some("wrong")).send().await.unwrap();
    let b = assert_taxii_error(wrong, 401).await;
    assert_eq!(a, b, "unknown user and wrong password must be indistinguishable");
    let bearer = hub.client.get(hub.url("/taxii2/")).bearer_auth("abc").send().await.unwrap();
    assert_taxii_error(bearer, 401).await;
}

#[tokio::test]
async fn collections_are_computed_per_caller() {
    let hub = start().await;
    let (_, _, alpha) = json_of(hub.get("alpha", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    let cols = alpha["collections"].as_array().unwrap();
    assert_eq!(cols.len(), 3);
    let dropbox = cols.iter().find(|c| c["alias"] == "dropbox").unwrap();
    assert_eq!((dropbox["can_read"].as_bool(), dropbox["can_write"].as_bool()), (Some(false), Some(true)));
    assert_eq!(dropbox["media_types"][0], "application/stix+json;version=2.1");

    let (_, _, reader) = json_of(hub.get("alpha-reader", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    let shared = reader["collections"].as_array().unwrap().iter().find(|c| c["alias"] == "shared").unwrap().clone();
    assert_eq!((shared["can_read"].as_bool(), shared["can_write"].as_bool()), (Some(true), Some(false)));

    let (_, _, beta) = json_of(hub.get("beta", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    let aliases: Vec<&str> =
        beta["collections"].as_array().unwrap().iter().map(|c| c["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, vec!["shared", "empty"]);

    let (code, _, gamma) = json_of(hub.get("gamma", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    assert_eq!(code, 200);
    assert_eq!(gamma, serde_json::json!({}), "no collections: the list is omitted");
}

#[tokio::test]
async fn collection_by_id_and_alias_and_invisible_equals_absent() {
    let hub = start().await;
    let id = &hub.collections["shared"];
    let (c1, _, by_id) =
        json_of(hub.get("beta", &hub.url(&format!("/hub/collections/{id}/"))).send().await.unwrap()).await;
    let (c2, _, by_alias) = json_of(hub.get("beta", &hub.url("/hub/collections/shared/")).send().await.unwrap()).await;
    assert_eq!((c1, c2), (200, 200));
    assert_eq!(by_id, by_alias);
    assert_eq!(by_id["id"], id.as_str());

    // gamma is in no trust group: the collection must look exactly like one that does not exist.
    let hidden = hub.get("gamma", &hub.url(&format!("/hub/collections/{id}/"))).send().await.unwrap();
    let hidden = assert_taxii_error(hidden, 404).await;
    let absent_id = "11111111-2222-4333-8444-555555555555";
    let absent = hub.get("gamma", &hub.url(&format!("/hub/collections/{absent_id}/"))).send().await.unwrap();
    let absent = assert_taxii_error(absent, 404).await;
    assert_eq!(
        hidden["description"].as_str().unwrap().replace(id.as_str(), "X"),
        absent["description"].as_str().unwrap().replace(absent_id, "X")
    );
    for rest in ["objects/", "manifest/", "objects/indicator--00000000-0000-4000-8000-000000000001/"] {
        let r = hub.get("gamma", &hub.collection_url("shared", rest)).send().await.unwrap();
        assert_taxii_error(r, 404).await;
    }
}

#[tokio::test]
async fn accept_header_negotiation() {
    let hub = start().await;
    let url = hub.url("/hub/collections/");
    for accept in [
        "application/taxii+json;version=2.1",
        "application/taxii+json",
        "application/taxii+json; version=2.1",
        "text/html, application/taxii+json;q=0.9",
        "*/*",
    ] {
        let r = hub
            .client
            .get(&url)
            .basic_auth("alpha", Some(&hub.passwords["alpha"]))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "Accept: {accept}");
        assert_eq!(r.headers()["content-type"], TAXII);
    }
    for accept in ["text/html", "application/json", "application/taxii+json;version=2.0", "application/taxii+json;q=0"]
    {
        let r = hub
            .client
            .get(&url)
            .basic_auth("alpha", Some(&hub.passwords["alpha"]))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert_taxii_error(r, 406).await;
    }
    // Two Accept headers count as one list: one acceptable entry is enough.
    let r = hub.get("alpha", &url).header("Accept", "text/html").send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn post_needs_taxii_content_type() {
    let hub = start().await;
    for ct in ["application/json", "text/plain", "application/taxii+json;version=2.0"] {
        let r = hub
            .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
            .header("Content-Type", ct)
            .body(r#"{"objects":[]}"#)
            .send()
            .await
            .unwrap();
        assert_taxii_error(r, 415).await;
    }
    let bare = hub
        .as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
        .header("Content-Type", "application/taxii+json")
        .body(serde_json::json!({"objects": [indicator(1, "2020-01-01T00:00:00.000Z")]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 202);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_taxii_errors() {
    let hub = start().await;
    assert_taxii_error(hub.get("alpha", &hub.url("/no/such/thing/here/at/all/")).send().await.unwrap(), 404).await;
    let r = hub.as_user(Method::PUT, "alpha", &hub.collection_url("shared", "objects/")).send().await.unwrap();
    assert_eq!(r.headers()["allow"], "GET, HEAD, POST");
    assert_taxii_error(r, 405).await;
    let r = hub.as_user(Method::POST, "alpha", &hub.url("/taxii2/")).send().await.unwrap();
    assert_taxii_error(r, 405).await;
    let r = hub.as_user(Method::DELETE, "alpha", &hub.collection_url("shared", "manifest/")).send().await.unwrap();
    assert_taxii_error(r, 405).await;
}

#[tokio::test]
async fn trailing_slash_is_optional() {
    let hub = start().await;
    for path in ["/taxii2", "/hub", "/hub/collections", "/hub/collections/shared"] {
        let r = hub.get("alpha", &hub.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = hub.get("alpha", &hub.collection_url("shared", "objects")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn health_and_readiness() {
    let hub = start().await;
    assert_eq!(hub.client.get(hub.url("/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(hub.client.get(hub.url("/readyz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn write_only_and_read_only_access() {
    let hub = start().await;
    // alpha may write to dropbox but not read it.
    hub.add("alpha", "dropbox", &[indicator(1, "2020-01-01T00:00:00.000Z")]).await;
    for rest in ["objects/", "manifest/", "objects/indicator--00000000-0000-4000-8000-000000000001/"] {
        assert_taxii_error(hub.get("alpha", &hub.collection_url("dropbox", rest)).send().await.unwrap(), 403).await;
    }
    // beta reads shared but may not write; alpha-reader likewise by role.
    for user in ["beta", "alpha-reader"] {
        let r = hub.post_objects(user, "shared", &[indicator(2, "2020-01-01T00:00:00.000Z")]).await;
        assert_taxii_error(r, 403).await;
        let del = hub
            .as_user(
                Method::DELETE,
                user,
                &hub.collection_url("shared", "objects/indicator--00000000-0000-4000-8000-000000000001/"),
            )
            .send()
            .await
            .unwrap();
        assert_taxii_error(del, 403).await;
    }
}

#[tokio::test]
async fn intelligence_answers_are_not_cached() {
    let hub = start().await;
    let status = hub.add("alpha", "shared", &[indicator(1, "2024-01-01T00:00:00.000Z")]).await;
    let id = indicator(1, "x")["id"].as_str().unwrap().to_string();
    for url in [
        hub.collection_url("shared", "objects/"),
        hub.collection_url("shared", &format!("objects/{id}/")),
        hub.collection_url("shared", &format!("objects/{id}/versions/")),
        hub.collection_url("shared", "manifest/"),
        hub.url(&format!("/hub/status/{}/", status["id"].as_str().unwrap())),
    ] {
        let resp = hub.get("alpha", &url).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        assert_eq!(resp.headers()["cache-control"], "no-store", "{url}");
    }
}

#[tokio::test]
async fn head_is_answered_wherever_get_is() {
    let hub = start().await;
    hub.add("alpha", "shared", &[indicator(1, "2024-01-01T00:00:00.000Z")]).await;
    for url in [hub.url("/taxii2/"), hub.url("/hub/collections/"), hub.collection_url("shared", "objects/")] {
        let get = hub.get("alpha", &url).send().await.unwrap();
        let head = hub.as_user(Method::HEAD, "alpha", &url).send().await.unwrap();
        assert_eq!(head.status(), get.status(), "{url}");
        assert_eq!(head.headers()["content-type"], TAXII, "{url}");
        assert_eq!(head.bytes().await.unwrap().len(), 0, "{url}: HEAD has no body");
    }
}
