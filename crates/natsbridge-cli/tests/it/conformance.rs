//! `natsbridge conformance` as a team outside this repository runs it: a 30-line adapter in a
//! temporary directory puts an implementation (here the Python runtime, through its testee)
//! behind the testee protocol, declaring no Arrow in its `hello`; the binary runs it alone
//! against the vectors compiled into it, from a directory that is not a checkout. An
//! injected wrong answer fails the run.

use std::path::Path;
use std::process::Output;

use natsbridge_testkit::process::command;
use natsbridge_testkit::{project_root, project_tool};
use serde_json::Value;

/// The team's adapter: a proxy in front of the runtime's testee that answers `hello` itself
/// (no `arrowtable`) and, with `TEAM_LIE=1`, gets the first decoded size wrong.
const ADAPTER: &str = r#""""team-py: our runtime behind the NATSBridge testee protocol."""
import json, os, subprocess, sys

RUNTIME_TESTEE = sys.argv[1]  # what our runtime ships as its protocol adapter
TYPES = ["text", "dictionary", "jsontable", "image", "audio", "video", "binary"]
inner = subprocess.Popen([sys.executable, RUNTIME_TESTEE, *sys.argv[2:]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lie = os.environ.get("TEAM_LIE") == "1"
for line in sys.stdin:
    try:
        request = json.loads(line)
        op = request.get("op")
    except (ValueError, AttributeError):
        print(json.dumps({"ok": False, "error": "INVALID_REQUEST"}), flush=True)
        continue
    if op == "hello":
        hello = {"ok": True, "lane": "team-py", "protocol": 1, "capabilities": {"payload_types": TYPES}}
        print(json.dumps(hello), flush=True)
        continue
    inner.stdin.write(line)
    inner.stdin.flush()
    answer = json.loads(inner.stdout.readline())
    if lie and op == "decode" and answer.get("ok"):
        answer["payloads"][0]["size"] += 1  # the injected wrong answer
        lie = False
    print(json.dumps(answer), flush=True)
"#;

/// `natsbridge conformance --testee "PYTHON adapter.py TESTEE" --lane team-py` plus `extra`,
/// run in `dir`.
fn conformance(dir: &Path, lie: bool, extra: &[&str]) -> Output {
    let python = project_tool(".venv/bin/python").unwrap_or_else(|e| panic!("{e}"));
    let testee = project_root().join("conformance/testees/python_testee.py");
    let adapter = dir.join("team_testee.py");
    std::fs::write(&adapter, ADAPTER).unwrap();
    let cmd = format!("{} {} {}", python.display(), adapter.display(), testee.display());
    command(env!("CARGO_BIN_EXE_natsbridge"))
        .args(["conformance", "--testee", &cmd, "--lane", "team-py"])
        .args(extra)
        .env("TEAM_LIE", if lie { "1" } else { "0" })
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn an_outside_testee_runs_alone_and_a_wrong_answer_fails() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().starts_with(project_root()), "the run happens outside the checkout");

    let out = conformance(dir.path(), false, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("group") && l.contains("team-py")).expect(&stdout);
    // Every group passes, or is not applicable as a whole (the call groups an adapter without
    // `capabilities.ops` does not answer); the Arrow vectors not applicable (the adapter's hello).
    let rows: Vec<&str> = lines[header + 1..].iter().take_while(|l| !l.trim().is_empty()).copied().collect();
    assert!(
        rows.iter().all(|r| (r.contains("pass ") || r.contains("n/a ")) && !r.contains("FAIL")),
        "{stdout}"
    );
    assert!(rows.iter().filter(|r| r.contains("pass ")).count() >= 9, "{stdout}");
    let payload_types = rows.iter().find(|r| r.starts_with("payload-types")).expect(&stdout);
    assert!(payload_types.contains("na"), "arrowtable is not applicable: {payload_types}");
    // The writer side: its own envelopes, read back by itself.
    let read_back = lines.iter().find(|l| l.starts_with("read by team-py")).expect(&stdout);
    assert!(read_back.contains("pass ") && read_back.contains("na"), "{read_back}");
    assert!(stdout.contains("conformance: every lane that ran passes"), "{stdout}");

    let out = conformance(dir.path(), true, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["passed"], false);
    assert_eq!(report["lanes"], serde_json::json!([{"name": "team-py", "ran": true}]));
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = failures[0].as_str().unwrap();
    assert!(failure.starts_with("team-py ") && failure.contains("decode:"), "{failure}");
    let fails: u64 =
        report["reader"].as_object().unwrap().values().map(|g| g["team-py"]["fail"].as_u64().unwrap()).sum();
    assert_eq!(fails, 1);
}
