//! Core NATS cases: the bridge against plain async-nats carrying the same bytes.
//!
//! Publisher and subscriber use connections of their own. A window of messages in flight
//! (the same for both sides) keeps a burst from tripping the server's slow-consumer limit,
//! which would measure the server's patience rather than either client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive, smartreply, smartrequest, smartsend};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::ctx::{Ctx, Error, Figure, Target, median};
use crate::peers::{Peer, WINDOW};

/// The Python runtime's 1 KB publish → subscribe rate when issue 30 was filed (3.97 k/s,
/// `bench/peers/python.py --mode pubsub`); its target is three times that.
const PYTHON_RATE_BEFORE: f64 = 3_970.0;
/// The same, for ~400 KB messages (~13 MB in flight).
const DIRECT_WINDOW: usize = 32;

/// A dictionary payload that serializes to exactly `n` bytes of JSON.
pub(crate) fn dictionary_of(n: usize) -> serde_json::Value {
    let overhead = serde_json::to_vec(&json!({"config": ""})).expect("static JSON").len();
    json!({ "config": "x".repeat(n - overhead) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    /// The format floor: raw async-nats carrying the bridge's envelope JSON, written from
    /// and parsed into a plain struct by serde_json, with no checks, ids, base64 or hash.
    Floor,
    /// The format floor with what the contract asks of every payload, written plainly: the
    /// dictionary serialized, hashed (SHA-256) and base64-encoded per message, fresh ids
    /// and timestamp; the reader decodes the base64, compares the hash and parses the
    /// dictionary. No strict-JSON or schema checks: what bounds the bridge against `Floor`.
    FloorIntegrity,
    /// `smartsend` with its default options (no flush per envelope), one flush at the end.
    Bridge,
    /// `smartsend` with `.flush(true)`: wait for every envelope to reach the socket.
    BridgeFlushEach,
}

/// The envelope as a plain struct: what serde_json alone costs for the format.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct FloorEnvelope {
    correlation_id: String,
    msg_id: String,
    timestamp: String,
    send_to: String,
    msg_purpose: String,
    sender_name: String,
    sender_id: String,
    receiver_name: String,
    receiver_id: String,
    reply_to: String,
    reply_to_msg_id: String,
    broker_url: Option<String>,
    metadata: serde_json::Map<String, serde_json::Value>,
    payloads: Vec<FloorPayload>,
}

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct FloorPayload {
    id: String,
    dataname: String,
    payload_type: String,
    transport: String,
    encoding: String,
    size: u64,
    data: String,
    metadata: serde_json::Map<String, serde_json::Value>,
}

/// The integrity floor's envelope of `payload`: a dictionary serialized (as the bridge
/// does per message; other payloads are `raw` already), hashed (SHA-256) and base64-encoded
/// into `floor`, with fresh ids and timestamp, serialized by serde_json.
fn integrity_floor_write(floor: &FloorEnvelope, payload: &Payload, raw: &Bytes) -> Result<Bytes, Error> {
    let bytes = match payload {
        Payload::Dictionary(dictionary) => Bytes::from(serde_json::to_vec(dictionary)?),
        _ => raw.clone(),
    };
    let mut envelope = floor.clone();
    envelope.correlation_id = fresh_uuid();
    envelope.msg_id = fresh_uuid();
    envelope.timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let p = &mut envelope.payloads[0];
    p.id = fresh_uuid();
    p.metadata.insert("sha256".into(), natsbridge::wire::sha256_hex(&bytes).into());
    p.data = natsbridge::codec::encode(&bytes);
    Ok(Bytes::from(serde_json::to_vec(&envelope)?))
}

/// A v4 UUID from the thread-local generator, as the bridge makes its ids (`Uuid::new_v4`
/// without uuid's `fast-rng` asks the kernel each time).
fn fresh_uuid() -> String {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid().to_string()
}

/// The integrity floor's reading of an envelope: parsed into the plain struct, the base64
/// decoded, the SHA-256 compared, a dictionary parsed. Returns the payload's length.
fn integrity_floor_read(body: &[u8]) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let envelope = serde_json::from_slice::<FloorEnvelope>(body)?;
    let p = &envelope.payloads[0];
    let bytes = natsbridge::codec::decode(&p.data)?;
    let declared = p.metadata.get("sha256").and_then(|v| v.as_str());
    if declared != Some(natsbridge::wire::sha256_hex(bytes.as_slice()).as_str()) {
        return Err("the floor's SHA-256 does not match".into());
    }
    if p.payload_type == "dictionary"
        && !serde_json::from_slice::<serde_json::Value>(bytes.as_slice())?.is_object()
    {
        return Err("the floor's payload is not an object".into());
    }
    Ok(bytes.len())
}

/// Interleaves `reps` runs of each side, rotating which goes first so none always gets
/// the warmer machine; returns the samples of each side, in the order given.
async fn interleaved<F, Fut>(reps: usize, sides: &[Side], mut one: F) -> Result<Vec<Vec<f64>>, Error>
where
    F: FnMut(Side) -> Fut,
    Fut: Future<Output = Result<f64, Error>>,
{
    let mut samples = vec![Vec::new(); sides.len()];
    for rep in 0..reps {
        for k in 0..sides.len() {
            let i = (rep + k) % sides.len();
            samples[i].push(one(sides[i]).await?);
        }
    }
    Ok(samples)
}

/// Publishes `count` messages of `payload` from one connection to a subscriber on another
/// and returns messages per second, first publish to last receive.
async fn stream_once(
    ctx: &Ctx,
    side: Side,
    count: usize,
    payload: Payload,
    window: usize,
) -> Result<f64, Error> {
    let publisher = natsbridge::connect(&ctx.nats_url).await?;
    let subscriber = natsbridge::connect(&ctx.nats_url).await?;
    let subject = format!("bench.stream.{}", uuid_like());
    let mut sub = subscriber.subscribe(subject.clone()).await?;
    natsbridge::transport::subscriptions_registered(&subscriber).await?;
    let credits = Arc::new(Semaphore::new(window));
    let receiver_credits = credits.clone();
    let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let got_in_task = got.clone();
    let receive = ReceiveOptions::default().allow_host(&ctx.files_url);
    let consumer = tokio::spawn(async move {
        let mut bytes = 0usize;
        for _ in 0..count {
            let msg = sub.next().await.ok_or("subscription closed")?;
            bytes += match side {
                Side::Raw => msg.payload.len(),
                Side::Floor => {
                    serde_json::from_slice::<FloorEnvelope>(&msg.payload)?.payloads[0].size as usize
                }
                Side::FloorIntegrity => integrity_floor_read(&msg.payload)?,
                Side::Bridge | Side::BridgeFlushEach => {
                    smartreceive(&msg, &receive).await?.payloads[0].bytes().len()
                }
            };
            receiver_credits.add_permits(1);
            got_in_task.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok::<usize, Box<dyn std::error::Error + Send + Sync>>(bytes)
    });
    let raw_bytes = match &payload {
        Payload::Dictionary(v) => Bytes::from(serde_json::to_vec(v)?),
        other => other.to_bytes()?,
    };
    let mut options = SendOptions::default().connection(&publisher);
    if side == Side::BridgeFlushEach {
        options = options.flush(true);
    }
    let floor: FloorEnvelope = serde_json::from_str(
        &smartsend(&subject, [("data", payload.clone())], &options.clone().no_publish()).await?.json,
    )?;
    let started = Instant::now();
    for _ in 0..count {
        credits.acquire().await?.forget();
        match side {
            Side::Raw => publisher.publish(subject.clone(), raw_bytes.clone()).await?,
            Side::Floor => {
                publisher.publish(subject.clone(), Bytes::from(serde_json::to_vec(&floor)?)).await?
            }
            Side::FloorIntegrity => {
                publisher
                    .publish(subject.clone(), integrity_floor_write(&floor, &payload, &raw_bytes)?)
                    .await?
            }
            Side::Bridge | Side::BridgeFlushEach => {
                smartsend(&subject, [("data", payload.clone())], &options).await?;
            }
        }
    }
    publisher.flush().await?;
    let received = tokio::time::timeout(Duration::from_secs(120), consumer)
        .await
        .map_err(|_| {
            format!(
                "{side:?}: the subscriber got {} of {count} messages within 120 s",
                got.load(std::sync::atomic::Ordering::Relaxed)
            )
        })??
        .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    if received != count * raw_bytes.len() {
        return Err(format!("received {received} bytes, expected {}", count * raw_bytes.len()).into());
    }
    Ok(count as f64 / secs)
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
    )
}

/// Sequential request/reply round trips; returns every latency in µs.
/// How the requests of a run are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requesting {
    /// `async_nats::Client::request` of the raw bytes, answered with raw bytes.
    Raw,
    /// `async_nats::Client::request` of the integrity floor's envelope, read and answered
    /// with another by the floor's plain code: what the contract's steps cost a round trip.
    Floor,
    /// A `natsbridge::Requester` (one reply subscription), answered by `smartreply`.
    Requester,
    /// `smartrequest` (a reply subscription per request), answered by `smartreply`.
    PerCall,
}

async fn requests_once(ctx: &Ctx, how: Requesting, count: usize) -> Result<Vec<f64>, Error> {
    let requester = natsbridge::connect(&ctx.nats_url).await?;
    let responder = natsbridge::connect(&ctx.nats_url).await?;
    let subject = format!("bench.request.{}", uuid_like());
    let mut sub = responder.subscribe(subject.clone()).await?;
    natsbridge::transport::subscriptions_registered(&responder).await?;
    let receive = ReceiveOptions::default();
    let config = dictionary_of(1024);
    let raw_body = Bytes::from(serde_json::to_vec(&config)?);
    // The floor's envelopes, shaped as the bridge's request and reply.
    let no_publish = SendOptions::default().no_publish();
    let floor_request: FloorEnvelope = serde_json::from_str(
        &smartsend(&subject, [("config", Payload::Dictionary(config.clone()))], &no_publish).await?.json,
    )?;
    let status = Payload::Text("Running".into());
    let floor_reply: FloorEnvelope =
        serde_json::from_str(&smartsend("reply", [("status", status.clone())], &no_publish).await?.json)?;
    let serving = {
        let (responder, receive) = (responder.clone(), receive.clone());
        tokio::spawn(async move {
            let running = Bytes::from_static(b"Running");
            while let Some(msg) = sub.next().await {
                match how {
                    Requesting::Raw => {
                        if let Some(reply) = msg.reply {
                            let _ = responder.publish(reply, running.clone()).await;
                        }
                    }
                    Requesting::Floor => {
                        let (Some(reply), Ok(_)) = (msg.reply, integrity_floor_read(&msg.payload)) else {
                            continue;
                        };
                        let Ok(body) = integrity_floor_write(&floor_reply, &status, &running) else {
                            continue;
                        };
                        let _ = responder.publish(reply, body).await;
                    }
                    Requesting::Requester | Requesting::PerCall => {
                        let Ok(request) = smartreceive(&msg, &receive).await else { continue };
                        let _ = smartreply(
                            &responder,
                            &request.envelope,
                            [("status", Payload::Text("Running".into()))],
                            SendOptions::default(),
                        )
                        .await;
                    }
                }
            }
        })
    };
    let muxed = natsbridge::Requester::new(requester.clone()).await?;
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count + count / 10 {
        let t = Instant::now();
        let payloads = || [("config", Payload::Dictionary(config.clone()))];
        let timeout = Duration::from_secs(10);
        let reply = match how {
            Requesting::Raw => {
                let reply = requester.request(subject.clone(), raw_body.clone()).await?;
                assert_eq!(&reply.payload[..], b"Running");
                None
            }
            Requesting::Floor => {
                let body = integrity_floor_write(&floor_request, &payloads()[0].1, &raw_body)?;
                let reply = requester.request(subject.clone(), body).await?;
                assert_eq!(
                    integrity_floor_read(&reply.payload).map_err(|e| e.to_string())?,
                    b"Running".len()
                );
                None
            }
            Requesting::Requester => {
                Some(muxed.request(&subject, payloads(), SendOptions::default(), &receive, timeout).await?)
            }
            Requesting::PerCall => Some(
                smartrequest(&requester, &subject, payloads(), SendOptions::default(), &receive, timeout)
                    .await?,
            ),
        };
        if let Some(reply) = reply {
            assert!(matches!(&reply.payloads[0].data, Payload::Text(t) if t == "Running"));
        }
        // The first tenth warms up connections, caches and the allocator.
        if i >= count / 10 {
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    serving.abort();
    Ok(latencies)
}

/// What bounds small-message throughput: the CPU one envelope costs each side, without
/// the network (`smartsend` without publishing; `smartreceive` of its output). Also
/// returns the envelopes per second of the two together, per run.
async fn envelope_cpu(count: usize) -> Result<(Vec<Figure>, Vec<f64>), Error> {
    let payload = Payload::Dictionary(dictionary_of(1024));
    let options = SendOptions::default().no_publish();
    let receive = ReceiveOptions::default();
    let (mut send, mut recv) = (Vec::new(), Vec::new());
    let mut json = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..count {
            json = smartsend("bench.cpu", [("data", payload.clone())], &options).await?.json;
        }
        send.push(t.elapsed().as_secs_f64() * 1e6 / count as f64);
        let t = Instant::now();
        for _ in 0..count {
            natsbridge::smartreceive_bytes(json.as_bytes(), None, &receive).await?;
        }
        recv.push(t.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    // The contract's integrity step alone, in the same run: SHA-256 of the payload's bytes,
    // which each side computes once (the sender to write it, the receiver to check it).
    let bytes = serde_json::to_vec(&dictionary_of(1024))?;
    let mut sha = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..count {
            std::hint::black_box(natsbridge::wire::sha256_hex(std::hint::black_box(&bytes)));
        }
        sha.push(t.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    // The same two steps written plainly (the integrity floor of the stream rows): what the
    // contract's steps cost without the bridge's checks, in the same run.
    let floor: FloorEnvelope = serde_json::from_str(&json)?;
    let (mut floor_send, mut floor_recv) = (Vec::new(), Vec::new());
    let mut body = Bytes::new();
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..count {
            body = integrity_floor_write(&floor, &payload, &Bytes::new())?;
        }
        floor_send.push(t.elapsed().as_secs_f64() * 1e6 / count as f64);
        let t = Instant::now();
        for _ in 0..count {
            std::hint::black_box(integrity_floor_read(&body).map_err(|e| e.to_string())?);
        }
        floor_recv.push(t.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    let per_sec = send.iter().zip(&recv).map(|(s, r)| 1e6 / (s + r)).collect();
    let without = |side: &[f64]| side.iter().zip(&sha).map(|(t, h)| t - h).collect::<Vec<_>>();
    let cpu = |name: String, samples: Vec<f64>, target: Option<Target>| Figure {
        group: "messaging",
        name,
        unit: "µs",
        baseline_name: "",
        baseline: f64::NAN,
        bridge: median(&samples),
        higher_is_better: false,
        target,
        baseline_samples: Vec::new(),
        bridge_samples: samples,
    };
    let mut figures = Vec::new();
    for (what, samples, floor, most) in
        [("smartsend", &send, &floor_send, 2.5), ("smartreceive", &recv, &floor_recv, 2.0)]
    {
        figures.push(cpu(
            format!("{what} CPU per 1 KB envelope ({} B of JSON), no network", json.len()),
            samples.clone(),
            Some(Target::MaxAbsolute(most)),
        ));
        figures.push(cpu(
            format!("{what} CPU per 1 KB envelope: the format floor with the contract's base64, SHA-256 and fresh ids, written plainly (serde_json, no checks)"),
            floor.clone(),
            None,
        ));
        figures.push(cpu(
            format!("{what} CPU per 1 KB envelope without its SHA-256 step (the bound that step sets: the above minus the next row)"),
            without(samples),
            None,
        ));
    }
    figures.push(cpu("SHA-256 of the 1 KB payload, the step each side takes once".into(), sha, None));
    Ok((figures, per_sec))
}

fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s.get(((s.len().saturating_sub(1)) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN)
}

pub(crate) async fn run(ctx: &Ctx, only: Option<&str>) -> Result<Vec<Figure>, Error> {
    let sizes = ctx.sizes;
    let mut figures = Vec::new();
    // `--only messaging/<part>` runs one part: stream (with the peers), cpu, request, direct.
    let part = |name: &str| only.and_then(|o| o.strip_prefix("messaging/")).is_none_or(|p| p == name);
    let rate = |name: &str,
                baseline_name: &'static str,
                baseline: &[f64],
                bridge: &[f64],
                target: Option<Target>| {
        let figure =
            Figure::rate("messaging", name, "msgs/s", baseline_name, baseline.to_vec(), bridge.to_vec());
        Figure { target, ..figure }
    };
    let small = Payload::Dictionary(dictionary_of(1024));
    let n = sizes.small_messages;

    if part("stream") {
        let sides = [Side::Raw, Side::Floor, Side::FloorIntegrity, Side::Bridge, Side::BridgeFlushEach];
        let samples =
            interleaved(sizes.reps, &sides, |side| stream_once(ctx, side, n, small.clone(), WINDOW)).await?;
        let [raw, floor, floor_integrity, bridge, flushed] =
            <[Vec<f64>; 5]>::try_from(samples).map_err(|_| "five sides")?;
        figures.push(rate(
            "1 KB dictionary, publish → subscribe (default options)",
            "raw async-nats",
            &raw,
            &bridge,
            Some(Target::MinRatio(0.35)),
        ));
        figures.push(rate(
            "1 KB dictionary, publish → subscribe, against the format floor",
            "raw async-nats + serde_json of a plain struct",
            &floor,
            &bridge,
            Some(Target::MinRatio(0.8)),
        ));
        // What bounds the two above: the floor itself against raw, and the floor with the steps
        // the contract asks of every payload (the bridge's gap to it is its own code).
        figures.push(rate(
            "1 KB dictionary, publish → subscribe: the format floor against raw (what bounds the first row)",
            "raw async-nats",
            &raw,
            &floor,
            None,
        ));
        figures.push(rate(
        "1 KB dictionary, publish → subscribe, against the format floor with the contract's base64 and SHA-256 (what bounds the second row)",
        "the format floor + fresh ids, SHA-256 and base64 each way",
        &floor_integrity,
        &bridge,
        Some(Target::MinRatio(0.8)),
    ));
        figures.push(rate(
            "1 KB dictionary, publish → subscribe with `.flush(true)` (wait for the socket each time)",
            "raw async-nats",
            &raw,
            &flushed,
            None,
        ));
        eprintln!("  messaging: 1 KB stream done");

        // The same stream and the same in-process loop, by the TypeScript and Python runtimes,
        // each beside its own language's format floor (measured by the peer, run for run).
        for (runtime, min_ratio) in [(Peer::TypeScript, 4.0), (Peer::Python, 25.0)] {
            let count = runtime.count(n);
            let floor = runtime.run(ctx, "floor", count).await?;
            figures.push(rate(
                &format!("1 KB dictionary, publish → subscribe, Rust against {}", runtime.name()),
                runtime.baseline_name(),
                &floor.runtime,
                &bridge,
                Some(Target::MinRatio(min_ratio)),
            ));
            figures.push(rate(
            &format!("1 KB dictionary, publish → subscribe, the {} runtime against its own language's format floor", runtime.name()),
            runtime.floor_name(),
            &floor.baseline,
            &floor.runtime,
            Some(Target::MinRatio(0.8)),
        ));
            if let Peer::Python = runtime {
                figures.push(Figure {
                baseline_samples: vec![PYTHON_RATE_BEFORE],
                baseline: PYTHON_RATE_BEFORE,
                ..rate(
                    "1 KB dictionary, publish → subscribe, the Python runtime against its rate when issue 30 was filed",
                    "the Python runtime, 2026-11 (3.97 k/s)",
                    &[],
                    &floor.runtime,
                    Some(Target::MinRatio(3.0)),
                )
            });
            }
            eprintln!("  messaging: {} peer done", runtime.name());
        }
    }

    if part("cpu") {
        let (cpu_figures, rust_cpu) = envelope_cpu(sizes.small_messages.min(20_000)).await?;
        figures.extend(cpu_figures);
        for runtime in Peer::ALL {
            let cpu = runtime.run(ctx, "cpu", runtime.count(n)).await?.runtime;
            figures.push(rate(
                &format!(
                    "1 KB dictionary, smartsend + smartreceive in one process, Rust against {}",
                    runtime.name()
                ),
                runtime.baseline_name(),
                &cpu,
                &rust_cpu,
                None,
            ));
        }
    }

    if part("request") {
        // Request/reply: per-run p50 and p99, medians over runs.
        let ways = [Requesting::Raw, Requesting::Requester, Requesting::PerCall, Requesting::Floor];
        let (mut p50, mut p99) = (vec![Vec::new(); ways.len()], vec![Vec::new(); ways.len()]);
        for rep in 0..sizes.reps {
            for k in 0..ways.len() {
                let i = (rep + k) % ways.len();
                let l = requests_once(ctx, ways[i], sizes.requests).await?;
                p50[i].push(percentile(&l, 0.5));
                p99[i].push(percentile(&l, 0.99));
            }
        }
        const RAW: &str = "raw async-nats request";
        const FLOOR: &str = "raw async-nats request of the integrity floor's envelopes";
        for (name, samples, baseline, baseline_name, bridge, target) in [
            ("request/reply 1 KB (`Requester`), p50", &p50, 0, RAW, 1, Some(Target::MaxOverBaseline(40.0))),
            ("request/reply 1 KB (`Requester`), p99", &p99, 0, RAW, 1, None),
            ("request/reply 1 KB (`smartrequest`, a reply subscription each), p50", &p50, 0, RAW, 2, None),
            (
                "request/reply 1 KB: the format floor with the contract's base64, SHA-256 and fresh ids each way, p50 (what bounds the first row)",
                &p50,
                0,
                RAW,
                3,
                None,
            ),
            ("request/reply 1 KB (`Requester`), against the integrity floor, p50", &p50, 3, FLOOR, 1, None),
        ] {
            figures.push(Figure {
                group: "messaging",
                name: name.into(),
                unit: "µs",
                baseline_name,
                baseline: median(&samples[baseline]),
                bridge: median(&samples[bridge]),
                higher_is_better: false,
                target,
                baseline_samples: samples[baseline].clone(),
                bridge_samples: samples[bridge].clone(),
            });
        }
        eprintln!("  messaging: request/reply done");
    }

    if part("direct") {
        // The direct path at the threshold: ~400 KB of binary, base64 inside the envelope.
        let size = 400_000;
        let blob = Payload::Binary(Bytes::from(crate::codec::random_bytes(size)));
        let n = sizes.direct_messages;
        let sides = [Side::Raw, Side::Floor, Side::FloorIntegrity, Side::Bridge];
        let samples =
            interleaved(sizes.reps, &sides, |side| stream_once(ctx, side, n, blob.clone(), DIRECT_WINDOW))
                .await?;
        let to_mb = |v: &Vec<f64>| v.iter().map(|r| r * size as f64 / 1e6).collect::<Vec<_>>();
        let [raw, floor, integrity, bridge] = [0, 1, 2, 3].map(|i| to_mb(&samples[i]));
        const FLOOR: &str = "raw async-nats + serde_json of a plain struct, the bytes in base64 made once";
        const INTEGRITY: &str = "the format floor + base64 and SHA-256 each way, fresh ids";
        for (name, baseline_name, baseline, bridge, target) in [
            ("400 KB binary, direct path", "raw async-nats", &raw, &bridge, Some(Target::MinRatio(0.7))),
            (
                "400 KB binary, direct path: the format floor against raw",
                "raw async-nats",
                &raw,
                &floor,
                None,
            ),
            (
                "400 KB binary, direct path: the format floor with the contract's base64 and SHA-256 against raw (what bounds the first row)",
                "raw async-nats",
                &raw,
                &integrity,
                None,
            ),
            ("400 KB binary, direct path, against the format floor", FLOOR, &floor, &bridge, None),
            (
                "400 KB binary, direct path, against the format floor with the contract's base64 and SHA-256",
                INTEGRITY,
                &integrity,
                &bridge,
                Some(Target::MinRatio(0.8)),
            ),
        ] {
            let figure =
                Figure::rate("messaging", name, "MB/s", baseline_name, baseline.clone(), bridge.clone());
            figures.push(match target {
                Some(target) => figure.target(target),
                None => figure,
            });
        }
        eprintln!("  messaging: direct path done");
    }
    Ok(figures)
}
