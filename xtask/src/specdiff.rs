//! `cargo xtask spec-diff --against <git-ref> | --against-dir DIR | --against-releases`: who
//! does a schema change break? Compares the schema of the working tree (`schema/`, or `--dir`)
//! with an older one, per message type, and classifies every change by direction:
//!
//! - **forward**: an old reader receives a new writer's message;
//! - **backward**: a new reader receives an old writer's message.
//!
//! The rules ([`rules`], [`asyncapi`]) follow what the generated readers of every language
//! do; `specdiff/tests.rs` checks the key ones by running generated readers of both
//! versions on each other's messages. A breaking change that the policy forbids fails (exit
//! 3) unless the AsyncAPI `info.version` major goes up.
//!
//! `--against-releases` checks against **every released version**, not only the last one
//! (transitive, as Confluent Schema Registry's `*_TRANSITIVE` modes): each directory of
//! `schema/releases/` (or `--releases DIR`) holds one release's files, and `--tags GLOB`
//! adds the `schema/` of every matching git tag. The report names each release whose
//! readers or writers the candidate breaks. A release of another major version than the
//! candidate is reported, never forbidden: a major version is a new contract.

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

use crate::util::{project_root, read_output};
use natsbridge_codegen::model::{Model, read_schema_dir};
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
    #[arg(long, conflicts_with_all = ["against_dir", "against_releases"], required_unless_present_any = ["against_dir", "against_releases"])]
    against: Option<String>,
    /// A directory holding the old side's schema files instead of a git ref.
    #[arg(long, conflicts_with = "against_releases")]
    against_dir: Option<PathBuf>,
    /// Check against every released version: each directory of `--releases` and the
    /// `schema/` of every git tag matching `--tags`.
    #[arg(long)]
    against_releases: bool,
    /// Where released schemas are kept, one directory per version (default `schema/releases`).
    #[arg(long, requires = "against_releases")]
    releases: Option<PathBuf>,
    /// Git tags whose `schema/` is a release too (e.g. `schema-v*`).
    #[arg(long, requires = "against_releases")]
    tags: Option<String>,
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
    if args.against_releases {
        let dir = args.releases.clone().unwrap_or_else(|| root.join("schema/releases"));
        let releases = load_releases(&root, &dir, args.tags.as_deref())?;
        let history = compare_history(&releases, &new, args.policy);
        match args.format {
            Format::Table => print!("{}", render_history(&history)),
            Format::Json => println!("{}", serde_json::to_string_pretty(&history)?),
        }
        return Ok(if history.breaks.iter().any(|b| b.forbidden) { BREAKING } else { 0 });
    }
    let old = match (&args.against, &args.against_dir) {
        (Some(r), _) => Spec::from_git(&root, r)?,
        (None, Some(d)) => Spec::from_dir(d)?,
        (None, None) => bail!("give --against <git-ref>, --against-dir DIR or --against-releases"),
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

/// Every released schema: the directories of `dir` (each named by its version) and the
/// `schema/` of the git tags matching `tags`, oldest version first.
pub(crate) fn load_releases(root: &Path, dir: &Path, tags: Option<&str>) -> Result<Vec<Spec>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                let mut spec = Spec::from_dir(&path)?;
                spec.label = format!("release {}", path.file_name().unwrap_or_default().to_string_lossy());
                out.push(spec);
            }
        }
    }
    if let Some(pattern) = tags {
        let listed = read_output(Command::new("git").args(["tag", "--list", pattern]).current_dir(root))?;
        for tag in listed.lines().map(str::trim).filter(|t| !t.is_empty()) {
            let mut spec = Spec::from_git(root, tag)?;
            spec.label = format!("tag {tag}");
            out.push(spec);
        }
    }
    if out.is_empty() {
        bail!(
            "no released schema in {} (one directory per version){}",
            dir.display(),
            match tags {
                Some(t) => format!(" and no git tag matches `{t}`"),
                None => String::new(),
            }
        );
    }
    out.sort_by_key(|s| version_key(&s.asyncapi));
    Ok(out)
}

/// `info.version` as numbers, for ordering releases (missing parts count as 0).
fn version_key(asyncapi: &Value) -> Vec<u64> {
    asyncapi
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .split(['.', '-', '+'])
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// One release the candidate breaks.
#[derive(Debug, Serialize)]
pub(crate) struct Break {
    pub(crate) release: String,
    pub(crate) version: Option<String>,
    /// Its readers cannot read the candidate's messages (forward).
    pub(crate) breaks_readers: bool,
    /// The candidate's readers cannot read its writers' messages (backward).
    pub(crate) breaks_writers: bool,
    /// Forbidden by the policy (same major version); otherwise reported only.
    pub(crate) forbidden: bool,
    /// The breaking changes, `rule at location`.
    pub(crate) changes: Vec<String>,
}

/// The candidate against every release.
#[derive(Debug, Serialize)]
pub(crate) struct History {
    pub(crate) new: String,
    pub(crate) policy: Policy,
    pub(crate) reports: Vec<Report>,
    pub(crate) breaks: Vec<Break>,
}

/// Compares `new` with every release, each on its own (transitively: a chain of compatible
/// steps can still break an old release, and this catches it).
pub(crate) fn compare_history(releases: &[Spec], new: &Spec, policy: Policy) -> History {
    let reports: Vec<Report> = releases.iter().map(|old| compare(old, new, policy)).collect();
    let breaks = reports
        .iter()
        .filter_map(|r| {
            let breaking: Vec<&Judged> = r.changes.iter().filter(|c| c.change.breaking()).collect();
            if breaking.is_empty() {
                return None;
            }
            Some(Break {
                release: r.old.clone(),
                version: r.old_version.clone(),
                breaks_readers: breaking.iter().any(|c| c.change.forward == Compat::Breaks),
                breaks_writers: breaking.iter().any(|c| c.change.backward == Compat::Breaks),
                forbidden: r.errors() > 0,
                changes: breaking
                    .iter()
                    .map(|c| format!("{} at {}", c.change.rule, c.change.location))
                    .collect(),
            })
        })
        .collect();
    History { new: new.label.clone(), policy, reports, breaks }
}

/// Renders one line per release, then the changes of each broken one.
pub(crate) fn render_history(h: &History) -> String {
    let mut out =
        format!("spec-diff: {} against {} release(s), policy {:?}\n", h.new, h.reports.len(), h.policy);
    let w = h.reports.iter().map(|r| r.old.len()).max().unwrap_or(7).max(7);
    out.push_str(&format!(
        "{:<w$}  {:<8}  {:<18}  {:<18}  verdict\n",
        "release", "version", "its readers", "its writers"
    ));
    for r in &h.reports {
        let b = h.breaks.iter().find(|b| b.release == r.old);
        let word = |broken: bool| if broken { "BROKEN" } else { "ok" };
        out.push_str(&format!(
            "{:<w$}  {:<8}  {:<18}  {:<18}  {}\n",
            r.old,
            r.old_version.as_deref().unwrap_or("?"),
            word(b.is_some_and(|b| b.breaks_readers)),
            word(b.is_some_and(|b| b.breaks_writers)),
            r.verdict
        ));
    }
    for b in &h.breaks {
        out.push_str(&format!(
            "{} ({}) {}: {}\n",
            b.release,
            b.version.as_deref().unwrap_or("?"),
            if b.forbidden { "is broken" } else { "is broken, allowed (major version or policy)" },
            b.changes.join("; ")
        ));
    }
    let forbidden = h.breaks.iter().filter(|b| b.forbidden).count();
    out.push_str(&if forbidden == 0 {
        "compatible with every release the policy protects\n".to_owned()
    } else {
        format!("{forbidden} release(s) broken: keep compatibility or bump the major version\n")
    });
    out
}
