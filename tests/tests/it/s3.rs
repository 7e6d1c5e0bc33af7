//! The S3 blob store against a real S3 API server (`s3s-fs`, which enforces SigV4 and
//! presigned expiry): every payload type, a 500 MB table, expired links, missing and
//! wrong-length objects, lifetimes a presigned URL cannot carry, a deleted object in a
//! replayed stream, and credentials kept out of every log.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use natsbridge::blob::{BlobStore, PutRequest};
use natsbridge::fetch::FetchOptions;
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, StreamOptions, ensure_stream, publish_to_stream,
};
use natsbridge::types::Transport;
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions, smartreceive_bytes, smartsend};
use natsbridge_testkit::s3::SECRET_KEY;
use natsbridge_testkit::{NatsServer, S3Server};

use crate::credentials::Captured;
use crate::runtime::{all_types, assert_same};

const DAY: Duration = Duration::from_secs(86_400);

fn send(s3: &S3Server) -> SendOptions {
    SendOptions::default().blob_store(Arc::new(s3.store())).size_threshold(1).publish(false)
}

fn receive(s3: &S3Server) -> ReceiveOptions {
    ReceiveOptions::default().allow_host(&s3.endpoint()).fetch(FetchOptions {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        ..Default::default()
    })
}

fn blob(bytes: &'static [u8]) -> Vec<(String, Payload)> {
    vec![("blob".into(), Payload::Binary(Bytes::from_static(bytes)))]
}

/// The link of the first payload of an envelope.
fn link(json: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["payloads"][0]["data"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_payload_type_round_trips_through_presigned_links() {
    let s3 = S3Server::spawn("links");
    let sent = all_types();
    let json = smartsend("s3.types", sent.clone(), &send(&s3)).await.unwrap().json;
    let got = smartreceive_bytes(json.as_bytes(), None, &receive(&s3)).await.unwrap();
    assert_eq!(got.payloads.len(), sent.len());
    for ((name, payload), p) in sent.iter().zip(&got.payloads) {
        assert_eq!(p.transport, Transport::Link, "{name}");
        assert_same(payload, &p.data);
    }
    // A link is a presigned GET: plain HTTP, no credentials needed, the key signed in.
    let url = link(&json);
    assert!(url.starts_with(&format!("{}/links/", s3.endpoint())), "{url}");
    assert!(url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=86400"), "{url}");
    let plain = natsbridge::fetch::http_client().get(&url).send().await.unwrap();
    assert_eq!(plain.status(), 200);
    // Without the signature the server refuses: the bucket is not public.
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(natsbridge::fetch::http_client().get(unsigned).send().await.unwrap().status(), 403);
}

/// 500 MB of Arrow table streamed up in 8 MiB parts while it encodes, and back.
#[tokio::test(flavor = "multi_thread")]
async fn a_500_mb_table_goes_up_in_parts_and_comes_back_whole() {
    let s3 = S3Server::spawn("tables");
    let rows = 10_000_000;
    let table = natsbridge_testkit::data::table(rows, || {});
    let first = table.batches[0].clone();
    let json =
        smartsend("s3.table", [("deep-dive", Payload::ArrowTable(table))], &send(&s3)).await.unwrap().json;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let size = v["payloads"][0]["size"].as_u64().unwrap();
    assert!(size > 500_000_000, "{size} bytes");
    let on_disk = std::fs::metadata(s3.object_path(&s3.key_of(&link(&json)))).unwrap().len();
    assert_eq!(on_disk, size, "the object holds exactly the declared bytes");
    let got = smartreceive_bytes(json.as_bytes(), None, &receive(&s3)).await.unwrap();
    let Payload::ArrowTable(back) = &got.payloads[0].data else { panic!("not a table") };
    assert_eq!(back.num_rows(), rows);
    // Batches above 8 MiB travel sliced: the first one received starts the first sent.
    let head = &back.batches[0];
    assert_eq!(head, &first.slice(0, head.num_rows()));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_link_is_refused_with_a_typed_error() {
    let s3 = S3Server::spawn("short");
    let options = send(&s3).link_ttl(Duration::from_secs(1));
    let json = smartsend("s3.expiring", blob(b"short-lived bytes"), &options).await.unwrap().json;
    let cid = serde_json::from_str::<serde_json::Value>(&json).unwrap()["correlation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(link(&json).contains("X-Amz-Expires=1&"), "{}", link(&json));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = smartreceive_bytes(json.as_bytes(), None, &receive(&s3)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DownloadFailed, "{err}");
    assert!(err.report().contains("403"), "{}", err.report());
    assert_eq!(err.correlation_id(), Some(cid.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_wrong_length_objects_are_typed_errors() {
    let s3 = S3Server::spawn("tamper");
    let gone = smartsend("s3.gone", blob(b"deleted before anyone read it"), &send(&s3)).await.unwrap().json;
    std::fs::remove_file(s3.object_path(&s3.key_of(&link(&gone)))).unwrap();
    let err = smartreceive_bytes(gone.as_bytes(), None, &receive(&s3)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DownloadFailed, "{}", err.report());
    assert!(err.report().contains("404"), "{}", err.report());

    let longer = smartsend("s3.longer", blob(b"twenty bytes exactly"), &send(&s3)).await.unwrap().json;
    std::fs::write(s3.object_path(&s3.key_of(&link(&longer))), b"twenty bytes exactly, and more").unwrap();
    let err = smartreceive_bytes(longer.as_bytes(), None, &receive(&s3)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch, "{}", err.report());

    let shorter = smartsend("s3.shorter", blob(b"twenty bytes exactly"), &send(&s3)).await.unwrap().json;
    std::fs::write(s3.object_path(&s3.key_of(&link(&shorter))), b"twenty").unwrap();
    let err = smartreceive_bytes(shorter.as_bytes(), None, &receive(&s3)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch, "{}", err.report());

    // Same length, other bytes: the sha256 in the payload's metadata catches it.
    let swapped = smartsend("s3.swapped", blob(b"twenty bytes exactly"), &send(&s3)).await.unwrap().json;
    std::fs::write(s3.object_path(&s3.key_of(&link(&swapped))), b"TWENTY BYTES EXACTLY").unwrap();
    let err = smartreceive_bytes(swapped.as_bytes(), None, &receive(&s3)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch, "{}", err.report());
}

/// A presigned URL lives at most 7 days: a stream keeping messages longer refuses the
/// publish before anything is uploaded; a shorter one gets links that cover `max_age`.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_outlives_presigned_links_refuses_the_publish() {
    let s3 = S3Server::spawn("streams");
    let server = NatsServer::spawn();
    let js = async_nats::jetstream::new(natsbridge::connect(&server.url()).await.unwrap());
    let options = SendOptions::default().blob_store(Arc::new(s3.store())).size_threshold(1);
    ensure_stream(&js, &StreamOptions::new("WEEKS", vec!["weeks".into()], 8 * DAY)).await.unwrap();
    let err = publish_to_stream(&js, "weeks", blob(b"kept eight days"), &options).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.message().contains("at most 604800 s"), "{err}");
    assert_eq!(js.get_stream("WEEKS").await.unwrap().info().await.unwrap().state.messages, 0);
    let objects = std::fs::read_dir(s3.dir().join("streams")).unwrap().count();
    assert_eq!(objects, 0, "nothing was uploaded");

    ensure_stream(&js, &StreamOptions::new("DAYS", vec!["days".into()], 2 * DAY)).await.unwrap();
    let sent = publish_to_stream(&js, "days", blob(b"kept two days"), &options).await.unwrap();
    let expires = (2 * DAY + natsbridge::jetstream::LINK_TTL_SLACK).as_secs();
    assert!(link(&sent.json).contains(&format!("X-Amz-Expires={expires}&")), "{}", link(&sent.json));

    // Direct use of the store says the same.
    let put = |ttl| PutRequest {
        name: "x.bin".into(),
        bytes: Bytes::from_static(b"x"),
        ttl,
        one_shot: false,
        correlation_id: "0b7c1a52-54d5-4f61-9c8a-3f7e2d1c0b9a".into(),
    };
    let err = s3.store().put(put(Some(8 * DAY))).await.unwrap_err();
    assert_eq!(err.correlation_id(), Some("0b7c1a52-54d5-4f61-9c8a-3f7e2d1c0b9a"));
    assert!(s3.store().put(put(Some(7 * DAY))).await.is_ok());
}

/// A replayed stream whose middle message's object was deleted: that message ends in a
/// typed error after its last delivery, and the ones after it are delivered.
#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_object_fails_its_message_and_replay_goes_on() {
    let s3 = S3Server::spawn("replay");
    let server = NatsServer::spawn();
    let js = async_nats::jetstream::new(natsbridge::connect(&server.url()).await.unwrap());
    ensure_stream(&js, &StreamOptions::new("HEALTH", vec!["health".into()], DAY)).await.unwrap();
    let options = SendOptions::default().blob_store(Arc::new(s3.store())).size_threshold(1);
    let mut links = Vec::new();
    for text in [&b"first"[..], b"second", b"third"] {
        let payload = vec![("reading".to_owned(), Payload::Binary(Bytes::copy_from_slice(text)))];
        links.push(link(&publish_to_stream(&js, "health", payload, &options).await.unwrap().json));
    }
    std::fs::remove_file(s3.object_path(&s3.key_of(&links[1]))).unwrap();
    let consumer_options = ConsumerOptions {
        nak_delay: Duration::from_millis(50),
        max_deliver: 3,
        ..ConsumerOptions::default()
    };
    let mut consumer = EnvelopeConsumer::new(js.clone(), "HEALTH", consumer_options, receive(&s3));
    let mut delivered = Vec::new();
    let mut failed = Vec::new();
    while delivered.len() + failed.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(30), consumer.next()).await.expect("not stuck") {
            Ok(d) => {
                delivered.push(d.received.payloads[0].bytes().to_vec());
                d.ack().await.unwrap();
            }
            Err(e) => failed.push(e),
        }
    }
    assert_eq!(delivered, [b"first".to_vec(), b"third".to_vec()]);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].code(), &ErrorCode::DownloadFailed, "{}", failed[0].report());
    assert!(failed[0].correlation_id().is_some());
}

/// Uploads (single and multipart), downloads, an expired link and a refused lifetime, all
/// logged at TRACE: neither the secret key nor a link's signature reaches a log line.
#[tokio::test(flavor = "multi_thread")]
async fn s3_credentials_and_signatures_never_reach_the_logs() {
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let s3 = S3Server::spawn("quiet");
    let big = vec![("big".to_owned(), Payload::Binary(Bytes::from(vec![3u8; 20 << 20])))];
    let mut errors = Vec::new();
    let mut signatures = Vec::new();
    for (payloads, ttl) in [(blob(b"small"), DAY), (big, DAY), (blob(b"expiring"), Duration::from_secs(1))] {
        let json = smartsend("s3.quiet", payloads, &send(&s3).link_ttl(ttl)).await.unwrap().json;
        let url = link(&json);
        signatures.push(url.split("X-Amz-Signature=").nth(1).unwrap().to_owned());
        if ttl < DAY {
            tokio::time::sleep(Duration::from_millis(2100)).await;
        }
        match smartreceive_bytes(json.as_bytes(), None, &receive(&s3)).await {
            Ok(r) => assert!(!r.payloads[0].bytes().is_empty()),
            Err(e) => errors.push(format!("{} {e:?}", e.report())),
        }
    }
    let refused = smartsend("s3.quiet", blob(b"x"), &send(&s3).link_ttl(8 * DAY)).await.unwrap_err();
    errors.push(format!("{} {refused:?}", refused.report()));
    assert_eq!(errors.len(), 2, "the expired link and the refused lifetime: {errors:#?}");

    let logs = logs.text();
    assert!(logs.contains("upload") && logs.contains("download"), "nothing logged: the check is vacuous");
    for secret in std::iter::once(SECRET_KEY.to_owned()).chain(signatures) {
        assert!(!logs.contains(&secret), "{secret} reached the logs");
        for e in &errors {
            assert!(!e.contains(&secret), "{secret} reached an error: {e}");
        }
    }
}
