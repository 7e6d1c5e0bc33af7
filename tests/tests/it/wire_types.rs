//! The generated Rust types against the source schema: serde round-trips are exact, and
//! the schema schemars derives from the types accepts and rejects what `schema/` does.

use natsbridge_types::{MsgEnvelopeV1, MsgPurpose, PayloadType, SCHEMA_JSON};
use serde_json::{Value, json};

fn envelope() -> Value {
    json!({
        "correlation_id": "0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11",
        "msg_id": "5F0C3B8E-2A0D-4D59-8C1E-6B2F4C1D9E20",
        "timestamp": "2026-03-13T07:02:50.443000Z",
        "send_to": "/chat/user/v1/message",
        "msg_purpose": "chat",
        "sender_name": "sender-app",
        "sender_id": "sender-uuid...",
        "receiver_name": "",
        "receiver_id": "",
        "reply_to": "reply.subject",
        "reply_to_msg_id": "",
        "broker_url": "nats://localhost:4222",
        "metadata": {"z": 1, "a": [1, 2, {"deep": null}]},
        "payloads": [{
            "id": "9d3a4c1e-6b7f-4e2a-8c5d-1f0e2d3c4b5a",
            "dataname": "msg",
            "payload_type": "text",
            "transport": "direct",
            "encoding": "base64",
            "size": 11,
            "data": "SGVsbG8gV29ybGQ=",
            "metadata": {"payload_bytes": 11}
        }]
    })
}

fn with(mut v: Value, pointer: &str, new: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = v.pointer_mut(parent).unwrap();
    match (target, new) {
        (Value::Object(o), Some(n)) => {
            o.insert(key.to_owned(), n);
        }
        (Value::Object(o), None) => {
            o.remove(key);
        }
        (Value::Array(a), Some(n)) => a[key.parse::<usize>().unwrap()] = n,
        _ => panic!("bad pointer {pointer}"),
    }
    v
}

/// (name, value, valid per schema/)
fn cases() -> Vec<(&'static str, Value, bool)> {
    let e = envelope;
    vec![
        ("reference-like envelope", e(), true),
        ("unknown top-level field", with(e(), "/x_trace", Some(json!({"hop": 3}))), true),
        ("unknown payload field", with(e(), "/payloads/0/x_codec", Some(json!("lz4"))), true),
        (
            "no optional fields",
            with(with(with(e(), "/broker_url", None), "/metadata", None), "/payloads/0/metadata", None),
            true,
        ),
        ("empty payload list", with(e(), "/payloads", Some(json!([]))), true),
        ("missing msg_id", with(e(), "/msg_id", None), false),
        ("missing payloads", with(e(), "/payloads", None), false),
        ("msg_id not a uuid", with(e(), "/msg_id", Some(json!("def456..."))), false),
        ("timestamp with offset", with(e(), "/timestamp", Some(json!("2026-03-13T08:02:50+01:00"))), false),
        ("unknown msg_purpose", with(e(), "/msg_purpose", Some(json!("heartbeat"))), false),
        ("negative size", with(e(), "/payloads/0/size", Some(json!(-1))), false),
        ("size as string", with(e(), "/payloads/0/size", Some(json!("11"))), false),
        ("empty send_to", with(e(), "/send_to", Some(json!(""))), false),
        ("payload without data", with(e(), "/payloads/0/data", None), false),
        ("metadata not an object", with(e(), "/metadata", Some(json!([1]))), false),
        ("payloads not an array", with(e(), "/payloads", Some(json!({}))), false),
    ]
}

fn source_validator() -> jsonschema::Validator {
    let mut bundle: Value = serde_json::from_str(SCHEMA_JSON).unwrap();
    bundle["$ref"] = json!("#/definitions/MsgEnvelopeV1");
    jsonschema::draft7::new(&bundle).unwrap()
}

fn derived_validator() -> jsonschema::Validator {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let schema = generator.into_root_schema_for::<MsgEnvelopeV1>();
    jsonschema::draft7::new(&serde_json::to_value(schema).unwrap()).unwrap()
}

#[test]
fn schemars_schema_of_the_types_agrees_with_the_source_schema() {
    let (source, derived) = (source_validator(), derived_validator());
    for (name, value, valid) in cases() {
        assert_eq!(source.is_valid(&value), valid, "source schema verdict on `{name}`");
        assert_eq!(derived.is_valid(&value), valid, "derived schema verdict on `{name}`");
    }
}

/// The one known divergence, kept visible: serde reads `null` in an optional field as
/// "absent" (and the schemars schema says so), while `schema/` rejects `null` there.
/// A Rust relay therefore drops such a `null`; validate first where that matters.
#[test]
fn null_in_an_optional_field_is_the_documented_divergence() {
    let value = with(envelope(), "/broker_url", Some(Value::Null));
    assert!(!source_validator().is_valid(&value));
    assert!(derived_validator().is_valid(&value));
    let env: MsgEnvelopeV1 = serde_json::from_value(value).unwrap();
    assert_eq!(env.broker_url, None);
}

#[test]
fn valid_envelopes_round_trip_exactly() {
    for (name, value, valid) in cases() {
        if !valid {
            continue;
        }
        let text = serde_json::to_string(&value).unwrap();
        let parsed: MsgEnvelopeV1 = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back, value, "{name}: parse → serialize changed the envelope");
    }
}

#[test]
fn timestamp_and_ids_keep_their_exact_text() {
    let env: MsgEnvelopeV1 = serde_json::from_value(envelope()).unwrap();
    assert_eq!(env.timestamp.as_str(), "2026-03-13T07:02:50.443000Z");
    assert_eq!(env.msg_id.as_str(), "5F0C3B8E-2A0D-4D59-8C1E-6B2F4C1D9E20", "ids are never re-cased");
    let text = serde_json::to_string(&env).unwrap();
    assert!(text.contains(r#""timestamp":"2026-03-13T07:02:50.443000Z""#), "{text}");
    // Key order of free-form metadata survives.
    assert!(text.contains(r#""metadata":{"z":1,"a":[1,2,{"deep":null}]}"#), "{text}");
}

#[test]
fn readers_keep_unknown_enum_values_and_fields() {
    let v = with(
        with(envelope(), "/msg_purpose", Some(json!("heartbeat"))),
        "/payloads/0/payload_type",
        Some(json!("pointcloud")),
    );
    let v = with(v, "/x_hop", Some(json!(2)));
    let env: MsgEnvelopeV1 = serde_json::from_value(v.clone()).expect("a tolerant reader parses it");
    assert_eq!(env.msg_purpose, MsgPurpose::Unknown("heartbeat".into()));
    assert!(!env.payloads[0].payload_type.is_known());
    assert_eq!(env.extra.get("x_hop"), Some(&json!(2)));
    assert_eq!(serde_json::to_value(&env).unwrap(), v, "relaying keeps what it does not understand");
    assert_eq!(PayloadType::from("arrowtable"), PayloadType::Arrowtable);
}

#[test]
fn constraint_violations_are_errors_that_name_the_rule() {
    let err = serde_json::from_value::<MsgEnvelopeV1>(with(envelope(), "/msg_id", Some(json!("nope"))))
        .unwrap_err();
    assert!(err.to_string().contains("not a valid Uuid"), "{err}");
    let err =
        serde_json::from_value::<MsgEnvelopeV1>(with(envelope(), "/timestamp", Some(json!("yesterday"))))
            .unwrap_err();
    assert!(err.to_string().contains("Timestamp"), "{err}");
}
