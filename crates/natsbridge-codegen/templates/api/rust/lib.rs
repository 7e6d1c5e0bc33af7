{{ preamble -}}
//! {{ title }} {{ version }}: typed NATSBridge operations, generated from `{{ source }}`.
//!
{{ description }}
//!
//! - [`channels`]: every subject, with its parameters checked as single subject tokens.
//! - The message payload types at the crate root, checked against their schema when read
//!   (`{{ schema_types }}`), and in [`messages`] the messages that are more than a JSON
//!   value (headers, bytes, tables), each a [`natsbridge::typed::Message`].
//! - [`operations`]: one function per operation of the spec, over a
//!   [`natsbridge::typed::Bridge`]. The application data travels inside the v1 envelope,
//!   so these interoperate with plain `smartsend` / `smartreceive` in any language.
//!
//! ```no_run
{{ example }}
//! ```
#![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]

mod scalars;
mod types;

pub use scalars::*;
pub use types::*;

pub mod channels;
pub mod messages;
pub mod operations;

pub use natsbridge::typed::{Bridge, Incoming, Replay, Stored, Subscription};

/// The bundled JSON Schema (draft-07) of the payload types.
pub const SCHEMA_JSON: &str = include_str!("schema.json");

/// The enum types a reader keeps open: it accepts values a newer writer added.
const OPEN_ENUMS: &[&str] = &[{{ open_enums }}];

/// Checks `value` against the payload type `type_name` of [`SCHEMA_JSON`] with a JSON Schema
/// validator, as the TypeScript (ajv) and Python (jsonschema) packages of the same spec do:
/// the Rust types hold the shapes, the validator also the constraints they cannot
/// (`maximum`, `maxLength`, `exclusiveMinimum`, …). A `reader` accepts unknown enum values.
/// `Err` names the first place that breaks the schema.
pub fn check(type_name: &str, value: &serde_json::Value, reader: bool) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::{Arc, LazyLock, Mutex};
    static VALIDATORS: LazyLock<Mutex<HashMap<(String, bool), Arc<jsonschema::Validator>>>> =
        LazyLock::new(Default::default);
    let validator = {
        let mut cache = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(&(type_name.to_owned(), reader)) {
            Some(v) => v.clone(),
            None => {
                let mut bundle: serde_json::Value =
                    serde_json::from_str(SCHEMA_JSON).map_err(|e| format!("the bundled schema: {e}"))?;
                if reader {
                    for name in OPEN_ENUMS {
                        if let Some(def) = bundle["definitions"][*name].as_object_mut() {
                            def.remove("enum");
                        }
                    }
                }
                let schema = serde_json::json!({
                    "$ref": format!("#/definitions/{type_name}"),
                    "definitions": bundle["definitions"].take(),
                });
                let v = Arc::new(jsonschema::draft7::new(&schema).map_err(|e| format!("the schema of `{type_name}`: {e}"))?);
                cache.insert((type_name.to_owned(), reader), v.clone());
                v
            }
        }
    };
    match validator.iter_errors(value).next() {
        None => Ok(()),
        Some(e) => Err(format!("{} {e}", if e.instance_path().as_str().is_empty() { "/" } else { e.instance_path().as_str() })),
    }
}

/// The spec's `info.version`.
pub const SPEC_VERSION: &str = "{{ version }}";

/// SHA-256 (hex) of the spec this crate was generated from.
pub const SPEC_SHA256: &str = "{{ hash }}";
