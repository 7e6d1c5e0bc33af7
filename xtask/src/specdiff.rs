//! `cargo xtask spec-diff --against <git-ref> | --against-dir DIR | --against-releases`: who
//! does a change to the envelope contract (`schema/`) break? A caller of the breaking-change
//! engine `natsbridge-diff` (the one `natsbridge diff` runs on a team's document): the
//! working tree's schema against an older one, each change classified by who it breaks —
//! receivers (old receivers, new senders) or senders (old senders, new receivers).
//!
//! `--against-releases` checks against **every released version**, not only the last one
//! (transitive, as Confluent Schema Registry's `*_TRANSITIVE` modes): each directory of
//! `schema/releases/` (or `--releases DIR`) holds one release's files, and `--tags GLOB`
//! adds the `schema/` of every matching git tag. A release of another major version than
//! the candidate is reported, never forbidden: a major version is a new contract.
//!
//! Exit status as `natsbridge diff`: 0 compatible, 1 breaking, 2 could not judge.

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use anyhow::Result;

use crate::util::project_root;
use natsbridge_diff::contract::Schema;
use natsbridge_diff::policy::{Mode, Policy};
use natsbridge_diff::render::{self, Format};
use natsbridge_diff::report;
use natsbridge_diff::source::{self, Against};

/// Arguments of `cargo xtask spec-diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The git ref whose `schema/` is the old side (e.g. `origin/main`, a merge base, a tag).
    #[arg(long, conflicts_with_all = ["against_dir", "against_releases"], required_unless_present_any = ["against_dir", "against_releases"])]
    pub(crate) against: Option<String>,
    /// A directory holding the old side's schema files instead of a git ref.
    #[arg(long, conflicts_with = "against_releases")]
    pub(crate) against_dir: Option<PathBuf>,
    /// Check against every released version: each directory of `--releases` and the
    /// `schema/` of every git tag matching `--tags`.
    #[arg(long)]
    pub(crate) against_releases: bool,
    /// Where released schemas are kept, one directory per version (default `schema/releases`).
    #[arg(long, requires = "against_releases")]
    pub(crate) releases: Option<PathBuf>,
    /// Git tags whose `schema/` is a release too (e.g. `schema-v*`).
    #[arg(long, requires = "against_releases")]
    pub(crate) tags: Option<String>,
    /// The new side (default: `schema/` of the working tree).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// What must stay compatible without a major version bump: backward, forward, full, none.
    #[arg(long, alias = "policy", default_value = "full")]
    pub(crate) mode: Mode,
    /// Output format: text, json, sarif or github (as `natsbridge diff`).
    #[arg(long, default_value = "text")]
    pub(crate) format: Format,
}

/// Runs the command; returns the exit status.
pub(crate) fn run(args: &Args) -> Result<u8> {
    let root = project_root();
    let dir = args.dir.clone().unwrap_or_else(|| root.join("schema"));
    let new = source::load::<Schema>(dir.display().to_string(), &dir)?;
    let schema_dir = root.join("schema");
    let (olds, transitive) = if args.against_releases {
        let releases = args.releases.clone().unwrap_or_else(|| root.join("schema/releases"));
        let mut olds = source::load_against::<Schema>(&Against::Releases(releases), &schema_dir)?;
        if let Some(pattern) = &args.tags {
            olds.extend(source::load_against::<Schema>(&Against::Tags(pattern.clone()), &schema_dir)?);
        }
        (olds, true)
    } else if let Some(r) = &args.against {
        (source::load_against::<Schema>(&Against::Git(r.clone()), &schema_dir)?, false)
    } else {
        let d = args.against_dir.clone().expect("clap requires one of the three");
        (source::load_against::<Schema>(&Against::Path(d), &schema_dir)?, false)
    };
    let outcome = report::judge(&olds, &new, &Policy { mode: args.mode, transitive, accept: Vec::new() });
    print!("{}", render::render(&outcome, args.format));
    if std::env::var_os("GITHUB_ACTIONS").is_some() && !matches!(args.format, Format::Github) {
        print!("{}", render::github(&outcome));
    }
    Ok(outcome.exit_code())
}
