//! The conformance runner's engine, shared by `cargo xtask conformance` (this repository's
//! lanes) and `natsbridge conformance` (a team's own implementation, outside any checkout).
//!
//! - [`Vectors`]: the golden vectors of `conformance/v1/`, compiled in ([`Vectors::embedded`])
//!   or read from a directory ([`Vectors::from_dir`]).
//! - [`Testee`]: one implementation's process speaking the testee protocol (JSON lines,
//!   `hello` first; `conformance/README.md`).
//! - [`BlobServer`]: the HTTP server the link vectors point at (`{{BLOBS}}`), in-process.
//! - [`run`]: every vector through every [`Lane`] (reader side), every lane's `encode` read
//!   back by every lane (writer side), the validator cross-check; a [`Report`] with the
//!   matrices.
//!
//! It depends on neither the runtime crate nor `generated/`: xtask builds on it even when
//! `generated/` is broken, and each lane brings its own runtime as a process.
//!
//! ```no_run
//! use natsbridge_conformance::{Lane, Vectors, run, testee_command};
//!
//! let lane = Lane::new("team", Some(testee_command("python3 my_testee.py")));
//! let report = run(&Vectors::embedded()?, vec![lane])?;
//! report.print(false, None);
//! assert!(report.passed());
//! # Ok::<(), anyhow::Error>(())
//! ```

mod blobs;
mod calls;
mod cases;
mod compare;
mod embedded;
mod lane;
mod report;
mod run;
mod testee;
mod vectors;
mod writer;

pub use blobs::{BlobServer, Step};
pub use compare::{Ledger, parse_ledger, read_ledger, same};
pub use lane::{Lane, check_lane_name};
pub use report::{Cell, Report};
pub use run::run;
pub use testee::{PROTOCOL, Testee, testee_command};
pub use vectors::{Vector, Vectors, known_payload_types};
