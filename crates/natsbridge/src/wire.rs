//! Wire helpers every layer above uses: ids, timestamps, digests and the NATS headers
//! that travel beside an envelope. Pure functions, no I/O.

use async_nats::HeaderMap;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// NATS header carrying the envelope's `msg_id` (JetStream de-duplication); the
/// correlation id's header, from the runtime profile.
pub use natsbridge_types::profile::{HEADER_CORRELATION_ID, HEADER_MSG_ID};

/// A random (v4) UUID from the thread-local generator: no system call per id.
pub(crate) fn new_uuid() -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// `value` checked as a UUID, or a new one when there is none.
pub(crate) fn checked_uuid(value: Option<&str>, field: &str) -> Result<natsbridge_types::Uuid> {
    let text = value.map_or_else(new_uuid, str::to_owned);
    natsbridge_types::Uuid::new(text).map_err(|e| {
        Error::new(natsbridge_types::profile::ERROR_WRITER_RULE, format!("`{field}` must be a UUID"))
            .with_source(e)
    })
}

/// Now, as an RFC 3339 UTC timestamp with milliseconds (`2026-11-29T21:58:30.123Z`).
pub(crate) fn now_timestamp() -> natsbridge_types::Timestamp {
    let text = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    natsbridge_types::Timestamp::new(text).expect("chrono formats a valid timestamp")
}

/// Lowercase hex SHA-256 (`hex::encode`'s iterator is slow on the small-message path).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_of(&Sha256::digest(bytes).into())
}

/// Lowercase hex of a SHA-256 digest.
pub(crate) fn hex_of(digest: &[u8; 32]) -> String {
    let mut text = [0u8; 64];
    hex::encode_to_slice(digest, &mut text).expect("64 hex digits for 32 bytes");
    std::str::from_utf8(&text).expect("hex digits are ASCII").to_owned()
}

/// The headers an envelope travels with: `Nats-Msg-Id`, `Correlation-Id`, then `extra`.
pub(crate) fn build_headers(msg_id: &str, correlation_id: &str, extra: &[(String, String)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_MSG_ID, msg_id);
    headers.insert(HEADER_CORRELATION_ID, correlation_id);
    for (k, v) in extra {
        headers.insert(k.as_str(), v.as_str());
    }
    headers
}

/// Bytes the headers take on the wire (`NATS/1.0\r\n`, `name: value\r\n` each, `\r\n`):
/// the header length of the `HPUB` that carries them, which counts against the server's
/// `max_payload`.
pub fn header_len(headers: &HeaderMap) -> usize {
    let mut n = "NATS/1.0\r\n\r\n".len();
    for (name, values) in headers.iter() {
        for v in values {
            n += AsRef::<str>::as_ref(name).len() + 2 + v.as_str().len() + 2;
        }
    }
    n
}

/// A file name made of `[A-Za-z0-9._-]` from a caller's `dataname` (at most 100
/// characters; `payload` when nothing is left).
pub(crate) fn file_name(dataname: &str) -> String {
    let s: String = dataname
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .take(100)
        .collect();
    if s.is_empty() { "payload".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn uuids_are_v4_and_checked() {
        let id = new_uuid();
        let parsed = uuid::Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(new_uuid(), id);
        assert_eq!(checked_uuid(Some(&id), "msg_id").unwrap().as_str(), id);
        for bad in ["", "not-a-uuid", "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e2"] {
            let err = checked_uuid(Some(bad), "msg_id").unwrap_err();
            assert_eq!(err.code(), &ErrorCode::SerializationError, "{bad:?}");
            assert!(err.message().contains("`msg_id`"), "{err}");
        }
        assert!(checked_uuid(None, "id").is_ok());
    }

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let ts = now_timestamp();
        let text = ts.as_str();
        assert_eq!(text.len(), "2026-11-29T21:58:30.123Z".len(), "{text}");
        assert!(text.ends_with('Z'), "{text}");
        assert!(chrono::DateTime::parse_from_rfc3339(text).is_ok(), "{text}");
    }

    #[test]
    fn sha256_matches_known_digests() {
        for (input, expected) in [
            (&b""[..], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (&b"abc"[..], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ] {
            assert_eq!(sha256_hex(input), expected);
        }
    }

    /// The budget is only right if `header_len` is exactly what async-nats writes: compare
    /// with the HPUB header block as the protocol defines it.
    #[test]
    fn header_len_counts_the_wire_bytes() {
        use natsbridge_types::profile::{HEADER_CHANNELS, HEADER_SAMPLE_RATE};
        let cases: &[&[(&str, &str)]] =
            &[&[], &[(HEADER_SAMPLE_RATE, "44100")], &[("A", ""), (HEADER_CHANNELS, "1")]];
        for extra in cases {
            let extra: Vec<(String, String)> =
                extra.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
            let headers = build_headers("m", "c", &extra);
            let mut wire = String::from("NATS/1.0\r\n");
            for (k, v) in [(HEADER_MSG_ID, "m"), (HEADER_CORRELATION_ID, "c")] {
                wire.push_str(&format!("{k}: {v}\r\n"));
            }
            for (k, v) in &extra {
                wire.push_str(&format!("{k}: {v}\r\n"));
            }
            wire.push_str("\r\n");
            assert_eq!(header_len(&headers), wire.len(), "{extra:?}");
        }
    }

    #[test]
    fn headers_carry_ids_and_extras() {
        use natsbridge_types::profile::HEADER_CHANNELS;
        let headers = build_headers("m-1", "c-1", &[(HEADER_CHANNELS.into(), "1".into())]);
        assert_eq!(headers.get(HEADER_MSG_ID).map(|v| v.as_str()), Some("m-1"));
        assert_eq!(headers.get(HEADER_CORRELATION_ID).map(|v| v.as_str()), Some("c-1"));
        assert_eq!(headers.get(HEADER_CHANNELS).map(|v| v.as_str()), Some("1"));
    }

    #[test]
    fn file_names_are_safe() {
        for (name, expected) in [
            ("table", "table"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("a b/c", "a_b_c"),
            ("", "payload"),
            ("日本", "__"),
        ] {
            assert_eq!(file_name(name), expected, "{name:?}");
        }
        assert_eq!(file_name(&"x".repeat(500)).len(), 100);
    }
}
