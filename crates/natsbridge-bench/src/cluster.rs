//! JetStream on one node against a three-node cluster: what replication costs.
//!
//! The same work on both: 16 tasks publish 1 KB dictionary envelopes into a stream with
//! [`natsbridge::jetstream::StreamPublisher`] (each publish waits for its ack), then an [`natsbridge::jetstream::EnvelopeConsumer`]
//! replays the stream from the start, decoding and acking each envelope. The baseline is
//! one nats-server and an R1 stream; the measured side a cluster from the test kit and an
//! R3 stream, the client given all three seeds.

use std::time::Instant;

use natsbridge_testkit::NatsCluster;

use crate::ctx::{Ctx, Error, Figure};
use crate::replay::{TASKS, envelope_consumer, fill};

/// Publish and replay rates (envelopes/s) of `n` envelopes on the servers at `url`.
async fn once(url: &str, replicas: usize, n: usize) -> Result<(f64, f64), Error> {
    let js = async_nats::jetstream::new(natsbridge::connect(url).await?);
    let name = format!("BENCH_R{replicas}_{}", rand_suffix());
    let started = Instant::now();
    fill(&js, &name, replicas, n).await?;
    let publish = n as f64 / started.elapsed().as_secs_f64();
    let replay = envelope_consumer(&js, &name, n).await?;
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
