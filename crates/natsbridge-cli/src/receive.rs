//! `receive` and `reply`: subscribe (or replay a JetStream stream from a time), decode each
//! envelope, print its digest line, and optionally save its payloads and print the
//! envelope; `reply` also answers each request, with payloads or an `error_response_v1`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use futures::StreamExt as _;
use natsbridge::fetch::FetchOptions;
use natsbridge::jetstream::{ConsumerOptions, EnvelopeConsumer, Start};
use natsbridge::types::{MsgPurpose, PayloadType};
use natsbridge::{Error, ErrorCode, Payload, ReceiveOptions, Received, SendOptions};

use crate::connection::{FileserverArgs, NatsArgs};
use crate::{CliResult, digest, progress, source};

/// What to do with each received envelope besides its digest line.
#[derive(Debug, clap::Args)]
pub(crate) struct OutputArgs {
    /// Also accept links to this host, given as an http(s) URL or origin
    /// (`http://files.example:8080`), or `*` for every host. Repeatable.
    #[arg(long = "allow-host", value_parser = allowed_host)]
    pub(crate) allow_hosts: Vec<String>,
    /// Also accept file:// links under this directory. Repeatable.
    #[arg(long = "allow-dir")]
    pub(crate) allow_dirs: Vec<PathBuf>,
    /// Append `"headers": {NAME: value}` to each digest line for these NATS headers.
    #[arg(long = "show-header")]
    show_headers: Vec<String>,
    /// Write each payload into this directory, named after its dataname with the type's
    /// extension (`.arrows`, `.json`, `.txt`; the byte types keep the name's own, else `.bin`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Print the envelope JSON on a line of its own after each digest line.
    #[arg(long)]
    envelope: bool,
}

impl OutputArgs {
    /// The digest line of `received` (with the headers asked for), then what else was asked.
    pub(crate) fn print(
        &self,
        received: &Received,
        headers: Option<&async_nats::HeaderMap>,
    ) -> Result<(), Error> {
        println!("{}", digest::with_headers(digest::of_received(received), headers, &self.show_headers));
        if self.envelope {
            println!("{}", serde_json::to_string(&received.envelope).unwrap_or_default());
        }
        if let Some(dir) = &self.out {
            save(dir, received)?;
        }
        Ok(())
    }

    /// The receive options these flags ask for (progress bars on a terminal); `nats-os://`
    /// links resolve through `client`'s JetStream.
    pub(crate) fn receive_options(&self, client: &async_nats::Client) -> ReceiveOptions {
        let mut options = ReceiveOptions::default().jetstream(async_nats::jetstream::new(client.clone()));
        if let Some(bars) = progress::reporter() {
            options = options.fetch(FetchOptions { progress: Some(bars), ..FetchOptions::default() });
        }
        for h in &self.allow_hosts {
            options = options.allow_host(h);
        }
        for d in &self.allow_dirs {
            options = options.allow_dir(d);
        }
        options
    }
}

/// Where and how long to listen.
#[derive(Debug, clap::Args)]
pub(crate) struct ListenArgs {
    #[command(flatten)]
    nats: NatsArgs,
    #[arg(long)]
    subject: String,
    /// Stop after this many envelopes (good or bad).
    #[arg(long)]
    count: Option<u64>,
    /// Give up after this many seconds; exits 1 if fewer than --count arrived.
    #[arg(long)]
    timeout: Option<u64>,
    #[command(flatten)]
    output: OutputArgs,
}

/// `receive`'s own switches.
#[derive(Debug, clap::Args)]
pub(crate) struct ReceiveArgs {
    #[command(flatten)]
    listen: ListenArgs,
    /// Replay this JetStream stream through a pull consumer (filtered on the subject)
    /// instead of subscribing: from its start, or from --since.
    #[arg(long)]
    stream: Option<String>,
    /// With --stream: where the replay starts: `all` (the default), `new`, a stream
    /// sequence (`42`), a duration back from now (`90s`, `10m`, `1h30m`, `2d`) or an RFC 3339
    /// time with its offset (`2026-11-30T08:00:00Z`).
    #[arg(long, requires = "stream", value_parser = parse_since)]
    since: Option<Start>,
    /// With --stream: a durable consumer of this name (a later run goes on where this one
    /// stopped) instead of an ephemeral one.
    #[arg(long, requires = "stream")]
    durable: Option<String>,
}

/// `reply`'s own switches.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplyArgs {
    #[command(flatten)]
    listen: ListenArgs,
    /// Answer with these payloads (NAME:TYPE:SOURCE, repeatable); without any, echo each
    /// request's payloads.
    #[arg(long = "payload", value_name = "NAME:TYPE:SOURCE")]
    payloads: Vec<String>,
    /// Answer every request with an `error_response_v1` of this code instead
    /// (`CODE` or `CODE:message`, e.g. `TIMEOUT:the simulation is busy`).
    #[arg(long, value_name = "CODE[:MESSAGE]")]
    fail: Option<String>,
    /// Share the requests with other responders of this queue group.
    #[arg(long)]
    queue: Option<String>,
    #[command(flatten)]
    fileserver: FileserverArgs,
}

/// `--allow-host`: the one form every runtime takes ([`natsbridge::fetch::allowed_host`]).
fn allowed_host(text: &str) -> Result<String, String> {
    natsbridge::fetch::allowed_host(text).map(|_| text.to_owned()).map_err(|e| e.message().to_owned())
}

/// `--since`: the replay grammar every runtime reads ([`Start::parse`]).
fn parse_since(text: &str) -> Result<Start, String> {
    Start::parse(text).map_err(|e| e.message().to_owned())
}

/// `work`, unless `deadline` passes first (then `None`).
async fn within<F: Future>(deadline: Option<tokio::time::Instant>, work: F) -> Option<F::Output> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, work).await.ok(),
        None => Some(work.await),
    }
}

fn deadline(timeout: Option<u64>) -> Option<tokio::time::Instant> {
    timeout.map(|s| tokio::time::Instant::now() + Duration::from_secs(s))
}

fn outcome(count: Option<u64>, seen: u64) -> ExitCode {
    if count.is_some_and(|c| seen < c) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// `natsbridge receive`.
pub(crate) async fn receive(args: ReceiveArgs) -> CliResult {
    let listen = &args.listen;
    let client = listen.nats.connect().await?;
    let options = listen.output.receive_options(&client);
    let deadline = deadline(listen.timeout);
    let mut seen = 0u64;
    match &args.stream {
        None => {
            let mut sub = client.subscribe(listen.subject.clone()).await?;
            natsbridge::transport::subscriptions_registered(&client).await?;
            // Readiness line on stderr, so a driver can start sending.
            eprintln!("{}", serde_json::json!({ "subscribed": true }));
            while listen.count.is_none_or(|c| seen < c) {
                let Some(Some(msg)) = within(deadline, sub.next()).await else { break };
                seen += 1;
                match natsbridge::smartreceive(&msg, &options).await {
                    Ok(r) => listen.output.print(&r, msg.headers.as_ref())?,
                    Err(e) => println!("{}", digest::of_error(&e)),
                }
            }
        }
        Some(stream) => {
            // Acks are sent without a round trip (rule 18): flushed before the process exits.
            let flusher = client.clone();
            let js = async_nats::jetstream::new(client);
            // A missing stream is the user's mistake, not an outage to wait out.
            js.get_stream(stream).await.map_err(|e| format!("the stream `{stream}`: {e}"))?;
            let defaults = ConsumerOptions::default();
            let consumer_options = ConsumerOptions {
                filter_subject: Some(listen.subject.clone()),
                start: args.since.unwrap_or(Start::All),
                durable_name: args.durable.clone(),
                // Pull no more than --count: what this run pulls but does not hand over would
                // stay unacknowledged, and a durable consumer's next run would wait for its
                // redelivery (ack_wait).
                limit: listen.count.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
                ..defaults
            };
            let mut consumer = EnvelopeConsumer::new(js, stream.clone(), consumer_options, options);
            eprintln!("{}", serde_json::json!({ "subscribed": true, "stream": stream }));
            while listen.count.is_none_or(|c| seen < c) {
                let Some(next) = within(deadline, consumer.next()).await else { break };
                seen += 1;
                match next {
                    Ok(d) => {
                        listen.output.print(&d.received, d.headers())?;
                        d.ack().await?;
                    }
                    Err(e) => println!("{}", digest::of_error(&e)),
                }
            }
            flusher.flush().await.map_err(|e| format!("flushing the acks: {e}"))?;
        }
    }
    Ok(outcome(listen.count, seen))
}

/// `natsbridge reply`: a responder for `request` (or any `smartrequest`): prints each
/// request's digest line and answers it.
pub(crate) async fn reply(args: ReplyArgs) -> CliResult {
    let listen = &args.listen;
    let fail = args
        .fail
        .as_deref()
        .map(|spec| {
            let (code, message) = spec.split_once(':').unwrap_or((spec, "the responder was told to fail"));
            let code = ErrorCode::from(code);
            if matches!(code, ErrorCode::Unknown(_)) {
                return Err(format!(
                    "--fail `{spec}`: the code is not one of {}",
                    ErrorCode::KNOWN.join(", ")
                ));
            }
            Ok(Error::new(code, message))
        })
        .transpose()?;
    let mut answer = Vec::new();
    for spec in &args.payloads {
        answer.push(source::parse_payload(spec)?);
    }
    let client = listen.nats.connect().await?;
    let mut sub = match &args.queue {
        Some(group) => client.queue_subscribe(listen.subject.clone(), group.clone()).await?,
        None => client.subscribe(listen.subject.clone()).await?,
    };
    natsbridge::transport::subscriptions_registered(&client).await?;
    eprintln!("{}", serde_json::json!({ "subscribed": true }));
    let options = listen.output.receive_options(&client);
    let deadline = deadline(listen.timeout);
    let mut seen = 0u64;
    while listen.count.is_none_or(|c| seen < c) {
        let Some(Some(msg)) = within(deadline, sub.next()).await else { break };
        seen += 1;
        let request = match natsbridge::smartreceive(&msg, &options).await {
            Ok(r) => r,
            Err(e) => {
                println!("{}", digest::of_error(&e));
                continue;
            }
        };
        listen.output.print(&request, msg.headers.as_ref())?;
        let sent = match &fail {
            Some(error) => {
                let error = Error::new(error.code().clone(), error.message())
                    .with_correlation_id(request.correlation_id());
                natsbridge::smartreply_error(&client, &request.envelope, &error).await
            }
            None => {
                let payloads: Vec<(String, Payload)> = if answer.is_empty() {
                    request.payloads.iter().map(|p| (p.dataname.clone(), p.data.clone())).collect()
                } else {
                    answer.clone()
                };
                let opts = SendOptions::default()
                    .blob_store(std::sync::Arc::new(args.fileserver.store()))
                    .sender_name("natsbridge reply")
                    .purpose(MsgPurpose::Ack);
                natsbridge::smartreply(&client, &request.envelope, payloads, opts).await.map(|_| ())
            }
        };
        if let Err(e) = sent {
            println!("{}", digest::of_error(&e));
        }
    }
    // Replies are queued, not flushed one by one: the last ones must leave before exit.
    client
        .flush()
        .await
        .map_err(|e| Error::new(ErrorCode::PublishFailed, "flushing the replies").with_source(e))?;
    Ok(outcome(listen.count, seen))
}

/// Writes every payload of `received` into `dir` (created if missing): the bytes as
/// carried, so their sha256 is the digest line's.
fn save(dir: &Path, received: &Received) -> Result<(), Error> {
    let io = |what: String, e: std::io::Error| {
        Error::new(ErrorCode::DownloadFailed, what)
            .with_source(e)
            .with_correlation_id(received.correlation_id())
    };
    std::fs::create_dir_all(dir).map_err(|e| io(format!("creating {}", dir.display()), e))?;
    let mut taken = HashSet::new();
    for p in &received.payloads {
        let name = file_name(&p.dataname, &p.payload_type);
        let (stem, ext) = name.rsplit_once('.').map_or((name.as_str(), ""), |(s, e)| (s, e));
        let mut candidate = name.clone();
        for n in 2.. {
            if taken.insert(candidate.clone()) {
                break;
            }
            candidate = format!("{stem}-{n}.{ext}");
        }
        let path = dir.join(&candidate);
        std::fs::write(&path, p.bytes()).map_err(|e| io(format!("writing {}", path.display()), e))?;
    }
    Ok(())
}

/// A file name for a payload: the dataname made safe (no separators, no leading dot), with
/// the type's extension.
fn file_name(dataname: &str, payload_type: &PayloadType) -> String {
    let safe: String = dataname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    let safe = safe.trim_start_matches('.');
    let safe = if safe.is_empty() { "payload" } else { safe };
    let own_ext = safe.rsplit_once('.').map(|(_, e)| e).filter(|e| !e.is_empty());
    let ext = match payload_type {
        PayloadType::Arrowtable => "arrows",
        PayloadType::Dictionary | PayloadType::Jsontable => "json",
        PayloadType::Text => "txt",
        _ => return if own_ext.is_some() { safe.to_owned() } else { format!("{safe}.bin") },
    };
    let stem = if own_ext == Some(ext) { safe.rsplit_once('.').map_or(safe, |(s, _)| s) } else { safe };
    format!("{stem}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_typed() {
        assert_eq!(file_name("table", &PayloadType::Arrowtable), "table.arrows");
        assert_eq!(file_name("cfg.json", &PayloadType::Dictionary), "cfg.json");
        assert_eq!(file_name("voice.wav", &PayloadType::Audio), "voice.wav");
        assert_eq!(file_name("blob", &PayloadType::Binary), "blob.bin");
        assert_eq!(file_name("../../etc/passwd", &PayloadType::Text), "_.._etc_passwd.txt");
        assert_eq!(file_name("", &PayloadType::Image), "payload.bin");
    }

    #[test]
    fn since_reads_the_replay_grammar() {
        use natsbridge::chrono::Utc;
        assert_eq!(parse_since(natsbridge::types::profile::START_ALL).unwrap(), Start::All);
        assert_eq!(parse_since("42").unwrap(), Start::Sequence(42));
        let Start::Since(t) = parse_since("10m").unwrap() else { panic!("a time") };
        assert!((599..=601).contains(&(Utc::now() - t).num_seconds()), "{t}");
        let refused = parse_since("10 minutes").unwrap_err();
        assert!(refused.contains("\"10 minutes\"") && refused.contains("`1h30m`"), "{refused}");
    }
}
