//! Blob stores for link payloads (the Claim-Check pattern), behind one trait.
//!
//! - [`PlikStore`]: any Plik-compatible HTTP file server: a real Plik, or the embedded
//!   [`crate::fileserver`]. Links are plain HTTP(S) URLs any language can download.
//! - [`FsStore`]: a local directory; links are `file://` URLs, for single-host setups.
//! - [`NatsObjectStore`]: the JetStream Object Store; links are `nats-os://bucket/object`,
//!   so nothing but nats-server is needed.

mod fs;
pub(crate) mod nats_os;
mod plik;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::error::Result;

pub use fs::FsStore;
pub use nats_os::NatsObjectStore;
pub use plik::{PlikStore, PlikUpload, plik_oneshot_upload};

/// What to store.
#[derive(Debug, Clone)]
pub struct PutRequest {
    /// File name for the link (the payload's `dataname` plus an extension).
    pub name: String,
    /// The serialized payload.
    pub bytes: Bytes,
    /// How long the blob must stay downloadable; `None` uses the store's default.
    pub ttl: Option<Duration>,
    /// Delete after the first complete download. Off by default: a one-shot link does not
    /// survive a retry, a second subscriber or a JetStream replay.
    pub one_shot: bool,
    /// For logs.
    pub correlation_id: String,
}

/// A place link payloads are uploaded to.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores the bytes and returns the URL receivers download them from.
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>>;
}
