//! `smartsend`: serialize every payload, choose direct or link per payload so the whole
//! message fits the server's `max_payload`, upload the links, publish the envelope.

use std::sync::Arc;

use async_nats::HeaderMap;
use bytes::Bytes;
use natsbridge_types::{Encoding, MsgEnvelopeV1, MsgPayloadV1, Transport};
use sha2::{Digest, Sha256};
use tracing::{Instrument as _, debug, info, info_span};

use crate::blob::{BlobStore, PlikStore, PutRequest};
use crate::codec;
use crate::error::{Error, ErrorCode, Result, ResultExt as _};
use crate::nats::{client_for, publish_envelope, publish_jetstream};
use crate::options::{SendOptions, fileserver_url_from_env};
use crate::payload::Payload;

/// NATS header carrying the envelope's `msg_id` (JetStream de-duplication).
pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
/// NATS header carrying the envelope's `correlation_id`.
pub const HEADER_CORRELATION_ID: &str = "Correlation-Id";

/// NATS's default `max_payload`, used when no connection tells otherwise.
const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

struct Prepared {
    dataname: String,
    payload: Payload,
    bytes: Bytes,
    link: bool,
    id: natsbridge_types::Uuid,
    /// Hex SHA-256 of `bytes`; for links it is computed while the upload runs.
    sha256: Option<String>,
}

/// A random (v4) UUID from the thread-local generator: no system call per id.
fn new_uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string()
}

fn checked_uuid(value: Option<&String>, field: &str) -> Result<natsbridge_types::Uuid> {
    let text = value.cloned().unwrap_or_else(new_uuid);
    natsbridge_types::Uuid::new(text).map_err(|e| {
        Error::new(ErrorCode::InvalidEnvelope, format!("`{field}` must be a UUID")).with_source(e)
    })
}

/// Packs `payloads` into one `msg_envelope_v1` and publishes it on `subject`.
///
/// Returns the envelope and its JSON text (the bytes that were published). Payloads
/// whose serialized size reaches `size_threshold` go by link; if the direct ones would
/// still overflow the server's `max_payload` (base64 grows data by 4/3, headers count
/// too), the largest are moved to link until the message fits.
pub async fn smartsend<S: Into<String>>(
    subject: &str,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: &SendOptions,
) -> Result<(MsgEnvelopeV1, String)> {
    smartsend_acked(subject, payloads, options).await.map(|(e, j, _)| (e, j))
}

/// `smartsend`, also returning the stream sequence when published through JetStream.
pub(crate) async fn smartsend_acked<S: Into<String>>(
    subject: &str,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: &SendOptions,
) -> Result<(MsgEnvelopeV1, String, Option<u64>)> {
    let correlation_id = checked_uuid(options.correlation_id.as_ref(), "correlation_id")?;
    let cid = correlation_id.as_str().to_owned();
    let span = info_span!("smartsend", correlation_id = %cid, subject);
    smartsend_inner(
        subject,
        payloads.into_iter().map(|(n, p)| (n.into(), p)).collect(),
        options,
        correlation_id,
    )
    .instrument(span)
    .await
    .correlation(&cid)
}

async fn smartsend_inner(
    subject: &str,
    payloads: Vec<(String, Payload)>,
    options: &SendOptions,
    correlation_id: natsbridge_types::Uuid,
) -> Result<(MsgEnvelopeV1, String, Option<u64>)> {
    let cid = correlation_id.as_str().to_owned();
    let send_to = natsbridge_types::NonEmptyString::new(subject).map_err(|e| {
        Error::new(ErrorCode::InvalidEnvelope, "the subject must not be empty").with_source(e)
    })?;
    let sender_name = natsbridge_types::NonEmptyString::new(options.sender_name.clone()).map_err(|e| {
        Error::new(ErrorCode::InvalidEnvelope, "`sender_name` must not be empty").with_source(e)
    })?;

    // 1. Serialize.
    let mut prepared = Vec::with_capacity(payloads.len());
    for (dataname, payload) in payloads {
        let bytes = {
            let _s = info_span!("serialize", correlation_id = %cid, dataname = %dataname).entered();
            payload.to_bytes().payload(&dataname)?
        };
        let link = bytes.len() >= options.size_threshold;
        debug!(dataname = %dataname, bytes = bytes.len(), link, "serialized");
        let sha256 = (!link).then(|| sha256_hex(&bytes));
        prepared.push(Prepared { dataname, payload, bytes, link, id: checked_uuid(None, "id")?, sha256 });
    }

    // 2. Connect (to learn max_payload) when publishing.
    let client = match (&options.jetstream, options.publish) {
        (Some(js), true) => Some(js.client()),
        (None, true) => Some(client_for(options.connection.as_ref()).await?),
        (_, false) => None,
    };
    let max_payload = client
        .as_ref()
        .map(|c| c.server_info().max_payload)
        .filter(|m| *m > 0)
        .or(options.max_payload)
        .unwrap_or(DEFAULT_MAX_PAYLOAD);

    let msg_id = checked_uuid(options.msg_id.as_ref(), "msg_id")?;
    let headers = build_headers(&msg_id, &cid, &options.headers);
    let header_bytes = header_len(&headers);

    let mut envelope = MsgEnvelopeV1 {
        correlation_id,
        msg_id,
        timestamp: now_timestamp(),
        send_to,
        msg_purpose: options.msg_purpose.clone(),
        sender_name,
        sender_id: options.sender_id.clone(),
        receiver_name: options.receiver_name.clone(),
        receiver_id: options.receiver_id.clone(),
        reply_to: options.reply_to.clone(),
        reply_to_msg_id: options.reply_to_msg_id.clone(),
        broker_url: Some(match &options.connection {
            Some(crate::options::Connection::Url(u)) => u.clone(),
            _ => crate::options::nats_url_from_env(),
        }),
        metadata: Some(options.metadata.clone()),
        payloads: Vec::new(),
        extra: Default::default(),
    };

    // 3. Fit the budget: move the largest direct payloads to link until the message fits.
    loop {
        envelope.payloads = prepared.iter().map(|p| wire_payload(p, String::new())).collect();
        let skeleton = serde_json::to_vec(&envelope).map_err(json_err)?.len();
        let inline: usize =
            prepared.iter().filter(|p| !p.link).map(|p| codec::encoded_len(p.bytes.len())).sum();
        let total = skeleton + inline + header_bytes;
        if total <= max_payload {
            break;
        }
        let Some(largest) = prepared.iter_mut().filter(|p| !p.link).max_by_key(|p| p.bytes.len()) else {
            return Err(Error::new(
                ErrorCode::PayloadTooLarge,
                format!("the envelope alone is {total} bytes, over the server's max_payload {max_payload}"),
            ));
        };
        debug!(dataname = %largest.dataname, total, max_payload, "moving payload to link to fit max_payload");
        largest.link = true;
    }

    // 4. Upload links, inline the rest.
    let needs_store = prepared.iter().any(|p| p.link);
    let store: Option<Arc<dyn BlobStore>> = match (&options.blob_store, needs_store) {
        (Some(s), _) => Some(s.clone()),
        (None, true) => Some(Arc::new(PlikStore::new(fileserver_url_from_env()))),
        (None, false) => None,
    };
    let mut wire = Vec::with_capacity(prepared.len());
    let mut inline = Vec::new();
    let nonce = new_uuid();
    for (i, p) in prepared.iter_mut().enumerate() {
        let data = if p.link {
            let store = store.as_ref().expect("a store exists when a payload is a link");
            let name = format!("{}.{}", sanitize(&p.dataname), p.payload.extension());
            // Hash on another thread while the bytes upload: one pass less on the critical path.
            let hashing = p.sha256.is_none().then(|| {
                let bytes = p.bytes.clone();
                tokio::task::spawn_blocking(move || sha256_hex(&bytes))
            });
            let url = store
                .put(PutRequest {
                    name,
                    bytes: p.bytes.clone(),
                    ttl: options.link_ttl,
                    one_shot: options.one_shot,
                    correlation_id: cid.clone(),
                })
                .await
                .payload(&p.dataname)?;
            if let Some(hashing) = hashing {
                p.sha256 = Some(hashing.await.map_err(|e| {
                    Error::new(ErrorCode::SerializationError, "hashing the payload").with_source(e)
                })?);
            }
            url
        } else {
            p.sha256.get_or_insert_with(|| sha256_hex(&p.bytes));
            inline.push((i, codec::encode(&p.bytes)));
            placeholder(&nonce, i)
        };
        wire.push(wire_payload(p, data));
    }
    envelope.payloads = wire;
    let json = to_json_spliced(&mut envelope, inline, &nonce)?;

    // 5. Publish.
    let mut sequence = None;
    if let Some(client) = &client {
        let body = Bytes::from(json.clone());
        match &options.jetstream {
            Some(js) => sequence = Some(publish_jetstream(js, subject, headers, body, &cid).await?),
            None => publish_envelope(client, subject, headers, body, options.flush, &cid).await?,
        }
        info!(bytes = json.len(), payloads = envelope.payloads.len(), "published");
    }
    Ok((envelope, json, sequence))
}

fn placeholder(nonce: &str, index: usize) -> String {
    format!("natsbridge-inline-{nonce}-{index}")
}

/// Serializes the envelope with each direct payload's base64 text copied in rather than
/// escaped: base64 has nothing to escape, and serde_json's escaping scan is the slowest
/// step of serializing a large direct payload. The payloads hold placeholders (with a
/// per-call random nonce) while the skeleton is serialized, and their text afterwards.
fn to_json_spliced(
    envelope: &mut MsgEnvelopeV1,
    inline: Vec<(usize, String)>,
    nonce: &str,
) -> Result<String> {
    let skeleton = serde_json::to_string(&*envelope).map_err(json_err)?;
    let mut out = String::with_capacity(skeleton.len() + inline.iter().map(|(_, t)| t.len()).sum::<usize>());
    let mut rest = skeleton.as_str();
    for (i, text) in &inline {
        let token = format!("\"{}\"", placeholder(nonce, *i));
        let at = rest.find(&token).ok_or_else(|| {
            Error::new(ErrorCode::SerializationError, "an inline payload's placeholder went missing")
        })?;
        out.push_str(&rest[..at]);
        out.push('"');
        out.push_str(text);
        out.push('"');
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    for (i, text) in inline {
        envelope.payloads[i].data = text;
    }
    Ok(out)
}

fn wire_payload(p: &Prepared, data: String) -> MsgPayloadV1 {
    let mut metadata = natsbridge_types::Metadata::new();
    // Before hashing is done (sizing the envelope), a stand-in of the same length.
    let sha256 = p.sha256.clone().unwrap_or_else(|| "0".repeat(64));
    metadata.insert("sha256".into(), sha256.into());
    MsgPayloadV1 {
        id: p.id.clone(),
        dataname: p.dataname.clone(),
        payload_type: p.payload.payload_type(),
        transport: if p.link { Transport::Link } else { Transport::Direct },
        encoding: if p.link { Encoding::None } else { Encoding::Base64 },
        size: p.bytes.len() as u64,
        data,
        metadata: Some(metadata),
        extra: Default::default(),
    }
}

fn json_err(e: serde_json::Error) -> Error {
    Error::new(ErrorCode::SerializationError, "serializing the envelope").with_source(e)
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .take(100)
        .collect();
    if s.is_empty() { "payload".into() } else { s }
}

/// Lowercase hex SHA-256 (`hex::encode`'s iterator is slow on the small-message path).
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let mut text = [0u8; 64];
    hex::encode_to_slice(Sha256::digest(bytes), &mut text).expect("64 hex digits for 32 bytes");
    String::from_utf8_lossy(&text).into_owned()
}

pub(crate) fn now_timestamp() -> natsbridge_types::Timestamp {
    let text = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    natsbridge_types::Timestamp::new(text).expect("chrono formats a valid timestamp")
}

pub(crate) fn build_headers(
    msg_id: &natsbridge_types::Uuid,
    cid: &str,
    extra: &[(String, String)],
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_MSG_ID, msg_id.as_str());
    headers.insert(HEADER_CORRELATION_ID, cid);
    for (k, v) in extra {
        headers.insert(k.as_str(), v.as_str());
    }
    headers
}

/// Bytes the headers take on the wire (`NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`).
fn header_len(headers: &HeaderMap) -> usize {
    let mut n = "NATS/1.0\r\n\r\n".len();
    for (name, values) in headers.iter() {
        for v in values {
            n += name.to_string().len() + 2 + v.as_str().len() + 2;
        }
    }
    n
}
