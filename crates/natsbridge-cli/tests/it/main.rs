//! The `natsbridge` CLI's end-to-end tests, one binary: the commands against a real
//! nats-server and file server (`cli`), and the CLI against the other languages' runtimes
//! (`interop`), and README's examples in the other languages (`readme`).

mod cli;
mod common;
mod interop;
mod readme;
