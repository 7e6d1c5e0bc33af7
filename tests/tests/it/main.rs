//! The runtime's end-to-end tests, one binary (each file a module, so the workspace links
//! one test executable here instead of one per file). Every test that needs a server
//! starts its own on free loopback ports: `natsbridge_testkit`.

mod cluster;
mod credentials;
mod faults;
mod fileserver;
mod generated_api;
mod hostile;
mod jetstream;
mod link_lifetimes;
mod messages;
mod nats_faults;
mod runtime;
mod s3;
mod secured;
mod serve;
mod wire_types;
