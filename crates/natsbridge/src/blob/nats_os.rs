//! A blob store in the JetStream Object Store: a deployment with nothing but nats-server
//! can carry link payloads. Links are `nats-os://{bucket}/{object}`; receivers resolve
//! them through their own JetStream context (`ReceiveOptions::jetstream`). The Object
//! Store checks each object's SHA-256 on read.

use std::time::Duration;

use async_nats::jetstream::object_store::{Config, ObjectMetadata, ObjectStore};
use async_nats::jetstream::stream::StorageType;
use futures::future::BoxFuture;
use tokio::io::AsyncReadExt as _;
use tracing::{Instrument as _, info_span};

use super::{BlobStore, PutRequest, PutStream};
use crate::error::{Error, ErrorCode, Result};

/// The URL scheme of Object Store links.
pub(crate) const SCHEME: &str = "nats-os";

/// Chunk size for puts: larger chunks mean fewer acknowledged round trips.
const CHUNK_SIZE: usize = 512 * 1024;

/// Link payloads in a JetStream Object Store bucket.
#[derive(Clone)]
pub struct NatsObjectStore {
    bucket: String,
    store: ObjectStore,
    /// How long the bucket keeps objects (zero: for ever).
    max_age: Duration,
}

impl std::fmt::Debug for NatsObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsObjectStore")
            .field("bucket", &self.bucket)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl NatsObjectStore {
    /// Opens `bucket`, creating it (file storage, objects kept for `max_age`) if missing.
    pub async fn open(js: &async_nats::jetstream::Context, bucket: &str, max_age: Duration) -> Result<Self> {
        let store = match js.get_object_store(bucket).await {
            Ok(s) => s,
            Err(_) => js
                .create_object_store(Config {
                    bucket: bucket.to_owned(),
                    max_age,
                    storage: StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| {
                    Error::new(ErrorCode::UploadFailed, format!("creating bucket `{bucket}`")).with_source(e)
                })?,
        };
        // The bucket's own limit (it may have existed with another): what a link can be granted.
        let max_age = match js.get_stream(format!("OBJ_{bucket}")).await {
            Ok(stream) => stream.cached_info().config.max_age,
            Err(_) => max_age,
        };
        Ok(NatsObjectStore { bucket: bucket.to_owned(), store, max_age })
    }
}

impl NatsObjectStore {
    /// Refuses a lifetime longer than the bucket keeps objects: it would not be granted.
    fn check_ttl(&self, ttl: Option<Duration>, correlation_id: &str) -> Result<()> {
        match ttl.filter(|ttl| !self.max_age.is_zero() && *ttl > self.max_age) {
            None => Ok(()),
            Some(ttl) => Err(Error::new(
                ErrorCode::UploadFailed,
                format!(
                    "bucket `{}` keeps objects for {} s, {} was asked: links would expire before their messages",
                    self.bucket,
                    self.max_age.as_secs(),
                    super::shown_ttl(ttl)
                ),
            )
            .with_correlation_id(correlation_id)),
        }
    }

    /// Puts everything `reader` yields as a new object; returns its link.
    async fn put_reader(
        &self,
        name: &str,
        reader: &mut (impl tokio::io::AsyncRead + Send + Unpin),
        correlation_id: &str,
    ) -> Result<String> {
        let name = format!("{}-{name}", uuid::Uuid::new_v4().simple());
        let meta = ObjectMetadata { name: name.clone(), chunk_size: Some(CHUNK_SIZE), ..Default::default() };
        self.store.put(meta, reader).await.map_err(|e| {
            Error::new(ErrorCode::UploadFailed, format!("object store put into `{}`", self.bucket))
                .with_source(e)
                .with_correlation_id(correlation_id)
        })?;
        Ok(format!("{SCHEME}://{}/{name}", self.bucket))
    }
}

impl BlobStore for NatsObjectStore {
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>> {
        let span = info_span!("upload", correlation_id = %request.correlation_id, bucket = %self.bucket, bytes = request.bytes.len());
        Box::pin(
            async move {
                // Objects live as long as the bucket keeps them: a longer lifetime is refused,
                // not silently shortened.
                self.check_ttl(request.ttl, &request.correlation_id)?;
                let mut reader: &[u8] = &request.bytes;
                self.put_reader(&request.name, &mut reader, &request.correlation_id).await
            }
            .instrument(span),
        )
    }

    fn put_stream(&self, request: PutStream) -> BoxFuture<'_, Result<String>> {
        let span = info_span!("upload", correlation_id = %request.correlation_id, bucket = %self.bucket);
        Box::pin(
            async move {
                self.check_ttl(request.ttl, &request.correlation_id)?;
                let mut reader = tokio_util::io::StreamReader::new(request.chunks);
                self.put_reader(&request.name, &mut reader, &request.correlation_id).await
            }
            .instrument(span),
        )
    }
}

/// Reads an Object Store link into an aligned buffer, refusing more than `size` bytes.
pub(crate) async fn fetch(
    js: &async_nats::jetstream::Context,
    bucket: &str,
    name: &str,
    size: u64,
) -> Result<arrow_buffer::Buffer> {
    let fail = |what: String| Error::new(ErrorCode::DownloadFailed, what);
    let store =
        js.get_object_store(bucket).await.map_err(|e| fail(format!("bucket `{bucket}`")).with_source(e))?;
    let mut object = store.get(name).await.map_err(|e| fail(format!("object `{name}`")).with_source(e))?;
    let capacity = usize::try_from(size).map_err(|_| fail("size does not fit in memory".into()))?;
    let mut buf = arrow_buffer::MutableBuffer::with_capacity(capacity);
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n =
            object.read(&mut chunk).await.map_err(|e| fail(format!("reading `{name}`")).with_source(e))?;
        if n == 0 {
            break;
        }
        if (buf.len() + n) as u64 > size {
            return Err(Error::new(
                ErrorCode::IntegrityMismatch,
                format!("object is longer than the {size} bytes declared"),
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if buf.len() as u64 != size {
        return Err(Error::new(
            ErrorCode::IntegrityMismatch,
            format!("object has {} bytes, the payload declares {size}", buf.len()),
        ));
    }
    Ok(buf.into())
}
