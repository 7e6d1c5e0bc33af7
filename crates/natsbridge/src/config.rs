//! Configuration from the environment, with the reference names and defaults:
//! `NATS_URL` (`nats://localhost:4222`), `FILESERVER_URL` (`http://localhost:8080`),
//! `SIZE_THRESHOLD` (500 000 bytes), `FILESERVER_TOKEN` (none). The NATS connection's own
//! variables (`NATS_TOKEN`, `NATS_CREDS`, …) are read by [`crate::settings`].
//!
//! The environment is read when options are made ([`crate::SendOptions::default`],
//! [`crate::ReceiveOptions::default`]), and once per options value: options built once and
//! reused see one configuration. The one thing read later is the NATS connection of
//! `SendOptions::default()`: it is resolved at its first send (then kept by the options and
//! their clones), and never when the options are given a connection of their own.

use std::sync::LazyLock;

pub use natsbridge_types::profile::{DEFAULT_FILESERVER_URL, DEFAULT_NATS_URL};
use natsbridge_types::profile::{ENV_FILESERVER_TOKEN, ENV_FILESERVER_URL, ENV_NATS_URL, ENV_SIZE_THRESHOLD};

/// Default `size_threshold`: payloads of this many serialized bytes or more go by link
/// (the profile's `DEFAULT_SIZE_THRESHOLD`).
pub const DEFAULT_SIZE_THRESHOLD: usize = natsbridge_types::profile::DEFAULT_SIZE_THRESHOLD as usize;

/// `NATS_URL`, or the default when unset or empty.
pub fn nats_url() -> String {
    non_empty(ENV_NATS_URL).unwrap_or_else(|| DEFAULT_NATS_URL.into())
}

/// `FILESERVER_URL`, or the default when unset or empty.
pub fn fileserver_url() -> String {
    non_empty(ENV_FILESERVER_URL).unwrap_or_else(|| DEFAULT_FILESERVER_URL.into())
}

/// `FILESERVER_TOKEN`: the token the file server asks of uploads, when set.
pub fn fileserver_token() -> Option<String> {
    non_empty(ENV_FILESERVER_TOKEN)
}

/// Where [`fileserver_url`] comes from, for messages: `FILESERVER_URL`, or the default.
pub fn fileserver_url_source() -> String {
    match non_empty(ENV_FILESERVER_URL) {
        Some(_) => format!("from {ENV_FILESERVER_URL}"),
        None => format!("the default: {ENV_FILESERVER_URL} is unset"),
    }
}

/// `SIZE_THRESHOLD` in bytes, or the default when unset or not a number.
pub fn size_threshold() -> usize {
    parse_threshold(non_empty(ENV_SIZE_THRESHOLD).as_deref())
}

/// This process's `sender_id`: a UUID v4 made once.
pub fn sender_id() -> &'static str {
    static ID: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().to_string());
    &ID
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn parse_threshold(value: Option<&str>) -> usize {
    value.and_then(|s| s.trim().replace('_', "").parse().ok()).unwrap_or(DEFAULT_SIZE_THRESHOLD)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_or_fall_back() {
        for (value, expected) in [
            (None, DEFAULT_SIZE_THRESHOLD),
            (Some("1000"), 1000),
            (Some(" 42 "), 42),
            (Some("1_000_000"), 1_000_000),
            (Some("0"), 0),
            (Some("-5"), DEFAULT_SIZE_THRESHOLD),
            (Some("1MB"), DEFAULT_SIZE_THRESHOLD),
        ] {
            assert_eq!(parse_threshold(value), expected, "{value:?}");
        }
    }

    #[test]
    fn the_sender_id_is_one_uuid_per_process() {
        assert_eq!(sender_id(), sender_id());
        assert!(uuid::Uuid::parse_str(sender_id()).is_ok());
    }
}
