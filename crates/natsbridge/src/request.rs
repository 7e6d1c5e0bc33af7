//! Request/reply on top of [`smartsend`] and [`smartreceive`]: a request carries a fresh
//! inbox in `reply_to`; the reply keeps the request's correlation id and names it in
//! `reply_to_msg_id`. A responder that cannot handle a request answers with an
//! `error_response_v1` ([`smartreply_error`]); [`smartrequest`] returns it as a remote
//! [`Error`] with the responder's code ([`Error::is_remote`]).

use std::time::Duration;

use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge_types::{ErrorResponseV1, MsgEnvelopeV1};

use crate::error::{Error, ErrorCode, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive};
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
    match smartreceive(&msg, receive).await {
        // Not an envelope: perhaps the responder's error_response_v1. Looked at only then, so
        // a good reply costs nothing more.
        Err(e) if *e.code() == ErrorCode::InvalidEnvelope => {
            Err(error_response(&msg.payload, &cid).unwrap_or(e))
        }
        other => other,
    }
}

/// The remote error in an `error_response_v1` answering the request `cid`.
fn error_response(body: &[u8], cid: &str) -> Option<Error> {
    let response: ErrorResponseV1 = serde_json::from_slice(body).ok()?;
    Some(Error::remote(&response.error, cid))
}

/// Answers `request` with an `error_response_v1` on its `reply_to`: `error`'s code and
/// message, the request's correlation id (also in `details`), a new `msg_id`. The requester's
/// [`smartrequest`] returns it as a remote [`Error`].
pub async fn smartreply_error(client: &Client, request: &MsgEnvelopeV1, error: &Error) -> Result<()> {
    let cid = request.correlation_id.as_str();
    let subject = natsbridge_types::NonEmptyString::new(request.reply_to.as_str()).map_err(|e| {
        Error::new(ErrorCode::InvalidEnvelope, "the request has no `reply_to`")
            .with_source(e)
            .with_correlation_id(cid)
    })?;
    let mut body = error.to_error_body();
    body.details.get_or_insert_with(Default::default).insert("correlation_id".into(), cid.into());
    let msg_id = checked_uuid(None, "msg_id")?;
    let response = ErrorResponseV1 {
        correlation_id: request.correlation_id.clone(),
        error: body,
        msg_id: msg_id.clone(),
        send_to: subject,
        timestamp: now_timestamp(),
        extra: Default::default(),
    };
    let json = serde_json::to_vec(&response).map_err(|e| {
        Error::new(ErrorCode::SerializationError, "serializing the error response")
            .with_source(e)
            .with_correlation_id(cid)
    })?;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(HEADER_MSG_ID, msg_id.as_str());
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
