//! `cargo xtask fuzz`: builds the libFuzzer targets of `fuzz/` and runs each for a bounded
//! time over the committed corpus.
//!
//! The build passes the coverage flags cargo-fuzz passes (`-Cpasses=sancov-module`, ...)
//! with no sanitizer, which works on the stable toolchain: the runtime forbids `unsafe`, so
//! what fuzzing looks for is panics, aborts, runaway allocation and hangs, and libFuzzer
//! catches all four (`-rss_limit_mb`, `-malloc_limit_mb`, `-timeout`). With cargo-fuzz
//! installed, `cd fuzz && cargo fuzz run envelope` works on the same crate.
//!
//! New inputs go to a scratch corpus under the target directory; `--merge` folds the ones
//! that add coverage into `fuzz/corpus/<target>`. A crash is written to
//! `target/fuzz/artifacts/<target>/`; copy it to `fuzz/regressions/<target>/` and the
//! `hostile` test replays it from then on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{cargo_path, project_root, read_output, run_checked, target_dir};

/// Every target in `fuzz/fuzz_targets`.
pub(crate) const TARGETS: [&str; 4] = ["envelope", "payload", "arrow_ipc", "base64"];

/// What one bounded run found.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) target: String,
    pub(crate) executions: u64,
    pub(crate) seconds: f64,
    pub(crate) crashed: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Seconds per target.
    #[arg(long, default_value_t = 60)]
    pub(crate) seconds: u64,
    /// Only these targets (default: all).
    #[arg(long = "target", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    pub(crate) targets: Vec<String>,
    /// Fold inputs that add coverage into the committed corpus.
    #[arg(long)]
    pub(crate) merge: bool,
}

const COVERAGE_FLAGS: &str = "-Cpasses=sancov-module \
    -Cllvm-args=-sanitizer-coverage-level=4 \
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
    -Cllvm-args=-sanitizer-coverage-pc-table \
    -Cllvm-args=-sanitizer-coverage-trace-compares \
    -Cllvm-args=-sanitizer-coverage-stack-depth \
    --cfg fuzzing";

fn host_triple() -> Result<String> {
    read_output(Command::new("rustc").arg("-vV"))?
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .context("no host triple in `rustc -vV`")
}

/// Builds the targets and returns the directory holding the binaries.
fn build() -> Result<PathBuf> {
    let root = project_root();
    let triple = host_triple()?;
    let target = target_dir().join("fuzz");
    // `--target` keeps the coverage flags off build scripts and proc macros.
    run_checked(
        Command::new(cargo_path())
            .args(["build", "--release", "--locked", "--bins", "--manifest-path"])
            .arg(root.join("fuzz/Cargo.toml"))
            .args(["--target", &triple, "--target-dir"])
            .arg(&target)
            .env("RUSTFLAGS", COVERAGE_FLAGS)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR"),
    )?;
    Ok(target.join(triple).join("release"))
}

fn run_one(bin_dir: &Path, target: &str, seconds: u64, merge: bool) -> Result<Outcome> {
    let root = project_root();
    let corpus = root.join("fuzz/corpus").join(target);
    let regressions = root.join("fuzz/regressions").join(target);
    let scratch = target_dir().join("fuzz/work").join(target);
    let artifacts = target_dir().join("fuzz/artifacts").join(target);
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    std::fs::create_dir_all(&artifacts)?;
    let mut cmd = Command::new(bin_dir.join(target));
    cmd.arg(format!("-max_total_time={seconds}"))
        .arg("-timeout=10")
        .arg("-rss_limit_mb=2048")
        .arg("-malloc_limit_mb=1024")
        .arg("-max_len=262144")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&scratch)
        .arg(&corpus);
    if regressions.is_dir() {
        cmd.arg(&regressions);
    }
    eprintln!("$ {cmd:?}");
    let started = Instant::now();
    let out = cmd.output().with_context(|| format!("starting fuzz target {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let executions = log
        .lines()
        .find_map(|l| l.strip_prefix("Done ").and_then(|r| r.split_whitespace().next()?.parse().ok()))
        .or_else(|| {
            log.lines().rev().find_map(|l| {
                l.strip_prefix("stat::number_of_executed_units:").and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0);
    let crashed = !out.status.success();
    if crashed {
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    if merge && !crashed {
        run_checked(Command::new(bin_dir.join(target)).arg("-merge=1").arg(&corpus).arg(&scratch))?;
    }
    Ok(Outcome { target: target.to_owned(), executions, seconds: started.elapsed().as_secs_f64(), crashed })
}

/// Builds and runs the targets for `seconds` each; fails if any crashed.
pub(crate) fn fuzz(args: &Args) -> Result<Vec<Outcome>> {
    let bin_dir = build()?;
    let targets: Vec<&str> = if args.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    let mut outcomes = Vec::new();
    for target in targets {
        outcomes.push(run_one(&bin_dir, target, args.seconds, args.merge)?);
    }
    eprintln!("\n{:<10} {:>14} {:>9} {:>12}  result", "target", "executions", "seconds", "exec/s");
    for o in &outcomes {
        eprintln!(
            "{:<10} {:>14} {:>9.1} {:>12.0}  {}",
            o.target,
            o.executions,
            o.seconds,
            o.executions as f64 / o.seconds.max(1e-9),
            if o.crashed { "CRASH (see target/fuzz/artifacts)" } else { "ok" }
        );
    }
    let total: u64 = outcomes.iter().map(|o| o.executions).sum();
    eprintln!("{total} executions in all");
    if outcomes.iter().any(|o| o.crashed) {
        bail!(
            "a fuzz target crashed: copy the input from target/fuzz/artifacts/<target>/ to \
             fuzz/regressions/<target>/, fix the cause, and `cargo test --test it hostile` keeps it fixed"
        );
    }
    Ok(outcomes)
}
