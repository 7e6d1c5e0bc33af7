//! `--payload NAME:TYPE:SOURCE` parsing: SOURCE is literal text or `@PATH`.

use std::io::Cursor;

use bytes::Bytes;
use natsbridge::table::{TableLimits, decode_table};
use natsbridge::{Payload, Table};

type Error = Box<dyn std::error::Error>;

/// Parses one `--payload` argument into `(dataname, payload)`.
pub(crate) fn parse_payload(spec: &str) -> Result<(String, Payload), Error> {
    let mut parts = spec.splitn(3, ':');
    let (Some(name), Some(ty), Some(source)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("--payload `{spec}` is not NAME:TYPE:SOURCE").into());
    };
    let bytes = match source.strip_prefix('@') {
        Some(path) => std::fs::read(path).map_err(|e| format!("reading {path}: {e}"))?,
        None => source.as_bytes().to_vec(),
    };
    payload(name, ty, bytes)
}

/// `NAME:TYPE` (`--from-stdin`) with the bytes read elsewhere.
pub(crate) fn parse_bytes(spec: &str, bytes: Vec<u8>) -> Result<(String, Payload), Error> {
    let (name, ty) = spec.split_once(':').ok_or_else(|| format!("`{spec}` is not NAME:TYPE"))?;
    payload(name, ty, bytes)
}

fn payload(name: &str, ty: &str, bytes: Vec<u8>) -> Result<(String, Payload), Error> {
    let json = |b: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(b).map_err(|e| format!("{name}: not JSON: {e}"))
    };
    let payload = match ty {
        "text" => Payload::Text(String::from_utf8(bytes).map_err(|_| format!("{name}: text must be UTF-8"))?),
        "dictionary" => Payload::Dictionary(json(&bytes)?),
        "jsontable" => Payload::JsonTable(json(&bytes)?),
        "arrowtable" => arrow_payload(bytes).map_err(|e| format!("{name}: {e}"))?,
        "image" => Payload::Image(Bytes::from(bytes)),
        "audio" => Payload::Audio(Bytes::from(bytes)),
        "video" => Payload::Video(Bytes::from(bytes)),
        "binary" => Payload::Binary(Bytes::from(bytes)),
        other => return Err(format!("{name}: unknown payload type `{other}`").into()),
    };
    Ok((name.to_owned(), payload))
}

/// An Arrow IPC stream is sent as is; an Arrow IPC file is re-encoded as a stream.
fn arrow_payload(bytes: Vec<u8>) -> Result<Payload, Error> {
    if bytes.starts_with(b"ARROW1") {
        let reader = arrow_ipc::reader::FileReader::try_new(Cursor::new(bytes), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        return Ok(Payload::ArrowTable(Table::new(schema, batches)));
    }
    // Check that it is a stream before sending it.
    let buffer = arrow_buffer::Buffer::from(bytes.clone());
    decode_table(buffer, TableLimits::default())?;
    Ok(Payload::ArrowIpc(Bytes::from(bytes)))
}

/// Rows of a table payload, for the digest line.
pub(crate) fn rows_of(p: &Payload) -> Option<usize> {
    match p {
        Payload::ArrowIpc(b) => decode_table(arrow_buffer::Buffer::from(b.to_vec()), TableLimits::default())
            .ok()
            .map(|t| t.num_rows()),
        other => other.num_rows(),
    }
}
