//! The operations generated from the example team spec (`examples/simulation/asyncapi.yaml`
//! → the `simulation-api` crate) against a real nats-server: typed request/reply, typed
//! errors for bad messages without ending the subscription, declared headers, Arrow
//! tables, JetStream publish and replay, subject parameters, a responder's error, and
//! interoperation with plain `smartsend`.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use arrow_array::{Float64Array, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use futures::StreamExt as _;
use natsbridge::jetstream::{ConsumerOptions, StreamOptions, ensure_stream};
use natsbridge::types::MsgPurpose;
use natsbridge::{ErrorCode, Payload, SendOptions, Table, smartsend};
use natsbridge_testkit::NatsServer;
use serde_json::json;
use simulation_api::messages::{AudioClip, AudioClipHeaders, Results};
use simulation_api::{
    Bridge, Command, CommandStatus, Health, RunState, Spectrum, TableRequest, channels, operations,
};

async fn bridge(server: &NatsServer) -> Bridge {
    let client = natsbridge::connect(&server.url()).await.unwrap();
    Bridge::new(client).timeout(Duration::from_secs(5))
}

fn command(iterations: u64) -> Command {
    Command { step_size: 0.01, iterations: NonZeroU64::new(iterations).unwrap(), label: None }
}

/// The constraints Rust's types cannot hold (`maximum`, `exclusiveMinimum`, `maxLength`)
/// are checked on send and on receive with the spec's JSON Schema, as the TypeScript and
/// Python packages check them with ajv and jsonschema: a typed sender cannot publish what a
/// typed receiver in another language refuses.
#[tokio::test(flavor = "multi_thread")]
async fn constraints_the_types_cannot_hold_are_checked_both_ways() {
    let server = NatsServer::spawn();
    let client = bridge(&server).await;
    let mut commands = operations::handle_command(&client, "sim2").await.unwrap();
    client.client().flush().await.unwrap();

    let label = |s: &str| Some(simulation_api::RunLabel::try_from(s).unwrap());
    let too_many = command(1_000_001);
    let zero_step = Command { step_size: 0.0, ..command(10) };
    let big_step = Command { step_size: 10.5, ..command(10) };
    let long_label = Command { label: label(&"a".repeat(33)), ..command(10) };
    for (what, bad) in [
        ("maximum", too_many),
        ("exclusiveMinimum", zero_step),
        ("maximum", big_step),
        ("maxLength", long_label),
    ] {
        let err = operations::send_command(&client, "sim2", &bad).await.unwrap_err();
        assert_eq!(err.code(), &ErrorCode::SerializationError, "{what}: {err}");
        assert!(err.message().contains("not a valid `command`"), "{what}: {err}");
    }
    assert!(simulation_api::RunLabel::try_from("Not Lower").is_err(), "the pattern is the type's own");

    // The edges pass; a plain sender's value over the maximum is the receiver's typed error.
    let edge = Command { step_size: 10.0, label: label(&"a".repeat(32)), ..command(1_000_000) };
    let plain = SendOptions::default().connection(client.client()).purpose(MsgPurpose::Command);
    let value = serde_json::to_value(&edge).unwrap();
    smartsend("sim.sim2.command", [("command", Payload::Dictionary(value))], &plain).await.unwrap();
    let over = json!({"step_size": 0.5, "iterations": 2_000_000});
    let bad = smartsend("sim.sim2.command", [("command", Payload::Dictionary(over))], &plain).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), commands.next()).await.unwrap().unwrap();
    assert_eq!(first.unwrap().message, edge);
    let second = tokio::time::timeout(Duration::from_secs(10), commands.next()).await.unwrap().unwrap();
    let err = second.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DeserializationError, "{err}");
    assert_eq!(err.correlation_id(), Some(bad.envelope.correlation_id.as_str()));
    assert!(err.message().contains("/iterations"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_gets_its_typed_reply_and_bad_commands_are_typed_errors() {
    let server = NatsServer::spawn();
    let service = bridge(&server).await;
    let mut commands = operations::handle_command(&service, "sim1").await.unwrap();
    service.client().flush().await.unwrap();

    let responder = {
        let service = service.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Some(next) = commands.next().await {
                match next {
                    Ok(incoming) => {
                        let status = CommandStatus {
                            state: RunState::Running,
                            detail: Some(format!("{} steps", incoming.message.iterations)),
                        };
                        // Plain `smartsend` commands name no `reply_to`: nothing to answer.
                        if !incoming.received.envelope.reply_to.is_empty() {
                            operations::handle_command_reply(&service, &incoming, &status).await.unwrap();
                        }
                        seen.push(Ok(incoming.message.iterations.get()));
                    }
                    Err(e) => seen.push(Err((e.code().clone(), e.correlation_id().map(str::to_owned)))),
                }
                if seen.len() == 4 {
                    return seen;
                }
            }
            seen
        })
    };

    let client = bridge(&server).await;
    let reply = operations::send_command(&client, "sim1", &command(1000)).await.unwrap();
    assert_eq!(reply.message.state, RunState::Running);
    assert_eq!(reply.message.detail.as_deref(), Some("1000 steps"));

    // Untyped senders: one that fits the schema, one that does not (iterations 0), one
    // without the payload. The typed receiver yields the bad ones as typed errors and goes on.
    let plain = SendOptions::default().connection(client.client()).purpose(MsgPurpose::Command);
    let good = json!({"step_size": 0.5, "iterations": 7});
    smartsend("sim.sim1.command", [("command", Payload::Dictionary(good))], &plain).await.unwrap();
    let bad = smartsend(
        "sim.sim1.command",
        [("command", Payload::Dictionary(json!({"step_size": 0.5, "iterations": 0})))],
        &plain,
    )
    .await
    .unwrap();
    let missing =
        smartsend("sim.sim1.command", [("other", Payload::Text("hi".into()))], &plain).await.unwrap();

    let seen = tokio::time::timeout(Duration::from_secs(10), responder).await.unwrap().unwrap();
    assert_eq!(seen[0], Ok(1000));
    assert_eq!(seen[1], Ok(7));
    assert_eq!(
        seen[2],
        Err((ErrorCode::DeserializationError, Some(bad.envelope.correlation_id.as_str().to_owned())))
    );
    assert_eq!(
        seen[3],
        Err((ErrorCode::InvalidPayloadType, Some(missing.envelope.correlation_id.as_str().to_owned())))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_is_answered_with_its_typed_error_instead_of_a_timeout() {
    let server = NatsServer::spawn();
    let service = bridge(&server).await;
    let mut commands = operations::handle_command(&service, "*").await.unwrap();
    service.client().flush().await.unwrap();
    tokio::spawn(async move { while commands.next().await.is_some() {} });

    let client = bridge(&server).await;
    let options = SendOptions::default().purpose(MsgPurpose::Command);
    let bad = Payload::Dictionary(json!({"step_size": "fast", "iterations": 3}));
    let err = natsbridge::smartrequest(
        client.client(),
        "sim.any.command",
        [("command", bad)],
        options,
        &Default::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(err.is_remote(), "{err}");
    assert_eq!(err.code(), &ErrorCode::DeserializationError);
}

#[tokio::test(flavor = "multi_thread")]
async fn audio_headers_and_tables_travel_typed() {
    let server = NatsServer::spawn();
    let service = bridge(&server).await;
    let mut clips = operations::serve_audio(&service, "mic1").await.unwrap();
    let mut tables = operations::serve_table(&service, "sim1").await.unwrap();
    service.client().flush().await.unwrap();
    let audio_service = service.clone();
    tokio::spawn(async move {
        while let Some(Ok(clip)) = clips.next().await {
            let spectrum = Spectrum {
                peak_hz: f64::from(clip.message.headers.sample_rate as u32) / 100.0,
                bins: vec![clip.message.data.len() as f64, clip.message.headers.channels as f64],
            };
            operations::serve_audio_reply(&audio_service, &clip, &spectrum).await.unwrap();
        }
    });
    tokio::spawn(async move {
        while let Some(Ok(request)) = tables.next().await {
            let rows = request.message.rows.get() as i64;
            let schema = Arc::new(Schema::new(vec![
                Field::new("step", DataType::Int64, false),
                Field::new("value", DataType::Float64, false),
            ]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(0..rows)),
                    Arc::new(Float64Array::from_iter_values((0..rows).map(|i| i as f64 * 0.5))),
                ],
            )
            .unwrap();
            let results = Results { table: Table::new(schema, vec![batch]) };
            operations::serve_table_reply(&service, &request, &results).await.unwrap();
        }
    });

    let client = bridge(&server).await;
    let clip = AudioClip {
        data: Bytes::from(vec![7u8; 4096]),
        headers: AudioClipHeaders { sample_rate: 44_100, channels: 2 },
    };
    let spectrum = operations::analyze_audio(&client, "mic1", &clip).await.unwrap();
    assert_eq!(spectrum.message.peak_hz, 441.0);
    assert_eq!(spectrum.message.bins, vec![4096.0, 2.0]);

    let table =
        operations::request_table(&client, "sim1", &TableRequest { rows: NonZeroU64::new(1000).unwrap() })
            .await
            .unwrap();
    assert_eq!(table.message.table.num_rows(), 1000);

    // A clip whose declared header does not parse is a typed error for the requester too.
    let bad = SendOptions::default().header("Sample-Rate", "fast").header("Channels", "2");
    let err = natsbridge::smartrequest(
        client.client(),
        "sim.mic1.audio",
        [("clip", Payload::Audio(Bytes::from_static(b"pcm")))],
        bad,
        &Default::default(),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DeserializationError, "{err}");
    assert!(err.message().contains("Sample-Rate"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_goes_through_jetstream_and_replays_typed() {
    let server = NatsServer::spawn();
    let bridge = bridge(&server).await;
    let stream = StreamOptions::new(
        channels::HEALTH_STREAM,
        vec![channels::HEALTH_WILDCARD.to_owned()],
        Duration::from_secs(3600),
    );
    ensure_stream(&bridge.jetstream(), &stream).await.unwrap();
    for i in 0..5u64 {
        let health =
            Health { status: "ok".into(), uptime_s: i, load: Some(0.5), checked_at: None, instance: None };
        let sent =
            operations::publish_health(&bridge, if i % 2 == 0 { "a" } else { "b" }, &health).await.unwrap();
        assert!(sent.stream_sequence.is_some());
    }
    // Only service `a`, then every service.
    let mut only_a = operations::replay_health(&bridge, "a", ConsumerOptions::default()).unwrap();
    let mut uptimes = Vec::new();
    for i in 0..3 {
        let stored = only_a.next().await.unwrap();
        // Both acks of rule 18: sent, and (the last) confirmed by the server.
        if i < 2 {
            stored.ack().await.unwrap()
        } else {
            stored.ack_confirmed().await.unwrap()
        }
        uptimes.push(stored.message.uptime_s);
    }
    assert_eq!(uptimes, vec![0, 2, 4]);
    // Written by plain code, missing `uptime_s`: an envelope, but never a `Health`. The
    // replay terminates it (rule 18, as TypeScript's and Python's do), returns its error, and
    // goes on.
    let bad = smartsend(
        "sim.c.health",
        [("health", Payload::Dictionary(json!({ "status": "degraded" })))],
        &SendOptions::default().connection(bridge.client()).jetstream(bridge.jetstream()),
    )
    .await
    .unwrap();
    let good = Health { status: "ok".into(), uptime_s: 9, load: None, checked_at: None, instance: None };
    operations::publish_health(&bridge, "c", &good).await.unwrap();
    let mut terminated = bridge
        .client()
        .subscribe(format!("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{}.>", channels::HEALTH_STREAM))
        .await
        .unwrap();
    bridge.client().flush().await.unwrap();
    let mut all = operations::replay_health(&bridge, "*", ConsumerOptions::default()).unwrap();
    for i in 0..5 {
        assert_eq!(all.next().await.unwrap().message.uptime_s, i);
    }
    let err = all.next().await.map(|s| s.message).unwrap_err();
    assert_eq!(err.code(), &ErrorCode::DeserializationError, "{err}");
    assert_eq!(err.correlation_id(), Some(bad.envelope.correlation_id.as_str()), "{err}");
    let advisory = tokio::time::timeout(Duration::from_secs(5), terminated.next())
        .await
        .expect("no MSG_TERMINATED advisory: the bad message was not terminated")
        .unwrap();
    let advisory: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap();
    assert_eq!(advisory["stream_seq"], bad.stream_sequence.unwrap(), "{advisory}");
    assert_eq!(all.next().await.unwrap().message.uptime_s, 9);
}

#[tokio::test(flavor = "multi_thread")]
async fn channel_parameters_must_be_one_subject_token() {
    let server = NatsServer::spawn();
    let bridge = bridge(&server).await;
    for bad in ["", "a.b", "*", ">", "a b"] {
        let err = operations::send_command(&bridge, bad, &command(1)).await.unwrap_err();
        assert_eq!(err.code(), &ErrorCode::InvalidArgument, "{bad:?}");
    }
    assert_eq!(channels::command("sim1").unwrap(), "sim.sim1.command");
    assert_eq!(channels::command_filter("*").unwrap(), "sim.*.command");
    assert!(channels::command_filter("a.*").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_responder_error_reaches_the_requester_as_a_remote_error() {
    let server = NatsServer::spawn();
    let service = bridge(&server).await;
    let mut commands = operations::handle_command(&service, "delta").await.unwrap();
    service.client().flush().await.unwrap();
    let responder = service.clone();
    tokio::spawn(async move {
        while let Some(Ok(command)) = commands.next().await {
            let refusal =
                natsbridge::Error::new(ErrorCode::InvalidPayloadType, "this service runs no commands today");
            operations::handle_command_error(&responder, &command, &refusal).await.unwrap();
        }
    });
    let client = bridge(&server).await;
    let err = operations::send_command(&client, "delta", &command(2)).await.unwrap_err();
    assert!(err.is_remote(), "{err}");
    assert_eq!(err.code(), &ErrorCode::InvalidPayloadType);
    assert!(err.message().contains("no commands today"), "{err}");
}
