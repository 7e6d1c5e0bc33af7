//! The live interop matrix: every shipped CLI as sender (`natsbridge`, `natsbridge-js`,
//! `python -m natsbridge`) × every one as receiver, against one real nats-server with
//! JetStream and the embedded file server. Each envelope carries all eight payload types,
//! among them a 1-million-row Arrow table and 5 MB of audio by link with `Sample-Rate` and
//! `Channels` in NATS headers. Each pair runs twice: over core NATS (the receiver subscribed
//! first) and through JetStream (published to a stream, then replayed by a late pull
//! consumer). Sender and receiver print the digest line (sizes and sha256 of the payload
//! bytes as carried); the two must be equal. The matrix is printed to the test's output.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use natsbridge_testkit::{KillOnDrop, NatsServer};
use serde_json::{Value, json};

use crate::common::{LANGS, cli, start_fileserver, wait_subscribed, write_table};

const ROWS: usize = 1_000_000;
const AUDIO_BYTES: usize = 5_000_000;

/// The eight `--payload` arguments every sender gets (files written once).
fn payloads(dir: &Path) -> Vec<String> {
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
        "note:text:Hello — ünïcödé 😀".into(),
        r#"config:dictionary:{"step_size": 0.01, "iterations": 1000}"#.into(),
        format!("table:arrowtable:@{}", table.display()),
        format!("rows:jsontable:@{rows}"),
        format!("image:image:@{image}"),
        format!("audio:audio:@{audio}"),
        format!("video:video:@{video}"),
        format!("binary:binary:@{binary}"),
    ]
}

/// The first line of `out` that is JSON (the digest line).
fn digest(out: &str) -> Value {
    out.lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("no digest line in {out:?}"))
}

/// Every payload type once, the big ones by link.
fn assert_full_envelope(digest: &Value, cell: &str) {
    let p = digest["payloads"].as_array().unwrap_or_else(|| panic!("{cell}: {digest}"));
    let types: Vec<&str> = p.iter().map(|x| x["payload_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["text", "dictionary", "arrowtable", "jsontable", "image", "audio", "video", "binary"],
        "{cell}: {digest}"
    );
    assert_eq!(p[2]["num_rows"], ROWS, "{cell}");
    assert_eq!(p[2]["transport"], "link", "{cell}");
    assert_eq!(p[5]["transport"], "link", "{cell}");
    assert_eq!(p[5]["size"], AUDIO_BYTES, "{cell}");
    assert_eq!(p[0]["transport"], "direct", "{cell}");
}

/// One cell: `from` sends, `to` receives, over core NATS or through `stream`.
fn cell(server: &str, files: &str, payloads: &[String], from: &str, to: &str, stream: Option<&str>) -> Value {
    let name = format!("{from} → {to} ({})", stream.map_or("core", |_| "JetStream"));
    let subject = format!("matrix.{from}.{to}.{}", if stream.is_some() { "js" } else { "core" });
    let receive = || {
        let mut rx = cli(to);
        rx.args(["receive", "--server", server, "--subject", &subject, "--count", "1", "--timeout", "180"])
            .args(["--allow-host", files, "--show-header", "Sample-Rate", "--show-header", "Channels"]);
        if let Some(s) = stream {
            rx.args(["--stream", s]);
        }
        let mut child = KillOnDrop(rx.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
        wait_subscribed(&mut child);
        child
    };
    // Over core NATS the receiver must be there first; through JetStream it comes late.
    let mut early = stream.is_none().then(receive);
    let mut tx = cli(from);
    tx.args(["send", "--server", server, "--subject", &subject, "--fileserver", files]).args([
        "--purpose",
        "event",
        "--header",
        "Sample-Rate=44100",
        "--header",
        "Channels=1",
    ]);
    if let Some(s) = stream {
        tx.args(["--stream", s]);
    }
    for p in payloads {
        tx.arg(format!("--payload={p}"));
    }
    let sent = tx.output().unwrap();
    assert!(sent.status.success(), "{name}: send failed: {}", String::from_utf8_lossy(&sent.stderr));
    let sent = digest(&String::from_utf8(sent.stdout).unwrap());
    let (status, out) = early.get_or_insert_with(receive).finish();
    assert!(status.success(), "{name}: receive failed ({status:?}): {out}");
    let mut got = digest(&out);
    assert!(got.get("error").is_none(), "{name}: the receiver refused the envelope: {got}");
    let headers = got.as_object_mut().unwrap().remove("headers");
    assert_eq!(headers, Some(json!({"Sample-Rate": "44100", "Channels": "1"})), "{name}");
    assert_eq!(got, sent, "{name}: digests differ");
    assert_full_envelope(&got, &name);
    got
}

#[test]
fn every_sender_to_every_receiver_over_core_nats_and_jetstream() {
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let (_files, files_url) = start_fileserver(env!("CARGO_BIN_EXE_natsbridge"), &dir.path().join("files"));
    let payloads = payloads(dir.path());
    let mut table: BTreeMap<(&str, &str), String> = BTreeMap::new();
    for from in LANGS {
        for to in LANGS {
            let started = Instant::now();
            let core = cell(&server.url(), &files_url, &payloads, from, to, None);
            let stream = format!("MATRIX_{from}_{to}").to_uppercase();
            let js = cell(&server.url(), &files_url, &payloads, from, to, Some(&stream));
            // The same payloads: core and JetStream carry identical bytes.
            let table_sha =
                |d: &Value| d["payloads"][2]["sha256"].as_str().unwrap_or_default()[..8].to_owned();
            assert_eq!(core["payloads"][5]["sha256"], js["payloads"][5]["sha256"]);
            table.insert(
                (from, to),
                format!("ok ok  {} {:>4.1}s", table_sha(&core), started.elapsed().as_secs_f64()),
            );
        }
    }
    // Written to the process's stderr, not through the test harness's capture: the matrix
    // shows in every run's output.
    let mut out = std::io::stderr().lock();
    writeln!(out, "\nlive interop: sender (rows) × receiver (columns); each cell: core, JetStream, the")
        .unwrap();
    writeln!(out, "Arrow table's sha256 as the sender wrote it, seconds for both runs").unwrap();
    write!(out, "{:<8}", "").unwrap();
    for to in LANGS {
        write!(out, "| {to:<22}").unwrap();
    }
    writeln!(out).unwrap();
    for from in LANGS {
        write!(out, "{from:<8}").unwrap();
        for to in LANGS {
            write!(out, "| {:<22}", table[&(from, to)]).unwrap();
        }
        writeln!(out).unwrap();
    }
}

/// On a three-node cluster (every CLI given all three seeds) with links in S3: the Rust
/// CLI publishes the full envelope into an R3 stream with presigned links, and each
/// receiver (Rust, TypeScript, Python) replays it and downloads the links with plain
/// HTTP, no S3 credentials of its own.
#[test]
fn presigned_s3_links_on_a_cluster_reach_every_receiver() {
    let cluster = natsbridge_testkit::NatsCluster::spawn(3);
    let s3 = natsbridge_testkit::S3Server::spawn("interop");
    let dir = tempfile::tempdir().unwrap();
    let payloads = payloads(dir.path());
    let seeds = cluster.urls();
    let mut tx = cli("rust");
    tx.args(["send", "--server", &seeds, "--subject", "cluster.s3", "--store", "s3:interop/runs/7"])
        .args(["--stream", "CLUSTER_S3", "--replicas", "3", "--purpose", "event"])
        .args(["--header", "Sample-Rate=44100", "--header", "Channels=1"])
        .env("AWS_ENDPOINT", s3.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", natsbridge_testkit::s3::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", natsbridge_testkit::s3::SECRET_KEY)
        .env("AWS_ALLOW_HTTP", "true");
    for p in &payloads {
        tx.arg(format!("--payload={p}"));
    }
    let sent = tx.output().unwrap();
    let stderr = String::from_utf8_lossy(&sent.stderr);
    assert!(sent.status.success(), "send failed: {stderr}");
    assert!(!stderr.contains(natsbridge_testkit::s3::SECRET_KEY));
    let sent = digest(&String::from_utf8(sent.stdout).unwrap());
    assert_full_envelope(&sent, "rust → S3");
    let objects = std::fs::read_dir(s3.dir().join("interop/runs/7")).unwrap().count();
    assert_eq!(objects, 2, "the table and the audio went to S3 under the prefix");
    for to in LANGS {
        let mut rx = cli(to);
        rx.args([
            "receive",
            "--server",
            &seeds,
            "--subject",
            "cluster.s3",
            "--count",
            "1",
            "--timeout",
            "120",
        ])
        .args(["--stream", "CLUSTER_S3", "--allow-host", &s3.endpoint()])
        .args(["--show-header", "Sample-Rate", "--show-header", "Channels"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
        let out = rx.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{to}: {text} {}", String::from_utf8_lossy(&out.stderr));
        let mut got = digest(&text);
        got.as_object_mut().unwrap().remove("headers");
        assert_eq!(got, sent, "{to}: digests differ");
    }
}
