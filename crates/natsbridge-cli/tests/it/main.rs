//! The `natsbridge` CLI's end-to-end tests, one binary: the digest contract against a real
//! nats-server and file server (`cli`), the everyday commands and flags (`commands`), the
//! CLI against the other languages' runtimes (`interop`), the hostile conformance group through every CLI's `receive` (`hostile`), one script run against the three CLIs whose lines must agree (`three_clis`), README's examples in the other
//! languages (`readme`), and `natsbridge conformance` on a testee outside the checkout
//! (`conformance`).

mod cli;
mod codegen;
mod commands;
mod common;
mod conformance;
mod diff;
mod hostile;
mod interop;
mod readme;
mod secured;
mod three_clis;
