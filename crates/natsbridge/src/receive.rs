//! `smartreceive`: parse and check an envelope, fetch link payloads, verify size and
//! sha256, and decode every payload to its typed value.

use std::path::Path;

use arrow_buffer::Buffer;
use async_nats::HeaderMap;
use natsbridge_types::{MsgEnvelopeV1, MsgPayloadV1, PayloadType, Transport, profile};
use tracing::{Instrument as _, debug, info_span};

use crate::blob::nats_os;
use crate::codec;
use crate::error::{Error, ErrorCode, Result, ResultExt as _};
use crate::fetch::{fetch_hashed, host_of, redact};
use crate::json;
use crate::options::ReceiveOptions;
use crate::payload::Payload;
use crate::wire::{HEADER_CORRELATION_ID, sha256_hex};

/// A received envelope with its payloads decoded.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope as it arrived (link payloads still hold their URLs).
    pub envelope: MsgEnvelopeV1,
    /// The payloads, decoded, in envelope order.
    pub payloads: Vec<ReceivedPayload>,
    /// The NATS headers of the message, when it had any.
    pub headers: Option<HeaderMap>,
}

impl Received {
    /// The correlation id.
    pub fn correlation_id(&self) -> &str {
        self.envelope.correlation_id.as_str()
    }

    /// The first payload named `dataname`.
    pub fn payload(&self, dataname: &str) -> Option<&ReceivedPayload> {
        self.payloads.iter().find(|p| p.dataname == dataname)
    }

    /// A header value, when present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.as_ref()?.get(name).map(|v| v.as_str())
    }
}

/// One decoded payload: `(dataname, data, payload_type)` plus how it travelled.
#[derive(Debug, Clone)]
pub struct ReceivedPayload {
    /// The sender's name for it.
    pub dataname: String,
    /// The wire type.
    pub payload_type: PayloadType,
    /// `direct` or `link`.
    pub transport: Transport,
    /// The decoded value.
    pub data: Payload,
    bytes: Buffer,
}

impl ReceivedPayload {
    /// The serialized bytes as carried (after base64 decoding or download). For link
    /// Arrow tables, the table's columns point into these bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// SHA-256 (hex) of [`Self::bytes`].
    pub fn sha256(&self) -> String {
        sha256_hex(self.bytes.as_slice())
    }
}

/// Decodes a NATS message carrying a `msg_envelope_v1`.
pub async fn smartreceive(msg: &async_nats::Message, options: &ReceiveOptions) -> Result<Received> {
    smartreceive_bytes(&msg.payload, msg.headers.clone(), options).await
}

/// Decodes envelope JSON received by any means.
pub async fn smartreceive_bytes(
    body: &[u8],
    headers: Option<HeaderMap>,
    options: &ReceiveOptions,
) -> Result<Received> {
    let cid_hint = headers.as_ref().and_then(|h| h.get(HEADER_CORRELATION_ID).map(|v| v.as_str().to_owned()));
    options.check()?;
    if body.len() > options.max_envelope_bytes {
        let err = Error::new(
            profile::ERROR_ENVELOPE_TOO_LARGE,
            format!("envelope of {} bytes exceeds the limit {}", body.len(), options.max_envelope_bytes),
        );
        return Err(match cid_hint {
            Some(c) => err.with_correlation_id(c),
            None => err,
        });
    }
    let envelope: MsgEnvelopeV1 = {
        let _s = info_span!(
            "receive",
            correlation_id = cid_hint.as_deref().unwrap_or_default(),
            bytes = body.len()
        )
        .entered();
        let with_cid = |err: Error| match loose_correlation_id(body).or(cid_hint.clone()) {
            Some(c) => err.with_correlation_id(c),
            None => err,
        };
        json::from_slice(body).map_err(|refused| {
            with_cid(match refused {
                json::Refused::NotStrict(why) => Error::new(
                    profile::ERROR_NOT_JSON,
                    format!("not a valid msg_envelope_v1: not strict JSON: {why}"),
                ),
                json::Refused::Typed(e) => {
                    Error::new(profile::ERROR_NOT_ENVELOPE, "not a valid msg_envelope_v1").with_source(e)
                }
            })
        })?
    };
    let cid = envelope.correlation_id.as_str().to_owned();
    let span = info_span!("smartreceive", correlation_id = %cid, subject = %envelope.send_to, payloads = envelope.payloads.len());
    let cid_ref = &cid;
    async move {
        if envelope.payloads.len() > options.max_payloads {
            return Err(Error::new(
                profile::ERROR_ENVELOPE_TOO_LARGE,
                format!("{} payloads, more than the limit {}", envelope.payloads.len(), options.max_payloads),
            ));
        }
        let mut payloads = Vec::with_capacity(envelope.payloads.len());
        for p in &envelope.payloads {
            payloads.push(receive_payload(p, options, cid_ref).await.payload(&p.dataname)?);
        }
        Ok(Received { envelope, payloads, headers })
    }
    .instrument(span)
    .await
    .correlation(&cid)
}

/// Best effort: the correlation id of something that failed to parse as an envelope.
fn loose_correlation_id(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("correlation_id")?.as_str().map(|s| s.chars().take(100).collect())
}

async fn receive_payload(p: &MsgPayloadV1, options: &ReceiveOptions, cid: &str) -> Result<ReceivedPayload> {
    if !p.payload_type.is_known() {
        return Err(Error::new(
            profile::ERROR_UNKNOWN_PAYLOAD_TYPE,
            format!("unknown payload_type `{}`", p.payload_type),
        ));
    }
    if p.size > options.fetch.max_bytes {
        return Err(Error::new(
            profile::ERROR_PAYLOAD_TOO_LARGE,
            format!("declared size {} exceeds the limit {}", p.size, options.fetch.max_bytes),
        ));
    }
    let (bytes, sha256) = match &p.transport {
        Transport::Direct => {
            if p.data.len() as u64 != codec::encoded_len(p.size as usize) as u64 {
                return Err(Error::new(
                    ErrorCode::IntegrityMismatch,
                    format!("`size` is {} but `data` holds {} base64 characters", p.size, p.data.len()),
                ));
            }
            let buf = codec::decode(&p.data)?;
            if buf.len() as u64 != p.size {
                return Err(Error::new(
                    ErrorCode::IntegrityMismatch,
                    format!("`size` is {} but `data` decodes to {} bytes", p.size, buf.len()),
                ));
            }
            (buf, None)
        }
        Transport::Link => download(&p.data, p.size, options, cid).await?,
        Transport::Unknown(t) => {
            return Err(Error::new(ErrorCode::InvalidTransport, format!("unknown transport `{t}`")));
        }
    };
    let declared = p.metadata.as_ref().and_then(|m| m.get("sha256")).and_then(|v| v.as_str());
    if let Some(expected) = declared.filter(|_| options.verify_sha256) {
        let actual = sha256.unwrap_or_else(|| sha256_hex(bytes.as_slice()));
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::new(
                ErrorCode::IntegrityMismatch,
                format!("sha256 of the bytes is {actual}, the payload declares {expected}"),
            ));
        }
    }
    let data = {
        let _s =
            info_span!("deserialize", correlation_id = %cid, dataname = %p.dataname, bytes = bytes.len())
                .entered();
        Payload::from_bytes(&p.payload_type, bytes.clone(), options.table_limits)?
    };
    debug!(dataname = %p.dataname, transport = %p.transport, bytes = bytes.len(), "decoded");
    Ok(ReceivedPayload {
        dataname: p.dataname.clone(),
        payload_type: p.payload_type.clone(),
        transport: p.transport.clone(),
        data,
        bytes,
    })
}

/// Whether an http(s) link may be downloaded: its `host:port` (the port defaulted from the
/// scheme) or its bare host is allowed, or everything is (`*`).
fn host_allowed(url: &url::Url, allowed: &[String]) -> bool {
    let Some(host) = url.host_str() else { return false };
    let with_port = format!("{host}:{}", url.port_or_known_default().unwrap_or(0));
    allowed.iter().any(|a| a == "*" || *a == with_port)
}

/// The bytes behind a link, and their SHA-256 (hex) when it was computed on the way in.
async fn download(
    link: &str,
    size: u64,
    options: &ReceiveOptions,
    cid: &str,
) -> Result<(Buffer, Option<String>)> {
    let url = url::Url::parse(link).map_err(|e| {
        Error::new(ErrorCode::UrlNotAllowed, "link payload `data` is not a URL").with_source(e)
    })?;
    match url.scheme() {
        "http" | "https" => {
            if !host_allowed(&url, &options.allowed_hosts) {
                return Err(Error::new(
                    ErrorCode::UrlNotAllowed,
                    format!(
                        "links to {} are not allowed (allowed: {})",
                        host_of(link).unwrap_or_default(),
                        options.allowed_hosts.join(", ")
                    ),
                ));
            }
            let fetched = fetch_hashed(&options.http, link, Some(size), &options.fetch, cid).await?;
            Ok((fetched.bytes, Some(fetched.sha256)))
        }
        "file" => {
            let path = url
                .to_file_path()
                .map_err(|()| Error::new(ErrorCode::UrlNotAllowed, "not a local file URL"))?;
            Ok((read_allowed_file(&path, size, options).await?, None))
        }
        nats_os::SCHEME => {
            let js = options.jetstream.as_ref().ok_or_else(|| {
                Error::new(ErrorCode::UrlNotAllowed, "nats-os:// links need `ReceiveOptions::jetstream`")
            })?;
            let bucket = url.host_str().unwrap_or_default();
            let name = url.path().trim_start_matches('/');
            let span = info_span!("download", correlation_id = %cid, url = %redact(link));
            Ok((nats_os::fetch(js, bucket, name, size).instrument(span).await?, None))
        }
        other => Err(Error::new(
            ErrorCode::UrlNotAllowed,
            format!("`{other}` links are not supported: {}", redact(link)),
        )),
    }
}

async fn read_allowed_file(path: &Path, size: u64, options: &ReceiveOptions) -> Result<Buffer> {
    let outside = || {
        Error::new(ErrorCode::UrlNotAllowed, format!("{} is outside the allowed directories", path.display()))
    };
    // Nothing touches the filesystem for a path no allowed directory could contain, so a
    // sender cannot probe which files exist.
    let plausible = !path.components().any(|c| c == std::path::Component::ParentDir)
        && options
            .allowed_dirs
            .iter()
            .any(|d| path.starts_with(d) || d.canonicalize().is_ok_and(|d| path.starts_with(d)));
    if !plausible {
        return Err(outside());
    }
    let canonical = tokio::fs::canonicalize(path)
        .await
        .map_err(|e| Error::new(ErrorCode::DownloadFailed, format!("{}", path.display())).with_source(e))?;
    let allowed =
        options.allowed_dirs.iter().filter_map(|d| d.canonicalize().ok()).any(|d| canonical.starts_with(&d));
    if !allowed {
        return Err(outside());
    }
    let unreadable = |e| Error::new(ErrorCode::DownloadFailed, "reading a file link").with_source(e);
    let meta = tokio::fs::metadata(&canonical).await.map_err(unreadable)?;
    if meta.len() != size {
        return Err(Error::new(
            ErrorCode::IntegrityMismatch,
            format!("file has {} bytes, the payload declares {size}", meta.len()),
        ));
    }
    // Straight into the aligned buffer the table will alias: no intermediate Vec.
    let len =
        usize::try_from(size).map_err(|_| Error::new(ErrorCode::PayloadTooLarge, "size does not fit"))?;
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Buffer> {
        use std::io::Read as _;
        let mut file = std::fs::File::open(&canonical)?;
        let mut buf = arrow_buffer::MutableBuffer::from_len_zeroed(len);
        file.read_exact(buf.as_slice_mut())?;
        Ok(buf.into())
    });
    read.await
        .map_err(|e| Error::new(ErrorCode::DownloadFailed, "reading a file link").with_source(e))?
        .map_err(unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_match_host_and_port() {
        let allowed = |list: &[&str], link: &str| {
            let list: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
            host_allowed(&url::Url::parse(link).unwrap(), &list)
        };
        assert!(allowed(&["files:8080"], "http://files:8080/file/a/b/c"));
        assert!(!allowed(&["files:8080"], "http://files:8081/file/a/b/c"));
        assert!(allowed(&["files.example.com:443"], "https://files.example.com/x"));
        assert!(!allowed(&["files.example.com:443"], "http://files.example.com/x"));
        assert!(!allowed(&["files"], "http://files:9999/x"), "a host is compared with its port");
        assert!(!allowed(&["files"], "http://files.evil/x"));
        assert!(!allowed(&["files:8080"], "http://files:8080@evil:8080/x"));
        assert!(allowed(&["*"], "http://anything/x"));
        assert!(!allowed(&[], "http://localhost/x"));
    }

    #[test]
    fn correlation_ids_are_recovered_from_broken_envelopes() {
        for (body, expected) in [
            (r#"{"correlation_id":"c-1","payloads":7}"#.to_owned(), Some("c-1".to_owned())),
            (r#"{"payloads":[]}"#.to_owned(), None),
            ("not json".to_owned(), None),
            (format!(r#"{{"correlation_id":"{}"}}"#, "x".repeat(500)), Some("x".repeat(100))),
        ] {
            assert_eq!(loose_correlation_id(body.as_bytes()), expected, "{body}");
        }
    }
}
