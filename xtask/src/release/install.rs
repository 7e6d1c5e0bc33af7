//! A team's side of the dry run: packages generated without `--runtime-checkout` installed
//! by name from the local registries, in scratch projects outside the repository, then the
//! CLI installed with `cargo install natsbridge-cli`.
//!
//! Each step asserts what it installed: the runtime's version in the Rust crate's
//! `Cargo.lock` (from "crates.io"), in `node_modules` (a real package from the registry, not
//! a link to the checkout) and in the venv, and one apache-arrow in the npm tree.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::registries::{CargoRegistry, NpmRegistry, PythonIndex};
use crate::setup::Tools;
use crate::team::{Running, start_ready};
use crate::util::{cargo_path, read_output, run_checked, target_dir};

/// Serves one table request with a table built from the app's own apache-arrow: the runtime
/// checks `instanceof Table`, which a second apache-arrow in the tree fails.
const TS_TABLES: &str = r#"// Serves one table request through the generated TypeScript operations.
import { NatsBridgeError, connect } from "@natsbridge/client";
import { tableFromArrays } from "apache-arrow";
import { Bridge, serveTable, serveTableReply } from "./dist/index.js";

const nc = await connect({ servers: process.env.NATS_URL });
const bridge = new Bridge(nc);
const requests = await serveTable(bridge, { service: "team" });
await nc.flush();
console.log("ready");
for await (const request of requests) {
  if (request instanceof NatsBridgeError) throw request;
  const n = request.message.rows;
  const table = tableFromArrays({
    step: Int32Array.from({ length: n }, (_, i) => i),
    value: Float64Array.from({ length: n }, (_, i) => i * 0.5),
  });
  await serveTableReply(bridge, request, { table });
  console.error(`typescript: served ${n} rows`);
  break;
}
await nc.close();
"#;

/// Asks the TypeScript service for a table through the generated Python operations.
const PY_TABLES: &str = r#""""Asks for a table through the generated Python operations."""
import asyncio
import os

import nats

import simulation_api as sim


async def main() -> None:
    nc = await nats.connect(os.environ["NATS_URL"])
    reply = await sim.request_table(sim.Bridge(nc), {"rows": 3}, service="team")
    table = reply.message.table
    assert table.column_names == ["step", "value"], table.schema
    assert table.column("value").to_pylist() == [0.0, 0.5, 1.0], table
    print(f"python: {table.num_rows} rows from typescript")
    await nc.close()


asyncio.run(main())
"#;

/// Where the dry run keeps its registry directory.
pub(crate) fn dry_run_dir() -> PathBuf {
    target_dir().join("release-dry-run")
}

/// Where the scratch projects build: one target directory for the generated crate and
/// `cargo install`, so the second reuses what the first compiled. Not the workspace's: its
/// dependencies come from the registry cache, the dry run's from the registry directory, and
/// the same crate built from two places invalidates the other's build each time.
pub(crate) fn build_target() -> PathBuf {
    dry_run_dir()
}

/// Cargo fingerprints a registry crate by name and version only, so our crates, republished
/// under the same version with other contents, would not be compiled again: forget their
/// builds (those whose sources are the registry's `<crate>-<version>/`).
pub(crate) fn forget_our_crates(crates: &[(String, String)]) -> Result<()> {
    let fingerprints = build_target().join("debug/.fingerprint");
    let Ok(entries) = std::fs::read_dir(&fingerprints) else { return Ok(()) };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // `<crate>-<16 hex digits>`
        let Some((krate, hash)) = name.rsplit_once('-') else { continue };
        let Some((_, version)) = crates.iter().find(|(c, _)| c == krate) else { continue };
        if hash.len() != 16 {
            continue;
        }
        let marker = format!("{krate}-{version}/");
        let from_registry = std::fs::read_dir(entry.path())?.filter_map(Result::ok).any(|f| {
            f.file_name().to_string_lossy().starts_with("dep-")
                && std::fs::read(f.path())
                    .is_ok_and(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()))
        });
        if from_registry {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

fn cargo_with(registry: &CargoRegistry, dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_path());
    cmd.current_dir(dir).arg("--config").arg(&registry.config).env("CARGO_TARGET_DIR", build_target());
    cmd
}

/// The generated crate with the team's responder, built against "crates.io"; returns the
/// responder's path.
pub(crate) fn rust(registry: &CargoRegistry, krate: &Path, runtime: &str) -> Result<PathBuf> {
    run_checked(cargo_with(registry, krate).args(["build", "--quiet", "--example", "responder"]))?;
    let lock = std::fs::read_to_string(krate.join("Cargo.lock"))?;
    let entry = format!(
        "name = \"natsbridge\"\nversion = \"{runtime}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\""
    );
    ensure!(lock.contains(&entry), "the generated crate's Cargo.lock has no crates.io natsbridge {runtime}");
    Ok(build_target().join("debug/examples/responder"))
}

/// The generated package installed with npm from the registry and built with its `tsc`.
pub(crate) fn typescript(registry: &NpmRegistry, package: &Path, runtime: &str) -> Result<()> {
    std::fs::write(package.join(".npmrc"), format!("registry={}\n", registry.url))?;
    std::fs::write(package.join("tables.mjs"), TS_TABLES)?;
    run_checked(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(package))?;
    run_checked(Command::new("npm").args(["run", "build"]).current_dir(package))?;

    let client = package.join("node_modules/@natsbridge/client");
    ensure!(!client.is_symlink(), "{} links to a checkout instead of a registry package", client.display());
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(client.join("package.json"))?)?;
    ensure!(
        manifest["version"] == runtime,
        "installed @natsbridge/client {}, not {runtime}",
        manifest["version"]
    );

    let arrows = read_output(
        Command::new("npm").args(["ls", "apache-arrow", "--all", "--parseable"]).current_dir(package),
    )?;
    let copies: Vec<&str> = arrows.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure!(copies.len() == 1, "expected one apache-arrow in the npm tree, found {copies:?}");
    Ok(())
}

/// A fresh venv with the generated package pip-installed from its directory; its
/// dependencies (the runtime by name) come from the index. Returns the venv's python.
pub(crate) fn python(
    tools: &Tools,
    index: &PythonIndex,
    venv: &Path,
    package: &Path,
    versions: [(&str, &str); 2],
) -> Result<PathBuf> {
    std::fs::write(package.join("tables.py"), PY_TABLES)?;
    run_checked(Command::new(&tools.python).args(["-m", "venv"]).arg(venv))?;
    let python = venv.join("bin/python");
    run_checked(
        Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--index-url", &format!("{}simple/", index.url)])
            .arg(package)
            // Only the index: no wheels from elsewhere stand in for ours.
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_EXTRA_INDEX_URL"),
    )?;
    for (name, version) in versions {
        let installed = read_output(
            Command::new(&python)
                .args(["-c", &format!("import importlib.metadata as m; print(m.version({name:?}))")]),
        )?;
        ensure!(installed.trim() == version, "installed {name} {}, not {version}", installed.trim());
    }
    Ok(python)
}

/// TypeScript serves a table (built with the app's apache-arrow), Python asks for it.
pub(crate) fn tables(url: &str, typescript: &Path, python: &Path, python_dir: &Path) -> Result<()> {
    let server: Running = start_ready(
        Command::new("node").arg("tables.mjs").current_dir(typescript).env("NATS_URL", url),
        "the TypeScript table service",
    )?;
    run_checked(Command::new(python).arg("tables.py").current_dir(python_dir).env("NATS_URL", url))?;
    crate::team::finish(server, "the TypeScript table service")
}

/// `cargo install natsbridge-cli --locked` from "crates.io" into `root/bin`; then the
/// installed binary names its version and finds the generated packages of `spec` in `out`
/// up to date (the same generator as the workspace's). Returns the binary.
pub(crate) fn cli(
    registry: &CargoRegistry,
    root: &Path,
    version: &str,
    spec: &Path,
    out: &Path,
) -> Result<PathBuf> {
    let target = build_target();
    std::fs::create_dir_all(root)?;
    run_checked(
        cargo_with(registry, root)
            .args(["install", "natsbridge-cli", "--locked", "--debug", "--quiet", "--root"])
            .arg(root)
            .arg("--target-dir")
            .arg(&target),
    )?;
    let bin = root.join("bin/natsbridge");
    let shown = read_output(Command::new(&bin).arg("--version"))?;
    ensure!(shown.trim() == format!("natsbridge {version}"), "the installed CLI says {shown:?}");
    let check =
        Command::new(&bin).args(["codegen", "--check", "--spec"]).arg(spec).arg("--out").arg(out).status()?;
    if !check.success() {
        bail!("the installed `natsbridge codegen --check` finds the packages it generated stale ({check})");
    }
    Ok(bin)
}

/// Runs `natsbridge codegen` (no `--runtime-checkout`: the packages ask the registries for
/// the runtimes).
pub(crate) fn generate(natsbridge: &Path, spec: &Path, out: &Path) -> Result<()> {
    run_checked(Command::new(natsbridge).args(["codegen", "--spec"]).arg(spec).arg("--out").arg(out))
        .context("generating the team's packages")
}
