//! `natsbridge`: the command-line face of the runtime, with a fixed contract so other
//! tools (and other languages' tests) can drive it.
//!
//! ```text
//! natsbridge fileserver [--listen 127.0.0.1:8080] [--dir DIR] [--ttl SECS] [--max-ttl SECS] [--max-bytes N] [--token T]
//!                       [--allow-origin ORIGIN]...
//! natsbridge send    --subject S --payload NAME:TYPE:SOURCE... [envelope fields] [--stream NAME [--max-age SECS] [--replicas N]]
//!                    [--no-publish] [--from-stdin NAME:TYPE] [--store plik|dir:PATH|nats-os:BUCKET|s3:BUCKET[/PREFIX]]
//! natsbridge receive --subject S [--count N] [--timeout SECS] [--allow-host URL]... [--show-header NAME]...
//!                    [--stream NAME [--since TIME|10m] [--durable NAME]] [--out DIR] [--envelope]
//! natsbridge request --subject S --payload ... [--timeout SECS] [--out DIR]
//! natsbridge reply   --subject S [--payload ...] [--fail CODE[:MESSAGE]] [--queue GROUP] [--count N]
//! natsbridge validate [FILE|-]... [--spec DIR] [--message NAME] [--ndjson] [--profile reference]
//! natsbridge conformance --testee CMD --lane NAME [--ledger FILE] [--vectors DIR] [--format json]
//! natsbridge diff    --spec FILE|DIR (--against PATH|GIT-REF | --against-releases DIR | --against-tags PATTERN)
//!                    [--mode backward|forward|full|none] [--transitive] [--format text|json|sarif|github]
//! natsbridge completions bash|zsh|fish
//! natsbridge man
//! ```
//!
//! `send` and `request` build the envelope ([`send`]); `receive` and `reply` decode and
//! print ([`receive`]); every side prints the same digest line ([`digest`]).

mod codegen;
mod conformance;
mod connection;
mod diff;
mod digest;
mod progress;
mod receive;
mod send;
mod source;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use natsbridge::fileserver::{FileServer, FileServerConfig};

#[derive(Debug, Parser)]
#[command(
    name = "natsbridge",
    version,
    about = "Send and receive NATSBridge envelopes; run the embedded file server; generate typed packages from your AsyncAPI spec; validate and conformance-test your own implementation",
    after_help = "Examples:\n  natsbridge fileserver --listen 127.0.0.1:8080 &\n  natsbridge receive --subject demo --count 1 --allow-host http://127.0.0.1:8080 &\n  natsbridge send --subject demo --payload note:text:hello --payload table:arrowtable:@table.arrows\n  natsbridge request --subject sim.command --payload 'config:dictionary:{\"iterations\":10}'\n  natsbridge codegen --spec asyncapi.yaml --out generated\n\nEnvironment: NATS_URL, NATS_CONTEXT, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY, NATS_CA, NATS_CERT, NATS_KEY (the nats CLI's names; its contexts are read too), FILESERVER_URL, FILESERVER_TOKEN, SIZE_THRESHOLD, RUST_LOG."
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `natsbridge=debug`.
    #[arg(long, default_value = "warn", global = true, env = "RUST_LOG")]
    log_level: String,
    /// No progress bars (they are drawn only when stderr is a terminal anyway).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the embedded Plik-compatible file server until interrupted.
    ///
    /// Example: `natsbridge fileserver --listen 127.0.0.1:8080 --dir /var/lib/natsbridge`
    Fileserver {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Directory files are spooled to (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Lifetime of an upload that does not ask for one, in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// Longest lifetime an upload may ask for, in seconds; asking for more is refused
        /// (HTTP 400), never shortened.
        #[arg(long, default_value_t = 30 * 86_400)]
        max_ttl: u64,
        /// Seconds a client may take to send a request's headers.
        #[arg(long, default_value_t = 10)]
        header_timeout: u64,
        /// Seconds a connection may go without a byte either way before it is closed.
        #[arg(long, default_value_t = 60)]
        idle_timeout: u64,
        /// Most connections served at once; more wait to be accepted.
        #[arg(long, default_value_t = 1024)]
        max_connections: usize,
        /// Largest file accepted, in bytes.
        #[arg(long, default_value_t = 8 << 30)]
        max_bytes: u64,
        /// Token required to create uploads (`X-PlikToken` or `Authorization: Bearer`).
        #[arg(long, env = natsbridge::types::profile::ENV_FILESERVER_TOKEN, hide_env_values = true)]
        token: Option<natsbridge::settings::Secret>,
        /// A browser origin (`http://127.0.0.1:3000`) allowed to upload and download (CORS).
        /// Repeatable.
        #[arg(long = "allow-origin")]
        allow_origins: Vec<String>,
    },
    /// Publish one envelope and print its digest line (or, with --no-publish, its JSON).
    ///
    /// Example: `natsbridge send --subject demo --payload note:text:hi --payload table:arrowtable:@t.arrows`
    Send(send::SendArgs),
    /// Subscribe (or replay a stream) and print a digest line per envelope (an error line
    /// per bad one).
    ///
    /// Example: `natsbridge receive --subject health --stream HEALTH --since 10m --out ./got --count 5`
    Receive(receive::ReceiveArgs),
    /// Send a request and print the reply's digest line (the responder's error line and
    /// exit 1 when it answers with an error_response_v1).
    ///
    /// Example: `natsbridge request --subject sim.command --payload 'config:dictionary:{"iterations":10}'`
    Request(send::RequestArgs),
    /// Answer requests: print each one's digest line and reply with payloads (the request's
    /// own, echoed, by default) or, with --fail, an error_response_v1.
    ///
    /// Example: `natsbridge reply --subject sim.command --payload 'status:dictionary:{"status":"Running"}'`
    Reply(receive::ReplyArgs),
    /// Check JSON documents (files, stdin, NDJSON) against a message of the v1 contract or
    /// of your own spec; every failure with its JSON pointer and rule.
    ///
    /// Example: `natsbridge validate envelope.json`, `natsbridge validate --ndjson --profile reference - < log.ndjson`
    Validate(validate::ValidateArgs),
    /// Generate typed packages (Rust, TypeScript, Python, Julia) from your AsyncAPI
    /// document: subjects, payload and header types, and one function per operation.
    ///
    /// Example: `natsbridge codegen --spec asyncapi.yaml --out gen --lang rust,typescript`
    Codegen(codegen::CodegenArgs),
    /// Run your implementation's testee against the golden vectors built into this binary
    /// and print the matrices (reader and writer side); exit 1 on a failure.
    ///
    /// Example: `natsbridge conformance --testee "python3 my_testee.py" --lane team`
    Conformance(conformance::ConformanceArgs),
    /// Judge a change to your AsyncAPI document: which operations it breaks, for senders or
    /// receivers, under a compatibility mode; exit 0 compatible, 1 breaking, 2 could not judge.
    ///
    /// Example: `natsbridge diff --spec asyncapi.yaml --against v1.2.0 --mode backward --format github`
    Diff(diff::DiffArgs),
    /// Print a shell completion script.
    ///
    /// Example: `natsbridge completions bash > /etc/bash_completion.d/natsbridge`
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    ///
    /// Example: `natsbridge man > /usr/local/share/man/man1/natsbridge.1`
    Man,
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "warn".into());
    // Colours only on a terminal: a log piped to a file or a script stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => {
            builder.json().flatten_event(false).with_current_span(true).with_span_list(true).init()
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, &cli.log_level);
    progress::init(cli.quiet);
    let result = match cli.command {
        Command::Fileserver {
            listen,
            dir,
            ttl,
            max_ttl,
            header_timeout,
            idle_timeout,
            max_connections,
            max_bytes,
            token,
            allow_origins,
        } => {
            let config = FileServerConfig {
                listen,
                dir,
                ttl: Duration::from_secs(ttl),
                max_ttl: Duration::from_secs(max_ttl),
                header_timeout: Duration::from_secs(header_timeout),
                idle_timeout: Duration::from_secs(idle_timeout),
                max_connections,
                max_bytes,
                token: token.map(|t| t.expose().to_owned()),
                allow_origins,
                ..FileServerConfig::default()
            };
            fileserver(config).await
        }
        Command::Send(args) => send::send(args).await,
        Command::Receive(args) => receive::receive(args).await,
        Command::Request(args) => send::request(args).await,
        Command::Reply(args) => receive::reply(args).await,
        Command::Validate(args) => validate::run(args),
        Command::Codegen(args) => codegen::run(args),
        Command::Conformance(args) => conformance::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "natsbridge",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
            .render(&mut std::io::stdout())
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", natsbridge::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// What every command returns: its exit code, or an error `main` prints.
pub(crate) type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

async fn fileserver(config: FileServerConfig) -> CliResult {
    let server = FileServer::start(config).await?;
    // One line on stdout so scripts can wait for readiness and learn the URL.
    println!("{}", serde_json::json!({ "fileserver": server.url() }));
    server.run_until_ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}
