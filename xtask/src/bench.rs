//! `cargo xtask bench [--quick] [-- extra args]`: the bridge against raw async-nats and raw
//! HTTP, measured in one run. Times the generator itself (it lives here), builds
//! `natsbridge-bench` and runs it; it writes `bench/results.json`, `bench/chart.svg` and
//! `bench/results.md`.
//!
//! `--quick` is the CI mode: small sizes on a debug build, written to `target/bench-quick`;
//! it keeps the harness working and asserts nothing about speed.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::demo::ensure_nats_server;
use crate::util::{cargo, project_root, run_checked, target_dir};

/// Median wall time of the generator over `runs` runs, in ms (check mode: everything but
/// writing the files).
fn codegen_ms(runs: usize) -> Result<f64> {
    let root = project_root();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        crate::codegen::run(&root, true)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub(crate) fn bench(args: &[String]) -> Result<()> {
    let quick = args.iter().any(|a| a == "--quick");
    let nats = ensure_nats_server()?;
    let root = project_root();
    let codegen = codegen_ms(if quick { 1 } else { 5 })?;
    let profile = if quick { "debug" } else { "release" };
    eprintln!("building natsbridge-bench ({profile})");
    let mut build = cargo();
    build.args(["build", "-p", "natsbridge-bench"]);
    if !quick {
        build.arg("--release");
    }
    run_checked(&mut build)?;
    let out = if quick { target_dir().join("bench-quick") } else { root.join("bench") };
    let status = Command::new(target_dir().join(profile).join("natsbridge-bench"))
        .arg("--nats-server-bin")
        .arg(&nats)
        .args(["--codegen-ms", &format!("{codegen:.1}")])
        .arg("--out")
        .arg(&out)
        .args(args)
        .current_dir(&root)
        .status()
        .context("running natsbridge-bench")?;
    if !status.success() {
        bail!("the bench failed ({status})");
    }
    if !quick {
        update_readme(&root, &std::fs::read_to_string(out.join("results.md"))?)?;
    }
    Ok(())
}

const TABLE_START: &str = "<!-- bench-table -->";
const TABLE_END: &str = "<!-- /bench-table -->";

/// Puts the latest table between the README's bench-table markers.
fn update_readme(root: &std::path::Path, table: &str) -> Result<()> {
    let path = root.join("README.md");
    let readme = std::fs::read_to_string(&path)?;
    let (Some(start), Some(end)) = (readme.find(TABLE_START), readme.find(TABLE_END)) else {
        bail!("README.md has no {TABLE_START} ... {TABLE_END} markers");
    };
    let updated = format!("{}{TABLE_START}\n{}\n{}", &readme[..start], table.trim_end(), &readme[end..]);
    std::fs::write(&path, updated)?;
    eprintln!("README.md: bench table updated");
    Ok(())
}
