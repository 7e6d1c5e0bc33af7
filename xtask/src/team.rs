//! `cargo xtask team-codegen`: what a team does with `natsbridge codegen`, in a scratch
//! directory outside the repository, against this checkout's runtimes. Its spec, programs
//! and exchange also serve `cargo xtask release --dry-run` (`release/install.rs`), where the
//! packages come from the registries instead; that is the step `cargo xtask test` runs.
//!
//! The example spec gets a new optional field in its command message (`seed`); the
//! `natsbridge` binary generates the four packages from it against this checkout's
//! runtimes; the Rust crate gets a responder on the generated `handle_command`; the
//! TypeScript package is installed with npm and built with `tsc`, the Python one checked
//! with `mypy --strict`; then, against a real nats-server, a TypeScript and a Python client
//! send `sendCommand` with a seed and the Rust responder answers with it: the new field
//! crossed languages through generated code alone.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::codegen::{EXAMPLE_SPEC, with_seed_field};
use crate::setup::Tools;
use crate::util::{cargo, run_checked, target_dir};

const RESPONDER: &str = r#"//! Answers two commands with their seed (written by `cargo xtask test`).
use natsbridge::futures::StreamExt as _;
use simulation_api::{Bridge, CommandStatus, RunState, operations};

#[natsbridge::tokio::main(crate = "natsbridge::tokio")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bridge = Bridge::new(natsbridge::connect(&std::env::var("NATS_URL")?).await?);
    let mut commands = operations::handle_command(&bridge, "team").await?;
    natsbridge::transport::subscriptions_registered(bridge.client()).await?;
    println!("ready");
    for _ in 0..2 {
        let command = commands.next().await.ok_or("the subscription ended")??;
        let seed = command.message.seed.ok_or("the command has no seed")?;
        let status = CommandStatus { state: RunState::Running, detail: Some(format!("seed {seed}")) };
        operations::handle_command_reply(&bridge, &command, &status).await?;
    }
    bridge.client().flush().await?;
    Ok(())
}
"#;

const TS_CLIENT: &str = r#"// Sends one command with a seed through the generated TypeScript operations.
import { connect } from "@natsbridge/client";
import { Bridge, sendCommand } from "./dist/index.js";

const nc = await connect({ servers: process.env.NATS_URL });
const reply = await sendCommand(new Bridge(nc), { service: "team" }, { step_size: 0.1, iterations: 5, seed: 42 });
if (reply.message.state !== "Running" || reply.message.detail !== "seed 42") {
  throw new Error(`unexpected reply ${JSON.stringify(reply.message)}`);
}
console.log(`typescript: ${reply.message.detail}`);
await nc.close();
"#;

const PY_CLIENT: &str = r#""""Sends one command with a seed through the generated Python operations."""
import asyncio
import os

import nats

import simulation_api as sim


async def main() -> None:
    nc = await nats.connect(os.environ["NATS_URL"])
    command: sim.Command = {"step_size": 0.1, "iterations": 5, "seed": 7}
    reply = await sim.send_command(sim.Bridge(nc), command, service="team")
    assert reply.message["state"] == "Running" and reply.message.get("detail") == "seed 7", reply.message
    print(f"python: {reply.message.get('detail')}")
    await nc.close()


asyncio.run(main())
"#;

/// Kills the child when dropped.
#[derive(Debug)]
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) fn nats_server(tools: &Tools) -> Result<(Running, String)> {
    let port = free_port()?;
    let child = Command::new(&tools.nats_server)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", tools.nats_server.display()))?;
    let server = Running(child);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        ensure!(started.elapsed() < Duration::from_secs(10), "nats-server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((server, format!("nats://127.0.0.1:{port}")))
}

/// The example spec with the `seed` field, written to `dir/spec/asyncapi.yaml`, as a team
/// keeps its document.
pub(crate) fn write_team_spec(root: &Path, dir: &Path) -> Result<PathBuf> {
    let spec = dir.join("spec/asyncapi.yaml");
    std::fs::create_dir_all(spec.parent().expect("has a parent"))?;
    std::fs::write(&spec, with_seed_field(&std::fs::read_to_string(root.join(EXAMPLE_SPEC))?)?)?;
    Ok(spec)
}

/// The team's own programs beside the generated packages of `out`: the Rust responder (an
/// example of the crate), the TypeScript client (`client.mjs`, importing the built `dist/`)
/// and the Python client (`client.py`).
pub(crate) fn add_team_programs(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out.join("rust/examples"))?;
    std::fs::write(out.join("rust/examples/responder.rs"), RESPONDER)?;
    std::fs::write(out.join("typescript/client.mjs"), TS_CLIENT)?;
    std::fs::write(out.join("python/client.py"), PY_CLIENT)?;
    Ok(())
}

/// Starts a program that prints `ready` once it listens; fails with what it printed instead.
pub(crate) fn start_ready(cmd: &mut Command, what: &str) -> Result<Running> {
    let mut child = Running(cmd.stdout(Stdio::piped()).spawn().with_context(|| format!("starting {what}"))?);
    let mut ready = String::new();
    BufReader::new(child.0.stdout.take().expect("piped")).read_line(&mut ready)?;
    ensure!(ready.trim() == "ready", "{what} did not start: {ready:?}");
    Ok(child)
}

/// Waits for a started program and fails unless it succeeded.
pub(crate) fn finish(mut child: Running, what: &str) -> Result<()> {
    let status = child.0.wait()?;
    if !status.success() {
        bail!("{what} failed: {status}");
    }
    Ok(())
}

/// The exchange over the nats-server at `url`: the built Rust `responder` answers, the
/// TypeScript and Python clients of `out` ask, one after the other. `python` makes the
/// command that runs a Python file with the generated package importable.
pub(crate) fn exchange(url: &str, responder: &Path, out: &Path, python: &dyn Fn() -> Command) -> Result<()> {
    let responder = start_ready(Command::new(responder).env("NATS_URL", url), "the Rust responder")?;
    run_checked(
        Command::new("node").arg("client.mjs").current_dir(out.join("typescript")).env("NATS_URL", url),
    )?;
    run_checked(python().arg("client.py").current_dir(out.join("python")).env("NATS_URL", url))?;
    finish(responder, "the Rust responder")
}

pub(crate) fn team_codegen(root: &Path, tools: &Tools) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("natsbridge-team-codegen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let spec = write_team_spec(root, &dir)?;
    let out = dir.join("out");
    // The binary of this checkout (already built by `cargo test` in `cargo xtask test`).
    run_checked(cargo().args(["build", "--quiet", "-p", "natsbridge-cli"]))?;
    run_checked(
        Command::new(target_dir().join("debug/natsbridge"))
            .args(["codegen", "--spec"])
            .arg(&spec)
            .arg("--out")
            .arg(&out)
            .arg("--runtime-checkout")
            .arg(root),
    )?;
    add_team_programs(&out)?;

    // Rust: the crate as generated, plus a responder of the team's own.
    let krate = out.join("rust");
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock"))?;
    let rust_target = target_dir().join("team-codegen");
    run_checked(
        cargo()
            .args(["build", "--offline", "--example", "responder", "--manifest-path"])
            .arg(krate.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &rust_target),
    )?;

    // TypeScript: installed as a user would (npm), built with its own `tsc`.
    let ts = out.join("typescript");
    run_checked(Command::new("npm").args(["install", "--no-audit", "--no-fund"]).current_dir(&ts))?;
    run_checked(Command::new("npm").args(["run", "build"]).current_dir(&ts))?;

    // Python: strictly typed against this checkout's runtime and wire types.
    let py = out.join("python");
    let pythonpath =
        std::env::join_paths([py.clone(), root.join("packages/python"), root.join("generated/python")])?;
    run_checked(
        Command::new(&tools.python)
            .args(["-m", "mypy", "--strict", "simulation_api", "client.py"])
            .current_dir(&py)
            .env("MYPYPATH", &pythonpath),
    )?;

    // The exchange: Rust answers, TypeScript and Python ask, one after the other.
    let (_server, url) = nats_server(tools)?;
    let python = || {
        let mut cmd = Command::new(&tools.python);
        cmd.env("PYTHONPATH", &pythonpath);
        cmd
    };
    exchange(&url, &rust_target.join("debug/examples/responder"), &out, &python)?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
