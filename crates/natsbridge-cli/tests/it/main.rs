//! The `natsbridge` CLI's end-to-end tests, one binary: the digest contract against a real
//! nats-server and file server (`cli`), the everyday commands and flags (`commands`), the
//! CLI against the other languages' runtimes (`interop`), and README's examples in the
//! other languages (`readme`).

mod cli;
mod commands;
mod common;
mod interop;
mod readme;
