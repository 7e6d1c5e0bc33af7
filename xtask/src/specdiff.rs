//! `cargo xtask spec-diff --against <git-ref> | --against-dir DIR`: who does a schema change
//! break? Compares the schema of the working tree (`schema/`, or `--dir`) with an older one,
//! per message type, and classifies every change by direction:
//!
//! - **forward**: an old reader receives a new writer's message;
//! - **backward**: a new reader receives an old writer's message.
//!
//! The rules ([`rules`], [`asyncapi`]) follow what the generated readers of every language
//! do; `specdiff/tests.rs` checks the key ones by running generated readers of both
//! versions on each other's messages. A breaking change that the policy forbids fails (exit
//! 3) unless the AsyncAPI `info.version` major goes up.

mod asyncapi;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::codegen::model::{Model, read_schema_dir};
use crate::util::{project_root, read_output};
pub(crate) use rules::{Change, Compat};

/// Exit status when a forbidden breaking change is found.
pub(crate) const BREAKING: u8 = 3;

/// Which directions must keep working without a major version bump.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Policy {
    /// Old readers read new messages and new readers read old ones (the default).
    Full,
    /// New readers must read old writers' messages (upgrade readers first).
    Backward,
    /// Old readers must read new writers' messages (upgrade writers first).
    Forward,
    /// Report only; never fail.
    None,
}

impl Policy {
    fn forbids(self, c: &Change) -> bool {
        let (f, b) = (c.forward == Compat::Breaks, c.backward == Compat::Breaks);
        match self {
            Policy::Full => f || b,
            Policy::Backward => b,
            Policy::Forward => f,
            Policy::None => false,
        }
    }
}

/// One side of the comparison: the bundled definitions and the AsyncAPI document.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) label: String,
    definitions: BTreeMap<String, Value>,
    roots: Vec<String>,
    asyncapi: Value,
}

impl Spec {
    /// From `(file name, text)` pairs: `*.schema.json` and `asyncapi.yaml`.
    pub(crate) fn from_files(label: &str, files: &BTreeMap<String, String>) -> Result<Spec> {
        let schemas: BTreeMap<String, String> = files
            .iter()
            .filter(|(k, _)| k.ends_with(".schema.json"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if schemas.is_empty() {
            bail!("{label}: no *.schema.json files");
        }
        let model = Model::from_files(&schemas).with_context(|| format!("{label}: loading the schema"))?;
        let definitions = model.bundled["definitions"]
            .as_object()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let asyncapi = match files.get("asyncapi.yaml") {
            Some(text) => {
                serde_norway::from_str(text).with_context(|| format!("{label}: parsing asyncapi.yaml"))?
            }
            None => Value::Null,
        };
        Ok(Spec { label: label.to_owned(), definitions, roots: model.roots, asyncapi })
    }

    /// The files of a directory.
    pub(crate) fn from_dir(dir: &Path) -> Result<Spec> {
        Spec::from_files(&dir.display().to_string(), &read_schema_dir(dir)?)
    }

    /// `schema/` as committed at `git_ref` in the repository at `root`.
    pub(crate) fn from_git(root: &Path, git_ref: &str) -> Result<Spec> {
        let git = |args: &[&str]| read_output(Command::new("git").args(args).current_dir(root));
        let listing = git(&["ls-tree", "--name-only", git_ref, "schema/"])?;
        let mut files = BTreeMap::new();
        for path in listing.lines() {
            let name = path.trim_start_matches("schema/");
            if name.ends_with(".schema.json") || name == "asyncapi.yaml" {
                files.insert(name.to_owned(), git(&["show", &format!("{git_ref}:{path}")])?);
            }
        }
        Spec::from_files(&format!("{git_ref}:schema/"), &files)
    }
}

/// A change and how it is judged under the policy.
#[derive(Debug, Serialize)]
pub(crate) struct Judged {
    pub(crate) severity: &'static str,
    #[serde(flatten)]
    pub(crate) change: Change,
}

/// The outcome of a comparison.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) old: String,
    pub(crate) new: String,
    pub(crate) policy: Policy,
    pub(crate) old_version: Option<String>,
    pub(crate) new_version: Option<String>,
    pub(crate) major_bump: bool,
    pub(crate) changes: Vec<Judged>,
    /// `compatible`, `breaking-allowed` (breaking, with a major bump or a lax policy) or
    /// `breaking` (forbidden: exit 3).
    pub(crate) verdict: &'static str,
}

impl Report {
    pub(crate) fn errors(&self) -> usize {
        self.changes.iter().filter(|c| c.severity == "error").count()
    }
}

/// Compares `old` (the reference) with `new` (the candidate).
pub(crate) fn compare(old: &Spec, new: &Spec, policy: Policy) -> Report {
    let mut diff = rules::Diff::default();
    rules::diff_definitions(&old.definitions, &new.definitions, &old.roots, &mut diff);
    asyncapi::diff_asyncapi(&old.asyncapi, &new.asyncapi, &mut diff);
    let version = |s: &Spec| s.asyncapi.pointer("/info/version").and_then(Value::as_str).map(str::to_owned);
    let major_bump = match (asyncapi::major_version(&old.asyncapi), asyncapi::major_version(&new.asyncapi)) {
        (Some(o), Some(n)) => n > o,
        _ => false,
    };
    let changes: Vec<Judged> = diff
        .changes
        .into_iter()
        .map(|change| {
            let severity = if !change.breaking() {
                "info"
            } else if policy.forbids(&change) && !major_bump {
                "error"
            } else {
                "warn"
            };
            Judged { severity, change }
        })
        .collect();
    let verdict = if changes.iter().any(|c| c.severity == "error") {
        "breaking"
    } else if changes.iter().any(|c| c.change.breaking()) {
        "breaking-allowed"
    } else {
        "compatible"
    };
    Report {
        old: old.label.clone(),
        new: new.label.clone(),
        policy,
        old_version: version(old),
        new_version: version(new),
        major_bump,
        changes,
        verdict,
    }
}

/// Renders the human table.
pub(crate) fn render_table(r: &Report) -> String {
    let word = |c: Compat| if c == Compat::Breaks { "BREAKS" } else { "ok" };
    let mut out = format!(
        "spec-diff: {} against {} (policy {:?}, version {} → {}{})\n",
        r.new,
        r.old,
        r.policy,
        r.old_version.as_deref().unwrap_or("?"),
        r.new_version.as_deref().unwrap_or("?"),
        if r.major_bump { ", major bump" } else { "" }
    );
    if r.changes.is_empty() {
        out.push_str("no changes to the wire contract\n");
        return out;
    }
    let wl = r.changes.iter().map(|c| c.change.location.len()).max().unwrap_or(8).max(8);
    let wr = r.changes.iter().map(|c| c.change.rule.len()).max().unwrap_or(4).max(4);
    out.push_str(&format!(
        "{:<8}  {:<wr$}  {:<wl$}  {:<21}  {:<21}  detail\n",
        "severity", "rule", "location", "old reader←new writer", "new reader←old writer"
    ));
    for c in &r.changes {
        out.push_str(&format!(
            "{:<8}  {:<wr$}  {:<wl$}  {:<21}  {:<21}  {}\n",
            c.severity,
            c.change.rule,
            c.change.location,
            word(c.change.forward),
            word(c.change.backward),
            c.change.detail
        ));
    }
    let count = |s: &str| r.changes.iter().filter(|c| c.severity == s).count();
    out.push_str(&format!(
        "{} change(s): {} error, {} warn, {} info — {}\n",
        r.changes.len(),
        count("error"),
        count("warn"),
        count("info"),
        match r.verdict {
            "breaking" => {
                "breaking changes the policy forbids; bump the major version \
                 (`_v2` types and AsyncAPI info.version) or keep compatibility"
            }
            "breaking-allowed" => "breaking changes, allowed by the major version bump or the policy",
            _ => "compatible",
        }
    ));
    out
}

/// Arguments of `cargo xtask spec-diff`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The git ref whose `schema/` is the old side (e.g. `origin/main`, a merge base, a tag).
    #[arg(long, conflicts_with = "against_dir", required_unless_present = "against_dir")]
    against: Option<String>,
    /// A directory holding the old side's schema files instead of a git ref.
    #[arg(long)]
    against_dir: Option<PathBuf>,
    /// The new side (default: `schema/` of the working tree).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Which directions must stay compatible without a major version bump.
    #[arg(long, value_enum, default_value_t = Policy::Full)]
    policy: Policy,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Format {
    Table,
    Json,
}

/// Runs the command; returns the exit status.
pub(crate) fn run(args: &Args) -> Result<u8> {
    let root = project_root();
    let new = Spec::from_dir(&args.dir.clone().unwrap_or_else(|| root.join("schema")))?;
    let old = match (&args.against, &args.against_dir) {
        (Some(r), _) => Spec::from_git(&root, r)?,
        (None, Some(d)) => Spec::from_dir(d)?,
        (None, None) => bail!("give --against <git-ref> or --against-dir DIR"),
    };
    let report = compare(&old, &new, args.policy);
    match args.format {
        Format::Table => print!("{}", render_table(&report)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if std::env::var_os("GITHUB_ACTIONS").is_some() {
        for c in report.changes.iter().filter(|c| c.severity != "info") {
            println!(
                "::{} title=spec-diff {}::{}: {}",
                c.severity.replace("warn", "warning"),
                c.change.rule,
                c.change.location,
                c.change.detail
            );
        }
    }
    Ok(if report.errors() > 0 { BREAKING } else { 0 })
}
