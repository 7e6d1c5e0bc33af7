//! Typed messages over the envelope: what the code `natsbridge codegen` generates from a
//! team's AsyncAPI document calls.
//!
//! A generated message type implements [`Message`]: it knows its payload's `dataname`
//! and `payload_type`, turns itself into one [`Payload`] plus its declared NATS headers,
//! and reads itself back from a [`Received`] envelope, with a typed [`Error`] (code,
//! correlation id, dataname) when the data does not fit the schema. The generated
//! operations are one-liners over the functions here, which are in turn thin layers over
//! [`smartsend`], [`smartrequest`], [`smartreply`], [`smartreceive`] and the
//! [`jetstream`](crate::jetstream) module, so typed and untyped code interoperate: a
//! typed receiver accepts what a plain `smartsend` of the same payload sends, and the
//! other way round.
//!
//! ```no_run
//! use natsbridge::typed::{self, Bridge, Message};
//! use natsbridge::{Payload, PayloadType, Received, Result};
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Command { step_size: f64, iterations: u64 }
//!
//! impl Message for Command {
//!     const NAME: &'static str = "command";
//!     const PAYLOAD_TYPE: PayloadType = PayloadType::Dictionary;
//!     fn encode(&self) -> Result<(Payload, typed::Headers)> {
//!         Ok((typed::encode_json(Self::NAME, self, positive_iterations)?, Vec::new()))
//!     }
//!     fn decode(received: &Received) -> Result<Self> {
//!         typed::decode_json(received, Self::NAME, positive_iterations)
//!     }
//! }
//!
//! // Generated crates check with their spec's JSON Schema; by hand, any rule will do.
//! fn positive_iterations(v: &serde_json::Value, _reader: bool) -> std::result::Result<(), String> {
//!     if v["iterations"].as_u64().is_some_and(|n| n > 0) { Ok(()) } else { Err("/iterations: minimum 1".into()) }
//! }
//!
//! # async fn demo() -> Result<()> {
//! let bridge = Bridge::new(natsbridge::connect("nats://localhost:4222").await?);
//! let command = Command { step_size: 0.01, iterations: 100 };
//! typed::publish(&bridge, "sim.a.command", &command, natsbridge::types::MsgPurpose::Command).await?;
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::Client;
use futures::stream::{BoxStream, Stream, StreamExt as _};
use natsbridge_types::{MsgPurpose, profile};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode, Result};
use crate::jetstream::{ConsumerOptions, Delivered, EnvelopeConsumer, publish_to_stream as js_publish};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::{Payload, PayloadType};
use crate::receive::{Received, ReceivedPayload, smartreceive};
use crate::request::{smartreply, smartreply_error, smartrequest};
use crate::send::{Sent, smartsend};

/// NATS headers a message declares, as `(name, value)` text pairs.
pub type Headers = Vec<(String, String)>;

/// A message of a team's spec: one payload in the envelope, plus declared headers.
pub trait Message: Sized + Send + Sync + 'static {
    /// The payload's `dataname` (the AsyncAPI message's `name`).
    const NAME: &'static str;
    /// The payload's wire type.
    const PAYLOAD_TYPE: PayloadType;
    /// The `dataname` this value travels as: [`Message::NAME`], or for a union of several
    /// messages (whose `NAME` lists them all) the one this value is.
    fn dataname(&self) -> &'static str {
        Self::NAME
    }
    /// Where this value declares its correlation id (AsyncAPI `correlationId.location`);
    /// by default nowhere beyond the envelope's `correlation_id`.
    fn correlation(&self) -> Correlation {
        Correlation::None
    }
    /// The payload and the headers to send.
    fn encode(&self) -> Result<(Payload, Headers)>;
    /// Reads the message out of a received envelope; a payload that is missing, of another
    /// type or not of the schema is an [`Error`] with the correlation id and the dataname.
    fn decode(received: &Received) -> Result<Self>;
}

/// Where a message declares its correlation id (AsyncAPI `correlationId.location`), for the
/// typed sends: the envelope's `correlation_id` is the exchange's either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Correlation {
    /// Nothing beyond the envelope's `correlation_id`.
    None,
    /// `$message.payload#/…`: the payload holds it, and a send uses it for the envelope (it
    /// must then be a correlation id the envelope accepts, a UUID).
    Id(String),
    /// `$message.header#/Name`: this NATS header also carries the envelope's correlation id.
    Header(&'static str),
}

/// What the generated operations need: the connection, the options every send and receive
/// use, and how long a request waits for its reply.
#[derive(Debug, Clone)]
pub struct Bridge {
    client: Client,
    send: SendOptions,
    receive: ReceiveOptions,
    timeout: Duration,
}

impl Bridge {
    /// Default options ([`SendOptions::default`], [`ReceiveOptions::default`]), a 10 s
    /// request timeout.
    pub fn new(client: Client) -> Self {
        Bridge {
            client,
            send: SendOptions::default(),
            receive: ReceiveOptions::default(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The options of every send (blob store, threshold, sender name...). The connection,
    /// purpose and declared headers are set per message.
    pub fn send_options(mut self, options: SendOptions) -> Self {
        self.send = options;
        self
    }

    /// The options of every receive (allowed link hosts, limits...).
    pub fn receive_options(mut self, options: ReceiveOptions) -> Self {
        self.receive = options;
        self
    }

    /// How long a request waits for its reply.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The NATS connection.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A JetStream context on the connection.
    pub fn jetstream(&self) -> async_nats::jetstream::Context {
        async_nats::jetstream::new(self.client.clone())
    }

    fn options_for(&self, headers: Headers) -> SendOptions {
        headers.into_iter().fold(self.send.clone().connection(&self.client), |o, (k, v)| o.header(k, v))
    }

    /// `message` encoded, and the options to send it with as `purpose`.
    fn prepare<M: Message>(&self, message: &M, purpose: MsgPurpose) -> Result<(Payload, SendOptions)> {
        let (payload, headers) = message.encode()?;
        let options = self.options_for(headers).purpose(purpose);
        let options = match message.correlation() {
            Correlation::None => options,
            Correlation::Id(id) => options.correlation_id(id),
            Correlation::Header(name) => {
                let id = crate::wire::new_uuid();
                with_header(options.correlation_id(id.clone()), name, id)
            }
        };
        Ok((payload, options))
    }
}

/// A typed message and the envelope it came in.
#[derive(Debug, Clone)]
pub struct Incoming<M> {
    /// The message.
    pub message: M,
    /// The envelope, its decoded payloads and headers.
    pub received: Received,
}

impl<M> Incoming<M> {
    /// The exchange's correlation id.
    pub fn correlation_id(&self) -> &str {
        self.received.correlation_id()
    }
}

/// Checks that a channel parameter's value is one NATS subject token: not empty, no `.`,
/// `>` or whitespace, and `*` only where a receiver may use a wildcard.
pub fn token<'a>(param: &str, value: &'a str, wildcard_ok: bool) -> Result<&'a str> {
    let bad = value.is_empty()
        || value.contains(['.', '>'])
        || value.chars().any(char::is_whitespace)
        || (value.contains('*') && !(wildcard_ok && value == "*"));
    if bad {
        return Err(Error::new(
            natsbridge_types::profile::ERROR_BAD_OPTION,
            format!(
                "channel parameter `{param}` = {value:?} is not one subject token: it must be non-empty, without `.`, `>` or whitespace{}",
                if wildcard_ok { ", or `*` for any value" } else { "" }
            ),
        ));
    }
    Ok(value)
}

/// [`token`], and one of `allowed` (the parameter's `enum`; `*` passes where `wildcard_ok`).
pub fn token_of<'a>(param: &str, value: &'a str, allowed: &[&str], wildcard_ok: bool) -> Result<&'a str> {
    token(param, value, wildcard_ok)?;
    if !(allowed.contains(&value) || (wildcard_ok && value == "*")) {
        let list = allowed.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ");
        return Err(Error::new(
            natsbridge_types::profile::ERROR_BAD_OPTION,
            format!("channel parameter `{param}` = {value:?} is not one of {list}"),
        ));
    }
    Ok(value)
}

/// Which of several messages an envelope carries: the index in `names` of the first whose
/// payload it has; `INVALID_PAYLOAD_TYPE` when it has none of them.
pub fn which(received: &Received, names: &[&str]) -> Result<usize> {
    names.iter().position(|n| received.payload(n).is_some()).ok_or_else(|| {
        let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let found = received
            .payloads
            .iter()
            .map(|p| format!("`{}` ({})", p.dataname, p.payload_type))
            .collect::<Vec<_>>()
            .join(", ");
        Error::new(
            ErrorCode::InvalidPayloadType,
            format!(
                "the envelope has none of the payloads {list} (payloads: {})",
                if found.is_empty() { "none".into() } else { found }
            ),
        )
        .with_correlation_id(received.correlation_id())
    })
}

/// The payload named `name`, of type `ty`; `INVALID_PAYLOAD_TYPE` when missing or of
/// another type.
pub fn payload<'a>(received: &'a Received, name: &str, ty: PayloadType) -> Result<&'a ReceivedPayload> {
    let cid = received.correlation_id();
    let found = received.payload(name).ok_or_else(|| {
        Error::new(ErrorCode::InvalidPayloadType, format!("the envelope has no payload named `{name}`"))
            .with_correlation_id(cid)
            .with_dataname(name)
    })?;
    if found.payload_type != ty {
        return Err(Error::new(
            ErrorCode::InvalidPayloadType,
            format!("payload `{name}` is `{}`, expected `{ty}`", found.payload_type),
        )
        .with_correlation_id(cid)
        .with_dataname(name));
    }
    Ok(found)
}

/// The correlation id a payload holds at the JSON `pointer` (`$message.payload#/…`), when it
/// is text there; else [`Correlation::None`].
pub fn payload_correlation<T: Serialize>(value: &T, pointer: &str) -> Correlation {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.pointer(pointer).and_then(serde_json::Value::as_str).map(str::to_owned))
        .map_or(Correlation::None, Correlation::Id)
}

/// A JSON payload (`dictionary`) from a value of a generated type.
pub fn encode_json<T: Serialize>(name: &str, value: &T, check: Check) -> Result<Payload> {
    let value = serde_json::to_value(value).map_err(|e| {
        Error::new(ErrorCode::SerializationError, "serializing the message")
            .with_source(e)
            .with_dataname(name)
    })?;
    check(&value, false).map_err(|why| {
        Error::new(profile::ERROR_WRITER_RULE, format!("not a valid `{name}`: {why}")).with_dataname(name)
    })?;
    Ok(Payload::Dictionary(value))
}

/// A generated payload type's schema check (`value`, `reader`): `Err` names what breaks the
/// schema. Generated crates check with the JSON Schema of their spec, so the constraints
/// Rust's types cannot hold (`maximum`, `maxLength`, …) are enforced as in TypeScript and
/// Python; a reader (`true`) accepts enum values it does not know.
pub type Check = fn(&serde_json::Value, bool) -> std::result::Result<(), String>;

/// The `dictionary` payload `name` as a value of a generated type; `DESERIALIZATION_ERROR`
/// when it does not fit the type's schema.
pub fn decode_json<T: DeserializeOwned>(received: &Received, name: &str, check: Check) -> Result<T> {
    let found = payload(received, name, PayloadType::Dictionary)?;
    let Payload::Dictionary(value) = &found.data else {
        unreachable!("a dictionary payload decodes to Payload::Dictionary")
    };
    check(value, true).map_err(|why| {
        Error::new(profile::ERROR_BAD_BYTES, format!("payload `{name}` does not fit its schema: {why}"))
            .with_correlation_id(received.correlation_id())
            .with_dataname(name)
    })?;
    T::deserialize(value).map_err(|e| {
        Error::new(ErrorCode::DeserializationError, format!("payload `{name}` does not fit its schema: {e}"))
            .with_correlation_id(received.correlation_id())
            .with_dataname(name)
    })
}

/// A declared header, parsed; `None` when absent, `DESERIALIZATION_ERROR` when its text
/// does not parse as `T`.
pub fn header<T: FromStr>(received: &Received, name: &str) -> Result<Option<T>> {
    let Some(text) = received.header(name) else { return Ok(None) };
    text.parse().map(Some).map_err(|_| {
        Error::new(ErrorCode::DeserializationError, format!("header `{name}` = {text:?} does not parse"))
            .with_correlation_id(received.correlation_id())
    })
}

/// A required declared header, parsed; `DESERIALIZATION_ERROR` when absent too.
pub fn required_header<T: FromStr>(received: &Received, name: &str) -> Result<T> {
    header(received, name)?.ok_or_else(|| {
        Error::new(ErrorCode::DeserializationError, format!("header `{name}` is missing"))
            .with_correlation_id(received.correlation_id())
    })
}

/// Publishes `message` on `subject` (core NATS).
pub async fn publish<M: Message>(
    bridge: &Bridge,
    subject: &str,
    message: &M,
    purpose: MsgPurpose,
) -> Result<Sent> {
    let (payload, options) = bridge.prepare(message, purpose)?;
    smartsend(subject, [(message.dataname(), payload)], &options).await
}

/// Sends `message` as a request on `subject` and waits for the typed reply (the bridge's
/// timeout). A responder's `error_response_v1` is returned as a remote [`Error`].
pub async fn request<M: Message, R: Message>(
    bridge: &Bridge,
    subject: &str,
    message: &M,
    purpose: MsgPurpose,
) -> Result<Incoming<R>> {
    let (payload, options) = bridge.prepare(message, purpose)?;
    let received = smartrequest(
        &bridge.client,
        subject,
        [(message.dataname(), payload)],
        options,
        &bridge.receive,
        bridge.timeout,
    )
    .await?;
    Ok(Incoming { message: R::decode(&received)?, received })
}

/// Answers `to` with `reply` (same correlation id, `reply_to_msg_id` set).
pub async fn reply<M, R: Message>(bridge: &Bridge, to: &Incoming<M>, reply: &R) -> Result<Sent> {
    let (payload, headers) = reply.encode()?;
    let mut options = bridge.options_for(headers);
    // A reply's correlation id is the request's, whatever the reply's payload holds.
    if let Correlation::Header(name) = reply.correlation() {
        options = with_header(options, name, to.correlation_id().to_owned());
    }
    smartreply(&bridge.client, &to.received.envelope, [(reply.dataname(), payload)], options).await
}

/// `options` with the header `name` set to `value`, replacing one the message declared.
fn with_header(mut options: SendOptions, name: &str, value: String) -> SendOptions {
    options.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    options.header(name, value)
}

/// Answers `to` with an `error_response_v1`, which the requester gets as a remote error.
pub async fn reply_error<M>(bridge: &Bridge, to: &Incoming<M>, error: &Error) -> Result<()> {
    smartreply_error(&bridge.client, &to.received.envelope, error).await
}

/// Typed messages of a subscription. A message that does not decode is yielded as its
/// [`Error`] and the subscription goes on; a request among them is answered with that
/// error, so its sender does not wait for a timeout.
pub struct Subscription<M> {
    inner: BoxStream<'static, Result<Incoming<M>>>,
}

impl<M> std::fmt::Debug for Subscription<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("message", &std::any::type_name::<M>()).finish_non_exhaustive()
    }
}

impl<M> Stream for Subscription<M> {
    type Item = Result<Incoming<M>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Subscribes to `subject` (in `queue`, when given): every envelope arrives decoded as `M`.
pub async fn subscribe<M: Message>(
    bridge: &Bridge,
    subject: &str,
    queue: Option<&str>,
) -> Result<Subscription<M>> {
    let subscribing = match queue {
        Some(q) => bridge.client.queue_subscribe(subject.to_owned(), q.to_owned()).await,
        None => bridge.client.subscribe(subject.to_owned()).await,
    };
    let subscriber = subscribing.map_err(|e| {
        Error::new(ErrorCode::NatsConnectionFailed, format!("subscribing to `{subject}`")).with_source(e)
    })?;
    let (client, receive) = (bridge.client.clone(), bridge.receive.clone());
    let inner = subscriber
        .then(move |msg| {
            let (client, receive) = (client.clone(), receive.clone());
            async move {
                let received = smartreceive(&msg, &receive).await?;
                match M::decode(&received) {
                    Ok(message) => Ok(Incoming { message, received }),
                    Err(error) => {
                        if !received.envelope.reply_to.is_empty() {
                            // Best effort: the error goes to the application either way.
                            let _ = smartreply_error(&client, &received.envelope, &error).await;
                        }
                        Err(error)
                    }
                }
            }
        })
        .boxed();
    Ok(Subscription { inner })
}

/// Publishes `message` into the JetStream stream that captures `subject`, acknowledged
/// and de-duplicated by `Nats-Msg-Id` (see [`crate::jetstream::publish_to_stream`]).
pub async fn publish_to_stream<M: Message>(
    bridge: &Bridge,
    subject: &str,
    message: &M,
    purpose: MsgPurpose,
) -> Result<Sent> {
    let (payload, options) = bridge.prepare(message, purpose)?;
    js_publish(&bridge.jetstream(), subject, [(message.dataname(), payload)], &options).await
}

/// A typed replay of a stream with a pull consumer ([`EnvelopeConsumer`]).
#[derive(Debug)]
pub struct Replay<M> {
    consumer: EnvelopeConsumer,
    message: PhantomData<fn() -> M>,
}

/// A typed message from a stream; [`Stored::ack`] it once handled.
#[derive(Debug)]
pub struct Stored<M> {
    /// The message.
    pub message: M,
    /// The delivery: envelope, stream sequence, publish time.
    pub delivered: Delivered,
}

impl<M> Stored<M> {
    /// Acknowledges the message without waiting for the server: at least once, as
    /// [`Delivered::ack`] (schema/README.md rule 18).
    pub async fn ack(&self) -> Result<()> {
        self.delivered.ack().await
    }

    /// Acknowledges the message and waits for the server to record it: a consumer
    /// restarted from its durable name does not see it again ([`Delivered::ack_confirmed`]).
    pub async fn ack_confirmed(&self) -> Result<()> {
        self.delivered.ack_confirmed().await
    }
}

/// Replays `stream` (filtered by `options`) as typed messages.
pub fn replay<M: Message>(bridge: &Bridge, stream: &str, options: ConsumerOptions) -> Replay<M> {
    Replay {
        consumer: EnvelopeConsumer::new(bridge.jetstream(), stream, options, bridge.receive.clone()),
        message: PhantomData,
    }
}

impl<M: Message> Replay<M> {
    /// The next stored message. One that does not decode as `M` is terminated on the
    /// server (it would never decode; schema/README.md rule 18, as an envelope that does not
    /// decode) and returned as its [`Error`]; call `next` again to go on.
    pub async fn next(&mut self) -> Result<Stored<M>> {
        let delivered = self.consumer.next().await?;
        match M::decode(&delivered.received) {
            Ok(message) => Ok(Stored { message, delivered }),
            Err(error) => {
                delivered.term().await?;
                Err(error)
            }
        }
    }
}
