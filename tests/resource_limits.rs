//! What one partner (or an outsider) can hold of the hub: stalled uploads, parallel uploads,
//! and sign-in guessing — each bounded, and without locking out anyone else (issue 12).

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use reqwest::Method;
use taxii_hub::domain::model::{OrganisationKind, Role};

/// Resident memory of this process (the hub runs inside the test), in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A POST declaring `declared` bytes that sends one byte, then nothing.
fn stalled_upload(hub: &TestHub, user: &str, declared: usize) -> reqwest::RequestBuilder {
    let first = futures_util::stream::once(async { Ok::<_, std::io::Error>(actix_web::web::Bytes::from_static(b"{")) });
    let body = reqwest::Body::wrap_stream(first.chain(futures_util::stream::pending()));
    hub.as_user(Method::POST, user, &hub.collection_url("shared", "objects/"))
        .header("Content-Type", TAXII)
        .header("Content-Length", declared.to_string())
        .body(body)
}

/// 200 connections that each declare 1 MiB and send one byte: memory grows by what arrived,
/// not by what was declared, and the idle timeout answers and closes every one of them.
#[tokio::test]
async fn stalled_uploads_hold_little_memory_and_are_cut_off() {
    let hub = start_with(|c| {
        c.taxii.max_content_length = 2 * 1024 * 1024;
        c.uploads.max_concurrent = 1000;
        c.uploads.max_concurrent_per_account = 1000;
        c.uploads.idle_timeout_seconds = 2;
    })
    .await;
    let before = resident_bytes();
    let started = Instant::now();
    let uploads: Vec<_> = (0..200).map(|_| tokio::spawn(stalled_upload(&hub, "alpha", 1024 * 1024).send())).collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = resident_bytes();
    for upload in uploads {
        // Without the idle timeout these would wait forever: fail instead of hanging.
        let answered = tokio::time::timeout(Duration::from_secs(30), upload).await.expect("cut off by the hub");
        match answered.unwrap() {
            Ok(r) => assert_eq!(r.status(), 408),
            // The hub may close the connection while the client still thinks it is sending.
            Err(e) => assert!(e.is_request() || e.is_body() || e.is_connect(), "{e}"),
        }
    }
    let waited = started.elapsed();
    let grown = during.saturating_sub(before);
    eprintln!("200 stalled uploads: resident memory grew by {} KiB; all cut off after {waited:?}", grown / 1024);
    // Both ends' TLS state lives in this process too; 1 MiB per upload would be 200 MiB.
    assert!(grown < 100 * 1024 * 1024, "stalled uploads took {} MiB", grown / (1024 * 1024));
    assert!(waited < Duration::from_secs(20), "the idle timeout did not close them: {waited:?}");
    // The hub still serves.
    assert_eq!(hub.get("beta", &hub.url("/hub/collections/")).send().await.unwrap().status(), 200);
}

/// An account may only have a few uploads in flight; one more waits, then gets 429, while
/// another account's upload goes through.
#[tokio::test]
async fn one_account_cannot_take_every_upload_slot() {
    let hub = start_with(|c| {
        c.uploads.max_concurrent_per_account = 2;
        c.uploads.slot_wait_seconds = 1;
        c.uploads.idle_timeout_seconds = 10;
    })
    .await;
    let held: Vec<_> = (0..2).map(|_| tokio::spawn(stalled_upload(&hub, "alpha", 1000).send())).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = hub.post_objects("alpha", "shared", &[indicator(1, "2024-01-01T00:00:00.000Z")]).await;
    assert!(r.headers().contains_key("retry-after"));
    assert_taxii_error(r, 429).await;
    let r = hub.post_objects("cert", "shared", &[indicator(2, "2024-01-01T00:00:00.000Z")]).await;
    assert_eq!(r.status(), 202, "other accounts are not affected");
    for h in held {
        h.abort();
    }
}

/// Bad API keys count against their own key, not against the address: ten of them from one
/// address (empty usernames) leave another account's valid key working.
#[tokio::test]
async fn bad_api_keys_lock_out_no_other_key() {
    let mut hub = start_with(|c| {
        c.auth.failed_logins_burst = 3;
        c.auth.failed_logins_refill_seconds = 600;
    })
    .await;
    let org = hub.storage.organisation_by_name("beta").await.unwrap().unwrap();
    hub.add_key_account("beta-script", org, Role::Member, false).await;
    let url = hub.url("/hub/collections/");
    for n in 0..10 {
        let guess = format!("thk_{n:08}_{}", "A".repeat(43));
        let r = hub.client.get(&url).basic_auth("", Some(guess)).header("Accept", TAXII).send().await.unwrap();
        assert!(matches!(r.status().as_u16(), 401 | 429), "{}", r.status());
    }
    let r = hub.client.get(&url).basic_auth("", Some(&hub.passwords["beta-script"])).header("Accept", TAXII);
    assert_eq!(r.send().await.unwrap().status(), 200);
}

/// Spraying usernames from one address spends that address's budget: then its password
/// sign-ins that are not already verified wait — for known and unknown usernames alike, so the
/// 429 says nothing about which exist — while valid API keys still work.
#[tokio::test]
async fn spraying_usernames_is_throttled_per_address_without_revealing_accounts() {
    let mut hub = start_with(|c| {
        c.auth.failed_logins_per_address_burst = 5;
        c.auth.failed_logins_refill_seconds = 600;
    })
    .await;
    let (op, _) = hub.add_org("Operator", OrganisationKind::Operator).await;
    hub.add_key_account("keyed", op, Role::Member, false).await;
    let url = hub.url("/hub/collections/");
    let sign_in = |user: String, password: String| {
        hub.client.get(&url).basic_auth(user, Some(password)).header("Accept", TAXII).send()
    };
    for n in 0..5 {
        let r = sign_in(format!("nobody-{n}"), "guess-guess-guess".into()).await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let r = sign_in("nobody-else".into(), "guess-guess-guess".into()).await.unwrap();
    assert_taxii_error(r, 429).await;
    let r = sign_in("beta".into(), hub.passwords["beta"].clone()).await.unwrap();
    assert_taxii_error(r, 429).await;
    let r = sign_in("".into(), hub.passwords["keyed"].clone()).await.unwrap();
    assert_eq!(r.status(), 200, "a valid API key is not held back");
}

/// Behind a load balancer speaking PROXY protocol v2, limits apply per client address: a
/// sprayer behind the balancer locks out only itself.
#[tokio::test]
async fn behind_a_proxy_protocol_balancer_limits_apply_per_client() {
    let hub = start_with(|c| {
        c.auth.failed_logins_per_address_burst = 3;
        c.auth.failed_logins_refill_seconds = 600;
        c.server.proxy_protocol_from = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let hub_port: u16 = hub.base.rsplit(':').next().unwrap().parse().unwrap();
    let sprayer = balancer(hub_port, [203, 0, 113, 66]).await;
    let partner = balancer(hub_port, [198, 51, 100, 7]).await;
    let via = |port: u16, user: &str, password: &str| {
        hub.client
            .get(format!("https://localhost:{port}/hub/collections/"))
            .basic_auth(user, Some(password))
            .header("Accept", TAXII)
            .send()
    };
    for n in 0..3 {
        assert_eq!(via(sprayer, &format!("nobody-{n}"), "guess-guess-guess").await.unwrap().status(), 401);
    }
    assert_eq!(via(sprayer, "beta", &hub.passwords["beta"]).await.unwrap().status(), 429);
    assert_eq!(via(partner, "beta", &hub.passwords["beta"]).await.unwrap().status(), 200);
}

/// A stand-in for haproxy `send-proxy-v2`: relays each connection to the hub, first writing
/// a PROXY v2 header naming `client`. Returns the port it listens on.
async fn balancer(hub_port: u16, client: [u8; 4]) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let Ok(mut upstream) = tokio::net::TcpStream::connect(("127.0.0.1", hub_port)).await else { return };
                let mut header = vec![0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
                header.extend_from_slice(&[0x21, 0x11, 0, 12]);
                header.extend_from_slice(&client);
                header.extend_from_slice(&[127, 0, 0, 1, 0xC3, 0x50, 0x20, 0xFB]);
                if upstream.write_all(&header).await.is_ok() {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut upstream).await;
                }
            });
        }
    });
    port
}
