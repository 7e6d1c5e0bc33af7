//! Scenario 1, command & control: a dashboard sends a small JSON config as a command;
//! the simulation service answers "Running" at once through `reply_to`.
//!
//! Both sides are written on the operations generated from the example team spec
//! (`examples/simulation/asyncapi.yaml` → the `simulation-api` crate): the subject is
//! `channels::command`, the payloads are the typed `Command` and `CommandStatus`, and a
//! command that does not fit the spec arrives as a typed error.

use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use natsbridge::types::MsgPurpose;
use natsbridge::{SendOptions, Sent};
use simulation_api::{Bridge, Command, CommandStatus, RunState, Subscription, operations};
use tracing::{info, warn};

use crate::ctx::{Ctx, Outcome};
use crate::measure::{bar, percentile};

/// The `service` parameter of the command channel in the CLI demo.
const SERVICE: &str = "demo";

/// The simulation service's side of `bridge`: replies go out as `updateStatus` from
/// "simulation".
pub(crate) fn service_bridge(client: async_nats::Client, ctx: &Ctx) -> Bridge {
    Bridge::new(client)
        .send_options(SendOptions::default().sender_name("simulation").purpose(MsgPurpose::UpdateStatus))
        .receive_options(ctx.receive.clone())
}

/// Subscribes the simulation service to the commands of `service` (the spec's queue
/// group), registered with the server when it returns.
pub(crate) async fn subscribe(
    bridge: &Bridge,
    service: &str,
) -> Result<Subscription<Command>, Box<dyn std::error::Error>> {
    let sub = operations::handle_command(bridge, service).await?;
    natsbridge::transport::subscriptions_registered(bridge.client()).await?;
    Ok(sub)
}

/// The reply to a command: running, with the settings it runs with.
fn status_of(command: &Command) -> CommandStatus {
    CommandStatus {
        state: RunState::Running,
        detail: Some(format!("step_size {} iterations {}", command.step_size, command.iterations)),
    }
}

/// The simulation service: answers every command on `sub` with "Running" through
/// `reply_to`; returns how many it could not answer (when the subscription ends). A
/// command that does not fit the spec is a typed error here, and its sender gets it as an
/// error response.
pub(crate) async fn serve(bridge: Bridge, mut sub: Subscription<Command>) -> usize {
    let mut bad = 0usize;
    while let Some(next) = sub.next().await {
        let command = match next {
            Ok(command) => command,
            Err(e) => {
                warn!(correlation_id = e.correlation_id().unwrap_or_default(), error = %e.report(), "bad command");
                bad += 1;
                continue;
            }
        };
        let cid = command.correlation_id().to_owned();
        info!(correlation_id = cid, step_size = command.message.step_size, iterations = %command.message.iterations, "command received");
        let replied: natsbridge::Result<Sent> =
            operations::handle_command_reply(&bridge, &command, &status_of(&command.message)).await;
        match replied {
            Ok(_) => {
                info!(correlation_id = cid, subject = %command.received.envelope.reply_to, "answered Running")
            }
            Err(e) => {
                warn!(correlation_id = cid, error = %e.report(), "reply failed");
                bad += 1;
            }
        }
    }
    bad
}

pub(crate) async fn run(ctx: &Ctx, commands: usize) -> Result<Outcome, Box<dyn std::error::Error>> {
    let service = service_bridge(natsbridge::connect(&ctx.nats_url).await?, ctx);
    let sub = subscribe(&service, SERVICE).await?;
    let task = tokio::spawn(serve(service, sub));

    let dashboard = Bridge::new(natsbridge::connect(&ctx.nats_url).await?)
        .send_options(SendOptions::default().sender_name("dashboard"))
        .receive_options(ctx.receive.clone())
        .timeout(Duration::from_secs(5));
    let mut rtts = Vec::with_capacity(commands);
    let progress = bar(commands as u64, "scenario 1: commands");
    let mut wrong = 0;
    for i in 0..commands + 20 {
        let command = Command {
            step_size: 0.01 * (1 + i % 10) as f64,
            iterations: NonZeroU64::new(1000 + i as u64).expect("not zero"),
            label: None,
        };
        let started = Instant::now();
        let reply = operations::send_command(&dashboard, SERVICE, &command).await?;
        let rtt = started.elapsed();
        let ok = reply.message == status_of(&command) && !reply.received.envelope.reply_to_msg_id.is_empty();
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
