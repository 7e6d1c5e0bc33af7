//! Hostile input, without a fuzzer: the committed fuzz corpus and every crash the fuzzer
//! ever found (`fuzz/regressions/<target>/`) replayed through the same properties the
//! fuzz targets check (`natsbridge::fuzzing`), and the limits that must hold before
//! anything is allocated.

use std::path::Path;

use arrow_array::{Int32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use natsbridge::table::TableLimits;
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions, Table, smartreceive_bytes, smartsend};
use serde_json::{Value, json};

const CID: &str = "7e2d9c4b-1a3f-4b5e-8d6c-0f1e2a3b4c5d";

/// Runs `property` on every file of `fuzz/{corpus,regressions}/<target>/`; returns the count.
fn replay(target: &str, property: fn(&[u8])) -> usize {
    let root = natsbridge_testkit::project_root().join("fuzz");
    let mut n = 0;
    for kind in ["corpus", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).unwrap();
            let name = entry.path().display().to_string();
            if std::panic::catch_unwind(|| property(&data)).is_err() {
                panic!("{name} breaks the `{target}` property (replay: cargo xtask fuzz --target {target})");
            }
            n += 1;
        }
    }
    n
}

#[test]
fn fuzz_corpus_and_past_crashes_replay_clean() {
    let counts = [
        ("envelope", replay("envelope", natsbridge::fuzzing::envelope)),
        ("payload", replay("payload", natsbridge::fuzzing::payload)),
        ("arrow_ipc", replay("arrow_ipc", natsbridge::fuzzing::arrow_ipc)),
        ("base64", replay("base64", natsbridge::fuzzing::base64)),
    ];
    for (target, n) in counts {
        assert!(n > 0, "no corpus for {target}: fuzz/corpus/{target} is missing");
    }
    let regressions = natsbridge_testkit::project_root().join("fuzz/regressions");
    assert!(Path::new(&regressions).is_dir(), "the regressions directory went missing");
}

/// The streams that crashed arrow-ipc 60.1 under fuzzing (a buffer declared past its body,
/// an offsets buffer whose length is not a multiple of its width), as errors with a code
/// instead of a panic that takes the receiver down.
#[test]
fn arrow_streams_that_crashed_the_fuzzer_are_a_typed_error() {
    let crashes = [
        ("arrow_ipc", "crash-91421eb0732e3b5d5d409a5acdac20b4dce5b02f"),
        ("arrow_ipc", "crash-8dcfa7b4996126fd10d0c993acabacc7030b4b91"),
        ("payload", "crash-479574ffe6df090744abb7caa1b80f20e7c72f0e"),
        ("payload", "crash-8a420917386cce2d0c8ac8289420847ddee5eafa"),
    ];
    for (target, name) in crashes {
        let path = natsbridge_testkit::project_root().join("fuzz/regressions").join(target).join(name);
        let data = std::fs::read(&path).unwrap();
        let bytes = if target == "payload" { data[1..].to_vec() } else { data };
        let err = natsbridge::table::decode_table(arrow_buffer::Buffer::from(bytes), TableLimits::default())
            .expect_err("a malformed stream decodes");
        assert_eq!(err.code(), &ErrorCode::DeserializationError, "{name}: {err}");
    }
}

fn small_table(columns: usize, batches: usize) -> Table {
    let fields: Vec<Field> =
        (0..columns).map(|i| Field::new(format!("c{i}"), DataType::Int32, false)).collect();
    let schema = std::sync::Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(
        schema.clone(),
        (0..columns).map(|_| std::sync::Arc::new(Int32Array::from(vec![1, 2])) as _).collect(),
    )
    .unwrap();
    Table::new(schema, vec![batch; batches])
}

async fn envelope_of(payloads: Vec<(String, Payload)>) -> Value {
    let options = SendOptions::default().no_publish().size_threshold(usize::MAX).correlation_id(CID);
    let json = smartsend("hostile", payloads, &options).await.unwrap().json;
    serde_json::from_str(&json).unwrap()
}

fn strict() -> ReceiveOptions {
    natsbridge::fuzzing::offline_receive_options()
        .max_envelope_bytes(64 << 10)
        .max_payloads(8)
        .table_limits(TableLimits { max_batches: 4, max_columns: 16 })
}

#[track_caller]
fn assert_refused(err: natsbridge::Error, code: ErrorCode) {
    assert_eq!(err.code(), &code, "{err}");
    assert_eq!(err.correlation_id(), Some(CID), "{err}");
}

#[tokio::test]
async fn limits_hold_before_anything_is_allocated() {
    // Envelope larger than the limit: refused by length, before parsing. The header's
    // correlation id is still reported.
    let big = envelope_of(vec![("b".into(), Payload::Binary(vec![0u8; 70_000].into()))]).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(natsbridge::wire::HEADER_CORRELATION_ID, CID);
    let err = smartreceive_bytes(big.to_string().as_bytes(), Some(headers), &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::PayloadTooLarge);

    // More payloads than allowed: refused before the first is decoded.
    let many = envelope_of((0..9).map(|i| (format!("p{i}"), Payload::Text("x".into()))).collect()).await;
    let err = smartreceive_bytes(many.to_string().as_bytes(), None, &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::PayloadTooLarge);

    // A declared size of 10^15 on a direct payload: refused from the number alone.
    let mut one = envelope_of(vec![("t".into(), Payload::Text("hello".into()))]).await;
    one["payloads"][0]["size"] = json!(1_000_000_000_000_000u64);
    let err = smartreceive_bytes(one.to_string().as_bytes(), None, &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::PayloadTooLarge);

    // Arrow limits: too many columns, too many batches.
    let wide = envelope_of(vec![("w".into(), Payload::ArrowTable(small_table(17, 1)))]).await;
    let err = smartreceive_bytes(wide.to_string().as_bytes(), None, &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::PayloadTooLarge);
    let long = envelope_of(vec![("l".into(), Payload::ArrowTable(small_table(2, 5)))]).await;
    let err = smartreceive_bytes(long.to_string().as_bytes(), None, &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::PayloadTooLarge);
    // ... and just inside them, accepted.
    let fine = envelope_of(vec![("f".into(), Payload::ArrowTable(small_table(16, 4)))]).await;
    let got = smartreceive_bytes(fine.to_string().as_bytes(), None, &strict()).await.unwrap();
    assert_eq!(got.payloads[0].data.num_rows(), Some(8));
}

#[tokio::test]
async fn deeply_nested_json_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let err = smartreceive_bytes(deep.as_bytes(), None, &strict()).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::InvalidEnvelope);
    // Inside a dictionary payload too.
    let mut env = envelope_of(vec![("d".into(), Payload::Text("x".into()))]).await;
    let nested = format!("{}1{}", "[".repeat(5_000), "]".repeat(5_000));
    env["payloads"][0]["payload_type"] = json!("dictionary");
    env["payloads"][0]["size"] = json!(nested.len());
    env["payloads"][0]["data"] = json!(natsbridge::codec::encode(nested.as_bytes()));
    env["payloads"][0]["metadata"] = json!({});
    let err = smartreceive_bytes(env.to_string().as_bytes(), None, &strict()).await.unwrap_err();
    assert_refused(err, ErrorCode::DeserializationError);
}

#[tokio::test]
async fn links_outside_the_allowed_schemes_hosts_and_directories_are_refused_without_io() {
    let mut env = envelope_of(vec![("t".into(), Payload::Text("hello".into()))]).await;
    env["payloads"][0]["transport"] = json!("link");
    env["payloads"][0]["encoding"] = json!("none");
    for link in [
        "ftp://files.example.com/x",
        "gopher://127.0.0.1:70/x",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:1/x",
        "file:///etc/passwd",
        "file:///nonexistent/path",
        "nats-os://bucket/object",
        "not a url",
    ] {
        env["payloads"][0]["data"] = json!(link);
        let started = std::time::Instant::now();
        let err = smartreceive_bytes(env.to_string().as_bytes(), None, &strict()).await.unwrap_err();
        assert_refused(err, ErrorCode::UrlNotAllowed);
        assert!(started.elapsed() < std::time::Duration::from_millis(200), "{link}: it tried to connect");
    }
    // A directory is allowed, but a link that escapes it (`..`, a symlink) is not.
    let dir = tempfile::tempdir().unwrap();
    let allowed = dir.path().join("allowed");
    std::fs::create_dir(&allowed).unwrap();
    std::fs::write(dir.path().join("secret"), b"hello").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), allowed.join("link")).unwrap();
    let options = strict().allow_dir(allowed.clone());
    for path in [allowed.join("../secret"), allowed.join("link")] {
        env["payloads"][0]["data"] = json!(format!("file://{}", path.display()));
        let err = smartreceive_bytes(env.to_string().as_bytes(), None, &options).await.unwrap_err();
        assert_refused(err, ErrorCode::UrlNotAllowed);
    }
}
