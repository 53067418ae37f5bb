//! The TAXII 2.1 client side of the workloads: post an envelope, fetch one page, walk `next`.
//! Response bodies are scanned, not built into a DOM: the client shares the 2 cores with the
//! server under test, so it does as little as possible.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

pub const TAXII: &str = "application/taxii+json;version=2.1";

/// How to reach one collection's objects endpoint as one account.
#[derive(Clone)]
pub struct Endpoint {
    pub client: reqwest::Client,
    /// `https://127.0.0.1:PORT/hub/collections/bench/objects/`
    pub url: String,
    /// The whole `Authorization` header value.
    pub auth: String,
}

pub fn client(ca_pem: Option<&[u8]>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(4)
        .pool_idle_timeout(Duration::from_secs(600))
        .connect_timeout(Duration::from_secs(10));
    if let Some(pem) = ca_pem {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(pem).expect("CA PEM"));
    }
    b.build().expect("HTTP client")
}

pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[derive(Debug, Default, Clone)]
pub struct PostOutcome {
    pub http_status: u16,
    pub success: u64,
    pub failure: u64,
    pub pending: u64,
    /// First failure message, for diagnostics.
    pub first_failure: Option<String>,
}

#[derive(Deserialize)]
struct StatusScan {
    #[serde(default)]
    success_count: u64,
    #[serde(default)]
    failure_count: u64,
    #[serde(default)]
    pending_count: u64,
    #[serde(default)]
    failures: Option<Vec<FailureScan>>,
}

#[derive(Deserialize)]
struct FailureScan {
    #[serde(default)]
    message: Option<String>,
}

pub async fn post_envelope(ep: &Endpoint, body: Bytes) -> Result<PostOutcome, String> {
    let resp = ep
        .client
        .post(&ep.url)
        .header("Authorization", &ep.auth)
        .header("Accept", TAXII)
        .header("Content-Type", TAXII)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {}: {e}", ep.url))?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| format!("POST {}: reading the answer: {e}", ep.url))?;
    if !(200..300).contains(&status) {
        return Ok(PostOutcome { http_status: status, first_failure: Some(snippet(&bytes)), ..Default::default() });
    }
    let s: StatusScan = serde_json::from_slice(&bytes)
        .map_err(|e| format!("POST {}: status resource: {e}: {}", ep.url, snippet(&bytes)))?;
    Ok(PostOutcome {
        http_status: status,
        success: s.success_count,
        failure: s.failure_count,
        pending: s.pending_count,
        first_failure: s.failures.and_then(|f| f.into_iter().find_map(|x| x.message)),
    })
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(300)]).to_string();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub more: bool,
    pub next: Option<String>,
    pub objects: u64,
    pub bytes: u64,
    pub date_added_last: Option<String>,
    pub elapsed: Duration,
}

#[derive(Deserialize)]
struct EnvelopeScan {
    #[serde(default)]
    more: bool,
    #[serde(default)]
    next: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "count_items")]
    objects: u64,
}

fn count_items<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
        fn visit_unit<E>(self) -> Result<u64, E> {
            Ok(0)
        }
    }
    d.deserialize_any(Count)
}

/// GET one page of objects. `params` are added to the query string (url-encoded).
pub async fn get_page(ep: &Endpoint, params: &[(&str, &str)]) -> Result<Page, String> {
    let start = Instant::now();
    let resp = ep
        .client
        .get(&ep.url)
        .query(params)
        .header("Authorization", &ep.auth)
        .header("Accept", TAXII)
        .send()
        .await
        .map_err(|e| format!("GET {}: {e}", ep.url))?;
    let status = resp.status().as_u16();
    let last = resp.headers().get("X-TAXII-Date-Added-Last").and_then(|v| v.to_str().ok()).map(str::to_string);
    let bytes = resp.bytes().await.map_err(|e| format!("GET {}: reading the answer: {e}", ep.url))?;
    if status != 200 {
        return Err(format!("GET {} {:?}: HTTP {status}: {}", ep.url, params, snippet(&bytes)));
    }
    // An empty envelope may be `{}` (TAXII 2.1 §3.7).
    let scan: EnvelopeScan =
        serde_json::from_slice(&bytes).map_err(|e| format!("GET {}: envelope: {e}: {}", ep.url, snippet(&bytes)))?;
    let next = match scan.next {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(Page {
        more: scan.more,
        next,
        objects: scan.objects,
        bytes: bytes.len() as u64,
        date_added_last: last,
        elapsed: start.elapsed(),
    })
}

#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub objects: u64,
    pub pages: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub last_date_added: Option<String>,
}

/// Follows `next` from the first page until `more` is false. `extra` goes on every request
/// (e.g. `added_after`, which TAXII requires to be repeated with `next`).
pub async fn walk(ep: &Endpoint, limit: u64, extra: &[(&str, String)]) -> Result<Walk, String> {
    let start = Instant::now();
    let limit_s = limit.to_string();
    let mut next: Option<String> = None;
    let mut w = Walk::default();
    loop {
        let mut params: Vec<(&str, &str)> = vec![("limit", limit_s.as_str())];
        for (k, v) in extra {
            params.push((k, v.as_str()));
        }
        if let Some(n) = &next {
            params.push(("next", n.as_str()));
        }
        let page = get_page(ep, &params).await?;
        w.objects += page.objects;
        w.pages += 1;
        w.bytes += page.bytes;
        if page.objects > 0 {
            w.last_date_added = page.date_added_last.clone().or(w.last_date_added.take());
        }
        if !page.more {
            break;
        }
        match page.next {
            Some(n) => next = Some(n),
            None => return Err(format!("GET {}: more=true without next", ep.url)),
        }
    }
    w.elapsed = start.elapsed();
    Ok(w)
}
