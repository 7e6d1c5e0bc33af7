//! A responder loop: [`serve`] subscribes to a subject, decodes each request, runs the
//! handler on it (concurrently, one task per request) and answers on its `reply_to` with
//! what the handler returned, or with an `error_response_v1` when it failed (schema/README.md,
//! rule 16): a returned [`Error`] keeps its code ([`Error::application`] for the
//! application's own), any other error is `HANDLER_FAILED`, and so is a panic. The requester
//! always gets an answer, never its timeout. A request whose payloads do not decode is
//! answered with their error; bytes that are no envelope at all are logged and skipped.
//!
//! ```no_run
//! # async fn run(client: natsbridge::async_nats::Client) -> natsbridge::Result<()> {
//! use natsbridge::{Error, Payload, serve::{ServeOptions, serve}};
//!
//! let server = serve(client, "sim.query", ServeOptions::default(), |request| async move {
//!     let Some(p) = request.payloads.first() else {
//!         return Err(Error::application("EMPTY_QUERY", "send a `query` payload").into());
//!     };
//!     Ok(vec![("echo".to_owned(), p.data.clone())])
//! })
//! .await?;
//! server.stop().await;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::Arc;

use async_nats::Client;
use futures::StreamExt as _;
use natsbridge_types::profile::ERROR_HANDLER;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::error::{Error, ErrorCode, Result};
use crate::options::{ReceiveOptions, SendOptions};
use crate::payload::Payload;
use crate::receive::{Received, smartreceive};
use crate::request::{smartreply, smartreply_error};

/// What a handler may fail with: a NATSBridge [`Error`] is answered with its code, anything
/// else with `HANDLER_FAILED`.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Settings of [`serve`].
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// Share the requests with the other responders of this queue group.
    pub queue: Option<String>,
    /// How replies are sent (file server, threshold, …).
    pub send: SendOptions,
    /// How requests are received (allowed hosts, limits, …).
    pub receive: ReceiveOptions,
}

/// A running responder; [`Server::stop`] ends it (dropping it does too).
#[derive(Debug)]
pub struct Server {
    task: JoinHandle<()>,
}

impl Server {
    /// Stops taking requests; handlers already running finish on their own.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers requests on `subject` with `handler` until the [`Server`] is stopped. Resolves
/// once the server has the subscription.
pub async fn serve<F, Fut>(client: Client, subject: &str, options: ServeOptions, handler: F) -> Result<Server>
where
    F: Fn(Received) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<Vec<(String, Payload)>, HandlerError>> + Send + 'static,
{
    let subscribe = match &options.queue {
        Some(q) => client.queue_subscribe(subject.to_owned(), q.clone()).await,
        None => client.subscribe(subject.to_owned()).await,
    };
    let mut requests = subscribe.map_err(|e| {
        Error::new(ErrorCode::NatsConnectionFailed, format!("subscribing to `{subject}`")).with_source(e)
    })?;
    client.flush().await.map_err(|e| {
        Error::new(ErrorCode::NatsConnectionFailed, format!("subscribing to `{subject}`")).with_source(e)
    })?;
    let handler = Arc::new(handler);
    let options = Arc::new(options);
    let task = tokio::spawn(async move {
        while let Some(msg) = requests.next().await {
            let (client, handler, options) = (client.clone(), handler.clone(), options.clone());
            tokio::spawn(async move {
                let request = match smartreceive(&msg, &options.receive).await {
                    Ok(r) => r,
                    Err(e) => return answer_undecodable(&client, &msg.payload, e).await,
                };
                let envelope = request.envelope.clone();
                let cid = envelope.correlation_id.as_str().to_owned();
                // The handler runs in a task of its own, so a panic is an answer too.
                let outcome = tokio::spawn((handler)(request)).await;
                let failure = match outcome {
                    Ok(Ok(payloads)) => {
                        if let Err(e) = smartreply(&client, &envelope, payloads, options.send.clone()).await {
                            warn!(correlation_id = %cid, error = %e.report(), "reply not sent; answering the error");
                            e
                        } else {
                            return;
                        }
                    }
                    Ok(Err(e)) => match e.downcast::<Error>() {
                        Ok(bridge) => *bridge,
                        Err(other) => Error::handler_failed(other.as_ref()),
                    },
                    Err(join) => Error::new(
                        ERROR_HANDLER,
                        format!("the handler panicked: {}", panic_text(join.into_panic())),
                    ),
                };
                let failure = failure.with_correlation_id(cid.clone());
                warn!(correlation_id = %cid, error = %failure.report(), "request failed; answering with an error response");
                if let Err(e) = smartreply_error(&client, &envelope, &failure).await {
                    warn!(correlation_id = %cid, error = %e.report(), "error response not sent");
                }
            });
        }
    });
    Ok(Server { task })
}

/// A request that does not decode: answered with its error when its bytes are a v1 envelope
/// naming a `reply_to` (its payloads are what failed), else logged and skipped (rule 16).
async fn answer_undecodable(client: &Client, body: &[u8], error: Error) {
    let envelope = crate::json::check(body)
        .ok()
        .and_then(|()| serde_json::from_slice::<natsbridge_types::MsgEnvelopeV1>(body).ok())
        .filter(|env| !env.reply_to.is_empty());
    let Some(envelope) = envelope else {
        warn!(correlation_id = error.correlation_id().unwrap_or_default(), error = %error.report(), "request not decoded and no reply_to to answer on; skipped");
        return;
    };
    let error = error.with_correlation_id(envelope.correlation_id.as_str());
    warn!(correlation_id = %envelope.correlation_id.as_str(), error = %error.report(), "request not decoded; answering with its error");
    if let Err(e) = smartreply_error(client, &envelope, &error).await {
        warn!(correlation_id = %envelope.correlation_id.as_str(), error = %e.report(), "error response not sent");
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}
