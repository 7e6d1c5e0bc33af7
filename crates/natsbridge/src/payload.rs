//! Payloads as the application sees them, and their serialization per `payload_type`:
//! text → UTF-8, dictionary → JSON, arrowtable → Arrow IPC stream, jsontable → JSON array
//! of row objects, image/audio/video/binary → raw bytes.

use arrow_buffer::Buffer;
use bytes::Bytes;
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::table::{Table, TableLimits, decode_table, encode_table};

pub use natsbridge_types::PayloadType;

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
            serde_json::to_vec(v)
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
            Error::new(ErrorCode::DeserializationError, format!("payload is not {what}")).with_source(Ext(e))
        };
        // Zero-copy: the Bytes keep the decoded buffer alive.
        let raw = || Bytes::from_owner(bytes.clone());
        Ok(match payload_type {
            PayloadType::Text => {
                Payload::Text(String::from_utf8(bytes.to_vec()).map_err(|e| bad("UTF-8 text", e.into()))?)
            }
            PayloadType::Dictionary => Payload::Dictionary(
                serde_json::from_slice(bytes.as_slice()).map_err(|e| bad("JSON", e.into()))?,
            ),
            PayloadType::Jsontable => {
                let v: Value = serde_json::from_slice(bytes.as_slice()).map_err(|e| bad("JSON", e.into()))?;
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

/// Boxes a dynamic error so it can be a typed source.
#[derive(Debug)]
struct Ext(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for Ext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Ext {}
