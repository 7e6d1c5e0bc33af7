//! `smartsend`: serialize every payload, choose direct or link per payload so the whole
//! message fits the server's `max_payload`, upload the links, publish the envelope.

use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge_types::{Encoding, MsgEnvelopeV1, MsgPayloadV1, MsgPurpose, Transport, profile};
use tracing::{Instrument as _, debug, info, info_span};

use crate::blob::{PutRequest, PutStream};
use crate::codec;
use crate::error::{Error, ErrorCode, Result, ResultExt as _};
use crate::options::SendOptions;
use crate::payload::Payload;
use crate::table::Table;
use crate::transport::{Connection, publish_envelope, publish_jetstream, publish_target};
use crate::wire::{
    build_headers, checked_uuid, file_name, header_len, hex_of, new_uuid, now_timestamp, sha256_hex,
};
use sha2::{Digest as _, Sha256};

/// NATS's default `max_payload`, used when no connection tells otherwise.
const DEFAULT_MAX_PAYLOAD: usize = profile::DEFAULT_MAX_PAYLOAD as usize;

/// What [`smartsend`] sent.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The envelope, with every direct payload's base64 and every link's URL in `data`.
    pub envelope: MsgEnvelopeV1,
    /// The envelope's JSON text: the bytes that were (or, without publishing, would be)
    /// published.
    pub json: String,
    /// The stream sequence, when published through JetStream.
    pub stream_sequence: Option<u64>,
}

struct Prepared {
    dataname: String,
    payload: Payload,
    /// The serialized payload (empty while it is still being written: `stream`).
    bytes: Bytes,
    /// Its length; for a streamed table, known once the upload is done.
    size: u64,
    link: bool,
    id: natsbridge_types::Uuid,
    /// Hex SHA-256 of `bytes`; for links it is computed while the upload runs.
    sha256: Option<String>,
    /// An Arrow table over the threshold, still being encoded: it uploads as it is written.
    stream: Option<TableStream>,
}

/// Chunks of a table's IPC encoding in flight between the encoder and the upload: memory
/// for these plus one slice of the table, instead of the whole encoding.
const STREAM_CHANNEL: usize = 8;

/// An Arrow table whose encoding reached the threshold: the chunks read so far, the rest
/// still being written on a blocking thread, and the size and SHA-256 it reports at the end.
struct TableStream {
    head: Vec<Bytes>,
    rest: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    done: tokio::sync::oneshot::Receiver<(u64, String)>,
}

/// A table's encoding: whole, with its SHA-256, or still being written.
enum Encoded {
    Whole(Bytes, String),
    Streaming(TableStream),
}

/// Encodes `table` on a blocking thread, hashing as it goes. A table whose encoding stays
/// under `threshold` comes back whole with the encoder's hash (it may go inline); a larger
/// one comes back as a [`TableStream`], so the upload starts while the rest is being
/// written.
async fn encode_table(table: &Table, threshold: usize) -> Result<Encoded> {
    let (tx, mut rest) = tokio::sync::mpsc::channel(STREAM_CHANNEL);
    let (done_tx, done) = tokio::sync::oneshot::channel();
    let table = table.clone();
    tokio::task::spawn_blocking(move || {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let written = crate::table::encode_table_chunks(&table, |chunk| {
            hasher.update(&chunk);
            size += chunk.len() as u64;
            tx.blocking_send(Ok(chunk)).is_ok()
        });
        match written {
            Ok(true) => {
                let _ = done_tx.send((size, hex_of(&hasher.finalize().into())));
            }
            // The reader went away (its upload failed): nothing more to do.
            Ok(false) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(std::io::Error::other(e)));
            }
        }
    });
    let mut head = Vec::new();
    let mut got = 0;
    while got < threshold {
        match rest.recv().await {
            Some(Ok(chunk)) => {
                got += chunk.len();
                head.push(chunk);
            }
            Some(Err(e)) => {
                return Err(
                    Error::new(ErrorCode::SerializationError, "writing the Arrow IPC stream").with_source(e)
                );
            }
            // Written in full below the threshold, if the encoder says so: a channel closed
            // by an encoder that died would otherwise pass for a short table.
            None => {
                return match done.await {
                    Ok((size, sha256)) if size == got as u64 => {
                        Ok(Encoded::Whole(Bytes::from(head.concat()), sha256))
                    }
                    _ => Err(Error::new(
                        ErrorCode::SerializationError,
                        "the Arrow IPC writer stopped before the end of the table",
                    )),
                };
            }
        }
    }
    Ok(Encoded::Streaming(TableStream { head, rest, done }))
}

/// Packs `payloads` into one `msg_envelope_v1` and publishes it on `subject`.
///
/// Arrow tables are encoded on Tokio's blocking pool (so this needs a Tokio runtime, as
/// async-nats does); one whose encoding reaches `size_threshold` uploads while it is being
/// written, with batches over 8 MiB sent as slices.
///
/// Returns [`Sent`]: the envelope and its JSON text (the bytes that were published). Payloads
/// whose serialized size reaches `size_threshold` go by link; if the direct ones would
/// still overflow the server's `max_payload` (base64 grows data by 4/3, headers count
/// too), the largest are moved to link until the message fits.
pub async fn smartsend<S: Into<String>>(
    subject: &str,
    payloads: impl IntoIterator<Item = (S, Payload)>,
    options: &SendOptions,
) -> Result<Sent> {
    let correlation_id = checked_uuid(options.correlation_id.as_deref(), "correlation_id")?;
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
) -> Result<Sent> {
    let cid = correlation_id.as_str().to_owned();
    // Writers are strict (schema/README.md, rule 12): the generated types hold the ids, the
    // timestamp and the non-empty strings to the schema; the open enum is checked here.
    let send_to = natsbridge_types::NonEmptyString::new(subject).map_err(|e| {
        Error::new(profile::ERROR_WRITER_RULE, "the subject (`send_to`) must not be empty").with_source(e)
    })?;
    let sender_name = natsbridge_types::NonEmptyString::new(options.sender_name.clone()).map_err(|e| {
        Error::new(profile::ERROR_WRITER_RULE, "`sender_name` must not be empty").with_source(e)
    })?;
    if let MsgPurpose::Unknown(purpose) = &options.msg_purpose {
        return Err(Error::new(
            profile::ERROR_WRITER_RULE,
            format!("`msg_purpose` `{purpose}` is not a v1 value (one of {})", MsgPurpose::KNOWN.join(", ")),
        ));
    }

    // 1. Serialize (a large Arrow table starts streaming into its upload instead).
    let mut prepared = Vec::with_capacity(payloads.len());
    for (dataname, payload) in payloads {
        let span = info_span!("serialize", correlation_id = %cid, dataname = %dataname);
        // The table encoder hashes as it writes; other payloads are hashed here when inline.
        let (bytes, sha256, stream) = match &payload {
            Payload::ArrowTable(table) => {
                match encode_table(table, options.size_threshold).instrument(span).await.payload(&dataname)? {
                    Encoded::Whole(bytes, sha256) => (bytes, Some(sha256), None),
                    Encoded::Streaming(stream) => (Bytes::new(), None, Some(stream)),
                }
            }
            other => (span.in_scope(|| other.to_bytes()).payload(&dataname)?, None, None),
        };
        let link = stream.is_some() || bytes.len() >= options.size_threshold;
        debug!(dataname = %dataname, bytes = bytes.len(), link, streaming = stream.is_some(), "serialized");
        let sha256 = sha256.or_else(|| (!link).then(|| sha256_hex(&bytes)));
        let size = bytes.len() as u64;
        let id = checked_uuid(None, "id")?;
        prepared.push(Prepared { dataname, payload, bytes, size, link, id, sha256, stream });
    }

    // 2. Connect (to learn max_payload) when publishing.
    let (client, broker_url, server_max) = if options.publish {
        // Through JetStream, on the context's client.
        let jetstream = options.jetstream.as_ref().map(|js| Connection::Client(js.client()));
        let (client, url, max) =
            publish_target(jetstream.as_ref().unwrap_or_else(|| options.connection.get())).await?;
        (Some(client), url, max)
    } else {
        (None, options.connection.get().broker_url(), 0)
    };
    let max_payload =
        Some(server_max).filter(|m| *m > 0).or(options.max_payload).unwrap_or(DEFAULT_MAX_PAYLOAD);

    let msg_id = checked_uuid(options.msg_id.as_deref(), "msg_id")?;
    let headers = build_headers(msg_id.as_str(), &cid, &options.headers);
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
        broker_url,
        metadata: Some(options.metadata.clone()),
        payloads: Vec::new(),
        extra: Default::default(),
    };

    // 3. Everything inline and within budget (the common case): one serialization sizes
    // and writes the message.
    let json = match all_inline(&mut envelope, &prepared, header_bytes, max_payload)? {
        Some(json) => json,
        None => {
            // 4. Fit the budget: move the largest direct payloads to link until the message
            // fits, then upload the links and inline the rest.
            fit_max_payload(&mut envelope, &mut prepared, header_bytes, max_payload)?;
            upload_links(&mut envelope, &mut prepared, options, &cid, &new_uuid()).await?
        }
    };

    // 5. Publish.
    let mut stream_sequence = None;
    if let Some(client) = &client {
        let body = Bytes::from(json.clone());
        match &options.jetstream {
            Some(js) => {
                let retry_for = options.publish_retry;
                stream_sequence = Some(publish_jetstream(js, subject, headers, body, &cid, retry_for).await?)
            }
            None => {
                // A connection opened for this call closes with it: flush it first.
                let own = !matches!(options.connection.get(), Connection::Client(_));
                publish_envelope(client, subject, headers, body, options.flush || own, &cid).await?;
            }
        }
        info!(bytes = json.len(), payloads = envelope.payloads.len(), "published");
    }
    Ok(Sent { envelope, json, stream_sequence })
}

/// Uploads every payload marked as link, inlines the rest, and writes the envelope JSON.
async fn upload_links(
    envelope: &mut MsgEnvelopeV1,
    prepared: &mut [Prepared],
    options: &SendOptions,
    cid: &str,
    nonce: &str,
) -> Result<String> {
    let mut store = None;
    let mut wire = Vec::with_capacity(prepared.len());
    let mut inline = Vec::new();
    for (i, p) in prepared.iter_mut().enumerate() {
        let data = if let Some(TableStream { head, mut rest, done }) = p.stream.take() {
            let name = format!("{}.{}", file_name(&p.dataname), p.payload.extension());
            let store = store.get_or_insert_with(|| options.store());
            let chunks = futures::stream::iter(head.into_iter().map(Ok))
                .chain(futures::stream::poll_fn(move |cx| rest.poll_recv(cx)));
            let url = store
                .put_stream(PutStream {
                    name,
                    chunks: Box::pin(chunks),
                    ttl: options.link_ttl,
                    one_shot: options.one_shot,
                    correlation_id: cid.to_owned(),
                })
                .await
                .payload(&p.dataname)?;
            let (size, sha256) = done.await.map_err(|_| {
                Error::new(ErrorCode::SerializationError, "the Arrow IPC writer stopped before the end")
                    .with_dataname(&p.dataname)
            })?;
            (p.size, p.sha256) = (size, Some(sha256));
            url
        } else if p.link {
            let name = format!("{}.{}", file_name(&p.dataname), p.payload.extension());
            // Hash on another thread while the bytes upload: one pass less on the critical path.
            let hashing = p.sha256.is_none().then(|| {
                let bytes = p.bytes.clone();
                tokio::task::spawn_blocking(move || sha256_hex(&bytes))
            });
            let store = store.get_or_insert_with(|| options.store());
            let url = store
                .put(PutRequest {
                    name,
                    bytes: p.bytes.clone(),
                    ttl: options.link_ttl,
                    one_shot: options.one_shot,
                    correlation_id: cid.to_owned(),
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
            placeholder(nonce, i)
        };
        wire.push(wire_payload(p, data));
    }
    envelope.payloads = wire;
    let skeleton = to_json(envelope)?;
    splice(envelope, &skeleton, inline, nonce)
}

/// Below this much base64 in one envelope, the text is serialized in place: escaping a few
/// kilobytes costs less than a placeholder, a search and a second copy ([`splice`]).
const SPLICE_FROM: usize = 16 << 10; // not a profile value

/// When no payload is a link and the message fits `max_payload`, the envelope JSON from a
/// single serialization; `None` sends the caller down the budget-fitting path.
fn all_inline(
    envelope: &mut MsgEnvelopeV1,
    prepared: &[Prepared],
    header_bytes: usize,
    max_payload: usize,
) -> Result<Option<String>> {
    if prepared.iter().any(|p| p.link) {
        return Ok(None);
    }
    let inline: usize = prepared.iter().map(|p| codec::encoded_len(p.bytes.len())).sum();
    if inline < SPLICE_FROM {
        envelope.payloads = prepared.iter().map(|p| wire_payload(p, codec::encode(&p.bytes))).collect();
        let json = to_json(envelope)?;
        return Ok((json.len() + header_bytes <= max_payload).then_some(json));
    }
    let nonce = new_uuid();
    envelope.payloads =
        prepared.iter().enumerate().map(|(i, p)| wire_payload(p, placeholder(&nonce, i))).collect();
    let skeleton = to_json(envelope)?;
    let placeholders: usize = envelope.payloads.iter().map(|p| p.data.len()).sum();
    if skeleton.len() - placeholders + inline + header_bytes > max_payload {
        return Ok(None);
    }
    let inline = prepared.iter().enumerate().map(|(i, p)| (i, codec::encode(&p.bytes))).collect();
    splice(envelope, &skeleton, inline, &nonce).map(Some)
}

/// A sender for a stream of envelopes: one connection, one set of options, the blob store
/// resolved once (a Plik store builds its HTTP client once, not per envelope). Cheap to
/// clone; clones share the connection.
///
/// ```no_run
/// # async fn run() -> natsbridge::Result<()> {
/// use natsbridge::{Payload, SendOptions, Sender};
///
/// let sender = Sender::connect("nats://127.0.0.1:4222", SendOptions::default()).await?;
/// for i in 0..1_000 {
///     let reading = Payload::Dictionary(natsbridge::serde_json::json!({ "i": i, "celsius": 21.5 }));
///     sender.send("sensors.temperature", [("reading", reading)]).await?;
/// }
/// sender.flush().await?; // the last envelopes are on the wire before we go
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Sender {
    client: async_nats::Client,
    options: SendOptions,
}

impl Sender {
    /// A sender publishing on `client` with `options` (their connection is replaced).
    pub fn new(client: async_nats::Client, options: SendOptions) -> Self {
        let store = options.store();
        let options = options.connection(client.clone()).blob_store(store);
        Sender { client, options }
    }

    /// Connects to `url` (comma-separated seeds) and makes a sender on that connection.
    pub async fn connect(url: &str, options: SendOptions) -> Result<Self> {
        Ok(Self::new(crate::transport::connect(url).await?, options))
    }

    /// [`smartsend`] with this sender's connection and options.
    pub async fn send<S: Into<String>>(
        &self,
        subject: &str,
        payloads: impl IntoIterator<Item = (S, Payload)>,
    ) -> Result<Sent> {
        smartsend(subject, payloads, &self.options).await
    }

    /// Waits until every envelope sent so far is written to the socket.
    pub async fn flush(&self) -> Result<()> {
        self.client
            .flush()
            .await
            .map_err(|e| Error::new(ErrorCode::PublishFailed, "flushing to the server").with_source(e))
    }

    /// The connection.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The options every send uses.
    pub fn options(&self) -> &SendOptions {
        &self.options
    }
}

/// Room kept in the budget for each link's URL, which is only known after the upload.
const LINK_URL_ALLOWANCE: usize = profile::LINK_URL_ALLOWANCE as usize;

/// Moves the largest direct payloads to link until the whole message fits `max_payload`:
/// the envelope's JSON (a link's URL counted as [`LINK_URL_ALLOWANCE`]), every direct
/// payload's base64, and the headers. `PAYLOAD_TOO_LARGE` only when even all links do not
/// fit (the envelope's own fields are too big).
fn fit_max_payload(
    envelope: &mut MsgEnvelopeV1,
    prepared: &mut [Prepared],
    header_bytes: usize,
    max_payload: usize,
) -> Result<()> {
    loop {
        envelope.payloads = prepared.iter().map(|p| wire_payload(p, String::new())).collect();
        let skeleton = to_json(envelope)?.len();
        let inline: usize =
            prepared.iter().filter(|p| !p.link).map(|p| codec::encoded_len(p.bytes.len())).sum();
        let links = prepared.iter().filter(|p| p.link).count() * LINK_URL_ALLOWANCE;
        let total = skeleton + inline + links + header_bytes;
        if total <= max_payload {
            return Ok(());
        }
        let Some(largest) = prepared.iter_mut().filter(|p| !p.link).max_by_key(|p| p.bytes.len()) else {
            return Err(Error::new(
                profile::ERROR_TOO_LARGE_TO_SEND,
                format!("the envelope alone is {total} bytes, over the server's max_payload {max_payload}"),
            ));
        };
        debug!(dataname = %largest.dataname, total, max_payload, "moving payload to link to fit max_payload");
        largest.link = true;
    }
}

fn placeholder(nonce: &str, index: usize) -> String {
    format!("natsbridge-inline-{nonce}-{index}")
}

/// The envelope's JSON text, written with sonic-rs (SIMD string escaping).
fn to_json(envelope: &MsgEnvelopeV1) -> Result<String> {
    sonic_rs::to_string(envelope)
        .map_err(|e| Error::new(ErrorCode::SerializationError, "serializing the envelope").with_source(e))
}

/// Writes the envelope JSON with each direct payload's base64 text copied in rather than
/// escaped: base64 has nothing to escape, and escaping is the slowest step of serializing
/// a large direct payload. `skeleton` is the envelope serialized with placeholders (with
/// a per-call random nonce) in `data`; the envelope gets the real text too.
fn splice(
    envelope: &mut MsgEnvelopeV1,
    skeleton: &str,
    inline: Vec<(usize, String)>,
    nonce: &str,
) -> Result<String> {
    let mut out = String::with_capacity(skeleton.len() + inline.iter().map(|(_, t)| t.len()).sum::<usize>());
    let mut rest = skeleton;
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
        size: p.size,
        data,
        metadata: Some(metadata),
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope_with(payloads: usize) -> MsgEnvelopeV1 {
        let json = serde_json::json!({
            "correlation_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
            "msg_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e21",
            "timestamp": "2026-11-29T21:58:30.123Z",
            "send_to": "s",
            "msg_purpose": "chat",
            "sender_name": "n",
            "sender_id": "i",
            "receiver_name": "",
            "receiver_id": "",
            "reply_to": "",
            "reply_to_msg_id": "",
            "broker_url": "nats://127.0.0.1:4222",
            "metadata": {},
            "payloads": (0..payloads).map(|i| serde_json::json!({
                "id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e22",
                "dataname": format!("p{i}"),
                "payload_type": "binary",
                "transport": "direct",
                "encoding": "base64",
                "size": 0,
                "data": "",
                "metadata": {}
            })).collect::<Vec<_>>(),
        });
        serde_json::from_value(json).unwrap()
    }

    /// Splicing must give exactly what serde_json would have written, for any inline text
    /// (base64 has nothing to escape) and any number of payloads.
    #[test]
    fn spliced_json_equals_plain_serialization() {
        for texts in [vec![], vec!["SGVsbG8="], vec!["", "QQ==", "QUJD"], vec!["QUJD"; 5]] {
            let nonce = new_uuid();
            let mut spliced = envelope_with(texts.len());
            for (i, p) in spliced.payloads.iter_mut().enumerate() {
                p.data = placeholder(&nonce, i);
            }
            let inline: Vec<(usize, String)> = texts.iter().map(|t| (*t).to_owned()).enumerate().collect();
            let skeleton = to_json(&spliced).unwrap();
            let json = splice(&mut spliced, &skeleton, inline, &nonce).unwrap();

            let mut plain = envelope_with(texts.len());
            for (p, t) in plain.payloads.iter_mut().zip(&texts) {
                p.data = (*t).to_owned();
            }
            assert_eq!(json, serde_json::to_string(&plain).unwrap());
            assert_eq!(serde_json::to_string(&spliced).unwrap(), json, "the envelope holds the text too");
        }
    }

    /// sonic-rs writes what serde_json writes, byte for byte, for the awkward corners:
    /// escapes, control characters, non-ASCII text, numbers and nested metadata.
    #[test]
    fn sonic_rs_writes_what_serde_json_writes() {
        let mut envelope = envelope_with(2);
        envelope.payloads[0].dataname =
            "quote\" back\\ slash / tab\t nl\n nul\u{0} del\u{7f} é 日本 😀".into();
        envelope.payloads[1].dataname = "\u{1f}\u{2028}\u{2029}<>&'".into();
        let metadata = serde_json::json!({
            "floats": [0.1, 1e21, 1.5e-7, -0.0, 123456789.125, f64::MAX, f64::MIN_POSITIVE],
            "ints": [0, -1, u64::MAX, i64::MIN],
            "nested": {"b": [true, false, null], "a": {"z": "x"}},
            "text": "line\r\nbreak \u{8}\u{c}",
        });
        envelope.metadata = Some(serde_json::from_value(metadata).unwrap());
        assert_eq!(to_json(&envelope).unwrap(), serde_json::to_string(&envelope).unwrap());
    }

    fn prepared(sizes: &[usize]) -> Vec<Prepared> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Prepared {
                dataname: format!("p{i}"),
                payload: Payload::Binary(Bytes::from(vec![0u8; *n])),
                bytes: Bytes::from(vec![0u8; *n]),
                size: *n as u64,
                link: false,
                id: checked_uuid(None, "id").unwrap(),
                sha256: None,
                stream: None,
            })
            .collect()
    }

    /// The whole message as it will be published: the envelope with its real data, plus
    /// the headers.
    fn published_len(envelope: &MsgEnvelopeV1, prepared: &[Prepared], header_bytes: usize) -> usize {
        let mut envelope = envelope.clone();
        envelope.payloads = prepared
            .iter()
            .map(|p| {
                let data = if p.link { "x".repeat(LINK_URL_ALLOWANCE) } else { codec::encode(&p.bytes) };
                wire_payload(p, data)
            })
            .collect();
        serde_json::to_vec(&envelope).unwrap().len() + header_bytes
    }

    #[test]
    fn the_budget_moves_the_largest_payloads_to_link_until_the_message_fits() {
        for (sizes, max_payload, expected_links) in [
            (vec![100, 200, 300], 1 << 20, vec![false, false, false]),
            (vec![30_000, 31_000, 29_000], 65_536, vec![true, true, false]),
            (vec![60_000], 65_536, vec![true]),
            (vec![10, 48_000, 10], 65_536, vec![false, false, false]),
            (vec![10, 49_500, 10], 65_536, vec![false, true, false]),
        ] {
            let mut envelope = envelope_with(0);
            let mut p = prepared(&sizes);
            fit_max_payload(&mut envelope, &mut p, 120, max_payload).unwrap();
            let links: Vec<bool> = p.iter().map(|p| p.link).collect();
            assert_eq!(links, expected_links, "{sizes:?} in {max_payload}");
            assert!(published_len(&envelope, &p, 120) <= max_payload, "{sizes:?} fits");
        }
    }

    #[test]
    fn an_envelope_too_big_on_its_own_is_payload_too_large() {
        let mut envelope = envelope_with(0);
        let mut p = prepared(&[10, 10]);
        let err = fit_max_payload(&mut envelope, &mut p, 120, 600).unwrap_err();
        assert_eq!(err.code(), &ErrorCode::PayloadTooLarge);
        assert!(p.iter().all(|p| p.link), "everything was tried as a link first");
    }

    #[test]
    fn a_missing_placeholder_is_an_error_not_a_panic() {
        let mut envelope = envelope_with(1);
        let skeleton = to_json(&envelope).unwrap();
        let err = splice(&mut envelope, &skeleton, vec![(0, "QQ==".into())], "nonce").unwrap_err();
        assert_eq!(err.code(), &ErrorCode::SerializationError);
    }
}
