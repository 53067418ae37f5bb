//! taxii-hub-bench: measures taxii-hub and its peers (medallion, OpenTAXII) on the same STIX
//! workload in the same run, prints a table of absolute figures and ratios, writes JSON results,
//! and in quick mode fails when the hub regressed more than 2× against the stored baseline.
//!
//! `scripts/bench [quick|medium|full] [options]` builds and runs it; see bench/README.md.

mod corpus;
mod procs;
mod report;
mod servers;
mod taxii;
mod workloads;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::json;

use corpus::{Envelope, Generator, Markings, Stream};
use report::{Baseline, Better, Row, Section, Target, Unit, Val};
use servers::{Env, Kind, Server};
use workloads::{DeepResult, IngestResult, PollResult, PollSpec, PullResult, TlpResult};

#[derive(Parser, Debug)]
#[command(name = "taxii-hub-bench", about = "Benchmark taxii-hub against medallion and OpenTAXII on the same workload")]
struct Cli {
    /// quick (10k objects, seconds; CI), medium (100k), full (1M), `baseline FILE...` (write
    /// the baseline from result files: the median of each figure) or `table FILE...` (print the
    /// table of stored results).
    #[arg(default_value = "quick")]
    mode: String,
    /// Result files, for `baseline` and `table`.
    files: Vec<PathBuf>,
    /// With `table`: print Markdown.
    #[arg(long)]
    markdown: bool,
    /// Objects in the hub's main collection (quick 10,000; medium 100,000; full 1,000,000).
    #[arg(long)]
    objects: Option<u64>,
    /// Objects at which the hub and its peers are compared (10,000; in quick mode = --objects).
    #[arg(long)]
    compare_objects: Option<u64>,
    /// Servers to run: hub, medallion, opentaxii, all (quick: hub; medium/full: all).
    #[arg(long)]
    peers: Option<String>,
    /// Time bound of each workload, seconds (quick 60, otherwise 600).
    #[arg(long)]
    bound: Option<u64>,
    /// Partner organisations posting concurrently.
    #[arg(long, default_value_t = 5)]
    partners: usize,
    #[arg(long, default_value_t = 100)]
    pollers: usize,
    #[arg(long, default_value_t = 1000)]
    poll_interval_ms: u64,
    /// Length of the polling window (quick 5 s, medium 15 s, full 30 s).
    #[arg(long)]
    poll_seconds: Option<u64>,
    /// Objects/s ingested (envelopes of 100) while the pollers poll.
    #[arg(long, default_value_t = 200.0)]
    poll_ingest_rate: f64,
    /// Objects in the TLP collection (default: --objects, at most 100,000).
    #[arg(long)]
    tlp_objects: Option<u64>,
    /// Full-pull repetitions, median reported (quick 5, otherwise 3; pulls over 5 s run once).
    #[arg(long)]
    runs: Option<usize>,
    /// Timings each of page 1 and page 1,000.
    #[arg(long, default_value_t = 20)]
    page_samples: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// HTTP workers of every server (default: the number of cores).
    #[arg(long)]
    workers: Option<usize>,
    #[arg(long)]
    hub_bin: Option<PathBuf>,
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Where the servers keep their stores (default target/bench-data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// Baseline to compare with (quick mode) or to write (`baseline`).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Do not compare with the baseline.
    #[arg(long)]
    no_check: bool,
    /// Regression factor: fail when a figure is this many times worse than the baseline.
    #[arg(long, default_value_t = 2.0)]
    tolerance: f64,
    /// Keep the servers' data directories.
    #[arg(long)]
    keep_data: bool,
    /// taxii-hub's log.level during the run.
    #[arg(long, default_value = "warn")]
    hub_log_level: String,
    /// Extra environment for the hub process only, KEY=VALUE (repeatable), e.g.
    /// TAXII_HUB_STORAGE__READER_POOL_SIZE=8 to try a configuration.
    #[arg(long = "hub-env", value_name = "KEY=VALUE")]
    hub_env: Vec<String>,
}

struct Plan {
    mode: String,
    runs: usize,
    objects: u64,
    compare: u64,
    kinds: Vec<Kind>,
    bound: Duration,
    poll_seconds: u64,
    tlp_objects: u64,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn log(msg: impl AsRef<str>) {
    eprintln!("[bench] {}", msg.as_ref());
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build().expect("tokio");
    let code = rt.block_on(async move {
        if cli.mode == "baseline" {
            return write_baseline(&cli);
        }
        if cli.mode == "table" {
            return retable(&cli);
        }
        match run(cli, cores).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("taxii-hub-bench: {e}");
                2
            }
        }
    });
    std::process::ExitCode::from(code)
}

fn plan(cli: &Cli) -> Result<Plan, String> {
    let (objects, compare, peers, bound, poll) = match cli.mode.as_str() {
        "quick" => (10_000, None, "hub", 60, 5),
        "medium" => (100_000, Some(10_000), "all", 600, 15),
        "full" => (1_000_000, Some(10_000), "all", 600, 30),
        m => return Err(format!("unknown mode '{m}': use quick, medium, full or baseline")),
    };
    let objects = cli.objects.unwrap_or(objects);
    let compare = cli.compare_objects.or(compare).unwrap_or(objects).min(objects);
    let peers = cli.peers.clone().unwrap_or_else(|| peers.to_string());
    let mut kinds = vec![Kind::Hub];
    for p in peers.split(',') {
        match p.trim() {
            "all" => kinds.extend([Kind::Medallion, Kind::Opentaxii]),
            "" => {}
            other => kinds.push(Kind::parse(other).ok_or_else(|| format!("unknown server '{other}' in --peers"))?),
        }
    }
    kinds.sort();
    kinds.dedup();
    Ok(Plan {
        mode: cli.mode.clone(),
        runs: cli.runs.unwrap_or(if cli.mode == "quick" { 5 } else { 3 }),
        objects,
        compare,
        kinds,
        bound: Duration::from_secs(cli.bound.unwrap_or(bound)),
        poll_seconds: cli.poll_seconds.unwrap_or(poll),
        tlp_objects: cli.tlp_objects.unwrap_or(objects.min(100_000)),
    })
}

#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(default)]
struct Milestone {
    objects: u64,
    seconds: f64,
    peak_rss_bytes: u64,
    rss_bytes: u64,
    db_files_bytes: u64,
    db_bytes_per_object: f64,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct ServerRun {
    server: String,
    version: String,
    transport: String,
    process_model: String,
    workers: usize,
    ingest: Vec<IngestResult>,
    load_notes: Vec<String>,
    pull: Option<PullResult>,
    deep: Option<DeepResult>,
    tlp: Option<TlpResult>,
    poll: Option<PollResult>,
    peak_rss_bytes: u64,
    db_bytes: Option<u64>,
    objects_stored: u64,
    db_bytes_per_object: Option<f64>,
    db_breakdown: Vec<(String, u64)>,
    milestones: Vec<Milestone>,
    /// CPU used by other processes on the machine while this server was measured: noise.
    other_cpu_s: f64,
    other_cpu_share: f64,
    /// CPU stolen by the hypervisor meanwhile, seconds.
    steal_cpu_s: f64,
    /// After each workload, of the server process tree: VmHWM, VmRSS, RssAnon, RssFile (bytes).
    memory_trace: Vec<MemorySample>,
    notes: Vec<String>,
    error: Option<String>,
    seconds: f64,
}

#[derive(Serialize, Deserialize, Clone, Default)]
#[serde(default)]
struct MemorySample {
    after: String,
    peak_rss: u64,
    rss: u64,
    rss_anon: u64,
    rss_file: u64,
}

fn trace_memory(run: &mut ServerRun, server: &Server, after: &str) {
    let mut m = MemorySample { after: after.to_string(), ..Default::default() };
    for pid in server.pid().map(procs::tree).unwrap_or_default() {
        let (hwm, rss) = procs::memory(pid).unwrap_or((0, 0));
        let (anon, file) = procs::rss_split(pid);
        m.peak_rss += hwm;
        m.rss += rss;
        m.rss_anon += anon;
        m.rss_file += file;
    }
    run.memory_trace.push(m);
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Outcome {
    Ran(Box<ServerRun>),
    NotAvailable { reason: String },
}

#[derive(Serialize, Deserialize)]
struct SetRun {
    name: String,
    objects: u64,
    corpus: serde_json::Value,
    servers: BTreeMap<String, Outcome>,
}

struct Corpus {
    phase100: Arc<Vec<Envelope>>,
    phase1000: Arc<Vec<Envelope>>,
    all: Vec<Envelope>,
    revisions: u64,
    bytes: u64,
}

fn bench_stream(seed: u64, partners: usize) -> Stream {
    Stream {
        seed,
        tag: "bench",
        producers: servers::partner_identities(seed, partners),
        markings: Markings::Shared,
        revision_share: 0.02,
    }
}

/// Half the objects in envelopes of 100, the other half in envelopes of 1,000.
fn make_corpus(seed: u64, partners: usize, objects: u64) -> Corpus {
    let mut gen = Generator::new(bench_stream(seed, partners));
    let half = objects / 2;
    let sizes = |total: u64, size: u64| -> Vec<usize> {
        let mut v = vec![size as usize; (total / size) as usize];
        if !total.is_multiple_of(size) {
            v.push((total % size) as usize);
        }
        v
    };
    let phase100: Vec<Envelope> = sizes(half, 100).into_iter().map(|s| gen.envelope(s)).collect();
    let phase1000: Vec<Envelope> = sizes(objects - half, 1000).into_iter().map(|s| gen.envelope(s)).collect();
    let all: Vec<Envelope> = phase100.iter().chain(phase1000.iter()).cloned().collect();
    let revisions = all.iter().map(|e| e.revisions as u64).sum();
    let bytes = all.iter().map(|e| e.body.len() as u64).sum();
    Corpus { phase100: Arc::new(phase100), phase1000: Arc::new(phase1000), all, revisions, bytes }
}

async fn run(cli: Cli, cores: usize) -> Result<u8, String> {
    let plan = plan(&cli)?;
    let ws = workspace();
    let started = chrono_now();
    let t_start = Instant::now();
    let workers = cli.workers.unwrap_or(cores);
    let venv = cli.venv.clone().unwrap_or_else(|| ws.join("target/bench-venv"));
    let env = Env {
        hub_bin: cli.hub_bin.clone().unwrap_or_else(|| ws.join("target/release/taxii-hub")),
        python: venv.join("bin/python"),
        peers_dir: ws.join("bench/peers"),
        workers,
        partners: cli.partners,
        hub_log_level: cli.hub_log_level.clone(),
        seed: cli.seed,
        hub_env: cli
            .hub_env
            .iter()
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .ok_or_else(|| format!("--hub-env {kv}: use KEY=VALUE"))
            })
            .collect::<Result<_, _>>()?,
    };
    if !env.hub_bin.exists() {
        return Err(format!(
            "{} not found: build it with cargo build --release --bin taxii-hub",
            env.hub_bin.display()
        ));
    }
    let data_root = cli.data_dir.clone().unwrap_or_else(|| ws.join("target/bench-data"));
    let run_dir = data_root.join(format!("{}-{}", plan.mode, compact(&started)));
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("{}: {e}", run_dir.display()))?;
    let filesystem = procs::filesystem(&run_dir);
    log(format!(
        "mode {}: {} objects, peers compared at {}, servers {:?}, bound {} s, {} cores, data in {} ({filesystem})",
        plan.mode,
        plan.objects,
        plan.compare,
        plan.kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
        plan.bound.as_secs(),
        cores,
        run_dir.display()
    ));

    // Sets: the comparison (hub and peers) and, when larger, the hub alone at scale. In quick
    // mode a failed regression check is measured once more (noise on a shared CI machine is
    // common; a real 2× regression fails twice), keeping the better figure of the two runs.
    let baseline_path = cli.baseline.clone().unwrap_or_else(|| ws.join("bench/baseline-quick.json"));
    let baseline = if plan.mode == "quick" && !cli.no_check {
        std::fs::read(&baseline_path).ok().and_then(|b| serde_json::from_slice::<Baseline>(&b).ok())
    } else {
        None
    };
    let mut attempt = 0;
    let mut earlier: Option<BTreeMap<String, report::Metric>> = None;
    let (sets, sections, metrics, checks) = loop {
        attempt += 1;
        let mut sets = Vec::new();
        if plan.compare == plan.objects {
            sets.push(run_set(&cli, &plan, &env, &run_dir, "main", plan.objects, &plan.kinds, true).await?);
        } else {
            sets.push(run_set(&cli, &plan, &env, &run_dir, "compare", plan.compare, &plan.kinds, false).await?);
            sets.push(run_set(&cli, &plan, &env, &run_dir, "scale", plan.objects, &[Kind::Hub], true).await?);
        }
        let params = TableParams {
            partners: cli.partners,
            pollers: cli.pollers,
            poll_interval_ms: cli.poll_interval_ms,
            poll_ingest_rate: cli.poll_ingest_rate,
        };
        let sections = build_sections(&params, &sets);
        let mut metrics = report::regression_metrics(&sections);
        if let Some(prev) = &earlier {
            metrics = report::best_of(prev, &metrics);
        }
        let checks = baseline.as_ref().map(|b| report::check(b, &metrics, cli.tolerance));
        let failed = checks.as_ref().is_some_and(|c| c.iter().any(|c| !c.ok));
        if failed && attempt < 2 {
            log(
                "regression check failed: measuring once more to rule out noise (the better figure of two runs counts)",
            );
            earlier = Some(metrics);
            continue;
        }
        break (sets, sections, metrics, checks);
    };
    let table = report::text_table(&sections);
    let markdown = report::markdown_table(&sections);

    let mut check_json = json!(null);
    let mut check_text = String::new();
    let mut failed = false;
    if plan.mode == "quick" && !cli.no_check {
        match (&baseline, &checks) {
            (Some(b), Some(checks)) => {
                failed = checks.iter().any(|c| !c.ok);
                check_text = format!(
                    "regression check against {} (recorded {}; fail when {}× worse{}):\n{}",
                    baseline_path.display(),
                    b.recorded,
                    cli.tolerance,
                    if attempt > 1 { "; measured twice, better figure kept" } else { "" },
                    report::check_text(checks, &b.metrics)
                );
                check_json = json!({
                    "baseline": baseline_path,
                    "tolerance": cli.tolerance,
                    "attempts": attempt,
                    "passed": !failed,
                    "checks": checks,
                });
            }
            _ => {
                check_text = format!(
                    "no baseline at {}: nothing compared (write one with `taxii-hub-bench baseline RESULTS...`)\n",
                    baseline_path.display()
                )
            }
        }
    }

    let machine = machine_json(cores, &filesystem);
    let results_dir = cli.results_dir.clone().unwrap_or_else(|| ws.join("bench/results"));
    std::fs::create_dir_all(&results_dir).map_err(|e| format!("{}: {e}", results_dir.display()))?;
    let stem = format!("{}-{}", plan.mode, compact(&started));
    let result = json!({
        "tool": "taxii-hub-bench",
        "mode": plan.mode,
        "started": started,
        "seconds": workloads::round3(t_start.elapsed().as_secs_f64()),
        "command": std::env::args().collect::<Vec<_>>(),
        "hub_commit": git_commit(&ws),
        "hub_binary": binary_info(&env.hub_bin),
        "machine": machine,
        "plan": {
            "objects": plan.objects,
            "compare_objects": plan.compare,
            "servers": plan.kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
            "bound_s": plan.bound.as_secs(),
            "partners": cli.partners,
            "workers": workers,
            "pollers": cli.pollers,
            "poll_interval_ms": cli.poll_interval_ms,
            "poll_seconds": plan.poll_seconds,
            "poll_ingest_rate": cli.poll_ingest_rate,
            "tlp_objects": plan.tlp_objects,
            "seed": cli.seed,
            "hub_log_level": cli.hub_log_level,
            "hub_env": cli.hub_env,
            "hub_storage": "SQLite, WAL, sqlite_synchronous = full",
        },
        "sets": sets,
        "table": sections,
        "table_markdown": markdown,
        "regression_metrics": metrics,
        "regression_check": check_json,
    });
    let json_path = results_dir.join(format!("{stem}.json"));
    std::fs::write(&json_path, serde_json::to_vec_pretty(&result).unwrap())
        .map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md_path = results_dir.join(format!("{stem}.md"));
    let _ = std::fs::write(&md_path, &markdown);

    println!();
    println!(
        "taxii-hub benchmark, {} mode — {} cores ({}), {}; hub: HTTPS, SQLite synchronous=full, {} workers; peers: plain HTTP, {} workers",
        plan.mode,
        cores,
        procs::cpu_model(),
        filesystem,
        workers,
        workers
    );
    println!();
    print!("{table}");
    println!(
        "ratios: hub ÷ peer > 1 means the hub is better; \"hub vs target\" is achieved ÷ required, ≥ 1 means met."
    );
    println!("\"> N s\": the server did not finish the workload within its time bound.");
    for set in &sets {
        for (name, o) in &set.servers {
            if let Outcome::Ran(r) = o {
                if r.other_cpu_share > 0.05 {
                    println!(
                        "NOISE: other processes used {:.0}% of the machine's CPU while {name} ran (set '{}'): its figures are pessimistic.",
                        r.other_cpu_share * 100.0,
                        set.name
                    );
                }
            }
        }
    }
    if !check_text.is_empty() {
        println!();
        print!("{check_text}");
    }
    println!();
    println!("results: {}", json_path.display());
    println!("         {}", md_path.display());
    if !cli.keep_data {
        let _ = std::fs::remove_dir_all(&run_dir);
    }
    log(format!("done in {:.0} s", t_start.elapsed().as_secs_f64()));
    Ok(if failed { 1 } else { 0 })
}

#[allow(clippy::too_many_arguments)]
async fn run_set(
    cli: &Cli,
    plan: &Plan,
    env: &Env,
    run_dir: &Path,
    name: &str,
    objects: u64,
    kinds: &[Kind],
    milestones: bool,
) -> Result<SetRun, String> {
    let t = Instant::now();
    let corpus = make_corpus(cli.seed, cli.partners, objects);
    log(format!(
        "set '{name}': corpus of {} objects ({} envelopes of 100, {} of 1,000; {} revisions; {:.1} MB; avg {} B/object) made in {:.1} s",
        corpus.all.iter().map(|e| e.objects).sum::<usize>(),
        corpus.phase100.len(),
        corpus.phase1000.len(),
        corpus.revisions,
        corpus.bytes as f64 / 1e6,
        corpus.bytes / objects.max(1),
        t.elapsed().as_secs_f64()
    ));
    let mut servers = BTreeMap::new();
    for kind in kinds {
        let dir = run_dir.join(format!("{name}-{}", kind.name()));
        let outcome = match kind {
            Kind::Hub => Outcome::Ran(Box::new(
                run_server(cli, plan, env, *kind, String::new(), &dir, &corpus, milestones).await?,
            )),
            _ => match servers::peer_available(env, *kind).await {
                Err(reason) => {
                    log(format!("{}: {reason}", kind.name()));
                    Outcome::NotAvailable { reason }
                }
                Ok(version) => match run_server(cli, plan, env, *kind, version, &dir, &corpus, false).await {
                    Ok(r) => Outcome::Ran(Box::new(r)),
                    Err(e) => {
                        log(format!("{}: {e}", kind.name()));
                        Outcome::NotAvailable { reason: first_line(&e) }
                    }
                },
            },
        };
        servers.insert(kind.name().to_string(), outcome);
    }
    Ok(SetRun {
        name: name.to_string(),
        objects,
        corpus: json!({
            "objects": corpus.all.iter().map(|e| e.objects).sum::<usize>(),
            "distinct_ids": corpus.all.iter().map(|e| e.objects as u64).sum::<u64>() - corpus.revisions,
            "revisions": corpus.revisions,
            "bytes": corpus.bytes,
            "envelopes_of_100": corpus.phase100.len(),
            "envelopes_of_1000": corpus.phase1000.len(),
        }),
        servers,
    })
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or(s);
    if l.chars().count() > 160 {
        format!("{}…", l.chars().take(160).collect::<String>())
    } else {
        l.to_string()
    }
}

/// Starts (or restarts) a server; peers that cannot keep up are restarted with the corpus
/// loaded, so every read workload runs on the same data.
async fn start(env: &Env, kind: Kind, dir: &Path, preload: Option<&[Envelope]>) -> Result<Server, String> {
    match kind {
        Kind::Hub => servers::start_hub(env, dir).await,
        Kind::Medallion => servers::start_medallion(env, dir, preload).await,
        Kind::Opentaxii => servers::start_opentaxii(env, dir).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_server(
    cli: &Cli,
    plan: &Plan,
    env: &Env,
    kind: Kind,
    version: String,
    dir: &Path,
    corpus: &Corpus,
    milestones: bool,
) -> Result<ServerRun, String> {
    let t = Instant::now();
    let name = kind.name();
    log(format!("{name}: starting"));
    let mut server = start(env, kind, dir, None).await?;
    log(format!("{name}: pid {}", server.pid().unwrap_or(0)));
    let mut run = ServerRun {
        server: name.into(),
        version: if version.is_empty() {
            format!("taxii-hub {}", git_commit(&workspace()))
        } else {
            format!("{name} {version}")
        },
        transport: server.transport.into(),
        process_model: server.process_model.clone(),
        workers: env.workers,
        ..Default::default()
    };
    run.notes.extend(server.notes.iter().cloned());
    trace_memory(&mut run, &server, "start");
    let acked = Arc::new(AtomicU64::new(0));
    let noise0 = (procs::machine_busy_seconds(), procs::self_cpu_seconds(), server.cpu_seconds(), Instant::now());
    let steal0 = procs::steal_seconds();
    let mut server_cpu_before_restarts = 0.0;

    // Peak RSS and database size as the store grows.
    let samples = Arc::new(Mutex::new(Vec::<Milestone>::new()));
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let sampler = if milestones {
        let marks: Vec<u64> = [10_000u64, 100_000, 1_000_000].into_iter().filter(|m| *m <= plan.objects).collect();
        let (acked, samples, stop) = (acked.clone(), samples.clone(), stop_sampler.clone());
        let pid = server.pid().unwrap_or(0);
        let files = server.db_files.clone();
        let t0 = Instant::now();
        Some(tokio::spawn(async move {
            let mut i = 0;
            while i < marks.len() {
                // Read the flag first: one last look at the counter after ingest has ended.
                let stopping = stop.load(Ordering::Relaxed);
                let n = acked.load(Ordering::Relaxed);
                // A few objects of the corpus are revisions skipped as duplicates: 1% slack.
                if n >= marks[i] - marks[i] / 100 {
                    let (hwm, rss) = procs::memory(pid).unwrap_or((0, 0));
                    let db: u64 = files.iter().map(|p| procs::file_size(p)).sum();
                    samples.lock().unwrap().push(Milestone {
                        objects: n,
                        seconds: workloads::round3(t0.elapsed().as_secs_f64()),
                        peak_rss_bytes: hwm,
                        rss_bytes: rss,
                        db_files_bytes: db,
                        db_bytes_per_object: workloads::round3(db as f64 / n.max(1) as f64),
                    });
                    i += 1;
                    continue;
                }
                if stopping {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }))
    } else {
        None
    };

    // (1) ingest
    for (size, envs) in [(100usize, corpus.phase100.clone()), (1000, corpus.phase1000.clone())] {
        if envs.is_empty() {
            continue;
        }
        let r = workloads::ingest(&server, "bench", envs.clone(), size, cli.partners, plan.bound, acked.clone()).await;
        log(format!(
            "{name}: ingest, envelopes of {size}: {} of {} objects acknowledged in {:.2} s = {:.0}/s; server CPU {:.1} s, disk writes {:.0} B/object{}{}",
            r.acknowledged,
            r.objects,
            r.seconds,
            r.objects_per_s,
            r.cpu.server_s,
            r.disk_write_bytes_per_object,
            if r.timed_out { " (TIME BOUND REACHED)" } else { "" },
            r.example_error.as_ref().map(|e| format!("; {}", first_line(e))).unwrap_or_default()
        ));
        let timed_out = r.timed_out;
        run.ingest.push(r);
        trace_memory(&mut run, &server, &format!("ingest_env{size}"));
        server.check_alive()?;
        if timed_out && size == 100 && kind == Kind::Medallion {
            // Drop its backlog and continue from where a complete first phase would be.
            server_cpu_before_restarts += server.cpu_seconds();
            server.stop().await;
            server = start(env, kind, dir, Some(&corpus.phase100)).await?;
            run.load_notes
                .push("envelopes-of-100 phase ran out of time: restarted with that phase's objects preloaded".into());
        }
    }
    stop_sampler.store(true, Ordering::Relaxed);
    if let Some(s) = sampler {
        let _ = s.await;
    }
    run.milestones = samples.lock().unwrap().clone();
    let incomplete = run.ingest.iter().any(|r| r.timed_out || r.acknowledged + r.failed < r.objects as u64);
    if incomplete && kind == Kind::Medallion {
        server_cpu_before_restarts += server.cpu_seconds();
        server.stop().await;
        server = start(env, kind, dir, Some(&corpus.all)).await?;
        run.load_notes
            .push("ingest did not complete: restarted with the whole corpus preloaded from its data file".into());
    }
    if kind == Kind::Medallion {
        run.notes.push(
            "medallion keeps the state behind a `next` for 30 s after creating it (memory backend session_timeout); \
             every request deep-copies the whole collection (collection_exists and permission checks), and the first \
             page of a listing sorts and filters with O(n²) loops, so its cost grows with the square of the collection."
                .into(),
        );
    }
    if kind == Kind::Opentaxii && run.ingest.iter().any(|r| r.http_errors > 0) {
        run.notes.push(
            "OpenTAXII 0.9.3 (the current PyPI release) answers every TAXII 2.1 POST with HTTP 500: the status resource has a \
             UUID that its JSON encoder cannot serialise (fixed on its master branch, unreleased). The objects are committed \
             before the error, so the read workloads run on the full corpus."
                .into(),
        );
    }

    // (2) full pull
    let pull = workloads::pull(&server, "bench", 0, 1000, plan.runs, plan.bound).await;
    log(format!(
        "{name}: full pull: {} objects, median {:.0}/s over {} run(s){}{}",
        pull.objects,
        pull.median_objects_per_s,
        pull.runs.len(),
        if pull.timed_out {
            format!(" (TIME BOUND REACHED after {} objects)", pull.partial_objects)
        } else {
            String::new()
        },
        pull.error.as_ref().map(|e| format!("; {}", first_line(e))).unwrap_or_default()
    ));
    let visible = if pull.objects > 0 {
        pull.objects
    } else {
        corpus.all.iter().map(|e| e.objects as u64).sum::<u64>() - corpus.revisions
    };
    let pull_stuck = pull.timed_out;
    run.pull = Some(pull);
    trace_memory(&mut run, &server, "pull");
    if pull_stuck && kind != Kind::Hub {
        server_cpu_before_restarts += server.cpu_seconds();
        server = restart_peer(env, kind, dir, corpus, server, &mut run).await?;
    }

    // (4) deep pagination: page 1 vs page 1,000
    let limit = (visible / 1000).max(1);
    let deep = workloads::deep_pagination(&server, "bench", 0, limit, 1000, cli.page_samples, plan.bound).await;
    log(format!(
        "{name}: deep pagination (limit {limit}): page 1 {:?} ms, page {} {:?} ms, ratio {:?}{}{}",
        deep.page1_median_ms,
        deep.pages_walked,
        deep.page_deep_median_ms,
        deep.ratio,
        if deep.timed_out { " (TIME BOUND REACHED)" } else { "" },
        deep.error.as_ref().map(|e| format!("; {}", first_line(e))).unwrap_or_default()
    ));
    let deep_stuck = deep.timed_out;
    run.deep = Some(deep);
    trace_memory(&mut run, &server, "deep_pagination");
    if deep_stuck && kind != Kind::Hub {
        server_cpu_before_restarts += server.cpu_seconds();
        server = restart_peer(env, kind, dir, corpus, server, &mut run).await?;
    }

    // (5) TLP filtering (the hub only: the peers have no per-object sharing rules)
    if kind == Kind::Hub {
        let mut gen = Generator::new(workloads::tlp_stream(cli.seed, server.identities.clone()));
        let mut plain_gen = Generator::new(Stream {
            markings: Markings::Shared,
            ..workloads::tlp_stream(cli.seed, server.identities.clone())
        });
        let (mut envs, mut plain) = (Vec::new(), Vec::new());
        let mut left = plan.tlp_objects.min(objects_of(corpus));
        while left > 0 {
            let size = left.min(100) as usize;
            envs.push(gen.envelope(size));
            plain.push(plain_gen.envelope(size));
            left -= size as u64;
        }
        let rounds = match plan.tlp_objects {
            0..=20_000 => 5,
            20_001..=100_000 => 3,
            _ => 1,
        };
        let r =
            workloads::tlp(&server, Arc::new(envs), Arc::new(plain), cli.partners, rounds, plan.bound, acked.clone())
                .await;
        log(format!(
            "{name}: TLP: ingest {:.0}/s ({} failures); pulls unfiltered/filtered: median {:.0}/{:.0}/s, best {:.0}/{:.0}/s; median page {:.2}/{:.2} µs/object: cost {:+.1}% (median page), {:+.1}% (best pulls), {:+.1}% (median pulls){}{}",
            r.ingest.objects_per_s,
            r.ingest.failed,
            r.unfiltered_median,
            r.filtered_median,
            r.unfiltered_best,
            r.filtered_best,
            r.unfiltered_us_per_object,
            r.filtered_us_per_object,
            r.cost_pct,
            r.cost_best_pct,
            r.cost_median_pct,
            if r.visibility_mismatches.is_empty() {
                String::new()
            } else {
                format!("; VISIBILITY MISMATCH: {:?}", r.visibility_mismatches)
            },
            r.error.as_ref().map(|e| format!("; {}", first_line(e))).unwrap_or_default()
        ));
        run.tlp = Some(r);
        trace_memory(&mut run, &server, "tlp");
    }

    // (3) incremental polling while ingest runs
    let spec = PollSpec {
        pollers: cli.pollers,
        interval: Duration::from_millis(cli.poll_interval_ms),
        duration: Duration::from_secs(plan.poll_seconds),
        ingest_per_s: cli.poll_ingest_rate,
        cap: plan.bound,
        partners: cli.partners,
        live: Stream { tag: "live", ..bench_stream(cli.seed, cli.partners) },
    };
    let p = workloads::poll(&server, "bench", &spec, acked.clone()).await;
    log(format!(
        "{name}: polling: {} polls, p50 {:?} ms, p99 {:?} ms, {} unfinished, {} errors, {} objects delivered; ingest {:.0}/s{}",
        p.polls,
        p.p50_ms,
        p.p99_ms,
        p.unfinished,
        p.errors,
        p.objects_delivered,
        p.ingest_per_s,
        p.example_error.as_ref().map(|e| format!("; {}", first_line(e))).unwrap_or_default()
    ));
    run.poll = Some(p);
    trace_memory(&mut run, &server, "poll");

    // (6) memory and database size
    server.check_alive()?;
    run.peak_rss_bytes = server.peak_rss();
    {
        let wall = noise0.3.elapsed().as_secs_f64();
        let busy = procs::machine_busy_seconds() - noise0.0;
        let own = procs::self_cpu_seconds() - noise0.1;
        let srv = server.cpu_seconds() + server_cpu_before_restarts - noise0.2;
        run.other_cpu_s = workloads::round3((busy - own - srv).max(0.0));
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as f64;
        run.other_cpu_share = workloads::round3(run.other_cpu_s / (wall * cores).max(1e-9));
        run.steal_cpu_s = workloads::round3(procs::steal_seconds() - steal0);
    }
    let stored = acked.load(Ordering::Relaxed)
        + run.ingest.iter().map(|r| if kind == Kind::Opentaxii { r.objects_in_error_answers } else { 0 }).sum::<u64>();
    run.objects_stored = stored;
    let live_db = server.db_bytes();
    server.stop().await;
    match kind {
        Kind::Hub => {
            let (bytes, breakdown) = servers::hub_db_after_checkpoint(dir);
            run.db_bytes = Some(bytes);
            run.db_breakdown = breakdown;
            run.notes.push(format!("database files before the final checkpoint: {live_db} bytes"));
        }
        Kind::Opentaxii => run.db_bytes = Some(live_db),
        Kind::Medallion => {}
    }
    run.db_bytes_per_object = run.db_bytes.map(|b| workloads::round3(b as f64 / stored.max(1) as f64));
    run.seconds = workloads::round3(t.elapsed().as_secs_f64());
    log(format!(
        "{name}: peak RSS {:.0} MB, database {} bytes for {stored} objects; {:.0} s",
        run.peak_rss_bytes as f64 / 1e6,
        run.db_bytes.map(|b| b.to_string()).unwrap_or_else(|| "n/a".into()),
        run.seconds
    ));
    Ok(run)
}

fn objects_of(c: &Corpus) -> u64 {
    c.all.iter().map(|e| e.objects as u64).sum()
}

/// A peer still busy with requests that ran out of time would slow down the next workload:
/// restart it (medallion with the corpus preloaded; OpenTAXII keeps its SQLite file).
async fn restart_peer(
    env: &Env,
    kind: Kind,
    dir: &Path,
    corpus: &Corpus,
    mut server: Server,
    run: &mut ServerRun,
) -> Result<Server, String> {
    server.stop().await;
    let s = match kind {
        Kind::Medallion => start(env, kind, dir, Some(&corpus.all)).await?,
        Kind::Opentaxii => servers::restart_opentaxii(env, server).await?,
        Kind::Hub => unreachable!(),
    };
    run.load_notes.push("restarted after a workload ran out of time, to drop its backlog".into());
    Ok(s)
}

// ---- the table ---------------------------------------------------------------------------------

/// What the table's labels need to know about the run.
struct TableParams {
    partners: usize,
    pollers: usize,
    poll_interval_ms: u64,
    poll_ingest_rate: f64,
}

fn build_sections(cli: &TableParams, sets: &[SetRun]) -> Vec<Section> {
    let mut out = Vec::new();
    for set in sets {
        let targets = set.name != "compare";
        let versus_medallion = set.name != "scale";
        let title = match set.name.as_str() {
            "main" => format!("{} objects, hub and peers on the same workload", report::thousands(set.objects as i64)),
            "compare" => {
                format!("{} objects, hub and peers on the same workload", report::thousands(set.objects as i64))
            }
            _ => format!("{} objects, hub only (the targets are defined here)", report::thousands(set.objects as i64)),
        };
        let get = |k: Kind| -> Option<&Outcome> { set.servers.get(k.name()) };
        let val = |k: Kind, f: &dyn Fn(&ServerRun) -> Val| -> Val {
            match get(k) {
                None => Val::NotRun,
                Some(Outcome::NotAvailable { reason }) => Val::na(reason.clone()),
                Some(Outcome::Ran(r)) => f(r),
            }
        };
        let row = |key: &str,
                   label: String,
                   unit: Unit,
                   better: Better,
                   f: &dyn Fn(&ServerRun) -> Val,
                   target: Option<Target>,
                   regression: bool| Row {
            key: format!("{}.{key}", set.name),
            label,
            unit,
            better,
            hub: val(Kind::Hub, f),
            medallion: val(Kind::Medallion, f),
            opentaxii: val(Kind::Opentaxii, f),
            target: if targets { target } else { None },
            regression,
        };
        let expected_visible = set.corpus["distinct_ids"].as_u64().unwrap_or(set.objects);
        let at_1m = |t: &str| if set.objects >= 1_000_000 { t.to_string() } else { format!("{t} (at 1M)") };
        let mut rows = Vec::new();
        for (i, size) in [(0usize, 100u64), (1, 1000)] {
            rows.push(row(
                &format!("ingest_env{size}"),
                format!("(1) ingest, {} partners × envelopes of {}", cli.partners, report::thousands(size as i64)),
                Unit::ObjPerS,
                Better::Higher,
                &move |r: &ServerRun| r.ingest.get(i).map(|x| ingest_val(x, &r.server)).unwrap_or(Val::NotRun),
                Some(Target { value: 30_000.0, text: "≥ 30,000/s".into() }),
                true,
            ));
        }
        rows.push(row(
            "pull",
            "(2) full pull, limit=1000 via next".into(),
            Unit::ObjPerS,
            Better::Higher,
            &|r: &ServerRun| r.pull.as_ref().map(|p| pull_val(p, expected_visible)).unwrap_or(Val::NotRun),
            Some(Target { value: 150_000.0, text: "≥ 150,000/s".into() }),
            true,
        ));
        let poll_label =
            format!("{} pollers every {} ms, ingest {}/s", cli.pollers, cli.poll_interval_ms, cli.poll_ingest_rate);
        rows.push(row(
            "poll_p50",
            format!("(3) poll p50 ({poll_label})"),
            Unit::Ms,
            Better::Lower,
            &|r: &ServerRun| r.poll.as_ref().map(|p| poll_val(p, p.p50_ms)).unwrap_or(Val::NotRun),
            None,
            true,
        ));
        rows.push(row(
            "poll_p99",
            "(3) poll p99".into(),
            Unit::Ms,
            Better::Lower,
            &|r: &ServerRun| r.poll.as_ref().map(|p| poll_val(p, p.p99_ms)).unwrap_or(Val::NotRun),
            Some(Target { value: 20.0, text: at_1m("≤ 20 ms") }),
            true,
        ));
        let limit = sets
            .iter()
            .find(|s| s.name == set.name)
            .and_then(|s| match s.servers.get("hub") {
                Some(Outcome::Ran(r)) => r.deep.as_ref().map(|d| d.limit),
                _ => None,
            })
            .unwrap_or(0);
        rows.push(row(
            "page1",
            format!("(4) deep pagination: page 1 (limit={limit})"),
            Unit::Ms,
            Better::Lower,
            &|r: &ServerRun| r.deep.as_ref().map(|d| deep_val(d, d.page1_median_ms, true)).unwrap_or(Val::NotRun),
            None,
            true,
        ));
        rows.push(row(
            "page1000",
            "(4) deep pagination: page 1,000".into(),
            Unit::Ms,
            Better::Lower,
            &|r: &ServerRun| r.deep.as_ref().map(|d| deep_val(d, d.page_deep_median_ms, false)).unwrap_or(Val::NotRun),
            None,
            true,
        ));
        rows.push(row(
            "page_ratio",
            "(4) page 1,000 ÷ page 1".into(),
            Unit::Times,
            Better::Lower,
            &|r: &ServerRun| match r.deep.as_ref() {
                Some(d) if d.timed_out => {
                    Val::na(format!("page 1,000 not reached within the {:.0} s bound", d.bound_s))
                }
                Some(d) => d.ratio.map(Val::num).unwrap_or_else(|| deep_val(d, None, false)),
                None => Val::NotRun,
            },
            Some(Target { value: 1.5, text: "≤ 1.5×".into() }),
            false,
        ));
        let no_tlp = "no per-object TLP sharing rules: every reader sees every object";
        rows.push(row(
            "tlp_pull",
            format!("(5) full pull with TLP filtering, {} organisations", cli.partners),
            Unit::ObjPerS,
            Better::Higher,
            &|r: &ServerRun| match &r.tlp {
                Some(t) if t.filtered_median > 0.0 => Val::num(t.filtered_median),
                Some(t) => Val::na(t.error.clone().unwrap_or_else(|| "no measurement".into())),
                None => Val::na(no_tlp),
            },
            None,
            true,
        ));
        rows.push(row(
            "tlp_cost",
            "(5) TLP filtering cost (median page, filtered vs unfiltered)".into(),
            Unit::Percent,
            Better::Lower,
            &|r: &ServerRun| match &r.tlp {
                Some(t) if t.filtered_median > 0.0 && t.unfiltered_median > 0.0 => Val::num(t.cost_pct),
                Some(_) => Val::na("no measurement"),
                None => Val::na(no_tlp),
            },
            Some(Target { value: 10.0, text: "≤ 10%".into() }),
            false,
        ));
        for m in [10_000u64, 100_000, 1_000_000] {
            if !targets || m > set.objects || set.objects <= 10_000 {
                continue;
            }
            let label = report::thousands(m as i64);
            rows.push(row(
                &format!("rss_at_{m}"),
                format!("(6) peak RSS when {label} objects were stored"),
                Unit::Mb,
                Better::Lower,
                &move |r: &ServerRun| {
                    r.milestones
                        .iter()
                        .find(|x| x.objects >= m - m / 100)
                        .map(|x| Val::num(x.peak_rss_bytes as f64 / 1e6))
                        .unwrap_or(Val::NotRun)
                },
                if m == 1_000_000 { Some(Target { value: 200.0, text: "≤ 200 MB".into() }) } else { None },
                false,
            ));
            rows.push(row(
                &format!("db_at_{m}"),
                format!("(6) database bytes/object at {label} (db + WAL)"),
                Unit::BytesPerObject,
                Better::Lower,
                &move |r: &ServerRun| {
                    r.milestones
                        .iter()
                        .find(|x| x.objects >= m - m / 100)
                        .map(|x| Val::num(x.db_bytes_per_object))
                        .unwrap_or(Val::NotRun)
                },
                None,
                false,
            ));
        }
        rows.push(row(
            "peak_rss",
            "(6) peak RSS, whole run".into(),
            Unit::Mb,
            Better::Lower,
            &|r: &ServerRun| Val::num(r.peak_rss_bytes as f64 / 1e6),
            Some(Target { value: 200.0, text: at_1m("≤ 200 MB") }),
            true,
        ));
        rows.push(row(
            "db_bytes_per_object",
            "(6) database bytes per stored object, end of run".into(),
            Unit::BytesPerObject,
            Better::Lower,
            &|r: &ServerRun| match r.db_bytes_per_object {
                Some(b) => Val::num(b),
                None => Val::na("memory backend: no database"),
            },
            None,
            true,
        ));
        if versus_medallion && set.servers.contains_key("medallion") {
            let pull_row = rows.iter().find(|r| r.key.ends_with(".pull")).cloned();
            let hub = match pull_row {
                Some(r) => match (r.hub.value(), &r.medallion) {
                    (Some(h), Val::Num { value }) if *value > 0.0 => Val::num(h / value),
                    (Some(h), Val::Beyond { bound, .. }) if *bound > 0.0 => Val::AtLeast { value: h / bound },
                    (_, Val::Na { reason }) => Val::na(reason.clone()),
                    _ => Val::na("no measurement"),
                },
                None => Val::NotRun,
            };
            let note = if set.objects == 10_000 {
                String::new()
            } else {
                format!(" (target at 10k; here {})", report::thousands(set.objects as i64))
            };
            rows.push(Row {
                key: format!("{}.pull_vs_medallion", set.name),
                label: "(2) full pull, hub ÷ medallion, same run".into(),
                unit: Unit::Times,
                better: Better::Higher,
                hub,
                medallion: Val::NotRun,
                opentaxii: Val::NotRun,
                target: Some(Target { value: 100.0, text: format!("≥ 100×{note}") }),
                regression: false,
            });
        }
        out.push(Section { title, rows });
    }
    out
}

fn bound_text(s: f64) -> String {
    format!("> {s:.0} s")
}

fn ingest_val(r: &IngestResult, server: &str) -> Val {
    if r.timed_out {
        // It took longer than the bound to ingest them all: the rate was below objects ÷ bound.
        return Val::Beyond { bound: r.objects as f64 / r.bound_s, shown: bound_text(r.bound_s) };
    }
    if r.acknowledged == 0 {
        return Val::na(match &r.example_error {
            Some(e) if r.http_errors > 0 => {
                let status = first_line(e).split(':').next().unwrap_or("an error").to_string();
                let stored = format!(
                    "; it stored the objects anyway, at {:.0}/s (envelopes of {})",
                    r.objects_in_error_answers as f64 / r.seconds.max(1e-9),
                    r.envelope_size
                );
                if server == "opentaxii" {
                    format!(
                        "every POST answered {status}: OpenTAXII 0.9.3 (latest on PyPI) cannot JSON-encode the UUID in its status \
                         resource (fixed on its master branch, unreleased){stored}"
                    )
                } else {
                    format!("every POST answered {status}")
                }
            }
            Some(e) => first_line(e),
            None => "nothing acknowledged".into(),
        });
    }
    Val::num(r.objects_per_s)
}

fn pull_val(p: &PullResult, expected: u64) -> Val {
    if p.timed_out {
        // The whole pull took longer than the bound: the rate was below objects ÷ bound.
        return Val::Beyond { bound: expected.max(p.partial_objects) as f64 / p.bound_s, shown: bound_text(p.bound_s) };
    }
    if p.runs.is_empty() {
        return Val::na(p.error.clone().map(|e| first_line(&e)).unwrap_or_else(|| "no measurement".into()));
    }
    Val::num(p.median_objects_per_s)
}

fn poll_val(p: &PollResult, v: Option<f64>) -> Val {
    match v {
        Some(ms) => Val::num(ms),
        None if p.unfinished > 0 => Val::Beyond { bound: p.cap_s * 1000.0, shown: bound_text(p.cap_s) },
        None => Val::na(p.example_error.clone().map(|e| first_line(&e)).unwrap_or_else(|| "no polls completed".into())),
    }
}

fn deep_val(d: &DeepResult, v: Option<f64>, page1: bool) -> Val {
    match v {
        // Page 1 came back even when the walk to page 1,000 ran out of time.
        Some(ms) if !d.timed_out || page1 => Val::num(ms),
        // Page 1 itself took longer than the bound.
        _ if d.timed_out && d.pages_walked == 0 => {
            Val::Beyond { bound: d.bound_s * 1000.0, shown: bound_text(d.bound_s) }
        }
        // The walk through pages 2..999 ran out of time: page 1,000 was never requested.
        _ if d.timed_out => Val::Beyond { bound: 0.0, shown: format!("walk {}", bound_text(d.bound_s)) },
        _ => Val::na(match &d.error {
            // "GET <url> [params]: HTTP 400: <body>" → "stopped at page N: HTTP 400: <body>"
            Some(e) => format!(
                "stopped at page {}: {}",
                d.pages_walked + 1,
                first_line(e.find("HTTP ").map(|i| &e[i..]).unwrap_or(e))
            ),
            None => "no timing".into(),
        }),
    }
}

/// `table FILE...`: the table of stored results again (e.g. after a change to its layout).
fn retable(cli: &Cli) -> u8 {
    for f in &cli.files {
        let v: serde_json::Value = match std::fs::read(f).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(v) => v,
            None => {
                eprintln!("taxii-hub-bench table: cannot read {}", f.display());
                return 2;
            }
        };
        let sets: Vec<SetRun> = match serde_json::from_value(v["sets"].clone()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("taxii-hub-bench table: {}: {e}", f.display());
                return 2;
            }
        };
        let p = &v["plan"];
        let params = TableParams {
            partners: p["partners"].as_u64().unwrap_or(5) as usize,
            pollers: p["pollers"].as_u64().unwrap_or(100) as usize,
            poll_interval_ms: p["poll_interval_ms"].as_u64().unwrap_or(1000),
            poll_ingest_rate: p["poll_ingest_rate"].as_f64().unwrap_or(200.0),
        };
        let sections = build_sections(&params, &sets);
        println!(
            "{} ({} mode, started {})\n",
            f.display(),
            v["mode"].as_str().unwrap_or("?"),
            v["started"].as_str().unwrap_or("?")
        );
        if cli.markdown {
            println!("{}", report::markdown_table(&sections));
        } else {
            print!("{}", report::text_table(&sections));
        }
    }
    0
}

// ---- baseline ----------------------------------------------------------------------------------

fn write_baseline(cli: &Cli) -> u8 {
    if cli.files.is_empty() {
        eprintln!("taxii-hub-bench baseline: give one or more result files (bench/results/quick-*.json)");
        return 2;
    }
    let mut runs: BTreeMap<String, (report::Metric, Vec<f64>)> = BTreeMap::new();
    let mut machine = json!(null);
    let mut commit = String::new();
    for f in &cli.files {
        let v: serde_json::Value = match std::fs::read(f).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
            Some(v) => v,
            None => {
                eprintln!("taxii-hub-bench baseline: cannot read {}", f.display());
                return 2;
            }
        };
        machine = v["machine"].clone();
        commit = v["hub_commit"].as_str().unwrap_or_default().to_string();
        let metrics: BTreeMap<String, report::Metric> =
            serde_json::from_value(v["regression_metrics"].clone()).unwrap_or_default();
        for (k, m) in metrics {
            runs.entry(k).or_insert_with(|| (m.clone(), Vec::new())).1.push(m.value);
        }
    }
    let metrics = runs
        .into_iter()
        .map(|(k, (mut m, mut vals))| {
            m.value = workloads::round3(workloads::median(&mut vals).unwrap_or(m.value));
            m.runs = vals;
            (k, m)
        })
        .collect();
    let b = Baseline {
        mode: "quick".into(),
        recorded: chrono_now(),
        machine,
        from: cli
            .files
            .iter()
            .map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default())
            .collect(),
        hub_commit: commit,
        metrics,
    };
    let path = cli.baseline.clone().unwrap_or_else(|| workspace().join("bench/baseline-quick.json"));
    match std::fs::write(&path, serde_json::to_vec_pretty(&b).unwrap()) {
        Ok(()) => {
            println!("wrote {} (median of {} runs)", path.display(), cli.files.len());
            0
        }
        Err(e) => {
            eprintln!("taxii-hub-bench baseline: {}: {e}", path.display());
            2
        }
    }
}

// ---- small helpers -----------------------------------------------------------------------------

fn chrono_now() -> String {
    let s = corpus::ts_micros(corpus::now_micros());
    format!("{}Z", &s[..19])
}

/// `2026-01-02T03:04:05Z` → `20260102T030405Z`
fn compact(ts: &str) -> String {
    ts.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

fn git_commit(ws: &Path) -> String {
    let out = std::process::Command::new("git").arg("-C").arg(ws).args(["describe", "--always", "--dirty"]).output();
    out.ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The binary measured (the shared target directory may be rebuilt by others between runs).
fn binary_info(path: &Path) -> serde_json::Value {
    use std::hash::Hasher;
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| corpus::ts_micros(d.as_micros() as i64));
    // A cheap fingerprint (not cryptographic): tells two builds apart.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    if let Ok(bytes) = std::fs::read(path) {
        h.write(&bytes);
    }
    json!({ "path": path, "bytes": meta.map(|m| m.len()), "modified": modified, "fingerprint": format!("{:016x}", h.finish()) })
}

fn machine_json(cores: usize, filesystem: &str) -> serde_json::Value {
    json!({
        "cores": cores,
        "cpu": procs::cpu_model(),
        "memory_bytes": procs::total_memory_bytes(),
        "kernel": procs::kernel(),
        "data_filesystem": filesystem,
    })
}
