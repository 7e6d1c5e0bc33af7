//! Links live as long as the messages that carry them, for every store: a store that
//! cannot keep a blob for the lifetime asked fails the send with a typed error, and
//! nothing is published, instead of a link that dies before its message.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use natsbridge::blob::{BlobStore, FsStore, NatsObjectStore, PlikStore, PutRequest};
use natsbridge::fileserver::{FileServer, FileServerConfig};
use natsbridge::jetstream::{StreamOptions, ensure_stream, publish_to_stream};
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions};
use natsbridge_testkit::NatsServer;

const HOUR: Duration = Duration::from_secs(3600);

fn put(ttl: Option<Duration>) -> PutRequest {
    PutRequest {
        name: "blob.bin".into(),
        bytes: Bytes::from_static(b"the bytes of a link payload"),
        ttl,
        one_shot: false,
        correlation_id: "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20".into(),
    }
}

async fn file_server(max_ttl: Duration) -> FileServer {
    FileServer::start(FileServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ttl: HOUR / 2,
        max_ttl,
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn js(server: &NatsServer) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(natsbridge::connect(&server.url()).await.unwrap())
}

/// 600 KB of binary: over the default threshold, so it goes by link.
fn big() -> Vec<(String, Payload)> {
    vec![("big".into(), Payload::Binary(Bytes::from(vec![7u8; 600_000])))]
}

#[tokio::test]
async fn the_file_server_refuses_a_lifetime_above_its_maximum() {
    let server = file_server(HOUR).await;
    let store = PlikStore::new(server.url());
    let err = store.put(put(Some(2 * HOUR))).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.message().contains("maxTTL 3600 s"), "{err}");
    assert_eq!(err.correlation_id(), Some("5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20"));
    // Up to the maximum is granted as asked; without a lifetime, the server's default.
    for ttl in [Some(HOUR), None] {
        let url = store.put(put(ttl)).await.unwrap();
        assert_eq!(natsbridge::fetch::http_client().get(&url).send().await.unwrap().status(), 200);
    }
}

/// A Plik server that grants less than asked (real Plik servers may cap) fails the upload.
#[tokio::test]
async fn the_plik_client_refuses_a_server_that_grants_less_than_asked() {
    use axum::Json;
    use axum::routing::post;
    let app = axum::Router::new()
        .route(
            "/upload",
            post(|| async { Json(serde_json::json!({"id": "u1", "uploadToken": "t1", "ttl": 10})) }),
        )
        .route("/file/u1", post(|| async { Json(serde_json::json!({"id": "f1"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move { axum::serve(listener, app).await });
    let store = PlikStore::new(&url);
    let err = store.put(put(Some(Duration::from_secs(120)))).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.message().contains("granted a TTL of 10 s, 120 s was asked"), "{err}");
    // A fraction of a second counts as a whole one: 10.5 s asked is more than 10 granted.
    let err = store.put(put(Some(Duration::from_millis(10_500)))).await.unwrap_err();
    assert!(err.message().contains("granted a TTL of 10 s, 11 s was asked"), "{err}");
    // Asking for ever (a stream without max_age) is more than any granted number.
    let err = store.put(put(Some(Duration::MAX))).await.unwrap_err();
    assert!(err.message().contains("granted a TTL of 10 s, for ever was asked"), "{err}");
    // Asking for no more than was granted goes through to the file upload.
    let link = store.put(put(Some(Duration::from_secs(5)))).await.unwrap();
    assert_eq!(link, format!("{url}/file/u1/f1/blob.bin"));
    serving.abort();
}

/// `publish_to_stream` asks for the stream's `max_age` plus an hour: a file server that
/// keeps files for less fails the publish, and the stream stays empty.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_that_outlives_the_file_server_s_links_refuses_the_publish() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    let files = file_server(2 * HOUR).await;
    let send = SendOptions::default().fileserver(files.url());
    ensure_stream(&js, &StreamOptions::new("LONG", vec!["long".into()], 2 * HOUR)).await.unwrap();
    let err = publish_to_stream(&js, "long", big(), &send).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.correlation_id().is_some());
    assert_eq!(js.get_stream("LONG").await.unwrap().info().await.unwrap().state.messages, 0);

    // A stream the links can outlive: published, and the link resolves.
    ensure_stream(&js, &StreamOptions::new("SHORT", vec!["short".into()], HOUR / 2)).await.unwrap();
    let sent = publish_to_stream(&js, "short", big(), &send).await.unwrap();
    assert_eq!(sent.stream_sequence, Some(1));
    let receive = ReceiveOptions::default().allow_host(files.url());
    let got = natsbridge::smartreceive_bytes(sent.json.as_bytes(), None, &receive).await.unwrap();
    assert_eq!(got.payloads[0].bytes().len(), 600_000);
}

/// A stream that keeps messages for ever asks links that never expire: the embedded file
/// server (its files always expire) refuses the publish; a directory and an Object Store
/// bucket without `max_age` keep them.
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_max_age_needs_links_that_never_expire() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("FOREVER", vec!["forever.>".into()], Duration::ZERO))
        .await
        .unwrap();
    let files = file_server(24 * 365 * HOUR).await;
    let send = SendOptions::default().fileserver(files.url());
    let err = publish_to_stream(&js, "forever.a", big(), &send).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.report().contains("-1 (never expires)"), "{}", err.report());
    assert_eq!(js.get_stream("FOREVER").await.unwrap().info().await.unwrap().state.messages, 0);

    let dir = tempfile::tempdir().unwrap();
    let to_dir = SendOptions::default().blob_store(Arc::new(FsStore::new(dir.path()).unwrap()));
    assert_eq!(publish_to_stream(&js, "forever.b", big(), &to_dir).await.unwrap().stream_sequence, Some(1));
    let keeps_all = NatsObjectStore::open(&js, "keeps-all", Duration::ZERO).await.unwrap();
    let to_bucket = SendOptions::default().blob_store(Arc::new(keeps_all));
    assert_eq!(
        publish_to_stream(&js, "forever.c", big(), &to_bucket).await.unwrap().stream_sequence,
        Some(2)
    );
    let short_bucket = NatsObjectStore::open(&js, "keeps-a-day", 24 * HOUR).await.unwrap();
    let to_short = SendOptions::default().blob_store(Arc::new(short_bucket));
    let err = publish_to_stream(&js, "forever.d", big(), &to_short).await.unwrap_err();
    assert!(err.message().contains("for ever was asked"), "{err}");
}

/// An Object Store bucket keeps objects for its `max_age`; a longer lifetime is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_object_store_bucket_refuses_a_lifetime_longer_than_it_keeps_objects() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    let store = NatsObjectStore::open(&js, "brief", HOUR).await.unwrap();
    let err = store.put(put(Some(2 * HOUR))).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert!(err.message().contains("keeps objects for 3600 s"), "{err}");
    assert!(store.put(put(Some(HOUR))).await.unwrap().starts_with("nats-os://brief/"));
    // Opened again with another age, the bucket's own limit still rules.
    let reopened = NatsObjectStore::open(&js, "brief", 100 * HOUR).await.unwrap();
    assert_eq!(reopened.put(put(Some(2 * HOUR))).await.unwrap_err().code(), &ErrorCode::UploadFailed);

    // Through a stream: its max_age plus an hour is more than the bucket keeps.
    ensure_stream(&js, &StreamOptions::new("OS", vec!["os".into()], HOUR)).await.unwrap();
    let send = SendOptions::default().blob_store(Arc::new(store));
    let err = publish_to_stream(&js, "os", big(), &send).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::UploadFailed, "{err}");
    assert_eq!(js.get_stream("OS").await.unwrap().info().await.unwrap().state.messages, 0);
}

/// A directory keeps files until someone deletes them: any lifetime is granted.
#[tokio::test]
async fn a_directory_store_grants_any_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::new(dir.path()).unwrap();
    let url = store.put(put(Some(24 * 365 * 10 * HOUR))).await.unwrap();
    assert!(url.starts_with("file://"), "{url}");
}
