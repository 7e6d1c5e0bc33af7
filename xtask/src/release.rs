//! `cargo xtask release --dry-run`: everything a release publishes, built and published to
//! local registries started for the run, then used by name as a team would. Nothing leaves
//! the machine; `docs/releasing.md` says what a real release does differently.
//!
//! 1. The versions line up across the registries (`versions.rs`).
//! 2. The artifacts: `.crate` files, npm tarballs, wheels and sdists (`artifacts.rs`).
//! 3. The registries: a directory replacing crates.io, verdaccio, pypiserver
//!    (`registries.rs`), each artifact published to its own.
//! 4. A team's packages, generated from the example spec (with the `seed` field) without
//!    `--runtime-checkout`, installed by name in scratch projects outside the repository
//!    (`install.rs`); then Rust, TypeScript and Python exchange typed messages over a real
//!    nats-server (`team.rs`'s programs), and a TypeScript service answers a Python client
//!    with an Arrow table built from the app's own apache-arrow.
//! 5. `cargo install natsbridge-cli` from the Cargo registry, and the installed binary run.

mod artifacts;
mod install;
mod registries;
mod versions;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::setup::Tools;
use crate::team::{add_team_programs, exchange, nats_server, write_team_spec};
use crate::util::{cargo, run_checked, target_dir};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Publish to local registries started for the run instead of the public ones (the only
    /// mode there is: a real release is run by hand, see docs/releasing.md).
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Keep the scratch directory (artifacts, registries' files, the team's projects).
    #[arg(long)]
    pub(crate) keep: bool,
}

/// Runs the named step and records how long it took.
struct Steps(Vec<(&'static str, f64)>);

impl Steps {
    fn run<T>(&mut self, name: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        eprintln!("\n==> release: {name}");
        let started = Instant::now();
        let value = f().with_context(|| format!("release step `{name}` failed"))?;
        self.0.push((name, started.elapsed().as_secs_f64()));
        Ok(value)
    }
}

pub(crate) fn run(args: &Args, root: &Path, tools: &Tools) -> Result<()> {
    if !args.dry_run {
        bail!("only `cargo xtask release --dry-run` is automated; a real release follows docs/releasing.md");
    }
    let started = Instant::now();
    let mut steps = Steps(Vec::new());
    let dir = std::env::temp_dir().join(format!("natsbridge-release-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    let versions = steps.run("versions line up", || {
        let versions = versions::Versions::read(root)?;
        let drift = versions.drift()?;
        if !drift.is_empty() {
            bail!("versions drifted apart:\n  {}", drift.join("\n  "));
        }
        Ok(versions)
    })?;
    let runtime = versions.runtime()?.to_owned();
    let types = versions.contract.clone();

    let artifacts = steps.run("artifacts", || artifacts::build(root, tools, &dir.join("artifacts")))?;
    let (cargo_registry, npm, pypi) = steps.run("registries", || {
        let cargo_registry =
            registries::CargoRegistry::create(root, &install::dry_run_dir(), &artifacts.crates)?;
        let npm = registries::NpmRegistry::start(root, &dir.join("npm"))?;
        for tarball in &artifacts.npm {
            npm.publish(tarball)?;
        }
        let pypi = registries::PythonIndex::start(tools, &dir.join("pypi"))?;
        pypi.upload(tools, &artifacts.python)?;
        Ok((cargo_registry, npm, pypi))
    })?;

    // The team: its spec, the packages this checkout's `natsbridge codegen` writes from it.
    let spec = write_team_spec(root, &dir.join("team"))?;
    let (pristine, team) = (dir.join("generated"), dir.join("team/out"));
    steps.run("generate", || {
        run_checked(cargo().args(["build", "--quiet", "-p", "natsbridge-cli"]))?;
        let natsbridge = target_dir().join("debug/natsbridge");
        install::generate(&natsbridge, &spec, &pristine)?;
        install::generate(&natsbridge, &spec, &team)?;
        add_team_programs(&team)
    })?;
    let released = artifacts::released_crates(root)?;
    install::forget_our_crates(&released)?;
    let responder =
        steps.run("rust: cargo build", || install::rust(&cargo_registry, &team.join("rust"), &runtime))?;
    steps.run("typescript: npm install", || install::typescript(&npm, &team.join("typescript"), &runtime))?;
    let python = steps.run("python: pip install", || {
        install::python(
            tools,
            &pypi,
            &dir.join("team/venv"),
            &team.join("python"),
            [("natsbridge", &runtime), ("natsbridge-types", &types)],
        )
    })?;
    steps.run("exchange", || {
        let (_server, url) = nats_server(tools)?;
        let venv_python = || Command::new(&python);
        exchange(&url, &responder, &team, &venv_python)?;
        install::tables(&url, &team.join("typescript"), &python, &team.join("python"))
    })?;
    steps.run("cargo install natsbridge-cli", || {
        install::cli(
            &cargo_registry,
            &dir.join("cli"),
            versions.crate_version("natsbridge-cli")?,
            &spec,
            &pristine,
        )
    })?;

    drop((npm, pypi));
    if args.keep {
        eprintln!("kept {}", dir.display());
    } else {
        std::fs::remove_dir_all(&dir)?;
    }
    eprintln!("\nrelease dry run passed in {:.0} s:", started.elapsed().as_secs_f64());
    for (name, secs) in steps.0 {
        eprintln!("  {name:<32} {secs:>7.1} s");
    }
    Ok(())
}
