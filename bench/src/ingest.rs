//! `cec-bench ingest`: single check-ins per second and their latency, cecd side by side with
//! its ceilings and with PouchDB, at each connection count, in one run of this program.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::cecd::{EVENT, Node};
use crate::load::{self, Kind, Outcome, Schedule, Workload};
use crate::machine::{self, Cpu};
use crate::{pouch, sqlite};

/// Ingest benchmark: single check-ins at 1 and 32 connections, cecd beside its ceilings and PouchDB.
///
/// For each connection count, one after the other in this one run, on 127.0.0.1:
///
/// 1. cecd `GET /v1/health`, the HTTP ceiling: cecd's HTTP stack without storage, on a fresh
///    cecd child process (`--listen 127.0.0.1:0`) with one event of `--sessions` sessions;
/// 2. cecd `POST /v1/checkins` on that node: unique ids, spread over the sessions, members drawn
///    from `--members`, directions in and out. Then the node is killed with SIGKILL, started
///    again on the same data directory, and every check-in it acknowledged (2xx, warm-up
///    included) is looked up in `GET /v1/checkins`; a missing one makes this program exit 1;
/// 3. the SQLite ceiling: an in-process axum server on its own threads that parses the same
///    JSON and inserts one row per request, WAL and synchronous=FULL, group commit by one
///    writer thread, answering after COMMIT;
/// 4. PouchDB 9 under express-pouchdb 4.2 on LevelDB (`node bench/peers/ingest-server.js`;
///    `npm ci` in bench/peers installs it), `PUT /checkins/<id>` with the same JSON. LevelDB
///    does not fsync each write: this row is not at the same durability, as the table says.
///    Skipped, with a message, when bench/peers/node_modules or node is missing.
///
/// Each run: C keep-alive HTTP/1.1 connections (hyper), closed loop, a warm-up that is not
/// counted, then `--duration`. Prints a Markdown table (requests/s counts 2xx answers only; p50,
/// p99 and max latency from an HDR histogram; non-2xx and transport errors apart; CPU time of
/// the server and of the load generator), the ratios of cecd to each at the same connection
/// count, and the machine. Speed never fails the run: only a lost acknowledged check-in
/// (exit 1) or a run that could not be done (exit 2).
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub(crate) struct Args {
    /// Measured time of each row (`10s`, `0.3s`, `500ms`)
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,

    /// Warm-up before each row's measured time, not counted (0 for none)
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,

    /// Connection counts, comma-separated; every target runs at each
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    connections: Vec<usize>,

    /// The cecd binary [default: `cecd` in this program's own directory, e.g. target/release]
    #[arg(long)]
    cecd: Option<PathBuf>,

    /// Sessions of the benchmark event; check-in i goes to session i mod sessions
    #[arg(long, default_value_t = 20)]
    sessions: usize,

    /// Members the check-ins are drawn from
    #[arg(long, default_value_t = 500)]
    members: usize,

    /// Where the temporary data directories go (cecd, SQLite, PouchDB) [default: the system temp dir]
    #[arg(long)]
    data_root: Option<PathBuf>,

    /// Do not run PouchDB
    #[arg(long)]
    skip_pouchdb: bool,

    /// Directory with ingest-server.js and its node_modules [default: bench/peers of the source tree this was built from]
    #[arg(long)]
    peers_dir: Option<PathBuf>,

    /// The Node.js binary that runs PouchDB
    #[arg(long, default_value = "node")]
    node: PathBuf,

    /// A request without an answer after this counts as a transport error
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    request_timeout: Duration,

    /// Keep the temporary data directories (their paths are printed) instead of deleting them
    #[arg(long)]
    keep_data: bool,
}

/// `10`, `10s`, `0.3s` or `500ms`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else {
        (text, 1.0)
    };
    let value: f64 =
        number.trim().parse().map_err(|_| format!("{text:?} is not a duration like 10s, 0.3s or 500ms"))?;
    let secs = value * scale;
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("{text:?} is not between 0 and 3600 s"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunOutcome {
    Durable,
    LostAcknowledged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Cecd,
    Http,
    Sqlite,
    Pouch,
}

impl Target {
    fn label(self) -> &'static str {
        match self {
            Self::Cecd => "cecd `POST /v1/checkins`",
            Self::Http => "HTTP ceiling: cecd `GET /v1/health`",
            Self::Sqlite => "SQLite ceiling: axum + rusqlite, one row per request",
            Self::Pouch => "PouchDB 9, express-pouchdb 4.2, LevelDB: `PUT /checkins/<id>`",
        }
    }
}

/// One row of the table.
#[derive(Debug)]
struct Row {
    target: Target,
    connections: usize,
    outcome: Outcome,
    /// Percent of one CPU, warm-up included.
    server_cpu: Option<f64>,
    load_cpu: Option<f64>,
    durability: String,
}

/// Runs the load and reads the CPU time of the server and of the generator around it.
async fn measure(
    addr: std::net::SocketAddr,
    workload: Workload,
    connections: usize,
    schedule: Schedule,
    server: &Cpu,
) -> anyhow::Result<(Outcome, Option<f64>, Option<f64>)> {
    let (server0, load0) = (server.read(), Cpu::MainThread.read());
    let t = Instant::now();
    let outcome = load::run(addr, workload, connections, schedule).await?;
    let wall = t.elapsed().as_secs_f64();
    let pct = |before: Option<Duration>, after: Option<Duration>| match (before, after) {
        (Some(b), Some(a)) if wall > 0.0 => Some(100.0 * a.saturating_sub(b).as_secs_f64() / wall),
        _ => None,
    };
    let server_cpu = pct(server0, server.read());
    let load_cpu = pct(load0, Cpu::MainThread.read());
    if let Some(e) = &outcome.first_error {
        eprintln!("    first error: {e}");
    }
    eprintln!(
        "    {:.0} requests/s, p99 {:.2} ms, {} non-2xx, {} transport errors",
        outcome.per_second(),
        outcome.ms(99.0),
        outcome.non_2xx,
        outcome.transport_errors
    );
    Ok((outcome, server_cpu, load_cpu))
}

fn tempdir(root: &Path, prefix: &str, keep: bool) -> anyhow::Result<tempfile::TempDir> {
    let mut dir = tempfile::Builder::new().prefix(prefix).tempdir_in(root)?;
    if keep {
        dir.disable_cleanup(true);
        eprintln!("    data kept in {}", dir.path().display());
    }
    Ok(dir)
}

/// What one run needs beside the arguments.
#[derive(Debug)]
struct Plan {
    cecd: PathBuf,
    root: PathBuf,
    schedule: Schedule,
    /// `Ok(versions)` or `Err(why it is skipped)`.
    pouch: Result<String, String>,
    peers: PathBuf,
}

impl Plan {
    fn workload(&self, args: &Args, kind: Kind, addr: std::net::SocketAddr, prefix: String) -> Workload {
        Workload {
            kind,
            host: addr.to_string(),
            prefix,
            event: EVENT.to_owned(),
            sessions: args.sessions,
            members: args.members,
        }
    }
}

/// cecd's health and check-in rows at `c` connections, with the kill -9 check. Returns the rows
/// and whether every acknowledged check-in was found.
async fn cecd_rows(
    args: &Args,
    plan: &Plan,
    c: usize,
    version: &mut Option<String>,
) -> anyhow::Result<(Vec<Row>, bool)> {
    let dir = tempdir(&plan.root, "cec-bench-cecd-", args.keep_data)?;
    let data = dir.path().join("data");
    let log = dir.path().join("cecd.log");
    let node = Node::start(&plan.cecd, &data, &log, plan.schedule.request_timeout).await?;
    node.setup(args.sessions).await?;
    if version.is_none() {
        *version = Some(node.version().await?);
    }
    let server = Cpu::Process(node.pid().context("cecd has no pid")?);

    eprintln!("C={c}: {}", Target::Http.label());
    let w = plan.workload(args, Kind::CecdHealth, node.addr, String::new());
    let (health, h_cpu, h_load) = measure(node.addr, w, c, plan.schedule, &server).await?;

    eprintln!("C={c}: {}", Target::Cecd.label());
    let kind = Kind::CecdCheckin { token: node.token.clone() };
    let w = plan.workload(args, kind, node.addr, format!("c{c}"));
    let probe = w.clone();
    let (checkins, c_cpu, c_load) = measure(node.addr, w, c, plan.schedule, &server).await?;
    if checkins.non_2xx + checkins.transport_errors > 0 {
        eprintln!("    cecd log, last lines:\n{}", node.log_tail());
    }

    eprintln!("    kill -9, restart on the same data directory, look up every acknowledged check-in");
    node.kill().await?;
    let node = Node::start(&plan.cecd, &data, &log, plan.schedule.request_timeout).await?;
    let max_pages = usize::try_from(checkins.sent / 1000).unwrap_or(usize::MAX).saturating_add(10);
    let stored = node.stored_ids(max_pages).await?;
    let metric = node.stored_metric().await?;
    node.kill().await?;
    let acknowledged = checkins.acknowledged.len();
    let missing = checkins.acknowledged.iter().filter(|&&i| !stored.contains(&probe.checkin_id(i))).count();
    let durable = missing == 0;
    let durability = format!(
        "kill -9 + restart: {} of {acknowledged} acknowledged stored ({} listed{}) → **durable: {}**",
        acknowledged - missing,
        stored.len(),
        metric.map(|m| format!(", `cecd_checkins_stored` {m}")).unwrap_or_default(),
        if durable { "yes" } else { "NO" }
    );
    eprintln!("    {durability}");
    let rows = vec![
        Row {
            target: Target::Cecd,
            connections: c,
            outcome: checkins,
            server_cpu: c_cpu,
            load_cpu: c_load,
            durability,
        },
        Row {
            target: Target::Http,
            connections: c,
            outcome: health,
            server_cpu: h_cpu,
            load_cpu: h_load,
            durability: "no storage".to_owned(),
        },
    ];
    Ok((rows, durable))
}

async fn sqlite_row(args: &Args, plan: &Plan, c: usize) -> anyhow::Result<Row> {
    eprintln!("C={c}: {}", Target::Sqlite.label());
    let dir = tempdir(&plan.root, "cec-bench-sqlite-", args.keep_data)?;
    let ceiling = sqlite::Ceiling::start(dir.path())?;
    let w = plan.workload(args, Kind::SqliteCheckin, ceiling.addr, format!("c{c}"));
    let measured = measure(ceiling.addr, w, c, plan.schedule, &Cpu::OwnThreads(sqlite::THREAD_PREFIX)).await;
    let rows = tokio::task::spawn_blocking(move || ceiling.stop()).await??;
    let (outcome, server_cpu, load_cpu) = measured?;
    let acknowledged = outcome.acknowledged.len();
    let durability = format!(
        "WAL, synchronous=FULL, answered after COMMIT; {rows} rows for {acknowledged} acknowledged (not killed)"
    );
    Ok(Row { target: Target::Sqlite, connections: c, outcome, server_cpu, load_cpu, durability })
}

async fn pouch_row(args: &Args, plan: &Plan, c: usize) -> anyhow::Result<Row> {
    eprintln!("C={c}: {}", Target::Pouch.label());
    let dir = tempdir(&plan.root, "cec-bench-pouchdb-", args.keep_data)?;
    let data = dir.path().join("db");
    let log = dir.path().join("pouchdb.log");
    let timeout = plan.schedule.request_timeout;
    let server = pouch::Server::start(&args.node, &plan.peers, &data, &log, timeout).await?;
    let cpu = Cpu::Process(server.pid().context("node has no pid")?);
    let w = plan.workload(args, Kind::PouchPut, server.addr, format!("c{c}"));
    let (outcome, server_cpu, load_cpu) = measure(server.addr, w, c, plan.schedule, &cpu).await?;
    server.kill().await?;
    let server = pouch::Server::start(&args.node, &plan.peers, &data, &log, timeout).await?;
    let docs = server.doc_count().await?;
    server.kill().await?;
    let acknowledged = outcome.acknowledged.len();
    let durability = format!(
        "LevelDB default: **no fsync per write** (survives a process crash, not necessarily power loss); \
         kill -9 + restart: {docs} docs for {acknowledged} acknowledged"
    );
    eprintln!("    {durability}");
    Ok(Row { target: Target::Pouch, connections: c, outcome, server_cpu, load_cpu, durability })
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "?".to_owned(), |v| format!("{v:.0}"))
}

/// `a ÷ b` as `0.12×`.
fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() {
        if a / b >= 10.0 { format!("{:.0}×", a / b) } else { format!("{:.2}×", a / b) }
    } else {
        "–".to_owned()
    }
}

fn report(args: &Args, plan: &Plan, header: &str, rows: &[Row], durable: bool) -> String {
    let mut out = String::new();
    let _ = write!(out, "{header}");
    let _ = writeln!(out, "- load average after: {}", machine::loadavg());
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| target | connections | requests/s (2xx) | p50 ms | p99 ms | max ms | requests | non-2xx | transport errors \
         | server CPU % | load generator CPU % | durability |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        let o = &r.outcome;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
            r.target.label(),
            r.connections,
            o.per_second(),
            o.ms(50.0),
            o.ms(99.0),
            o.max_ms(),
            o.requests,
            o.non_2xx,
            o.transport_errors,
            pct(r.server_cpu),
            pct(r.load_cpu),
            r.durability
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "CPU % is of one CPU over warm-up and measured time; `nproc` CPUs are shared by the server and the load generator."
    );
    let _ = writeln!(out);
    let others = [Target::Http, Target::Sqlite, Target::Pouch];
    let present: Vec<Target> = others.into_iter().filter(|t| rows.iter().any(|r| r.target == *t)).collect();
    let _ = writeln!(
        out,
        "Ratios, cecd ÷ each at the same connection count, from this run: requests/s (higher is better for cecd) · p99 (lower is better for cecd)"
    );
    let _ = writeln!(out);
    let mut head = "| connections |".to_owned();
    let mut rule = "|---:|".to_owned();
    for t in &present {
        let name = match t {
            Target::Http => "HTTP ceiling",
            Target::Sqlite => "SQLite ceiling",
            Target::Pouch => "PouchDB",
            Target::Cecd => "cecd",
        };
        let _ = write!(head, " cecd ÷ {name}: requests/s | cecd ÷ {name}: p99 |");
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(out, "{head}");
    let _ = writeln!(out, "{rule}");
    for &c in &args.connections {
        let find = |t: Target| rows.iter().find(|r| r.target == t && r.connections == c).map(|r| &r.outcome);
        let Some(cecd) = find(Target::Cecd) else { continue };
        let mut line = format!("| {c} |");
        for t in &present {
            match find(*t) {
                Some(o) => {
                    let _ = write!(
                        line,
                        " {} | {} |",
                        ratio(cecd.per_second(), o.per_second()),
                        ratio(cecd.ms(99.0), o.ms(99.0))
                    );
                }
                None => line.push_str(" – | – |"),
            }
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out);
    if let Some(r) = rows.iter().find(|r| r.target == Target::Cecd && r.connections == 32) {
        let (rate, p99) = (r.outcome.per_second(), r.outcome.ms(99.0));
        let met = rate >= 15_000.0 && p99 < 10.0 && r.outcome.non_2xx + r.outcome.transport_errors == 0;
        let _ = writeln!(
            out,
            "Goal (issue 7): ≥ 15,000 durable check-ins/s at 32 connections with p99 < 10 ms: {} ({rate:.0}/s, p99 {p99:.2} ms).",
            if met { "met" } else { "not met" }
        );
        let _ = writeln!(out);
    }
    if let Err(why) = &plan.pouch {
        let _ = writeln!(out, "PouchDB: SKIPPED: {why}");
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "durable: {}",
        if durable {
            "yes (every acknowledged check-in was stored after kill -9 and restart, at every connection count)"
        } else {
            "NO (acknowledged check-ins were missing after kill -9 and restart)"
        }
    );
    out
}

pub(crate) fn main(args: &Args) -> anyhow::Result<RunOutcome> {
    ensure!(!args.connections.is_empty(), "--connections needs at least one count");
    for &c in &args.connections {
        ensure!((1..=1024).contains(&c), "--connections {c} is not in 1..=1024");
    }
    ensure!(args.duration > Duration::ZERO, "--duration must be more than 0");
    ensure!(args.request_timeout > Duration::ZERO, "--request-timeout must be more than 0");
    ensure!((1..=10_000).contains(&args.sessions), "--sessions is not in 1..=10000");
    ensure!((1..=10_000_000).contains(&args.members), "--members is not in 1..=10000000");
    let cecd = match &args.cecd {
        Some(b) => b.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|p| p.join(format!("cecd{}", std::env::consts::EXE_SUFFIX)))
            .context("cannot place the cecd binary")?,
    };
    ensure!(
        cecd.is_file(),
        "no cecd binary at {}: build it (`cargo build --release -p cecd -p cec-bench`) or pass --cecd",
        cecd.display()
    );
    let root = args.data_root.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let peers = args.peers_dir.clone().unwrap_or_else(pouch::default_peers_dir);
    let pouch = if args.skip_pouchdb { Err("--skip-pouchdb".to_owned()) } else { pouch::installed(&peers, &args.node) };
    if let Err(why) = &pouch {
        eprintln!("cec-bench: PouchDB SKIPPED: {why}");
    }
    let plan = Plan {
        cecd,
        root,
        schedule: Schedule { warmup: args.warmup, duration: args.duration, request_timeout: args.request_timeout },
        pouch,
        peers,
    };

    let started = jiff::Timestamp::now();
    let mut header = String::new();
    let _ = writeln!(header, "## cec-bench ingest, {}", started.strftime("%Y-%m-%d %H:%M UTC"));
    let _ = writeln!(header);
    let command: Vec<String> = std::env::args().collect();
    let _ = writeln!(header, "- command: `{}`", command.join(" "));
    let _ = writeln!(header, "- machine: {}", machine::describe());
    let _ = writeln!(header, "- load average before: {}", machine::loadavg());
    let _ = writeln!(
        header,
        "- cec-bench source tree {} at commit {} (as git reports it now)",
        env!("CARGO_MANIFEST_DIR"),
        machine::git_commit(Path::new(env!("CARGO_MANIFEST_DIR")))
    );
    let _ = writeln!(header, "- data root: {}", plan.root.display());
    let _ = writeln!(
        header,
        "- load: C keep-alive HTTP/1.1 connections (hyper client), closed loop, {:?} warm-up then {:?} measured per row; \
         one event, {} sessions, members drawn from {}",
        args.warmup, args.duration, args.sessions, args.members
    );

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (rows, durable, version) = runtime.block_on(async {
        let mut rows = Vec::new();
        let mut durable = true;
        let mut version = None;
        for &c in &args.connections {
            let (mut cecd, ok) = cecd_rows(args, &plan, c, &mut version).await?;
            durable &= ok;
            rows.append(&mut cecd);
            rows.push(sqlite_row(args, &plan, c).await?);
            if plan.pouch.is_ok() {
                rows.push(pouch_row(args, &plan, c).await?);
            }
        }
        anyhow::Ok((rows, durable, version))
    })?;
    let _ = writeln!(header, "- cecd: {} (version {})", plan.cecd.display(), version.as_deref().unwrap_or("?"));
    match &plan.pouch {
        Ok(versions) => {
            let _ = writeln!(header, "- PouchDB: {versions} ({})", plan.peers.display());
        }
        Err(why) => {
            let _ = writeln!(header, "- PouchDB: SKIPPED: {why}");
        }
    }
    // Rows in a stable order: by connection count, then cecd, its ceilings, PouchDB.
    let mut rows = rows;
    let order = |t: Target| match t {
        Target::Cecd => 0,
        Target::Http => 1,
        Target::Sqlite => 2,
        Target::Pouch => 3,
    };
    rows.sort_by_key(|r| (r.connections, order(r.target)));
    print!("{}", report(args, &plan, &header, &rows, durable));
    Ok(if durable { RunOutcome::Durable } else { RunOutcome::LostAcknowledged })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0.3s"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(1.0, 4.0), "0.25×");
        assert_eq!(ratio(40.0, 2.0), "20×");
        assert_eq!(ratio(1.0, 0.0), "–");
    }
}
