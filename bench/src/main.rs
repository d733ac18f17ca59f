//! `cec-bench`: benchmarks of `cecd` measured side by side, in one run, with their ceilings and
//! with a peer system under the same load. See BENCHMARKS.md for what each figure means.
//!
//! `cec-bench ingest` starts each target in turn on 127.0.0.1 (a `cecd` child process, an
//! in-process SQLite server, PouchDB under Node) and drives it with the closed-loop load
//! generator of [`load`]. Every loop is bounded in time, every wait has a timeout, and the
//! program stops by itself. `cec-bench engine` times the CEC engine of `cec-core` alone.
//! `cec-bench scale` seeds a central node with many portfolios through the daemon's library
//! and measures a `cecd` child process on it: cold start, memory, CEC summary and attendance.
//! `cec-bench sync` runs cecd nodes in-process over their real peer listener, then the same
//! sync workload on automerge-repo and PouchDB under Node (`bench/peers/sync-peers.mjs`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cecd;
mod engine;
mod ingest;
mod load;
mod machine;
mod pouch;
mod scale;
mod sqlite;
mod sync;

/// The allocator the `cecd` binary runs with, so the nodes `scale` and `sync` run in this
/// process, and the SQLite ceiling of `ingest`, allocate as the daemon does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Benchmarks of cecd, each side by side with its ceilings and a peer system, in one run.
#[derive(Debug, Parser)]
#[command(name = "cec-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Single check-ins over HTTP against their ceilings and PouchDB
    Ingest(ingest::Args),
    /// The CEC engine on a large event: member-sessions credited per second
    Engine(engine::Args),
    /// A central node with many portfolios: cold start, memory, CEC summary and attendance reads
    Scale(scale::Args),
    /// Check-ins kiosk → central, kiosks converging, resyncs; beside automerge-repo and PouchDB
    Sync(sync::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Engine(args) => match engine::main(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cec-bench: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Sync(args) => match sync::main(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("cec-bench: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Scale(args) => match scale::main(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => {
                eprintln!("cec-bench: FAILED: a CEC summary did not match the seeded credit (see above)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("cec-bench: error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Ingest(args) => match ingest::main(&args) {
            Ok(ingest::RunOutcome::Durable) => ExitCode::SUCCESS,
            Ok(ingest::RunOutcome::LostAcknowledged) => {
                eprintln!("cec-bench: FAILED: cecd lost acknowledged check-ins (see the table above)");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("cec-bench: error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}
