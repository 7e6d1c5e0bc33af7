//! JetStream against a real nats-server: acknowledged de-duplicated publishing, replay
//! of a time window through the pull consumer, recovery across a server restart with no
//! loss and no duplicates, Object Store links, and redelivery after a crash.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use natsbridge::blob::NatsObjectStore;
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, Start, StreamOptions, ensure_stream, publish_to_stream,
};
use natsbridge::types::Transport;
use natsbridge::{Payload, ReceiveOptions, SendOptions};
use natsbridge_testkit::{NatsServer, file_server};
use serde_json::json;

async fn js(server: &NatsServer) -> async_nats::jetstream::Context {
    let client =
        async_nats::ConnectOptions::new().retry_on_initial_connect().connect(server.url()).await.unwrap();
    async_nats::jetstream::new(client)
}

fn health(i: usize) -> Vec<(String, Payload)> {
    vec![("health".into(), Payload::Dictionary(json!({"seq": i, "cpu": (i % 100) as f64 / 100.0})))]
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_since_a_time_gets_exactly_the_window_with_links() {
    let server = NatsServer::spawn();
    let files = file_server().await.unwrap();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("HEALTH", vec!["health.>".into()], Duration::from_secs(3600)))
        .await
        .unwrap();
    let send = SendOptions::default().fileserver(files.url()).size_threshold(10_000);

    for i in 0..5 {
        publish_to_stream(&js, "health.node1", health(i), &send).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let window_start = chrono::Utc::now();
    let mut expected = Vec::new();
    for i in 5..25 {
        let mut payloads = health(i);
        if i % 5 == 0 {
            // A historical snapshot: big enough to go by link.
            payloads.push(("snapshot".into(), Payload::Binary(Bytes::from(vec![(i % 256) as u8; 50_000]))));
        }
        let sent = publish_to_stream(&js, "health.node1", payloads, &send).await.unwrap();
        assert!(sent.stream_sequence.is_some_and(|s| s > 0));
        expected.push(sent.envelope.correlation_id.as_str().to_owned());
    }

    let receive = ReceiveOptions::default().allow_host(files.url());
    let options =
        ConsumerOptions { start: Start::Since(window_start), max_messages: 4, ..Default::default() };
    // Two independent late joiners: links are TTL uploads, not one-shot, so both resolve.
    for _ in 0..2 {
        let mut consumer = EnvelopeConsumer::new(js.clone(), "HEALTH", options.clone(), receive.clone());
        let mut got = Vec::new();
        let mut links = 0;
        while got.len() < expected.len() {
            let d = tokio::time::timeout(Duration::from_secs(10), consumer.next()).await.unwrap().unwrap();
            assert!(d.published >= window_start - chrono::Duration::milliseconds(5));
            links += d.received.payloads.iter().filter(|p| p.transport == Transport::Link).count();
            if let Some(p) = d.received.payload("snapshot") {
                assert_eq!(p.bytes().len(), 50_000);
            }
            got.push(d.received.correlation_id().to_owned());
            d.ack().await.unwrap();
        }
        assert_eq!(got, expected, "exactly the window, in order");
        assert_eq!(links, 4);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), consumer.next()).await.is_err(),
            "nothing more"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nats_msg_id_deduplicates() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("DEDUP", vec!["dedup.>".into()], Duration::from_secs(60)))
        .await
        .unwrap();
    let send = SendOptions::default().msg_id("5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20");
    let first = publish_to_stream(&js, "dedup.x", health(1), &send).await.unwrap().stream_sequence;
    let second = publish_to_stream(&js, "dedup.x", health(1), &send).await.unwrap().stream_sequence;
    assert!(first.is_some());
    assert_eq!(first, second, "the duplicate is acknowledged with the original sequence");
    let mut stream = js.get_stream("DEDUP").await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_restart_during_a_10k_replay_loses_and_duplicates_nothing() {
    let mut server = NatsServer::spawn();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("BURST", vec!["burst.>".into()], Duration::from_secs(3600)))
        .await
        .unwrap();
    let send = SendOptions::default().no_publish();
    // Publish 10 000 envelopes with pipelined acks.
    let mut acks = Vec::new();
    for i in 0..10_000 {
        let json = natsbridge::smartsend("burst.a", health(i), &send).await.unwrap().json;
        let env: serde_json::Value = serde_json::from_str(&json).unwrap();
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", env["msg_id"].as_str().unwrap());
        acks.push(js.publish_with_headers("burst.a", headers, json.into()).await.unwrap());
        if acks.len() == 512 {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    for a in acks.drain(..) {
        a.await.unwrap();
    }

    let options =
        ConsumerOptions { max_messages: 200, ack_wait: Duration::from_secs(5), ..Default::default() };
    let mut consumer = EnvelopeConsumer::new(js.clone(), "BURST", options, ReceiveOptions::default());
    let mut seen = BTreeSet::new();
    let mut duplicates = 0;
    while seen.len() < 10_000 {
        if seen.len() == 3_000 {
            let restart = tokio::task::spawn_blocking(move || {
                server.restart();
                server
            });
            server =
                tokio::time::timeout(Duration::from_secs(30), restart).await.expect("restart hung").unwrap();
        }
        let d = tokio::time::timeout(Duration::from_secs(90), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("the consumer recovers within 90 s ({} of 10 000 seen)", seen.len()))
            .unwrap();
        let Payload::Dictionary(v) = &d.received.payloads[0].data else { panic!() };
        if !seen.insert(v["seq"].as_u64().unwrap()) {
            duplicates += 1;
        }
        // Acks racing the restart may fail (redeliveries are filtered), but never hang.
        let acked = tokio::time::timeout(Duration::from_secs(30), d.ack()).await;
        assert!(acked.is_ok(), "ack of {} hung", d.stream_sequence);
    }
    assert_eq!(duplicates, 0, "nothing handed to the application twice");
    assert_eq!(seen.len(), 10_000);
    assert_eq!(seen.iter().next_back(), Some(&9_999));
    drop(server);
}

#[tokio::test(flavor = "multi_thread")]
async fn object_store_links_resolve_through_smartreceive() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    let store = NatsObjectStore::open(&js, "blobs", Duration::from_secs(3600)).await.unwrap();
    let data = Bytes::from((0..3_000_000u32).map(|i| (i % 253) as u8).collect::<Vec<_>>());
    let send = SendOptions::default().blob_store(Arc::new(store)).size_threshold(1000).no_publish();
    let json =
        natsbridge::smartsend("x", [("big", Payload::Binary(data.clone()))], &send).await.unwrap().json;
    assert!(json.contains("nats-os://blobs/"), "{json}");

    let err =
        natsbridge::smartreceive_bytes(json.as_bytes(), None, &ReceiveOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), &natsbridge::ErrorCode::UrlNotAllowed, "refused without a JetStream context");

    let receive = ReceiveOptions::default().jetstream(js.clone());
    let got = natsbridge::smartreceive_bytes(json.as_bytes(), None, &receive).await.unwrap();
    let Payload::Binary(b) = &got.payloads[0].data else { panic!() };
    assert_eq!(b, &data);
    // Readable again: object store links are not one-shot.
    natsbridge::smartreceive_bytes(json.as_bytes(), None, &receive).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_crashes_before_acking_gets_it_again_and_the_link_resolves() {
    let server = NatsServer::spawn();
    let files = file_server().await.unwrap();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("CRASH", vec!["crash.>".into()], Duration::from_secs(600)))
        .await
        .unwrap();
    let send = SendOptions::default().fileserver(files.url()).size_threshold(100);
    let big = Payload::Binary(Bytes::from(vec![42u8; 10_000]));
    let env = publish_to_stream(&js, "crash.a", [("snap", big)], &send).await.unwrap().envelope;

    let options = ConsumerOptions {
        durable_name: Some("worker".into()),
        ack_wait: Duration::from_secs(1),
        ..Default::default()
    };
    let receive = ReceiveOptions::default().allow_host(files.url());
    {
        let mut crashing = EnvelopeConsumer::new(js.clone(), "CRASH", options.clone(), receive.clone());
        let d = crashing.next().await.unwrap();
        assert_eq!(d.received.correlation_id(), env.correlation_id.as_str());
        // Dropped without ack: the process "crashed".
    }
    let mut restarted = EnvelopeConsumer::new(js.clone(), "CRASH", options, receive);
    let d = tokio::time::timeout(Duration::from_secs(10), restarted.next()).await.unwrap().unwrap();
    assert_eq!(d.received.correlation_id(), env.correlation_id.as_str());
    assert_eq!(d.received.payloads[0].bytes(), &[42u8; 10_000][..]);
    d.ack().await.unwrap();
}

/// Rule 18: `ack` returns without a round trip and `ack_confirmed` waits for the server; a
/// durable consumer started again after either (the client flushed) resumes after the
/// acked messages, and one killed before its acks left gets them again.
#[tokio::test(flavor = "multi_thread")]
async fn acks_with_and_without_confirmation_are_kept_by_a_durable_consumer() {
    let server = NatsServer::spawn();
    let js = js(&server).await;
    ensure_stream(&js, &StreamOptions::new("ACKS", vec!["acks.>".into()], Duration::from_secs(600)))
        .await
        .unwrap();
    for i in 0..6 {
        publish_to_stream(&js, "acks.a", health(i), &SendOptions::default()).await.unwrap();
    }
    let options = ConsumerOptions {
        durable_name: Some("acker".into()),
        ack_wait: Duration::from_secs(1),
        ..Default::default()
    };
    let seq_of = |d: &natsbridge::jetstream::Delivered| {
        let Payload::Dictionary(v) = &d.received.payloads[0].data else { panic!("not a dictionary") };
        v["seq"].as_u64().unwrap()
    };
    {
        let mut consumer =
            EnvelopeConsumer::new(js.clone(), "ACKS", options.clone(), ReceiveOptions::default());
        let first = consumer.next().await.unwrap();
        assert_eq!(seq_of(&first), 0);
        first.ack_confirmed().await.unwrap();
        let second = consumer.next().await.unwrap();
        assert_eq!(seq_of(&second), 1);
        second.ack().await.unwrap();
        // `ack` left for the server once the client is flushed.
        js.client().flush().await.unwrap();
        // The third is handed over but never acked: the consumer goes away.
        assert_eq!(seq_of(&consumer.next().await.unwrap()), 2);
    }
    let mut again = EnvelopeConsumer::new(js.clone(), "ACKS", options, ReceiveOptions::default());
    let d = tokio::time::timeout(Duration::from_secs(10), again.next()).await.unwrap().unwrap();
    assert_eq!(seq_of(&d), 2, "resumes after the acked ones, with the unacked one again");
    d.ack_confirmed().await.unwrap();
}
