//! `send` and `request`: build an envelope from the command line (every field the schema
//! has, payloads from arguments, files or stdin) and publish it, through core NATS or a
//! JetStream stream, or print it without publishing; `request` waits for the reply.

use std::io::Read as _;
use std::sync::Arc;
use std::time::Duration;

use natsbridge::blob::{AmazonS3Builder, FsStore, NatsObjectStore, S3Store};
use natsbridge::jetstream::{self, StreamOptions};
use natsbridge::types::MsgPurpose;
use natsbridge::{Payload, SendOptions, config};

use crate::connection::{FileserverArgs, NatsArgs};
use crate::{CliResult, digest, progress, receive, source};

/// How long a stream that `send --stream` creates keeps its messages, unless `--max-age`.
const DEFAULT_STREAM_MAX_AGE_SECS: u64 = natsbridge::types::profile::CLI_STREAM_MAX_AGE_SECONDS;

/// The envelope `send` and `request` build: its fields, payloads and where links go.
#[derive(Debug, clap::Args)]
pub(crate) struct EnvelopeArgs {
    #[command(flatten)]
    pub(crate) nats: NatsArgs,
    #[arg(long)]
    pub(crate) subject: String,
    /// NAME:TYPE:SOURCE, where SOURCE is literal text or @PATH. Repeatable.
    #[arg(long = "payload", value_name = "NAME:TYPE:SOURCE")]
    payloads: Vec<String>,
    /// One more payload, read from standard input: NAME:TYPE.
    #[arg(long, value_name = "NAME:TYPE")]
    from_stdin: Option<String>,
    #[command(flatten)]
    fileserver: FileserverArgs,
    /// Where link payloads go: `plik` (the --fileserver), `dir:PATH` (file:// links a
    /// receiver on this machine reads with --allow-dir), `nats-os:BUCKET` (the JetStream
    /// Object Store of --server) or `s3:BUCKET[/PREFIX]` (presigned links; region,
    /// endpoint and credentials from AWS_REGION, AWS_ENDPOINT, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ALLOW_HTTP).
    #[arg(long, default_value = "plik")]
    store: String,
    /// Payloads of this many serialized bytes or more go by link (default: SIZE_THRESHOLD,
    /// read as the runtime reads it, or 500000).
    #[arg(long, default_value_t = config::size_threshold())]
    threshold: usize,
    /// msg_purpose: ACK, NACK, updateStatus, shutdown, chat, command, event.
    #[arg(long, default_value = "chat")]
    purpose: String,
    /// A UUID; a new one when not given.
    #[arg(long)]
    correlation_id: Option<String>,
    /// A UUID (also the `Nats-Msg-Id` header); a new one when not given.
    #[arg(long)]
    msg_id: Option<String>,
    #[arg(long)]
    sender_name: Option<String>,
    #[arg(long)]
    sender_id: Option<String>,
    #[arg(long)]
    receiver_name: Option<String>,
    #[arg(long)]
    receiver_id: Option<String>,
    /// Where the receiver should answer (`request` sets its own inbox).
    #[arg(long)]
    reply_to: Option<String>,
    /// The msg_id this message answers.
    #[arg(long)]
    reply_to_msg_id: Option<String>,
    /// Envelope metadata entry; VALUE is JSON when it parses as JSON, else a string. Repeatable.
    #[arg(long = "metadata", value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Envelope metadata as one JSON object (entries of --metadata are added to it).
    #[arg(long, value_name = "JSON")]
    metadata_json: Option<String>,
    /// Extra NATS header, repeatable.
    #[arg(long = "header", value_name = "K=V")]
    headers: Vec<String>,
    /// Link downloads may happen once (the file server deletes the file after it).
    #[arg(long)]
    one_shot: bool,
    /// Lifetime asked for link uploads, in seconds.
    #[arg(long, value_name = "SECS")]
    link_ttl: Option<u64>,
}

/// `send`'s own switches.
#[derive(Debug, clap::Args)]
pub(crate) struct SendArgs {
    #[command(flatten)]
    pub(crate) envelope: EnvelopeArgs,
    /// Publish through JetStream into this stream and wait for the ack (its stream sequence
    /// is printed on stderr); the stream is created for the subject when missing.
    #[arg(long)]
    stream: Option<String>,
    /// With --stream, when it creates the stream: how long it keeps messages, in seconds.
    #[arg(long, requires = "stream", value_name = "SECS", default_value_t = DEFAULT_STREAM_MAX_AGE_SECS)]
    max_age: u64,
    /// With --stream, when it creates the stream: copies kept on distinct servers of a
    /// cluster (3 survives the loss of any one).
    #[arg(long, requires = "stream", value_name = "N", default_value_t = 1)]
    replicas: usize,
    /// Do not publish: print the envelope JSON instead of the digest line (links are
    /// still uploaded).
    #[arg(long, conflicts_with = "stream")]
    no_publish: bool,
}

/// `request`'s own switches.
#[derive(Debug, clap::Args)]
pub(crate) struct RequestArgs {
    #[command(flatten)]
    pub(crate) envelope: EnvelopeArgs,
    /// How long to wait for the reply, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    #[command(flatten)]
    pub(crate) output: receive::OutputArgs,
}

/// The payloads and options `args` describe, connected to `client` (when publishing).
async fn prepare(
    args: &EnvelopeArgs,
    client: Option<&async_nats::Client>,
) -> Result<(Vec<(String, Payload)>, Vec<Option<usize>>, SendOptions), Box<dyn std::error::Error>> {
    let mut payloads = Vec::new();
    for spec in &args.payloads {
        payloads.push(source::parse_payload(spec)?);
    }
    if let Some(spec) = &args.from_stdin {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes)?;
        payloads.push(source::parse_bytes(spec, bytes)?);
    }
    if payloads.is_empty() {
        return Err("give at least one --payload (or --from-stdin)".into());
    }
    let purpose = MsgPurpose::from(args.purpose.as_str());
    if let MsgPurpose::Unknown(p) = &purpose {
        return Err(format!("--purpose `{p}` is not one of {}", MsgPurpose::KNOWN.join(", ")).into());
    }
    let mut options =
        SendOptions::default().size_threshold(args.threshold).purpose(purpose).one_shot(args.one_shot);
    if let Some(c) = client {
        options = options.connection(c.clone());
    }
    options = match args.store.split_once(':') {
        _ if args.store == "plik" => {
            let store = args.fileserver.store();
            options.blob_store(Arc::new(match progress::reporter() {
                Some(bars) => store.progress(bars),
                None => store,
            }))
        }
        Some(("dir", path)) => options.blob_store(Arc::new(FsStore::new(path)?)),
        Some(("nats-os", bucket)) => {
            let client =
                client.ok_or("--store nats-os needs a connection (it cannot go with --no-publish)")?;
            let js = async_nats::jetstream::new(client.clone());
            let ttl = Duration::from_secs(args.link_ttl.unwrap_or(DEFAULT_STREAM_MAX_AGE_SECS));
            options.blob_store(Arc::new(NatsObjectStore::open(&js, bucket, ttl).await?))
        }
        Some(("s3", target)) => {
            let (bucket, prefix) = target.split_once('/').unwrap_or((target, ""));
            let store = S3Store::new(AmazonS3Builder::from_env().with_bucket_name(bucket))?;
            let prefix = if prefix.is_empty() || prefix.ends_with('/') {
                prefix.to_owned()
            } else {
                format!("{prefix}/")
            };
            options.blob_store(Arc::new(store.prefix(prefix)))
        }
        _ => {
            return Err(format!(
                "--store `{}`: use plik, dir:PATH, nats-os:BUCKET or s3:BUCKET[/PREFIX]",
                args.store
            )
            .into());
        }
    };
    type Set = fn(SendOptions, String) -> SendOptions;
    let fields: [(&Option<String>, Set); 8] = [
        (&args.correlation_id, |o, v| o.correlation_id(v)),
        (&args.msg_id, |o, v| o.msg_id(v)),
        (&args.sender_name, |o, v| o.sender_name(v)),
        (&args.sender_id, |o, v| o.sender_id(v)),
        (&args.receiver_name, |o, v| o.receiver_name(v)),
        (&args.receiver_id, |o, v| o.receiver_id(v)),
        (&args.reply_to, |o, v| o.reply_to(v)),
        (&args.reply_to_msg_id, |o, v| o.reply_to_msg_id(v)),
    ];
    for (value, set) in fields {
        if let Some(v) = value {
            options = set(options, v.clone());
        }
    }
    let mut metadata = match &args.metadata_json {
        Some(text) => match serde_json::from_str(text)? {
            serde_json::Value::Object(m) => m,
            _ => return Err("--metadata-json must be a JSON object".into()),
        },
        None => serde_json::Map::new(),
    };
    for entry in &args.metadata {
        let (k, v) = entry.split_once('=').ok_or_else(|| format!("--metadata `{entry}` is not KEY=VALUE"))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::from(v));
        metadata.insert(k.to_owned(), value);
    }
    options = options.metadata(metadata);
    for h in &args.headers {
        let (k, v) = h.split_once('=').ok_or_else(|| format!("--header `{h}` is not K=V"))?;
        options = options.header(k, v);
    }
    if let Some(secs) = args.link_ttl {
        options = options.link_ttl(Duration::from_secs(secs));
    }
    let rows = payloads.iter().map(|(_, p)| source::rows_of(p)).collect();
    Ok((payloads, rows, options))
}

/// `natsbridge send`.
pub(crate) async fn send(args: SendArgs) -> CliResult {
    let env = &args.envelope;
    if args.no_publish {
        let (payloads, _, options) = prepare(env, None).await?;
        // Nothing is published, but the envelope names the server the flags (or the
        // environment, or the context) say.
        let options = options.connection(env.nats.settings()?).no_publish();
        let sent = natsbridge::smartsend(&env.subject, payloads, &options).await?;
        println!("{}", sent.json);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let client = env.nats.connect().await?;
    let (payloads, rows, options) = prepare(env, Some(&client)).await?;
    let sent = match &args.stream {
        // One envelope, then the process exits: it must be on the wire first.
        None => natsbridge::smartsend(&env.subject, payloads, &options.flush(true)).await?,
        Some(stream) => {
            let js = async_nats::jetstream::new(client);
            if js.get_stream(stream).await.is_err() {
                let max_age = Duration::from_secs(args.max_age);
                let options = StreamOptions {
                    replicas: args.replicas,
                    ..StreamOptions::new(stream, vec![env.subject.clone()], max_age)
                };
                jetstream::ensure_stream(&js, &options).await?;
            }
            let sent = jetstream::publish_to_stream(&js, &env.subject, payloads, &options).await?;
            eprintln!("{}", serde_json::json!({ "stream": stream, "stream_sequence": sent.stream_sequence }));
            sent
        }
    };
    println!("{}", digest::of_sent(&sent.envelope, &rows));
    Ok(std::process::ExitCode::SUCCESS)
}

/// `natsbridge request`: sends, waits for the reply, prints its digest line (or the
/// responder's error line, exit 1).
pub(crate) async fn request(args: RequestArgs) -> CliResult {
    let env = &args.envelope;
    let client = env.nats.connect().await?;
    let (payloads, _, options) = prepare(env, Some(&client)).await?;
    let receive = args.output.receive_options(&client);
    let timeout = Duration::from_secs(args.timeout);
    match natsbridge::smartrequest(&client, &env.subject, payloads, options, &receive, timeout).await {
        Ok(reply) => {
            args.output.print(&reply, None)?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", digest::of_error(&e));
            Ok(std::process::ExitCode::FAILURE)
        }
    }
}
