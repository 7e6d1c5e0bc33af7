//! Payloads as the application sees them, and their serialization per `payload_type`:
//! text → UTF-8, dictionary → JSON, arrowtable → Arrow IPC stream, jsontable → JSON array
//! of row objects, image/audio/video/binary → raw bytes.

use arrow_buffer::Buffer;
use bytes::Bytes;
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::json;
use crate::table::{Table, TableLimits, decode_table, encode_table};

pub use natsbridge_types::PayloadType;
use natsbridge_types::profile;

/// One payload's data, typed. The variant is the wire `payload_type`.
#[derive(Debug, Clone)]
pub enum Payload {
    /// `text`: a UTF-8 string.
    Text(String),
    /// `dictionary`: a JSON object (any JSON value is accepted and sent as is).
    Dictionary(Value),
    /// `arrowtable`: an Arrow table, sent as an IPC stream.
    ArrowTable(Table),
    /// `arrowtable` given as bytes that already are an Arrow IPC stream (sent unchanged).
    ArrowIpc(Bytes),
    /// `jsontable`: a JSON array of row objects.
    JsonTable(Value),
    /// `image`: raw bytes.
    Image(Bytes),
    /// `audio`: raw bytes.
    Audio(Bytes),
    /// `video`: raw bytes.
    Video(Bytes),
    /// `binary`: raw bytes.
    Binary(Bytes),
}

/// A JSON payload's bytes as a value: strict JSON (schema/README.md, rule 8) or
/// `DESERIALIZATION_ERROR`.
fn strict_json(bytes: &[u8]) -> Result<Value> {
    json::parse(bytes)
        .map_err(|why| Error::new(profile::ERROR_BAD_BYTES, format!("payload is not strict JSON: {why}")))
}

impl Payload {
    /// The wire `payload_type`.
    pub fn payload_type(&self) -> PayloadType {
        match self {
            Payload::Text(_) => PayloadType::Text,
            Payload::Dictionary(_) => PayloadType::Dictionary,
            Payload::ArrowTable(_) | Payload::ArrowIpc(_) => PayloadType::Arrowtable,
            Payload::JsonTable(_) => PayloadType::Jsontable,
            Payload::Image(_) => PayloadType::Image,
            Payload::Audio(_) => PayloadType::Audio,
            Payload::Video(_) => PayloadType::Video,
            Payload::Binary(_) => PayloadType::Binary,
        }
    }

    /// The serialized bytes that travel (inline as base64, or uploaded).
    pub fn to_bytes(&self) -> Result<Bytes> {
        let json = |v: &Value| {
            sonic_rs::to_vec(v)
                .map(Bytes::from)
                .map_err(|e| Error::new(ErrorCode::SerializationError, "serializing JSON").with_source(e))
        };
        match self {
            Payload::Text(s) => Ok(Bytes::copy_from_slice(s.as_bytes())),
            Payload::Dictionary(v) => json(v),
            Payload::JsonTable(v) => {
                if !v.as_array().is_some_and(|rows| rows.iter().all(Value::is_object)) {
                    return Err(Error::new(
                        ErrorCode::SerializationError,
                        "a jsontable must be a JSON array of row objects",
                    ));
                }
                json(v)
            }
            Payload::ArrowTable(t) => encode_table(t).map(Bytes::from),
            Payload::ArrowIpc(b)
            | Payload::Image(b)
            | Payload::Audio(b)
            | Payload::Video(b)
            | Payload::Binary(b) => Ok(b.clone()),
        }
    }

    /// Decodes serialized bytes according to `payload_type`.
    pub fn from_bytes(payload_type: &PayloadType, bytes: Buffer, limits: TableLimits) -> Result<Payload> {
        let bad = |what: &str, e: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(ErrorCode::DeserializationError, format!("payload is not {what}")).with_boxed_source(e)
        };
        // Zero-copy: the Bytes keep the decoded buffer alive.
        let raw = || Bytes::from_owner(bytes.clone());
        Ok(match payload_type {
            PayloadType::Text => {
                Payload::Text(String::from_utf8(bytes.to_vec()).map_err(|e| bad("UTF-8 text", e.into()))?)
            }
            PayloadType::Dictionary => Payload::Dictionary(strict_json(bytes.as_slice())?),
            PayloadType::Jsontable => {
                let v: Value = strict_json(bytes.as_slice())?;
                if !v.as_array().is_some_and(|rows| rows.iter().all(Value::is_object)) {
                    return Err(Error::new(
                        ErrorCode::DeserializationError,
                        "a jsontable must be a JSON array of row objects",
                    ));
                }
                Payload::JsonTable(v)
            }
            PayloadType::Arrowtable => Payload::ArrowTable(decode_table(bytes, limits)?),
            PayloadType::Image => Payload::Image(raw()),
            PayloadType::Audio => Payload::Audio(raw()),
            PayloadType::Video => Payload::Video(raw()),
            PayloadType::Binary => Payload::Binary(raw()),
            PayloadType::Unknown(t) => {
                return Err(Error::new(ErrorCode::InvalidPayloadType, format!("unknown payload_type `{t}`")));
            }
        })
    }

    /// Rows of a table payload (arrowtable or jsontable), `None` for other types.
    pub fn num_rows(&self) -> Option<usize> {
        match self {
            Payload::ArrowTable(t) => Some(t.num_rows()),
            Payload::JsonTable(v) => v.as_array().map(Vec::len),
            _ => None,
        }
    }

    /// The file-name extension used for uploads of this payload.
    pub(crate) fn extension(&self) -> &'static str {
        match self {
            Payload::Text(_) => "txt",
            Payload::Dictionary(_) | Payload::JsonTable(_) => "json",
            Payload::ArrowTable(_) | Payload::ArrowIpc(_) => "arrow",
            Payload::Image(_) | Payload::Audio(_) | Payload::Video(_) | Payload::Binary(_) => "bin",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn round_trip(payload: Payload) -> Payload {
        let bytes = payload.to_bytes().unwrap();
        Payload::from_bytes(&payload.payload_type(), Buffer::from(bytes.to_vec()), TableLimits::default())
            .unwrap()
    }

    #[test]
    fn every_type_serializes_as_the_wire_says() {
        for (payload, wire) in [
            (Payload::Text("héllo".into()), "héllo".as_bytes().to_vec()),
            (Payload::Dictionary(json!({"step_size": 0.01})), br#"{"step_size":0.01}"#.to_vec()),
            (Payload::JsonTable(json!([{"a": 1}, {"a": 2}])), br#"[{"a":1},{"a":2}]"#.to_vec()),
            (Payload::Image(Bytes::from_static(b"\x89PNG")), b"\x89PNG".to_vec()),
            (Payload::Audio(Bytes::from_static(b"RIFF")), b"RIFF".to_vec()),
            (Payload::Video(Bytes::from_static(b"\0\0")), b"\0\0".to_vec()),
            (Payload::Binary(Bytes::from_static(b"\xff")), b"\xff".to_vec()),
        ] {
            assert_eq!(payload.to_bytes().unwrap().as_ref(), &wire[..], "{payload:?}");
            let back = round_trip(payload.clone());
            assert_eq!(back.payload_type(), payload.payload_type());
            assert_eq!(back.to_bytes().unwrap().as_ref(), &wire[..]);
        }
    }

    #[test]
    fn a_jsontable_must_be_rows() {
        for bad in [json!({"a": 1}), json!([1, 2]), json!([{"a": 1}, "x"])] {
            let err = Payload::JsonTable(bad.clone()).to_bytes().unwrap_err();
            assert_eq!(err.code(), &ErrorCode::SerializationError, "{bad}");
            let bytes = Buffer::from(serde_json::to_vec(&bad).unwrap());
            let err =
                Payload::from_bytes(&PayloadType::Jsontable, bytes, TableLimits::default()).unwrap_err();
            assert_eq!(err.code(), &ErrorCode::DeserializationError, "{bad}");
        }
        assert_eq!(Payload::JsonTable(json!([{"a": 1}, {"a": 2}])).num_rows(), Some(2));
    }

    #[test]
    fn undecodable_bytes_are_typed_errors() {
        for (payload_type, bytes, code) in [
            (PayloadType::Text, vec![0xff, 0xfe], ErrorCode::DeserializationError),
            (PayloadType::Dictionary, b"{not json".to_vec(), ErrorCode::DeserializationError),
            (PayloadType::Arrowtable, b"garbage!".to_vec(), ErrorCode::DeserializationError),
            (PayloadType::from("hologram"), b"x".to_vec(), ErrorCode::InvalidPayloadType),
        ] {
            let err =
                Payload::from_bytes(&payload_type, Buffer::from(bytes), TableLimits::default()).unwrap_err();
            assert_eq!(err.code(), &code, "{payload_type}");
        }
    }
}
