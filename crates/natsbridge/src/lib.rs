//! # NATSBridge
//!
//! One envelope for mixed data over NATS, and two calls: [`smartsend`] packs any list of
//! payloads into a `msg_envelope_v1` and publishes it; [`smartreceive`] turns a received
//! message back into typed data. Small payloads travel inline as base64 (`direct`); large
//! ones are uploaded to a blob store and only a download URL travels (`link`, the
//! Claim-Check pattern). The wire types come from `schema/` via [`natsbridge_types`].
//!
//! ## A tour
//!
//! Send a command and a table, receive them on the other side:
//!
//! ```no_run
//! use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive, smartsend};
//! use natsbridge::types::MsgPurpose;
//! use futures::StreamExt as _;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = natsbridge::connect("nats://localhost:4222").await?;
//! let mut sub = client.subscribe("sim.command").await?;
//!
//! let options = SendOptions::default()
//!     .connection(&client)
//!     .fileserver("http://localhost:8080")
//!     .purpose(MsgPurpose::Command);
//! let config = serde_json::json!({"step_size": 0.01, "iterations": 1000});
//! let (envelope, _json) = smartsend("sim.command", [("config", Payload::Dictionary(config))], &options).await?;
//!
//! let msg = sub.next().await.unwrap();
//! let received = smartreceive(&msg, &ReceiveOptions::default()).await?;
//! assert_eq!(received.correlation_id(), envelope.correlation_id.as_str());
//! # Ok(()) }
//! ```
//!
//! - [`SendOptions`]: connection, blob store, `size_threshold` (default 500 000 bytes, or
//!   `SIZE_THRESHOLD`), correlation id, purpose, sender/receiver fields, reply subject,
//!   NATS headers, and whether to publish. The whole message (base64 growth and headers
//!   included) is fitted to the server's `max_payload` by moving the largest payloads to
//!   link, so publishing never fails for size.
//! - [`ReceiveOptions`]: which hosts links may point to (default: the host of
//!   `FILESERVER_URL`), download retries and deadline ([`fetch_with_backoff`]), and limits
//!   applied before anything is allocated.
//! - [`Payload`]: text, dictionary, Arrow tables (IPC stream), JSON tables, image, audio,
//!   video, binary. Link Arrow tables decode without copying column data.
//! - Blob stores ([`blob`]): a Plik-compatible HTTP server (a real Plik, or the embedded
//!   [`fileserver`]), or a local directory.
//! - Request/reply: [`smartrequest`] and [`smartreply`].
//! - Errors: one [`Error`] carrying a reference [`ErrorCode`] and the correlation id.
//! - Tracing: spans `smartsend`, `serialize`, `upload`, `publish`, `smartreceive`,
//!   `receive`, `download`, `deserialize`, each with a `correlation_id` field.

#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

pub mod blob;
mod codec;
mod error;
mod fetch;
pub mod fileserver;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod jetstream;
mod nats;
mod options;
mod payload;
mod receive;
mod send;
mod table;

pub use natsbridge_types as types;

pub use codec::{decode as base64_decode, encode as base64_encode, encoded_len as base64_len};
pub use error::{Error, ErrorCode, Result};
pub use fetch::{FetchOptions, fetch_with_backoff, redact};
pub use nats::{NatsEvents, connect, connect_with_events, publish_message, smartreply, smartrequest};
pub use options::{
    Connection, DEFAULT_FILESERVER_URL, DEFAULT_NATS_URL, DEFAULT_SIZE_THRESHOLD, ReceiveOptions,
    SendOptions, fileserver_url_from_env, nats_url_from_env, process_sender_id, size_threshold_from_env,
};
pub use payload::{Payload, PayloadType};
pub use receive::{Received, ReceivedPayload, smartreceive, smartreceive_bytes};
pub use send::{HEADER_CORRELATION_ID, HEADER_MSG_ID, smartsend};
pub use table::{Table, TableLimits, decode_table, encode_table};

/// The HTTP client used for uploads and downloads: rustls with the ring provider, no
/// redirects followed, 10 s connect timeout, 60 s read timeout, pooled connections.
/// One per process (building one loads the system's root certificates); clones share it.
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(10))
            .read_timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("an HTTP client with static settings")
    });
    CLIENT.clone()
}
