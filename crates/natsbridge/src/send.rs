//! `smartsend`: serialize every payload, choose direct or link per payload so the whole
//! message fits the server's `max_payload`, upload the links, publish the envelope.

use bytes::Bytes;
use natsbridge_types::{Encoding, MsgEnvelopeV1, MsgPayloadV1, Transport};
use tracing::{Instrument as _, debug, info, info_span};

use crate::blob::PutRequest;
use crate::codec;
use crate::error::{Error, ErrorCode, Result, ResultExt as _};
use crate::options::SendOptions;
use crate::payload::Payload;
use crate::transport::{broker_url_of, client_for, publish_envelope, publish_jetstream};
use crate::wire::{build_headers, checked_uuid, file_name, header_len, new_uuid, now_timestamp, sha256_hex};

/// NATS's default `max_payload`, used when no connection tells otherwise.
const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;

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
    bytes: Bytes,
    link: bool,
    id: natsbridge_types::Uuid,
    /// Hex SHA-256 of `bytes`; for links it is computed while the upload runs.
    sha256: Option<String>,
}

/// Packs `payloads` into one `msg_envelope_v1` and publishes it on `subject`.
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
    let (client, broker_url) = match (&options.jetstream, options.publish) {
        (Some(js), true) => {
            let client = js.client();
            let url = broker_url_of(&client.server_info());
            (Some(client), url)
        }
        (None, true) => {
            let (client, url) = client_for(&options.connection).await?;
            (Some(client), url)
        }
        (_, false) => (None, options.connection.broker_url()),
    };
    let max_payload = client
        .as_ref()
        .map(|c| c.server_info().max_payload)
        .filter(|m| *m > 0)
        .or(options.max_payload)
        .unwrap_or(DEFAULT_MAX_PAYLOAD);

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

    // 3. Fit the budget: move the largest direct payloads to link until the message fits.
    fit_max_payload(&mut envelope, &mut prepared, header_bytes, max_payload)?;

    // 4. Upload links, inline the rest.
    let mut store = None;
    let mut wire = Vec::with_capacity(prepared.len());
    let mut inline = Vec::new();
    let nonce = new_uuid();
    for (i, p) in prepared.iter_mut().enumerate() {
        let data = if p.link {
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
    let mut stream_sequence = None;
    if let Some(client) = &client {
        let body = Bytes::from(json.clone());
        match &options.jetstream {
            Some(js) => stream_sequence = Some(publish_jetstream(js, subject, headers, body, &cid).await?),
            None => publish_envelope(client, subject, headers, body, options.flush, &cid).await?,
        }
        info!(bytes = json.len(), payloads = envelope.payloads.len(), "published");
    }
    Ok(Sent { envelope, json, stream_sequence })
}

/// Room kept in the budget for each link's URL, which is only known after the upload.
const LINK_URL_ALLOWANCE: usize = 1024;

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
        let skeleton = serde_json::to_vec(&*envelope).map_err(json_err)?.len();
        let inline: usize =
            prepared.iter().filter(|p| !p.link).map(|p| codec::encoded_len(p.bytes.len())).sum();
        let links = prepared.iter().filter(|p| p.link).count() * LINK_URL_ALLOWANCE;
        let total = skeleton + inline + links + header_bytes;
        if total <= max_payload {
            return Ok(());
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
            let json = to_json_spliced(&mut spliced, inline, &nonce).unwrap();

            let mut plain = envelope_with(texts.len());
            for (p, t) in plain.payloads.iter_mut().zip(&texts) {
                p.data = (*t).to_owned();
            }
            assert_eq!(json, serde_json::to_string(&plain).unwrap());
            assert_eq!(serde_json::to_string(&spliced).unwrap(), json, "the envelope holds the text too");
        }
    }

    fn prepared(sizes: &[usize]) -> Vec<Prepared> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, n)| Prepared {
                dataname: format!("p{i}"),
                payload: Payload::Binary(Bytes::from(vec![0u8; *n])),
                bytes: Bytes::from(vec![0u8; *n]),
                link: false,
                id: checked_uuid(None, "id").unwrap(),
                sha256: None,
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
        let err = to_json_spliced(&mut envelope, vec![(0, "QQ==".into())], "nonce").unwrap_err();
        assert_eq!(err.code(), &ErrorCode::SerializationError);
    }
}
