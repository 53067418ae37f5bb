//! Regression tests for the adversarial review (issue 12), on whichever backend the run uses:
//! identifiers that never come back, tokens bound to what they were issued for, certificate
//! subjects that cannot be forged, bounded envelopes and statuses, opaque cursors, and
//! discovery URLs nobody can redirect.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use taxii_hub::domain::model::{AccountUpdate, Membership, NewAccount, OrganisationKind, Role};

const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const READ: Membership = Membership { can_read: true, can_write: false };

async fn token(hub: &TestHub, user: &str) -> String {
    let r = hub.client.post(hub.url("/auth/token")).basic_auth(user, Some(&hub.passwords[user])).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string()
}

async fn status_with_bearer(hub: &TestHub, token: &str, url: &str) -> u16 {
    hub.client.get(url).bearer_auth(token).header("Accept", TAXII).send().await.unwrap().status().as_u16()
}

async fn shared_group(hub: &TestHub) -> i64 {
    hub.storage.collection_by_id(&hub.collections["shared"]).await.unwrap().unwrap().trust_group_id
}

/// Deleting the newest organisation and account, then creating new ones, must never hand the
/// new ones what was addressed to the old: RED recipients, tokens, API keys.
#[tokio::test]
async fn deleted_organisations_and_accounts_pass_nothing_on_to_those_created_after() {
    let mut hub = start().await;
    let group = shared_group(&hub).await;
    for round in 0..3u64 {
        let (doomed, doomed_identity) = hub.add_org(&format!("doomed-{round}"), OrganisationKind::Partner).await;
        hub.storage.set_membership(group, doomed, READ).await.unwrap();
        let doomed_user = format!("doomed-{round}-reader");
        let doomed_account = hub.add_key_account(&doomed_user, doomed, Role::Member, false).await;
        let mut red = indicator(900 + round, "2024-01-01T00:00:00.000Z");
        red["object_marking_refs"] = json!([RED]);
        red["x_taxii_hub_recipients"] = json!([doomed_identity]);
        let url = hub.collection_url("shared", &format!("objects/{}/", red["id"].as_str().unwrap()));
        hub.add("alpha", "shared", &[red]).await;
        assert_eq!(hub.get(&doomed_user, &url).send().await.unwrap().status(), 200, "the recipient reads it");
        let doomed_token = token(&hub, &doomed_user).await;

        hub.storage.remove_membership(group, doomed).await.unwrap();
        hub.storage.delete_account(doomed_account).await.unwrap();
        hub.storage.delete_organisation(doomed).await.unwrap();

        let (newcomer, _) = hub.add_org(&format!("newcomer-{round}"), OrganisationKind::Partner).await;
        hub.storage.set_membership(group, newcomer, READ).await.unwrap();
        let newcomer_user = format!("newcomer-{round}-reader");
        let newcomer_account = hub.add_key_account(&newcomer_user, newcomer, Role::Member, false).await;
        assert!(newcomer > doomed, "organisation id {doomed} came back as {newcomer}");
        assert!(newcomer_account > doomed_account, "account id {doomed_account} came back as {newcomer_account}");

        assert_taxii_error(hub.get(&newcomer_user, &url).send().await.unwrap(), 404).await;
        assert_taxii_error(hub.get("beta", &url).send().await.unwrap(), 404).await;
        assert_eq!(status_with_bearer(&hub, &doomed_token, &url).await, 401, "the deleted account's token");
        assert_taxii_error(hub.get(&doomed_user, &url).send().await.unwrap(), 401).await;
    }
}

/// A token ends when what it was issued for changes: password, role, disabled flag.
#[tokio::test]
async fn tokens_die_with_a_change_to_the_account() {
    let hub = start().await;
    let url = hub.url("/hub/collections/");
    let alpha = hub.storage.account_by_username("alpha").await.unwrap().unwrap();
    let changes = [
        AccountUpdate { role: Some(Role::Reader), ..Default::default() },
        AccountUpdate { role: Some(Role::Member), ..Default::default() },
        AccountUpdate { password_hash: Some(alpha.password_hash.clone()), ..Default::default() },
    ];
    for change in changes {
        let before = token(&hub, "alpha").await;
        assert_eq!(status_with_bearer(&hub, &before, &url).await, 200);
        hub.storage.update_account(alpha.id, change.clone()).await.unwrap();
        assert_eq!(status_with_bearer(&hub, &before, &url).await, 401, "{change:?}");
        assert_eq!(status_with_bearer(&hub, &token(&hub, "alpha").await, &url).await, 200);
    }
    // Disabled and enabled again: a token from before stays dead.
    let before = token(&hub, "alpha").await;
    hub.storage.update_account(alpha.id, AccountUpdate { disabled: Some(true), ..Default::default() }).await.unwrap();
    hub.storage.update_account(alpha.id, AccountUpdate { disabled: Some(false), ..Default::default() }).await.unwrap();
    assert_eq!(status_with_bearer(&hub, &before, &url).await, 401);
    // Revoking an API key ends the tokens minted with it (or with any key of the account).
    let mut hub = hub;
    let org = hub.storage.organisation_by_name("alpha").await.unwrap().unwrap();
    let scripted = hub.add_key_account("scripted", org, Role::Member, false).await;
    let minted = token(&hub, "scripted").await;
    assert_eq!(status_with_bearer(&hub, &minted, &url).await, 200);
    let key = hub.storage.api_keys(scripted).await.unwrap()[0].id;
    hub.storage.revoke_api_key(scripted, key).await.unwrap();
    assert_eq!(status_with_bearer(&hub, &minted, &url).await, 401);
    // Changes that do not touch who the account is leave its tokens alone.
    let kept = token(&hub, "alpha").await;
    hub.storage
        .update_account(alpha.id, AccountUpdate { redistributes: Some(false), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(status_with_bearer(&hub, &kept, &url).await, 200);
}

/// A client certificate signed by `ca` whose subject holds exactly `attributes`.
fn certificate(attributes: &[(rcgen::DnType, &str)], ca: &rcgen::CertifiedIssuer<'_, rcgen::KeyPair>) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (kind, value) in attributes {
        params.distinguished_name.push(kind.clone(), *value);
    }
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    format!("{}{}", cert.pem(), key.serialize_pem())
}

#[tokio::test]
async fn certificate_subjects_match_only_as_written_and_only_from_their_issuer() {
    use rcgen::DnType::{CommonName, OrganizationName};
    let mut hub = start().await;
    let partner_ca = taxii_hub::tls::client_ca("Partner CA").unwrap();
    let other_ca = taxii_hub::tls::client_ca("Other CA").unwrap();
    hub.client_ca_pem = Some(format!("{}{}", partner_ca.pem(), other_ca.pem()));
    hub.launch();
    let cert_org = hub.storage.organisation_by_name("cert").await.unwrap().unwrap();
    hub.storage
        .create_account(NewAccount {
            organisation_id: cert_org,
            username: "cert-feed".into(),
            password_hash: None,
            role: Role::Reader,
            redistributes: false,
            cert_fingerprint: None,
            cert_subject: Some("CN=cert-feed, O=CERT".into()),
            cert_issuer: Some("CN=Partner CA".into()),
        })
        .await
        .unwrap();
    let url = hub.url("/hub/collections/");
    let status = |identity: String| {
        let client = hub.client_with(Some(&identity));
        let url = url.clone();
        async move { client.get(url).header("Accept", TAXII).send().await.unwrap().status().as_u16() }
    };
    let genuine = certificate(&[(CommonName, "cert-feed"), (OrganizationName, "CERT")], &partner_ca);
    assert_eq!(status(genuine).await, 200);
    let forged_name = certificate(&[(CommonName, "cert-feed, O=CERT")], &partner_ca);
    assert_eq!(status(forged_name).await, 401, "one CN holding a comma is not two attributes");
    let other_issuer = certificate(&[(CommonName, "cert-feed"), (OrganizationName, "CERT")], &other_ca);
    assert_eq!(status(other_issuer).await, 401, "another trusted CA cannot mint the subject");
    // Nor through an intermediate it names like the partner's CA (the client sends the chain).
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(CommonName, "Partner CA");
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::DigitalSignature];
    let lookalike = rcgen::CertifiedIssuer::signed_by(params, rcgen::KeyPair::generate().unwrap(), &other_ca).unwrap();
    let leaf = certificate(&[(CommonName, "cert-feed"), (OrganizationName, "CERT")], &lookalike);
    let (leaf_cert, leaf_key) = leaf.split_at(leaf.find("-----BEGIN PRIVATE KEY").unwrap());
    let chained = format!("{leaf_cert}{}{leaf_key}", lookalike.pem());
    assert_eq!(status(chained).await, 401, "a lookalike intermediate under another CA");
}

#[tokio::test]
async fn a_subject_mapping_needs_its_issuer() {
    let mut hub = start().await;
    let (op, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    hub.add_key_account("root", op, Role::Admin, false).await;
    let org = hub.storage.organisation_by_name("cert").await.unwrap().unwrap();
    let create = |body: Value| hub.as_user(Method::POST, "root", &hub.url("/admin/accounts/")).json(&body).send();
    let r = create(json!({"username": "s1", "organisation_id": org, "cert_subject": "CN=s1, O=CERT"})).await.unwrap();
    let body = assert_taxii_error(r, 400).await;
    assert!(body["description"].as_str().unwrap().contains("cert_issuer"), "{body}");
    let r = create(json!({"username": "s1", "organisation_id": org, "cert_subject": "CN=s1", "cert_issuer": "CN=CA"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let account: Value = r.json().await.unwrap();
    assert_eq!(account["account"]["cert_issuer"], "CN=CA");
}

fn envelope_of(entries: &str) -> String {
    format!("{{\"objects\":[{entries}]}}")
}

async fn post_raw(hub: &TestHub, body: String) -> reqwest::Response {
    hub.as_user(Method::POST, "alpha", &hub.collection_url("shared", "objects/"))
        .header("Content-Type", TAXII)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The amplification envelope: thousands of entries that are not objects get one error, not a
/// status with one failure each; too many objects are refused whole; a status lists a bounded
/// number of failures and counts the rest.
#[tokio::test]
async fn envelopes_and_statuses_stay_bounded() {
    let hub = start_with(|c| {
        c.taxii.max_envelope_objects = 100;
        c.taxii.max_status_failures = 5;
    })
    .await;
    let ones = vec!["1"; 20_000].join(",");
    let body = assert_taxii_error(post_raw(&hub, envelope_of(&ones)).await, 422).await;
    assert!(body["description"].as_str().unwrap().contains("objects[0]"), "{body}");

    let many = vec!["{}"; 101].join(",");
    let body = assert_taxii_error(post_raw(&hub, envelope_of(&many)).await, 413).await;
    assert!(body["description"].as_str().unwrap().contains("100 objects"), "{body}");

    let broken: Vec<String> =
        (0..40).map(|n| format!("{{\"type\":\"indicator\",\"id\":\"indicator--{}\"}}", uuid_for(n))).collect();
    let mut entries = broken.join(",");
    entries.push(',');
    entries.push_str(&indicator(77, "2024-01-01T00:00:00.000Z").to_string());
    let r = post_raw(&hub, envelope_of(&entries)).await;
    assert_eq!(r.status(), 202);
    let status: Value = r.json().await.unwrap();
    assert_eq!(status["failure_count"], 40, "{status}");
    assert_eq!(status["failures"].as_array().unwrap().len(), 5, "{status}");
    assert_eq!(status["success_count"], 1);
    assert_eq!(status["total_count"], 41);
    let again: Value = hub
        .get("alpha", &hub.url(&format!("/hub/status/{}/", status["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["failures"].as_array().unwrap().len(), 5, "the stored status is bounded too");
}

/// `next` holds nothing a reader can read: the same page asked twice gives two different
/// cursors, both valid, neither showing the hub-wide sequence number.
#[tokio::test]
async fn cursors_are_opaque() {
    let hub = start().await;
    let objects: Vec<Value> = (1..=3).map(|n| indicator(n, "2024-01-01T00:00:00.000Z")).collect();
    hub.add("alpha", "shared", &objects).await;
    let page = format!("{}?limit=1", hub.collection_url("shared", "objects/"));
    let next = |body: Value| body["next"].as_str().unwrap().to_string();
    let first: Value = hub.get("beta", &page).send().await.unwrap().json().await.unwrap();
    let again: Value = hub.get("beta", &page).send().await.unwrap().json().await.unwrap();
    let (a, b) = (next(first), next(again));
    assert_ne!(a, b);
    for cursor in [&a, &b] {
        let raw = URL_SAFE_NO_PAD.decode(cursor).unwrap();
        assert_eq!(raw[0], 2, "the encrypted format");
        let page2: Value =
            hub.get("beta", &format!("{page}&next={cursor}")).send().await.unwrap().json().await.unwrap();
        assert_eq!(ids_of(&page2), vec![objects[1]["id"].as_str().unwrap()]);
    }
}

/// Objects of one envelope are stored least restricted first, one microsecond apart, so what a
/// reader sees of an envelope is one unbroken run: the gaps do not count what is hidden.
#[tokio::test]
async fn date_added_gaps_do_not_count_hidden_objects() {
    let hub = start().await;
    let alpha = hub.storage.organisation_by_name("alpha").await.unwrap().unwrap();
    let alpha_identity = hub.storage.organisation(alpha).await.unwrap().unwrap().identity_id;
    let marked = |n: u64, marking: &str| {
        let mut o = indicator(n, "2024-01-01T00:00:00.000Z");
        o["object_marking_refs"] = json!([marking]);
        if marking == RED {
            o["x_taxii_hub_recipients"] = json!([alpha_identity]);
        }
        o
    };
    // A RED report stored earlier contains indicator 3, posted as GREEN below: 3 becomes RED
    // only when it is stored, and must still sort behind what beta sees.
    let mut report = json!({
        "type": "report", "spec_version": "2.1", "id": format!("report--{}", uuid_for(70)),
        "created": "2020-01-01T00:00:00.000Z", "modified": "2020-01-01T00:00:00.000Z", "name": "r",
        "published": "2020-01-01T00:00:00Z", "object_refs": [indicator(3, "x")["id"]],
    });
    report["object_marking_refs"] = json!([RED]);
    report["x_taxii_hub_recipients"] = json!([alpha_identity]);
    hub.add("alpha", "shared", &[report]).await;
    let mut envelope = vec![marked(1, GREEN), marked(3, GREEN)];
    envelope.extend((10..60).map(|n| marked(n, RED)));
    envelope.push(marked(2, GREEN));
    hub.add("alpha", "shared", &envelope).await;
    let manifest: Value =
        hub.get("beta", &hub.collection_url("shared", "manifest/")).send().await.unwrap().json().await.unwrap();
    let added: Vec<i64> = manifest["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = m["date_added"].as_str().unwrap();
            taxii_hub::domain::timestamp::parse(text, taxii_hub::domain::timestamp::Zone::UtcOnly).unwrap() / 1000
        })
        .collect();
    assert_eq!(added.len(), 2, "{manifest}");
    assert_eq!((added[1] - added[0]).abs(), 1, "{manifest}");
}

#[tokio::test]
async fn discovery_urls_come_from_the_configured_public_url_never_from_forwarding_headers() {
    let hub = start().await;
    let r = hub.get("beta", &hub.url("/taxii2/")).header("X-Forwarded-Host", "evil.example").send().await.unwrap();
    let body = r.text().await.unwrap();
    assert!(!body.contains("evil.example"), "{body}");
    assert!(body.contains("https://localhost:"), "{body}");

    let configured = start_with(|c| c.taxii.public_url = Some("https://taxii.cert.example:9443/".into())).await;
    let body: Value = configured.get("beta", &configured.url("/taxii2/")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["api_roots"], json!(["https://taxii.cert.example:9443/hub/"]));
    assert_eq!(body["default"], "https://taxii.cert.example:9443/hub/");
}
