//! JetStream on one node against a three-node cluster: what replication costs.
//!
//! The same work on both: 16 tasks publish 1 KB dictionary envelopes into a stream with
//! [`StreamPublisher`] (each publish waits for its ack), then an [`EnvelopeConsumer`]
//! replays the stream from the start, decoding and acking each envelope. The baseline is
//! one nats-server and an R1 stream; the measured side a cluster from the test kit and an
//! R3 stream, the client given all three seeds.

use std::time::{Duration, Instant};

use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, StreamOptions, StreamPublisher, ensure_stream,
};
use natsbridge::{Payload, ReceiveOptions, SendOptions};
use natsbridge_testkit::NatsCluster;
use serde_json::json;

use crate::ctx::{Ctx, Error, Figure};

/// Publishers in flight.
const TASKS: usize = 16;

/// Publish and replay rates (envelopes/s) of `n` envelopes on the servers at `url`.
async fn once(url: &str, replicas: usize, n: usize) -> Result<(f64, f64), Error> {
    let js = async_nats::jetstream::new(natsbridge::connect(url).await?);
    let name = format!("BENCH_R{replicas}_{}", Instant::now().elapsed().as_nanos() ^ rand_suffix());
    let subject = format!("bench.cluster.{name}");
    let options = StreamOptions {
        replicas,
        ..StreamOptions::new(&name, vec![subject.clone()], Duration::from_secs(3600))
    };
    ensure_stream(&js, &options).await?;
    let publisher = StreamPublisher::new(&js, &subject, &SendOptions::default()).await?;
    let reading = json!({"host": "bench", "cpu": vec![0.25; 100], "note": "x".repeat(180)});
    let started = Instant::now();
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
    let publish = n as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut consumer =
        EnvelopeConsumer::new(js.clone(), &name, ConsumerOptions::default(), ReceiveOptions::default());
    for _ in 0..n {
        let delivered = tokio::time::timeout(Duration::from_secs(60), consumer.next()).await??;
        delivered.ack().await?;
    }
    let replay = n as f64 / started.elapsed().as_secs_f64();
    js.delete_stream(&name).await?;
    Ok((publish, replay))
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// Publish and replay throughput, one node (R1) against three (R3), interleaved.
pub(crate) async fn run(ctx: &Ctx) -> Result<Vec<Figure>, Error> {
    let cluster = NatsCluster::start(3)?;
    let n = ctx.sizes.stream_messages;
    let (mut one, mut three) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for _ in 0..ctx.sizes.reps.min(3) {
        let (p, r) = once(&ctx.nats_url, 1, n).await?;
        one.0.push(p);
        one.1.push(r);
        let (p, r) = once(&cluster.urls(), 3, n).await?;
        three.0.push(p);
        three.1.push(r);
    }
    let baseline = "1 node, R1 stream";
    let figures = vec![
        Figure::rate(
            "cluster",
            format!("JetStream publish, acked, {TASKS} in flight: 3-node cluster, R3 stream"),
            "msg/s",
            baseline,
            one.0,
            three.0,
        ),
        Figure::rate(
            "cluster",
            "JetStream replay through EnvelopeConsumer, decoded and acked: 3-node cluster, R3 stream",
            "msg/s",
            baseline,
            one.1,
            three.1,
        ),
    ];
    eprintln!("  cluster: done");
    Ok(figures)
}
