//! `cargo xtask conformance [--lang rust|typescript|python|julia]`: runs the golden vectors
//! of `conformance/v1/` through one testee process per language (JSON lines on stdin and
//! stdout, protocol in `conformance/README.md`), compares the answers semantically with the
//! vectors' expectations, cross-checks the three schema validators, honours each lane's
//! expected-failures ledger and prints a matrix (language × vector group). Then the writer
//! side ([`writer`]): every lane's `smartsend` encodes, every lane validates and decodes.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::util::{cargo, project_root, run_checked, target_dir};

mod writer;

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
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    match (ok, LANES.contains(&s)) {
        (false, _) => Err("use lowercase letters, digits, `-` and `_`".into()),
        (_, true) => Err(format!("`{s}` is a built-in lane; pick another name")),
        _ => Ok(s.to_owned()),
    }
}

/// One golden vector.
#[derive(Debug, Clone)]
pub(crate) struct Vector {
    pub(crate) id: String,
    pub(crate) group: String,
    /// The envelope text as sent (`{{BLOBS}}` not yet replaced).
    text: String,
    expect: Value,
}

/// Loads every vector of `conformance/v1`.
pub(crate) fn load_vectors(dir: &Path) -> Result<Vec<Vector>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file)?)
            .with_context(|| format!("parsing {}", file.display()))?;
        let group = doc["group"].as_str().context("a vector file needs `group`")?.to_owned();
        for v in doc["vectors"].as_array().context("a vector file needs `vectors`")? {
            let id = v["id"].as_str().context("a vector needs `id`")?.to_owned();
            if !seen.insert(id.clone()) {
                bail!("duplicate vector id {id}");
            }
            for key in ["description", "valid", "reader", "decode"] {
                if v.get(key).is_none() {
                    bail!("vector {id} has no `{key}`");
                }
            }
            if v["valid"] == false && v.get("rule").is_none() {
                bail!("invalid vector {id} does not name the rule it breaks");
            }
            let text = match (v.get("envelope_text"), v.get("envelope")) {
                (Some(Value::String(t)), _) => t.clone(),
                (_, Some(e)) => serde_json::to_string(e)?,
                _ => bail!("vector {id} has neither `envelope` nor `envelope_text`"),
            };
            out.push(Vector { id, group: group.clone(), text, expect: v.clone() });
        }
    }
    Ok(out)
}

/// JSON equality where numbers compare as doubles (every lane's common ground).
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A testee process answering one JSON line per request line.
struct Testee {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    /// The payload types it handles, from its `hello` answer; `None`: every type (a testee
    /// that does not know `hello`).
    payload_types: Option<BTreeSet<String>>,
}

impl Testee {
    fn spawn(cmd: &mut Command) -> Result<Testee> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {cmd:?}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut testee = Testee { child, stdin, lines, payload_types: None };
        // The handshake: a lane declares what it handles (a small device: no Arrow). One
        // that answers anything else handles everything.
        let hello = testee.request(&json!({"op": "hello"}))?;
        if hello["ok"] == true
            && let Some(types) = hello["capabilities"]["payload_types"].as_array()
        {
            testee.payload_types = Some(types.iter().filter_map(Value::as_str).map(str::to_owned).collect());
        }
        Ok(testee)
    }

    /// Whether this lane handles every payload type in `types` that the schema knows (an
    /// unknown type is a test of the reader's error, which every lane must give).
    fn handles<'a>(&self, known: &BTreeSet<String>, mut types: impl Iterator<Item = &'a str>) -> bool {
        match &self.payload_types {
            None => true,
            Some(mine) => types.all(|t| !known.contains(t) || mine.contains(t)),
        }
    }

    fn ask(&mut self, op: &str, text: &str) -> Result<Value> {
        self.request(&json!({"op": op, "text": text}))
    }

    fn request(&mut self, request: &Value) -> Result<Value> {
        writeln!(self.stdin, "{request}")?;
        self.stdin.flush()?;
        let op = &request["op"];
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow::format_err!("no answer to {op} within 60 s (testee died or hung)"))?;
        serde_json::from_str(&line).with_context(|| format!("testee answered non-JSON: {line}"))
    }
}

impl Drop for Testee {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTP server the link vectors point at (`{{BLOBS}}`): Python's `http.server` over
/// `conformance/v1`, on a free loopback port.
struct BlobServer {
    child: Child,
    base: String,
}

impl BlobServer {
    fn start(python: &Path, dir: &Path) -> Result<BlobServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(python)
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} -m http.server", python.display()))?;
        let server = BlobServer { child, base: format!("127.0.0.1:{port}") };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&server.base).is_ok() {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the blob server did not come up on {}", server.base)
    }
}

impl Drop for BlobServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(root: &Path, rel: &str) -> Result<PathBuf> {
    let p = root.join(rel);
    if !p.exists() {
        bail!("{} is missing: run `cargo xtask setup`", p.display());
    }
    Ok(p)
}

fn start_lane(lane: &str, root: &Path, allow: &str) -> Result<Option<Testee>> {
    let testee = match lane {
        "rust" => {
            run_checked(cargo().args(["build", "--quiet", "-p", "natsbridge-testee"]))
                .context("building the Rust testee (conformance/testees/rust)")?;
            Testee::spawn(
                Command::new(target_dir().join("debug/natsbridge-testee"))
                    .args(["--allow-host", allow])
                    .env("RUST_LOG", "error"),
            )?
        }
        "typescript" => Testee::spawn(
            Command::new(tool(root, "node_modules/.bin/tsx")?)
                .arg(root.join("conformance/testees/typescript_testee.ts"))
                .args(["--allow-host", allow])
                .current_dir(root),
        )?,
        "python" => Testee::spawn(
            Command::new(tool(root, ".venv/bin/python")?)
                .arg(root.join("conformance/testees/python_testee.py"))
                .args(["--allow-host", allow])
                // The generated package and the runtime (packages/python), as installed.
                .env(
                    "PYTHONPATH",
                    std::env::join_paths([root.join("generated/python"), root.join("packages/python")])?,
                ),
        )?,
        "micropython" => {
            // The real MicroPython (the WebAssembly port) in Node: node_modules must hold it.
            tool(root, "node_modules/@micropython/micropython-webassembly-pyscript")?;
            Testee::spawn(
                Command::new("node")
                    .arg(root.join("packages/micropython/testee.mjs"))
                    .args(["--allow-host", allow])
                    .current_dir(root),
            )?
        }
        _ => return Ok(None), // julia: no runtime here
    };
    Ok(Some(testee))
}

/// The `payload_type`s an envelope text names (none when it is not JSON).
fn payload_types_in(text: &str) -> Vec<String> {
    let Ok(envelope) = serde_json::from_str::<Value>(text) else { return Vec::new() };
    envelope["payloads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["payload_type"].as_str().map(str::to_owned))
        .collect()
}

/// The payload types the schema knows (`PayloadType` of `schema/common_v1.schema.json`).
fn known_payload_types(root: &Path) -> Result<BTreeSet<String>> {
    let common: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("schema/common_v1.schema.json"))?)?;
    let values = common["definitions"]["PayloadType"]["enum"].as_array().context("PayloadType enum")?;
    Ok(values.iter().filter_map(Value::as_str).map(str::to_owned).collect())
}

/// The checks of one vector on one lane; `Err` lists what disagreed.
fn check(t: &mut Testee, v: &Vector, text: &str) -> Result<std::result::Result<bool, Vec<String>>> {
    let e = &v.expect;
    let mut problems = Vec::new();
    let validated = t.ask("validate", text)?;
    let valid = validated["valid"].as_bool().unwrap_or(false);
    if valid != e["valid"].as_bool().unwrap_or(false) {
        problems.push(format!("validate: {valid}, expected {}", e["valid"]));
    }
    let reader_accepts = e["reader"] == "accept";
    let rt = t.ask("roundtrip", text)?;
    if rt["ok"].as_bool() != Some(reader_accepts) {
        problems.push(format!(
            "reader {}, expected {}",
            if rt["ok"] == true { "accepts" } else { "rejects" },
            e["reader"]
        ));
    } else if reader_accepts && e.get("relay") != Some(&Value::Bool(false)) {
        let input: Value = serde_json::from_str(text)?;
        if !same(&rt["json"], &input) {
            problems.push(format!("relay changed the envelope: {}", rt["json"]));
        }
    }
    let decoded = t.ask("decode", text)?;
    let want = &e["decode"];
    if !decode_matches(&decoded, want) {
        problems.push(format!("decode: {decoded}, expected {want}"));
    }
    Ok(if problems.is_empty() { Ok(valid) } else { Err(problems) })
}

fn decode_matches(got: &Value, want: &Value) -> bool {
    if got["ok"] != want["ok"] {
        return false;
    }
    if want["ok"] == false {
        return got["error"] == want["error"];
    }
    let (Some(g), Some(w)) = (got["payloads"].as_array(), want["payloads"].as_array()) else { return false };
    g.len() == w.len()
        && g.iter().zip(w).all(|(g, w)| {
            let keys: BTreeSet<&String> = g
                .as_object()
                .into_iter()
                .flatten()
                .chain(w.as_object().into_iter().flatten())
                .map(|(k, _)| k)
                .collect();
            keys.into_iter().all(|k| same(&g[k.as_str()], &w[k.as_str()]))
        })
}

/// `vector-id  # reason` lines; a reason is required. A missing file is an empty ledger.
fn ledger(path: &Path) -> Result<BTreeMap<String, String>> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(BTreeMap::new()) };
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (id, reason) = line.split_once('#').map(|(a, b)| (a.trim(), b.trim())).unwrap_or((line, ""));
        if reason.is_empty() {
            bail!("{}: `{id}` needs a reason after `#`", path.display());
        }
        out.insert(id.to_owned(), reason.to_owned());
    }
    Ok(out)
}

#[derive(Default)]
struct Cell {
    pass: usize,
    xfail: usize,
    fail: usize,
    /// Not applicable: the lane declared it does not handle a payload type involved.
    na: usize,
}

/// Runs the suite; returns the exit status (0 when every lane that ran passed).
pub(crate) fn run(args: &Args) -> Result<u8> {
    let root = project_root();
    let vectors = load_vectors(&root.join("conformance/v1"))?;
    let mut lanes: Vec<&str> = LANES
        .iter()
        .copied()
        .filter(|l| args.langs.is_empty() || args.langs.iter().any(|a| a == l))
        .collect();
    // The outside lane's name lives as long as the run.
    let outside: Option<&str> = args.lane.as_deref();
    lanes.extend(outside);
    let known = known_payload_types(&root)?;
    let python = tool(&root, ".venv/bin/python")?;
    let blobs = BlobServer::start(&python, &root.join("conformance/v1"))?;
    let allow = format!("http://{}", blobs.base);

    let groups: Vec<String> =
        vectors.iter().map(|v| v.group.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut matrix: BTreeMap<(String, &str), Cell> = BTreeMap::new();
    let mut verdicts: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut testees: Vec<(&str, Testee)> = Vec::new();
    for &lane in &lanes {
        let started = match (outside, &args.testee) {
            (Some(name), Some(cmd)) if name == lane => Some(
                // `sh -c 'CMD "$@"' sh --allow-host URL`: the command as typed, the flag appended.
                Testee::spawn(
                    Command::new("sh")
                        .args(["-c", &format!("{cmd} \"$@\""), "sh", "--allow-host", &allow])
                        .current_dir(&root),
                )
                .with_context(|| format!("starting the {lane} testee `{cmd}`"))?,
            ),
            _ => start_lane(lane, &root, &allow)?,
        };
        if let Some(t) = started {
            testees.push((lane, t));
        }
    }
    let ran: Vec<&str> = testees.iter().map(|(l, _)| *l).collect();
    let mut ledgers = BTreeMap::new();
    for &lane in &ran {
        let file = match (&args.ledger, outside) {
            (Some(file), Some(name)) if name == lane => file.clone(),
            _ => root.join(format!("conformance/expected-failures/{lane}.txt")),
        };
        ledgers.insert(lane, ledger(&file)?);
    }
    for (i, (_, testee)) in testees.iter_mut().enumerate() {
        let lane = ran[i];
        let expected_failures = &ledgers[lane];
        for v in &vectors {
            let text = v.text.replace("{{BLOBS}}", &blobs.base);
            let cell = matrix.entry((v.group.clone(), lane)).or_default();
            if !testee.handles(&known, payload_types_in(&text).iter().map(String::as_str)) {
                cell.na += 1;
                if expected_failures.contains_key(&v.id) {
                    failures.push(format!("{lane} {}: not applicable but in the ledger; remove it", v.id));
                }
                continue;
            }
            let outcome = check(testee, v, &text).with_context(|| format!("{lane}: {}", v.id))?;
            if let Ok(valid) = outcome {
                verdicts.entry(v.id.as_str()).or_default().insert(lane, valid);
            }
            tally(cell, &mut failures, lane, &v.id, outcome.err(), expected_failures.get(&v.id));
        }
    }

    // The writer side: each lane's smartsend, read back by every lane.
    let cases = writer::cases(&vectors);
    let outcomes = writer::run(&cases, &mut testees, &known)?;
    let mut writer_matrix: BTreeMap<(String, &str), Cell> = BTreeMap::new();
    for (id, pairs) in &outcomes {
        for ((w, r), outcome) in pairs {
            let (w, r) = (*ran.iter().find(|l| *l == w).expect("a lane that ran"), r.as_str());
            let key = format!("{id}@{r}");
            let cell = writer_matrix.entry((r.to_owned(), w)).or_default();
            match outcome {
                writer::Outcome::NotApplicable => cell.na += 1,
                writer::Outcome::Checked(problems) => {
                    let problems = (!problems.is_empty()).then(|| problems.clone());
                    tally(cell, &mut failures, w, &key, problems, ledgers[w].get(&key));
                }
            }
        }
    }
    for (lane, expected_failures) in &ledgers {
        let known = |id: &str| {
            vectors.iter().any(|v| v.id == id)
                || id
                    .split_once('@')
                    .is_some_and(|(case, r)| cases.iter().any(|c| c.id == case) && lanes.contains(&r))
        };
        for id in expected_failures.keys().filter(|id| !known(id)) {
            failures.push(format!("{lane}: ledger names unknown vector {id}"));
        }
    }

    // Cross-validation: the Rust `jsonschema` crate, ajv and python-jsonschema must agree.
    let validator_lanes: Vec<&str> =
        ["rust", "typescript", "python"].into_iter().filter(|l| ran.contains(l)).collect();
    let mut agree = 0;
    for v in &vectors {
        let got: BTreeSet<bool> = validator_lanes
            .iter()
            .filter_map(|l| verdicts.get(v.id.as_str()).and_then(|m| m.get(l)))
            .copied()
            .collect();
        if got.len() <= 1 {
            agree += 1;
        } else {
            failures.push(format!("validators disagree on {}: {:?}", v.id, verdicts.get(v.id.as_str())));
        }
    }

    print_matrix(&groups, &lanes, &matrix, &ran);
    if ran.contains(&"micropython") {
        println!(
            "micropython: the real MicroPython 1.27 (WebAssembly port) in Node; `na` = not applicable (arrowtable: no Arrow on the device), never counted as passing"
        );
    }
    if lanes.contains(&"julia") {
        println!(
            "julia: not run — no Julia runtime here; its stubs are only syntax-checked (tree-sitter), never counted as passing"
        );
    }
    println!(
        "\nwriter side: {} cases (the all-direct vectors of {}), rows = reader, columns = writer",
        cases.len(),
        writer::WRITER_GROUPS.join(", ")
    );
    let readers: Vec<String> = ran.iter().map(|l| format!("read by {l}")).collect();
    print_matrix(
        &readers,
        &lanes,
        &writer_matrix.into_iter().map(|((r, w), c)| ((format!("read by {r}"), w), c)).collect(),
        &ran,
    );
    println!(
        "\n{} vectors; schema validators ({}) agree on {agree} of {}",
        vectors.len(),
        validator_lanes.iter().map(|l| validator_name(l)).collect::<Vec<_>>().join(", "),
        vectors.len()
    );
    if failures.is_empty() {
        println!(
            "conformance: every lane that ran passes (expected failures are listed in conformance/expected-failures/)"
        );
        Ok(0)
    } else {
        let shown = if args.verbose { failures.len() } else { failures.len().min(20) };
        for f in &failures[..shown] {
            println!("FAIL {f}");
        }
        if shown < failures.len() {
            println!("… and {} more (--verbose)", failures.len() - shown);
        }
        Ok(1)
    }
}

/// Counts one check in `cell`, honouring the lane's ledger entry for `id`.
fn tally(
    cell: &mut Cell,
    failures: &mut Vec<String>,
    lane: &str,
    id: &str,
    problems: Option<Vec<String>>,
    ledger_entry: Option<&String>,
) {
    match (problems, ledger_entry) {
        (None, None) => cell.pass += 1,
        (None, Some(reason)) => {
            cell.fail += 1;
            failures.push(format!("{lane} {id}: passes but is in the ledger ({reason}); remove it"));
        }
        (Some(_), Some(_)) => cell.xfail += 1,
        (Some(problems), None) => {
            cell.fail += 1;
            failures.push(format!("{lane} {id}: {}", problems.join("; ")));
        }
    }
}

fn validator_name(lane: &str) -> String {
    match lane {
        "rust" => "jsonschema (Rust)".into(),
        "typescript" => "ajv".into(),
        "python" => "python-jsonschema".into(),
        "micropython" => "natsbridge_mp.codec.validate".into(),
        other => format!("the {other} lane"),
    }
}

fn print_matrix(groups: &[String], lanes: &[&str], matrix: &BTreeMap<(String, &str), Cell>, ran: &[&str]) {
    let w = groups.iter().map(String::len).max().unwrap_or(5).max(5);
    print!("\n{:<w$}", "group");
    for l in lanes {
        print!("  {l:<16}");
    }
    println!();
    for g in groups {
        print!("{g:<w$}");
        for l in lanes {
            let text = if !ran.contains(l) {
                "not run".to_owned()
            } else {
                let c =
                    matrix.get(&(g.clone(), *l)).map_or((0, 0, 0, 0), |c| (c.pass, c.xfail, c.fail, c.na));
                let total = c.0 + c.1 + c.2;
                let na = if c.3 > 0 { format!(" +{}na", c.3) } else { String::new() };
                match c {
                    (0, 0, 0, n) if n > 0 => format!("n/a {n}"),
                    (p, 0, 0, _) => format!("pass {p}/{total}{na}"),
                    (p, x, 0, _) => format!("pass {p}/{total} +{x}xf{na}"),
                    (_, _, f, _) => format!("FAIL {f}/{total}"),
                }
            };
            print!("  {text:<16}");
        }
        println!();
    }
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
        let t = Testee::spawn(Command::new("sh").args([
            "-c",
            &format!("{cmd} \"$@\""),
            "sh",
            "--allow-host",
            "http://127.0.0.1:9",
        ]))
        .unwrap();
        let declared = t.payload_types.clone().expect("its hello was read");
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
