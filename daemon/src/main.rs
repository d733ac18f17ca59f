//! The `cecd` binary: parse flags, set up logging, run the node.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: a check-in allocates and frees across threads (HTTP
/// workers, the check-in writer, the storage thread), and glibc's allocator took about a tenth
/// of the node's CPU under load; with mimalloc the node spends 13 % less CPU per check-in
/// (BENCHMARKS.md, "The allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A cecsync node: keeps continuing-education credit offline and serves the local API.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Data directory [default: $XDG_DATA_HOME/cecd, else ~/.local/share/cecd]
    #[arg(long, global = true, env = "CECD_DATA_DIR")]
    data_dir: Option<PathBuf>,

    /// Address of the local API [default: 127.0.0.1:7420, or `listen` in cecd.toml]
    #[arg(long)]
    listen: Option<String>,

    /// Log filter, RUST_LOG syntax (error, warn, info, debug, trace, or per module)
    #[arg(long)]
    log: Option<String>,

    /// Address of the peer listener other nodes sync with (off unless given; 127.0.0.1:0
    /// picks a free port) [or `peer_listen` in cecd.toml]
    #[arg(long)]
    peer_listen: Option<String>,

    /// Find and advertise peers by mDNS on these network interfaces only, comma-separated
    /// (`lo` for loopback); needs --peer-listen [or `mdns_interfaces` in cecd.toml; off by default]
    #[arg(long, value_delimiter = ',', value_name = "IFACES")]
    mdns_interfaces: Option<Vec<String>>,

    /// Load a small demo conference (with the source's examples) at start
    #[arg(long)]
    demo: bool,

    /// For tests only: shift this node's wall clock by SECS (check-in stamps and the clock
    /// peers measure), to test clock skew without changing the machine's clock
    #[arg(long, env = "CECD_CLOCK_OFFSET_SECS", hide = true, value_name = "SECS", allow_hyphen_values = true)]
    clock_offset_secs: Option<i64>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the local API token (created on first start)
    Token,
    /// Make this node the organization's central node: create the organization key and give
    /// this node the `central` role with scope `*`
    InitCentral {
        /// The organization's name
        #[arg(long)]
        org: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let data_dir = cli.data_dir.unwrap_or_else(cecd::config::default_data_dir);
    if let Some(Command::Token) = cli.command {
        // Creates the identity if this is the first use, so the token is always there.
        let id = cecd::node::Identity::load_or_create(&data_dir)?;
        println!("{}", id.token);
        return Ok(());
    }
    if let Some(Command::InitCentral { org }) = &cli.command {
        let id = cecd::node::Identity::load_or_create(&data_dir)?;
        let org = org.trim();
        anyhow::ensure!(!org.is_empty(), "--org must name the organization");
        let e =
            cecd::node::credential::Enrolment::init_central(&data_dir, org, id.signing_key(), jiff::Timestamp::now())?;
        let key = e.org_key.map(|k| cecd::node::credential::encode_public_key(&k)).unwrap_or_default();
        println!("this node ({}) is now the central node of {org}", id.node_id);
        println!("organization public key: {key}");
        println!("next: start it with --peer-listen ADDR, then `cec enrolment create` makes codes for new nodes");
        return Ok(());
    }
    let mut config = cecd::config::Config::load(&data_dir)?;
    if let Some(p) = cli.peer_listen {
        config.peer_listen = Some(p);
    }
    if let Some(l) = cli.listen {
        config.listen = l;
    }
    if let Some(i) = cli.mdns_interfaces {
        config.mdns_interfaces = i.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
    }
    if let Some(l) = cli.log {
        config.log = l;
    }
    let filter = std::env::var("RUST_LOG").ok().unwrap_or_else(|| config.log.clone());
    // Colours only on a terminal: a service's log (journald, a file) gets plain text, not
    // escape sequences around every level and field name.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    if let Some(secs) = cli.clock_offset_secs {
        cecd::node::clock::set_test_offset_secs(secs);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(cecd::run(&data_dir, config, cli.demo, shutdown_signal()))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("signal received");
}
