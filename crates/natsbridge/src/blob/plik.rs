//! A client for Plik's upload protocol (and the embedded file server, which speaks it):
//! `POST /upload` → upload id and token; multipart `POST /file/{id}` with `X-UploadToken`
//! → file id; download at `/file/{id}/{fileId}/{name}`.

use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tracing::{Instrument as _, debug, info_span};

use super::{BlobStore, PutRequest};
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::redact;

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

/// A Plik-compatible file server as a [`BlobStore`].
#[derive(Debug, Clone)]
pub struct PlikStore {
    base: String,
    client: reqwest::Client,
    token: Option<String>,
    default_ttl: Option<Duration>,
}

impl PlikStore {
    /// A store for the server at `base_url` (e.g. `http://localhost:8080`).
    pub fn new(base_url: impl Into<String>) -> Self {
        PlikStore {
            base: base_url.into().trim_end_matches('/').to_owned(),
            client: crate::http_client(),
            token: None,
            default_ttl: None,
        }
    }

    /// Sends `X-PlikToken` (Plik account token, or the embedded server's `--token`).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// TTL for uploads that do not ask for one.
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = Some(ttl);
        self
    }

    /// Reuses an HTTP client (connection pool).
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.client = client;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }
}

impl BlobStore for PlikStore {
    fn put(&self, request: PutRequest) -> BoxFuture<'_, Result<String>> {
        Box::pin(async move {
            let ttl = request.ttl.or(self.default_ttl);
            plik_upload(
                &self.client,
                &self.base,
                self.token.as_deref(),
                &request.name,
                request.bytes,
                request.one_shot,
                ttl,
                &request.correlation_id,
            )
            .await
            .map(|u| u.url)
        })
    }
}

/// The reference's one-shot upload: the file is deleted after its first download.
pub async fn plik_oneshot_upload(fileserver_url: &str, dataname: &str, data: Bytes) -> Result<PlikUpload> {
    let id = uuid::Uuid::new_v4().to_string();
    plik_upload(&crate::http_client(), fileserver_url, None, dataname, data, true, None, &id).await
}

/// Uploads one file to a Plik-compatible server.
#[allow(clippy::too_many_arguments)]
pub async fn plik_upload(
    client: &reqwest::Client,
    fileserver_url: &str,
    token: Option<&str>,
    name: &str,
    data: Bytes,
    one_shot: bool,
    ttl: Option<Duration>,
    correlation_id: &str,
) -> Result<PlikUpload> {
    let base = fileserver_url.trim_end_matches('/');
    let span = info_span!("upload", correlation_id = %correlation_id, server = %redact(base), name, bytes = data.len());
    async move {
        let fail = |msg: String| Error::new(ErrorCode::UploadFailed, msg).with_correlation_id(correlation_id);
        let mut body = json!({ "oneShot": one_shot });
        if let Some(ttl) = ttl {
            body["ttl"] = json!(ttl.as_secs().max(1));
        }
        let mut req = client.post(format!("{base}/upload")).json(&body);
        if let Some(t) = token {
            req = req.header("X-PlikToken", t);
        }
        let created: Value = check(req.send().await, "POST /upload").await.map_err(&fail)?;
        let upload_id =
            created["id"].as_str().ok_or_else(|| fail("POST /upload: no `id` in the answer".into()))?;
        let upload_token = created["uploadToken"]
            .as_str()
            .ok_or_else(|| fail("POST /upload: no `uploadToken` in the answer".into()))?;

        let len = data.len() as u64;
        let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::from(data), len)
            .file_name(name.to_owned())
            .mime_str("application/octet-stream")
            .expect("a valid mime type");
        let form = reqwest::multipart::Form::new().part("file", part);
        let mut req = client
            .post(format!("{base}/file/{upload_id}"))
            .header("X-UploadToken", upload_token)
            .multipart(form);
        if let Some(t) = token {
            req = req.header("X-PlikToken", t);
        }
        let file: Value = check(req.send().await, "POST /file").await.map_err(&fail)?;
        let file_id = file["id"].as_str().ok_or_else(|| fail("POST /file: no `id` in the answer".into()))?;
        let url = format!("{base}/file/{upload_id}/{file_id}/{}", urlencode(name));
        debug!(url = %redact(&url), "uploaded");
        Ok(PlikUpload { upload_id: upload_id.to_owned(), file_id: file_id.to_owned(), url })
    }
    .instrument(span)
    .await
}

async fn check(resp: reqwest::Result<reqwest::Response>, what: &str) -> std::result::Result<Value, String> {
    let resp = resp.map_err(|e| format!("{what}: {}", e.without_url()))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{what}: {}", e.without_url()))?;
    if !status.is_success() {
        let snippet: String = text.chars().take(200).collect();
        return Err(format!("{what}: HTTP {status}: {snippet}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{what}: answer is not JSON: {e}"))
}

/// Percent-encodes a file name for a URL path segment.
fn urlencode(name: &str) -> String {
    let mut u = url::Url::parse("http://x/").expect("static URL");
    u.path_segments_mut().expect("http URL").push(name);
    u.path().trim_start_matches('/').to_owned()
}
