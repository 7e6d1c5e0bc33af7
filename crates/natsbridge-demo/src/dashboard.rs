//! `natsbridge-demo dashboard`: the four scenarios with a browser page in the dashboard's
//! role and this process in the compute service's. It starts, on loopback:
//!
//! - nats-server with JetStream and a WebSocket listener (the page connects with
//!   `wsconnect`): plain `ws://` by default; with `--ws-tls`, `wss://` with a certificate made
//!   at start ([`tls`]); with `--ws-auth token|user`, a token or a user and password required
//!   on that listener (made at start, handed to the page in `/config.json`, never logged);
//! - the embedded file server, with CORS for the page's origin (the page downloads links
//!   with `fetch`);
//! - the service side of every scenario, written with the Rust runtime: the simulation
//!   ([`command::serve`]), the analysis table, the DSP ([`audio::serve`]) and the health
//!   feed into a JetStream stream, backfilled at start with `--health-backfill` messages
//!   (600: ten minutes at one a second) whose `time`s span the replay window before it;
//! - an HTTP server for the page's built assets (`dashboard/dist`, bundled with esbuild
//!   from TypeScript by `cargo xtask setup`) and `GET /config.json`, which tells the page
//!   where everything is.
//!
//! It prints one JSON line when ready (`{"dashboard": URL, ...}`) and runs until
//! interrupted (Ctrl-C or SIGTERM). Every envelope the service handles is logged with its correlation id, as
//! JSON lines, to the log file the ready line names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::fileserver::{FileServer, FileServerConfig};
use natsbridge::jetstream::{self, StreamOptions};
use natsbridge::types::MsgPurpose;
use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive, smartreply};
use natsbridge_testkit::{NatsServer, free_port};
use serde_json::{Value, json};
use tracing::{info, warn};

use crate::ctx::Ctx;
use crate::{audio, command, tls};

/// The subjects the page and the service agree on (also served in `/config.json`). The
/// command channel is the example spec's (`simulation_api::channels::command`), for the
/// service named here.
const COMMAND_SERVICE: &str = "dashboard";
pub(crate) const TABLE_SUBJECT: &str = "dashboard.analysis.table";
pub(crate) const AUDIO_SUBJECT: &str = "dashboard.audio.analyze";
pub(crate) const HEALTH_SUBJECT: &str = "dashboard.health.metrics";
pub(crate) const HEALTH_STREAM: &str = "DASHBOARD_HEALTH";
/// How long the health stream keeps messages: longer than any replay window the page asks.
const HEALTH_MAX_AGE: Duration = Duration::from_secs(3600);
/// Every this many health messages one carries a snapshot big enough to go by link.
const SNAPSHOT_EVERY: u64 = 10;
const SNAPSHOT_BYTES: usize = 600_000;
/// The user name on the WebSocket listener with `--ws-auth user` (the password is made at start).
const WS_USER: &str = "dashboard";

/// What the WebSocket listener requires of a client (`--ws-auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum WsAuth {
    /// Nothing: any client that reaches the port connects.
    None,
    /// A token, made at start.
    Token,
    /// A user (`dashboard`) and a password made at start.
    User,
}

/// Settings of `natsbridge-demo dashboard`.
#[derive(Debug, Clone)]
pub(crate) struct DashboardArgs {
    pub(crate) listen: SocketAddr,
    pub(crate) table_rows: usize,
    pub(crate) health_window_secs: u64,
    pub(crate) health_interval: Duration,
    pub(crate) assets: PathBuf,
    pub(crate) log_file: PathBuf,
    pub(crate) nats_server_bin: Option<PathBuf>,
    /// Health messages published before the page can open, their `time`s spread over the
    /// `health_window_secs` before start-up.
    pub(crate) health_backfill: u64,
    /// The WebSocket listener over TLS (`wss://`), with a certificate made at start.
    pub(crate) ws_tls: bool,
    pub(crate) ws_auth: WsAuth,
}

/// A secret for the WebSocket listener: 24 random bytes from the kernel, hex.
fn secret() -> Result<String, Box<dyn std::error::Error>> {
    use std::io::Read as _;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts everything, prints the ready line, serves until Ctrl-C.
pub(crate) async fn run(args: DashboardArgs) -> Result<bool, Box<dyn std::error::Error>> {
    if !args.assets.join("index.html").is_file() {
        return Err(format!(
            "{} has no index.html: build the page with `npm run build -w dashboard` (`cargo xtask setup` does)",
            args.assets.display()
        )
        .into());
    }
    // The page's listener first: its origin is what the file server grants CORS to.
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let page = listener.local_addr()?;
    let page_url = format!("http://{page}/");
    let ws_port = free_port();
    let certs = if args.ws_tls { Some(tls::generate()?) } else { None };
    let tls_block = match &certs {
        Some(c) => format!(
            "  tls {{\n    cert_file: {:?}\n    key_file: {:?}\n  }}\n",
            c.cert.display().to_string(),
            c.key.display().to_string()
        ),
        None => "  no_tls: true\n".to_owned(),
    };
    // The credential the page is given; only the WebSocket listener asks for it (the service
    // connects over loopback TCP, which is not reachable from elsewhere).
    let (auth_block, page_auth) = match args.ws_auth {
        WsAuth::None => (String::new(), json!({})),
        WsAuth::Token => {
            let token = secret()?;
            (format!("  authorization {{\n    token: \"{token}\"\n  }}\n"), json!({ "nats_token": token }))
        }
        WsAuth::User => {
            let password = secret()?;
            (
                format!(
                    "  authorization {{\n    username: \"{WS_USER}\"\n    password: \"{password}\"\n  }}\n"
                ),
                json!({ "nats_user": WS_USER, "nats_password": password }),
            )
        }
    };
    let nats = NatsServer::start_with(
        args.nats_server_bin.clone(),
        &format!("websocket {{\n  listen: \"127.0.0.1:{ws_port}\"\n{tls_block}{auth_block}}}\n"),
    )?;
    let files = FileServer::start(FileServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        allow_origins: vec![format!("http://{page}"), format!("http://localhost:{}", page.port())],
        ..FileServerConfig::default()
    })
    .await?;
    let ctx = Ctx {
        nats_url: nats.url(),
        cluster: None,
        files_url: files.url().to_owned(),
        receive: ReceiveOptions::default().allow_host(files.url()),
    };

    let service = natsbridge::connect(&ctx.nats_url).await?;
    let bridge = command::service_bridge(service.clone(), &ctx);
    let commands = command::subscribe(&bridge, COMMAND_SERVICE).await?;
    tokio::spawn(command::serve(bridge, commands));
    let audio_sub = service.subscribe(AUDIO_SUBJECT).await?;
    let tables = service.subscribe(TABLE_SUBJECT).await?;
    natsbridge::transport::subscriptions_registered(&service).await?;
    tokio::spawn(audio::serve(ctx.clone(), service.clone(), audio_sub));
    let in_flight = Arc::new(AtomicUsize::new(0));
    tokio::spawn(table_service(ctx.clone(), service.clone(), tables, args.table_rows, in_flight.clone()));
    let js = async_nats::jetstream::new(service.clone());
    jetstream::ensure_stream(
        &js,
        &StreamOptions::new(HEALTH_STREAM, vec!["dashboard.health.>".into()], HEALTH_MAX_AGE),
    )
    .await?;
    // Ten minutes of history before anyone can open the page, then the live feed.
    let backfill_started = std::time::Instant::now();
    let next_seq = health_backfill(
        &ctx,
        &js,
        args.health_backfill,
        Duration::from_secs(args.health_window_secs),
        args.health_interval,
    )
    .await?;
    info!(
        messages = args.health_backfill,
        seconds = backfill_started.elapsed().as_secs_f64(),
        "health backfilled"
    );
    tokio::spawn(health_feed(ctx.clone(), js, next_seq, args.health_interval, in_flight));

    let ws_url = format!("{}://127.0.0.1:{ws_port}", if certs.is_some() { "wss" } else { "ws" });
    let mut config = json!({
        "nats_ws_url": ws_url,
        "fileserver_url": ctx.files_url,
        "table_rows": args.table_rows,
        "health_window_secs": args.health_window_secs,
        "health_stream": HEALTH_STREAM,
        "subjects": {
            "command": simulation_api::channels::command(COMMAND_SERVICE)?, "table": TABLE_SUBJECT, "audio": AUDIO_SUBJECT, "health": HEALTH_SUBJECT,
        },
    });
    if let (Some(config), Some(auth)) = (config.as_object_mut(), page_auth.as_object()) {
        config.extend(auth.clone());
    }
    let app = axum::Router::new()
        .route("/config.json", axum::routing::get(move || std::future::ready(axum::Json(config))))
        .fallback_service(tower_http::services::ServeDir::new(&args.assets));
    println!(
        "{}",
        json!({
            "dashboard": page_url, "nats_ws_url": ws_url, "fileserver_url": ctx.files_url,
            "log_file": args.log_file, "nats_url": ctx.nats_url,
            // What a client needs to trust the listener (no secret: the credential is only in
            // /config.json).
            "ws_tls": certs.as_ref().map(|c| json!({"ca_file": c.ca, "spki_sha256": c.spki_sha256})),
            "ws_auth": match args.ws_auth { WsAuth::None => "none", WsAuth::Token => "token", WsAuth::User => "user" },
            "health_backfill": args.health_backfill,
        })
    );
    info!(dashboard = %page_url, nats = %ctx.nats_url, files = %ctx.files_url, "dashboard ready");
    // Ctrl-C or SIGTERM: stop serving, then the file server and nats-server go with their
    // temporary directories (a process killed outright would leave nats-server behind).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        })
        .await?;
    files.shutdown().await;
    drop(nats);
    drop(certs);
    Ok(true)
}

/// The analysis service: each request `{"rows": N}` gets an Arrow table of N rows (at most
/// `max_rows`) by link, computed and sent in a task of its own.
async fn table_service(
    ctx: Ctx,
    client: async_nats::Client,
    mut sub: async_nats::Subscriber,
    max_rows: usize,
    in_flight: Arc<AtomicUsize>,
) {
    while let Some(msg) = sub.next().await {
        let req = match smartreceive(&msg, &ctx.receive).await {
            Ok(req) => req,
            Err(e) => {
                warn!(correlation_id = e.correlation_id().unwrap_or_default(), error = %e.report(), "bad table request");
                continue;
            }
        };
        let asked = match req.payloads.first().map(|p| &p.data) {
            Some(Payload::Dictionary(d)) => d["rows"].as_u64(),
            _ => None,
        };
        let rows = asked.map_or(max_rows, |n| (n as usize).min(max_rows));
        info!(correlation_id = req.correlation_id(), subject = TABLE_SUBJECT, rows, "table requested");
        let (ctx, client, in_flight) = (ctx.clone(), client.clone(), in_flight.clone());
        in_flight.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let table =
                tokio::task::spawn_blocking(move || natsbridge_testkit::data::table(rows, || {})).await;
            let opts = SendOptions::default()
                .fileserver(&ctx.files_url)
                .sender_name("analysis")
                .purpose(MsgPurpose::Event);
            let sent = match table {
                Ok(table) => {
                    smartreply(&client, &req.envelope, [("results", Payload::ArrowTable(table))], opts).await
                }
                Err(e) => {
                    let error = json!({"error": format!("computing the table: {e}")});
                    smartreply(&client, &req.envelope, [("error", Payload::Dictionary(error))], opts).await
                }
            };
            match sent {
                Ok(_) => info!(correlation_id = req.correlation_id(), rows, "table sent by link"),
                Err(e) => {
                    warn!(correlation_id = req.correlation_id(), error = %e.report(), "table reply failed")
                }
            }
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// One health envelope: the `health` dictionary, and every [`SNAPSHOT_EVERY`]th a snapshot
/// big enough to go by link.
fn health_payloads(seq: u64, health: Value) -> Vec<(&'static str, Payload)> {
    let mut payloads = vec![("health", Payload::Dictionary(health))];
    if seq.is_multiple_of(SNAPSHOT_EVERY) {
        let snapshot: Vec<u8> = (0..SNAPSHOT_BYTES).map(|i| (i as u64 * 31 + seq) as u8).collect();
        payloads.push(("snapshot", Payload::Binary(Bytes::from(snapshot))));
    }
    payloads
}

fn rfc3339(t: natsbridge::chrono::DateTime<natsbridge::chrono::Utc>) -> String {
    t.to_rfc3339_opts(natsbridge::chrono::SecondsFormat::Millis, true)
}

/// Publishes `seq`'s envelope into the health stream and logs it; `Err` only when the
/// publish failed.
async fn publish_health(
    js: &async_nats::jetstream::Context,
    opts: &SendOptions,
    seq: u64,
    health: Value,
    backfill: bool,
) -> Result<(), natsbridge::Error> {
    let sent = jetstream::publish_to_stream(js, HEALTH_SUBJECT, health_payloads(seq, health), opts).await?;
    info!(
        correlation_id = %sent.envelope.correlation_id,
        subject = HEALTH_SUBJECT,
        seq,
        stream_sequence = sent.stream_sequence,
        snapshot = seq.is_multiple_of(SNAPSHOT_EVERY),
        backfill,
        "health published"
    );
    Ok(())
}

fn health_options(ctx: &Ctx) -> SendOptions {
    SendOptions::default().fileserver(&ctx.files_url).sender_name("health").purpose(MsgPurpose::Event)
}

/// The history a dashboard that was away must catch up on: `count` health envelopes
/// (`seq` 1..=count, `"backfill": true`, every [`SNAPSHOT_EVERY`]th with its snapshot by
/// link) whose `time`s are spread evenly over the `span` before now, the last one now.
/// JetStream stores them with the time they are published (now), so a replay of the last
/// `span` by stream time gets every one of them. Their figures are made up (a slow wave
/// for the CPU, this process's memory, an empty queue) and marked as such. Returns the next
/// `seq`.
async fn health_backfill(
    ctx: &Ctx,
    js: &async_nats::jetstream::Context,
    count: u64,
    span: Duration,
    interval: Duration,
) -> Result<u64, Box<dyn std::error::Error>> {
    let opts = health_options(ctx);
    let now = natsbridge::chrono::Utc::now();
    let step = if count > 1 { span / (count as u32) } else { interval };
    let step = natsbridge::chrono::Duration::from_std(step)?;
    let memory = resident_mb();
    for seq in 1..=count {
        let time = now - step * i32::try_from(count - seq)?;
        let health = json!({
            "seq": seq,
            "time": rfc3339(time),
            "cpu_percent": ((20.0 + 15.0 * (seq as f64 / 40.0).sin()) * 10.0).round() / 10.0,
            "memory_mb": memory,
            "queue_depth": 0,
            "backfill": true,
        });
        publish_health(js, &opts, seq, health, true).await?;
    }
    Ok(count + 1)
}

/// The live health feed: one envelope per `interval` into the health stream from `first_seq`
/// on, every [`SNAPSHOT_EVERY`]th with a snapshot that goes by link.
async fn health_feed(
    ctx: Ctx,
    js: async_nats::jetstream::Context,
    first_seq: u64,
    interval: Duration,
    in_flight: Arc<AtomicUsize>,
) {
    let opts = health_options(&ctx);
    let mut tick = tokio::time::interval(interval);
    let mut cpu = CpuMeter::default();
    for seq in first_seq.. {
        tick.tick().await;
        let health = json!({
            "seq": seq,
            "time": rfc3339(natsbridge::chrono::Utc::now()),
            "cpu_percent": cpu.percent(),
            "memory_mb": resident_mb(),
            "queue_depth": in_flight.load(Ordering::Relaxed),
            "backfill": false,
        });
        if let Err(e) = publish_health(&js, &opts, seq, health, false).await {
            warn!(correlation_id = e.correlation_id().unwrap_or_default(), error = %e.report(), "health publish failed")
        }
    }
}

/// This process's CPU use between two calls, from `/proc/self/stat` (0 elsewhere).
#[derive(Debug, Default)]
struct CpuMeter {
    last: Option<(std::time::Instant, f64)>,
}

impl CpuMeter {
    fn percent(&mut self) -> f64 {
        let Some(ticks) = cpu_ticks() else { return 0.0 };
        let now = std::time::Instant::now();
        let pct = match self.last {
            // Linux reports in clock ticks of 1/100 s.
            Some((then, before)) => (ticks - before) / 100.0 / now.duration_since(then).as_secs_f64() * 100.0,
            None => 0.0,
        };
        self.last = Some((now, ticks));
        (pct * 10.0).round() / 10.0
    }
}

fn cpu_ticks() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (utime, stime): (f64, f64) = (fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?);
    Some(utime + stime)
}

/// Resident memory in MB, from `/proc/self/statm` (0 elsewhere).
fn resident_mb() -> Value {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()))
        .unwrap_or(0.0);
    json!((pages * 4096.0 / 1e6 * 10.0).round() / 10.0)
}
