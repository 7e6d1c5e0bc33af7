//! The other runtimes of the format, run by their own benchmark programs (`bench/peers/`,
//! whose README gives each mode): the TypeScript runtime in Node and the Python runtime.
//!
//! A peer prints one JSON line: `msgs_per_sec`, one rate per run of the runtime, and for
//! the modes that carry their own baseline (`floor`: the same format written plainly in
//! that language; `replay`: that language's raw JetStream pull consumer),
//! `baseline_msgs_per_sec`, measured in the same process, interleaved run for run.

use crate::ctx::{Ctx, Error};

/// Messages in flight between a peer's publisher and its subscriber (the harness's own).
pub(crate) const WINDOW: usize = 2_048;

/// A runtime of another language.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    TypeScript,
    Python,
}

/// What one peer invocation measured: the runtime's rates and, for `floor` and `replay`,
/// its own language's baseline, one per run.
#[derive(Debug)]
pub(crate) struct PeerRates {
    pub(crate) runtime: Vec<f64>,
    pub(crate) baseline: Vec<f64>,
}

impl Peer {
    pub(crate) const ALL: [Peer; 2] = [Peer::TypeScript, Peer::Python];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::TypeScript => "TypeScript (Node)",
            Peer::Python => "Python",
        }
    }

    pub(crate) fn baseline_name(self) -> &'static str {
        match self {
            Peer::TypeScript => "the TypeScript runtime in Node",
            Peer::Python => "the Python runtime",
        }
    }

    /// The baseline of `--mode floor`: the format written plainly in that language.
    pub(crate) fn floor_name(self) -> &'static str {
        match self {
            Peer::TypeScript => {
                "nats.js + JSON.parse/stringify, base64, node:crypto SHA-256, the same checks"
            }
            Peer::Python => "nats-py + json, base64, hashlib SHA-256, the same checks",
        }
    }

    /// The baseline of `--mode replay`: that language's client consuming the same stream.
    pub(crate) fn raw_consumer_name(self) -> &'static str {
        match self {
            Peer::TypeScript => "raw nats.js pull consumer, acking each",
            Peer::Python => "raw nats-py pull consumer, acking each",
        }
    }

    /// Messages per run: enough to be well past the window (a run shorter than the window
    /// is a burst, not a stream), few enough that the slower runtimes finish in seconds.
    pub(crate) fn count(self, rust_count: usize) -> usize {
        match self {
            Peer::TypeScript => rust_count / 2,
            Peer::Python => rust_count / 5,
        }
        .max(WINDOW)
    }

    fn command(self) -> std::process::Command {
        match self {
            Peer::TypeScript => {
                let mut cmd = natsbridge_testkit::process::command("node");
                cmd.arg("bench/peers/node.mjs");
                cmd
            }
            Peer::Python => {
                let mut cmd = natsbridge_testkit::process::command(".venv/bin/python");
                cmd.arg("bench/peers/python.py").env("PYTHONPATH", "packages/python:generated/python");
                cmd
            }
        }
    }

    /// Runs the peer's benchmark in `mode` (`pubsub`, `floor` and `replay` on the bench's
    /// server, `cpu` without one) for `count` messages per run. The bench runs from the
    /// repository root.
    pub(crate) async fn run(self, ctx: &Ctx, mode: &str, count: usize) -> Result<PeerRates, Error> {
        let mut cmd = self.command();
        cmd.args(["--mode", mode, "--nats", &ctx.nats_url, "--bytes", "1024"])
            .args(["--count", &count.to_string(), "--runs", &ctx.sizes.reps.to_string()])
            .args(["--window", &WINDOW.to_string()]);
        let output = tokio::task::spawn_blocking(move || cmd.output()).await?.map_err(|e| {
            format!(
                "starting the {} peer benchmark: {e} (run from the repository root, after `cargo xtask setup`)",
                self.name()
            )
        })?;
        if !output.status.success() {
            return Err(format!(
                "the {} peer benchmark (--mode {mode}) failed ({}): {}",
                self.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
        let rates = |key: &str| -> Result<Vec<f64>, Error> {
            let rates: Vec<f64> = report[key]
                .as_array()
                .ok_or_else(|| format!("the {} peer printed no {key}: {report}", self.name()))?
                .iter()
                .filter_map(serde_json::Value::as_f64)
                .collect();
            if rates.len() != ctx.sizes.reps {
                return Err(format!(
                    "the {} peer gave {} runs of {key}, not {}",
                    self.name(),
                    rates.len(),
                    ctx.sizes.reps
                )
                .into());
            }
            Ok(rates)
        };
        let baseline =
            if matches!(mode, "floor" | "replay") { rates("baseline_msgs_per_sec")? } else { Vec::new() };
        Ok(PeerRates { runtime: rates("msgs_per_sec")?, baseline })
    }
}
