//! A blob store in S3-compatible object storage (AWS S3, MinIO, Ceph RGW, s3s…) through
//! the `object_store` crate (SigV4 signing with ring, the reqwest client the runtime
//! already ships).
//!
//! Links are presigned `GET` URLs: a receiver in any language downloads them with plain
//! HTTP(S) and holds no credentials, and the link carries its own expiry. SigV4 caps a
//! presigned URL at 7 days ([`MAX_LINK_TTL`]); a send that asks for longer (a stream whose
//! `max_age` is longer) fails before anything is uploaded, instead of publishing a link
//! that dies before its message. Objects themselves are never deleted by the runtime: give
//! the bucket a lifecycle rule at least as long as the longest link lifetime.
//!
//! Payloads above [`PART_SIZE`] go up as a multipart upload, part by part as the bytes
//! come (an Arrow table encoded while it uploads never sits whole in the sender).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path;
use object_store::signer::{Method, Signer as _};
use object_store::{ObjectStoreExt as _, WriteMultipart};
use tracing::{Instrument as _, debug, info_span};

use super::{BlobStore, PutRequest, PutStream};
use crate::error::{Error, ErrorCode, Result};
use crate::wire::file_name;

/// The longest lifetime a SigV4 presigned URL can have: 7 days.
pub const MAX_LINK_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Link lifetime when the send does not ask for one.
pub(crate) const DEFAULT_LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// Multipart part size: payloads up to this size go up in one `PUT`.
pub const PART_SIZE: usize = 8 << 20; // not a profile value

/// Parts uploading at once.
const PARTS_IN_FLIGHT: usize = 4;

/// Link payloads in an S3 bucket, linked by presigned `GET` URLs.
#[derive(Clone)]
pub struct S3Store {
    s3: Arc<AmazonS3>,
    bucket: String,
    prefix: String,
    default_ttl: Duration,
}

impl std::fmt::Debug for S3Store {
    // The builder's credentials stay out: only the bucket and prefix are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// A store over a configured `object_store` builder (bucket, region, endpoint,
    /// credentials). Plain `http://` endpoints need `with_allow_http(true)`.
    ///
    /// ```no_run
    /// use natsbridge::blob::{AmazonS3Builder, S3Store};
    /// let store = S3Store::new(
    ///     AmazonS3Builder::new()
    ///         .with_bucket_name("links")
    ///         .with_region("eu-west-1")
    ///         .with_access_key_id("AKIA…")
    ///         .with_secret_access_key("…"),
    /// )?;
    /// # Ok::<(), natsbridge::Error>(())
    /// ```
    pub fn new(builder: AmazonS3Builder) -> Result<Self> {
        // object_store's HTTP client is reqwest with rustls and no bundled provider.
        crate::fetch::install_crypto_provider();
        let bucket = builder.get_config_value(&AmazonS3ConfigKey::Bucket).unwrap_or_default();
        let s3 = builder.build().map_err(|e| {
            Error::new(ErrorCode::UploadFailed, format!("configuring the S3 store for bucket `{bucket}`"))
                .with_source(e)
        })?;
        Ok(S3Store { s3: Arc::new(s3), bucket, prefix: String::new(), default_ttl: DEFAULT_LINK_TTL })
    }

    /// A store configured from the `AWS_*` environment (`AWS_BUCKET` or
    /// `AWS_BUCKET_NAME`, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`), as
    /// `AmazonS3Builder::from_env` reads it.
    pub fn from_env() -> Result<Self> {
        S3Store::new(AmazonS3Builder::from_env())
    }

    /// Keys start with this prefix (e.g. `natsbridge/`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Lifetime of links when the send does not ask for one (default 24 h, at most
    /// [`MAX_LINK_TTL`]).
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl.min(MAX_LINK_TTL);
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The lifetime to presign for, or the typed refusal: checked before any upload.
    fn link_ttl(&self, ttl: Option<Duration>, one_shot: bool, correlation_id: &str) -> Result<Duration> {
        let refuse =
            |why: String| Err(Error::new(ErrorCode::UploadFailed, why).with_correlation_id(correlation_id));
        if one_shot {
            return refuse("S3 links cannot be one-shot: a presigned URL serves until it expires".into());
        }
        match ttl {
            Some(ttl) if ttl > MAX_LINK_TTL => refuse(format!(
                "S3 presigned links last at most {} s (SigV4), {} was asked: links would expire before their messages",
                MAX_LINK_TTL.as_secs(),
                super::shown_ttl(ttl)
            )),
            Some(ttl) => Ok(ttl.max(Duration::from_secs(1))),
            None => Ok(self.default_ttl),
        }
    }

    fn key(&self, name: &str) -> Path {
        Path::from(format!("{}{}-{}", self.prefix, uuid::Uuid::new_v4().simple(), file_name(name)))
    }

    async fn presign(&self, key: &Path, ttl: Duration, correlation_id: &str) -> Result<String> {
        let url = self.s3.signed_url(Method::GET, key, ttl).await.map_err(|e| {
            Error::new(ErrorCode::UploadFailed, "presigning the download link")
                .with_source(e)
                .with_correlation_id(correlation_id)
        })?;
        Ok(url.to_string())
    }

    fn failed(&self, key: &Path, correlation_id: &str) -> impl Fn(object_store::Error) -> Error {
        let what = format!("S3 put of `{key}` into bucket `{}`", self.bucket);
        let cid = correlation_id.to_owned();
        move |e| Error::new(ErrorCode::UploadFailed, what.clone()).with_source(e).with_correlation_id(&cid)
    }

    /// Streams `chunks` into a multipart upload (aborted on any failure).
    async fn put_multipart(
        &self,
        key: &Path,
        mut chunks: impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin,
        correlation_id: &str,
    ) -> Result<u64> {
        let failed = self.failed(key, correlation_id);
        let upload = self.s3.put_multipart(key).await.map_err(&failed)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut total = 0u64;
        while let Some(chunk) = chunks.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(Error::new(ErrorCode::SerializationError, "producing the payload")
                        .with_source(e)
                        .with_correlation_id(correlation_id));
                }
            };
            total += chunk.len() as u64;
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(failed(e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(&failed)?;
        Ok(total)
    }
}

impl BlobStore for S3Store {
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>> {
        let span = info_span!("upload", correlation_id = %request.correlation_id, bucket = %self.bucket, bytes = request.bytes.len());
        Box::pin(
            async move {
                let cid = &request.correlation_id;
                let ttl = self.link_ttl(request.ttl, request.one_shot, cid)?;
                let key = self.key(&request.name);
                if request.bytes.len() <= PART_SIZE {
                    self.s3.put(&key, request.bytes.into()).await.map_err(self.failed(&key, cid))?;
                } else {
                    let parts = futures::stream::iter(
                        (0..request.bytes.len())
                            .step_by(PART_SIZE)
                            .map(|at| Ok(request.bytes.slice(at..(at + PART_SIZE).min(request.bytes.len()))))
                            .collect::<Vec<_>>(),
                    );
                    self.put_multipart(&key, parts, cid).await?;
                }
                debug!(%key, "uploaded to S3");
                self.presign(&key, ttl, cid).await
            }
            .instrument(span),
        )
    }

    fn put_stream(&self, request: PutStream) -> BoxFuture<'_, Result<String>> {
        let span = info_span!("upload", correlation_id = %request.correlation_id, bucket = %self.bucket);
        Box::pin(
            async move {
                let cid = &request.correlation_id;
                let ttl = self.link_ttl(request.ttl, request.one_shot, cid)?;
                let key = self.key(&request.name);
                let bytes = self.put_multipart(&key, request.chunks, cid).await?;
                debug!(%key, bytes, "uploaded to S3 in parts");
                self.presign(&key, ttl, cid).await
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> S3Store {
        S3Store::new(
            AmazonS3Builder::new()
                .with_bucket_name("b")
                .with_region("us-east-1")
                .with_endpoint("http://127.0.0.1:9")
                .with_allow_http(true)
                .with_access_key_id("AKIDEXAMPLE")
                .with_secret_access_key("wJalrXUtnFEMI"),
        )
        .expect("a store")
    }

    #[test]
    fn lifetimes_past_what_sigv4_can_sign_are_refused_before_uploading() {
        let s = store();
        let day = Duration::from_secs(86_400);
        assert_eq!(s.link_ttl(None, false, "c").unwrap(), DEFAULT_LINK_TTL);
        assert_eq!(s.link_ttl(Some(day * 7), false, "c").unwrap(), day * 7);
        let err = s.link_ttl(Some(day * 7 + Duration::from_secs(1)), false, "cid-1").unwrap_err();
        assert_eq!(err.code(), &ErrorCode::UploadFailed);
        assert_eq!(err.correlation_id(), Some("cid-1"));
        assert!(err.to_string().contains("604800"), "{err}");
        assert!(s.link_ttl(Some(day), true, "c").is_err(), "one-shot is refused, not ignored");
    }

    #[test]
    fn debug_shows_no_credentials() {
        let shown = format!("{:?}", store());
        assert!(!shown.contains("wJalrXUtnFEMI") && !shown.contains("AKIDEXAMPLE"), "{shown}");
    }
}
