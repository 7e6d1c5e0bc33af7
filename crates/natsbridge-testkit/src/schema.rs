//! Validates what the runtime publishes against the bundled v1 schema (the one compiled
//! into `natsbridge-types`, generated from `schema/`).

use serde_json::Value;

/// A draft-07 validator of `msg_envelope_v1`.
pub fn envelope_validator() -> jsonschema::Validator {
    let mut bundle: Value = serde_json::from_str(natsbridge_types::SCHEMA_JSON).expect("bundled schema");
    bundle["$ref"] = Value::String("#/definitions/MsgEnvelopeV1".into());
    jsonschema::draft7::new(&bundle).expect("the bundled schema compiles")
}

/// The schema errors of an envelope's JSON text (`Err` when it is not JSON at all).
pub fn envelope_errors(json: &str) -> Result<Vec<String>, String> {
    let value: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    Ok(envelope_validator()
        .iter_errors(&value)
        .map(|e| format!("breaks `{}` at {}: {e}", e.kind().keyword(), e.instance_path()))
        .collect())
}

/// Panics with the schema errors unless `json` is a valid `msg_envelope_v1`.
#[track_caller]
pub fn assert_valid_envelope(json: &str) {
    let errors = envelope_errors(json).unwrap_or_else(|e| vec![e]);
    assert!(errors.is_empty(), "published envelope breaks the schema: {errors:?}\n{json}");
}
