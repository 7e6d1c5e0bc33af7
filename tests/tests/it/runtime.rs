//! smartsend / smartreceive against a real nats-server and the embedded file server.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::types::{MsgPurpose, Transport};
use natsbridge::{
    ErrorCode, Payload, ReceiveOptions, Received, SendOptions, Table, smartreceive, smartreceive_bytes,
    smartsend,
};
use natsbridge_testkit::schema::assert_valid_envelope;
use natsbridge_testkit::{NatsServer, file_server};
use serde_json::json;

fn table(rows: usize) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("value", DataType::Float64, true),
        Field::new("label", DataType::Utf8, false),
    ]));
    let ids = Int64Array::from_iter_values(0..rows as i64);
    let values =
        Float64Array::from_iter((0..rows).map(|i| if i % 7 == 0 { None } else { Some(i as f64 * 0.5) }));
    let labels = StringArray::from_iter_values((0..rows).map(|i| format!("row-{i:06}")));
    Table::from_batch(
        RecordBatch::try_new(schema, vec![Arc::new(ids), Arc::new(values), Arc::new(labels)]).unwrap(),
    )
}

pub(crate) fn all_types() -> Vec<(String, Payload)> {
    vec![
        ("greeting".into(), Payload::Text("Hello World — ünïcødé ✓".into())),
        (
            "config".into(),
            Payload::Dictionary(json!({"step_size": 0.01, "iterations": 1000, "nested": {"a": [1, 2]}})),
        ),
        ("table".into(), Payload::ArrowTable(table(1000))),
        ("rows".into(), Payload::JsonTable(json!([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]))),
        (
            "photo".into(),
            Payload::Image(Bytes::from((0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>())),
        ),
        ("voice".into(), Payload::Audio(Bytes::from(vec![7u8; 3000]))),
        ("clip".into(), Payload::Video(Bytes::from(vec![9u8; 2000]))),
        ("blob".into(), Payload::Binary(Bytes::from_static(&[0, 1, 2, 255]))),
    ]
}

struct Setup {
    _server: NatsServer,
    files: natsbridge::fileserver::FileServer,
    client: async_nats::Client,
}

async fn setup() -> Setup {
    setup_with("").await
}

async fn setup_with(config: &str) -> Setup {
    let server = NatsServer::spawn_with_config(config);
    let files = file_server().await.unwrap();
    let client = natsbridge::connect(&server.url()).await.unwrap();
    Setup { _server: server, files, client }
}

impl Setup {
    fn send(&self, threshold: usize) -> SendOptions {
        SendOptions::default().connection(&self.client).fileserver(self.files.url()).size_threshold(threshold)
    }
    fn receive(&self) -> ReceiveOptions {
        ReceiveOptions::default().allow_host(self.files.url())
    }
    /// Sends and receives one envelope over NATS.
    async fn round_trip(
        &self,
        payloads: Vec<(String, Payload)>,
        options: &SendOptions,
    ) -> (String, Received) {
        let subject = format!("test.{}", uuid_like());
        let mut sub = self.client.subscribe(subject.clone()).await.unwrap();
        let json = smartsend(&subject, payloads, options).await.unwrap().json;
        assert_valid_envelope(&json);
        let msg = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.unwrap().unwrap();
        assert_eq!(&msg.payload[..], json.as_bytes(), "the published bytes are the returned JSON");
        (json, smartreceive(&msg, &self.receive()).await.unwrap())
    }
}

fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

pub(crate) fn assert_same(sent: &Payload, got: &Payload) {
    match (sent, got) {
        (Payload::Text(a), Payload::Text(b)) => assert_eq!(a, b),
        (Payload::Dictionary(a), Payload::Dictionary(b)) | (Payload::JsonTable(a), Payload::JsonTable(b)) => {
            assert_eq!(a, b)
        }
        (Payload::ArrowTable(a), Payload::ArrowTable(b)) => {
            assert_eq!(a.schema, b.schema);
            assert_eq!(a.batches, b.batches);
        }
        (Payload::Image(a), Payload::Image(b))
        | (Payload::Audio(a), Payload::Audio(b))
        | (Payload::Video(a), Payload::Video(b))
        | (Payload::Binary(a), Payload::Binary(b)) => assert_eq!(a, b),
        (a, b) => panic!("type changed: sent {:?}, got {:?}", a.payload_type(), b.payload_type()),
    }
}

#[tokio::test]
async fn every_payload_type_direct() {
    let s = setup().await;
    let sent = all_types();
    let (_json, got) = s.round_trip(sent.clone(), &s.send(500_000)).await;
    assert_eq!(got.payloads.len(), sent.len());
    for ((name, payload), p) in sent.iter().zip(&got.payloads) {
        assert_eq!(&p.dataname, name);
        assert_eq!(p.transport, Transport::Direct, "{name}");
        assert_same(payload, &p.data);
    }
    assert_eq!(got.header(natsbridge::wire::HEADER_MSG_ID), Some(got.envelope.msg_id.as_str()));
    assert_eq!(got.header(natsbridge::wire::HEADER_CORRELATION_ID), Some(got.correlation_id()));
}

#[tokio::test]
async fn every_payload_type_by_link() {
    let s = setup().await;
    let sent = all_types();
    let (json, got) = s.round_trip(sent.clone(), &s.send(1)).await;
    for ((name, payload), p) in sent.iter().zip(&got.payloads) {
        assert_eq!(p.transport, Transport::Link, "{name}");
        assert_same(payload, &p.data);
    }
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for p in v["payloads"].as_array().unwrap() {
        assert_eq!(p["encoding"], "none");
        assert!(p["data"].as_str().unwrap().starts_with(s.files.url()), "{}", p["data"]);
        assert_eq!(p["metadata"]["sha256"].as_str().unwrap().len(), 64);
    }
}

#[tokio::test]
async fn mixed_envelope_keeps_order_and_chooses_per_payload() {
    let s = setup().await;
    let sent = vec![
        ("small".to_owned(), Payload::Text("tiny".into())),
        ("big".to_owned(), Payload::Binary(Bytes::from(vec![1u8; 600_000]))),
        ("table".to_owned(), Payload::ArrowTable(table(50_000))),
        ("cfg".to_owned(), Payload::Dictionary(json!({"k": "v"}))),
    ];
    let (_json, got) = s.round_trip(sent.clone(), &s.send(500_000)).await;
    let transports: Vec<_> =
        got.payloads.iter().map(|p| (p.dataname.as_str(), p.transport.clone())).collect();
    assert_eq!(
        transports,
        vec![
            ("small", Transport::Direct),
            ("big", Transport::Link),
            ("table", Transport::Link),
            ("cfg", Transport::Direct)
        ]
    );
    for ((_, payload), p) in sent.iter().zip(&got.payloads) {
        assert_same(payload, &p.data);
    }
}

#[tokio::test]
async fn broker_url_names_the_server_the_message_went_through() {
    let s = setup().await;
    let server = s._server.url();
    let (_json, got) = s.round_trip(vec![("t".into(), Payload::Text("x".into()))], &s.send(500_000)).await;
    assert_eq!(got.envelope.broker_url.as_deref(), Some(server.as_str()), "an existing client's server");
    // A URL with credentials is named without them, published (the server has no users
    // configured, so it accepts any) or not.
    let with_secret = server.replace("nats://", "nats://user:s3cret@");
    for publish in [true, false] {
        let options = SendOptions::default().connection(with_secret.as_str()).publish(publish);
        let sent = smartsend("broker.url", [("t", Payload::Text("x".into()))], &options).await.unwrap();
        assert_eq!(sent.envelope.broker_url.as_deref(), Some(server.as_str()), "publish: {publish}");
        assert!(!sent.json.contains("s3cret"), "{}", sent.json);
    }
}

/// A TCP relay between a client and the real server that keeps what the client wrote.
async fn recording_relay(
    server: std::net::SocketAddr,
) -> (std::net::SocketAddr, Arc<std::sync::Mutex<Vec<u8>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let upstream = tokio::net::TcpStream::connect(server).await.unwrap();
        let (mut client_read, mut client_write) = client.into_split();
        let (mut server_read, mut server_write) = upstream.into_split();
        tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = client_read.read(&mut buf).await {
            if n == 0 || server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            record.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (addr, seen)
}

/// The header length the budget uses is the one async-nats puts on the wire: read the
/// `HPUB <subject> <header bytes> <total bytes>` line the client really wrote.
#[tokio::test]
async fn the_budget_s_header_length_is_what_goes_on_the_wire() {
    let server = NatsServer::spawn();
    let port: u16 = server.url().rsplit(':').next().unwrap().parse().unwrap();
    let (relay, seen) = recording_relay(([127, 0, 0, 1], port).into()).await;
    let client = natsbridge::connect(&format!("nats://{relay}")).await.unwrap();
    let receiver = natsbridge::connect(&server.url()).await.unwrap();
    let mut sub = receiver.subscribe("hdr.len").await.unwrap();
    natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
    let options = SendOptions::default()
        .connection(&client)
        .header("Sample-Rate", "44100")
        .header("X-Unicode-Note", "naïve ☃")
        .header("Channels", "1");
    let sent = smartsend("hdr.len", [("t", Payload::Text("hello".into()))], &options).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap().unwrap();
    let headers = msg.headers.as_ref().expect("headers arrived");

    let wire = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    let hpub =
        wire.lines().find(|l| l.starts_with("HPUB hdr.len ")).unwrap_or_else(|| panic!("no HPUB in {wire}"));
    let fields: Vec<usize> = hpub.split(' ').skip(2).map(|n| n.parse().unwrap()).collect();
    let (header_bytes, total) = (fields[0], fields[1]);
    assert_eq!(natsbridge::wire::header_len(headers), header_bytes, "{hpub}");
    assert_eq!(total - header_bytes, sent.json.len(), "{hpub}");
}

#[tokio::test]
async fn threshold_boundaries() {
    let s = setup().await;
    let n = 100_000;
    for (len, expected) in [(n - 1, Transport::Direct), (n, Transport::Link), (n + 1, Transport::Link)] {
        let (_json, got) =
            s.round_trip(vec![("b".into(), Payload::Binary(Bytes::from(vec![3u8; len])))], &s.send(n)).await;
        assert_eq!(got.payloads[0].transport, expected, "{len} bytes with threshold {n}");
        assert_eq!(got.payloads[0].bytes().len(), len);
    }
}

#[tokio::test]
async fn max_payload_budget_moves_largest_payloads_to_link() {
    // A server with a 64 KiB max_payload: three 30 KB payloads fit the threshold but not
    // the message (base64 makes them 40 KB each).
    let s = setup_with("max_payload: 65536").await;
    assert_eq!(s.client.server_info().max_payload, 65536);
    let sent: Vec<(String, Payload)> = vec![
        ("a".into(), Payload::Binary(Bytes::from(vec![1u8; 30_000]))),
        ("b".into(), Payload::Binary(Bytes::from(vec![2u8; 31_000]))),
        ("c".into(), Payload::Binary(Bytes::from(vec![3u8; 29_000]))),
    ];
    let (json, got) = s.round_trip(sent.clone(), &s.send(500_000)).await;
    assert!(json.len() <= 65536);
    let links: Vec<&str> =
        got.payloads.iter().filter(|p| p.transport == Transport::Link).map(|p| p.dataname.as_str()).collect();
    assert_eq!(links, vec!["a", "b"], "the two largest move to link, the smallest stays inline");
    for ((_, payload), p) in sent.iter().zip(&got.payloads) {
        assert_same(payload, &p.data);
    }
    // Around the edge: every size publishes (no MaxPayloadExceeded), and inline becomes
    // link exactly where base64 + envelope + headers stop fitting.
    let opts = s.send(500_000).header("Sample-Rate", "44100");
    let mut seen = Vec::new();
    for len in (47_000..49_500).step_by(100) {
        let (json, got) =
            s.round_trip(vec![("edge".into(), Payload::Audio(Bytes::from(vec![5u8; len])))], &opts).await;
        assert!(json.len() <= 65536);
        assert_eq!(got.header("Sample-Rate"), Some("44100"));
        assert_eq!(got.payloads[0].bytes().len(), len);
        seen.push(got.payloads[0].transport.clone());
    }
    let flip = seen.iter().position(|t| *t == Transport::Link).expect("some sizes must go by link");
    assert!(flip > 0, "small sizes stay inline");
    assert!(seen[flip..].iter().all(|t| *t == Transport::Link), "once too big, always link: {seen:?}");
    // Byte by byte below the flip: every size is accepted by the server (round_trip
    // unwraps), and the largest inline message comes within a few hundred bytes of
    // max_payload: the budget is tight, so a header length counted short would have
    // pushed some message over the limit.
    let flip_len = 47_000 + 100 * flip;
    let mut largest_inline = 0;
    for len in flip_len - 100..flip_len {
        let (json, got) =
            s.round_trip(vec![("edge".into(), Payload::Audio(Bytes::from(vec![5u8; len])))], &opts).await;
        if got.payloads[0].transport == Transport::Direct {
            largest_inline = largest_inline.max(json.len());
        }
    }
    assert!(largest_inline > 0, "some sizes below the flip stay inline");
    assert!(65_536 - largest_inline < 400, "the budget wastes room: largest inline message {largest_inline}");
}

#[tokio::test]
async fn link_arrow_tables_are_decoded_without_copying() {
    let s = setup().await;
    let (_json, got) =
        s.round_trip(vec![("t".into(), Payload::ArrowTable(table(200_000)))], &s.send(1)).await;
    let p = &got.payloads[0];
    let Payload::ArrowTable(t) = &p.data else { panic!("not a table") };
    assert_eq!(t.num_rows(), 200_000);
    let range = p.bytes().as_ptr_range();
    let ids = t.batches[0].column(0).to_data();
    let labels = t.batches[0].column(2).to_data();
    for buf in ids.buffers().iter().chain(labels.buffers()) {
        let ptr = buf.as_ptr();
        assert!(range.contains(&ptr), "column buffer {ptr:?} lies outside the downloaded bytes {range:?}");
    }
}

#[tokio::test]
async fn disallowed_link_host_is_refused() {
    let s = setup().await;
    let json = smartsend("x", [("b", Payload::Binary(Bytes::from(vec![1u8; 10])))], &s.send(1).no_publish())
        .await
        .unwrap()
        .json;
    let strict = ReceiveOptions::default().allowed_hosts(["https://files.example.com"]);
    let err = smartreceive_bytes(json.as_bytes(), None, &strict).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UrlNotAllowed);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(err.correlation_id(), v["correlation_id"].as_str());
    assert_eq!(err.dataname(), Some("b"));
}

#[tokio::test]
async fn integrity_failures_are_typed_errors() {
    let s = setup().await;
    let opts = s.send(500_000).no_publish();
    let json = smartsend("x", [("t", Payload::Text("Hello World".into()))], &opts).await.unwrap().json;
    let good: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cases = [
        ("/payloads/0/metadata/sha256", json!("00".repeat(32)), ErrorCode::IntegrityMismatch),
        ("/payloads/0/size", json!(12), ErrorCode::IntegrityMismatch),
        ("/payloads/0/data", json!("SGVsbG8gV29ybGQ"), ErrorCode::IntegrityMismatch),
        ("/payloads/0/data", json!("SGVsbG8@V29ybGQ="), ErrorCode::DeserializationError),
        ("/payloads/0/transport", json!("carrier-pigeon"), ErrorCode::InvalidTransport),
        ("/payloads/0/payload_type", json!("hologram"), ErrorCode::InvalidPayloadType),
        ("/payloads/0/size", json!(1u64 << 50), ErrorCode::PayloadTooLarge),
        ("/msg_id", json!("not-a-uuid"), ErrorCode::InvalidEnvelope),
    ];
    for (pointer, value, code) in cases {
        let mut bad = good.clone();
        *bad.pointer_mut(pointer).unwrap() = value;
        let err = smartreceive_bytes(bad.to_string().as_bytes(), None, &s.receive()).await.unwrap_err();
        assert_eq!(err.code(), &code, "{pointer}: {err}");
        assert_eq!(err.correlation_id(), good["correlation_id"].as_str(), "{pointer}");
    }
    // A link whose server returns other bytes than were uploaded: the sha256 catches it.
    let json = smartsend("x", [("t", Payload::Text("Hello World".into()))], &s.send(1).no_publish())
        .await
        .unwrap()
        .json;
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let other = smartsend("x", [("t", Payload::Text("Hello Wörld".into()))], &s.send(1).no_publish())
        .await
        .unwrap()
        .json;
    let other: serde_json::Value = serde_json::from_str(&other).unwrap();
    v["payloads"][0]["data"] = other["payloads"][0]["data"].clone();
    let err = smartreceive_bytes(v.to_string().as_bytes(), None, &s.receive()).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch, "{err}");
    // Garbage that is not even JSON.
    let err = smartreceive_bytes(b"\xff\xfe not json", None, &s.receive()).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::InvalidEnvelope);
}

#[tokio::test]
async fn backoff_waits_for_a_file_server_that_appears_late() {
    // Reserve a port, publish an envelope linking to it, start serving 400 ms later.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let body = b"late but whole".to_vec();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let envelope = json!({
        "correlation_id": "0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11", "msg_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
        "timestamp": "2026-03-13T07:02:50.443Z", "send_to": "late", "msg_purpose": "event", "sender_name": "t",
        "sender_id": "", "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "",
        "payloads": [{"id": "9d3a4c1e-6b7f-4e2a-8c5d-1f0e2d3c4b5a", "dataname": "late", "payload_type": "binary",
            "transport": "link", "encoding": "none", "size": body.len(), "data": format!("http://{addr}/late.bin"),
            "metadata": {"sha256": sha}}]
    });
    let served = body.clone();
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let app =
            axum::Router::new().route("/late.bin", axum::routing::get(move || async move { served.clone() }));
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        axum::serve(listener, app).await.unwrap();
    });
    // Full jitter can draw short delays; ten attempts make a window of seconds.
    let options = ReceiveOptions::default()
        .allow_host(&format!("http://{addr}"))
        .fetch(natsbridge::fetch::FetchOptions { max_attempts: 10, ..Default::default() });
    let started = std::time::Instant::now();
    let got = smartreceive_bytes(envelope.to_string().as_bytes(), None, &options).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(350), "it really had to wait");
    assert_eq!(got.payloads[0].bytes(), &body[..]);
    server.abort();

    // And a server that never appears: DOWNLOAD_FAILED after the attempts, within the deadline.
    let options = ReceiveOptions::default()
        .allow_host(&format!("http://{addr}"))
        .fetch(natsbridge::fetch::FetchOptions { max_attempts: 3, ..Default::default() });
    let err = smartreceive_bytes(envelope.to_string().as_bytes(), None, &options).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DownloadFailed, "{err}");
    assert!(err.to_string().contains("after 3 attempts"), "{err}");
}

#[tokio::test]
async fn request_reply_answers_running() {
    let s = setup().await;
    let service = s.client.clone();
    let mut commands = service.subscribe("sim.command").await.unwrap();
    let files_url = s.files.url().to_owned();
    tokio::spawn(async move {
        while let Some(msg) = commands.next().await {
            let req = smartreceive(&msg, &ReceiveOptions::default().allow_host(&files_url)).await.unwrap();
            let Payload::Dictionary(cfg) = &req.payloads[0].data else { panic!() };
            let status = json!({"status": "Running", "iterations": cfg["iterations"]});
            natsbridge::smartreply(
                &service,
                &req.envelope,
                [("status", Payload::Dictionary(status))],
                SendOptions::default(),
            )
            .await
            .unwrap();
        }
    });
    let cfg = json!({"step_size": 0.01, "iterations": 1000});
    let reply = natsbridge::smartrequest(
        &s.client,
        "sim.command",
        [("config", Payload::Dictionary(cfg))],
        s.send(500_000).purpose(MsgPurpose::Command),
        &s.receive(),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let Payload::Dictionary(status) = &reply.payloads[0].data else { panic!() };
    assert_eq!(status["status"], "Running");
    assert_eq!(status["iterations"], 1000);
    assert!(!reply.envelope.reply_to_msg_id.is_empty());
}

#[tokio::test]
async fn publish_message_sends_prebuilt_envelopes() {
    let s = setup().await;
    let mut sub = s.client.subscribe("pre").await.unwrap();
    let natsbridge::Sent { envelope: env, json, .. } =
        smartsend("pre", [("t", Payload::Text("hi".into()))], &s.send(500_000).no_publish()).await.unwrap();
    natsbridge::publish_message(&s.client, "pre", json.clone(), env.correlation_id.as_str()).await.unwrap();
    let msg = sub.next().await.unwrap();
    assert_eq!(&msg.payload[..], json.as_bytes());
    let got = smartreceive(&msg, &s.receive()).await.unwrap();
    assert_eq!(got.header(natsbridge::wire::HEADER_MSG_ID), Some(env.msg_id.as_str()));
}

#[tokio::test]
async fn missing_nats_server_is_a_typed_error() {
    let err = smartsend(
        "x",
        [("t", Payload::Text("hi".into()))],
        &SendOptions::default().connection("nats://127.0.0.1:1"),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), &ErrorCode::NatsConnectionFailed);
    assert!(err.correlation_id().is_some());
}

/// The default options do not flush per envelope: a `Sender` streams thousands of
/// envelopes (links among them) with them, one `flush` at the end, and every one
/// arrives, in order. A send on a connection of its own flushes before closing it, and
/// a send on a closed connection is a typed error, not a silent loss.
#[tokio::test]
async fn a_sender_streams_with_default_options_and_loses_nothing() {
    let s = setup().await;
    let subject = format!("stream.{}", uuid_like());
    let receiver = natsbridge::connect(&s._server.url()).await.unwrap();
    let mut sub = receiver.subscribe(subject.clone()).await.unwrap();
    natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
    let options = SendOptions::default().fileserver(s.files.url()).size_threshold(4_000);
    let sender = natsbridge::Sender::connect(&s._server.url(), options).await.unwrap();
    let count = 3_000u64;
    let collect = tokio::spawn(async move {
        let receive = ReceiveOptions::default().allow_host("*");
        let mut seen = Vec::new();
        while (seen.len() as u64) < count {
            let msg = sub.next().await.unwrap();
            let got = smartreceive(&msg, &receive).await.unwrap();
            let Payload::Dictionary(v) = &got.payloads[0].data else { panic!("not a dictionary") };
            seen.push((v["i"].as_u64().unwrap(), got.payloads[0].transport.clone()));
        }
        seen
    });
    for i in 0..count {
        // Every 500th envelope carries 5 KB: over the threshold, so it goes by link.
        let pad = if i % 500 == 0 { "x".repeat(5_000) } else { String::new() };
        sender.send(&subject, [("n", Payload::Dictionary(json!({ "i": i, "pad": pad })))]).await.unwrap();
    }
    sender.flush().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(30), collect).await.unwrap().unwrap();
    assert_eq!(seen.iter().map(|(i, _)| *i).collect::<Vec<_>>(), (0..count).collect::<Vec<_>>());
    assert_eq!(seen.iter().filter(|(_, t)| *t == Transport::Link).count(), 6);

    // A URL connection is opened, flushed and closed by the call itself.
    let mut sub = receiver.subscribe(format!("{subject}.own")).await.unwrap();
    natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
    let own = SendOptions::default().connection(s._server.url());
    smartsend(&format!("{subject}.own"), [("t", Payload::Text("last".into()))], &own).await.unwrap();
    let msg = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.unwrap().unwrap();
    assert!(
        matches!(&smartreceive(&msg, &s.receive()).await.unwrap().payloads[0].data, Payload::Text(t) if t == "last")
    );

    // A closed connection fails the send.
    sender.client().drain().await.unwrap();
    // `drain` returns before the connection is closed; wait until it is.
    let closed = tokio::time::Instant::now() + Duration::from_secs(10);
    while sender.flush().await.is_ok() {
        assert!(tokio::time::Instant::now() < closed, "the drained connection never closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let err = sender.send(&subject, [("t", Payload::Text("late".into()))]).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::PublishFailed, "{err}");
    assert!(err.correlation_id().is_some());
}

/// A table over the threshold is encoded while it uploads (in slices, 1 MiB chunks), to
/// every store: it arrives whole, with the size and SHA-256 of what was uploaded, and
/// as batches that slice the sender's one batch.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_table_streams_into_every_store() {
    let s = setup().await;
    let js = async_nats::jetstream::new(s.client.clone());
    let dir = tempfile::tempdir().unwrap();
    let stores: Vec<(&str, Arc<dyn natsbridge::blob::BlobStore>)> = vec![
        ("file server", Arc::new(natsbridge::blob::PlikStore::new(s.files.url()))),
        (
            "object store",
            Arc::new(
                natsbridge::blob::NatsObjectStore::open(&js, "tables", Duration::from_secs(600))
                    .await
                    .unwrap(),
            ),
        ),
        ("directory", Arc::new(natsbridge::blob::FsStore::new(dir.path()).unwrap())),
    ];
    let sent_table = table(600_000);
    let receive = s.receive().allow_dir(dir.path()).jetstream(js.clone());
    for (name, store) in stores {
        let options = SendOptions::default().blob_store(store).no_publish();
        let sent =
            smartsend("t", [("big", Payload::ArrowTable(sent_table.clone()))], &options).await.unwrap();
        let wire = &sent.envelope.payloads[0];
        assert_eq!(wire.transport, Transport::Link, "{name}");
        let got = smartreceive_bytes(sent.json.as_bytes(), None, &receive).await.unwrap();
        let p = &got.payloads[0];
        assert_eq!(p.bytes().len() as u64, wire.size, "{name}: the declared size is what was uploaded");
        assert_eq!(
            Some(p.sha256().as_str()),
            wire.metadata.as_ref().and_then(|m| m["sha256"].as_str()),
            "{name}: the declared SHA-256 is what was uploaded"
        );
        let Payload::ArrowTable(t) = &p.data else { panic!("{name}: not a table") };
        assert_eq!(t.num_rows(), 600_000, "{name}");
        assert!(t.batches.len() > 1, "{name}: the 600 000-row batch went as slices");
        let mut offset = 0;
        for batch in &t.batches {
            assert_eq!(batch, &sent_table.batches[0].slice(offset, batch.num_rows()), "{name}");
            offset += batch.num_rows();
        }
    }
}

/// A responder on a fresh subject of `s`'s server: answers each request with `answer`'s
/// payload after `delay`. Returns the subject and the serving task.
async fn responder(
    s: &Setup,
    answer: fn(&natsbridge::Received) -> (&'static str, Payload),
    delay: Duration,
) -> (String, tokio::task::JoinHandle<()>) {
    let subject = format!("req.{}", uuid_like());
    let responder = natsbridge::connect(&s._server.url()).await.unwrap();
    let mut sub = responder.subscribe(subject.clone()).await.unwrap();
    natsbridge::transport::subscriptions_registered(&responder).await.unwrap();
    let serving = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let request = smartreceive(&msg, &ReceiveOptions::default()).await.unwrap();
            tokio::time::sleep(delay).await;
            natsbridge::smartreply(&responder, &request.envelope, [answer(&request)], SendOptions::default())
                .await
                .unwrap();
        }
    });
    (subject, serving)
}

/// The request reading a `Requester`'s reply subscription can time out while another waits:
/// the other reads on and gets its reply (no task of the requester's own hands replies out).
#[tokio::test(flavor = "multi_thread")]
async fn a_requester_hands_its_replies_on_when_the_reading_request_times_out() {
    let s = setup().await;
    let (subject, serving) =
        responder(&s, |_| ("ok", Payload::Text("late".into())), Duration::from_millis(400)).await;
    let client = natsbridge::connect(&s._server.url()).await.unwrap();
    let requester = natsbridge::Requester::new(client.clone()).await.unwrap();
    let request = |subject: String, timeout: Duration| {
        let requester = requester.clone();
        async move {
            requester
                .request(
                    &subject,
                    [("n", Payload::Text("hi".into()))],
                    SendOptions::default(),
                    &ReceiveOptions::default(),
                    timeout,
                )
                .await
        }
    };
    // The first waits on a subject nobody answers, and so reads the subscription first.
    let unanswered = tokio::spawn(request(format!("nobody.{}", uuid_like()), Duration::from_millis(150)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let answered = tokio::spawn(request(subject, Duration::from_secs(10)));
    let err = unanswered.await.unwrap().unwrap_err();
    assert_eq!(*err.code(), ErrorCode::Timeout, "{err}");
    let reply = answered.await.unwrap().unwrap();
    assert!(matches!(&reply.payloads[0].data, Payload::Text(t) if t == "late"));
    serving.abort();
}

/// Fifty concurrent requests through one `Requester` each get their own reply; once its
/// connection is closed, a request fails at once instead of waiting out its timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_requester_routes_concurrent_replies_and_fails_fast_when_closed() {
    let s = setup().await;
    let (subject, serving) =
        responder(&s, |request| ("echo", request.payloads[0].data.clone()), Duration::ZERO).await;
    let client = natsbridge::connect(&s._server.url()).await.unwrap();
    let requester = natsbridge::Requester::new(client.clone()).await.unwrap();
    let replies = futures::future::join_all((0..50).map(|i| {
        let (requester, subject) = (requester.clone(), subject.clone());
        async move {
            let payload = Payload::Dictionary(json!({ "i": i }));
            let reply = requester
                .request(
                    &subject,
                    [("n", payload)],
                    SendOptions::default(),
                    &ReceiveOptions::default(),
                    Duration::from_secs(10),
                )
                .await
                .unwrap();
            (i, reply)
        }
    }))
    .await;
    for (i, reply) in replies {
        assert!(matches!(&reply.payloads[0].data, Payload::Dictionary(v) if v["i"] == i), "request {i}");
    }

    client.drain().await.unwrap();
    let closed = tokio::time::Instant::now() + Duration::from_secs(10);
    let err = loop {
        let t = std::time::Instant::now();
        let attempt = requester
            .request(
                &subject,
                [("n", Payload::Text("late".into()))],
                SendOptions::default(),
                &ReceiveOptions::default(),
                Duration::from_secs(5),
            )
            .await;
        if let Err(e) = attempt {
            assert!(t.elapsed() < Duration::from_secs(2), "waited {:?} on a closed connection", t.elapsed());
            break e;
        }
        assert!(tokio::time::Instant::now() < closed, "the drained connection never closed");
    };
    assert!(matches!(err.code(), ErrorCode::NatsConnectionFailed | ErrorCode::PublishFailed), "{err}");
    serving.abort();
}
