//! Blob stores for link payloads (the Claim-Check pattern), behind one trait.
//!
//! - [`PlikStore`]: any Plik-compatible HTTP file server: a real Plik, or the embedded one
//!   (`natsbridge::fileserver`, feature `fileserver`). Links are plain HTTP(S) URLs any
//!   language can download.
//! - [`FsStore`]: a local directory; links are `file://` URLs, for single-host setups.
//! - [`NatsObjectStore`]: the JetStream Object Store; links are `nats-os://bucket/object`,
//!   so nothing but nats-server is needed.
//! - [`S3Store`] (feature `s3`): S3-compatible object storage; links are presigned HTTPS
//!   `GET` URLs any language downloads without credentials (no feature needed to receive
//!   them), valid for at most 7 days.
//!
//! Payloads come whole ([`PutRequest`]) or as a stream of chunks ([`PutStream`]: an Arrow
//! table encoded while it uploads); the Plik, Object Store and S3 stores send the chunks
//! as they come.
//!
// Without its feature an item is not in the docs: its link leads to the features table.
#![cfg_attr(not(feature = "s3"), doc = "[`S3Store`]: crate#features")]

mod fs;
pub(crate) mod nats_os;
mod plik;
#[cfg(feature = "s3")]
mod s3;

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::error::{Error, ErrorCode, Result};

pub use fs::FsStore;
pub use nats_os::NatsObjectStore;
#[cfg(feature = "s3")]
pub use object_store::aws::AmazonS3Builder;
pub use plik::{PlikStore, PlikUpload, plik_oneshot_upload};
#[cfg(feature = "s3")]
pub use s3::{MAX_LINK_TTL as S3_MAX_LINK_TTL, PART_SIZE as S3_PART_SIZE, S3Store};

/// A lifetime as error messages show it: whole seconds rounded up, or "for ever".
pub(crate) fn shown_ttl(ttl: Duration) -> String {
    if ttl == Duration::MAX { "for ever".into() } else { format!("{} s", ttl.as_millis().div_ceil(1000)) }
}

/// What to store.
#[derive(Debug, Clone)]
pub struct PutRequest {
    /// File name for the link (the payload's `dataname` plus an extension).
    pub name: String,
    /// The serialized payload.
    pub bytes: Bytes,
    /// How long the blob must stay downloadable; `None` uses the store's default,
    /// `Duration::MAX` for ever (a store that cannot keep it for ever refuses the put).
    pub ttl: Option<Duration>,
    /// Delete after the first complete download. Off by default: a one-shot link does not
    /// survive a retry, a second subscriber or a JetStream replay.
    pub one_shot: bool,
    /// For logs.
    pub correlation_id: String,
}

/// What to store, as a stream of chunks whose total length is known only at its end (an
/// Arrow table encoded while it uploads).
pub struct PutStream {
    /// File name for the link.
    pub name: String,
    /// The bytes, in order; an `Err` item aborts the upload.
    pub chunks: BoxStream<'static, std::io::Result<Bytes>>,
    /// How long the blob must stay downloadable; `None` uses the store's default.
    pub ttl: Option<Duration>,
    /// Delete after the first complete download.
    pub one_shot: bool,
    /// For logs.
    pub correlation_id: String,
}

impl fmt::Debug for PutStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PutStream")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .field("one_shot", &self.one_shot)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

/// A place link payloads are uploaded to.
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores the bytes and returns the URL receivers download them from.
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>>;

    /// Stores a stream of chunks and returns the URL. The default gathers the chunks and
    /// calls [`BlobStore::put`]; stores that can upload as the chunks come override it,
    /// so the sender never holds the whole payload.
    fn put_stream(&self, request: PutStream) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move {
            use futures::TryStreamExt as _;
            let PutStream { name, chunks, ttl, one_shot, correlation_id } = request;
            let bytes: Vec<Bytes> = chunks.try_collect().await.map_err(|e| {
                Error::new(ErrorCode::SerializationError, "producing the payload")
                    .with_source(e)
                    .with_correlation_id(&correlation_id)
            })?;
            self.put(PutRequest { name, bytes: Bytes::from(bytes.concat()), ttl, one_shot, correlation_id })
                .await
        })
    }
}
