{{ preamble -}}
//! NATSBridge wire types, generated from `schema/`.
//!
//! Parse an envelope with serde and get typed, validated fields; unknown properties are
//! kept in `extra` and unknown enum values in `Unknown(..)`, so relaying never loses data.
//!
//! ```
//! let text = r#"{"correlation_id":"0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11","msg_id":"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
//!   "timestamp":"2026-03-13T07:02:50.443Z","send_to":"demo","msg_purpose":"chat","sender_name":"a",
//!   "sender_id":"","receiver_name":"","receiver_id":"","reply_to":"","reply_to_msg_id":"","payloads":[]}"#;
//! let env: natsbridge_types::MsgEnvelopeV1 = serde_json::from_str(text).unwrap();
//! assert_eq!(env.timestamp.as_str(), "2026-03-13T07:02:50.443Z");
//! ```
#![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]

{% if profile -%}
pub mod profile;
{% endif -%}
mod scalars;
mod types;

pub use scalars::*;
pub use types::*;

/// The bundled JSON Schema (draft-07) every type here was generated from.
pub const SCHEMA_JSON: &str = include_str!("schema.json");

/// SHA-256 (hex) of the `schema/` files this crate was generated from.
pub const SCHEMA_SHA256: &str = "{{ hash }}";

/// The root message types, in schema order.
pub const ROOT_TYPES: &[&str] = &[{{ roots }}];
