//! Downloading link payloads: [`fetch_with_backoff`], the shared HTTP client, and the
//! URL helpers every network-facing layer uses ([`redact`], [`host_of`]).
//!
//! The reference schedule (100 ms base, doubling, 5 000 ms cap, 5 attempts) with full
//! jitter; only transient failures are retried (connection errors, timeouts, truncated
//! bodies, 404, 408, 429 and 5xx other than 501), `Retry-After` is honoured (capped by the
//! deadline), and one overall deadline bounds everything. Bodies stream into one
//! 64-byte-aligned buffer presized from the declared length (at most 1 GiB ahead of the
//! bytes), a body longer than declared is cut off, never buffered, and redirects are
//! refused.

use std::time::Duration;

use arrow_buffer::{Buffer, MutableBuffer};
use futures::StreamExt as _;
use natsbridge_types::profile;
use reqwest::StatusCode;
use sha2::{Digest as _, Sha256};
use tracing::{Instrument as _, debug, info_span, warn};

use crate::error::{Error, ErrorCode, Result, report};
use crate::wire::hex_of;

/// The HTTP client used for uploads and downloads: rustls with the ring provider, no
/// redirects followed, 10 s connect timeout, 60 s read timeout, pooled connections.
/// One per process (building one loads the system's root certificates); clones share it.
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        install_crypto_provider();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client with static settings")
    });
    CLIENT.clone()
}

/// Makes ring rustls's process-wide provider (reqwest is built without one), unless the
/// application installed another first. The runtime calls it before building any HTTP
/// client; call it yourself before building an `object_store` client of your own from the
/// re-exported `natsbridge::blob::AmazonS3Builder` (feature `s3`; an `S3Store` needs no
/// such call).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A URL kept whole for use, shown redacted by `Debug` (for options that print).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SecretUrl(pub(crate) String);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

/// `host:port` of an `http(s)` URL (the port defaulted from the scheme), `None` for
/// anything else.
pub fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}

/// An allowed host as every runtime takes it (schema/README.md, rule 15): an `http(s)` URL
/// or origin, normalized to `host:port` (a path is ignored, the default port filled in), or
/// `*` for every host. Anything else, a bare `host:port` included, is `INVALID_ARGUMENT`.
///
/// ```
/// assert_eq!(natsbridge::fetch::allowed_host("https://files.example/x").unwrap(), "files.example:443");
/// assert!(natsbridge::fetch::allowed_host("files.example:8080").is_err());
/// ```
pub fn allowed_host(value: &str) -> Result<String> {
    if value == "*" {
        return Ok(value.to_owned());
    }
    host_of(value).ok_or_else(|| {
        let try_instead = if value.contains("://") || value.is_empty() {
            "an http:// or https:// URL such as `http://files.example:8080`".to_owned()
        } else {
            format!("`http://{value}` (or `https://{value}`)")
        };
        Error::new(
            natsbridge_types::profile::ERROR_BAD_OPTION,
            format!("the allowed host {value:?} is not a URL: write {try_instead}, or `*` for every host"),
        )
    })
}

/// How far one upload or download has come, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes moved so far.
    pub done: u64,
    /// Bytes in all, when known.
    pub total: Option<u64>,
}

/// A progress callback: called with the transfer's file name (the last URL segment) after
/// every chunk, so it must be cheap. `natsbridge send` and `receive` draw bars with it.
#[derive(Clone)]
pub struct ProgressFn(pub std::sync::Arc<ProgressCallback>);

/// What a [`ProgressFn`] calls: the file name and how far it has come.
pub type ProgressCallback = dyn Fn(&str, Progress) + Send + Sync;

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn")
    }
}

/// The last path segment of `url`, without its query: what a progress display names.
pub(crate) fn transfer_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').next().unwrap_or(path)
}

/// Retry schedule and limits for downloads.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Attempts in all (the reference's `max_retries`), at least 1.
    pub max_attempts: u32,
    /// Delay bound before the second attempt; doubles per attempt (full jitter).
    pub base_delay: Duration,
    /// Cap on any one delay computed from the backoff.
    pub max_delay: Duration,
    /// Deadline for the whole download, all attempts and delays included.
    pub deadline: Duration,
    /// Largest body accepted, whatever the payload declares.
    pub max_bytes: u64,
    /// Called as the body arrives (see [`ProgressFn`]); `None`: nothing is reported.
    pub progress: Option<ProgressFn>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_attempts: profile::FETCH_MAX_ATTEMPTS as u32,
            base_delay: Duration::from_millis(profile::FETCH_BASE_DELAY_MS),
            max_delay: Duration::from_millis(profile::FETCH_MAX_DELAY_MS),
            deadline: Duration::from_millis(profile::FETCH_DEADLINE_MS),
            max_bytes: profile::MAX_PAYLOAD_SIZE,
            progress: None,
        }
    }
}

/// The URL with user info and query removed, for logs and error messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some("REDACTED"));
            }
            u.to_string()
        }
        Err(_) => "<unparseable url>".into(),
    }
}

/// SHA-256 of a downloaded body, computed chunk by chunk while it arrived.
pub(crate) type BodyDigest = [u8; 32];

/// A downloaded body and its SHA-256 (lowercase hex), hashed as the chunks came in.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) bytes: Buffer,
    pub(crate) sha256: String,
}

enum Attempt {
    Done(Buffer, BodyDigest),
    /// A transient failure: what happened, the transport error behind it (its URL
    /// removed), and the server's `Retry-After`.
    Retry {
        reason: String,
        cause: Option<reqwest::Error>,
        retry_after: Option<Duration>,
    },
    Fail(Error),
}

/// Downloads `url` with retries. `expected_size` (the payload's declared `size`) presizes
/// the buffer, and a body of another length is an error.
pub async fn fetch_with_backoff(
    client: &reqwest::Client,
    url: &str,
    expected_size: Option<u64>,
    options: &FetchOptions,
    correlation_id: &str,
) -> Result<Buffer> {
    fetch_hashed(client, url, expected_size, options, correlation_id).await.map(|f| f.bytes)
}

/// [`fetch_with_backoff`], also returning the body's SHA-256, hashed as the chunks came in
/// (so verifying a large link costs no second pass over it).
pub(crate) async fn fetch_hashed(
    client: &reqwest::Client,
    url: &str,
    expected_size: Option<u64>,
    options: &FetchOptions,
    correlation_id: &str,
) -> Result<Fetched> {
    let shown = redact(url);
    let span = info_span!("download", correlation_id = %correlation_id, url = %shown);
    let run = async {
        if let Some(size) = expected_size.filter(|s| *s > options.max_bytes) {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("declared size {size} exceeds the download limit {}", options.max_bytes),
            ));
        }
        let started = tokio::time::Instant::now();
        let mut last = (String::new(), None);
        for attempt in 0..options.max_attempts.max(1) {
            match attempt_once(client, url, expected_size, options).await {
                Attempt::Done(buf, digest) => {
                    debug!(attempt, bytes = buf.len(), "downloaded");
                    return Ok(Fetched { bytes: buf, sha256: hex_of(&digest) });
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Retry { reason, cause, retry_after } => {
                    if attempt + 1 == options.max_attempts.max(1) {
                        last = (reason, cause);
                        break;
                    }
                    let jittered = backoff_cap(attempt, options).mul_f64(rand::random::<f64>());
                    let delay = retry_after.map_or(jittered, |ra| ra.max(jittered));
                    if started.elapsed() + delay >= options.deadline {
                        let err = Error::new(
                            profile::ERROR_DEADLINE,
                            format!(
                                "{reason}; the next attempt ({} ms away) would pass the {:?} deadline",
                                delay.as_millis(),
                                options.deadline
                            ),
                        );
                        return Err(with_cause(err, cause));
                    }
                    // reqwest's own text omits the cause ("connection refused"): log the chain.
                    let error = cause.as_ref().map(|c| report(c)).unwrap_or_default();
                    warn!(attempt, delay_ms = delay.as_millis() as u64, %reason, %error, "download failed, retrying");
                    last = (reason, cause);
                    tokio::time::sleep(delay).await;
                }
            }
        }
        let (reason, cause) = last;
        let err = Error::new(
            ErrorCode::DownloadFailed,
            format!("failed to fetch {shown} after {} attempts: {reason}", options.max_attempts.max(1)),
        );
        Err(with_cause(err, cause))
    };
    match tokio::time::timeout(options.deadline, run.instrument(span)).await {
        Ok(r) => r.map_err(|e| e.with_correlation_id(correlation_id)),
        Err(_) => Err(Error::new(
            profile::ERROR_DEADLINE,
            format!("download of {shown} did not finish within {:?}", options.deadline),
        )
        .with_correlation_id(correlation_id)),
    }
}

/// The bound of the full-jitter delay after failed attempt `attempt` (0-based):
/// `base_delay * 2^attempt`, capped at `max_delay`.
fn backoff_cap(attempt: u32, options: &FetchOptions) -> Duration {
    options.base_delay.saturating_mul(1 << attempt.min(20)).min(options.max_delay)
}

/// 404 is retried: a link can be published before its blob is visible (a late upload, an
/// eventually consistent store), and the attempts are bounded. 410 Gone is not.
fn retryable_status(status: StatusCode) -> bool {
    profile::is_retryable_status(status.as_u16())
}

/// The most a download reserves before bytes arrive. Up to this, the buffer is presized
/// from the declared length (no regrowth for tables of hundreds of megabytes); beyond it,
/// memory follows the bytes actually received, so a hostile `size` or `Content-Length`
/// cannot make the receiver allocate.
const MAX_PRESIZE: u64 = profile::FETCH_MAX_PRESIZE;

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    parse_retry_after(resp.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?)
}

/// `Retry-After` in delay-seconds form, capped at an hour (an HTTP date is ignored: the
/// backoff applies).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s.min(profile::FETCH_RETRY_AFTER_CAP_SECONDS)))
}

async fn attempt_once(
    client: &reqwest::Client,
    url: &str,
    expected: Option<u64>,
    options: &FetchOptions,
) -> Attempt {
    let resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            let reason = if e.is_timeout() { "request timed out" } else { "request failed" };
            return Attempt::Retry { reason: reason.into(), cause: Some(e.without_url()), retry_after: None };
        }
    };
    let status = resp.status();
    if status.is_redirection() {
        return Attempt::Fail(Error::new(
            ErrorCode::UrlNotAllowed,
            format!("download answered {status}: redirects are not followed"),
        ));
    }
    if !status.is_success() {
        let reason = format!("HTTP {status}");
        return if retryable_status(status) {
            Attempt::Retry { reason, cause: None, retry_after: retry_after(&resp) }
        } else {
            Attempt::Fail(Error::new(ErrorCode::DownloadFailed, reason))
        };
    }
    let limit = expected.unwrap_or(options.max_bytes).min(options.max_bytes);
    let content_length = resp.content_length();
    if let Some(len) = content_length.filter(|l| *l > limit) {
        return Attempt::Fail(Error::new(
            if expected.is_some() { ErrorCode::IntegrityMismatch } else { ErrorCode::PayloadTooLarge },
            format!("server announces {len} bytes, more than the {limit} expected"),
        ));
    }
    // A complete body of another length will not get better by asking again.
    if let (Some(len), Some(exp)) = (content_length, expected)
        && len != exp
    {
        return Attempt::Fail(Error::new(
            ErrorCode::IntegrityMismatch,
            format!("server announces {len} bytes, the payload declares {exp}"),
        ));
    }
    let capacity = expected.or(content_length).unwrap_or(0).min(limit).min(MAX_PRESIZE);
    let mut buf = MutableBuffer::with_capacity(usize::try_from(capacity).unwrap_or(0));
    let mut hasher = Sha256::new();
    let mut stream = resp.bytes_stream();
    let total = expected.or(content_length);
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return Attempt::Retry {
                    reason: format!("body cut off after {} bytes", buf.len()),
                    cause: Some(e.without_url()),
                    retry_after: None,
                };
            }
        };
        if (buf.len() + chunk.len()) as u64 > limit {
            return Attempt::Fail(Error::new(
                if expected.is_some() { ErrorCode::IntegrityMismatch } else { ErrorCode::PayloadTooLarge },
                format!("body is longer than the {limit} bytes expected"),
            ));
        }
        hasher.update(&chunk);
        buf.extend_from_slice(&chunk);
        if let Some(progress) = &options.progress {
            (progress.0)(transfer_name(url), Progress { done: buf.len() as u64, total });
        }
    }
    if let Some(len) = content_length.filter(|l| *l != buf.len() as u64) {
        return Attempt::Retry {
            reason: format!("body truncated: {} of {len} bytes", buf.len()),
            cause: None,
            retry_after: None,
        };
    }
    // A complete body of the wrong length will not get better by asking again.
    if let Some(exp) = expected.filter(|e| *e != buf.len() as u64) {
        return Attempt::Fail(Error::new(
            ErrorCode::IntegrityMismatch,
            format!("body has {} bytes, the payload declares {exp}", buf.len()),
        ));
    }
    Attempt::Done(buf.into(), hasher.finalize().into())
}

/// `err` with the transport error behind it, when there is one.
fn with_cause(err: Error, cause: Option<reqwest::Error>) -> Error {
    match cause {
        Some(cause) => err.with_source(cause),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_statuses() {
        for (status, retry) in [
            (404, true),
            (408, true),
            (429, true),
            (500, true),
            (502, true),
            (503, true),
            (504, true),
            (501, false),
            (400, false),
            (401, false),
            (403, false),
            (410, false),
            (413, false),
        ] {
            assert_eq!(retryable_status(StatusCode::from_u16(status).unwrap()), retry, "{status}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_only() {
        for (value, expected) in [
            ("3", Some(3)),
            (" 120 ", Some(120)),
            ("0", Some(0)),
            ("86400", Some(3600)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("-1", None),
            ("", None),
        ] {
            assert_eq!(parse_retry_after(value), expected.map(Duration::from_secs), "{value:?}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let options = FetchOptions::default();
        let ms: Vec<u128> = (0..7).map(|a| backoff_cap(a, &options).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000]);
        assert_eq!(backoff_cap(u32::MAX, &options), options.max_delay);
    }

    #[test]
    fn redaction_drops_credentials_and_queries() {
        for (url, expected) in [
            ("http://user:secret@files:8080/file/a/b/t.bin", "http://files:8080/file/a/b/t.bin"),
            ("https://s3.example/b/k?X-Amz-Signature=abc", "https://s3.example/b/k?REDACTED"),
            ("nats://token@127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("http://files/plain", "http://files/plain"),
            ("not a url", "<unparseable url>"),
        ] {
            assert_eq!(redact(url), expected, "{url}");
            assert!(!redact(url).contains("secret"));
        }
    }

    #[test]
    fn hosts_carry_their_port() {
        for (url, expected) in [
            ("http://localhost:8081", Some("localhost:8081")),
            ("http://files.example.com/x", Some("files.example.com:80")),
            ("https://files.example.com/x", Some("files.example.com:443")),
            ("http://127.0.0.1:9/a?b", Some("127.0.0.1:9")),
            ("localhost:8080", None),
            ("file:///tmp/x", None),
        ] {
            assert_eq!(host_of(url).as_deref(), expected, "{url}");
        }
    }
}
