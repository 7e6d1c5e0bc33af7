//! Helpers shared by the CLI's integration tests.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::Stdio;

use std::path::PathBuf;
use std::process::Command;

use natsbridge_testkit::process::command;
use natsbridge_testkit::{KillOnDrop, free_port, project_root, project_tool};

/// The three shipped CLIs, by the language they are written in.
pub(crate) const LANGS: [&str; 3] = ["rust", "node", "python"];

/// The CLI of `lang`, as its users run it: the Rust binary, the TypeScript package's compiled
/// JavaScript under plain `node`, the Python package with `python -m`.
pub(crate) fn cli(lang: &str) -> Command {
    let root = project_root();
    match lang {
        "rust" => command(env!("CARGO_BIN_EXE_natsbridge")),
        "node" => {
            let js = root.join("packages/typescript/dist/cli.js");
            assert!(js.exists(), "{} is missing: run `cargo xtask setup` (it builds dist/)", js.display());
            let mut c = command("node");
            c.arg(js);
            c
        }
        _ => {
            let mut c = command(tool(".venv/bin/python"));
            c.args(["-m", "natsbridge"]).env(
                "PYTHONPATH",
                std::env::join_paths([root.join("generated/python"), root.join("packages/python")]).unwrap(),
            );
            c
        }
    }
}

pub(crate) fn tool(rel: &str) -> PathBuf {
    project_tool(rel).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes the test kit's Arrow table of `rows` rows as an IPC stream.
pub(crate) fn write_table(path: &std::path::Path, rows: usize) {
    std::fs::write(path, natsbridge_testkit::data::table_ipc(rows)).unwrap();
}

/// `natsbridge fileserver` on a free port, spooling into `dir`; returns it and its URL once
/// it has printed its readiness line.
pub(crate) fn start_fileserver(bin: &str, dir: &Path) -> (KillOnDrop, String) {
    let port = free_port();
    let mut child = KillOnDrop(
        command(bin)
            .args(["fileserver", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut ready = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["fileserver"], url.as_str());
    (child, url)
}

/// `natsbridge receive --count N --timeout SECS` plus `extra` arguments, started and
/// subscribed (its readiness line has been read).
pub(crate) fn spawn_receive(
    bin: &str,
    server: &str,
    subject: &str,
    count: u32,
    timeout: u32,
    extra: &[&str],
) -> KillOnDrop {
    spawn_ready(
        command(bin)
            .args(["receive", "--server", server, "--subject", subject])
            .args(["--count", &count.to_string(), "--timeout", &timeout.to_string()])
            .args(extra),
    )
}

/// `cmd` (a `receive` or `reply`) started with its output piped, once it has printed its
/// readiness line.
pub(crate) fn spawn_ready(cmd: &mut std::process::Command) -> KillOnDrop {
    let mut child = KillOnDrop(cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    wait_subscribed(&mut child);
    child
}

/// Waits for a receiver's readiness line on stderr (`subscribed`), then keeps draining its
/// stderr into ours, so a receiver that logs more never blocks on, or breaks, a full pipe.
pub(crate) fn wait_subscribed(child: &mut KillOnDrop) {
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the receiver exited before subscribing; its stderr:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains("subscribed") {
            break;
        }
    }
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            eprintln!("  receiver: {line}");
        }
    });
}
