//! The cross-crate integration tests of the runtime live in `tests/` beside this file;
//! what they start (nats-server, the file server, the fault server) comes from
//! `natsbridge-testkit`. This library is empty: a package needs a target.
