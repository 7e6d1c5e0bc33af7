//! # NATSBridge
//!
//! One envelope for mixed data over NATS, and two calls: [`smartsend`] packs any list of
//! payloads into a `msg_envelope_v1` and publishes it; [`smartreceive`] turns a received
//! message back into typed data. Small payloads travel inline as base64 (`direct`); large
//! ones are uploaded to a blob store and only a download URL travels (`link`, the
//! Claim-Check pattern). The wire types come from `schema/` via [`types`].
//!
//! ## A tour
//!
//! Send a command and receive it on the other side:
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
//! let sent = smartsend("sim.command", [("config", Payload::Dictionary(config))], &options).await?;
//!
//! let msg = sub.next().await.unwrap();
//! let received = smartreceive(&msg, &ReceiveOptions::default()).await?;
//! assert_eq!(received.correlation_id(), sent.envelope.correlation_id.as_str());
//! # Ok(()) }
//! ```
//!
//! The root holds what every user needs:
//!
//! - the calls: [`smartsend`] (returns [`Sent`]), [`smartreceive`] / [`smartreceive_bytes`]
//!   (return [`Received`]), [`smartrequest`] / [`smartreply`] / [`smartreply_error`] (an application error: [`Error::application`]), [`serve::serve`] (a responder loop that answers every failure), [`publish_message`],
//!   [`connect`], and the two the reference names, [`fetch_with_backoff`] and
//!   [`plik_oneshot_upload`];
//! - the options: [`SendOptions`] (connection, blob store, `size_threshold`, envelope
//!   fields, headers, link TTL, publishing) and [`ReceiveOptions`] (allowed hosts and
//!   directories, download retries, limits applied before anything is allocated), both
//!   `Default` plus consuming setters;
//! - the data: [`Payload`] (the eight payload types) and [`Table`] (Arrow, decoded
//!   without copying column data);
//! - [`Error`], carrying a reference [`ErrorCode`], the correlation id and the payload.
//!
//! Options follow async-nats: the options of a call ([`SendOptions`], [`ReceiveOptions`])
//! are `Default` plus consuming setters, since their defaults come from the environment
//! and some setters do more than store a value ([`SendOptions::fileserver`],
//! [`ReceiveOptions::allow_host`]); records of plain settings
//! ([`fetch::FetchOptions`], [`table::TableLimits`], [`jetstream::StreamOptions`],
//! [`jetstream::ConsumerOptions`], [`fileserver::FileServerConfig`]) are public fields,
//! filled with struct update syntax from `Default` (from [`jetstream::StreamOptions::new`]
//! for a stream, which has no sensible default name), like async-nats's
//! `jetstream::stream::Config`. No type is both.
//!
//! The rest lives in modules named for what they are: [`error`] (also [`error::report`],
//! any error with its causes), [`config`] (environment and defaults), [`wire`] (header
//! names), [`json`] (strict JSON: what every runtime refuses), [`codec`] (base64),
//! [`table`] (Arrow IPC and its limits), [`fetch`] (downloads, the HTTP client), [`blob`] (blob stores: Plik-compatible
//! HTTP, a local directory, the JetStream Object Store, S3 with presigned links with feature `s3`),
//! [`transport`] (connections, to one server or a cluster's seeds, and their events),
//! [`settings`] (which servers, credentials and TLS: flags, the nats CLI's environment
//! variables and contexts, one rule in every runtime; secrets never printed),
//! [`jetstream`] (replicated streams, acknowledged publishing retried across leader
//! elections, the replaying pull consumer), [`typed`] (feature `typed`: what code generated
//! from a team's AsyncAPI document by `natsbridge codegen` calls), and [`fileserver`]
//! (feature `fileserver`: the embedded Plik-compatible server). `docs/cluster.md` says how
//! to run on a cluster with S3.
//!
//! The whole message (base64 growth and headers included) is fitted to the server's
//! `max_payload` by moving the largest payloads to link; only an envelope whose fields
//! alone exceed it fails, with `PAYLOAD_TOO_LARGE`.
//!
//! A production server with TLS and credentials: resolve [`settings::ConnectSettings`]
//! (what a CLI does with its flags) and connect with it, or pass it as a connection:
//!
//! ```no_run
//! # async fn demo() -> natsbridge::Result<()> {
//! use natsbridge::settings::{ConnectFlags, ConnectSettings};
//! let flags = ConnectFlags {
//!     server: Some("tls://nats.example:4222".into()),
//!     creds: Some("/etc/nats/app.creds".into()),
//!     tls_ca: Some("/etc/nats/ca.pem".into()),
//!     ..ConnectFlags::default()
//! };
//! let settings = ConnectSettings::resolve(&flags)?; // NATS_* and the nats CLI's context fill the rest
//! let client = settings.connect().await?;
//! # drop(client); Ok(()) }
//! ```
//!
//! Tracing: spans `smartsend`, `serialize`, `upload`, `publish`, `smartreceive`, `receive`,
//! `download`, `deserialize`, each with a `correlation_id` field (in `receive`, which parses
//! the envelope, the one of the `Correlation-Id` header, empty without it).
//!
//! ## Features
//!
//! Without features the crate has what a service that sends and receives needs: every
//! call above, request/reply, JetStream streams and the replaying consumer, settings, and
//! the Plik-compatible HTTP, local-directory and JetStream Object Store blob stores (links
//! from all of them are downloaded with no feature). The rest is opt-in:
//!
//! | feature | what it brings | dependencies it adds |
//! |---|---|---|
//! | `fileserver` | [`fileserver`]: the embedded Plik-compatible file server | axum, tower-http, hyper-util |
//! | `s3` | [`blob::S3Store`]: links in S3-compatible storage, presigned; [`object_store`] re-exported | object_store |
//! | `typed` | [`typed`]: what the crates `natsbridge codegen` writes call (they enable it themselves) | none |
//!
//! ```toml
//! natsbridge = { version = "0.1", features = ["s3"] }
//! ```
//!
//! `docs/getting-started/rust.md` has the same table; the `natsbridge` CLI is built with
//! `fileserver` and `s3`.
//!
//! ## Types from other crates in this API
//!
//! Chosen on purpose, so values flow to and from the libraries a user already has:
//! `async_nats` (`Client`, `Message`, `HeaderMap`, `Event`, `jetstream::Context`),
//! `arrow_array::RecordBatch` and `arrow_schema::SchemaRef` (in [`Table`]),
//! `arrow_buffer::Buffer` (received bytes, aliased by tables), `bytes::Bytes` (payload
//! bytes), `serde_json::Value` (JSON payloads, metadata), `chrono::DateTime<Utc>` (replay
//! start, publish times), `reqwest::Client` ([`blob::PlikStore::http_client`],
//! [`fetch_with_backoff`]), `object_store::aws::AmazonS3Builder` ([`blob::S3Store`], feature `s3`),
//! `futures::future::BoxFuture` (what a [`blob::BlobStore`]
//! returns), `tokio::sync::broadcast::Receiver` ([`transport::NatsEvents`]). Each crate is
//! re-exported under its own name at the version this crate uses, e.g. [`async_nats`].
//!
//! ## Reading the code
//!
//! Modules import in one direction only, in this order (`ARCHITECTURE.md` lists it and a
//! test keeps it): `error`, `wire`, `json`, `config`, `codec`, `table`, `payload`, `fetch`, `blob`,
//! `settings`, `transport`, `options`, `send`, `receive`, `request`, `serve`, `start`, `jetstream`, `typed`, `fileserver`,
//! `fuzzing`.
//!
// Without its feature an item is not in the docs: its links lead to the features table.
#![cfg_attr(not(feature = "typed"), doc = "[`typed`]: crate#features")]
#![cfg_attr(
    not(feature = "fileserver"),
    doc = "[`fileserver`]: crate#features\n[`fileserver::FileServerConfig`]: crate#features"
)]
#![cfg_attr(not(feature = "s3"), doc = "[`blob::S3Store`]: crate#features\n[`object_store`]: crate#features")]
#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

// In reading order (lowest layer first); rustfmt sorts each group.
// Foundations, no I/O.
pub mod error;
pub mod json;
pub mod wire;

pub mod config;

// Serialization.
pub mod codec;
pub mod table;

mod payload;

// Network edges.
pub mod fetch;

pub mod blob;

pub mod settings;
pub mod transport;

// The calls.
mod options;

mod send;

mod receive;

mod request;

pub mod jetstream;
pub mod serve;
mod start;

#[cfg(feature = "typed")]
pub mod typed;

#[cfg(feature = "fileserver")]
pub mod fileserver;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use natsbridge_types as types;
#[cfg(feature = "s3")]
pub use object_store;
pub use {
    arrow_array, arrow_buffer, arrow_schema, async_nats, bytes, chrono, futures, reqwest, serde_json, tokio,
};

pub use blob::plik_oneshot_upload;
pub use error::{Error, ErrorCode, Result};
pub use fetch::fetch_with_backoff;
pub use options::{ReceiveOptions, SendOptions};
pub use payload::{Payload, PayloadType};
pub use receive::{Received, ReceivedPayload, smartreceive, smartreceive_bytes};
pub use request::{Requester, decode_reply, error_response, smartreply, smartreply_error, smartrequest};
pub use send::{Sender, Sent, smartsend};
pub use table::Table;
pub use transport::{Connection, connect, publish_message};

/// The README's Rust examples, compiled (and run) as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

/// The Rust getting-started page of the docs (`docs/getting-started/rust.md`), compiled and
/// run as doctests like the README.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/getting-started/rust.md")]
struct DocsRustDoctests;

/// The operations page (`docs/operating.md`): its Rust examples (a secured server) compiled
/// as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/operating.md")]
struct DocsOperatingDoctests;

/// The cluster and S3 runbook (`docs/cluster.md`): its Rust examples compiled as doctests.
#[cfg(all(doctest, feature = "s3"))]
#[doc = include_str!("../../../docs/cluster.md")]
struct DocsClusterDoctests;
