//! Live interop over a real nats-server and the embedded file server, in all four
//! directions: Node → Rust, Rust → Node, Python → Rust, Rust → Python. The peers
//! (`conformance/peers/`) use the generated TypeScript and Python packages; every envelope
//! carries all eight payload types, including a 1-million-row Arrow table and 5 MB of audio
//! by link, with the sample rate and channels in NATS headers. Each side prints the digest
//! line (sizes and sha256 of the payload bytes as carried); the two lines must be equal.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use natsbridge_testkit::process::command;

use common::{spawn_receive, start_fileserver, wait_subscribed, write_table};
use natsbridge_testkit::{KillOnDrop, NatsServer, project_root, project_tool};
use serde_json::{Value, json};

mod common;

const ROWS: usize = 1_000_000;
const AUDIO_BYTES: usize = 5_000_000;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_natsbridge")
}

/// nats-server and `natsbridge fileserver`, both on free loopback ports.
struct Infra {
    server: NatsServer,
    _fileserver: KillOnDrop,
    files_url: String,
    dir: tempfile::TempDir,
}

fn infra() -> Infra {
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let (fileserver, files_url) = start_fileserver(bin(), &dir.path().join("files"));
    Infra { server, _fileserver: fileserver, files_url, dir }
}

fn tool(rel: &str) -> PathBuf {
    project_tool(rel).unwrap_or_else(|e| panic!("{e}"))
}

/// The peer process of `lang` (`node` or `python`).
fn peer(lang: &str, mode: &str, infra: &Infra, subject: &str) -> Command {
    let root = project_root();
    let mut cmd = match lang {
        "node" => {
            let mut c = command(tool("node_modules/.bin/tsx"));
            c.arg(root.join("conformance/peers/node_peer.ts")).current_dir(&root);
            c
        }
        _ => {
            let mut c = command(tool(".venv/bin/python"));
            c.arg(root.join("conformance/peers/python_peer.py"))
                .env("PYTHONPATH", root.join("generated/python"));
            c
        }
    };
    cmd.args([mode, "--server", &infra.server.url(), "--subject", subject]);
    cmd.args(["--rows", &ROWS.to_string(), "--audio-bytes", &AUDIO_BYTES.to_string()]);
    match mode {
        "send" => cmd.args(["--fileserver", &infra.files_url]),
        _ => cmd.args(["--allow-host", &infra.files_url, "--timeout", "180"]),
    };
    cmd
}

fn lines(out: &str) -> (Value, Value) {
    let mut it = out.lines().filter(|l| !l.trim().is_empty());
    let digest =
        serde_json::from_str(it.next().unwrap_or_else(|| panic!("no digest line in {out:?}"))).unwrap();
    let info = it.next().map_or(Value::Null, |l| serde_json::from_str(l).unwrap());
    (digest, info)
}

/// Every payload type once; the big ones went by link.
fn assert_full_envelope(digest: &Value) {
    let p = digest["payloads"].as_array().unwrap();
    let types: Vec<&str> = p.iter().map(|x| x["payload_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["text", "dictionary", "arrowtable", "jsontable", "image", "audio", "video", "binary"],
        "{digest}"
    );
    assert_eq!(p[2]["num_rows"], ROWS);
    assert_eq!(p[2]["transport"], "link");
    assert_eq!(p[5]["transport"], "link");
    assert!(p[5]["size"].as_u64().unwrap() >= AUDIO_BYTES as u64 - 1);
    assert_eq!(p[0]["transport"], "direct");
}

fn peer_to_rust(lang: &str) {
    let infra = infra();
    let subject = format!("interop.{lang}.to.rust");
    let show =
        ["--allow-host", &infra.files_url, "--show-header", "Sample-Rate", "--show-header", "Channels"];
    let mut receiver = spawn_receive(bin(), &infra.server.url(), &subject, 1, 180, &show);

    let sent = peer(lang, "send", &infra, &subject).output().unwrap();
    assert!(sent.status.success(), "{lang} peer send failed: {}", String::from_utf8_lossy(&sent.stderr));
    let (sent_digest, _) = lines(&String::from_utf8(sent.stdout).unwrap());
    let (status, out) = receiver.finish();
    assert!(status.success(), "natsbridge receive: {status:?}");
    let (mut got, _) = lines(&out);
    assert!(got.get("error").is_none(), "the Rust runtime refused the {lang} envelope: {got}");
    let headers = got.as_object_mut().unwrap().remove("headers");
    assert_eq!(headers, Some(json!({"Sample-Rate": "44100", "Channels": "1"})));
    assert_eq!(got, sent_digest, "{lang} → Rust: digests differ");
    assert_full_envelope(&got);
}

/// The eight payload files `natsbridge send` reads.
fn rust_payloads(dir: &Path) -> Vec<String> {
    let table = dir.join("table.arrows");
    write_table(&table, ROWS);
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let audio = write(
        "tone.pcm",
        (0..AUDIO_BYTES / 2)
            .flat_map(|i| {
                let s = (12000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 44100.0).sin()) as i16;
                s.to_le_bytes()
            })
            .collect(),
    );
    let rows = write("rows.json", br#"[{"a": 1, "b": "x"}, {"a": 2, "b": "\u00fc"}]"#.to_vec());
    let image = write("image.bin", (0..2000u32).map(|i| (i * 13 % 256) as u8).collect());
    let video = write("video.bin", (0..3000u32).map(|i| (i * 7 % 256) as u8).collect());
    let binary = write("binary.bin", (0..=255u8).collect());
    vec![
        "note:text:Hello from Rust — ünïcödé 😀".into(),
        r#"config:dictionary:{"step_size": 0.01, "iterations": 1000}"#.into(),
        format!("table:arrowtable:@{}", table.display()),
        format!("rows:jsontable:@{rows}"),
        format!("image:image:@{image}"),
        format!("audio:audio:@{audio}"),
        format!("video:video:@{video}"),
        format!("binary:binary:@{binary}"),
    ]
}

fn rust_to_peer(lang: &str) -> Value {
    let infra = infra();
    let subject = format!("interop.rust.to.{lang}");
    let mut receiver = KillOnDrop(
        peer(lang, "receive", &infra, &subject)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    wait_subscribed(&mut receiver);

    let mut send = command(bin());
    send.args([
        "send",
        "--server",
        &infra.server.url(),
        "--subject",
        &subject,
        "--fileserver",
        &infra.files_url,
    ])
    .args(["--purpose", "event", "--header", "Sample-Rate=44100", "--header", "Channels=1"]);
    for p in rust_payloads(infra.dir.path()) {
        send.arg(format!("--payload={p}"));
    }
    let sent = send.output().unwrap();
    assert!(sent.status.success(), "natsbridge send: {}", String::from_utf8_lossy(&sent.stderr));
    let (sent_digest, _) = lines(&String::from_utf8(sent.stdout).unwrap());

    let (status, out) = receiver.finish();
    assert!(status.success(), "{lang} peer receive failed: {status:?} {out}");
    let (got, info) = lines(&out);
    assert_eq!(got, sent_digest, "Rust → {lang}: digests differ");
    assert_full_envelope(&got);
    assert_eq!(info["info"]["sample_rate"], "44100", "{info}");
    assert_eq!(info["info"]["channels"], "1", "{info}");
    eprintln!("Rust → {lang}: {info}");
    info
}

#[test]
fn node_to_rust() {
    peer_to_rust("node");
}

#[test]
fn python_to_rust() {
    peer_to_rust("python");
}

#[test]
fn rust_to_node_and_the_zero_copy_report() {
    let info = rust_to_peer("node");
    // apache-arrow's tableFromIPC aliases the downloaded ArrayBuffer for the link table's
    // columns: the peer compares the column's buffer with the downloaded one.
    assert_eq!(info["info"]["arrow_zero_copy"], true, "{info}");
    assert_eq!(info["info"]["arrow_transport"], "link");
}

#[test]
fn rust_to_python() {
    rust_to_peer("python");
}
