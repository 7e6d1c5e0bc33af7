//! The NATSBridge breaking-change engine: given two versions of a contract, which changes
//! break whom — the **senders** (old senders meet new receivers) or the **receivers** (old
//! receivers meet new senders) — and is that allowed?
//!
//! Two kinds of contract are judged, through one [`Comparable`] trait and one set of JSON
//! Schema rules:
//!
//! - a team's AsyncAPI 3.0 document ([`document::Api`]), read by the generator's own loader
//!   and judged per operation (`natsbridge diff`);
//! - this project's envelope contract, `schema/` ([`contract::Schema`], `cargo xtask
//!   spec-diff`).
//!
//! ```no_run
//! use natsbridge_diff::{document::Api, policy::{Mode, Policy}, report, source};
//! # fn main() -> anyhow::Result<()> {
//! let new = source::load::<Api>("asyncapi.yaml", "asyncapi.yaml".as_ref())?;
//! let olds = source::load_against::<Api>(&source::Against::Git("v1.0.0".into()), "asyncapi.yaml".as_ref())?;
//! let outcome = report::judge(&olds, &new, &Policy::mode(Mode::Backward));
//! print!("{}", natsbridge_diff::render::text(&outcome));
//! std::process::exit(outcome.exit_code().into());
//! # }
//! ```
//!
//! The rules follow what the generated readers of every language do ([`schema`]'s module
//! docs list them); each rule has a fixture pair in the tests, and `docs/ci.md` runs six
//! everyday changes through the command with their verdicts written out.

pub mod change;
pub mod contract;
pub mod document;
mod lines;
pub mod policy;
pub mod render;
pub mod report;
mod schema;
pub mod source;

use std::path::Path;

use anyhow::Result;

pub use change::{Change, Compat};

/// A kind of contract the engine judges.
pub trait Comparable: Sized {
    /// Reads one version from a file or a directory.
    fn load(path: &Path) -> Result<Self>;
    /// Its version (`info.version`), for ordering releases and spotting a major bump.
    fn version(&self) -> Option<String>;
    /// Every change from `old` to `new`, classified.
    fn changes(old: &Self, new: &Self) -> Vec<Change>;
}

/// One version, labelled for the report.
#[derive(Debug)]
pub struct Side<D> {
    /// How the report names it: a path, a git ref, `release 1.2.0`.
    pub label: String,
    /// The document's path as results should name it (SARIF, annotations).
    pub file: Option<String>,
    /// The version itself.
    pub doc: D,
}
