//! Authentication: API keys, Bearer tokens (JWT), client certificates, and accounts that are
//! disabled or deleted stopping at once for every method.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use taxii_hub::domain::model::{AccountUpdate, OrganisationKind, Role};
use taxii_hub::http::jwt::JwtKeys;

async fn admin_hub() -> TestHub {
    let mut hub = start_with(|c| {
        c.auth.token_ttl_seconds = 60;
    })
    .await;
    let (op, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    hub.add_key_account("root", op, Role::Admin, false).await;
    hub
}

async fn create_account(hub: &TestHub, username: &str, org: i64) -> (i64, String) {
    let r = hub
        .as_user(Method::POST, "root", &hub.url("/admin/accounts/"))
        .json(&json!({ "username": username, "organisation_id": org, "role": "member" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    (body["account"]["id"].as_i64().unwrap(), body["api_key"].as_str().unwrap().to_string())
}

async fn alpha_org(hub: &TestHub) -> i64 {
    hub.storage.organisation_by_name("alpha").await.unwrap().unwrap()
}

#[tokio::test]
async fn api_keys_work_as_basic_passwords_and_can_be_revoked_or_expire() {
    let hub = admin_hub().await;
    let org = alpha_org(&hub).await;
    let (id, key) = create_account(&hub, "scripted", org).await;
    assert!(key.starts_with("thk_"));
    let url = hub.url("/hub/collections/");
    let with =
        |user: &str, secret: &str| hub.client.get(&url).basic_auth(user, Some(secret)).header("Accept", TAXII).send();
    assert_eq!(with("scripted", &key).await.unwrap().status(), 200);
    assert_eq!(with("", &key).await.unwrap().status(), 200, "the key alone identifies the account");
    assert_taxii_error(with("alpha", &key).await.unwrap(), 401).await;
    let mut wrong = key.clone();
    wrong.replace_range(wrong.len() - 4.., "AAAA");
    assert_taxii_error(with("scripted", &wrong).await.unwrap(), 401).await;

    // Rotation: a new key, the old one revoked.
    let r = hub
        .as_user(Method::POST, "root", &hub.url(&format!("/admin/accounts/{id}/keys/")))
        .json(&json!({"revoke_others": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let new_key = r.json::<Value>().await.unwrap()["api_key"].as_str().unwrap().to_string();
    assert_taxii_error(with("scripted", &key).await.unwrap(), 401).await;
    assert_eq!(with("scripted", &new_key).await.unwrap().status(), 200);

    // Expired keys stop working.
    let k = taxii_hub::domain::credentials::new_api_key();
    hub.storage
        .create_api_key(id, &k.prefix, k.hash, None, Some(taxii_hub::domain::timestamp::now_micros() - 1))
        .await
        .unwrap();
    assert_taxii_error(with("scripted", &k.key).await.unwrap(), 401).await;

    // Only the hash is stored.
    let keys: Value =
        hub.get("root", &hub.url(&format!("/admin/accounts/{id}/keys/"))).send().await.unwrap().json().await.unwrap();
    assert!(!keys.to_string().contains(&new_key[new_key.len() - 20..]));
}

async fn token_for(hub: &TestHub, user: &str) -> String {
    let r = hub.client.post(hub.url("/auth/token")).basic_auth(user, Some(&hub.passwords[user])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() <= 60);
    body["access_token"].as_str().unwrap().to_string()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn bearer_tokens_and_every_way_a_token_can_be_wrong() {
    let hub = admin_hub().await;
    let token = token_for(&hub, "alpha").await;
    let url = hub.url("/hub/collections/");
    let bearer = |t: &str| hub.client.get(&url).bearer_auth(t).header("Accept", TAXII).send();
    assert_eq!(bearer(&token).await.unwrap().status(), 200);

    // A token cannot mint another token.
    let r = hub.client.post(hub.url("/auth/token")).bearer_auth(&token).send().await.unwrap();
    assert_taxii_error(r, 401).await;

    let [header, claims, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut c: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    let forge = |c: &Value, sig: &str| format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(c.to_string()));

    // Tampered claims (another account) with the original signature.
    c["sub"] = json!((c["sub"].as_str().unwrap().parse::<i64>().unwrap() + 1).to_string());
    assert_taxii_error(bearer(&forge(&c, signature)).await.unwrap(), 401).await;
    // alg: none.
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#), claims);
    assert_taxii_error(bearer(&none).await.unwrap(), 401).await;
    // Another key, and the right key with the wrong audience or an expired token.
    let other = JwtKeys::from_pkcs8(
        &JwtKeys::generate_pkcs8().unwrap(),
        "taxii-hub",
        "taxii-hub",
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    let (foreign, _) = other.issue(1, "b").unwrap();
    assert_taxii_error(bearer(&foreign).await.unwrap(), 401).await;
    let pkcs8 = hub.storage.shared_secret("token_ed25519_pkcs8", Vec::new).await.unwrap();
    let wrong_aud =
        JwtKeys::from_pkcs8(&pkcs8, "taxii-hub", "someone-else", std::time::Duration::from_secs(60)).unwrap();
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    let account: i64 = payload["sub"].as_str().unwrap().parse().unwrap();
    let binding = payload["bnd"].as_str().unwrap().to_string();
    assert_taxii_error(bearer(&wrong_aud.issue(account, &binding).unwrap().0).await.unwrap(), 401).await;
    let right = JwtKeys::from_pkcs8(&pkcs8, "taxii-hub", "taxii-hub", std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(
        bearer(&right.issue(account, &binding).unwrap().0).await.unwrap().status(),
        200,
        "same key, right claims"
    );
    assert_taxii_error(bearer(&right.issue(account, "another-binding").unwrap().0).await.unwrap(), 401).await;
    let key = jsonwebtoken::EncodingKey::from_ed_der(&pkcs8);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &json!({"sub": account.to_string(), "iss": "taxii-hub", "aud": "taxii-hub", "iat": now() - 3600, "exp": now() - 600, "jti": "x", "bnd": binding}),
        &key,
    )
    .unwrap();
    assert_taxii_error(bearer(&expired).await.unwrap(), 401).await;
    assert_taxii_error(bearer("not.a.token").await.unwrap(), 401).await;
}

#[tokio::test]
async fn disabled_and_deleted_accounts_stop_at_once_for_every_method() {
    let mut hub = admin_hub().await;
    let org = alpha_org(&hub).await;
    let (id, key) = create_account(&hub, "soon-gone", org).await;
    hub.passwords.insert("soon-gone".into(), key.clone());
    let token = token_for(&hub, "soon-gone").await;
    let url = hub.url("/hub/collections/");
    assert_eq!(hub.client.get(&url).bearer_auth(&token).send().await.unwrap().status(), 200);
    // Warm the password cache for a password account too.
    assert_eq!(hub.get("alpha", &url).send().await.unwrap().status(), 200);

    let r = hub
        .as_user(Method::PATCH, "root", &hub.url(&format!("/admin/accounts/{id}/")))
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_taxii_error(hub.client.get(&url).bearer_auth(&token).send().await.unwrap(), 401).await;
    assert_taxii_error(hub.client.get(&url).basic_auth("soon-gone", Some(&key)).send().await.unwrap(), 401).await;
    let alpha = hub.storage.account_by_username("alpha").await.unwrap().unwrap();
    hub.storage.update_account(alpha.id, AccountUpdate { disabled: Some(true), ..Default::default() }).await.unwrap();
    assert_taxii_error(hub.get("alpha", &url).send().await.unwrap(), 401).await;

    let r = hub.as_user(Method::DELETE, "root", &hub.url(&format!("/admin/accounts/{id}/"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_taxii_error(hub.client.get(&url).bearer_auth(&token).send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn client_certificates_map_to_accounts() {
    let mut hub = start().await;
    let partner_ca = taxii_hub::tls::client_ca("Partner CA").unwrap();
    let (cert, key) = taxii_hub::tls::client_certificate("cert-feed", "CERT", &partner_ca).unwrap();
    let (stranger, stranger_key) = taxii_hub::tls::client_certificate("stranger", "Nobody", &partner_ca).unwrap();
    let rogue_ca = taxii_hub::tls::client_ca("Rogue CA").unwrap();
    let (rogue, rogue_key) = taxii_hub::tls::client_certificate("cert-feed", "CERT", &rogue_ca).unwrap();
    hub.client_ca_pem = Some(partner_ca.pem());
    hub.launch();

    let der = rustls_pemfile::certs(&mut cert.as_bytes()).next().unwrap().unwrap();
    let fingerprint: String = Sha256::digest(&der).iter().map(|b| format!("{b:02x}")).collect();
    let cert_org = hub.storage.organisation_by_name("cert").await.unwrap().unwrap();
    hub.storage
        .create_account(taxii_hub::domain::model::NewAccount {
            organisation_id: cert_org,
            username: "cert-feed".into(),
            password_hash: None,
            role: Role::Reader,
            redistributes: false,
            cert_fingerprint: Some(fingerprint),
            cert_subject: None,
            cert_issuer: None,
        })
        .await
        .unwrap();
    hub.add("alpha", "shared", &[indicator(1, "2024-01-01T00:00:00.000Z")]).await;

    let known = hub.client_with(Some(&format!("{cert}{key}")));
    let r = known.get(hub.collection_url("shared", "objects/")).header("Accept", TAXII).send().await.unwrap();
    assert_eq!(r.status(), 200, "a CERT pulls its feed with only its certificate");
    let body: Value = r.json().await.unwrap();
    assert_eq!(ids_of(&body).len(), 1);

    let unknown = hub.client_with(Some(&format!("{stranger}{stranger_key}")));
    assert_taxii_error(unknown.get(hub.url("/hub/collections/")).send().await.unwrap(), 401).await;
    let rogue_client = hub.client_with(Some(&format!("{rogue}{rogue_key}")));
    assert!(
        rogue_client.get(hub.url("/hub/collections/")).send().await.is_err(),
        "a certificate from an untrusted CA fails the handshake"
    );
    // Without a certificate, other credentials still work.
    assert_eq!(hub.get("beta", &hub.url("/hub/collections/")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn repeated_failed_sign_ins_are_throttled_before_any_password_work() {
    let hub = start_with(|c| {
        c.auth.failed_logins_burst = 3;
        c.auth.failed_logins_refill_seconds = 600;
    })
    .await;
    let url = hub.url("/hub/collections/");
    for _ in 0..3 {
        let r = hub.client.get(&url).basic_auth("beta", Some("wrong")).send().await.unwrap();
        assert_taxii_error(r, 401).await;
    }
    let r = hub.client.get(&url).basic_auth("beta", Some("wrong")).send().await.unwrap();
    assert!(r.headers().contains_key("retry-after"));
    assert_taxii_error(r, 429).await;
    // The right password is refused too while the (address, account) pair is throttled…
    assert_taxii_error(hub.get("beta", &url).send().await.unwrap(), 429).await;
    // …but other accounts from the same address are not affected.
    assert_eq!(hub.get("alpha", &url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn api_key_lifetimes_are_range_checked() {
    let hub = admin_hub().await;
    let org = alpha_org(&hub).await;
    let (id, _) = create_account(&hub, "lifetimes", org).await;
    let url = hub.url(&format!("/admin/accounts/{id}/keys/"));
    for days in [0u64, 3651, u32::MAX as u64] {
        let r = hub.as_user(Method::POST, "root", &url).json(&json!({ "expires_in_days": days })).send().await.unwrap();
        let body = assert_taxii_error(r, 400).await;
        assert!(body["description"].as_str().unwrap().contains("expires_in_days"), "{body}");
    }
    let r = hub.as_user(Method::POST, "root", &url).json(&json!({ "expires_in_days": 30 })).send().await.unwrap();
    assert_eq!(r.status(), 201);
}
