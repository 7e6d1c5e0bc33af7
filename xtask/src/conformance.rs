//! `cargo xtask conformance [--lang rust|typescript|python|micropython|julia]`: this
//! repository's lanes (one testee process per language, over that language's runtime in
//! the tree) run by the engine `natsbridge-conformance`, which holds the golden vectors of
//! `conformance/v1/`, the testee protocol (`conformance/README.md`), the blob server, the
//! comparison and the matrices. What lives here is repository knowledge: how each built-in
//! lane's testee is built and started, its ledger in `conformance/expected-failures/`, and
//! the vectors read from the checkout (so a vector just edited runs without a rebuild).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use natsbridge_conformance::{Lane, Ledger, Vectors, read_ledger, testee_command};

use crate::util::{cargo, project_root, run_checked, target_dir};

/// The language lanes, in matrix order.
const LANES: &[&str] = &["rust", "typescript", "python", "micropython", "julia"];

/// Arguments of `cargo xtask conformance`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Run only these lanes (repeatable); default: all.
    #[arg(long = "lang", value_parser = ["rust", "typescript", "python", "micropython", "julia"])]
    langs: Vec<String>,
    /// Print every failing check, not only the first few.
    #[arg(long)]
    verbose: bool,
    /// An outside implementation's testee: a shell command that speaks the testee protocol
    /// (`conformance/README.md`); it is run with `--allow-host URL` appended. Runs beside
    /// the lanes chosen with `--lang` (default: all), so theirs read its envelopes.
    #[arg(long, value_name = "CMD", requires = "lane")]
    testee: Option<String>,
    /// The outside testee's lane name in the matrices (its ledger, if any:
    /// `conformance/expected-failures/NAME.txt`, or `--ledger`).
    #[arg(long, value_name = "NAME", requires = "testee", value_parser = lane_name)]
    lane: Option<String>,
    /// The outside lane's ledger of known failures (`vector-id  # reason` lines).
    #[arg(long, value_name = "FILE", requires = "testee")]
    ledger: Option<PathBuf>,
}

impl Args {
    /// Every lane, short failure list: what `cargo xtask test` runs.
    pub(crate) fn all_lanes() -> Args {
        Args { langs: Vec::new(), verbose: false, testee: None, lane: None, ledger: None }
    }
}

/// A lane name: lowercase letters, digits, `-`, `_`, and not a built-in lane's.
fn lane_name(s: &str) -> std::result::Result<String, String> {
    natsbridge_conformance::check_lane_name(s)?;
    if LANES.contains(&s) {
        return Err(format!("`{s}` is a built-in lane; pick another name"));
    }
    Ok(s.to_owned())
}

fn tool(root: &Path, rel: &str) -> Result<PathBuf> {
    let p = root.join(rel);
    if !p.exists() {
        bail!("{} is missing: run `cargo xtask setup`", p.display());
    }
    Ok(p)
}

/// A built-in lane's testee command (the engine appends `--allow-host URL`); `None` for a
/// lane that cannot run here (julia).
fn lane_command(lane: &str, root: &Path) -> Result<Option<Command>> {
    let cmd = match lane {
        "rust" => {
            run_checked(cargo().args(["build", "--quiet", "-p", "natsbridge-testee"]))
                .context("building the Rust testee (conformance/testees/rust)")?;
            let mut c = Command::new(target_dir().join("debug/natsbridge-testee"));
            c.env("RUST_LOG", "error");
            c
        }
        "typescript" => {
            let mut c = Command::new(tool(root, "node_modules/.bin/tsx")?);
            c.arg(root.join("conformance/testees/typescript_testee.ts")).current_dir(root);
            c
        }
        "python" => {
            let mut c = Command::new(tool(root, ".venv/bin/python")?);
            c.arg(root.join("conformance/testees/python_testee.py"))
                // The generated package and the runtime (packages/python), as installed.
                .env(
                    "PYTHONPATH",
                    std::env::join_paths([root.join("generated/python"), root.join("packages/python")])?,
                );
            c
        }
        "micropython" => {
            // The real MicroPython (the WebAssembly port) in Node: node_modules must hold it.
            tool(root, "node_modules/@micropython/micropython-webassembly-pyscript")?;
            let mut c = Command::new("node");
            c.arg(root.join("packages/micropython/testee.mjs")).current_dir(root);
            c
        }
        _ => return Ok(None), // julia: no runtime here
    };
    Ok(Some(cmd))
}

/// The name of a built-in lane's schema validator, and whether it is cross-checked.
fn validator(lane: &str) -> (&'static str, bool) {
    match lane {
        "rust" => ("jsonschema (Rust)", true),
        "typescript" => ("ajv", true),
        "python" => ("python-jsonschema", true),
        "micropython" => ("natsbridge_mp.codec.validate", false),
        _ => ("the julia lane", false),
    }
}

/// A built-in lane's note under the reader matrix.
fn note(lane: &str) -> Option<&'static str> {
    match lane {
        "micropython" => Some(
            "micropython: the real MicroPython 1.27 (WebAssembly port) in Node; `na` = not applicable (arrowtable: no Arrow on the device), never counted as passing",
        ),
        "julia" => Some(
            "julia: not run — no Julia runtime here; its stubs are only syntax-checked (tree-sitter), never counted as passing",
        ),
        _ => None,
    }
}

/// `conformance/expected-failures/<lane>.txt`, empty when there is none.
fn repo_ledger(root: &Path, lane: &str) -> Result<Ledger> {
    let file = root.join(format!("conformance/expected-failures/{lane}.txt"));
    if file.exists() { read_ledger(&file) } else { Ok(Ledger::new()) }
}

/// The lanes of a run: the built-in ones chosen, then the outside one.
fn lanes(args: &Args, root: &Path) -> Result<Vec<Lane>> {
    let mut lanes = Vec::new();
    for &name in LANES.iter().filter(|l| args.langs.is_empty() || args.langs.iter().any(|a| a == *l)) {
        let command = lane_command(name, root)?;
        let ledger = if command.is_some() { repo_ledger(root, name)? } else { Ledger::new() };
        let (validator, cross_check) = validator(name);
        let mut lane = Lane::new(name, command).ledger(ledger).validator(validator, cross_check);
        if let Some(note) = note(name) {
            lane = lane.note(note);
        }
        lanes.push(lane);
    }
    if let (Some(name), Some(cmd)) = (&args.lane, &args.testee) {
        let ledger = match &args.ledger {
            Some(file) => read_ledger(file)?,
            None => repo_ledger(root, name)?,
        };
        let mut command = testee_command(cmd);
        command.current_dir(root);
        lanes.push(Lane::new(name.clone(), Some(command)).ledger(ledger));
    }
    Ok(lanes)
}

/// Runs the suite; returns the exit status (0 when every lane that ran passed).
pub(crate) fn run(args: &Args) -> Result<u8> {
    let root = project_root();
    // The checkout's vectors, not the copy compiled into the engine: one just edited runs now
    // (the engine's own test keeps its copy equal to these files).
    let vectors = Vectors::from_dir(&root.join("conformance/v1"))?;
    let report = natsbridge_conformance::run(&vectors, lanes(args, &root)?)?;
    report.print(args.verbose, Some("conformance/expected-failures/"));
    Ok(if report.passed() { 0 } else { 1 })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// An implementation outside the sources (here: a proxy in a scratch directory in front of the
    /// Python runtime's testee, declaring no Arrow in its own `hello`) runs as its own lane
    /// beside the Python one, which reads its envelopes; its Arrow vectors are `na`.
    #[test]
    fn an_outside_testee_runs_as_its_own_lane() {
        let root = project_root();
        // Outside the sources: a scratch directory under target/, as the other fixtures.
        let dir = root.join("target/xtask-fixtures/outside-testee");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let adapter = dir.join("team_testee.py");
        std::fs::write(
            &adapter,
            format!(
                r#"import json, os, subprocess, sys
env = dict(os.environ, PYTHONPATH="{gen}:{pkg}")
inner = subprocess.Popen([sys.executable, "{testee}", *sys.argv[1:]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, env=env)
for line in sys.stdin:
    try:
        op = json.loads(line).get("op")
    except ValueError:
        op = None
    if op == "hello":
        types = ["text", "dictionary", "jsontable", "image", "audio", "video", "binary"]
        print(json.dumps({{"ok": True, "lane": "team", "protocol": 1, "capabilities": {{"payload_types": types}}}}), flush=True)
        continue
    inner.stdin.write(line)
    inner.stdin.flush()
    print(inner.stdout.readline(), end="", flush=True)
"#,
                gen = root.join("generated/python").display(),
                pkg = root.join("packages/python").display(),
                testee = root.join("conformance/testees/python_testee.py").display(),
            ),
        )
        .unwrap();
        let python = root.join(".venv/bin/python");
        let cmd = format!("{} {}", python.display(), adapter.display());
        let t = natsbridge_conformance::Testee::spawn(
            testee_command(&cmd).args(["--allow-host", "http://127.0.0.1:9"]),
        )
        .unwrap();
        let declared = t.payload_types().cloned().expect("its hello was read");
        assert!(declared.contains("text") && !declared.contains("arrowtable"), "{declared:?}");
        drop(t);
        let args = Args {
            langs: vec!["python".into()],
            verbose: true,
            testee: Some(cmd),
            lane: Some("team-py".into()),
            ledger: None,
        };
        assert_eq!(run(&args).unwrap(), 0, "the outside lane passes every applicable vector");
        assert!(lane_name("python").is_err() && lane_name("Team").is_err() && lane_name("team-py").is_ok());
    }
}
