//! Request/reply on top of [`smartsend`] and [`smartreceive`]: a request carries a fresh
//! inbox in `reply_to`; the reply keeps the request's correlation id and names it in
//! `reply_to_msg_id`. A responder that cannot handle a request answers with an
//! `error_response_v1` ([`smartreply_error`]); [`smartrequest`] returns it as a remote
//! [`Error`] with the responder's code ([`Error::is_remote`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge_types::profile::{ERROR_NOT_ENVELOPE, ERROR_WRITER_RULE};
use natsbridge_types::{ErrorResponseV1, MsgEnvelopeV1};
use tokio::sync::oneshot;

use crate::error::{Error, ErrorCode, Result, ResultExt as _};
use crate::json;
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive_bytes};
use crate::send::{Sent, smartsend};
use crate::transport::publish_envelope;
use crate::wire::{HEADER_CORRELATION_ID, HEADER_MSG_ID, checked_uuid, now_timestamp};

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
    let options = options.connection(client).reply_to(inbox).flush(false);
    let request = smartsend(subject, payloads, &options).await?;
    let cid = request.envelope.correlation_id.as_str().to_owned();
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
    decode_reply(&msg.payload, msg.headers.clone(), receive, &cid).await
}

/// A reply to the request `cid` decoded, as [`smartrequest`] does once it arrived: an
/// envelope, or the responder's `error_response_v1` as a remote [`Error`].
/// `body` and `headers` are the reply message's.
pub async fn decode_reply(
    body: &[u8],
    headers: Option<async_nats::HeaderMap>,
    receive: &ReceiveOptions,
    cid: &str,
) -> Result<Received> {
    match smartreceive_bytes(body, headers, receive).await {
        // Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so
        // a good reply costs nothing more.
        Err(e) if *e.code() == ErrorCode::InvalidEnvelope => Err(remote_error(body, cid).unwrap_or(e)),
        other => other,
    }
}

/// Requests waiting for their reply, by token; `None` once the reply subscription ended.
type Pending = Mutex<Option<HashMap<u64, oneshot::Sender<async_nats::Message>>>>;

/// Requests on one connection through one reply subscription, as `async_nats::Client::request`
/// does: [`smartrequest`] subscribes to a fresh inbox and unsubscribes for every request,
/// which costs each round trip two more commands on the connection and a subscription on
/// the server. Replies go to `<inbox>.<n>` under a wildcard subscription made once. No task
/// of its own hands them out: a request waiting for its reply reads the subscription
/// itself while no other does, gives the replies of others to their requests, and lets the
/// next waiting request read once its own has come. A lone request so gets its reply
/// without a hand-off between tasks. Cheap to clone; the subscription ends when the last
/// clone is dropped.
///
/// ```no_run
/// # async fn run(client: natsbridge::async_nats::Client) -> natsbridge::Result<()> {
/// use std::time::Duration;
/// use natsbridge::{Payload, ReceiveOptions, Requester, SendOptions};
///
/// let requester = Requester::new(client).await?;
/// for step in [0.1, 0.01, 0.001] {
///     let config = Payload::Dictionary(natsbridge::serde_json::json!({ "step_size": step }));
///     let reply = requester
///         .request("sim.start", [("config", config)], SendOptions::default(), &ReceiveOptions::default(), Duration::from_secs(5))
///         .await?;
///     println!("{:?}", reply.payloads[0].data);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Requester {
    inner: Arc<RequesterInner>,
}

#[derive(Debug)]
struct RequesterInner {
    client: Client,
    prefix: String,
    next: AtomicU64,
    pending: Pending,
    /// The reply subscription, read by one waiting request at a time; `None` once it ended.
    replies: tokio::sync::Mutex<Option<async_nats::Subscriber>>,
}

impl Requester {
    /// Subscribes to `<new inbox>.*` on `client`.
    pub async fn new(client: Client) -> Result<Self> {
        let prefix = client.new_inbox();
        let sub = client.subscribe(format!("{prefix}.*")).await.map_err(|e| {
            Error::new(ErrorCode::NatsConnectionFailed, "subscribing to the reply inbox").with_source(e)
        })?;
        Ok(Requester {
            inner: Arc::new(RequesterInner {
                client,
                prefix,
                next: AtomicU64::new(0),
                pending: Mutex::new(Some(HashMap::new())),
                replies: tokio::sync::Mutex::new(Some(sub)),
            }),
        })
    }

    /// [`smartrequest`] through this requester's reply subscription: sends the request
    /// with `reply_to` = `<inbox>.<n>` and waits for its reply.
    pub async fn request<S: Into<String>>(
        &self,
        subject: &str,
        payloads: impl IntoIterator<Item = (S, Payload)>,
        options: SendOptions,
        receive: &ReceiveOptions,
        timeout: Duration,
    ) -> Result<Received> {
        let inner = &self.inner;
        let token = inner.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match inner.pending.lock().expect("lock").as_mut() {
            Some(waiting) => waiting.insert(token, tx),
            None => {
                return Err(Error::new(ErrorCode::NatsConnectionFailed, "the reply subscription has ended"));
            }
        };
        // Whatever happens next, the slot does not outlive the call.
        let _slot = PendingSlot { pending: &inner.pending, token };
        let reply_to = format!("{}.{token}", inner.prefix);
        let options = options.connection(&inner.client).reply_to(reply_to).flush(false);
        let request = smartsend(subject, payloads, &options).await?;
        let cid = request.envelope.correlation_id.as_str();
        let msg = tokio::time::timeout(timeout, inner.wait(token, rx))
            .await
            .map_err(|_| {
                Error::new(ErrorCode::Timeout, format!("no reply on `{subject}` within {timeout:?}"))
                    .with_correlation_id(cid)
            })?
            .ok_or_else(|| {
                Error::new(ErrorCode::NatsConnectionFailed, "reply subscription closed")
                    .with_correlation_id(cid)
            })?;
        decode_reply(&msg.payload, msg.headers.clone(), receive, cid).await
    }
}

impl RequesterInner {
    /// The reply to request `token`: handed over by the request reading the subscription,
    /// or read by this one once the subscription is free; `None` once the subscription
    /// ended (the connection closed). Cancel-safe (a timeout drops it): a reply read is
    /// always handed to its request or returned.
    async fn wait(
        &self,
        token: u64,
        mut rx: oneshot::Receiver<async_nats::Message>,
    ) -> Option<async_nats::Message> {
        tokio::select! {
            biased;
            reply = &mut rx => reply.ok(),
            mut replies = self.replies.lock() => {
                // Handed over while this request waited for the subscription.
                if let Ok(reply) = rx.try_recv() {
                    return Some(reply);
                }
                loop {
                    let sub = replies.as_mut()?;
                    let Some(msg) = sub.next().await else {
                        // The subscription ended (the connection closed): every request
                        // waiting now, and every later one, fails at once instead of waiting
                        // out its timeout.
                        *replies = None;
                        *self.pending.lock().expect("lock") = None;
                        return None;
                    };
                    let Some(to) = msg.subject.rsplit('.').next().and_then(|t| t.parse::<u64>().ok()) else {
                        continue;
                    };
                    if to == token {
                        return Some(msg);
                    }
                    let waiter = self.pending.lock().expect("lock").as_mut().and_then(|w| w.remove(&to));
                    if let Some(waiter) = waiter {
                        let _ = waiter.send(msg);
                    }
                }
            }
        }
    }
}

/// Removes a request's entry from the pending map when the request ends, however it ends.
struct PendingSlot<'a> {
    pending: &'a Pending,
    token: u64,
}

impl Drop for PendingSlot<'_> {
    fn drop(&mut self) {
        if let Some(waiting) = self.pending.lock().expect("lock").as_mut() {
            waiting.remove(&self.token);
        }
    }
}

/// The remote error in an `error_response_v1` answering the request `cid`.
fn remote_error(body: &[u8], cid: &str) -> Option<Error> {
    json::check(body).ok()?;
    let response: ErrorResponseV1 = serde_json::from_slice(body).ok()?;
    Some(Error::remote(&response.error, cid))
}

/// The `error_response_v1` answering `request` with `error`: its code (and application code),
/// its message with causes (the code and the payload name travel in their own fields), the
/// request's correlation id (also in `details`), a new `msg_id`, sent to the request's
/// `reply_to`. [`smartreply_error`] publishes it.
pub fn error_response(request: &MsgEnvelopeV1, error: &Error) -> Result<ErrorResponseV1> {
    let cid = request.correlation_id.as_str();
    let subject = natsbridge_types::NonEmptyString::new(request.reply_to.as_str()).map_err(|e| {
        Error::new(ERROR_NOT_ENVELOPE, "the request has no `reply_to`")
            .with_source(e)
            .with_correlation_id(cid)
    })?;
    let mut body = error.to_error_body().correlation(cid)?;
    body.details.get_or_insert_with(Default::default).insert("correlation_id".into(), cid.into());
    Ok(ErrorResponseV1 {
        correlation_id: request.correlation_id.clone(),
        error: body,
        msg_id: checked_uuid(None, "msg_id")?,
        send_to: subject,
        timestamp: now_timestamp(),
        extra: Default::default(),
    })
}

/// Answers `request` with [`error_response`] on its `reply_to`, with the `Nats-Msg-Id` and
/// `Correlation-Id` headers. The requester's [`smartrequest`] returns it as a remote [`Error`]
/// (an application error keeps its [`Error::application_code`]).
pub async fn smartreply_error(client: &Client, request: &MsgEnvelopeV1, error: &Error) -> Result<()> {
    let response = error_response(request, error)?;
    let cid = request.correlation_id.as_str();
    let json = serde_json::to_vec(&response).map_err(|e| {
        Error::new(ERROR_WRITER_RULE, "serializing the error response")
            .with_source(e)
            .with_correlation_id(cid)
    })?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(HEADER_MSG_ID, response.msg_id.as_str());
    headers.insert(HEADER_CORRELATION_ID, cid);
    publish_envelope(client, &request.reply_to, headers, Bytes::from(json), true, cid).await
}

/// Answers `request` on its `reply_to`, with the same correlation id and
/// `reply_to_msg_id` = the request's `msg_id`.
pub async fn smartreply<S: Into<String>>(
    client: &Client,
    request: &MsgEnvelopeV1,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: SendOptions,
) -> Result<Sent> {
    if request.reply_to.is_empty() {
        return Err(Error::new(ErrorCode::InvalidEnvelope, "the request has no `reply_to`")
            .with_correlation_id(request.correlation_id.as_str()));
    }
    let options = options
        .connection(client)
        .correlation_id(request.correlation_id.as_str())
        .reply_to_msg_id(request.msg_id.as_str())
        .receiver_name(request.sender_name.as_str())
        .receiver_id(request.sender_id.as_str());
    smartsend(&request.reply_to, payloads, &options).await
}
