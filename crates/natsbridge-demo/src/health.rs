//! Scenario 4, catch-up: a producer publishes "system health" envelopes (mostly small,
//! some with link snapshots) into a JetStream stream with limits retention; a dashboard
//! that was offline asks for the last `window` and receives exactly those, through the
//! pull consumer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use natsbridge::jetstream::{
    ConsumerOptions, EnvelopeConsumer, Start, StreamOptions, ensure_stream, publish_to_stream,
};
use natsbridge::types::{MsgPurpose, Transport};
use natsbridge::{Payload, SendOptions, Table};
use serde_json::json;

use crate::ctx::{Ctx, Outcome};
use crate::measure::bar;

fn snapshot(i: usize) -> Table {
    let rows = 40_000;
    let schema = Arc::new(Schema::new(vec![
        Field::new("process", DataType::Int64, false),
        Field::new("cpu", DataType::Float64, false),
        Field::new("rss_mb", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows)),
            Arc::new(Float64Array::from_iter_values((0..rows).map(|p| ((p as usize * 7 + i) % 100) as f64))),
            Arc::new(Float64Array::from_iter_values((0..rows).map(|p| (p as usize % 512 + i) as f64))),
        ],
    )
    .expect("columns match the schema");
    Table::from_batch(batch)
}

fn health(i: usize, with_snapshot: bool) -> Vec<(String, Payload)> {
    let mut p = vec![(
        "health".to_owned(),
        Payload::Dictionary(json!({"seq": i, "cpu": (i * 37 % 100) as f64, "mem": 0.5, "status": "ok"})),
    )];
    if with_snapshot {
        p.push(("processes".to_owned(), Payload::ArrowTable(snapshot(i))));
    }
    p
}

pub(crate) async fn run(
    ctx: &Ctx,
    recent: usize,
    window: Duration,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let client = natsbridge::connect(&ctx.nats_url).await?;
    let js = async_nats::jetstream::new(client);
    let replicas = if ctx.cluster.is_some() { 3 } else { 1 };
    let stream = StreamOptions {
        replicas,
        ..StreamOptions::new("DEMO_HEALTH", vec!["demo.health.>".into()], Duration::from_secs(3600))
    };
    ensure_stream(&js, &stream).await?;
    let send = SendOptions::default()
        .fileserver(&ctx.files_url)
        .sender_name("health-monitor")
        .purpose(MsgPurpose::Event);

    // Before the window: history the dashboard must not get.
    for i in 0..30 {
        publish_to_stream(&js, "demo.health.node1", health(i, i % 10 == 0), &send).await?;
    }
    let old_end = Instant::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Inside the window, spread over a simulated period, while the dashboard is offline.
    let progress = bar(recent as u64, "scenario 4: publishing");
    let pace = (window.saturating_sub(Duration::from_millis(1500)) / recent.max(1) as u32)
        .min(Duration::from_millis(20));
    let mut expected = Vec::new();
    for i in 30..30 + recent {
        let env = publish_to_stream(&js, "demo.health.node1", health(i, i % 10 == 0), &send).await?.envelope;
        expected.push(env.correlation_id.as_str().to_owned());
        progress.inc(1);
        tokio::time::sleep(pace).await;
    }
    progress.finish_and_clear();
    // The dashboard comes back once the old history is older than the window.
    let wake = old_end + window + Duration::from_millis(50);
    tokio::time::sleep_until(wake.max(Instant::now()).into()).await;
    let since = chrono::Utc::now() - chrono::Duration::from_std(window)?;
    // On a cluster the stream's leader dies while the dashboard is away: the replay has to
    // find the stream on the other two nodes.
    let killed = match &ctx.cluster {
        Some(cluster) => Some(kill_stream_leader(&js, cluster).await?),
        None => None,
    };

    let started = Instant::now();
    let options = ConsumerOptions {
        start: Start::Since(since),
        max_messages: 32,
        max_bytes: 4 << 20,
        ..Default::default()
    };
    let mut consumer = EnvelopeConsumer::new(js.clone(), "DEMO_HEALTH", options, ctx.receive.clone());
    let mut got = Vec::new();
    let (mut direct, mut link) = (0, 0);
    loop {
        // Caught up after 1.5 s of silence; after a leader kill the election comes first.
        let quiet = if killed.is_some() && got.is_empty() { 20_000 } else { 1500 };
        match tokio::time::timeout(Duration::from_millis(quiet), consumer.next()).await {
            Ok(Ok(d)) => {
                for p in &d.received.payloads {
                    if p.transport == Transport::Link {
                        link += 1;
                    } else {
                        direct += 1;
                    }
                }
                got.push(d.received.correlation_id().to_owned());
                d.ack().await?;
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => break, // caught up
        }
    }
    let secs = started.elapsed().as_secs_f64() - 1.5;
    Ok(Outcome {
        name: "4 catch-up (JetStream)",
        ok: got == expected && link == recent.div_ceil(10),
        result: format!(
            "{} of {} in the last {:.0} s, {direct} direct + {link} link payloads, none older",
            got.len(),
            expected.len(),
            window.as_secs_f64()
        ),
        figure: match killed {
            Some(leader) => format!(
                "R3 stream, leader {leader} killed before the replay; replayed in {:.2} s",
                secs.max(0.0)
            ),
            None => format!("replayed in {:.2} s through the pull consumer", secs.max(0.0)),
        },
    })
}

/// Kills the node leading `DEMO_HEALTH` (SIGKILL); returns its name.
async fn kill_stream_leader(
    js: &async_nats::jetstream::Context,
    cluster: &std::sync::Mutex<natsbridge_testkit::NatsCluster>,
) -> Result<String, Box<dyn std::error::Error>> {
    let leader = natsbridge_testkit::nats::stream_leader(js, "DEMO_HEALTH").await?;
    let mut nodes = cluster.lock().map_err(|_| "cluster lock")?;
    let i = nodes.index_of(&leader).ok_or("unknown leader")?;
    nodes.kill(i);
    eprintln!("scenario 4: killed {leader}, the stream's leader");
    Ok(leader)
}
