//! A three-node JetStream cluster on loopback, nodes killed (SIGKILL) under load: clients
//! reconnect to another node, R3 streams keep every acknowledged message exactly once
//! across a leader kill, a replay finishes on the other nodes with nothing lost and
//! nothing handed over twice, and a whole-cluster restart loses nothing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, Start, StreamOptions, StreamPublisher, ensure_stream,
};
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions};
use natsbridge_testkit::{NatsCluster, S3Server};
use serde_json::json;

const HOUR: Duration = Duration::from_secs(3600);

async fn js_on(cluster: &NatsCluster) -> async_nats::jetstream::Context {
    async_nats::jetstream::new(natsbridge::connect(&cluster.urls()).await.unwrap())
}

async fn r3_stream(js: &async_nats::jetstream::Context, name: &str, subject: &str) {
    let options = StreamOptions { replicas: 3, ..StreamOptions::new(name, vec![subject.into()], HOUR) };
    let info = ensure_stream(js, &options).await.unwrap();
    assert_eq!(info.config.num_replicas, 3);
}

/// The server name of the stream's leader (`n0`…).
async fn stream_leader(js: &async_nats::jetstream::Context, stream: &str) -> String {
    natsbridge_testkit::nats::stream_leader(js, stream).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Every message of the stream, in order: (sequence, `Nats-Msg-Id`).
async fn stream_contents(js: &async_nats::jetstream::Context, stream: &str) -> Vec<(u64, String)> {
    let stream = js.get_stream(stream).await.unwrap();
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await
        .unwrap();
    let total = stream.cached_info().state.messages as usize;
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let m =
            tokio::time::timeout(Duration::from_secs(20), messages.next()).await.unwrap().unwrap().unwrap();
        let id = m.headers.as_ref().and_then(|h| h.get("Nats-Msg-Id")).unwrap().to_string();
        out.push((m.info().unwrap().stream_sequence, id));
    }
    out
}

fn reading(i: usize) -> Vec<(String, Payload)> {
    vec![("reading".to_owned(), Payload::Dictionary(json!({"i": i, "cpu": 0.5})))]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_given_every_seed_reconnects_to_another_node_and_says_so() {
    let mut cluster = NatsCluster::spawn(3);
    let natsbridge::transport::WithEvents { client, mut events } =
        natsbridge::transport::connect_with_events(&cluster.urls(), 1024).await.unwrap();
    let first = client.server_info().server_name;
    let mut sub = client.subscribe("cluster.ping").await.unwrap();
    natsbridge::transport::subscriptions_registered(&client).await.unwrap();
    cluster.kill(cluster.index_of(&first).unwrap());

    // The first Connected may be the initial connection's: wait for one after a Disconnected.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let reconnected = |seen: &[async_nats::Event]| {
        seen.iter()
            .position(|e| *e == async_nats::Event::Disconnected)
            .is_some_and(|d| seen[d..].contains(&async_nats::Event::Connected))
    };
    while !reconnected(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = tokio::time::timeout(left, events.recv()).await;
        seen.push(event.unwrap_or_else(|_| panic!("no reconnect in 20 s: {seen:?}")).unwrap());
    }
    let now = client.server_info().server_name;
    assert_ne!(now, first, "connected to another node");
    // The subscription was carried over: a message through the new node arrives.
    natsbridge::transport::subscriptions_registered(&client).await.unwrap();
    client.publish("cluster.ping", Bytes::from_static(b"still here")).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.unwrap().unwrap();
    assert_eq!(&got.payload[..], b"still here");
}

/// 10 000 publishes from 16 tasks into an R3 stream; its leader is killed after the
/// first 3 000 acks. Every publish ends acknowledged or with a typed error, and the stream
/// holds every acknowledged envelope exactly once (retries reuse the `Nats-Msg-Id`).
#[tokio::test(flavor = "multi_thread")]
async fn a_stream_leader_killed_during_10_000_acked_publishes_loses_and_doubles_nothing() {
    const TOTAL: usize = 10_000;
    const TASKS: usize = 16;
    let mut cluster = NatsCluster::spawn(3);
    let js = js_on(&cluster).await;
    r3_stream(&js, "BURST", "burst.>").await;
    let publisher = StreamPublisher::new(&js, "burst.readings", &SendOptions::default()).await.unwrap();
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (publisher, acked) = (publisher.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for i in (t..TOTAL).step_by(TASKS) {
                let outcome = publisher.publish("burst.readings", reading(i)).await;
                if outcome.is_ok() {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                outcomes.push(outcome.map(|sent| sent.envelope.msg_id.to_string()));
            }
            outcomes
        }));
    }
    while acked.load(Ordering::Relaxed) < 3_000 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let leader = stream_leader(&js, "BURST").await;
    let killed_at = Instant::now();
    cluster.kill(cluster.index_of(&leader).unwrap());

    let mut acked_ids = HashSet::new();
    let mut failed = Vec::new();
    for task in tasks {
        for outcome in task.await.unwrap() {
            match outcome {
                Ok(id) => assert!(acked_ids.insert(id), "one msg_id acked twice"),
                Err(e) => failed.push(e),
            }
        }
    }
    let new_leader = stream_leader(&js, "BURST").await;
    assert_ne!(new_leader, leader);
    for e in &failed {
        assert_eq!(e.code(), &ErrorCode::PublishFailed, "{}", e.report());
        assert!(e.correlation_id().is_some());
    }
    let stored = stream_contents(&js, "BURST").await;
    let mut copies: HashMap<&str, usize> = HashMap::new();
    for (_, id) in &stored {
        *copies.entry(id).or_default() += 1;
    }
    let doubled = copies.values().filter(|n| **n > 1).count();
    let lost = acked_ids.iter().filter(|id| !copies.contains_key(id.as_str())).count();
    eprintln!(
        "leader {leader} killed after 3 000 acks, burst done {:.1} s later: {} acked, {} typed errors, {} stored, {lost} lost, {doubled} doubled",
        killed_at.elapsed().as_secs_f64(),
        acked_ids.len(),
        failed.len(),
        stored.len()
    );
    assert_eq!(acked_ids.len() + failed.len(), TOTAL, "every publish ended");
    assert_eq!(lost, 0, "acknowledged envelopes missing from the stream");
    assert_eq!(doubled, 0, "envelopes stored twice");
    assert!(acked_ids.len() > 3_000 && stored.len() >= acked_ids.len());
}

/// A durable consumer replays 10 000 envelopes of an R3 stream; the node leading the
/// consumer is killed after 3 000. The replay finishes on the other nodes: every envelope
/// handed to the application once, none lost.
#[tokio::test(flavor = "multi_thread")]
async fn a_node_killed_during_a_10_000_envelope_replay_loses_and_repeats_nothing() {
    const TOTAL: usize = 10_000;
    let mut cluster = NatsCluster::spawn(3);
    let js = js_on(&cluster).await;
    r3_stream(&js, "REPLAY", "replay.>").await;
    let publisher = StreamPublisher::new(&js, "replay.readings", &SendOptions::default()).await.unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let publisher = publisher.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..TOTAL).step_by(8) {
                publisher.publish("replay.readings", reading(i)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }

    let options = ConsumerOptions { durable_name: Some("replayer".into()), ..ConsumerOptions::default() };
    let mut consumer = EnvelopeConsumer::new(js.clone(), "REPLAY", options, ReceiveOptions::default());
    let mut handed = HashSet::new();
    let mut readings = HashSet::new();
    let mut killed = None;
    let started = Instant::now();
    while handed.len() < TOTAL {
        let d = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .unwrap_or_else(|_| panic!("stuck after {} envelopes", handed.len()))
            .unwrap();
        assert!(handed.insert(d.stream_sequence), "sequence {} handed over twice", d.stream_sequence);
        let Payload::Dictionary(v) = &d.received.payloads[0].data else { panic!("not a dictionary") };
        readings.insert(v["i"].as_u64().unwrap());
        d.ack().await.unwrap();
        if handed.len() == 3_000 && killed.is_none() {
            let mut c = js
                .get_stream("REPLAY")
                .await
                .unwrap()
                .get_consumer::<async_nats::jetstream::consumer::pull::Config>("replayer")
                .await
                .unwrap();
            let leader = c.info().await.unwrap().cluster.as_ref().and_then(|c| c.leader.clone()).unwrap();
            cluster.kill(cluster.index_of(&leader).unwrap());
            killed = Some(leader);
        }
    }
    eprintln!(
        "consumer leader {} killed at 3 000 of {TOTAL}: {} handed over, {} distinct readings, in {:.1} s",
        killed.unwrap(),
        handed.len(),
        readings.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(readings.len(), TOTAL, "every envelope's content arrived");
}

/// Envelopes (some with S3 links) published, then every node killed and started again:
/// a replay afterwards gets every one of them, links still resolving.
#[tokio::test(flavor = "multi_thread")]
async fn a_whole_cluster_restart_between_publish_and_replay_loses_nothing() {
    const TOTAL: usize = 500;
    let mut cluster = NatsCluster::spawn(3);
    let s3 = S3Server::spawn("outage");
    let js = js_on(&cluster).await;
    r3_stream(&js, "OUTAGE", "outage.>").await;
    let send = SendOptions::default().blob_store(Arc::new(s3.store()));
    let publisher = StreamPublisher::new(&js, "outage.readings", &send).await.unwrap();
    for i in 0..TOTAL {
        let mut payloads = reading(i);
        if i % 50 == 0 {
            payloads.push(("trace".into(), Payload::Binary(Bytes::from(vec![(i % 251) as u8; 600_000]))));
        }
        publisher.publish("outage.readings", payloads).await.unwrap();
    }
    drop(publisher);
    drop(js);
    cluster.restart_all();

    let js = js_on(&cluster).await;
    let receive = ReceiveOptions::default().allow_host(&s3.endpoint());
    let options = ConsumerOptions { start: Start::All, ..ConsumerOptions::default() };
    let mut consumer = EnvelopeConsumer::new(js, "OUTAGE", options, receive);
    let mut readings = HashSet::new();
    let mut links = 0;
    while readings.len() < TOTAL {
        let d = tokio::time::timeout(Duration::from_secs(60), consumer.next()).await.unwrap().unwrap();
        let Payload::Dictionary(v) = &d.received.payloads[0].data else { panic!("not a dictionary") };
        let i = v["i"].as_u64().unwrap() as usize;
        assert!(readings.insert(i), "reading {i} twice");
        if let Some(trace) = d.received.payload("trace") {
            assert_eq!(trace.bytes(), &vec![(i % 251) as u8; 600_000][..]);
            links += 1;
        }
        d.ack().await.unwrap();
    }
    assert_eq!(links, TOTAL / 50);
}

/// `broker_url` names the server each envelope goes through, with one `SendOptions` kept
/// across a failover: the runtime works the name out once per connection (the client's
/// server info is cloned on every read), and again once the client has connected elsewhere.
#[tokio::test(flavor = "multi_thread")]
async fn broker_url_follows_the_client_to_another_node() {
    let mut cluster = NatsCluster::spawn(3);
    let client = natsbridge::connect(&cluster.urls()).await.unwrap();
    let options = SendOptions::default().connection(&client);
    let send = || natsbridge::smartsend("broker.failover", reading(0), &options);
    let first = send().await.unwrap().envelope.broker_url.unwrap();
    assert_eq!(send().await.unwrap().envelope.broker_url.as_deref(), Some(first.as_str()), "the same server");
    let node = (0..cluster.len()).find(|i| cluster.node(*i).url() == first).expect("a node's URL");
    let connects = client.statistics().connects.load(Ordering::Relaxed);
    cluster.kill(node);
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.statistics().connects.load(Ordering::Relaxed) == connects
        || client.connection_state() != async_nats::connection::State::Connected
    {
        assert!(Instant::now() < deadline, "the client did not reconnect within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = send().await.unwrap().envelope.broker_url.unwrap();
    assert_ne!(after, first, "the envelope names the node the client is on now");
    assert!((0..cluster.len()).any(|i| i != node && cluster.node(i).url() == after), "{after}");
}
