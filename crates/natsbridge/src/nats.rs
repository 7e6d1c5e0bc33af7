//! NATS plumbing: connecting, `publish_message`, and request/reply on top of
//! `smartsend`/`smartreceive`.

use std::time::Duration;

use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge_types::MsgEnvelopeV1;
use tracing::{Instrument as _, info_span};

use crate::error::{Error, ErrorCode, Result};
use crate::options::{Connection, ReceiveOptions, SendOptions, nats_url_from_env};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive};
use crate::send::{HEADER_CORRELATION_ID, HEADER_MSG_ID, smartsend};

/// Connects to `url` (`NATS_CONNECTION_FAILED` on failure). Connection events are logged:
/// disconnects, slow consumers and server errors as warnings, never silently.
pub async fn connect(url: &str) -> Result<Client> {
    connect_with(url, async_nats::ConnectOptions::new(), None).await
}

/// Events of a connection made by [`connect_with_events`]. Lagging receivers lose the
/// oldest events (and get `RecvError::Lagged` saying how many), never block the client.
pub type NatsEvents = tokio::sync::broadcast::Receiver<async_nats::Event>;

/// [`connect`], with a bounded per-subscription buffer and the connection's events for
/// the application: `Event::SlowConsumer(sid)` when a subscription's buffer of
/// `subscription_capacity` messages overflowed and the client dropped messages,
/// `Disconnected`/`Connected` around a server restart, server errors.
pub async fn connect_with_events(url: &str, subscription_capacity: usize) -> Result<(Client, NatsEvents)> {
    let (tx, rx) = tokio::sync::broadcast::channel(256);
    let options = async_nats::ConnectOptions::new().subscription_capacity(subscription_capacity);
    Ok((connect_with(url, options, Some(tx)).await?, rx))
}

async fn connect_with(
    url: &str,
    options: async_nats::ConnectOptions,
    events: Option<tokio::sync::broadcast::Sender<async_nats::Event>>,
) -> Result<Client> {
    let shown = crate::fetch::redact(url);
    let server = shown.clone();
    // Credentials leave the URL before async-nats sees it: its debug logs print server URLs.
    let (url, options) = split_credentials(url, options);
    let url = url.as_str();
    // async-nats reports every dropped message; the log gets one line per second with a count.
    let dropped = std::sync::Arc::new(std::sync::Mutex::new((0u64, None::<std::time::Instant>)));
    options
        .name("natsbridge")
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let events = events.clone();
            let server = server.clone();
            let dropped = dropped.clone();
            async move {
                match &event {
                    async_nats::Event::Connected => tracing::info!(%server, "NATS connected"),
                    // The application closing its own client is not news.
                    async_nats::Event::Closed | async_nats::Event::Draining => {
                        tracing::debug!(%server, event = %event, "NATS connection event")
                    }
                    async_nats::Event::SlowConsumer(sid) => {
                        let mut d = dropped.lock().expect("lock");
                        d.0 += 1;
                        if d.1.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            tracing::warn!(%server, sid, dropped = d.0, "NATS slow consumer: the client dropped messages");
                            *d = (0, Some(std::time::Instant::now()));
                        }
                    }
                    other => tracing::warn!(%server, event = %other, "NATS connection event"),
                }
                if let Some(tx) = events {
                    let _ = tx.send(event);
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| {
            Error::new(ErrorCode::NatsConnectionFailed, format!("connecting to {shown}")).with_source(e)
        })
}

pub(crate) async fn client_for(connection: Option<&Connection>) -> Result<Client> {
    match connection {
        Some(Connection::Client(c)) => Ok(c.clone()),
        Some(Connection::Url(u)) => connect(u).await,
        None => connect(&nats_url_from_env()).await,
    }
}

pub(crate) async fn publish_envelope(
    client: &Client,
    subject: &str,
    headers: HeaderMap,
    body: Bytes,
    flush: bool,
    correlation_id: &str,
) -> Result<()> {
    let span = info_span!("publish", correlation_id = %correlation_id, subject, bytes = body.len());
    async {
        client.publish_with_headers(subject.to_owned(), headers, body).await.map_err(|e| {
            let code = match e.kind() {
                async_nats::client::PublishErrorKind::MaxPayloadExceeded => ErrorCode::PayloadTooLarge,
                _ => ErrorCode::PublishFailed,
            };
            Error::new(code, format!("publishing to `{subject}`")).with_source(e)
        })?;
        if flush {
            client
                .flush()
                .await
                .map_err(|e| Error::new(ErrorCode::PublishFailed, "flushing to the server").with_source(e))?;
        }
        Ok(())
    }
    .instrument(span)
    .await
}

pub(crate) async fn publish_jetstream(
    js: &async_nats::jetstream::Context,
    subject: &str,
    headers: HeaderMap,
    body: Bytes,
    correlation_id: &str,
) -> Result<u64> {
    let span = info_span!("publish", correlation_id = %correlation_id, subject, bytes = body.len(), jetstream = true);
    async {
        let fail = |e: &dyn std::fmt::Display| {
            Error::new(ErrorCode::PublishFailed, format!("JetStream publish to `{subject}`: {e}"))
        };
        let ack = js.publish_with_headers(subject.to_owned(), headers, body).await.map_err(|e| fail(&e))?;
        let ack = ack.await.map_err(|e| fail(&e))?;
        Ok(ack.sequence)
    }
    .instrument(span)
    .await
}

/// Publishes already-serialized envelope text (the reference's `publish_message`), with
/// the `Correlation-Id` header.
pub async fn publish_message(
    connection: impl Into<Connection>,
    subject: &str,
    text: impl Into<String>,
    correlation_id: &str,
) -> Result<()> {
    let client = client_for(Some(&connection.into())).await?;
    let text = text.into();
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_CORRELATION_ID, correlation_id);
    // When the text is an envelope, mirror its msg_id for JetStream de-duplication.
    let msg_id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("msg_id").and_then(|m| m.as_str()).map(str::to_owned));
    if let Some(id) = msg_id {
        headers.insert(HEADER_MSG_ID, id.as_str());
    }
    publish_envelope(&client, subject, headers, Bytes::from(text), true, correlation_id).await
}

/// Sends a request envelope and waits for the first reply envelope on a fresh inbox
/// (`reply_to` is set for you). The reply is decoded with `receive`.
pub async fn smartrequest<S: Into<String>>(
    client: &Client,
    subject: &str,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: SendOptions,
    receive: &ReceiveOptions,
    timeout: Duration,
) -> Result<Received> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.map_err(|e| {
        Error::new(ErrorCode::NatsConnectionFailed, "subscribing to the reply inbox").with_source(e)
    })?;
    // No flush: the reply is the proof of delivery, and waiting for the socket write first
    // only adds a task hand-off to every round trip.
    let options = SendOptions {
        connection: Some(Connection::Client(client.clone())),
        reply_to: inbox,
        flush: false,
        ..options
    };
    let (request, _) = smartsend(subject, payloads, &options).await?;
    let cid = request.correlation_id.as_str().to_owned();
    let msg = tokio::time::timeout(timeout, sub.next())
        .await
        .map_err(|_| {
            Error::new(ErrorCode::Timeout, format!("no reply on `{subject}` within {timeout:?}"))
                .with_correlation_id(&cid)
        })?
        .ok_or_else(|| {
            Error::new(ErrorCode::NatsConnectionFailed, "reply subscription closed").with_correlation_id(&cid)
        })?;
    let _ = sub.unsubscribe().await;
    smartreceive(&msg, receive).await
}

/// Answers `request` on its `reply_to`, with the same correlation id and
/// `reply_to_msg_id` = the request's `msg_id`.
pub async fn smartreply<S: Into<String>>(
    client: &Client,
    request: &MsgEnvelopeV1,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: SendOptions,
) -> Result<(MsgEnvelopeV1, String)> {
    if request.reply_to.is_empty() {
        return Err(Error::new(ErrorCode::InvalidEnvelope, "the request has no `reply_to`")
            .with_correlation_id(request.correlation_id.as_str()));
    }
    let options = SendOptions {
        connection: Some(Connection::Client(client.clone())),
        correlation_id: Some(request.correlation_id.as_str().to_owned()),
        reply_to_msg_id: request.msg_id.as_str().to_owned(),
        receiver_name: request.sender_name.as_str().to_owned(),
        receiver_id: request.sender_id.clone(),
        ..options
    };
    smartsend(&request.reply_to, payloads, &options).await
}

/// `nats://user:pass@host` → (`nats://host`, user and password options); `nats://token@host`
/// → (`nats://host`, token). Other URLs (or lists of them) pass through unchanged.
fn split_credentials(url: &str, options: async_nats::ConnectOptions) -> (String, async_nats::ConnectOptions) {
    let Ok(mut parsed) = url::Url::parse(url) else { return (url.to_owned(), options) };
    if parsed.username().is_empty() && parsed.password().is_none() {
        return (url.to_owned(), options);
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    let user = decode(parsed.username()).unwrap_or_default();
    let password = parsed.password().and_then(decode);
    let options = match password {
        Some(password) => options.user_and_password(user, password),
        None => options.token(user),
    };
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    (parsed.to_string(), options)
}
