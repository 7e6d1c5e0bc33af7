//! One bench run: what the bridge costs over the raw transports it stands on,
//! measured in one run on one machine.
//!
//! Every case has a baseline measured in the same run, interleaved with it (raw, bridge,
//! raw, bridge, ...), and reports medians; what is compared is the ratio, because absolute
//! numbers drift on shared machines.
//!
//! - [`messaging`]: 1 KB messages (throughput, request/reply latency) and the direct path
//!   at the threshold, against plain async-nats.
//! - [`transfer`]: Arrow tables over the link path against a hand-rolled HTTP upload and
//!   download of the same IPC bytes, and each blob store; sender and receiver are
//!   processes of their own, so their peak memory is measured alone.
//! - [`cluster`]: JetStream publish and replay on one node (R1) against a three-node
//!   cluster (R3).
//! - [`codec`]: base64 against `memcpy`.
//! - [`report`]: `results.json`, the chart (SVG) and the Markdown table.

use std::path::PathBuf;
use std::time::Instant;

use natsbridge_testkit::NatsServer;
use serde::Serialize;

use crate::{cluster, codec, messaging, report, transfer};

pub(crate) type Error = Box<dyn std::error::Error>;

/// Switches of one bench run.
#[derive(Debug, Clone)]
pub(crate) struct BenchArgs {
    /// Small sizes and few repetitions: seconds, to keep the harness working in CI.
    pub(crate) quick: bool,
    /// Where `results.json`, `chart.svg` and `results.md` go.
    pub(crate) out: PathBuf,
    pub(crate) nats_server_bin: Option<PathBuf>,
    /// `cargo xtask codegen` wall time, measured by xtask (it owns the generator).
    pub(crate) codegen_ms: Option<f64>,
    /// Only cases whose group starts with this.
    pub(crate) only: Option<String>,
}

/// What a figure is checked against.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub(crate) enum Target {
    /// bridge / baseline ≥ value (throughput).
    MinRatio(f64),
    /// bridge ≤ baseline + value (latency, in the figure's unit).
    MaxOverBaseline(f64),
    /// bridge / baseline ≤ value (memory against the payload size).
    MaxRatio(f64),
    /// bridge ≥ value, in the figure's unit.
    MinAbsolute(f64),
    /// bridge ≤ value, in the figure's unit (CPU time with no baseline).
    MaxAbsolute(f64),
}

/// One measured figure: the bridge's median next to its baseline's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    pub(crate) group: &'static str,
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    /// What the baseline is ("raw async-nats", "memcpy", ...).
    pub(crate) baseline_name: &'static str,
    pub(crate) baseline: f64,
    pub(crate) bridge: f64,
    /// `true` for rates (higher is better), `false` for latencies and memory.
    pub(crate) higher_is_better: bool,
    pub(crate) target: Option<Target>,
    pub(crate) baseline_samples: Vec<f64>,
    pub(crate) bridge_samples: Vec<f64>,
}

impl Figure {
    /// A rate (higher is better) against its baseline, from the samples of each, with no
    /// target; [`Figure::target`] adds one.
    pub(crate) fn rate(
        group: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        baseline_name: &'static str,
        baseline_samples: Vec<f64>,
        bridge_samples: Vec<f64>,
    ) -> Figure {
        Figure {
            group,
            name: name.into(),
            unit,
            baseline_name,
            baseline: median(&baseline_samples),
            bridge: median(&bridge_samples),
            higher_is_better: true,
            target: None,
            baseline_samples,
            bridge_samples,
        }
    }

    /// The same figure, checked against `target`.
    pub(crate) fn target(self, target: Target) -> Figure {
        Figure { target: Some(target), ..self }
    }

    /// bridge / baseline.
    pub(crate) fn ratio(&self) -> f64 {
        if self.baseline == 0.0 { f64::NAN } else { self.bridge / self.baseline }
    }

    /// Relative speed: 1.0 is as fast as the baseline, higher is better, whatever the unit.
    pub(crate) fn relative(&self) -> f64 {
        if self.higher_is_better { self.ratio() } else { 1.0 / self.ratio() }
    }

    pub(crate) fn met(&self) -> Option<bool> {
        Some(match self.target? {
            Target::MinRatio(r) => self.ratio() >= r,
            Target::MaxOverBaseline(d) => self.bridge <= self.baseline + d,
            Target::MaxRatio(r) => self.ratio() <= r,
            Target::MinAbsolute(v) => self.bridge >= v,
            Target::MaxAbsolute(v) => self.bridge <= v,
        })
    }
}

pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    if s.len() % 2 == 1 { s[mid] } else { (s[mid - 1] + s[mid]) / 2.0 }
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) reps: usize,
    pub(crate) small_messages: usize,
    pub(crate) requests: usize,
    pub(crate) direct_messages: usize,
    /// (label, rows) of the link-path tables.
    pub(crate) tables: [(&'static str, usize); 2],
    pub(crate) table_reps: usize,
    /// Rows of the table every blob store carries.
    pub(crate) store_rows: usize,
    pub(crate) stream_messages: usize,
    pub(crate) codec_sizes: [usize; 2],
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                reps: 2,
                small_messages: 2_000,
                requests: 200,
                direct_messages: 20,
                tables: [("2 MB", 40_000), ("5 MB", 100_000)],
                table_reps: 1,
                store_rows: 40_000,
                stream_messages: 400,
                codec_sizes: [1 << 20, 4 << 20],
            }
        } else {
            Sizes {
                reps: 5,
                small_messages: 50_000,
                requests: 2_000,
                direct_messages: 300,
                tables: [("100 MB", 2_000_000), ("500 MB, 10 M rows", 10_000_000)],
                table_reps: 3,
                store_rows: 2_000_000,
                stream_messages: 10_000,
                codec_sizes: [1 << 20, 64 << 20],
            }
        }
    }
}

/// What every case shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) nats_url: String,
    pub(crate) files_url: String,
    pub(crate) s3_endpoint: String,
    pub(crate) scratch: PathBuf,
    pub(crate) sizes: Sizes,
}

/// Runs the cases, writes the results; `Ok(())` when every case ran (targets are reported,
/// not enforced).
pub(crate) async fn run(args: BenchArgs) -> Result<(), Error> {
    let started = Instant::now();
    let nats = NatsServer::start_with(args.nats_server_bin.clone(), "")?;
    let bin = nats.bin().to_owned();
    // Removed on drop, on every way out.
    let scratch_dir = tempfile::Builder::new().prefix("natsbridge-bench-").tempdir()?;
    let scratch = scratch_dir.path().to_owned();
    let files = natsbridge_testkit::file_server_in(scratch.join("files")).await?;
    let s3 = natsbridge_testkit::S3Server::start(transfer::S3_BUCKET)?;
    let sizes = Sizes::new(args.quick);
    let ctx = Ctx {
        nats_url: nats.url(),
        files_url: files.url().to_owned(),
        s3_endpoint: s3.endpoint(),
        scratch: scratch.clone(),
        sizes,
    };
    eprintln!(
        "bench{}: nats-server {} at {}, file server at {}",
        if args.quick { " --quick" } else { "" },
        bin.display(),
        ctx.nats_url,
        ctx.files_url
    );
    let wanted = |group: &str| args.only.as_deref().is_none_or(|o| group.starts_with(o));

    let mut figures = Vec::new();
    if wanted("codec") {
        figures.extend(codec::run(&ctx));
    }
    if wanted("messaging") {
        figures.extend(messaging::run(&ctx).await?);
    }
    if wanted("link") {
        figures.extend(transfer::run_tables(&ctx).await?);
    }
    if wanted("stores") {
        figures.extend(transfer::run_stores(&ctx).await?);
    }
    if wanted("cluster") {
        figures.extend(cluster::run(&ctx).await?);
    }
    if let Some(ms) = args.codegen_ms {
        figures.push(Figure {
            group: "codegen",
            name: "cargo xtask codegen (all languages + docs)".into(),
            unit: "ms",
            baseline_name: "",
            baseline: f64::NAN,
            bridge: ms,
            higher_is_better: false,
            target: None,
            baseline_samples: Vec::new(),
            bridge_samples: vec![ms],
        });
    }
    files.shutdown().await;
    drop(s3);
    drop(nats);
    drop(scratch_dir);

    let machine = report::Machine::read(&bin);
    std::fs::create_dir_all(&args.out)?;
    report::write(&args.out, &machine, args.quick, &figures, started.elapsed())?;
    // The history keeps full runs only: quick and partial runs measure something else.
    if !args.quick && args.only.is_none() {
        report::append_history(&args.out, &machine, &figures)?;
    }
    println!("{}", report::markdown(&machine, &figures));
    eprintln!("bench: wrote {} in {:.0} s", args.out.display(), started.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(baseline: f64, bridge: f64, higher_is_better: bool, target: Target) -> Figure {
        Figure {
            group: "t",
            name: "t".into(),
            unit: "x",
            baseline_name: "raw",
            baseline,
            bridge,
            higher_is_better,
            target: Some(target),
            baseline_samples: vec![baseline],
            bridge_samples: vec![bridge],
        }
    }

    #[test]
    fn medians_ignore_order_and_non_finite_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn targets_are_judged_in_the_right_direction() {
        assert_eq!(figure(100.0, 60.0, true, Target::MinRatio(0.6)).met(), Some(true));
        assert_eq!(figure(100.0, 59.0, true, Target::MinRatio(0.6)).met(), Some(false));
        assert_eq!(figure(200.0, 250.0, false, Target::MaxOverBaseline(50.0)).met(), Some(true));
        assert_eq!(figure(200.0, 251.0, false, Target::MaxOverBaseline(50.0)).met(), Some(false));
        assert_eq!(figure(500.0, 650.0, false, Target::MaxRatio(1.3)).met(), Some(true));
        assert_eq!(figure(500.0, 651.0, false, Target::MaxRatio(1.3)).met(), Some(false));
        assert_eq!(figure(20.0, 1.5, true, Target::MinAbsolute(1.5)).met(), Some(true));
        assert_eq!(figure(20.0, 1.4, true, Target::MinAbsolute(1.5)).met(), Some(false));
        assert_eq!(figure(f64::NAN, 2.5, false, Target::MaxAbsolute(2.5)).met(), Some(true));
        assert_eq!(figure(f64::NAN, 2.6, false, Target::MaxAbsolute(2.5)).met(), Some(false));
        // Progress towards a target is 1.0 at the target, above it when met.
        assert_eq!(crate::report::progress(&figure(100.0, 60.0, true, Target::MinRatio(0.6))), Some(1.0));
        assert_eq!(
            crate::report::progress(&figure(200.0, 300.0, false, Target::MaxOverBaseline(100.0))),
            Some(1.0)
        );
        assert_eq!(
            crate::report::progress(&figure(f64::NAN, 5.0, false, Target::MaxAbsolute(2.5))),
            Some(0.5)
        );
        assert_eq!(crate::report::progress(&figure(500.0, 1000.0, false, Target::MaxRatio(1.0))), Some(0.5));
        // Relative speed is "higher is better" whatever the unit.
        assert_eq!(figure(200.0, 400.0, false, Target::MaxRatio(9.0)).relative(), 0.5);
        assert_eq!(figure(200.0, 400.0, true, Target::MinRatio(0.1)).relative(), 2.0);
    }
}
