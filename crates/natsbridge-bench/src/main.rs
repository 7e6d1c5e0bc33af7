//! `natsbridge-bench`: what the bridge costs over the raw transports it stands on,
//! measured in one run on one machine (`cargo xtask bench` builds and runs it).
//!
//! Every case has a baseline measured in the same run, interleaved with it (raw, bridge,
//! raw, bridge, ...), and reports medians; what is compared is the ratio, because absolute
//! numbers drift on shared machines.
//!
//! - [`messaging`]: 1 KB messages (throughput, request/reply latency) and the direct path
//!   at the threshold, against plain async-nats.
//! - [`transfer`]: Arrow tables over the link path against a hand-rolled HTTP upload and
//!   download of the same IPC bytes, and each blob store; sender and receiver are
//!   processes of their own (`natsbridge-bench worker`), so their peak memory is their own.
//! - [`replay`]: each runtime's `EnvelopeConsumer` against its own language's raw pull
//!   consumer on the same stream.
//! - [`cluster`]: JetStream publish and replay on one node (R1) against a three-node
//!   cluster (R3), the cluster from the test kit.
//! - [`page`]: the dashboard page in headless Chromium: the 10 M-row table downloaded,
//!   verified and decoded against the same link downloaded alone, and the renderer's peak
//!   memory against the table (`dashboard/scripts/demo.mjs --json`).
//! - [`peers`]: the TypeScript and Python runtimes' benchmark programs (`bench/peers/`).
//! - [`codec`]: base64 against `memcpy`.
//! - [`build`]: a user's cold build and crate count, default features against every
//!   feature (measured by xtask, passed in).
//! - [`report`]: `results.json`, the chart (SVG) and the Markdown table.
//! - [`run`]: one run: nats-server and the embedded file server from the test kit, the
//!   cases, the report.

mod build;
mod cluster;
mod codec;
mod ctx;
mod messaging;
mod page;
mod peers;
mod replay;
mod report;
mod run;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "natsbridge-bench",
    version,
    about = "The bridge against raw async-nats and raw HTTP, in one run"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// Small sizes and few repetitions (seconds), to keep the harness working.
    #[arg(long)]
    quick: bool,
    /// Output directory for results.json, chart.svg and results.md.
    #[arg(long, default_value = "bench")]
    out: PathBuf,
    /// nats-server binary to start (default: the test kit's order: $NATS_SERVER_BIN,
    /// .venv/bin/nats-server, PATH).
    #[arg(long)]
    nats_server_bin: Option<PathBuf>,
    /// `cargo xtask codegen` wall time to include, in ms (xtask measures it).
    #[arg(long)]
    codegen_ms: Option<f64>,
    /// A user's cold build to include, measured by xtask:
    /// `default_s=S,all_s=S,default_crates=N,all_crates=N[,default_cpu_s=S,all_cpu_s=S]`.
    #[arg(long)]
    cold_build: Option<build::ColdBuild>,
    /// The release `natsbridge-demo` for the group `page` (xtask builds it and passes it in);
    /// without it the page is not run.
    #[arg(long)]
    demo_bin: Option<PathBuf>,
    /// Only the groups starting with this: codec, messaging, link, stores, replay, cluster, page;
    /// or one part of the messaging group: messaging/stream (with the peers), messaging/cpu,
    /// messaging/request, messaging/direct.
    #[arg(long)]
    only: Option<String>,
    #[command(subcommand)]
    process: Option<Process>,
}

/// The bench's other processes.
#[derive(Debug, Subcommand)]
enum Process {
    /// One side of a table transfer (started by the bench).
    #[command(hide = true)]
    Worker(transfer::WorkerArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let result = match cli.process {
        Some(Process::Worker(args)) => transfer::worker_main(args).await,
        None => {
            let args = run::BenchArgs {
                quick: cli.quick,
                out: cli.out,
                nats_server_bin: cli.nats_server_bin,
                codegen_ms: cli.codegen_ms,
                cold_build: cli.cold_build,
                demo_bin: cli.demo_bin,
                only: cli.only,
            };
            run::run(args).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", natsbridge::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
