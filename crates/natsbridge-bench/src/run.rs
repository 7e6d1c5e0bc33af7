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
//! - [`replay`]: each runtime's `EnvelopeConsumer` against its language's raw consumer.
//! - [`cluster`]: JetStream publish and replay on one node (R1) against a three-node
//!   cluster (R3).
//! - [`page`]: the dashboard page's table against the same link downloaded alone, and the
//!   renderer's memory against the table (when xtask passes `--demo-bin`).
//! - [`codec`]: base64 against `memcpy`.
//! - [`report`]: `results.json`, the chart (SVG) and the Markdown table.

use std::path::{Path, PathBuf};
use std::time::Instant;

use natsbridge_testkit::NatsServer;

use crate::ctx::{Ctx, Error, Figure, Sizes};
use crate::{build, cluster, codec, messaging, page, replay, report, transfer};

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
    /// A user's cold build, measured by xtask (full runs only).
    pub(crate) cold_build: Option<build::ColdBuild>,
    /// The release `natsbridge-demo` the page runs against; the page is skipped without it.
    pub(crate) demo_bin: Option<PathBuf>,
    /// Only cases whose group starts with this.
    pub(crate) only: Option<String>,
}

/// Memory-backed storage (tmpfs) on Linux, for the file server's spool.
const MEMORY_DIR: &str = "/dev/shm";

/// Runs the cases, writes the results; `Ok(())` when every case ran (targets are reported,
/// not enforced).
pub(crate) async fn run(args: BenchArgs) -> Result<(), Error> {
    let started = Instant::now();
    let nats = NatsServer::start_with(args.nats_server_bin.clone(), "")?;
    let bin = nats.bin().to_owned();
    // Removed on drop, on every way out.
    let scratch_dir = tempfile::Builder::new().prefix("natsbridge-bench-").tempdir()?;
    let scratch = scratch_dir.path().to_owned();
    // The file server spools into memory (tmpfs) where the machine has it: on disk, the
    // kernel's writeback of earlier runs' gigabytes moved the raw HTTP baseline from 240 to
    // 700 MB/s between runs of the same build. Emptied after every transfer.
    let spool_dir = match Path::new(MEMORY_DIR).is_dir() {
        true => tempfile::Builder::new().prefix("natsbridge-bench-files-").tempdir_in(MEMORY_DIR)?,
        false => tempfile::Builder::new().prefix("files-").tempdir_in(&scratch)?,
    };
    let files = natsbridge_testkit::file_server_in(spool_dir.path()).await?;
    let s3 = natsbridge_testkit::S3Server::start(transfer::S3_BUCKET)?;
    let sizes = Sizes::new(args.quick);
    let ctx = Ctx {
        nats_url: nats.url(),
        files_url: files.url().to_owned(),
        s3_endpoint: s3.endpoint(),
        scratch: scratch.clone(),
        files_spool: spool_dir.path().to_owned(),
        sizes,
    };
    eprintln!(
        "bench{}: nats-server {} at {}, file server at {}",
        if args.quick { " --quick" } else { "" },
        bin.display(),
        ctx.nats_url,
        ctx.files_url
    );
    // `--only messaging/request` runs the group's part (see `messaging::run`).
    let wanted = |group: &str| {
        args.only.as_deref().is_none_or(|o| group.starts_with(o) || o.starts_with(&format!("{group}/")))
    };

    let mut figures = Vec::new();
    if wanted("codec") {
        figures.extend(codec::run(&ctx));
    }
    if wanted("messaging") {
        figures.extend(messaging::run(&ctx, args.only.as_deref()).await?);
    }
    if wanted("link") {
        figures.extend(transfer::run_tables(&ctx).await?);
    }
    if wanted("stores") {
        figures.extend(transfer::run_stores(&ctx).await?);
    }
    if wanted("replay") {
        figures.extend(replay::run(&ctx).await?);
    }
    if wanted("cluster") {
        figures.extend(cluster::run(&ctx).await?);
    }
    match &args.demo_bin {
        Some(bin) if wanted("page") => figures.extend(page::run(&ctx, bin, args.quick).await?),
        None if args.only.as_deref().is_some_and(|o| o.starts_with("page")) => {
            return Err("--only page needs --demo-bin (cargo xtask bench builds and passes it)".into());
        }
        _ => {}
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
    if let Some(cold) = &args.cold_build {
        figures.extend(build::figures(cold));
    }
    files.shutdown().await;
    drop(s3);
    drop(nats);
    drop(scratch_dir);
    drop(spool_dir);

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
