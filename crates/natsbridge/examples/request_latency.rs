//! Request/reply round trips on a running nats-server, split into their parts: the raw
//! async-nats round trip, and the bridge's requester and responder sides each against a
//! raw other side, so a profiler (or a stopwatch) sees which side costs what.
//!
//! ```sh
//! nats-server -p 4222 &
//! cargo build --release -p natsbridge --example request_latency
//! target/release/examples/request_latency nats://127.0.0.1:4222 5000
//! ```
//!
//! `LATENCY_RUNTIME=current` runs it all on one thread (no hand-offs between workers: what
//! is left is CPU); `LATENCY_PER_CALL=1` makes the bridge's requests with `smartrequest`
//! instead of a `Requester`. `cargo xtask bench` measures the round trip against its
//! baselines; this is the loop to look at when that figure moves.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::{Payload, ReceiveOptions, Requester, SendOptions, smartreceive, smartreply, smartsend};

/// How the other side of a round trip answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Responder {
    /// Publishes a fixed body (an envelope made once) to the reply subject.
    Raw,
    /// `smartreceive` + `smartreply`.
    Bridge,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Requesting {
    /// `Client::request` of a fixed body (the request envelope made once).
    Raw,
    /// `Requester::request`.
    Bridge,
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // `LATENCY_RUNTIME=current` runs everything on one thread (no hand-off between workers).
    let runtime = match std::env::var("LATENCY_RUNTIME").as_deref() {
        Ok("current") => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
        _ => tokio::runtime::Builder::new_multi_thread().enable_all().build()?,
    };
    runtime.block_on(measure())
}

async fn measure() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5000);
    // A third argument picks one pairing (0–3), for a profiler.
    let only: Option<usize> = args.next().and_then(|a| a.parse().ok());
    for round in 0..2 {
        for (k, (req, resp)) in [
            (Requesting::Raw, Responder::Raw),
            (Requesting::Bridge, Responder::Raw),
            (Requesting::Raw, Responder::Bridge),
            (Requesting::Bridge, Responder::Bridge),
        ]
        .into_iter()
        .enumerate()
        {
            if only.is_some_and(|o| o != k) {
                continue;
            }
            let l = run(&url, req, resp, count).await?;
            if round == 1 {
                println!(
                    "{req:?} requester, {resp:?} responder: p50 {:.1} µs  p99 {:.1} µs",
                    percentile(&l, 0.5),
                    percentile(&l, 0.99)
                );
            }
        }
    }
    Ok(())
}

/// The `reply_to` of an envelope, found without parsing it.
fn reply_to_in(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"reply_to\":\"")? + "\"reply_to\":\"".len();
    let len = text[start..].find('"')?;
    Some(text[start..start + len].to_owned())
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * p) as usize]
}

async fn run(
    url: &str,
    req: Requesting,
    resp: Responder,
    count: usize,
) -> Result<Vec<f64>, Box<dyn std::error::Error + Send + Sync>> {
    let requester = natsbridge::connect(url).await?;
    let responder = natsbridge::connect(url).await?;
    let subject = format!("latency.{}", requester.new_inbox().rsplit('.').next().unwrap_or("x"));
    let mut sub = responder.subscribe(subject.clone()).await?;
    natsbridge::transport::subscriptions_registered(&responder).await?;
    let config = Payload::Dictionary(serde_json::json!({ "config": "x".repeat(1024 - 13) }));
    let no_publish = SendOptions::default().no_publish();
    let request_body =
        Bytes::from(smartsend(&subject, [("config", config.clone())], &no_publish).await?.json);
    let reply_body = Bytes::from(
        smartsend("reply", [("status", Payload::Text("Running".into()))], &no_publish).await?.json,
    );
    let receive = ReceiveOptions::default();
    let serving = {
        let (responder, receive) = (responder.clone(), receive.clone());
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                match resp {
                    Responder::Raw => {
                        // The bridge names the reply subject in the envelope, not on the message.
                        let reply = msg.reply.map(|r| r.to_string()).or_else(|| reply_to_in(&msg.payload));
                        if let Some(reply) = reply {
                            let _ = responder.publish(reply, reply_body.clone()).await;
                        }
                    }
                    Responder::Bridge => {
                        let Ok(request) = smartreceive(&msg, &receive).await else { continue };
                        let reply_to = request.envelope.reply_to.as_str();
                        let reply_to =
                            if reply_to.is_empty() { msg.reply.as_deref().unwrap_or("") } else { reply_to };
                        let mut envelope = request.envelope.clone();
                        envelope.reply_to = reply_to.to_owned();
                        let _ = smartreply(
                            &responder,
                            &envelope,
                            [("status", Payload::Text("Running".into()))],
                            SendOptions::default(),
                        )
                        .await;
                    }
                }
            }
        })
    };
    let muxed = Requester::new(requester.clone()).await?;
    // `LATENCY_PER_CALL=1`: the bridge requests with `smartrequest` (a subscription each).
    let per_call = std::env::var_os("LATENCY_PER_CALL").is_some();
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count + count / 10 {
        let t = Instant::now();
        match req {
            Requesting::Raw => {
                let reply = requester.request(subject.clone(), request_body.clone()).await?;
                std::hint::black_box(reply);
            }
            Requesting::Bridge => {
                let payloads = [("config", config.clone())];
                let timeout = Duration::from_secs(10);
                let reply = if per_call {
                    natsbridge::smartrequest(
                        &requester,
                        &subject,
                        payloads,
                        SendOptions::default(),
                        &receive,
                        timeout,
                    )
                    .await?
                } else {
                    muxed.request(&subject, payloads, SendOptions::default(), &receive, timeout).await?
                };
                std::hint::black_box(reply);
            }
        }
        if i >= count / 10 {
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    serving.abort();
    Ok(latencies)
}
