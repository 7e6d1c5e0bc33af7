//! `natsbridge diff`: does a change to a team's AsyncAPI document break anyone? The new
//! document against an older one (a file, a git ref, every release), judged per operation
//! by the engine `natsbridge-diff` (the one `cargo xtask spec-diff` runs on the envelope
//! contract). Exit 0 compatible, 1 breaking, 2 could not judge.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use natsbridge_diff::document::Api;
use natsbridge_diff::policy::{Config, Mode, Policy};
use natsbridge_diff::render::{self, Format};
use natsbridge_diff::report;
use natsbridge_diff::source::{self, Against};

use crate::CliResult;
use crate::codegen::AddressStyle;

#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The new document: an AsyncAPI 3.0 file, or a directory holding `asyncapi.yaml`.
    #[arg(long, value_name = "DIR|FILE")]
    spec: PathBuf,
    /// The older version: a file or directory, or a git ref of the repository holding
    /// --spec (a tag such as `v1.2.0`, a branch, a commit).
    #[arg(long, value_name = "PATH|GIT-REF", conflicts_with_all = ["against_releases", "against_tags"])]
    against: Option<String>,
    /// Every subdirectory of DIR is a released version (default: `diff.releases` of
    /// natsbridge.yaml).
    #[arg(long, value_name = "DIR")]
    against_releases: Option<PathBuf>,
    /// Every git tag matching PATTERN (`git tag --list`, e.g. `v*`) is a released version.
    #[arg(long, value_name = "PATTERN")]
    against_tags: Option<String>,
    /// What must stay compatible: `backward` (new receivers read old senders: upgrade
    /// receivers first), `forward` (old receivers read new senders: upgrade senders first),
    /// `full` (both), `none` (report only). Default: natsbridge.yaml's `diff.mode`, else full.
    #[arg(long, value_name = "MODE")]
    mode: Option<Mode>,
    /// Judge against every release, not only the newest (default: natsbridge.yaml's
    /// `diff.transitive`).
    #[arg(long)]
    transitive: bool,
    /// The config file (default: natsbridge.yaml beside the document, when there is one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output on stdout: `text`, `json`, `sarif` (SARIF 2.1.0) or `github` (workflow
    /// annotations, then the text).
    #[arg(long, value_name = "FORMAT", default_value = "text")]
    format: Format,
    /// Also write the SARIF log to FILE (for code-scanning uploads), whatever --format is.
    #[arg(long, value_name = "FILE")]
    sarif: Option<PathBuf>,
    /// How channel addresses become NATS subjects, as for `natsbridge codegen`.
    #[arg(long, value_enum, default_value_t = AddressStyle::Nats)]
    address_style: AddressStyle,
}

/// Runs the command; an error means nothing was judged (exit 2).
pub(crate) fn run(args: DiffArgs) -> CliResult {
    match judge(&args) {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("natsbridge diff: could not judge: {e:#}");
            Ok(ExitCode::from(report::NOT_JUDGED))
        }
    }
}

fn spec_dir(spec: &Path) -> PathBuf {
    if spec.is_dir() {
        return spec.to_owned();
    }
    match spec.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn judge(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => Config::read(path)?,
        None => Config::beside(&spec_dir(&args.spec))?.map(|(_, c)| c).unwrap_or_default(),
    };
    let options = args.address_style.load_options();
    let loader = |path: &Path| Api::load_with(path, &options);
    let mut new = source::load_with(args.spec.display().to_string(), &args.spec, &loader)?;
    new.file = Some(if args.spec.is_dir() {
        args.spec.join("asyncapi.yaml").display().to_string()
    } else {
        args.spec.display().to_string()
    });
    let against = match (&args.against, &args.against_releases, &args.against_tags, &config.releases) {
        (Some(a), ..) => Against::guess(a, &args.spec)?,
        (None, Some(dir), _, _) => Against::Releases(dir.clone()),
        (None, None, Some(pattern), _) => Against::Tags(pattern.clone()),
        (None, None, None, Some(dir)) => Against::Releases(dir.clone()),
        (None, None, None, None) => anyhow::bail!(
            "give the older version: --against PATH|GIT-REF, --against-releases DIR or --against-tags PATTERN \
             (or `diff.releases` in natsbridge.yaml)"
        ),
    };
    let olds = source::load_against_with(&against, &args.spec, &loader)?;
    let policy = Policy {
        mode: args.mode.or(config.mode).unwrap_or(Mode::Full),
        transitive: args.transitive || config.transitive.unwrap_or(false),
        accept: config.accept,
    };
    let outcome = report::judge(&olds, &new, &policy);
    if let Some(path) = &args.sarif {
        std::fs::write(path, render::sarif(&outcome) + "\n")?;
    }
    print!("{}", render::render(&outcome, args.format));
    Ok(ExitCode::from(outcome.exit_code()))
}
