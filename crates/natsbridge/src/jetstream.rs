//! JetStream: streams with limits retention, acknowledged and de-duplicated publishing,
//! and a pull consumer that hands envelopes to the application with backpressure.
//!
//! - [`ensure_stream`] creates or updates a stream (limits retention, `max_age`, subjects).
//! - [`publish_to_stream`] is `smartsend` through JetStream: `Nats-Msg-Id` = `msg_id`,
//!   waits for the ack, and gives link uploads a TTL of at least the stream's `max_age`
//!   (never one-shot), so links still resolve when a late joiner replays. A publish the
//!   stream did not acknowledge (a cluster electing a new leader) is sent again with the
//!   same `Nats-Msg-Id`, so the stream keeps one copy. [`StreamPublisher`] does the same
//!   for many envelopes, looking the stream up once.
//! - Streams can be replicated ([`StreamOptions::replicas`]: R3 survives any one server).
//! - [`EnvelopeConsumer`] pulls in bounded requests (`max_messages`, `max_bytes`), downloads
//!   and decodes each envelope, and only then hands it over; the application acks it
//!   ([`Delivered::ack`]: at least once, no round trip; [`Delivered::ack_confirmed`] waits
//!   for the server). Its defaults are the profile's `CONSUMER_*` (schema/README.md rule
//!   18), the same in every runtime. Envelopes that can never decode are terminated (and reported),
//!   transient download failures are nak'ed for redelivery, up to `max_deliver`
//!   deliveries; then the envelope is terminated and reported too, and replay goes on. If the consumer or the server
//!   goes away, it is recreated where it left off, and nothing already handed over is
//!   handed over again.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::stream::{Config as StreamConfig, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, AckKind, Context};
use futures::StreamExt as _;
use natsbridge_types::profile;
use tracing::{debug, warn};

use crate::error::{Error, ErrorCode, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive};
use crate::send::{Sent, smartsend};
use crate::transport::with_retries;
use crate::wire::new_uuid;

/// Extra lifetime given to link uploads beyond the stream's `max_age`.
pub const LINK_TTL_SLACK: Duration = Duration::from_secs(natsbridge_types::profile::LINK_TTL_SLACK_SECONDS);

/// The link lifetime asked for a stream that keeps messages for ever (`max_age` zero):
/// only a store that never deletes grants it (a directory, an Object Store bucket without
/// `max_age`, a Plik server allowing uploads that never expire); the others refuse the
/// publish rather than hold links that die before their messages.
pub const LINK_TTL_FOREVER: Duration = Duration::MAX;

/// A stream to create or update.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Stream name.
    pub name: String,
    /// Subjects captured.
    pub subjects: Vec<String>,
    /// How long messages are kept (limits retention).
    pub max_age: Duration,
    /// Largest total size, bytes (`None` = unlimited).
    pub max_bytes: Option<i64>,
    /// Window in which a repeated `Nats-Msg-Id` is dropped.
    pub duplicate_window: Duration,
    /// File (default) or memory storage.
    pub memory: bool,
    /// Copies kept on distinct servers of a cluster (1: no replication; 3 survives the
    /// loss of any one server).
    pub replicas: usize,
}

impl StreamOptions {
    /// A file-backed stream keeping `subjects` for `max_age`, one replica.
    pub fn new(name: impl Into<String>, subjects: Vec<String>, max_age: Duration) -> Self {
        StreamOptions {
            name: name.into(),
            subjects,
            max_age,
            max_bytes: None,
            duplicate_window: Duration::from_secs(120),
            memory: false,
            replicas: 1,
        }
    }
}

/// Creates the stream, or updates it to these options.
pub async fn ensure_stream(js: &Context, options: &StreamOptions) -> Result<jetstream::stream::Info> {
    let config = StreamConfig {
        name: options.name.clone(),
        subjects: options.subjects.clone(),
        retention: RetentionPolicy::Limits,
        max_age: options.max_age,
        max_bytes: options.max_bytes.unwrap_or(-1),
        // The window cannot outlast the messages; `max_age` zero means no age limit.
        duplicate_window: if options.max_age.is_zero() {
            options.duplicate_window
        } else {
            options.duplicate_window.min(options.max_age)
        },
        storage: if options.memory { StorageType::Memory } else { StorageType::File },
        num_replicas: options.replicas.max(1),
        ..Default::default()
    };
    js.create_or_update_stream(config).await.map_err(|e| {
        Error::new(ErrorCode::NatsConnectionFailed, format!("creating the stream `{}`", options.name))
            .with_source(e)
    })
}

/// Publishes an envelope into the stream that captures `subject` and waits for the ack.
///
/// Link uploads get a TTL of at least the stream's `max_age` plus [`LINK_TTL_SLACK`] and
/// are never one-shot. [`Sent::stream_sequence`] is the message's place in the stream.
/// An unacknowledged publish is retried with the same `Nats-Msg-Id` (see
/// [`SendOptions::publish_retry`]). For many envelopes, [`StreamPublisher`] looks the
/// stream up once.
pub async fn publish_to_stream<S: Into<String>>(
    js: &Context,
    subject: &str,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: &SendOptions,
) -> Result<Sent> {
    // Fix the correlation id first, so that every error below carries it.
    let cid = options.correlation_id.clone().unwrap_or_else(new_uuid);
    let options = options.clone().correlation_id(&cid);
    let publisher =
        StreamPublisher::new(js, subject, &options).await.map_err(|e| e.with_correlation_id(&cid))?;
    publisher.publish(subject, payloads).await
}

/// Publishes envelopes into one stream, acknowledged and de-duplicated: the stream (and
/// the link lifetime its `max_age` needs) is looked up once, not per envelope.
///
/// ```no_run
/// # async fn demo(js: async_nats::jetstream::Context) -> natsbridge::Result<()> {
/// use natsbridge::jetstream::StreamPublisher;
/// use natsbridge::{Payload, SendOptions};
/// let health = StreamPublisher::new(&js, "health.feed", &SendOptions::default()).await?;
/// for cpu in [0.31, 0.42] {
///     let reading = serde_json::json!({"cpu": cpu});
///     health.publish("health.feed", [("health", Payload::Dictionary(reading))]).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct StreamPublisher {
    options: SendOptions,
    stream: String,
}

impl StreamPublisher {
    /// A publisher into the stream that captures `subject`, with `options` (their link
    /// lifetime raised to the stream's `max_age` plus [`LINK_TTL_SLACK`]). The lookups
    /// are retried for [`SendOptions::publish_retry`] while the cluster elects a leader.
    pub async fn new(js: &Context, subject: &str, options: &SendOptions) -> Result<Self> {
        let retry_for = options.publish_retry;
        // Leader elections make the JetStream API time out for a few seconds: retried.
        let retried = |attempt: u32, e: &dyn std::fmt::Display| debug!(attempt, error = %e, "JetStream API call failed; retrying");
        let (name, _) =
            with_retries(retry_for, |_| true, |a, e| retried(a, e), || js.stream_by_subject(subject)).await;
        let name = name.map_err(|e| {
            Error::new(ErrorCode::PublishFailed, format!("no stream captures `{subject}`")).with_source(e)
        })?;
        let (stream, _) =
            with_retries(retry_for, |_| true, |a, e| retried(a, e), || js.get_stream(&name)).await;
        let stream = stream
            .map_err(|e| Error::new(ErrorCode::PublishFailed, format!("stream `{name}`")).with_source(e))?;
        let max_age = stream.cached_info().config.max_age;
        let options = SendOptions {
            link_ttl: link_ttl_for(options.link_ttl, max_age),
            one_shot: false,
            publish: true,
            jetstream: Some(js.clone()),
            ..options.clone()
        };
        Ok(StreamPublisher { options, stream: name })
    }

    /// `smartsend` into the stream; waits for the ack.
    pub async fn publish<S: Into<String>>(
        &self,
        subject: &str,
        payloads: impl IntoIterator<Item = (S, Payload)>,
    ) -> Result<Sent> {
        smartsend(subject, payloads, &self.options).await
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream
    }
}

pub use crate::start::Start;

/// Settings of an [`EnvelopeConsumer`].
#[derive(Debug, Clone)]
pub struct ConsumerOptions {
    /// Durable name (survives restarts on the server side); `None` = ephemeral.
    pub durable_name: Option<String>,
    /// Only subjects matching this filter.
    pub filter_subject: Option<String>,
    /// Where to start.
    pub start: Start,
    /// Most messages per pull request (backpressure; the next pull goes out as the
    /// application takes them). Default: the profile's `CONSUMER_BATCH`.
    pub max_messages: usize,
    /// Most bytes per pull request (backpressure). Default: `CONSUMER_MAX_BYTES`.
    pub max_bytes: usize,
    /// Redelivery timer; must exceed the worst-case download. Default:
    /// `CONSUMER_ACK_WAIT_SECONDS`.
    pub ack_wait: Duration,
    /// Most unacknowledged messages outstanding. Default: `CONSUMER_MAX_ACK_PENDING`.
    pub max_ack_pending: i64,
    /// Delay before a nak'ed (transiently failing) message comes back. Default:
    /// `CONSUMER_NAK_DELAY_MS`.
    pub nak_delay: Duration,
    /// Deliveries of a message whose payloads fail to download before it is given up:
    /// terminated on the server and returned as the error (0 = never give up). Default:
    /// `CONSUMER_MAX_DELIVER`.
    pub max_deliver: u32,
    /// Copies of the consumer's state in a cluster; 0: the server's choice (a durable
    /// consumer as many as its stream, an ephemeral one 1; either is recreated where it
    /// left off when its server goes away).
    pub replicas: usize,
    /// Hand over at most this many envelopes (decode failures included). Pull requests
    /// then never ask the server for more than are still to be handed over, so nothing
    /// is left pulled but unacknowledged: a durable consumer's next run starts right after
    /// the last one handed over instead of waiting out `ack_wait`. `None`: no end.
    pub limit: Option<usize>,
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            durable_name: None,
            filter_subject: None,
            start: Start::All,
            max_messages: profile::CONSUMER_BATCH,
            max_bytes: usize::try_from(profile::CONSUMER_MAX_BYTES).unwrap_or(usize::MAX),
            ack_wait: Duration::from_secs(profile::CONSUMER_ACK_WAIT_SECONDS),
            max_ack_pending: i64::try_from(profile::CONSUMER_MAX_ACK_PENDING).unwrap_or(i64::MAX),
            limit: None,
            nak_delay: Duration::from_millis(profile::CONSUMER_NAK_DELAY_MS),
            max_deliver: u32::try_from(profile::CONSUMER_MAX_DELIVER).unwrap_or(u32::MAX),
            replicas: 0,
        }
    }
}

/// An envelope handed to the application, decoded; ack it when done.
#[derive(Debug)]
pub struct Delivered {
    /// The decoded envelope.
    pub received: Received,
    /// Its stream sequence.
    pub stream_sequence: u64,
    /// When the server stored it.
    pub published: chrono::DateTime<chrono::Utc>,
    message: jetstream::Message,
}

impl Delivered {
    /// The NATS headers it was published with (`Nats-Msg-Id`, the sender's own).
    pub fn headers(&self) -> Option<&async_nats::HeaderMap> {
        self.message.headers.as_ref()
    }

    /// Acknowledges the message: the ack is sent, and the call returns without waiting for
    /// the server (what NATS clients do; schema/README.md rule 18). The guarantee is at
    /// least once: an ack lost on the way (a connection cut, a process killed before the
    /// ack left) means the message is delivered again after `ack_wait`, never lost, and this
    /// consumer does not hand a redelivery of it over again. Before a process exits, flush
    /// its client (or use [`Self::ack_confirmed`] on the last message) so the last acks leave.
    pub async fn ack(&self) -> Result<()> {
        self.message.ack().await.map_err(|e| self.ack_failed(e))
    }

    /// Acknowledges the message and waits for the server to confirm it recorded the ack
    /// (JetStream's double ack, one round trip): when this returns, a consumer restarted
    /// from its durable name does not see the message again.
    pub async fn ack_confirmed(&self) -> Result<()> {
        self.message.double_ack().await.map_err(|e| self.ack_failed(e))
    }

    /// Terminates the message: the server never delivers it again, and says so in its
    /// `MSG_TERMINATED` advisory. For one that can never be handled (a typed replay's
    /// message that does not decode as its type).
    #[cfg(feature = "typed")]
    pub(crate) async fn term(&self) -> Result<()> {
        self.message.ack_with(AckKind::Term).await.map_err(|e| self.ack_failed(e))
    }

    fn ack_failed(&self, e: async_nats::Error) -> Error {
        Error::new(ErrorCode::NatsConnectionFailed, "ack failed")
            .with_boxed_source(e)
            .with_correlation_id(self.received.correlation_id())
    }
}

/// A pull consumer of envelopes with backpressure, redelivery and recovery.
pub struct EnvelopeConsumer {
    js: Context,
    stream: String,
    options: ConsumerOptions,
    receive: ReceiveOptions,
    consumer: Option<async_nats::jetstream::consumer::PullConsumer>,
    pulling: Option<Pulling>,
    /// Envelopes handed over (for [`ConsumerOptions::limit`]).
    returned: usize,
    /// Redeliveries of already handed messages seen in a row (acks that do not land).
    duplicates_in_a_row: usize,
    /// Next stream sequence to ask for when the consumer must be recreated.
    next_sequence: Option<u64>,
    handed: HashSet<u64>,
    handed_order: VecDeque<u64>,
}

impl std::fmt::Debug for EnvelopeConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeConsumer")
            .field("stream", &self.stream)
            .field("options", &self.options)
            .field("open", &self.consumer.is_some())
            .field("next_sequence", &self.next_sequence)
            .field("handed", &self.handed.len())
            .finish()
    }
}

const REMEMBERED: usize = 1 << 20;
/// The server sends an idle heartbeat this often while a pull waits; two missed mean the
/// pull was lost (its server died, the connection moved), and it is made again.
const PULL_HEARTBEAT: Duration = Duration::from_secs(5);
/// Lifetime of each pull request the stream of pulls makes.
const PULL_EXPIRES: Duration = Duration::from_secs(30);

impl EnvelopeConsumer {
    /// A consumer on `stream`; nothing is fetched until [`Self::next`].
    pub fn new(
        js: Context,
        stream: impl Into<String>,
        options: ConsumerOptions,
        receive: ReceiveOptions,
    ) -> Self {
        EnvelopeConsumer {
            js,
            stream: stream.into(),
            options,
            receive,
            consumer: None,
            pulling: None,
            returned: 0,
            duplicates_in_a_row: 0,
            next_sequence: None,
            handed: HashSet::new(),
            handed_order: VecDeque::new(),
        }
    }

    async fn open(&mut self) -> Result<()> {
        let fail = |what: &str| Error::new(ErrorCode::NatsConnectionFailed, what);
        let stream =
            self.js.get_stream(&self.stream).await.map_err(|e| fail("opening the stream").with_source(e))?;
        // An ephemeral consumer restarts after what was already handed over; a durable one
        // keeps its own position on the server.
        let start = match (self.options.durable_name.is_some(), self.next_sequence) {
            (false, Some(seq)) => Start::Sequence(seq),
            _ => self.options.start,
        };
        let deliver_policy = match start {
            Start::All => DeliverPolicy::All,
            Start::New => DeliverPolicy::New,
            Start::Since(t) => DeliverPolicy::ByStartTime { start_time: t },
            Start::Sequence(s) => DeliverPolicy::ByStartSequence { start_sequence: s },
        };
        let config = pull::Config {
            durable_name: self.options.durable_name.clone(),
            deliver_policy,
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.options.ack_wait,
            max_ack_pending: self.options.max_ack_pending,
            filter_subject: self.options.filter_subject.clone().unwrap_or_default(),
            inactive_threshold: Duration::from_secs(600),
            max_deliver: if self.options.max_deliver == 0 { -1 } else { i64::from(self.options.max_deliver) },
            num_replicas: self.options.replicas,
            ..Default::default()
        };
        let consumer = match &self.options.durable_name {
            Some(name) => stream
                .get_or_create_consumer(name, config)
                .await
                .map_err(|e| fail("creating the consumer").with_source(e))?,
            None => stream
                .create_consumer(config)
                .await
                .map_err(|e| fail("creating the consumer").with_source(e))?,
        };
        self.consumer = Some(consumer);
        Ok(())
    }

    /// Drops the consumer and its pulls: the next call recreates it from the next sequence.
    fn reset(&mut self, why: &str) {
        warn!(stream = %self.stream, next_sequence = ?self.next_sequence, "{why}; recreating the consumer");
        self.pulling = None;
        self.consumer = None;
        self.duplicates_in_a_row = 0;
    }

    fn remember(&mut self, seq: u64) {
        if self.handed.insert(seq) {
            self.handed_order.push_back(seq);
            if self.handed_order.len() > REMEMBERED
                && let Some(old) = self.handed_order.pop_front()
            {
                self.handed.remove(&old);
            }
        }
        self.next_sequence = Some(self.next_sequence.map_or(seq + 1, |n| n.max(seq + 1)));
    }

    /// The next decoded envelope. Waits while the stream is empty; returns an error for
    /// an envelope that can never be decoded (after terminating it on the server) and
    /// goes on with the next one on the following call. Reconnects by itself. Past
    /// [`ConsumerOptions::limit`], an error (nothing more is pulled).
    pub async fn next(&mut self) -> Result<Delivered> {
        if self.options.limit.is_some_and(|limit| self.returned >= limit) {
            return Err(Error::new(
                profile::ERROR_BAD_OPTION,
                format!("the consumer's limit of {} envelopes is reached", self.returned),
            ));
        }
        let next = self.next_unlimited().await;
        self.returned += 1;
        next
    }

    async fn next_unlimited(&mut self) -> Result<Delivered> {
        let mut failures = 0u32;
        loop {
            if self.consumer.is_none()
                && let Err(e) = self.open().await
            {
                failures += 1;
                if failures > 60 {
                    return Err(e);
                }
                warn!(error = %e.report(), "consumer unavailable, retrying");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(8)))).await;
                continue;
            }
            // Pull requests of at most `max_messages` and `max_bytes` (backpressure: a new
            // one goes out as the application takes messages), idle heartbeats from the
            // server. A server restart or a node dying costs at most the messages in flight,
            // which are redelivered after `ack_wait`. Statuses such as "409 Batch Completed"
            // (which in a cluster can overtake the messages it completes) are handled by the
            // stream of pulls, not taken for failures.
            if self.pulling.is_none() {
                let consumer = self.consumer.as_ref().expect("opened above");
                // With a limit: one batch at a time, of no more than is still to be handed over.
                let request = match self.options.limit {
                    None => consumer
                        .stream()
                        .max_messages_per_batch(self.options.max_messages)
                        .max_bytes_per_batch(self.options.max_bytes)
                        .heartbeat(PULL_HEARTBEAT)
                        .expires(PULL_EXPIRES)
                        .messages()
                        .await
                        .map(|s| Pulling::Stream(Box::new(s)))
                        .map_err(|e| e.to_string()),
                    Some(limit) => consumer
                        .batch()
                        .max_messages(self.options.max_messages.min(limit - self.returned).max(1))
                        .max_bytes(self.options.max_bytes)
                        .heartbeat(PULL_HEARTBEAT)
                        .expires(PULL_EXPIRES)
                        .messages()
                        .await
                        .map(|b| Pulling::Batch(Box::new(b)))
                        .map_err(|e| e.to_string()),
                };
                match request {
                    Ok(p) => self.pulling = Some(p),
                    Err(e) => {
                        failures += 1;
                        if failures > 60 {
                            return Err(Error::new(
                                ErrorCode::NatsConnectionFailed,
                                format!("pull request: {e}"),
                            ));
                        }
                        self.reset(&format!("pull request failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(failures.min(8)))).await;
                        continue;
                    }
                }
            }
            let message = match self.pulling.as_mut().expect("requested above").next().await {
                None => {
                    self.pulling = None;
                    continue;
                }
                Some(Err(e)) => {
                    self.reset(&format!("pull failed: {e}"));
                    continue;
                }
                Some(Ok(m)) => m,
            };
            failures = 0;
            let (seq, published, delivered) = match message.info() {
                Ok(info) => (info.stream_sequence, info.published, info.delivered),
                Err(e) => {
                    warn!(error = %e, "message without JetStream info; skipping");
                    continue;
                }
            };
            if self.handed.contains(&seq) {
                debug!(seq, "already handed over; acking the redelivery");
                let _ = message.ack().await;
                // Batch after batch of redeliveries: acks are not landing on this consumer
                // (seen after a server restart); a fresh one starts after what was handed.
                self.duplicates_in_a_row += 1;
                if self.options.durable_name.is_none()
                    && self.duplicates_in_a_row > 2 * self.options.max_messages.max(32)
                {
                    self.reset("only redeliveries of handed messages arrive");
                }
                continue;
            }
            self.duplicates_in_a_row = 0;
            match smartreceive(&message, &self.receive).await {
                Ok(received) => {
                    self.remember(seq);
                    return Ok(Delivered { received, stream_sequence: seq, published, message });
                }
                Err(e) if transient(&e) && !last_delivery(delivered, self.options.max_deliver) => {
                    warn!(seq, error = %e.report(), "envelope not available yet; will be redelivered");
                    let _ = message.ack_with(AckKind::Nak(Some(self.options.nak_delay))).await;
                }
                Err(e) => {
                    let _ = message.ack_with(AckKind::Term).await;
                    self.remember(seq);
                    return Err(e);
                }
            }
        }
    }
}

/// The pull requests in flight: async-nats's heartbeat stream of pulls, or (with a limit)
/// one batch.
enum Pulling {
    Stream(Box<pull::Stream>),
    Batch(Box<pull::Batch>),
}

impl Pulling {
    async fn next(&mut self) -> Option<std::result::Result<async_nats::jetstream::Message, String>> {
        match self {
            Pulling::Stream(s) => s.next().await.map(|r| r.map_err(|e| e.to_string())),
            Pulling::Batch(b) => b.next().await.map(|r| r.map_err(|e| e.to_string())),
        }
    }
}

/// The lifetime links published into a stream keeping messages for `max_age` need: at
/// least `max_age` plus [`LINK_TTL_SLACK`] (zero `max_age`: kept for ever,
/// [`LINK_TTL_FOREVER`]), or longer when the caller asked for longer.
fn link_ttl_for(asked: Option<Duration>, max_age: Duration) -> Option<Duration> {
    let needed = if max_age.is_zero() { LINK_TTL_FOREVER } else { max_age.saturating_add(LINK_TTL_SLACK) };
    Some(asked.map_or(needed, |a| a.max(needed)))
}

/// Whether delivery number `delivered` (1-based) is the last one allowed.
fn last_delivery(delivered: i64, max_deliver: u32) -> bool {
    max_deliver != 0 && delivered >= i64::from(max_deliver)
}

/// Failures a redelivery may cure (the blob not there yet, a slow store).
fn transient(e: &Error) -> bool {
    matches!(e.code(), ErrorCode::DownloadFailed | ErrorCode::Timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_outlive_the_stream_s_messages() {
        let hour = Duration::from_secs(3600);
        let day = Duration::from_secs(86_400);
        for (asked, max_age, expected) in [
            (None, day, Some(day + LINK_TTL_SLACK)),
            (Some(hour), day, Some(day + LINK_TTL_SLACK)),
            (Some(day * 7), day, Some(day * 7)),
            (None, Duration::ZERO, Some(LINK_TTL_FOREVER)),
            (Some(hour), Duration::ZERO, Some(LINK_TTL_FOREVER)),
        ] {
            assert_eq!(link_ttl_for(asked, max_age), expected, "{asked:?} {max_age:?}");
        }
    }

    #[test]
    fn a_failing_message_is_given_up_at_its_last_delivery() {
        assert!(!last_delivery(1, 3));
        assert!(!last_delivery(2, 3));
        assert!(last_delivery(3, 3));
        assert!(last_delivery(4, 3), "a consumer created with a larger limit");
        assert!(!last_delivery(1_000, 0), "0: never given up");
    }

    #[test]
    fn only_download_failures_and_timeouts_are_retried() {
        for (code, retried) in [
            (ErrorCode::DownloadFailed, true),
            (ErrorCode::Timeout, true),
            (ErrorCode::IntegrityMismatch, false),
            (ErrorCode::InvalidEnvelope, false),
            (ErrorCode::UrlNotAllowed, false),
            (ErrorCode::DeserializationError, false),
        ] {
            assert_eq!(transient(&Error::new(code.clone(), "x")), retried, "{code}");
        }
    }
}
