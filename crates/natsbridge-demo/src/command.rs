//! Scenario 1, command & control: a dashboard sends a small JSON config as a command;
//! the simulation service answers "Running" at once through `reply_to`.

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use natsbridge::types::MsgPurpose;
use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive, smartreply, smartrequest};
use serde_json::json;
use tracing::{info, warn};

use crate::measure::{bar, percentile};
use crate::run::{Ctx, Outcome};

const SUBJECT: &str = "demo.sim.command";

/// Subscribes the simulation service to `subject` (queue group `simulation`), registered
/// with the server when it returns.
pub(crate) async fn subscribe(
    service: &async_nats::Client,
    subject: &'static str,
) -> Result<async_nats::Subscriber, Box<dyn std::error::Error>> {
    let sub = service.queue_subscribe(subject, "simulation".into()).await?;
    natsbridge::transport::subscriptions_registered(service).await?;
    Ok(sub)
}

/// The simulation service: answers every command on `sub` with "Running" through
/// `reply_to`; returns how many requests it could not answer (when the subscription ends).
pub(crate) async fn serve(
    service: async_nats::Client,
    mut sub: async_nats::Subscriber,
    subject: &'static str,
    receive: ReceiveOptions,
) -> usize {
    let mut bad = 0usize;
    while let Some(msg) = sub.next().await {
        let req = match smartreceive(&msg, &receive).await {
            Ok(req) => req,
            Err(e) => {
                warn!(correlation_id = e.correlation_id().unwrap_or_default(), subject, error = %e.report(), "bad command");
                bad += 1;
                continue;
            }
        };
        let Some(Payload::Dictionary(cfg)) = req.payloads.first().map(|p| &p.data) else {
            bad += 1;
            continue;
        };
        info!(correlation_id = req.correlation_id(), subject, config = %cfg, "command received");
        let status =
            json!({"status": "Running", "step_size": cfg["step_size"], "iterations": cfg["iterations"]});
        let opts = SendOptions::default().sender_name("simulation").purpose(MsgPurpose::UpdateStatus);
        match smartreply(&service, &req.envelope, [("status", Payload::Dictionary(status))], opts).await {
            Ok(_) => {
                info!(correlation_id = req.correlation_id(), subject = %req.envelope.reply_to, "answered Running")
            }
            Err(e) => {
                warn!(correlation_id = req.correlation_id(), error = %e.report(), "reply failed");
                bad += 1;
            }
        }
    }
    bad
}

pub(crate) async fn run(ctx: &Ctx, commands: usize) -> Result<Outcome, Box<dyn std::error::Error>> {
    let service = natsbridge::connect(&ctx.nats_url).await?;
    let sub = subscribe(&service, SUBJECT).await?;
    let task = tokio::spawn(serve(service, sub, SUBJECT, ctx.receive.clone()));

    let dashboard = natsbridge::connect(&ctx.nats_url).await?;
    let send = SendOptions::default().sender_name("dashboard").purpose(MsgPurpose::Command);
    let mut rtts = Vec::with_capacity(commands);
    let progress = bar(commands as u64, "scenario 1: commands");
    let mut wrong = 0;
    for i in 0..commands + 20 {
        let cfg = json!({"step_size": 0.01 * (1 + i % 10) as f64, "iterations": 1000 + i});
        let started = Instant::now();
        let reply = smartrequest(
            &dashboard,
            SUBJECT,
            [("config", Payload::Dictionary(cfg))],
            send.clone(),
            &ctx.receive,
            Duration::from_secs(5),
        )
        .await?;
        let rtt = started.elapsed();
        let ok = matches!(&reply.payloads[0].data, Payload::Dictionary(v) if v["status"] == "Running" && v["iterations"] == 1000 + i)
            && !reply.envelope.reply_to_msg_id.is_empty();
        if !ok {
            wrong += 1;
        }
        if i >= 20 {
            rtts.push(rtt);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    task.abort();
    rtts.sort();
    let (p50, p99) = (percentile(&rtts, 0.50), percentile(&rtts, 0.99));
    Ok(Outcome {
        name: "1 command & control",
        ok: wrong == 0 && rtts.len() == commands,
        result: format!("{} commands, {} answered \"Running\"", commands, commands - wrong.min(commands)),
        figure: format!("round trip p50 {:.2} ms, p99 {:.2} ms", ms(p50), ms(p99)),
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
