//! Base64, in one place: standard alphabet with padding, as every reference writer uses.
//!
//! SIMD (`base64-simd`, chosen at run time: AVX2, SSSE3, NEON, or scalar), because the
//! codec is on the hot path of every direct payload. Decoding writes into a 64-byte-aligned
//! arrow buffer, so an Arrow IPC stream that came inline can still be decoded without
//! copying its columns.

use arrow_buffer::{Buffer, MutableBuffer};
use base64_simd::{Out, STANDARD};

use crate::error::{Error, ErrorCode, Result};

/// Length of the base64 text for `n` bytes.
pub fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Encodes bytes as padded standard base64.
pub fn encode(bytes: &[u8]) -> String {
    STANDARD.encode_to_string(bytes)
}

/// Decodes padded standard base64 into an aligned buffer. Surrounding ASCII whitespace
/// is not accepted; errors name the offending position.
pub fn decode(text: &str) -> Result<Buffer> {
    let invalid =
        |e| Error::new(ErrorCode::DeserializationError, "`data` is not valid base64").with_source(e);
    let n = STANDARD.decoded_length(text.as_bytes()).map_err(invalid)?;
    let mut buf = MutableBuffer::from_len_zeroed(n);
    let written =
        STANDARD.decode(text.as_bytes(), Out::from_slice(buf.as_slice_mut())).map_err(invalid)?.len();
    buf.truncate(written);
    Ok(buf.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lengths() {
        for n in [0, 1, 2, 3, 4, 5, 100, 1001] {
            let data: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
            let text = encode(&data);
            assert_eq!(text.len(), encoded_len(n));
            assert_eq!(decode(&text).unwrap().as_slice(), &data[..]);
        }
        assert_eq!(encode(b"Hello World"), "SGVsbG8gV29ybGQ=");
    }

    #[test]
    fn bad_base64_is_a_typed_error() {
        for bad in [
            "SGVsbG8gV29ybGQ",
            "SGVsbG8@V29ybGQ=",
            "====",
            " SGVs",
            "QR==",
            "SGVsbG8gV29ybGQ=\n",
            "SGVs\nbG8=",
        ] {
            let err = decode(bad).unwrap_err();
            assert_eq!(err.code(), &ErrorCode::DeserializationError, "{bad}");
        }
    }

    #[test]
    fn decoded_buffers_are_aligned() {
        let buf = decode(&encode(&[1u8; 1000])).unwrap();
        assert_eq!(buf.as_ptr() as usize % 64, 0);
    }
}
