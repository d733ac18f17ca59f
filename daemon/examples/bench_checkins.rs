//! What group commit buys: single check-ins per second at several client concurrencies.
//!
//! For each concurrency level C this starts a fresh `cecd` child process on a fresh data
//! directory (listening on 127.0.0.1 port 0), creates one event with its sessions (and a roster,
//! if asked) through the API, sends a fixed number of single `POST /v1/checkins` from C
//! concurrent clients, and reads the writer's batch counters from `GET /metrics` before and
//! after, the node's CPU time from `/proc/<pid>/stat` and the machine's from `/proc/stat`. Then
//! it kills the node (SIGKILL), starts it again on the same directory and counts the stored
//! check-ins. One more run sends the same kind of check-ins through `POST /v1/checkins/batch`.
//! Before the runs it times `fdatasync` in the data root, the floor under one commit.
//!
//! Every loop has a fixed count and every wait a timeout; the program stops by itself.
//! It needs the `cecd` binary: `cargo build --release -p cecd` first (see BENCHMARKS.md).
//!
//! A node runs in its own process because `/metrics` is process-wide: its counters only go
//! up (`absolute` keeps the maximum), so two nodes in one process would blur each other's.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The event every run creates.
const EVENT: &str = "bench-event";

/// Group-commit benchmark of cecd: single check-ins at several concurrencies, and one batch run.
#[derive(Debug, Parser)]
#[command(name = "bench_checkins")]
struct Args {
    /// Single check-ins sent at each concurrency level
    #[arg(long, default_value_t = 2000)]
    checkins: usize,

    /// Concurrency levels, comma-separated; each runs on a fresh node and data directory
    #[arg(long, value_delimiter = ',', default_values_t = [1, 4, 16, 64])]
    concurrency: Vec<usize>,

    /// Sessions in the event; check-in i goes to session i mod sessions
    #[arg(long, default_value_t = 8)]
    sessions: usize,

    /// Members the check-ins are spread over; check-in i is member i mod members
    #[arg(long, default_value_t = 500)]
    members: usize,

    /// Members put on the event's roster (0: no roster). Every check-in reads the whole event,
    /// roster included, so this changes the result (see BENCHMARKS.md)
    #[arg(long, default_value_t = 0)]
    roster: usize,

    /// Check-ins per request in the batch run (at most 1000; 0 skips the batch run)
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,

    /// Check-ins sent in the batch run, one request at a time
    #[arg(long, default_value_t = 2000)]
    batch_checkins: usize,

    /// The cecd binary [default: the `cecd` of this example's target directory]
    #[arg(long)]
    cecd: Option<PathBuf>,

    /// Where the fresh data directories (and the fsync probe file) go [default: the temp dir]
    #[arg(long)]
    data_root: Option<PathBuf>,

    /// Timeout of one HTTP request, in seconds
    #[arg(long, default_value_t = 30)]
    request_timeout: u64,

    /// Timeout of one whole run (one concurrency level), in seconds
    #[arg(long, default_value_t = 300)]
    run_timeout: u64,

    /// fdatasync calls timed before the runs, per probe (0: skip)
    #[arg(long, default_value_t = 200)]
    fsync_probe: usize,
}

/// The writer's counters and the stored check-ins, from `GET /metrics`.
#[derive(Debug, Clone, Default)]
struct Metrics {
    batches: u64,
    jobs: u64,
    batches_failed: u64,
    /// The largest batch since the node started (a gauge, so no difference can be taken).
    batch_size_max: u64,
    stored: u64,
    /// `(up_to, count)` of `cecd_write_batch_size_count`, by bound.
    buckets: Vec<(String, u64)>,
}

impl Metrics {
    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut m = Self::default();
        let mut seen = 0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else { continue };
            let value: f64 = match value.parse() {
                Ok(v) => v,
                Err(_) => continue,
            };
            // Counters and gauges here are whole numbers well below 2^53.
            let n = value as u64;
            match key {
                "cecd_write_batches_total" => (m.batches, seen) = (n, seen + 1),
                "cecd_write_jobs_total" => (m.jobs, seen) = (n, seen + 1),
                "cecd_write_batch_size_max" => (m.batch_size_max, seen) = (n, seen + 1),
                "cecd_write_batches_failed_total" => m.batches_failed = n,
                "cecd_checkins_stored" => m.stored = n,
                _ => {
                    if let Some(rest) = key.strip_prefix("cecd_write_batch_size_count{up_to=\"") {
                        m.buckets.push((rest.trim_end_matches("\"}").to_owned(), n));
                    }
                }
            }
        }
        ensure!(seen == 3, "GET /metrics lacks the cecd_write_* metrics");
        // The exporter renders label sets in no fixed order.
        m.buckets.sort_by_key(|(bound, _)| bound.parse::<u64>().unwrap_or(u64::MAX));
        Ok(m)
    }

    /// Batches committed between `before` and `self`, by size bucket: `≤1: 30 · ≤2: 4`.
    fn bucket_delta(&self, before: &Self) -> String {
        let mut out = String::new();
        for (bound, after) in &self.buckets {
            let was = before.buckets.iter().find(|(b, _)| b == bound).map_or(0, |(_, n)| *n);
            if after > &was {
                let _ = write!(out, "≤{bound}: {} · ", after - was);
            }
        }
        out.trim_end_matches(" · ").to_owned()
    }
}

/// A `cecd` child process and how to talk to it.
#[derive(Debug)]
struct Node {
    child: Child,
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Node {
    /// Starts `bin` on `data_dir`, logging to `log`, and waits for `<data_dir>/api-url`.
    async fn start(bin: &Path, data_dir: &Path, log: &Path, request_timeout: Duration) -> anyhow::Result<Self> {
        let url_file = data_dir.join("api-url");
        // A stale file from an earlier (killed) process on this directory would point elsewhere.
        let _ = std::fs::remove_file(&url_file);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = loop {
            if let Ok(url) = std::fs::read_to_string(&url_file) {
                break url.trim().to_owned();
            }
            if let Some(status) = child.try_wait()? {
                bail!("cecd exited with {status} before listening; see {}", log.display());
            }
            if Instant::now() > deadline {
                bail!("cecd did not write {} within 30 s; see {}", url_file.display(), log.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        ensure!(url.starts_with("http://127.0.0.1:"), "cecd listens on {url}, not on 127.0.0.1");
        let token = std::fs::read_to_string(data_dir.join("api-token")).context("cannot read api-token")?;
        let http = reqwest::Client::builder().no_proxy().timeout(request_timeout).build()?;
        Ok(Self { child, url, token: token.trim().to_owned(), http })
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http.post(format!("{}{path}", self.url)).bearer_auth(&self.token).json(body)
    }

    /// POSTs `body` and fails unless the answer is 200 or 201.
    async fn post_ok(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self.post(path, body).send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        ensure!(status.as_u16() == 200 || status.as_u16() == 201, "POST {path}: {status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn metrics(&self) -> anyhow::Result<Metrics> {
        let resp = self
            .http
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.token)
            .send()
            .await
            .context("GET /metrics")?;
        let status = resp.status();
        let text = resp.text().await?;
        ensure!(status.is_success(), "GET /metrics: {status}: {text}");
        Metrics::parse(&text)
    }

    /// SIGKILL, then reap.
    async fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().await.context("cannot kill cecd")
    }
}

/// Creates the event, its sessions and its roster.
async fn setup(node: &Node, args: &Args) -> anyhow::Result<()> {
    node.post_ok(
        "/v1/events",
        &json!({
            "id": EVENT,
            "title": "Benchmark conference",
            "provider": {"id": "bench-provider", "name": "Benchmark provider",
                         "endorsement": {"number": "B-1", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
            "timezone": "America/Chicago",
        }),
    )
    .await?;
    for s in 0..args.sessions {
        node.post_ok(
            &format!("/v1/events/{EVENT}/sessions"),
            &json!({
                "id": session_id(s),
                "title": format!("Session {s}"),
                "starts_at": "2026-04-16T09:00:00Z",
                "segments": [{"kind": "instruction", "minutes": 60}],
            }),
        )
        .await?;
    }
    if args.roster > 0 {
        let members: Vec<Value> = (0..args.roster)
            .map(|m| json!({"member_id": member_id(m), "name": format!("Member {m}"), "email": format!("m{m}@example.org")}))
            .collect();
        node.post_ok(&format!("/v1/events/{EVENT}/roster"), &json!({ "members": members })).await?;
    }
    Ok(())
}

fn session_id(s: usize) -> String {
    format!("s{s}")
}

fn member_id(m: usize) -> String {
    format!("m{m:05}")
}

/// Check-in number `i`: session `i mod sessions`, member `i mod members`, `in` on a member's
/// odd rounds through the list and `out` on even ones, one second apart from 09:00.
fn checkin(prefix: &str, i: usize, args: &Args) -> Value {
    let direction = if (i / args.members).is_multiple_of(2) { "in" } else { "out" };
    let secs = i % 3600;
    json!({
        "id": format!("{prefix}-{i}"),
        "event_id": EVENT,
        "session_id": session_id(i % args.sessions),
        "member_id": member_id(i % args.members),
        "direction": direction,
        "at": format!("2026-04-16T09:{:02}:{:02}Z", secs / 60, secs % 60),
        "method": "badge",
    })
}

/// The result of one run.
#[derive(Debug)]
struct RunResult {
    label: String,
    concurrency: usize,
    checkins: usize,
    requests: usize,
    elapsed: Duration,
    /// Per request, sorted.
    latencies: Vec<Duration>,
    /// Median latency of the first and of the last tenth of the requests, in sending order.
    early_late: (Duration, Duration),
    /// CPU time the node process used during the measured part.
    node_cpu: Option<Duration>,
    /// Share of all CPUs busy (any process) during the measured part, in percent.
    machine_busy: Option<f64>,
    errors: usize,
    first_error: Option<String>,
    before: Metrics,
    after: Metrics,
    stored_after_restart: u64,
}

impl RunResult {
    fn percentile(&self, p: f64) -> Duration {
        nearest_rank(&self.latencies, p)
    }
}

/// One worker's tally.
#[derive(Debug, Default)]
struct Tally {
    /// `(position of the request in sending order, latency)`.
    latencies: Vec<(usize, Duration)>,
    errors: usize,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, message: String) {
        self.errors += 1;
        self.first_error.get_or_insert(message);
    }
}

/// Sends `args.checkins` single check-ins from `concurrency` workers; the latency of a request
/// runs from sending it to having read its whole answer.
async fn single_run(node: &Arc<Node>, args: &Arc<Args>, concurrency: usize) -> anyhow::Result<(Duration, Tally)> {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (node, args, next) = (node.clone(), args.clone(), next.clone());
        workers.spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.checkins {
                    break;
                }
                let body = checkin(&format!("c{concurrency}"), i, &args);
                let t = Instant::now();
                match node.post("/v1/checkins", &body).send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        // Read the body in full, as a client would, before the clock stops.
                        let text = resp.text().await.unwrap_or_default();
                        tally.latencies.push((i, t.elapsed()));
                        if status.as_u16() != 201 {
                            tally.error(format!("check-in {i}: {status}: {text}"));
                        }
                    }
                    Err(e) => {
                        tally.latencies.push((i, t.elapsed()));
                        tally.error(format!("check-in {i}: {e}"));
                    }
                }
            }
            tally
        });
    }
    let mut total = Tally::default();
    while let Some(done) = workers.join_next().await {
        let tally = done.context("a worker panicked")?;
        total.latencies.extend(tally.latencies);
        total.errors += tally.errors;
        if total.first_error.is_none() {
            total.first_error = tally.first_error;
        }
    }
    Ok((started.elapsed(), total))
}

/// Sends `args.batch_checkins` check-ins in batches of `args.batch_size`, one request at a time.
async fn batch_run(node: &Node, args: &Args) -> anyhow::Result<(Duration, Tally, usize)> {
    let mut tally = Tally::default();
    let mut requests = 0;
    let started = Instant::now();
    for start in (0..args.batch_checkins).step_by(args.batch_size) {
        let items: Vec<Value> =
            (start..(start + args.batch_size).min(args.batch_checkins)).map(|i| checkin("batch", i, args)).collect();
        let count = items.len();
        let t = Instant::now();
        requests += 1;
        let resp = match node.post("/v1/checkins/batch", &json!({ "checkins": items })).send().await {
            Ok(resp) => resp,
            Err(e) => {
                tally.latencies.push((requests, t.elapsed()));
                for _ in 0..count {
                    tally.error(format!("batch at {start}: {e}"));
                }
                continue;
            }
        };
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        tally.latencies.push((requests, t.elapsed()));
        if status.as_u16() != 200 {
            for _ in 0..count {
                tally.error(format!("batch at {start}: {status}: {text}"));
            }
            continue;
        }
        let answer: Value = serde_json::from_str(&text).context("batch answer is not JSON")?;
        let results = answer["results"].as_array().context("batch answer has no results")?;
        for r in results.iter().filter(|r| r["status"].as_u64() != Some(201)) {
            tally.error(format!("batch at {start}: item {r}"));
        }
        for _ in results.len()..count {
            tally.error(format!("batch at {start}: {} results for {count} items", results.len()));
        }
    }
    Ok((started.elapsed(), tally, requests))
}

/// Which kind of run.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Single(usize),
    Batch,
}

/// One run on a fresh node: start, set up, measure, kill -9, restart, count, kill.
async fn run(bin: &Path, root: &Path, args: &Arc<Args>, kind: Kind) -> anyhow::Result<RunResult> {
    let dir = tempfile::Builder::new().prefix("cecd-bench-").tempdir_in(root)?;
    let data = dir.path().join("data");
    let log = dir.path().join("cecd.log");
    let timeout = Duration::from_secs(args.request_timeout);
    let node = Arc::new(Node::start(bin, &data, &log, timeout).await?);
    setup(&node, args).await?;
    let before = node.metrics().await?;
    let pid = node.child.id();
    let cpu_before = pid.and_then(process_cpu);
    let machine_before = machine_cpu();
    let run_timeout = Duration::from_secs(args.run_timeout);
    let (label, concurrency, checkins, measured) = match kind {
        Kind::Single(c) => {
            let m = tokio::time::timeout(run_timeout, single_run(&node, args, c)).await;
            let m = m.map(|r| r.map(|(elapsed, tally)| (elapsed, tally, args.checkins)));
            ("single".to_owned(), c, args.checkins, m)
        }
        Kind::Batch => {
            let m = tokio::time::timeout(run_timeout, batch_run(&node, args)).await;
            (format!("batch of {}", args.batch_size), 1, args.batch_checkins, m)
        }
    };
    let (elapsed, mut tally, requests) =
        measured.with_context(|| format!("run {label} C={concurrency} exceeded {run_timeout:?}"))??;
    let node_cpu = match (cpu_before, pid.and_then(process_cpu)) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    let machine_busy = match (machine_before, machine_cpu()) {
        (Some((busy0, total0)), Some((busy1, total1))) if total1 > total0 => {
            Some(100.0 * (busy1 - busy0) as f64 / (total1 - total0) as f64)
        }
        _ => None,
    };
    let after = node.metrics().await?;
    let node = Arc::into_inner(node).context("a worker still holds the node")?;
    node.kill().await?;
    let restarted = Node::start(bin, &data, &log, timeout).await?;
    let stored_after_restart = restarted.metrics().await?.stored;
    restarted.kill().await?;
    if tally.errors > 0 {
        let log_text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = log_text.lines().collect();
        eprintln!("  cecd log, last lines:\n{}", lines[lines.len().saturating_sub(20)..].join("\n"));
    }
    tally.latencies.sort_unstable_by_key(|(position, _)| *position);
    let tenth = tally.latencies.len().div_ceil(10);
    let median_of = |part: &[(usize, Duration)]| {
        let mut part: Vec<Duration> = part.iter().map(|(_, d)| *d).collect();
        part.sort_unstable();
        nearest_rank(&part, 50.0)
    };
    let early_late =
        (median_of(&tally.latencies[..tenth]), median_of(&tally.latencies[tally.latencies.len() - tenth..]));
    let mut latencies: Vec<Duration> = tally.latencies.into_iter().map(|(_, d)| d).collect();
    latencies.sort_unstable();
    Ok(RunResult {
        label,
        concurrency,
        checkins,
        requests,
        elapsed,
        latencies,
        early_late,
        node_cpu,
        machine_busy,
        errors: tally.errors,
        first_error: tally.first_error,
        before,
        after,
        stored_after_restart,
    })
}

/// Times `count` 4 KiB writes each followed by `fdatasync`, appending or overwriting in place.
fn fsync_probe(root: &Path, count: usize, append: bool) -> anyhow::Result<Vec<Duration>> {
    let file = tempfile::Builder::new().prefix("cecd-bench-fsync-").tempfile_in(root)?;
    let mut f = file.as_file();
    let page = [0x5a_u8; 4096];
    let mut times = Vec::with_capacity(count);
    for _ in 0..count {
        if !append {
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0))?;
        }
        let t = Instant::now();
        f.write_all(&page)?;
        f.sync_data()?;
        times.push(t.elapsed());
    }
    times.sort_unstable();
    Ok(times)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Linux's `USER_HZ`, the unit of the CPU times in `/proc`: 100 on every mainstream architecture.
const USER_HZ: u64 = 100;

/// User plus system CPU time of process `pid`, from `/proc/<pid>/stat`.
fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1000 / USER_HZ))
}

/// `(busy, total)` CPU time of the whole machine so far, in `USER_HZ` ticks, from `/proc/stat`.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = cpu.split_whitespace().take(8).map(|t| t.parse().unwrap_or(0)).collect();
    let total: u64 = ticks.iter().sum();
    // idle and iowait
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle, total))
}

/// CPUs and CPU model, as far as Linux tells.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned()))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("machine: {cpus} CPUs available · {model}")
}

/// `/proc/loadavg`'s 1, 5 and 15 minute averages: other work on the machine skews the numbers.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The nearest-rank percentile `p` of `sorted`.
fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn check_args(args: &Args) -> anyhow::Result<()> {
    ensure!(args.checkins > 0, "--checkins must be at least 1");
    ensure!(args.sessions > 0 && args.members > 0, "--sessions and --members must be at least 1");
    ensure!(!args.concurrency.is_empty(), "--concurrency needs at least one level");
    for &c in &args.concurrency {
        ensure!((1..=1024).contains(&c), "concurrency {c} is not in 1..=1024");
    }
    ensure!(args.batch_size <= 1000, "--batch-size is at most 1000 (the API's limit)");
    ensure!(args.request_timeout > 0 && args.run_timeout > 0, "timeouts must be positive");
    ensure!(args.fsync_probe <= 100_000, "--fsync-probe is at most 100000");
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    check_args(&args)?;
    let bin = match &args.cecd {
        Some(b) => b.clone(),
        None => {
            let exe = std::env::current_exe()?;
            // target/<profile>/examples/bench_checkins → target/<profile>/cecd
            exe.parent().and_then(Path::parent).map(|p| p.join("cecd")).context("cannot place the cecd binary")?
        }
    };
    ensure!(bin.is_file(), "no cecd binary at {}: run `cargo build --release -p cecd` or pass --cecd", bin.display());
    let root = args.data_root.clone().unwrap_or_else(std::env::temp_dir);

    println!("# cecd check-in benchmark");
    println!();
    println!(
        "cecd: {} · data root: {} · {} single check-ins per run · {} sessions · {} members · roster {}",
        bin.display(),
        root.display(),
        args.checkins,
        args.sessions,
        args.members,
        args.roster
    );
    println!();
    println!("{}", machine());
    println!();
    println!("load average before: {}", loadavg());
    println!();

    if args.fsync_probe > 0 {
        println!("| fdatasync probe ({} × 4 KiB) | p50 ms | p99 ms | mean ms |", args.fsync_probe);
        println!("|---|---|---|---|");
        for append in [true, false] {
            let t = fsync_probe(&root, args.fsync_probe, append)?;
            let mean = t.iter().sum::<Duration>() / u32::try_from(t.len()).unwrap_or(u32::MAX);
            println!(
                "| {} | {} | {} | {} |",
                if append { "append + fdatasync" } else { "overwrite + fdatasync" },
                ms(nearest_rank(&t, 50.0)),
                ms(nearest_rank(&t, 99.0)),
                ms(mean)
            );
        }
        println!();
    }

    let mut kinds: Vec<Kind> = args.concurrency.iter().map(|&c| Kind::Single(c)).collect();
    if args.batch_size > 0 && args.batch_checkins > 0 {
        kinds.push(Kind::Batch);
    }
    let mut results = Vec::new();
    for kind in kinds {
        eprintln!("running {kind:?} ...");
        let r = run(&bin, &root, &args, kind).await?;
        eprintln!(
            "  {} check-ins in {:.2} s, {} errors{}",
            r.checkins,
            r.elapsed.as_secs_f64(),
            r.errors,
            r.first_error.as_deref().map(|e| format!(" (first: {e})")).unwrap_or_default()
        );
        results.push(r);
    }

    println!("Throughput and latency (a request's latency runs from sending it to reading its whole answer):");
    println!();
    println!(
        "| run | C | check-ins | requests | time s | check-ins/s | p50 ms | p99 ms | max ms \
         | p50 ms, first 10% | p50 ms, last 10% | node CPU ms per check-in | machine CPU busy % | errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &results {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.concurrency,
            r.checkins,
            r.requests,
            r.elapsed.as_secs_f64(),
            r.checkins as f64 / r.elapsed.as_secs_f64(),
            ms(r.percentile(50.0)),
            ms(r.percentile(99.0)),
            ms(r.latencies.last().copied().unwrap_or_default()),
            ms(r.early_late.0),
            ms(r.early_late.1),
            r.node_cpu
                .map_or_else(|| "?".to_owned(), |c| format!("{:.2}", c.as_secs_f64() * 1000.0 / r.checkins as f64)),
            r.machine_busy.map_or_else(|| "?".to_owned(), |b| format!("{b:.0}")),
            r.errors,
        );
    }
    println!();
    println!("Group commit, from the node's GET /metrics before and after the measured part:");
    println!();
    println!(
        "| run | C | write batches | write jobs | jobs/batch | largest batch | batches by size (size: batches) \
         | failed batches | stored after kill -9 + restart |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in &results {
        let batches = r.after.batches.saturating_sub(r.before.batches);
        let jobs = r.after.jobs.saturating_sub(r.before.jobs);
        let per_batch = if batches == 0 { "-".to_owned() } else { format!("{:.2}", jobs as f64 / batches as f64) };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            r.concurrency,
            batches,
            jobs,
            per_batch,
            r.after.batch_size_max,
            r.after.bucket_delta(&r.before),
            r.after.batches_failed.saturating_sub(r.before.batches_failed),
            r.stored_after_restart,
        );
    }
    println!();
    println!("load average after: {}", loadavg());
    let errors: usize = results.iter().map(|r| r.errors).sum();
    if errors > 0 {
        bail!("{errors} check-ins failed; see the first errors above");
    }
    Ok(())
}
