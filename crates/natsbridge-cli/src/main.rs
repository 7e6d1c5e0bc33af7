//! `natsbridge`: the command-line face of the runtime, with a fixed contract so other
//! tools (and other languages' tests) can drive it.
//!
//! ```text
//! natsbridge fileserver [--listen 127.0.0.1:8080] [--dir DIR] [--ttl SECS] [--max-bytes N] [--token T]
//!                       [--allow-origin ORIGIN]...
//! natsbridge send --server URL --subject S [--fileserver URL] [--threshold N] [--purpose P]
//!                 [--correlation-id ID] [--header K=V]... [--stream NAME]
//!                 --payload NAME:TYPE:SOURCE [--payload ...]
//! natsbridge receive --server URL --subject S [--count N] [--timeout SECS] [--allow-host HOST]...
//!                    [--show-header NAME]... [--stream NAME [--since RFC3339]]
//! natsbridge validate FILE...
//! ```

mod digest;
mod source;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use futures::StreamExt as _;
use natsbridge::config;
use natsbridge::fileserver::{FileServer, FileServerConfig};
use natsbridge::jetstream::{self, ConsumerOptions, EnvelopeConsumer, Start, StreamOptions};
use natsbridge::types::MsgPurpose;
use natsbridge::{ReceiveOptions, SendOptions};

/// How long a stream that `send --stream` creates keeps its messages.
const DEFAULT_STREAM_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Parser)]
#[command(
    name = "natsbridge",
    version,
    about = "Send and receive NATSBridge envelopes; run the embedded file server"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `natsbridge=debug`.
    #[arg(long, default_value = "warn", global = true, env = "RUST_LOG")]
    log_level: String,
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
    Fileserver {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Directory files are spooled to (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Default and longest lifetime of an upload, in seconds.
        #[arg(long, default_value_t = 86_400)]
        ttl: u64,
        /// Largest file accepted, in bytes.
        #[arg(long, default_value_t = 8 << 30)]
        max_bytes: u64,
        /// Token required to create uploads (`X-PlikToken` or `Authorization: Bearer`).
        #[arg(long)]
        token: Option<String>,
        /// A browser origin (`http://127.0.0.1:3000`) allowed to upload and download (CORS).
        /// Repeatable.
        #[arg(long = "allow-origin")]
        allow_origins: Vec<String>,
    },
    /// Publish one envelope and print its digest line.
    Send {
        #[arg(long, env = "NATS_URL", default_value = config::DEFAULT_NATS_URL)]
        server: String,
        #[arg(long)]
        subject: String,
        /// Plik-compatible file server for link payloads.
        #[arg(long, env = "FILESERVER_URL", default_value = config::DEFAULT_FILESERVER_URL)]
        fileserver: String,
        /// Payloads of this many serialized bytes or more go by link (default: SIZE_THRESHOLD,
        /// read as the runtime reads it, or 500000).
        #[arg(long, default_value_t = config::size_threshold())]
        threshold: usize,
        /// msg_purpose: ACK, NACK, updateStatus, shutdown, chat, command, event.
        #[arg(long, default_value = "chat")]
        purpose: String,
        #[arg(long)]
        correlation_id: Option<String>,
        /// Extra NATS header, repeatable.
        #[arg(long = "header", value_name = "K=V")]
        headers: Vec<String>,
        /// NAME:TYPE:SOURCE, where SOURCE is literal text or @PATH. Repeatable.
        #[arg(long = "payload", value_name = "NAME:TYPE:SOURCE", required = true)]
        payloads: Vec<String>,
        /// Publish through JetStream into this stream (created for the subject when missing)
        /// and wait for the ack; its stream sequence is printed on stderr.
        #[arg(long)]
        stream: Option<String>,
    },
    /// Subscribe and print a digest line per envelope (an error line per bad one).
    Receive {
        #[arg(long, env = "NATS_URL", default_value = config::DEFAULT_NATS_URL)]
        server: String,
        #[arg(long)]
        subject: String,
        /// Stop after this many envelopes (good or bad).
        #[arg(long)]
        count: Option<u64>,
        /// Give up after this many seconds; exits 1 if fewer than --count arrived.
        #[arg(long)]
        timeout: Option<u64>,
        /// Also accept links to this host (host, host:port or URL). Repeatable.
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// Append `"headers": {NAME: value}` to each digest line for these NATS headers.
        #[arg(long = "show-header")]
        show_headers: Vec<String>,
        /// Replay this JetStream stream through a pull consumer (filtered on the subject)
        /// instead of subscribing: from its start, or from --since.
        #[arg(long)]
        stream: Option<String>,
        /// With --stream: only envelopes stored at or after this RFC 3339 time.
        #[arg(long, requires = "stream", value_parser = parse_time)]
        since: Option<natsbridge::chrono::DateTime<natsbridge::chrono::Utc>>,
    },
    /// Check envelope files against the schema.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| "warn".into());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
    let result = match cli.command {
        Command::Fileserver { listen, dir, ttl, max_bytes, token, allow_origins } => {
            let config = FileServerConfig {
                listen,
                dir,
                ttl: Duration::from_secs(ttl),
                max_bytes,
                token,
                allow_origins,
                ..FileServerConfig::default()
            };
            fileserver(config).await
        }
        Command::Send {
            server,
            subject,
            fileserver,
            threshold,
            purpose,
            correlation_id,
            headers,
            payloads,
            stream,
        } => {
            let sink = Sink { server, subject, stream };
            send(sink, fileserver, threshold, purpose, correlation_id, headers, payloads).await
        }
        Command::Receive { server, subject, count, timeout, allow_hosts, show_headers, stream, since } => {
            let source = Sink { server, subject, stream };
            receive(source, since, count, timeout, allow_hosts, show_headers).await
        }
        Command::Validate { files } => validate(files),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", natsbridge::error::report(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<ExitCode, Box<dyn std::error::Error>>;

async fn fileserver(config: FileServerConfig) -> CliResult {
    let server = FileServer::start(config).await?;
    // One line on stdout so scripts can wait for readiness and learn the URL.
    println!("{}", serde_json::json!({ "fileserver": server.url() }));
    server.run_until_ctrl_c().await;
    Ok(ExitCode::SUCCESS)
}

/// Where `send` publishes and `receive` listens: a subject on a server, through a stream or not.
struct Sink {
    server: String,
    subject: String,
    stream: Option<String>,
}

fn parse_time(text: &str) -> Result<natsbridge::chrono::DateTime<natsbridge::chrono::Utc>, String> {
    natsbridge::chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&natsbridge::chrono::Utc))
        .map_err(|e| format!("not an RFC 3339 time (e.g. 2026-11-30T08:00:00Z): {e}"))
}

async fn send(
    sink: Sink,
    fileserver: String,
    threshold: usize,
    purpose: String,
    correlation_id: Option<String>,
    headers: Vec<String>,
    payload_specs: Vec<String>,
) -> CliResult {
    let mut payloads = Vec::new();
    for spec in &payload_specs {
        payloads.push(source::parse_payload(spec)?);
    }
    let client = natsbridge::connect(&sink.server).await?;
    let mut options = SendOptions::default()
        .connection(client.clone())
        .fileserver(fileserver)
        .size_threshold(threshold)
        .purpose(MsgPurpose::from(purpose.as_str()));
    if let Some(id) = correlation_id {
        options = options.correlation_id(id);
    }
    for h in headers {
        let (k, v) = h.split_once('=').ok_or_else(|| format!("--header `{h}` is not K=V"))?;
        options = options.header(k, v);
    }
    let rows: Vec<Option<usize>> = payloads.iter().map(|(_, p)| source::rows_of(p)).collect();
    let sent = match &sink.stream {
        None => natsbridge::smartsend(&sink.subject, payloads, &options).await?,
        Some(stream) => {
            let js = async_nats::jetstream::new(client);
            if js.get_stream(stream).await.is_err() {
                let config = StreamOptions::new(stream, vec![sink.subject.clone()], DEFAULT_STREAM_MAX_AGE);
                jetstream::ensure_stream(&js, &config).await?;
            }
            let sent = jetstream::publish_to_stream(&js, &sink.subject, payloads, &options).await?;
            eprintln!("{}", serde_json::json!({ "stream": stream, "stream_sequence": sent.stream_sequence }));
            sent
        }
    };
    println!("{}", digest::of_sent(&sent.envelope, &rows));
    Ok(ExitCode::SUCCESS)
}

async fn receive(
    source: Sink,
    since: Option<natsbridge::chrono::DateTime<natsbridge::chrono::Utc>>,
    count: Option<u64>,
    timeout: Option<u64>,
    allow_hosts: Vec<String>,
    show_headers: Vec<String>,
) -> CliResult {
    let client = natsbridge::connect(&source.server).await?;
    let mut options = ReceiveOptions::default();
    for h in &allow_hosts {
        options = options.allow_host(h);
    }
    let deadline = timeout.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let mut seen = 0u64;
    match source.stream {
        None => {
            let mut sub = client.subscribe(source.subject).await?;
            natsbridge::transport::subscriptions_registered(&client).await?;
            // Readiness line on stderr, so a driver can start sending.
            eprintln!("{}", serde_json::json!({ "subscribed": true }));
            while count.is_none_or(|c| seen < c) {
                let Some(Some(msg)) = within(deadline, sub.next()).await else { break };
                seen += 1;
                match natsbridge::smartreceive(&msg, &options).await {
                    Ok(r) => println!(
                        "{}",
                        digest::with_headers(digest::of_received(&r), msg.headers.as_ref(), &show_headers)
                    ),
                    Err(e) => println!("{}", digest::of_error(&e)),
                }
            }
        }
        Some(stream) => {
            let js = async_nats::jetstream::new(client);
            // A missing stream is the user's mistake, not an outage to wait out.
            js.get_stream(&stream).await.map_err(|e| format!("the stream `{stream}`: {e}"))?;
            let start = since.map_or(Start::All, Start::Since);
            let consumer_options =
                ConsumerOptions { filter_subject: Some(source.subject), start, ..ConsumerOptions::default() };
            let stream_name = stream.clone();
            let mut consumer = EnvelopeConsumer::new(js, stream, consumer_options, options);
            // The consumer is created by its first pull; the stream must exist already.
            eprintln!("{}", serde_json::json!({ "subscribed": true, "stream": stream_name }));
            while count.is_none_or(|c| seen < c) {
                let Some(next) = within(deadline, consumer.next()).await else { break };
                seen += 1;
                match next {
                    Ok(d) => {
                        println!(
                            "{}",
                            digest::with_headers(
                                digest::of_received(&d.received),
                                d.headers(),
                                &show_headers
                            )
                        );
                        d.ack().await?;
                    }
                    Err(e) => println!("{}", digest::of_error(&e)),
                }
            }
        }
    }
    Ok(if count.is_some_and(|c| seen < c) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `work`, unless `deadline` passes first (then `None`).
async fn within<F: Future>(deadline: Option<tokio::time::Instant>, work: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, work).await.ok(),
        None => Some(work.await),
    }
}

fn validate(files: Vec<PathBuf>) -> CliResult {
    let mut bundle: serde_json::Value = serde_json::from_str(natsbridge::types::SCHEMA_JSON)?;
    bundle["$ref"] = "#/definitions/MsgEnvelopeV1".into();
    let validator = jsonschema::draft7::new(&bundle)?;
    let mut bad = 0;
    for file in &files {
        let verdict = std::fs::read(file)
            .map_err(|e| format!("unreadable: {e}"))
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| format!("not JSON: {e}"))
            })
            .and_then(|v| match validator.iter_errors(&v).next() {
                None => Ok(()),
                Some(e) => Err(format!(
                    "breaks `{}` at {}: {}",
                    e.kind().keyword(),
                    if e.instance_path().as_str().is_empty() { "/" } else { e.instance_path().as_str() },
                    e
                )),
            });
        if let Err(why) = verdict {
            bad += 1;
            println!("{}: invalid: {why}", file.display());
        }
    }
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
