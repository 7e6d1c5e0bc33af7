//! A client for Plik's upload protocol (and the embedded file server, which speaks it):
//! `POST /upload` → upload id and token; multipart `POST /file/{id}` with `X-UploadToken`
//! → file id; download at `/file/{id}/{fileId}/{name}`.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tracing::{Instrument as _, debug, info_span};

use super::{BlobStore, PutRequest, PutStream};
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::{Progress, ProgressFn, http_client, redact};
use crate::wire::new_uuid;

/// Where an upload landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlikUpload {
    /// Plik upload id.
    pub upload_id: String,
    /// Plik file id.
    pub file_id: String,
    /// Download URL: `{server}/file/{upload_id}/{file_id}/{name}`.
    pub url: String,
}

/// Upload progress granularity: the payload goes to reqwest in slices of this size.
const UPLOAD_CHUNK: usize = 256 << 10;

/// A Plik-compatible file server as a [`BlobStore`]. Its `Debug` shows neither the token
/// nor user info in the URL.
#[derive(Clone)]
pub struct PlikStore {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
    default_ttl: Option<Duration>,
    progress: Option<ProgressFn>,
    /// Where the URL came from, for messages (`from FILESERVER_URL`).
    source: Option<String>,
}

impl std::fmt::Debug for PlikStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlikStore")
            .field("base", &redact(&self.base))
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("default_ttl", &self.default_ttl)
            .finish()
    }
}

impl PlikStore {
    /// A store for the server at `base_url` (e.g. `http://localhost:8080`).
    pub fn new(base_url: impl Into<String>) -> Self {
        PlikStore {
            base: base_url.into().trim_end_matches('/').to_owned(),
            client: http_client(),
            token: None,
            source: None,
            default_ttl: None,
            progress: None,
        }
    }

    /// Sends `X-PlikToken` (Plik account token, or the embedded server's `--token`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// TTL for uploads that do not ask for one.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Reuses an HTTP client (connection pool).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

impl PlikStore {
    /// Reports upload progress to `progress` (see [`ProgressFn`]).
    pub fn progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Uploads one file: `POST /upload` (one-shot and TTL as asked, else the store's
    /// default TTL), then the multipart `POST /file/{uploadId}`.
    pub async fn upload(&self, request: PutRequest) -> Result<PlikUpload> {
        let PutRequest { name, bytes, ttl, one_shot, correlation_id } = request;
        self.upload_body(name, Body::Whole(bytes), ttl, one_shot, correlation_id).await
    }

    /// [`PlikStore::upload`] of a stream of chunks, sent as they come (chunked transfer
    /// encoding: the length is known only at the end).
    pub async fn upload_stream(&self, request: PutStream) -> Result<PlikUpload> {
        let PutStream { name, chunks, ttl, one_shot, correlation_id } = request;
        self.upload_body(name, Body::Chunks(chunks), ttl, one_shot, correlation_id).await
    }

    async fn upload_body(
        &self,
        name: String,
        bytes: Body,
        ttl: Option<Duration>,
        one_shot: bool,
        correlation_id: String,
    ) -> Result<PlikUpload> {
        let base = self.base.as_str();
        let len = match &bytes {
            Body::Whole(b) => Some(b.len() as u64),
            Body::Chunks(_) => None,
        };
        let span =
            info_span!("upload", correlation_id = %correlation_id, server = %redact(base), name, bytes = len);
        async {
            let fail = |what: &str| Error::new(ErrorCode::UploadFailed, what.to_owned());
            let mut body = json!({ "oneShot": one_shot });
            // Whole seconds, rounded up: a link may outlive its message, never the reverse.
            // Plik's -1 is "never expires".
            let asked = ttl.or(self.default_ttl);
            if let Some(asked) = asked {
                body["ttl"] = json!(plik_ttl(asked));
            }
            let created = self
                .call(
                    self.client.post(format!("{base}/upload")).json(&body),
                    "creating an upload (POST /upload)",
                )
                .await?;
            // A server that shortens the lifetime (Plik: 0 or less is "never expires") would
            // leave links that die before their messages.
            if let (Some(asked), Some(granted)) = (asked, created["ttl"].as_i64().filter(|g| *g > 0))
                && (asked == Duration::MAX || (granted as u64) < plik_ttl(asked) as u64)
            {
                return Err(fail(&format!(
                    "POST /upload: the file server granted a TTL of {granted} s, {} was asked: \
                     links would expire before their messages",
                    super::shown_ttl(asked)
                )));
            }
            let upload_id =
                created["id"].as_str().ok_or_else(|| fail("POST /upload: no `id` in the answer"))?;
            let upload_token = created["uploadToken"]
                .as_str()
                .ok_or_else(|| fail("POST /upload: no `uploadToken` in the answer"))?;

            let part = match bytes {
                Body::Whole(bytes) => {
                    let len = bytes.len() as u64;
                    let body = match &self.progress {
                        None => reqwest::Body::from(bytes),
                        // Zero-copy slices of the payload, counted as reqwest takes them.
                        Some(progress) => {
                            let (progress, name) = (progress.clone(), name.clone());
                            let chunks = (0..bytes.len()).step_by(UPLOAD_CHUNK).map(move |at| {
                                let chunk = bytes.slice(at..(at + UPLOAD_CHUNK).min(bytes.len()));
                                (progress.0)(
                                    &name,
                                    Progress { done: (at + chunk.len()) as u64, total: Some(len) },
                                );
                                Ok::<_, std::io::Error>(chunk)
                            });
                            reqwest::Body::wrap_stream(futures::stream::iter(chunks))
                        }
                    };
                    reqwest::multipart::Part::stream_with_length(body, len)
                }
                Body::Chunks(chunks) => {
                    let progress = self.progress.clone().map(|p| (p, name.clone()));
                    let mut done = 0u64;
                    let counted = chunks.inspect(move |chunk| {
                        if let (Some((progress, name)), Ok(chunk)) = (&progress, chunk) {
                            done += chunk.len() as u64;
                            (progress.0)(name, Progress { done, total: None });
                        }
                    });
                    reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(counted))
                }
            };
            let part =
                part.file_name(name.clone()).mime_str("application/octet-stream").expect("a valid mime type");
            let form = reqwest::multipart::Form::new().part("file", part);
            let request = self
                .client
                .post(format!("{base}/file/{upload_id}"))
                .header("X-UploadToken", upload_token)
                .multipart(form);
            let file = self.call(request, "sending the bytes (POST /file)").await?;
            let file_id = file["id"].as_str().ok_or_else(|| fail("POST /file: no `id` in the answer"))?;
            let url = format!("{base}/file/{upload_id}/{file_id}/{}", urlencode(&name));
            debug!(url = %redact(&url), "uploaded");
            Ok(PlikUpload { upload_id: upload_id.to_owned(), file_id: file_id.to_owned(), url })
        }
        .instrument(span)
        .await
        .map_err(|e: Error| e.with_correlation_id(&correlation_id))
    }

    /// Says where the server's URL came from in error messages (`from FILESERVER_URL`).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sends one API request (with the account token, if any) and reads its JSON answer.
    async fn call(&self, mut request: reqwest::RequestBuilder, what: &str) -> Result<Value> {
        if let Some(t) = &self.token {
            request = request.header("X-PlikToken", t);
        }
        let server = match &self.source {
            Some(source) => format!("the file server {} ({source})", redact(&self.base)),
            None => format!("the file server {}", redact(&self.base)),
        };
        let fail =
            |detail: String| Error::new(ErrorCode::UploadFailed, format!("{what} to {server}{detail}"));
        let response = request.send().await.map_err(|e| {
            let why = crate::error::root_cause(&e);
            fail(format!(
                " failed: {why}. Is a Plik-compatible file server running there? Start one with `natsbridge fileserver`, or point the `fileserver` option or FILESERVER_URL at yours"
            ))
            .with_source(e.without_url())
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| fail(String::new()).with_source(e.without_url()))?;
        if !status.is_success() {
            let snippet: String = text.chars().take(200).collect();
            let hint = match (status.as_u16(), &self.token) {
                (401 | 403, None) => {
                    ". The file server asks for a token: give it (`PlikStore::token`, `--fileserver-token` or FILESERVER_TOKEN)"
                }
                (401 | 403, Some(_)) => ". The file server refused the token given: check it",
                _ => "",
            };
            return Err(fail(format!(": HTTP {status}: {snippet}{hint}")));
        }
        serde_json::from_str(&text).map_err(|e| fail(": the answer is not JSON".into()).with_source(e))
    }
}

impl BlobStore for PlikStore {
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move { self.upload(request).await.map(|u| u.url) })
    }

    fn put_stream(&self, request: PutStream) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move { self.upload_stream(request).await.map(|u| u.url) })
    }
}

/// What an upload sends: bytes in hand, or chunks still being produced.
enum Body {
    Whole(Bytes),
    Chunks(BoxStream<'static, std::io::Result<Bytes>>),
}

/// The reference's one-shot upload: the file is deleted after its first complete download.
pub async fn plik_oneshot_upload(fileserver_url: &str, dataname: &str, data: Bytes) -> Result<PlikUpload> {
    let request = PutRequest {
        name: dataname.to_owned(),
        bytes: data,
        ttl: None,
        one_shot: true,
        correlation_id: new_uuid(),
    };
    PlikStore::new(fileserver_url).upload(request).await
}

/// A lifetime as Plik's `ttl` field: whole seconds rounded up, -1 for ever.
fn plik_ttl(ttl: Duration) -> i64 {
    if ttl == Duration::MAX {
        -1
    } else {
        i64::try_from(ttl.as_millis().div_ceil(1000).max(1)).unwrap_or(i64::MAX)
    }
}

/// Percent-encodes a file name for a URL path segment.
fn urlencode(name: &str) -> String {
    let mut u = url::Url::parse("http://x/").expect("static URL");
    u.path_segments_mut().expect("http URL").push(name);
    u.path().trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_one_path_segment() {
        for (name, expected) in
            [("t.bin", "t.bin"), ("a b.json", "a%20b.json"), ("../x", "..%2Fx"), ("q?x#y", "q%3Fx%23y")]
        {
            assert_eq!(urlencode(name), expected, "{name}");
        }
    }
}
