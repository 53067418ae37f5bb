//! The workloads, each bounded in time. A workload that runs out of time is stopped (its
//! requests are dropped) and reported as "> bound".

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::corpus::{ts_micros, Envelope, Generator, Markings, Stream};
use crate::servers::Server;
use crate::taxii::{self, Endpoint};

fn cpu(server: &Server) -> (f64, f64, f64) {
    (server.cpu_seconds(), crate::procs::self_cpu_seconds(), crate::procs::machine_busy_seconds())
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct CpuUse {
    /// CPU seconds the server (process tree) used during the workload.
    pub server_s: f64,
    /// CPU seconds the harness itself used (client side: TLS, HTTP, JSON scanning).
    pub client_s: f64,
    /// CPU seconds used by everything else on the machine meanwhile (noise: other builds, tests).
    pub other_s: f64,
}

impl CpuUse {
    fn since(server: &Server, start: (f64, f64, f64)) -> CpuUse {
        let (s, c, m) = cpu(server);
        let (server_s, client_s) = (s - start.0, c - start.1);
        CpuUse {
            server_s: round3(server_s),
            client_s: round3(client_s),
            other_s: round3((m - start.2 - server_s - client_s).max(0.0)),
        }
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

// ---- ingest ------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct IngestResult {
    pub envelope_size: usize,
    pub partners: usize,
    pub envelopes: usize,
    pub objects: usize,
    pub envelopes_answered: u64,
    /// Objects the server reported as successes in its status resources.
    pub acknowledged: u64,
    pub failed: u64,
    pub pending: u64,
    /// Envelopes answered with something other than 2xx.
    pub http_errors: u64,
    pub transport_errors: u64,
    pub example_error: Option<String>,
    pub seconds: f64,
    pub timed_out: bool,
    pub bound_s: f64,
    pub objects_per_s: f64,
    /// Objects of envelopes answered with an HTTP error (a peer may store them anyway).
    pub objects_in_error_answers: u64,
    pub cpu: CpuUse,
    /// Bytes the server wrote to / read from storage during the workload, per acknowledged
    /// object (write amplification: WAL, checkpoints, indexes, statuses, audit).
    pub disk_write_bytes_per_object: f64,
    pub disk_read_bytes_per_object: f64,
}

#[derive(Default)]
struct IngestStats {
    answered: AtomicU64,
    acked: AtomicU64,
    failed: AtomicU64,
    pending: AtomicU64,
    http_errors: AtomicU64,
    transport_errors: AtomicU64,
    error_objects: AtomicU64,
    example: Mutex<Option<String>>,
}

/// `partners` partners post their envelopes concurrently, one request in flight each;
/// objects/s counts objects acknowledged as successes (after the server committed them).
pub async fn ingest(
    server: &Server,
    collection: &str,
    envelopes: Arc<Vec<Envelope>>,
    envelope_size: usize,
    partners: usize,
    bound: Duration,
    acked_total: Arc<AtomicU64>,
) -> IngestResult {
    let stats = Arc::new(IngestStats::default());
    // Each partner signs in before the clock starts: the first request of an account runs
    // argon2 (tens of ms by design), which would otherwise dominate the short quick-mode runs.
    for p in 0..partners {
        let _ = taxii::get_page(&server.endpoint(collection, p), &[("limit", "1")]).await;
    }
    let cpu0 = cpu(server);
    let io0 = server.pid().map(crate::procs::tree_io_bytes).unwrap_or((0, 0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for p in 0..partners {
        let ep = server.endpoint(collection, p);
        let (envs, st, total) = (envelopes.clone(), stats.clone(), acked_total.clone());
        handles.push(tokio::spawn(async move {
            for e in envs.iter().filter(|e| e.partner % partners == p) {
                match taxii::post_envelope(&ep, e.body.clone()).await {
                    Ok(o) if (200..300).contains(&o.http_status) => {
                        st.acked.fetch_add(o.success, Ordering::Relaxed);
                        total.fetch_add(o.success, Ordering::Relaxed);
                        st.failed.fetch_add(o.failure, Ordering::Relaxed);
                        st.pending.fetch_add(o.pending, Ordering::Relaxed);
                        if o.failure > 0 {
                            st.example
                                .lock()
                                .unwrap()
                                .get_or_insert_with(|| format!("failure: {}", o.first_failure.unwrap_or_default()));
                        }
                    }
                    Ok(o) => {
                        st.http_errors.fetch_add(1, Ordering::Relaxed);
                        st.error_objects.fetch_add(e.objects as u64, Ordering::Relaxed);
                        st.example.lock().unwrap().get_or_insert_with(|| {
                            format!("HTTP {}: {}", o.http_status, o.first_failure.unwrap_or_default())
                        });
                    }
                    Err(err) => {
                        st.transport_errors.fetch_add(1, Ordering::Relaxed);
                        st.example.lock().unwrap().get_or_insert(err);
                    }
                }
                st.answered.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let timed_out = join_within(&mut handles, start + bound).await;
    let seconds = start.elapsed().as_secs_f64();
    let io1 = server.pid().map(crate::procs::tree_io_bytes).unwrap_or((0, 0));
    let acked = stats.acked.load(Ordering::Relaxed);
    let example = stats.example.lock().unwrap().clone();
    IngestResult {
        envelope_size,
        partners,
        envelopes: envelopes.len(),
        objects: envelopes.iter().map(|e| e.objects).sum(),
        envelopes_answered: stats.answered.load(Ordering::Relaxed),
        acknowledged: acked,
        failed: stats.failed.load(Ordering::Relaxed),
        pending: stats.pending.load(Ordering::Relaxed),
        http_errors: stats.http_errors.load(Ordering::Relaxed),
        transport_errors: stats.transport_errors.load(Ordering::Relaxed),
        example_error: example,
        seconds: round3(seconds),
        timed_out,
        bound_s: bound.as_secs_f64(),
        objects_per_s: round3(acked as f64 / seconds.max(1e-9)),
        objects_in_error_answers: stats.error_objects.load(Ordering::Relaxed),
        cpu: CpuUse::since(server, cpu0),
        disk_write_bytes_per_object: round3(io1.1.saturating_sub(io0.1) as f64 / acked.max(1) as f64),
        disk_read_bytes_per_object: round3(io1.0.saturating_sub(io0.0) as f64 / acked.max(1) as f64),
    }
}

/// Awaits every task until `deadline`; aborts the rest and answers true if time ran out.
async fn join_within(handles: &mut [tokio::task::JoinHandle<()>], deadline: Instant) -> bool {
    for h in handles.iter_mut() {
        if tokio::time::timeout_at(deadline.into(), &mut *h).await.is_err() {
            for h in handles.iter() {
                h.abort();
            }
            return true;
        }
    }
    false
}

// ---- full pull ---------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PullRun {
    pub objects: u64,
    pub pages: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub objects_per_s: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PullResult {
    pub limit: u64,
    pub runs: Vec<PullRun>,
    pub objects: u64,
    pub median_objects_per_s: f64,
    pub timed_out: bool,
    pub bound_s: f64,
    /// Objects delivered before time ran out (when it did).
    pub partial_objects: u64,
    pub error: Option<String>,
    pub cpu: CpuUse,
}

/// Full pull of a collection via `next`, repeated `runs` times while each run is quick.
pub async fn pull(
    server: &Server,
    collection: &str,
    partner: usize,
    limit: u64,
    runs: usize,
    bound: Duration,
) -> PullResult {
    let ep = server.endpoint(collection, partner);
    let mut r = PullResult { limit, bound_s: bound.as_secs_f64(), ..Default::default() };
    let cpu0 = cpu(server);
    for i in 0..runs.max(1) {
        let progress = Arc::new(AtomicU64::new(0));
        match tokio::time::timeout(bound, walk_counting(&ep, limit, progress.clone())).await {
            Err(_) => {
                r.timed_out = true;
                r.partial_objects = progress.load(Ordering::Relaxed);
                break;
            }
            Ok(Err(e)) => {
                r.error = Some(e);
                break;
            }
            Ok(Ok(w)) => {
                let secs = w.elapsed.as_secs_f64();
                r.objects = w.objects;
                r.runs.push(PullRun {
                    objects: w.objects,
                    pages: w.pages,
                    bytes: w.bytes,
                    seconds: round3(secs),
                    objects_per_s: round3(w.objects as f64 / secs.max(1e-9)),
                });
                // Slow servers are measured once.
                if secs > 5.0 && i + 1 < runs {
                    break;
                }
            }
        }
    }
    let mut rates: Vec<f64> = r.runs.iter().map(|x| x.objects_per_s).collect();
    r.median_objects_per_s = median(&mut rates).unwrap_or(0.0);
    r.cpu = CpuUse::since(server, cpu0);
    r
}

/// `taxii::walk` that also counts delivered objects as it goes (for partial results).
async fn walk_counting(ep: &Endpoint, limit: u64, progress: Arc<AtomicU64>) -> Result<taxii::Walk, String> {
    let start = Instant::now();
    let limit_s = limit.to_string();
    let mut next: Option<String> = None;
    let mut w = taxii::Walk::default();
    loop {
        let mut params: Vec<(&str, &str)> = vec![("limit", limit_s.as_str())];
        if let Some(n) = &next {
            params.push(("next", n.as_str()));
        }
        let page = taxii::get_page(ep, &params).await?;
        w.objects += page.objects;
        w.pages += 1;
        w.bytes += page.bytes;
        progress.fetch_add(page.objects, Ordering::Relaxed);
        if !page.more {
            break;
        }
        next = Some(page.next.ok_or_else(|| format!("GET {}: more=true without next", ep.url))?);
    }
    w.elapsed = start.elapsed();
    Ok(w)
}

/// Follows `next` until `more` is false or at least `max_objects` were delivered; adds the
/// time per object of each full page (at least half of `limit`) to `per_object_us`.
async fn walk_first(
    ep: &Endpoint,
    limit: u64,
    max_objects: u64,
    per_object_us: &mut Vec<f64>,
) -> Result<taxii::Walk, String> {
    let start = Instant::now();
    let limit_s = limit.to_string();
    let mut next: Option<String> = None;
    let mut w = taxii::Walk::default();
    while w.objects < max_objects {
        let mut params: Vec<(&str, &str)> = vec![("limit", limit_s.as_str())];
        if let Some(n) = &next {
            params.push(("next", n.as_str()));
        }
        let page = taxii::get_page(ep, &params).await?;
        if page.objects * 2 >= limit {
            per_object_us.push(page.elapsed.as_secs_f64() * 1e6 / page.objects as f64);
        }
        w.objects += page.objects;
        w.pages += 1;
        w.bytes += page.bytes;
        if !page.more {
            break;
        }
        next = Some(page.next.ok_or_else(|| format!("GET {}: more=true without next", ep.url))?);
    }
    w.elapsed = start.elapsed();
    Ok(w)
}

pub fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

// ---- deep pagination ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct DeepResult {
    pub limit: u64,
    pub target_page: u64,
    pub pages_walked: u64,
    pub walk_seconds: f64,
    /// Repeated timings (stateless cursors), or the single timing from the walk.
    pub page1_ms: Vec<f64>,
    pub page_deep_ms: Vec<f64>,
    pub page1_median_ms: Option<f64>,
    pub page_deep_median_ms: Option<f64>,
    pub ratio: Option<f64>,
    pub timed_out: bool,
    pub bound_s: f64,
    pub error: Option<String>,
    pub note: Option<String>,
}

/// Walks `target_page` pages of `limit` objects via `next`, then times page 1 and page
/// `target_page` (`samples` times each, alternating, when the cursor may be reused).
pub async fn deep_pagination(
    server: &Server,
    collection: &str,
    partner: usize,
    limit: u64,
    target_page: u64,
    samples: usize,
    bound: Duration,
) -> DeepResult {
    let ep = server.endpoint(collection, partner);
    let mut r = DeepResult { limit, target_page, bound_s: bound.as_secs_f64(), ..Default::default() };
    let start = Instant::now();
    let deadline = start + bound;
    let limit_s = limit.to_string();
    let mut cursor: Option<String> = None;
    let mut deep_cursor: Option<String> = None;
    let mut walk_times = Vec::new();
    while r.pages_walked < target_page {
        let mut params: Vec<(&str, &str)> = vec![("limit", limit_s.as_str())];
        if let Some(n) = &cursor {
            params.push(("next", n.as_str()));
        }
        let page = match tokio::time::timeout_at(deadline.into(), taxii::get_page(&ep, &params)).await {
            Err(_) => {
                r.timed_out = true;
                break;
            }
            Ok(Err(e)) => {
                r.error = Some(e);
                break;
            }
            Ok(Ok(p)) => p,
        };
        r.pages_walked += 1;
        walk_times.push(page.elapsed.as_secs_f64() * 1000.0);
        if r.pages_walked == target_page || !page.more {
            if r.pages_walked < target_page {
                r.note = Some(format!("the collection has only {} pages of {limit}", r.pages_walked));
            }
            break;
        }
        deep_cursor = page.next.clone();
        cursor = page.next;
    }
    r.walk_seconds = round3(start.elapsed().as_secs_f64());
    if r.timed_out || r.error.is_some() {
        if let Some(first) = walk_times.first() {
            r.page1_ms.push(round3(*first));
            r.page1_median_ms = Some(round3(*first));
        }
        return r;
    }
    if server.cursor_reusable && samples > 0 {
        let deep_params: Vec<(&str, String)> = match &deep_cursor {
            Some(c) => vec![("limit", limit_s.clone()), ("next", c.clone())],
            None => vec![("limit", limit_s.clone())],
        };
        for _ in 0..samples {
            for deep in [false, true] {
                let params: Vec<(&str, &str)> = if deep {
                    deep_params.iter().map(|(k, v)| (*k, v.as_str())).collect()
                } else {
                    vec![("limit", limit_s.as_str())]
                };
                match tokio::time::timeout_at(deadline.into(), taxii::get_page(&ep, &params)).await {
                    Ok(Ok(p)) => {
                        let ms = round3(p.elapsed.as_secs_f64() * 1000.0);
                        if deep {
                            r.page_deep_ms.push(ms)
                        } else {
                            r.page1_ms.push(ms)
                        }
                    }
                    Ok(Err(e)) => {
                        r.error = Some(e);
                        break;
                    }
                    Err(_) => {
                        r.timed_out = true;
                        break;
                    }
                }
            }
        }
    } else {
        // A stateful `next` (medallion) is consumed by use: report the walk's own timings.
        r.page1_ms = walk_times.first().map(|x| vec![round3(*x)]).unwrap_or_default();
        r.page_deep_ms = walk_times.last().map(|x| vec![round3(*x)]).unwrap_or_default();
        r.note.get_or_insert_with(|| "single timings from the walk (next cannot be reused)".into());
    }
    r.page1_median_ms = median(&mut r.page1_ms.clone()).map(round3);
    r.page_deep_median_ms = median(&mut r.page_deep_ms.clone()).map(round3);
    if let (Some(a), Some(b)) = (r.page1_median_ms, r.page_deep_median_ms) {
        r.ratio = Some(round3(b / a.max(1e-6)));
    }
    r
}

// ---- incremental polling -----------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PollResult {
    pub pollers: usize,
    pub interval_ms: u64,
    pub seconds: f64,
    pub polls: u64,
    pub completed: u64,
    pub unfinished: u64,
    pub errors: u64,
    pub example_error: Option<String>,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Waited this long for polls still running when the polling window closed.
    pub cap_s: f64,
    pub objects_delivered: u64,
    pub pages: u64,
    pub ingest_target_per_s: f64,
    pub ingest_acknowledged: u64,
    pub ingest_per_s: f64,
    pub cpu: CpuUse,
}

pub struct PollSpec {
    pub pollers: usize,
    pub interval: Duration,
    pub duration: Duration,
    pub ingest_per_s: f64,
    pub cap: Duration,
    pub partners: usize,
    pub live: Stream,
}

#[derive(Default)]
struct PollStats {
    latencies_ms: Mutex<Vec<f64>>,
    started: AtomicU64,
    finished: AtomicU64,
    errors: AtomicU64,
    objects: AtomicU64,
    pages: AtomicU64,
    example: Mutex<Option<String>>,
}

/// `pollers` pollers each poll `added_after` (their last X-TAXII-Date-Added-Last) every
/// `interval`, following `next`, while one partner ingests `ingest_per_s` objects/s in
/// envelopes of 100. Latency = one poll, all its pages. Each poller's first poll (connection
/// set-up) is not counted.
pub async fn poll(server: &Server, collection: &str, spec: &PollSpec, acked_total: Arc<AtomicU64>) -> PollResult {
    let stats = Arc::new(PollStats::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cpu0 = cpu(server);
    let t0 = crate::corpus::now_micros();
    let start = Instant::now();

    // Background ingest, paced.
    let ingest_acked = Arc::new(AtomicU64::new(0));
    let ingest_task = if spec.ingest_per_s > 0.0 {
        let ep = server.endpoint(collection, 0);
        let (stop, acked, total) = (stop.clone(), ingest_acked.clone(), acked_total.clone());
        let mut gen = Generator::new(spec.live.clone());
        let period = Duration::from_secs_f64(100.0 / spec.ingest_per_s);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                // Only partner 0's envelopes: one producer posts the live feed.
                let mut env = gen.envelope(100);
                while env.partner != 0 {
                    env = gen.envelope(100);
                }
                if let Ok(o) = taxii::post_envelope(&ep, env.body).await {
                    acked.fetch_add(o.success, Ordering::Relaxed);
                    total.fetch_add(o.success, Ordering::Relaxed);
                }
            }
        }))
    } else {
        None
    };

    let mut handles = Vec::new();
    for i in 0..spec.pollers {
        let ep = server.endpoint(collection, i % spec.partners.max(1));
        let (stats, stop) = (stats.clone(), stop.clone());
        let interval = spec.interval;
        let offset = interval.mul_f64(i as f64 / spec.pollers.max(1) as f64);
        handles.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut added_after = ts_micros(t0);
            let mut first = true;
            let mut next_at = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                stats.started.fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                let result = taxii::walk(&ep, 1000, &[("added_after", added_after.clone())]).await;
                let ms = began.elapsed().as_secs_f64() * 1000.0;
                match result {
                    Ok(w) => {
                        if let Some(last) = w.last_date_added {
                            added_after = last;
                        }
                        if !first {
                            stats.latencies_ms.lock().unwrap().push(ms);
                            stats.objects.fetch_add(w.objects, Ordering::Relaxed);
                            stats.pages.fetch_add(w.pages, Ordering::Relaxed);
                        }
                    }
                    Err(e) => {
                        stats.errors.fetch_add(1, Ordering::Relaxed);
                        stats.example.lock().unwrap().get_or_insert(e);
                    }
                }
                stats.finished.fetch_add(1, Ordering::Relaxed);
                first = false;
                next_at += interval;
                let now = Instant::now();
                if next_at > now {
                    tokio::time::sleep(next_at - now).await;
                } else {
                    next_at = now;
                }
            }
        }));
    }
    tokio::time::sleep(spec.duration).await;
    stop.store(true, Ordering::Relaxed);
    let _ = join_within(&mut handles, Instant::now() + spec.cap).await;
    if let Some(t) = ingest_task {
        let mut v = vec![t];
        let _ = join_within(&mut v, Instant::now() + spec.cap.min(Duration::from_secs(30))).await;
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut lat = stats.latencies_ms.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let started = stats.started.load(Ordering::Relaxed);
    let finished = stats.finished.load(Ordering::Relaxed);
    // A poll still running when time ran out counts as slower than any that finished (each
    // poller's first poll, which sets up its connection, is not a latency sample when it finishes).
    let unfinished = started.saturating_sub(finished);
    let total = lat.len() as u64 + unfinished; // failed polls are not latencies
    let pct = |q: f64| -> Option<f64> {
        if total == 0 {
            return None;
        }
        let idx = ((q * total as f64).ceil() as usize).max(1) - 1;
        lat.get(idx).map(|x| round3(*x))
    };
    let ingest_ack = ingest_acked.load(Ordering::Relaxed);
    let example_error = stats.example.lock().unwrap().clone();
    PollResult {
        pollers: spec.pollers,
        interval_ms: spec.interval.as_millis() as u64,
        seconds: round3(seconds),
        polls: lat.len() as u64 + unfinished,
        completed: lat.len() as u64,
        unfinished,
        errors: stats.errors.load(Ordering::Relaxed),
        example_error,
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        max_ms: if unfinished > 0 { None } else { lat.last().map(|x| round3(*x)) },
        cap_s: spec.cap.as_secs_f64(),
        objects_delivered: stats.objects.load(Ordering::Relaxed),
        pages: stats.pages.load(Ordering::Relaxed),
        ingest_target_per_s: spec.ingest_per_s,
        ingest_acknowledged: ingest_ack,
        ingest_per_s: round3(ingest_ack as f64 / spec.duration.as_secs_f64()),
        cpu: CpuUse::since(server, cpu0),
    }
}

// ---- TLP filtering -----------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct OrgPull {
    pub partner: usize,
    pub expected_visible: u64,
    pub delivered: u64,
    pub seconds: f64,
    pub objects_per_s: f64,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct TlpResult {
    pub ingest: IngestResult,
    /// The all-visible twin collection.
    pub plain_ingest: IngestResult,
    pub collection_objects: u64,
    pub rounds: usize,
    pub unfiltered_objects_per_s: Vec<f64>,
    pub filtered: Vec<OrgPull>,
    pub unfiltered_median: f64,
    pub filtered_median: f64,
    /// 1 − filtered/unfiltered from the medians, in percent (negative: filtering was faster).
    pub cost_median_pct: f64,
    /// 1 − filtered/unfiltered from the fastest pull of each kind.
    pub cost_best_pct: f64,
    /// Median time per delivered object over full pages (µs), and the pages sampled.
    pub unfiltered_us_per_object: f64,
    pub filtered_us_per_object: f64,
    pub pages_sampled: (usize, usize),
    /// 1 − filtered/unfiltered throughput from the median page: the intrinsic cost of the
    /// filter, robust to pages delayed by other causes. Reported.
    pub cost_pct: f64,
    pub unfiltered_best: f64,
    pub filtered_best: f64,
    pub visibility_mismatches: Vec<String>,
    pub error: Option<String>,
}

/// Expected number of objects partner `q` may see in a Mixed-markings stream without revisions.
pub fn expected_visible(envelopes: &[Envelope], q: usize) -> u64 {
    envelopes
        .iter()
        .map(|e| {
            let shared: usize = e.per_tlp[..4].iter().sum();
            let red_own = if e.partner == q { e.per_tlp[4] } else { 0 };
            (shared + red_own + e.red_recipients.get(q).copied().unwrap_or(0)) as u64
        })
        .sum()
}

/// Ingests the TLP collection (five producers, all TLP levels), then alternates a full pull of
/// the unfiltered collection (every object visible) with a full pull of the TLP collection as
/// each partner; compares delivered objects/s.
#[allow(clippy::too_many_arguments)]
pub async fn tlp(
    server: &Server,
    envelopes: Arc<Vec<Envelope>>,
    plain: Arc<Vec<Envelope>>,
    partners: usize,
    rounds: usize,
    bound: Duration,
    acked_total: Arc<AtomicU64>,
) -> TlpResult {
    let mut r = TlpResult { rounds, ..Default::default() };
    r.ingest = ingest(server, "tlp", envelopes.clone(), 100, partners, bound, acked_total.clone()).await;
    r.plain_ingest = ingest(server, "plain", plain, 100, partners, bound, acked_total).await;
    r.collection_objects = r.ingest.acknowledged;
    let deadline = Instant::now() + bound;
    // Unfiltered: the same pull, by the same account, of a collection built the same way (same
    // producers, mix and size) whose objects are all CLEAR/GREEN/AMBER, so every row is
    // visible; one unfiltered pull before each filtered pull (equal samples).
    let unfiltered_eps: Vec<Endpoint> = (0..partners).map(|q| server.endpoint("plain", q)).collect();
    let filtered_eps: Vec<Endpoint> = (0..partners).map(|q| server.endpoint("tlp", q)).collect();
    let (mut unfiltered_pages, mut filtered_pages) = (Vec::new(), Vec::new());
    'rounds: for _ in 0..rounds {
        for q in 0..partners {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, walk_first(&unfiltered_eps[q], 1000, u64::MAX, &mut unfiltered_pages))
                .await
            {
                Ok(Ok(w)) => {
                    r.unfiltered_objects_per_s.push(round3(w.objects as f64 / w.elapsed.as_secs_f64().max(1e-9)))
                }
                Ok(Err(e)) => {
                    r.error = Some(e);
                    break 'rounds;
                }
                Err(_) => {
                    r.error = Some("unfiltered pull ran out of time".into());
                    break 'rounds;
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let w = match tokio::time::timeout(
                remaining,
                walk_first(&filtered_eps[q], 1000, u64::MAX, &mut filtered_pages),
            )
            .await
            {
                Ok(Ok(w)) => w,
                Ok(Err(e)) => {
                    r.error = Some(e);
                    break 'rounds;
                }
                Err(_) => {
                    r.error = Some("filtered pull ran out of time".into());
                    break 'rounds;
                }
            };
            let expected = expected_visible(&envelopes, q);
            if w.objects != expected && !r.visibility_mismatches.iter().any(|m| m.starts_with(&format!("partner {q}:")))
            {
                r.visibility_mismatches.push(format!(
                    "partner {q}: expected {expected} visible objects (if all were accepted), got {}",
                    w.objects
                ));
            }
            let secs = w.elapsed.as_secs_f64();
            r.filtered.push(OrgPull {
                partner: q,
                expected_visible: expected,
                delivered: w.objects,
                seconds: round3(secs),
                objects_per_s: round3(w.objects as f64 / secs.max(1e-9)),
            });
        }
    }
    r.unfiltered_median = round3(median(&mut r.unfiltered_objects_per_s.clone()).unwrap_or(0.0));
    r.filtered_median =
        round3(median(&mut r.filtered.iter().map(|f| f.objects_per_s).collect::<Vec<_>>()).unwrap_or(0.0));
    r.unfiltered_best = r.unfiltered_objects_per_s.iter().cloned().fold(0.0, f64::max);
    r.filtered_best = r.filtered.iter().map(|f| f.objects_per_s).fold(0.0, f64::max);
    if r.unfiltered_median > 0.0 {
        r.cost_median_pct = round3((1.0 - r.filtered_median / r.unfiltered_median) * 100.0);
    }
    if r.unfiltered_best > 0.0 {
        r.cost_best_pct = round3((1.0 - r.filtered_best / r.unfiltered_best) * 100.0);
    }
    // The median page is robust to a few pages delayed by something else (a scheduler
    // hiccup, a delayed TCP acknowledgement): compare the median time per object of full pages.
    r.pages_sampled = (unfiltered_pages.len(), filtered_pages.len());
    r.unfiltered_us_per_object = median(&mut unfiltered_pages).map(round3).unwrap_or(0.0);
    r.filtered_us_per_object = median(&mut filtered_pages).map(round3).unwrap_or(0.0);
    if r.filtered_us_per_object > 0.0 {
        r.cost_pct = round3((1.0 - r.unfiltered_us_per_object / r.filtered_us_per_object) * 100.0);
    }
    r
}

/// The stream of the TLP collection: five producers, every TLP level, no revisions.
pub fn tlp_stream(seed: u64, producers: Vec<String>) -> Stream {
    Stream { seed, tag: "tlp", producers, markings: Markings::Mixed, revision_share: 0.0 }
}
