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

/// The spec's `info.version`.
pub const SPEC_VERSION: &str = "{{ version }}";

/// SHA-256 (hex) of the spec this crate was generated from.
pub const SPEC_SHA256: &str = "{{ hash }}";
