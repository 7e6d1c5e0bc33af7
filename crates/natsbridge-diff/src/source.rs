//! Where the older versions come from: a file or directory, a git ref of the repository the
//! document lives in, every directory of a releases directory, or every git tag matching a
//! pattern. A git ref's files are read from git (`git ls-tree`, `git show`) into a scratch
//! directory, so `$ref`s to files beside the document resolve as they did at that ref.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::report::version_key;
use crate::{Comparable, Side};

/// The older side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Against {
    /// A document file, or a directory holding one.
    Path(PathBuf),
    /// A git ref (tag, branch, commit) of the repository holding the new document.
    Git(String),
    /// A directory with one subdirectory per released version.
    Releases(PathBuf),
    /// Every git tag matching a `git tag --list` pattern (`v*`).
    Tags(String),
}

impl Against {
    /// `--against X`: an existing path, else a git ref of the repository holding `spec`.
    pub fn guess(value: &str, spec: &Path) -> Result<Against> {
        if Path::new(value).exists() {
            return Ok(Against::Path(value.into()));
        }
        let repo = repository(spec).with_context(|| {
            format!("`{value}` is neither a file nor a directory, and cannot be a git ref either")
        })?;
        let ok = Command::new("git")
            .args(["rev-parse", "--quiet", "--verify", &format!("{value}^{{commit}}")])
            .current_dir(&repo)
            .output()
            .is_ok_and(|o| o.status.success());
        ensure!(ok, "`{value}` is neither a file nor a directory, nor a git ref of {}", repo.display());
        Ok(Against::Git(value.to_owned()))
    }
}

/// How a version is read from a file or directory.
pub type Loader<'a, D> = &'a dyn Fn(&Path) -> Result<D>;

/// Reads one side with [`Comparable::load`].
pub fn load<D: Comparable>(label: impl Into<String>, path: &Path) -> Result<Side<D>> {
    load_with(label, path, &D::load)
}

/// Reads one side with `loader` (a team's document with its load options).
pub fn load_with<D>(label: impl Into<String>, path: &Path, loader: Loader<'_, D>) -> Result<Side<D>> {
    let label = label.into();
    let doc = loader(path).with_context(|| format!("reading {label}"))?;
    Ok(Side { label, file: None, doc })
}

/// Every older version `against` names, oldest first. `spec` is the new document (a file or
/// a directory), used to find the same document in a git ref or a release directory.
pub fn load_against<D: Comparable>(against: &Against, spec: &Path) -> Result<Vec<Side<D>>> {
    load_against_with(against, spec, &D::load)
}

/// [`load_against`] with `loader`.
pub fn load_against_with<D: Comparable>(
    against: &Against,
    spec: &Path,
    loader: Loader<'_, D>,
) -> Result<Vec<Side<D>>> {
    let load = |label: String, path: &Path| load_with(label, path, loader);
    let at_ref = |r: &str, spec: &Path| at_ref(r, spec, loader);
    let mut out: Vec<Side<D>> = match against {
        Against::Path(p) => vec![load(p.display().to_string(), p)?],
        Against::Git(r) => vec![at_ref(r, spec)?],
        Against::Releases(dir) => {
            let mut out = Vec::new();
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("reading the releases directory {}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                if path.is_dir() {
                    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
                    let inner = match spec.file_name() {
                        Some(f) if spec.is_file() && path.join(f).is_file() => path.join(f),
                        _ => path.clone(),
                    };
                    out.push(load(format!("release {name}"), &inner)?);
                }
            }
            ensure!(!out.is_empty(), "no release in {} (one directory per released version)", dir.display());
            out
        }
        Against::Tags(pattern) => {
            let repo = repository(spec)?;
            let listed = git(&repo, &["tag", "--list", pattern])?;
            let tags: Vec<&str> = listed.lines().map(str::trim).filter(|t| !t.is_empty()).collect();
            ensure!(!tags.is_empty(), "no git tag matches `{pattern}` in {}", repo.display());
            tags.iter().map(|t| at_ref(t, spec)).collect::<Result<_>>()?
        }
    };
    out.sort_by_cached_key(|s| version_key(s.doc.version().as_deref()));
    Ok(out)
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out =
        Command::new("git").args(args).current_dir(dir).output().context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    String::from_utf8(out.stdout).context("git printed non-UTF-8 text")
}

/// The top of the git work tree holding `spec`.
fn repository(spec: &Path) -> Result<PathBuf> {
    let dir =
        if spec.is_dir() { spec.to_owned() } else { spec.parent().map(Path::to_owned).unwrap_or_default() };
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    let top = git(&dir, &["rev-parse", "--show-toplevel"])
        .with_context(|| format!("{} is not in a git repository", spec.display()))?;
    Ok(PathBuf::from(top.trim()))
}

/// The document as it was at `reference`: the files of its directory, read from git.
fn at_ref<D>(reference: &str, spec: &Path, loader: Loader<'_, D>) -> Result<Side<D>> {
    let repo = repository(spec)?;
    let spec_abs = std::fs::canonicalize(spec).with_context(|| format!("reading {}", spec.display()))?;
    let repo_abs = std::fs::canonicalize(&repo)?;
    let rel = spec_abs
        .strip_prefix(&repo_abs)
        .with_context(|| format!("{} is outside {}", spec.display(), repo.display()))?;
    let rel_dir =
        if spec_abs.is_dir() { rel.to_owned() } else { rel.parent().map(Path::to_owned).unwrap_or_default() };
    let rel_dir_text = rel_dir.to_string_lossy().replace('\\', "/");
    let scratch = tempfile::tempdir()?;
    let prefix = if rel_dir_text.is_empty() { ".".to_owned() } else { rel_dir_text.clone() };
    let listed = git(&repo, &["ls-tree", "-r", "--name-only", reference, "--", &prefix])
        .with_context(|| format!("listing {prefix} at {reference}"))?;
    ensure!(!listed.trim().is_empty(), "`{prefix}` does not exist at {reference}");
    for file in listed.lines().filter(|l| !l.is_empty()) {
        let out =
            Command::new("git").args(["show", &format!("{reference}:{file}")]).current_dir(&repo).output()?;
        ensure!(
            out.status.success(),
            "git show {reference}:{file}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        let target = scratch.path().join(file);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, out.stdout)?;
    }
    let inside = scratch.path().join(rel);
    ensure!(inside.exists(), "{} does not exist at {reference}", rel.display());
    let doc = loader(&inside).with_context(|| format!("reading {} at {reference}", rel.display()))?;
    Ok(Side { label: reference.to_owned(), file: None, doc })
}
