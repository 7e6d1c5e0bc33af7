//! Digest lines: one JSON object per envelope, keys in a fixed order, describing each
//! payload's serialized bytes as carried.

use natsbridge::Received;
use natsbridge::types::MsgEnvelopeV1;
use serde_json::{Map, Value};

/// One payload's digest object, keys in the contract's order.
pub(crate) fn payload_digest(
    dataname: &str,
    payload_type: &str,
    transport: &str,
    size: u64,
    sha256: &str,
    rows: Option<usize>,
) -> Value {
    let mut m = Map::new();
    m.insert("dataname".into(), dataname.into());
    m.insert("payload_type".into(), payload_type.into());
    m.insert("transport".into(), transport.into());
    m.insert("size".into(), size.into());
    m.insert("sha256".into(), sha256.into());
    if let Some(r) = rows {
        m.insert("num_rows".into(), r.into());
    }
    Value::Object(m)
}

fn line(correlation_id: &str, purpose: &str, payloads: Vec<Value>) -> String {
    let mut m = Map::new();
    m.insert("correlation_id".into(), correlation_id.into());
    m.insert("msg_purpose".into(), purpose.into());
    m.insert("payloads".into(), Value::Array(payloads));
    Value::Object(m).to_string()
}

/// The sender's digest: sizes and hashes as smartsend recorded them.
pub(crate) fn of_sent(env: &MsgEnvelopeV1, rows: &[Option<usize>]) -> String {
    let payloads = env
        .payloads
        .iter()
        .zip(rows)
        .map(|(p, r)| {
            let sha =
                p.metadata.as_ref().and_then(|m| m.get("sha256")).and_then(Value::as_str).unwrap_or_default();
            payload_digest(&p.dataname, p.payload_type.as_str(), p.transport.as_str(), p.size, sha, *r)
        })
        .collect();
    line(env.correlation_id.as_str(), env.msg_purpose.as_str(), payloads)
}

/// The receiver's digest: sizes and hashes of the bytes it actually got.
pub(crate) fn of_received(r: &Received) -> String {
    let payloads = r
        .payloads
        .iter()
        .map(|p| {
            payload_digest(
                &p.dataname,
                p.payload_type.as_str(),
                p.transport.as_str(),
                p.bytes().len() as u64,
                &p.sha256(),
                p.data.num_rows(),
            )
        })
        .collect();
    line(r.correlation_id(), r.envelope.msg_purpose.as_str(), payloads)
}

/// The line printed for an envelope that could not be received.
pub(crate) fn of_error(e: &natsbridge::Error) -> String {
    // Keys in the order every CLI prints them.
    let mut line = Map::new();
    line.insert("error".into(), e.code().as_str().into());
    if let Some(code) = e.application_code() {
        line.insert("application_code".into(), code.into());
    }
    line.insert("correlation_id".into(), e.correlation_id().into());
    line.insert("message".into(), e.report().into());
    if e.is_remote() {
        // The responder's error_response_v1, not a failure here.
        line.insert("remote".into(), true.into());
    }
    Value::Object(line).to_string()
}

/// `line` with `"headers": {name: value or null}` appended, for the headers asked for.
pub(crate) fn with_headers(
    line: String,
    headers: Option<&async_nats::HeaderMap>,
    names: &[String],
) -> String {
    if names.is_empty() {
        return line;
    }
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(&line) else { return line };
    let headers: Map<String, Value> = names
        .iter()
        .map(|n| {
            let v = headers.and_then(|h| h.get(n.as_str())).map(|v| Value::from(v.as_str()));
            (n.clone(), v.unwrap_or(Value::Null))
        })
        .collect();
    m.insert("headers".into(), Value::Object(headers));
    Value::Object(m).to_string()
}
