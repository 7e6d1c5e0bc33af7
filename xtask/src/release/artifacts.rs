//! What a release publishes, built as a release would build it, into one directory:
//!
//! - `crates/`: `cargo package` of the runtime `natsbridge` and the CLI `natsbridge-cli`
//!   with every workspace crate they depend on (found with `cargo metadata`, so a new one,
//!   like `natsbridge-diff`, comes along by itself);
//! - `npm/`: `npm pack` of every `@natsbridge/*` workspace package that is not private;
//! - `python/`: the sdist, and the wheel built from it, of the runtime and its wire types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::setup::Tools;
use crate::util::{cargo, read_output, run_checked, target_dir};

/// The crates a user installs by name; everything they depend on in the workspace goes too.
const CRATE_ROOTS: &[&str] = &["natsbridge", "natsbridge-cli"];

/// The Python distributions (directories with a `pyproject.toml`).
const PYTHON_PACKAGES: &[&str] = &["generated/python", "packages/python"];

/// npm package scope we publish.
const NPM_SCOPE: &str = "@natsbridge/";

/// The built files, by registry.
#[derive(Debug)]
pub(crate) struct Artifacts {
    pub(crate) crates: Vec<PathBuf>,
    pub(crate) npm: Vec<PathBuf>,
    pub(crate) python: Vec<PathBuf>,
}

/// The workspace crates behind [`CRATE_ROOTS`] (normal and build dependencies, by path),
/// each checked for what crates.io needs to show it.
pub(crate) fn released_crates(root: &Path) -> Result<Vec<(String, String)>> {
    let metadata = crate::util::workspace_metadata(root)?;
    let packages: BTreeMap<&str, &Value> = metadata["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p)))
        .collect();
    let mut todo: Vec<&str> = CRATE_ROOTS.to_vec();
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name) {
            continue;
        }
        let package = packages.get(name).with_context(|| format!("no workspace crate `{name}`"))?;
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let runtime = dep["kind"].is_null() || dep["kind"] == "build";
            if runtime && dep["path"].is_string() {
                todo.push(dep["name"].as_str().context("a dependency without a name")?);
            }
        }
    }
    let mut crates = Vec::new();
    for name in seen {
        let package = packages[name];
        ensure!(package["publish"] != serde_json::json!([]), "`{name}` has `publish = false`");
        let missing: Vec<&str> = ["description", "license", "repository"]
            .into_iter()
            .filter(|key| package[*key].as_str().is_none_or(str::is_empty))
            .collect();
        ensure!(missing.is_empty(), "crate `{name}` needs {} for crates.io", missing.join(", "));
        crates.push((name.to_owned(), package["version"].as_str().context("no version")?.to_owned()));
    }
    Ok(crates)
}

pub(crate) fn build(root: &Path, tools: &Tools, out: &Path) -> Result<Artifacts> {
    Ok(Artifacts {
        crates: package_crates(root, &out.join("crates"))?,
        npm: pack_npm(root, &out.join("npm"))?,
        python: build_python(root, tools, &out.join("python"))?,
    })
}

/// `cargo package` of the released crates together (cargo resolves their dependencies on
/// each other among the ones it packages). `--no-verify`: verifying compiles every crate
/// again, which the install step does anyway, from the registry. `--allow-dirty`: a dry run
/// is also for a working tree; a real release runs on a clean tag.
fn package_crates(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let crates = released_crates(root)?;
    let mut cmd = cargo();
    cmd.current_dir(root).args(["package", "--no-verify", "--allow-dirty", "--locked", "--quiet"]);
    for (name, _) in &crates {
        cmd.args(["-p", name]);
    }
    run_checked(&mut cmd)?;
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for (name, version) in &crates {
        let file = format!("{name}-{version}.crate");
        let to = dir.join(&file);
        std::fs::copy(target_dir().join("package").join(&file), &to)
            .with_context(|| format!("copying {file}"))?;
        files.push(to);
    }
    Ok(files)
}

/// `npm pack` (whose `prepack` compiles `dist/`) of every public `@natsbridge/*` workspace.
fn pack_npm(root: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let workspace: Value = serde_json::from_str(&std::fs::read_to_string(root.join("package.json"))?)?;
    std::fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    for member in workspace["workspaces"].as_array().context("package.json has no workspaces")? {
        let member = root.join(member.as_str().context("a workspace path")?);
        let manifest: Value = serde_json::from_str(&std::fs::read_to_string(member.join("package.json"))?)?;
        let name = manifest["name"].as_str().unwrap_or_default();
        if !name.starts_with(NPM_SCOPE) || manifest["private"] == true {
            continue;
        }
        let packed: Value = serde_json::from_str(&read_output(
            Command::new("npm").args(["pack", "--json", "--pack-destination"]).arg(dir).current_dir(&member),
        )?)
        .with_context(|| format!("reading `npm pack --json` of {name}"))?;
        let file =
            packed[0]["filename"].as_str().with_context(|| format!("npm pack of {name} named no file"))?;
        files.push(dir.join(file));
    }
    ensure!(files.len() >= 2, "expected @natsbridge/types and @natsbridge/client, packed {files:?}");
    Ok(files)
}

/// `python -m build`: the sdist, then the wheel built from the unpacked sdist (so a file
/// missing from the sdist fails here, not at a user's).
fn build_python(root: &Path, tools: &Tools, dir: &Path) -> Result<Vec<PathBuf>> {
    for package in PYTHON_PACKAGES {
        run_checked(
            Command::new(&tools.python)
                .args(["-m", "build", "--quiet", "--outdir"])
                .arg(dir)
                .arg(root.join(package)),
        )
        .with_context(|| format!("building {package} (`cargo xtask setup` installs `build`)"))?;
    }
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    files.sort();
    let (wheels, sdists) = (
        files.iter().filter(|f| f.extension().is_some_and(|e| e == "whl")).count(),
        files.iter().filter(|f| f.to_string_lossy().ends_with(".tar.gz")).count(),
    );
    if wheels != PYTHON_PACKAGES.len() || sdists != PYTHON_PACKAGES.len() {
        bail!("expected a wheel and an sdist of each of {PYTHON_PACKAGES:?}, built {files:?}");
    }
    Ok(files)
}
