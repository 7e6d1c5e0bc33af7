//! Request/reply on top of [`smartsend`] and [`smartreceive`]: a request carries a fresh
//! inbox in `reply_to`; the reply keeps the request's correlation id and names it in
//! `reply_to_msg_id`.

use std::time::Duration;

use async_nats::Client;
use futures::StreamExt as _;
use natsbridge_types::MsgEnvelopeV1;

use crate::error::{Error, ErrorCode, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive};
use crate::send::{Sent, smartsend};

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
    smartreceive(&msg, receive).await
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
