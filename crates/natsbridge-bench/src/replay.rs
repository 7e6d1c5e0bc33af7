//! Replaying a stream: each runtime's `EnvelopeConsumer` against its own language's raw
//! pull consumer on the same stream.
//!
//! One stream of envelopes of a 1 KB dictionary (`{"config": "xx…"}`, as the peers send) is published (untimed); then, run for run, a
//! raw async-nats pull consumer (its default pull settings, `ack()` each message) and an
//! [`EnvelopeConsumer`] (its defaults: the profile's `CONSUMER_*`; each envelope decoded,
//! checked and acked with [`natsbridge::jetstream::Delivered::ack`]) read all of it from
//! the start. The TypeScript and Python peers do the same in their languages
//! (`--mode replay`), each with its own client as the baseline.

use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use futures::StreamExt as _;
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, StreamOptions, StreamPublisher, ensure_stream,
};
use natsbridge::{Payload, ReceiveOptions, SendOptions};

use crate::ctx::{Ctx, Error, Figure, Target};
use crate::messaging::dictionary_of;
use crate::peers::Peer;

/// Publishers in flight while the stream is filled.
pub(crate) const TASKS: usize = 16;
/// The longest a replay may wait for its next message.
const STALL: Duration = Duration::from_secs(60);

/// A stream named `name` holding `n` 1 KB dictionary envelopes.
pub(crate) async fn fill(
    js: &async_nats::jetstream::Context,
    name: &str,
    replicas: usize,
    n: usize,
) -> Result<(), Error> {
    let subject = format!("bench.replay.{name}");
    let options = StreamOptions {
        replicas,
        ..StreamOptions::new(name, vec![subject.clone()], Duration::from_secs(3600))
    };
    ensure_stream(js, &options).await?;
    let publisher = StreamPublisher::new(js, &subject, &SendOptions::default()).await?;
    // The payload every runtime's replay carries (`bench/peers/`: `--bytes 1024`).
    let reading = dictionary_of(1024);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (publisher, subject, reading) = (publisher.clone(), subject.clone(), reading.clone());
        tasks.push(tokio::spawn(async move {
            for _ in (t..n).step_by(TASKS) {
                publisher.publish(&subject, [("health", Payload::Dictionary(reading.clone()))]).await?;
            }
            Ok::<(), natsbridge::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Envelopes per second of an [`EnvelopeConsumer`] (defaults) replaying `n` from the start.
pub(crate) async fn envelope_consumer(
    js: &async_nats::jetstream::Context,
    stream: &str,
    n: usize,
) -> Result<f64, Error> {
    let started = Instant::now();
    let mut consumer =
        EnvelopeConsumer::new(js.clone(), stream, ConsumerOptions::default(), ReceiveOptions::default());
    for _ in 0..n {
        let delivered = tokio::time::timeout(STALL, consumer.next()).await??;
        if !matches!(delivered.received.payloads[0].data, Payload::Dictionary(_)) {
            return Err("the replayed payload is no dictionary".into());
        }
        delivered.ack().await?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Messages per second of a raw async-nats pull consumer replaying `n` from the start.
async fn raw_consumer(js: &async_nats::jetstream::Context, stream: &str, n: usize) -> Result<f64, Error> {
    let started = Instant::now();
    let config = pull::Config {
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    };
    let consumer = js.get_stream(stream).await?.create_consumer(config).await?;
    let mut messages = consumer.messages().await?;
    for _ in 0..n {
        let message =
            tokio::time::timeout(STALL, messages.next()).await?.ok_or("the pull stream ended")??;
        if message.payload.is_empty() {
            return Err("an empty message in the stream".into());
        }
        message.ack().await.map_err(|e| e.to_string())?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// Replay rates, Rust's and the peers', each against its own language's raw consumer.
pub(crate) async fn run(ctx: &Ctx) -> Result<Vec<Figure>, Error> {
    let n = ctx.sizes.stream_messages;
    let js = async_nats::jetstream::new(natsbridge::connect(&ctx.nats_url).await?);
    let name = format!("BENCH_REPLAY_{}", std::process::id());
    fill(&js, &name, 1, n).await?;
    let (mut raw, mut bridge) = (Vec::new(), Vec::new());
    for rep in 0..ctx.sizes.reps {
        // Alternate which goes first, so neither always gets the warmer server.
        if rep % 2 == 0 {
            raw.push(raw_consumer(&js, &name, n).await?);
            bridge.push(envelope_consumer(&js, &name, n).await?);
        } else {
            bridge.push(envelope_consumer(&js, &name, n).await?);
            raw.push(raw_consumer(&js, &name, n).await?);
        }
    }
    js.delete_stream(&name).await?;
    let mut figures = vec![
        Figure::rate(
            "replay",
            "JetStream replay of 1 KB envelopes, decoded and acked: Rust's EnvelopeConsumer",
            "msg/s",
            "raw async-nats pull consumer, acking each",
            raw,
            bridge,
        )
        .target(Target::MinRatio(0.5)),
    ];
    eprintln!("  replay: Rust done ({:.2}× raw)", figures[0].ratio());
    for runtime in Peer::ALL {
        let rates = runtime.run(ctx, "replay", runtime.count(n)).await?;
        figures.push(
            Figure::rate(
                "replay",
                format!(
                    "JetStream replay of 1 KB envelopes, decoded and acked: the {} EnvelopeConsumer",
                    runtime.name()
                ),
                "msg/s",
                runtime.raw_consumer_name(),
                rates.baseline,
                rates.runtime,
            )
            .target(Target::MinRatio(0.5)),
        );
        eprintln!("  replay: {} peer done", runtime.name());
    }
    Ok(figures)
}
