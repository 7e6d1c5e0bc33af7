//! `cargo xtask test`: the whole suite, as CI runs it. Every step must pass.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::setup::setup;
use crate::util::{cargo, project_root, run_checked, target_dir};

/// Seconds each fuzz target runs in the suite; `cargo xtask fuzz --seconds N` for longer.
const FUZZ_SECONDS: u64 = 15;

pub(crate) fn test_all() -> Result<()> {
    let started = Instant::now();
    let tools = setup()?;
    let root = project_root();
    let mut steps: Vec<(&str, f64)> = Vec::new();
    let mut step = |name: &'static str, f: &mut dyn FnMut() -> Result<()>| -> Result<()> {
        eprintln!("\n==> {name}");
        let t = Instant::now();
        f().with_context(|| format!("step `{name}` failed"))?;
        steps.push((name, t.elapsed().as_secs_f64()));
        Ok(())
    };

    step("codegen --check", &mut || {
        let report = crate::codegen::run(&root, true)?;
        if !report.stale.is_empty() {
            print!("{}", report.diff);
            bail!("generated files are stale: {}; run `cargo xtask codegen`", report.stale.join(", "));
        }
        Ok(())
    })?;
    step("asyncapi validate", &mut || {
        run_checked(
            Command::new("node")
                .arg("xtask/js/validate-asyncapi.mjs")
                .arg("schema/asyncapi.yaml")
                .current_dir(&root),
        )
    })?;
    step("rustfmt", &mut || run_checked(cargo().args(["fmt", "--all", "--check"])))?;
    step("clippy", &mut || {
        run_checked(cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    // The runtime's feature sets. The clippy above is the full set (only the runtime has
    // features, so `--all-features` is what the workspace's crates enable anyway). A user's
    // crate gets the minimal set: linted here, so code that needs a feature cannot slip out
    // of its gate; a generated crate gets `typed` alone. Checks, not builds: ~65 s cold (the
    // dependencies' feature sets differ from the workspace's), ~5 s warm. Each of
    // `fileserver` and `s3` alone would add 33 and 63 s cold, so they are left to the full set.
    step("runtime feature sets", &mut || {
        let natsbridge = ["-p", "natsbridge", "--locked", "--no-default-features"];
        run_checked(cargo().arg("clippy").args(natsbridge).args(["--", "-D", "warnings"]))?;
        run_checked(cargo().arg("check").args(natsbridge).args(["--features", "typed"]))
    })?;
    step("cargo test", &mut || {
        // The test kit finds `.venv/bin/nats-server` by itself; a NATS_SERVER_BIN of the
        // caller's wins, as it does for the demo and the bench.
        let mut test = cargo();
        test.args(["test", "--workspace", "--locked"]);
        if std::env::var_os("NATS_SERVER_BIN").is_none() {
            test.env("NATS_SERVER_BIN", &tools.nats_server);
        }
        run_checked(&mut test)
    })?;
    // The Python runtime (packages/python): strict typing, then its tests against a real
    // nats-server and the `natsbridge fileserver` the step above built.
    step("python runtime", &mut || {
        let dir = root.join("packages/python");
        run_checked(Command::new(&tools.python).args(["-m", "mypy"]).current_dir(&dir))?;
        run_checked(
            Command::new(&tools.python)
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
                .current_dir(&dir)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", target_dir().join("debug/natsbridge")),
        )?;
        // Packaging as a user installs it: pip install into a fresh venv, the README example
        // and the installed CLI against the Rust one.
        run_checked(
            Command::new(&tools.python)
                .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "fresh_venv"])
                .current_dir(&dir)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", target_dir().join("debug/natsbridge")),
        )
    })?;
    // The TypeScript runtime (packages/typescript): its tests (build to dist/, then
    // node --test) against a real nats-server and the `natsbridge fileserver` built above,
    // then strict typing of the package, its browser core and the tests (which import dist/).
    step("typescript runtime", &mut || {
        let dir = root.join("packages/typescript");
        run_checked(
            Command::new("npm")
                .args(["test"])
                .current_dir(&dir)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", target_dir().join("debug/natsbridge")),
        )?;
        run_checked(Command::new("npm").args(["run", "typecheck"]).current_dir(&dir))?;
        // Packaging as a user installs it: npm pack of both packages, a scratch project
        // installing the tarballs, plain node, the README example, natsbridge-js against the
        // Rust CLI both ways.
        run_checked(
            Command::new("node")
                .arg("scripts/pack-check.mjs")
                .current_dir(&dir)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", target_dir().join("debug/natsbridge")),
        )
    })?;
    // The dashboard page (dashboard/): strict typing, then its tests in headless Chromium
    // against `natsbridge-demo dashboard` (built by `cargo test` above): every panel asserted
    // from the page's DOM, the fake microphone fed a known tone, no console errors.
    step("dashboard (headless Chromium)", &mut || {
        let chromium = crate::setup::chromium()?;
        run_checked(Command::new("npm").args(["run", "typecheck", "-w", "dashboard"]).current_dir(&root))?;
        run_checked(
            Command::new("npm")
                .args(["test", "-w", "dashboard"])
                .current_dir(&root)
                .env("CHROMIUM_BIN", chromium)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_DEMO_BIN", target_dir().join("debug/natsbridge-demo")),
        )
    })?;
    // The MicroPython codec (packages/micropython) under the real MicroPython (the
    // WebAssembly port in Node): every vector, its envelopes read back by CPython and
    // TypeScript, the NATS frame parser, the README example; and the device client's socket
    // code under MicroPython's unix port against a real nats-server and file server.
    step("micropython", &mut || {
        run_checked(
            Command::new("node")
                .args(["--test", "packages/micropython/test/"])
                .current_dir(&root)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", target_dir().join("debug/natsbridge")),
        )
    })?;
    // A team's view of a release: every artifact built and published to local registries
    // (a directory replacing crates.io, verdaccio, pypiserver); `natsbridge codegen` on the
    // example spec (a field added) without `--runtime-checkout`, its packages installed by
    // name in scratch projects outside the repository, Rust, TypeScript and Python services
    // built on the generated operations exchanging the new field (and an Arrow table across
    // one apache-arrow); `cargo install natsbridge-cli` from the Cargo registry.
    step("release --dry-run", &mut || {
        let args = crate::release::Args { dry_run: true, keep: false };
        crate::release::run(&args, &root, &tools)
    })?;
    // Real AsyncAPI documents: what they generate compiles, type-checks and talks.
    step("corpus", &mut || crate::corpus::corpus(&root, &tools))?;
    step("conformance", &mut || {
        let args = crate::conformance::Args::all_lanes();
        match crate::conformance::run(&args)? {
            0 => Ok(()),
            _ => bail!("conformance vectors failed (see the matrix above)"),
        }
    })?;

    // docs/: the CLI reference is what `natsbridge --help` says, and every example in the
    // book runs (node, python, sh blocks against a real nats-server and file server; the
    // Rust ones are doctests of the runtime crate, run by `cargo test` above).
    step("docs", &mut || {
        let natsbridge = target_dir().join("debug/natsbridge");
        run_checked(
            Command::new("node")
                .args(["docs/tools/cli-reference.mjs", "--check"])
                .current_dir(&root)
                .env("NATSBRIDGE_BIN", &natsbridge),
        )?;
        run_checked(
            Command::new("node")
                .args(["--test", "docs/tests/"])
                .current_dir(&root)
                .env("NATS_SERVER_BIN", &tools.nats_server)
                .env("NATSBRIDGE_BIN", &natsbridge),
        )
    })?;

    step("fuzz (bounded)", &mut || {
        let args = crate::fuzz::Args { seconds: FUZZ_SECONDS, targets: Vec::new(), merge: false };
        crate::fuzz::fuzz(&args).map(drop)
    })?;
    step("bench --quick", &mut || crate::bench::bench(&["--quick".to_owned()]))?;

    eprintln!("\nall steps passed in {:.0} s:", started.elapsed().as_secs_f64());
    for (name, secs) in steps {
        eprintln!("  {name:<20} {secs:>7.1} s");
    }
    Ok(())
}
