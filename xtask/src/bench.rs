//! `cargo xtask bench [--quick] [-- extra args]`: the bridge against raw async-nats and raw
//! HTTP, measured in one run. Times the generator itself (it lives here), builds
//! `natsbridge-bench` and runs it; it writes `bench/results.json`, `bench/chart.svg` and
//! `bench/results.md`.
//!
//! `--quick` is the CI mode: small sizes on a debug build, written to `target/bench-quick`;
//! it keeps the harness working and asserts nothing about speed.
//!
//! A full run also builds a user's crate cold ([`cold_builds`]: minutes) and passes the
//! figures in with `--cold-build`; `--only build` runs that part alone (other `--only`
//! groups skip it). A full run and `--only page` also build the release `natsbridge-demo` and
//! set up the page's tools (`cargo xtask setup`: Node packages, the built dashboard,
//! Chromium) for the group `page`, and pass the binary in with `--demo-bin`. A run of some groups (`--only`) writes to `target/bench-only`: the
//! recorded results, their history and the README's table are a full run's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::demo::ensure_nats_server;
use crate::util::{
    cargo, pinned_toolchain, project_root, read_output, run_checked, target_dir, workspace_metadata,
};

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
    // The bench's own `--only` (a prefix of a group name), for the group `build`.
    let only = args.iter().enumerate().find_map(|(i, a)| match a.strip_prefix("--only=") {
        Some(group) => Some(group),
        None if a == "--only" => args.get(i + 1).map(String::as_str),
        None => None,
    });
    let cold =
        if !quick && only.is_none_or(|o| "build".starts_with(o)) { Some(cold_builds(&root)?) } else { None };
    // The page: headless Chromium against the release demo service (full runs only; the
    // dashboard's own test covers it in CI).
    let page = !quick && only.is_none_or(|o| "page".starts_with(o) || o.starts_with("page"));
    let chromium = if page {
        crate::setup::setup()?;
        Some(crate::setup::chromium()?)
    } else {
        None
    };
    let profile = if quick { "debug" } else { "release" };
    eprintln!("building natsbridge-bench{} ({profile})", if page { " and natsbridge-demo" } else { "" });
    let mut build = cargo();
    build.args(["build", "-p", "natsbridge-bench"]);
    if page {
        build.args(["-p", "natsbridge-demo"]);
    }
    if !quick {
        build.arg("--release");
    }
    run_checked(&mut build)?;
    let demo_bin = page.then(|| target_dir().join(profile).join("natsbridge-demo"));
    let out = match (quick, only) {
        (true, _) => target_dir().join("bench-quick"),
        (false, Some(_)) => target_dir().join("bench-only"),
        (false, None) => root.join("bench"),
    };
    let mut bench = Command::new(target_dir().join(profile).join("natsbridge-bench"));
    if let (Some(bin), Some(chromium)) = (&demo_bin, &chromium) {
        bench.arg("--demo-bin").arg(bin).env("CHROMIUM_BIN", chromium).env("NATS_SERVER_BIN", &nats);
    }
    let status = bench
        .arg("--nats-server-bin")
        .arg(&nats)
        .args(["--codegen-ms", &format!("{codegen:.1}")])
        .args(cold.iter().flat_map(|c| ["--cold-build".to_owned(), c.to_string()]))
        .arg("--out")
        .arg(&out)
        .args(args)
        .current_dir(&root)
        .status()
        .context("running natsbridge-bench")?;
    if !status.success() {
        bail!("the bench failed ({status})");
    }
    if quick || only.is_some() {
        eprintln!("results written to {}", out.display());
    } else {
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

/// One cold build: wall time and CPU time (seconds), crates in it.
#[derive(Debug, Clone, Copy)]
struct ColdBuild {
    wall_s: f64,
    cpu_s: f64,
    crates: usize,
}

/// A user's crate built cold, with the default features and with every feature.
#[derive(Debug, Clone, Copy)]
struct ColdBuilds {
    default: ColdBuild,
    all: ColdBuild,
}

/// The form `natsbridge-bench --cold-build` reads.
impl std::fmt::Display for ColdBuilds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ColdBuilds { default: d, all: a } = self;
        write!(
            f,
            "default_s={:.1},all_s={:.1},default_crates={},all_crates={}",
            d.wall_s, a.wall_s, d.crates, a.crates
        )?;
        if d.cpu_s.is_finite() && a.cpu_s.is_finite() {
            write!(f, ",default_cpu_s={:.1},all_cpu_s={:.1}", d.cpu_s, a.cpu_s)?;
        }
        Ok(())
    }
}

/// CPU seconds (user + system) of this process's waited-for descendants so far, from
/// `/proc/self/stat` (`cutime`, `cstime`): cargo waits for every rustc it starts, so the
/// difference around a build is the build's CPU time, which other load on the machine
/// barely moves (its wall time, it does). `None` where there is no `/proc`.
fn children_cpu_s(ticks_per_s: f64) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3, `state`.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(16)? + ticks(17)?) / ticks_per_s)
}

/// The runtime crate's features but `default`, from `cargo metadata`.
pub(crate) fn runtime_features(root: &Path) -> Result<Vec<String>> {
    let metadata = workspace_metadata(root)?;
    let runtime = metadata["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "natsbridge"))
        .context("cargo metadata has no package `natsbridge`")?;
    let features = runtime["features"].as_object().context("`natsbridge` has no features table")?;
    Ok(features.keys().filter(|f| *f != "default").cloned().collect())
}

/// Removes a directory when dropped, on every way out.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A crate outside the workspace depending on `natsbridge` by path, built cold (debug, a
/// fresh target directory under the system's temporary directory, removed after): what a
/// user waits for on a first build. Once with the default features, once with every
/// feature (what every user built before the crate had features). Also counts the crates
/// each build pulls in (`cargo tree -e normal`, the user's crate not counted). The lock
/// file is the workspace's, so both builds use the versions the workspace tests, offline.
fn cold_builds(root: &Path) -> Result<ColdBuilds> {
    // Every feature a user may enable: `fuzzing` is the fuzz targets' property functions.
    let features: Vec<String> = runtime_features(root)?.into_iter().filter(|f| f != "fuzzing").collect();
    let scratch =
        RemoveOnDrop(std::env::temp_dir().join(format!("natsbridge-cold-build-{}", std::process::id())));
    let toolchain = pinned_toolchain()?;
    let ticks_per_s: f64 = read_output(Command::new("getconf").arg("CLK_TCK"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100.0);
    let build = |label: &str, features: &[String]| -> Result<ColdBuild> {
        let dir = scratch.0.join(label);
        std::fs::create_dir_all(dir.join("src"))?;
        let runtime = root.join("crates/natsbridge");
        let features: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"cold-build-user\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nnatsbridge = {{ path = {runtime:?}, features = [{}] }}\n\n[workspace]\n",
                features.join(", ")
            ),
        )?;
        std::fs::write(
            dir.join("src/main.rs"),
            "//! A user's crate: it sends and receives.\n\
             fn main() {\n    \
                 let send = natsbridge::SendOptions::default().fileserver(\"http://localhost:8080\");\n    \
                 let receive = natsbridge::ReceiveOptions::default();\n    \
                 println!(\"{send:?} {receive:?}\");\n\
             }\n",
        )?;
        std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        let cargo_in = |args: &[&str]| {
            let mut cmd = cargo();
            cmd.current_dir(&dir)
                .args(args)
                .env("CARGO_TARGET_DIR", dir.join("target"))
                .env("RUSTUP_TOOLCHAIN", &toolchain)
                .env_remove("RUSTFLAGS")
                .env_remove("RUSTC_WRAPPER")
                .env_remove("CARGO_INCREMENTAL");
            cmd
        };
        eprintln!("cold build of a user's crate, features [{}]", features.join(", "));
        let (t, cpu) = (Instant::now(), children_cpu_s(ticks_per_s));
        run_checked(&mut cargo_in(&["build", "--offline", "--quiet"]))?;
        let wall_s = t.elapsed().as_secs_f64();
        let cpu_s = children_cpu_s(ticks_per_s).zip(cpu).map_or(f64::NAN, |(after, before)| after - before);
        let tree = read_output(&mut cargo_in(&["tree", "--offline", "-e", "normal", "--prefix", "none"]))?;
        let crates: std::collections::BTreeSet<(&str, &str)> = tree
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                Some((words.next()?, words.next()?))
            })
            .filter(|(name, _)| *name != "cold-build-user")
            .collect();
        eprintln!("  {wall_s:.1} s, {cpu_s:.1} s of CPU, {} crates", crates.len());
        std::fs::remove_dir_all(&dir)?;
        Ok(ColdBuild { wall_s, cpu_s, crates: crates.len() })
    };
    Ok(ColdBuilds { default: build("default", &[])?, all: build("all", &features)? })
}
