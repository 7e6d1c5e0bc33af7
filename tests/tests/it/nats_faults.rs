//! NATS faults against a real nats-server: a restart in the middle of a burst of
//! publishes (core and JetStream), and a slow consumer. What `smartsend` reports for every
//! message, what arrives, and that nothing is silent.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, StreamOptions, ensure_stream, publish_to_stream,
};
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions, smartreceive};
use natsbridge_testkit::NatsServer;
use serde_json::json;

fn ids(i: usize) -> (String, String) {
    (format!("00000000-0000-4000-8000-{i:012}"), format!("11111111-0000-4000-8000-{i:012}"))
}

fn options(i: usize) -> SendOptions {
    let (cid, msg_id) = ids(i);
    SendOptions::default().correlation_id(cid).msg_id(msg_id)
}

fn health(i: usize) -> Vec<(String, Payload)> {
    vec![("health".into(), Payload::Dictionary(json!({"seq": i})))]
}

/// Restarts the server on a blocking thread once `at` is reached; hands it back on join.
fn restart_later(mut server: NatsServer) -> tokio::task::JoinHandle<NatsServer> {
    tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_during_a_burst_of_acked_publishes_loses_and_duplicates_nothing() {
    const N: usize = 150;
    let server = NatsServer::spawn();
    let client =
        async_nats::ConnectOptions::new().retry_on_initial_connect().connect(server.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    ensure_stream(&js, &StreamOptions::new("FAULTS", vec!["faults.>".into()], Duration::from_secs(600)))
        .await
        .unwrap();
    let mut restart = None;
    let mut server = Some(server);
    let mut failed = Vec::new();
    let mut acked = 0;
    for i in 0..N {
        if i == 40 {
            restart = Some(restart_later(server.take().unwrap()));
        }
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            Duration::from_secs(30),
            publish_to_stream(&js, "faults.h", health(i), &options(i)),
        )
        .await
        .unwrap_or_else(|_| panic!("publish {i} hung"));
        match outcome {
            Ok(_) => acked += 1,
            Err(e) => {
                // Every failure is typed and names its message.
                assert!(
                    matches!(
                        e.code(),
                        ErrorCode::PublishFailed | ErrorCode::NatsConnectionFailed | ErrorCode::Timeout
                    ),
                    "{e}"
                );
                assert_eq!(e.correlation_id(), Some(ids(i).0.as_str()), "{e}");
                failed.push(i);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    let server = restart.unwrap().await.unwrap();
    println!("burst of {N}: {acked} acked, {} reported failed during the restart", failed.len());
    // The sender retries what it was told failed, with the same msg_id: JetStream drops the
    // copies of those that had in fact landed.
    for &i in &failed {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = publish_to_stream(&js, "faults.h", health(i), &options(i)).await {
            assert!(Instant::now() < deadline, "retry of {i} never succeeded: {e}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let consumer_options = ConsumerOptions { max_messages: 50, ..Default::default() };
    let mut consumer =
        EnvelopeConsumer::new(js.clone(), "FAULTS", consumer_options, ReceiveOptions::default());
    let mut seen = BTreeSet::new();
    while seen.len() < N {
        let d = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .expect("replay stalls")
            .unwrap();
        assert!(seen.insert(d.received.envelope.msg_id.as_str().to_owned()), "duplicate handed over");
        d.ack().await.unwrap();
    }
    let info = js.get_stream("FAULTS").await.unwrap().info().await.unwrap().state.messages;
    assert_eq!(info, N as u64, "the stream holds a duplicate or misses a message");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_during_a_burst_of_core_publishes_is_reported_and_recovers() {
    const N: usize = 300;
    let server = NatsServer::spawn();
    let url = server.url();
    let sender = natsbridge::connect(&url).await.unwrap();
    let receiver = natsbridge::connect(&url).await.unwrap();
    let mut sub = receiver.subscribe("core.h").await.unwrap();
    natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let collect = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            let r = smartreceive(&msg, &ReceiveOptions::default()).await.expect("what arrives decodes");
            if tx.send(r.envelope.msg_id.as_str().to_owned()).is_err() {
                return;
            }
        }
    });
    let mut restart = None;
    let mut server = Some(server);
    let mut ok = Vec::new();
    let mut errors = 0;
    let mut got = Vec::new();
    for i in 0..N {
        if i == 100 {
            // Messages 0..90 are through the server before it dies (on a loaded machine it
            // can lag by a few messages; those would be lost with it, at most once).
            let before = ids(89).1;
            while !got.contains(&before) {
                let id = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                    .await
                    .expect("message 89 never arrived before the restart")
                    .unwrap();
                got.push(id);
            }
            restart = Some(restart_later(server.take().unwrap()));
        }
        if i == 200 {
            // The rest go out after the client has reconnected.
            let _server = restart.take().unwrap().await.unwrap();
            server = Some(_server);
            let deadline = Instant::now() + Duration::from_secs(20);
            while sender.connection_state() != async_nats::connection::State::Connected
                || receiver.connection_state() != async_nats::connection::State::Connected
            {
                assert!(Instant::now() < deadline, "clients did not reconnect");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The receiver's subscription is restored on reconnect; make sure it is live.
            natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
        }
        let opts = options(i).connection(&sender);
        let outcome =
            tokio::time::timeout(Duration::from_secs(15), natsbridge::smartsend("core.h", health(i), &opts))
                .await
                .unwrap_or_else(|_| panic!("smartsend {i} hung"));
        match outcome {
            Ok(sent) => ok.push(sent.envelope.msg_id.as_str().to_owned()),
            Err(e) => {
                assert_eq!(e.correlation_id(), Some(ids(i).0.as_str()), "{e}");
                errors += 1;
            }
        }
    }
    // Everything up to the last message (sent after the reconnect) has arrived once it has.
    let last = ids(N - 1).1;
    while got.last() != Some(&last) {
        let id = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("the last message never arrived")
            .unwrap();
        got.push(id);
    }
    collect.abort();
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), got.len(), "core NATS handed a message over twice");
    let sent: BTreeSet<&String> = ok.iter().collect();
    assert!(distinct.is_subset(&sent), "received a message smartsend reported as failed");
    // Before the restart and after the reconnect, every reported success arrived.
    for i in (0..90).chain(200..N) {
        let id = ids(i).1;
        assert!(!sent.contains(&id) || distinct.contains(&id), "message {i} reported sent but lost");
    }
    println!(
        "core burst of {N}: {} reported sent, {errors} reported failed, {} received; {} lost in the restart window (at-most-once)",
        ok.len(),
        got.len(),
        ok.len() - got.len()
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_surfaced_not_silent() {
    let server = NatsServer::spawn();
    let natsbridge::transport::WithEvents { client: slow, mut events } =
        natsbridge::transport::connect_with_events(&server.url(), 8).await.unwrap();
    let mut sub = slow.subscribe("slow.h").await.unwrap();
    natsbridge::transport::subscriptions_registered(&slow).await.unwrap();
    let fast = natsbridge::connect(&server.url()).await.unwrap();
    // The application does not read while 500 messages arrive; the buffer holds 8.
    for i in 0..500 {
        let opts = options(i).connection(&fast).flush(false);
        natsbridge::smartsend("slow.h", health(i), &opts).await.unwrap();
    }
    fast.flush().await.unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(async_nats::Event::SlowConsumer(sid)) => return sid,
                // One event per dropped message: a burst overflows the channel, which says so.
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("event channel: {e}"),
            }
        }
    })
    .await
    .expect("no SlowConsumer event within 10 s");
    assert!(event > 0);
    // The subscription keeps working: what it kept still decodes.
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next()).await.unwrap().unwrap();
    smartreceive(&msg, &ReceiveOptions::default()).await.unwrap();
}
