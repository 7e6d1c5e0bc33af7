//! Properties that must hold for *any* bytes from the network, one function per entry
//! point a peer can reach. The libFuzzer targets in `fuzz/` call these, and the
//! `natsbridge-tests` crate replays the committed corpus and every past crash through
//! them, so a finding becomes a regression test by adding its file.
//!
//! Each function panics only when the property breaks: a panic inside the runtime, an
//! error without a code or correlation id, or an `Ok` that disagrees with what the
//! envelope declared. Only compiled with the `fuzzing` feature.

use std::cell::RefCell;

use arrow_buffer::Buffer;
use natsbridge_types::{MsgEnvelopeV1, PayloadType, Transport};

use crate::codec;
use crate::options::ReceiveOptions;
use crate::payload::Payload;
use crate::receive::smartreceive_bytes;
use crate::table::{TableLimits, decode_table, encode_table};

/// Limits small enough that a fuzzer run cannot be slowed down by legal but huge input.
pub const LIMITS: TableLimits = TableLimits { max_batches: 1000, max_columns: 1000 };

thread_local! {
    static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
}

/// libFuzzer's panic hook aborts on every panic, even one the runtime catches. Panics
/// raised inside the arrow crates are caught by [`decode_table`]'s net and become typed
/// errors (arrow-ipc 60.1 still panics on some malformed streams that pass the framing
/// checks); this hook lets those through so the fuzzer keeps looking for everything else.
/// A panic anywhere else, or an arrow panic that escapes the net, still aborts the run.
fn tolerate_caught_arrow_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_arrow = info.location().is_some_and(|l| l.file().contains("/arrow-"));
            if !in_arrow {
                previous(info);
            }
        }));
    });
}

fn block_on<F: Future>(f: F) -> F::Output {
    RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let rt = rt.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
        });
        rt.block_on(f)
    })
}

/// Options of a receiver that trusts no host and no directory: every link is refused
/// before any I/O, so the fuzzer exercises parsing and decoding only.
pub fn offline_receive_options() -> ReceiveOptions {
    ReceiveOptions {
        allowed_hosts: Vec::new(),
        allowed_dirs: Vec::new(),
        max_envelope_bytes: 1 << 20,
        max_payloads: 64,
        table_limits: LIMITS,
        jetstream: None,
        ..ReceiveOptions::default()
    }
}

/// `smartreceive_bytes` on arbitrary bytes: no panic; a typed error that carries the
/// correlation id whenever the bytes parse as an envelope; on success, every payload
/// decoded to exactly its declared `size` and came inline.
pub fn envelope(data: &[u8]) {
    tolerate_caught_arrow_panics();
    let options = offline_receive_options();
    let outcome = block_on(smartreceive_bytes(data, None, &options));
    let parsed: Option<MsgEnvelopeV1> = serde_json::from_slice(data).ok();
    match outcome {
        Ok(received) => {
            let envelope = parsed.expect("smartreceive accepted bytes that are not an envelope");
            assert_eq!(received.payloads.len(), envelope.payloads.len());
            for (got, wire) in received.payloads.iter().zip(&envelope.payloads) {
                assert_eq!(wire.transport, Transport::Direct, "a link resolved with every host refused");
                assert_eq!(got.bytes().len() as u64, wire.size, "decoded length differs from `size`");
                assert_eq!(got.dataname, wire.dataname);
            }
        }
        Err(e) => {
            assert!(!e.message().is_empty(), "an error without a message: {e:?}");
            if let Some(envelope) = parsed.filter(|_| data.len() <= options.max_envelope_bytes) {
                assert_eq!(
                    e.correlation_id(),
                    Some(envelope.correlation_id.as_str()),
                    "error without the envelope's correlation id: {e}"
                );
            }
        }
    }
}

/// The base64 codec: whatever decodes is canonical (re-encodes to the same text), and
/// arbitrary bytes survive a round trip.
pub fn base64(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bytes) = codec::decode(text)
    {
        assert_eq!(codec::encode(bytes.as_slice()), text, "accepted non-canonical base64");
    }
    let text = codec::encode(data);
    assert_eq!(text.len(), codec::encoded_len(data.len()));
    let back = codec::decode(&text).expect("own encoding decodes");
    assert_eq!(back.as_slice(), data);
}

/// Arrow IPC stream decoding with limits: no panic, limits hold, and what decodes
/// re-encodes to a stream that decodes to the same rows.
pub fn arrow_ipc(data: &[u8]) {
    tolerate_caught_arrow_panics();
    let Ok(table) = decode_table(Buffer::from(data), LIMITS) else { return };
    assert!(table.batches.len() <= LIMITS.max_batches);
    assert!(table.schema.fields().len() <= LIMITS.max_columns);
    let again = encode_table(&table).expect("a decoded table encodes");
    let back = decode_table(Buffer::from(again), LIMITS).expect("a re-encoded table decodes");
    assert_eq!(back.num_rows(), table.num_rows());
    // Names and order survive; arrow-rs writes an empty timezone as none, so types are
    // not compared exactly.
    let names =
        |t: &crate::table::Table| t.schema.fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
    assert_eq!(names(&back), names(&table));
}

/// `Payload::from_bytes` for every payload type (the first byte picks it): no panic,
/// and binary-like types keep their bytes exactly.
pub fn payload(data: &[u8]) {
    tolerate_caught_arrow_panics();
    let Some((&selector, body)) = data.split_first() else { return };
    const TYPES: [PayloadType; 8] = [
        PayloadType::Text,
        PayloadType::Dictionary,
        PayloadType::Arrowtable,
        PayloadType::Jsontable,
        PayloadType::Image,
        PayloadType::Audio,
        PayloadType::Video,
        PayloadType::Binary,
    ];
    let payload_type = &TYPES[usize::from(selector) % TYPES.len()];
    match Payload::from_bytes(payload_type, Buffer::from(body), LIMITS) {
        Ok(Payload::Binary(b) | Payload::Image(b) | Payload::Audio(b) | Payload::Video(b)) => {
            assert_eq!(&b[..], body);
        }
        Ok(Payload::Text(s)) => assert_eq!(s.as_bytes(), body),
        Ok(Payload::JsonTable(v)) => assert!(v.is_array()),
        Ok(_) => {}
        Err(e) => assert!(!e.message().is_empty()),
    }
}
