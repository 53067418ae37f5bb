//! The admin API: access control, the life cycle of organisations, trust groups, collections and
//! accounts, and the audit log answering "who received object X, and when".

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use taxii_hub::domain::model::{OrganisationKind, Role};

async fn hub_with_admin() -> TestHub {
    let mut hub = start().await;
    let (op, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    hub.add_key_account("root", op, Role::Admin, false).await;
    hub
}

async fn call(hub: &TestHub, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = hub.as_user(method, "root", &hub.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let code = r.status().as_u16();
    let text = r.text().await.unwrap();
    (code, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

#[tokio::test]
async fn only_admins_reach_the_admin_api() {
    let hub = hub_with_admin().await;
    assert_taxii_error(hub.get("alpha", &hub.url("/admin/organisations/")).send().await.unwrap(), 403).await;
    assert_taxii_error(hub.client.get(hub.url("/admin/organisations/")).send().await.unwrap(), 401).await;
    let (code, body) = call(&hub, Method::GET, "/admin/organisations/", None).await;
    assert_eq!(code, 200);
    assert!(body["organisations"].as_array().unwrap().len() >= 5);
    // An admin whose organisation is in no trust group reads no intelligence.
    let (_, cols) = json_of_root(&hub).await;
    assert_eq!(cols, json!({}));
}

async fn json_of_root(hub: &TestHub) -> (u16, Value) {
    let (c, _, b) = json_of(hub.get("root", &hub.url("/hub/collections/")).send().await.unwrap()).await;
    (c, b)
}

#[tokio::test]
async fn organisations_groups_collections_and_accounts_life_cycle() {
    let hub = hub_with_admin().await;
    let (code, org) = call(
        &hub,
        Method::POST,
        "/admin/organisations/",
        Some(json!({"name": "Banco Novo", "kind": "partner", "sector": "financial-services"})),
    )
    .await;
    assert_eq!(code, 201, "{org}");
    let org_id = org["id"].as_i64().unwrap();
    assert!(org["identity_id"].as_str().unwrap().starts_with("identity--"));
    let (code, _) = call(&hub, Method::POST, "/admin/organisations/", Some(json!({"name": "Banco Novo"}))).await;
    assert_eq!(code, 409, "names are unique");
    let (code, _) =
        call(&hub, Method::POST, "/admin/organisations/", Some(json!({"name": "X", "kind": "pirate"}))).await;
    assert_eq!(code, 400);

    let (code, group) = call(
        &hub,
        Method::POST,
        "/admin/trust-groups/",
        Some(json!({"name": "Banks", "members": [{"organisation_id": org_id, "access": "read-write"}]})),
    )
    .await;
    assert_eq!(code, 201, "{group}");
    let group_id = group["id"].as_i64().unwrap();
    assert_eq!(group["members"][0]["access"], "read-write");
    let (code, coll) = call(&hub, Method::POST, "/admin/collections/", Some(json!({"api_root": "hub", "title": "Bank IOCs", "alias": "banks", "trust_group_id": group_id, "default_tlp": "green"}))).await;
    assert_eq!(code, 201, "{coll}");
    assert_eq!(coll["default_tlp"], "green");
    let coll_id = coll["id"].as_str().unwrap().to_string();
    let (code, _) = call(
        &hub,
        Method::POST,
        "/admin/collections/",
        Some(json!({"api_root": "nope", "title": "x", "trust_group_id": group_id})),
    )
    .await;
    assert_eq!(code, 400);

    let (code, created) = call(
        &hub,
        Method::POST,
        "/admin/accounts/",
        Some(json!({"username": "novo-soc", "organisation_id": org_id, "role": "member"})),
    )
    .await;
    assert_eq!(code, 201);
    let key = created["api_key"].as_str().unwrap().to_string();
    let account_id = created["account"]["id"].as_i64().unwrap();
    let client = |path: &str| hub.client.get(hub.url(path)).basic_auth("novo-soc", Some(&key)).header("Accept", TAXII);
    let (_, _, cols) = json_of(client("/hub/collections/").send().await.unwrap()).await;
    assert_eq!(cols["collections"][0]["id"], coll_id.as_str());
    assert_eq!(cols["collections"][0]["can_write"], true);

    // Membership removed: access gone at once.
    let (code, _) =
        call(&hub, Method::DELETE, &format!("/admin/trust-groups/{group_id}/members/{org_id}/"), None).await;
    assert_eq!(code, 204);
    let (_, _, cols) = json_of(client("/hub/collections/").send().await.unwrap()).await;
    assert_eq!(cols, json!({}));
    assert_taxii_error(client(&format!("/hub/collections/{coll_id}/objects/")).send().await.unwrap(), 404).await;
    let (code, _) = call(
        &hub,
        Method::PUT,
        &format!("/admin/trust-groups/{group_id}/members/{org_id}/"),
        Some(json!({"access": "read"})),
    )
    .await;
    assert_eq!(code, 204);
    let (_, _, cols) = json_of(client("/hub/collections/").send().await.unwrap()).await;
    assert_eq!(cols["collections"][0]["can_write"], false);

    // Dependencies are refused, not cascaded.
    let (code, _) = call(&hub, Method::DELETE, &format!("/admin/organisations/{org_id}/"), None).await;
    assert_eq!(code, 409);
    let (code, _) = call(&hub, Method::DELETE, &format!("/admin/trust-groups/{group_id}/"), None).await;
    assert_eq!(code, 409);
    let (code, patched) = call(
        &hub,
        Method::PATCH,
        &format!("/admin/collections/{coll_id}/"),
        Some(json!({"title": "Bank indicators", "default_tlp": "amber+strict"})),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(patched["default_tlp"], "amber+strict");
    let (code, _) = call(&hub, Method::DELETE, &format!("/admin/collections/{coll_id}/"), None).await;
    assert_eq!(code, 204);
    let (code, _) = call(&hub, Method::DELETE, &format!("/admin/accounts/{account_id}/"), None).await;
    assert_eq!(code, 204);
    let (code, _) = call(&hub, Method::DELETE, &format!("/admin/organisations/{org_id}/"), None).await;
    assert_eq!(code, 204);
    let (code, _) = call(&hub, Method::GET, &format!("/admin/organisations/{org_id}/"), None).await;
    assert_eq!(code, 404);
    let (code, _) = call(&hub, Method::PATCH, "/admin/accounts/999999/", Some(json!({"disabled": true}))).await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn the_audit_log_answers_who_received_an_object_and_records_admin_changes() {
    let hub = hub_with_admin().await;
    let x = indicator(42, "2024-01-01T00:00:00.000Z");
    let x_id = x["id"].as_str().unwrap().to_string();
    hub.add("alpha", "shared", &[x, indicator(43, "2024-01-01T00:00:00.000Z")]).await;
    // beta pulls the collection; cert reads X by id; gamma (no access) tries.
    assert_eq!(hub.get("beta", &hub.collection_url("shared", "objects/")).send().await.unwrap().status(), 200);
    assert_eq!(
        hub.get("cert", &hub.collection_url("shared", &format!("objects/{x_id}/"))).send().await.unwrap().status(),
        200
    );
    assert_eq!(hub.get("gamma", &hub.collection_url("shared", "objects/")).send().await.unwrap().status(), 404);
    // A pull that returned only other objects does not count.
    let only_43 = format!(
        "{}?match[id]={}",
        hub.collection_url("shared", "objects/"),
        indicator(43, "x")["id"].as_str().unwrap()
    );
    assert_eq!(hub.get("cert", &only_43).send().await.unwrap().status(), 200);
    let (code, _) = call(
        &hub,
        Method::PATCH,
        &format!("/admin/organisations/{}/", hub.storage.organisation_by_name("gamma").await.unwrap().unwrap()),
        Some(json!({"sector": "health"})),
    )
    .await;
    assert_eq!(code, 200);

    // The audit writer batches; wait until the records are in.
    let mut entries = Value::Null;
    for _ in 0..50 {
        let (code, body) = call(&hub, Method::GET, &format!("/admin/audit/?object_id={x_id}"), None).await;
        assert_eq!(code, 200);
        entries = body["entries"].clone();
        if entries.as_array().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let who: Vec<(&str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["username"].as_str().unwrap(), e["method"].as_str().unwrap()))
        .collect();
    assert!(who.contains(&("alpha", "POST")), "{who:?}");
    assert!(who.contains(&("beta", "GET")), "{who:?}");
    assert!(who.contains(&("cert", "GET")), "{who:?}");
    assert!(!who.iter().any(|(u, _)| *u == "gamma"), "{who:?}");
    assert_eq!(
        who.iter().filter(|(u, _)| *u == "cert").count(),
        1,
        "the match[id] pull of another object is not a delivery of X: {who:?}"
    );
    let beta = entries.as_array().unwrap().iter().find(|e| e["username"] == "beta").unwrap();
    assert_eq!(beta["object_count"], 2);
    assert!(beta["date_added_first"].is_string());

    // The audit writer batches: poll until the admin change is in (the audit GETs are audited too).
    let mut details: Vec<String> = Vec::new();
    for _ in 0..50 {
        let (_, body) = call(&hub, Method::GET, "/admin/audit/?limit=1000", None).await;
        details =
            body["entries"].as_array().unwrap().iter().filter_map(|e| e["detail"].as_str().map(String::from)).collect();
        if details.iter().any(|d| d.contains("updated organisation")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(details.iter().any(|d| d.contains("updated organisation") && d.contains("health")), "{details:?}");
    let (code, _) = call(&hub, Method::GET, "/admin/audit/?since=yesterday", None).await;
    assert_eq!(code, 400);
}

#[tokio::test]
async fn the_audit_does_not_count_deliveries_the_requester_could_not_see_or_filtered_out() {
    let hub = hub_with_admin().await;
    let alpha_org = hub.storage.organisation_by_name("alpha").await.unwrap().unwrap();
    let alpha_identity = hub.storage.organisation(alpha_org).await.unwrap().unwrap().identity_id;
    let mut red = indicator(7, "2024-01-01T00:00:00.000Z");
    red["object_marking_refs"] = json!(["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]);
    red["x_taxii_hub_recipients"] = json!([alpha_identity]);
    let red_id = red["id"].as_str().unwrap().to_string();
    hub.add("alpha", "shared", &[indicator(6, "2024-01-01T00:00:00.000Z"), red, malware(8)]).await;
    assert_eq!(hub.get("beta", &hub.collection_url("shared", "objects/")).send().await.unwrap().status(), 200);
    let typed = format!("{}?match[type]=malware", hub.collection_url("shared", "objects/"));
    assert_eq!(hub.get("cert", &typed).send().await.unwrap().status(), 200);
    let six = indicator(6, "x")["id"].as_str().unwrap().to_string();
    // Wait until cert's request is in the log, so its absence below means something.
    for _ in 0..50 {
        let (_, body) = call(&hub, Method::GET, "/admin/audit/?limit=1000", None).await;
        if body["entries"].as_array().unwrap().iter().any(|e| e["username"] == "cert") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, body) = call(&hub, Method::GET, &format!("/admin/audit/?object_id={six}"), None).await;
    let seen = body["entries"].clone();
    let who: Vec<&str> = seen.as_array().unwrap().iter().map(|e| e["username"].as_str().unwrap()).collect();
    assert!(who.contains(&"beta") && who.contains(&"alpha"), "{who:?}");
    assert!(!who.contains(&"cert"), "cert's match[type]=malware pull did not deliver an indicator: {who:?}");
    let (_, body) = call(&hub, Method::GET, &format!("/admin/audit/?object_id={red_id}"), None).await;
    let who: Vec<&str> = body["entries"].as_array().unwrap().iter().map(|e| e["username"].as_str().unwrap()).collect();
    assert_eq!(who, vec!["alpha"], "beta's pull covered the RED object's date_added but beta could not see it");
}
