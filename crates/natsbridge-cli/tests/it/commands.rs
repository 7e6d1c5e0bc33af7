//! The everyday commands beyond the digest contract: every envelope field on `send`,
//! `--no-publish`, `--from-stdin`, a directory store; `receive --stream --since --out`
//! saving payloads whose sha256 match the sender's digest, `--durable`, `--envelope`;
//! `request` / `reply` including an `error_response_v1` that comes back as the responder's
//! typed error. Each against a real nats-server.

use std::io::Write as _;
use std::process::{Output, Stdio};

use natsbridge_testkit::NatsServer;
use natsbridge_testkit::process::command;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::common::spawn_ready;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_natsbridge")
}

fn run(args: &[&str]) -> Output {
    command(bin()).args(args).output().unwrap()
}

fn stdout_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const CID: &str = "1f2e3d4c-5b6a-4978-8877-665544332211";
const MID: &str = "1f2e3d4c-5b6a-4978-8877-665544332212";

#[test]
fn send_sets_every_envelope_field_and_checks_them() {
    let out = run(&[
        "send",
        "--subject",
        "fields.test",
        "--no-publish",
        "--payload",
        "note:text:hi",
        "--correlation-id",
        CID,
        "--msg-id",
        MID,
        "--purpose",
        "command",
        "--sender-name",
        "dash",
        "--sender-id",
        "s-1",
        "--receiver-name",
        "sim",
        "--receiver-id",
        "r-1",
        "--reply-to",
        "answers.here",
        "--reply-to-msg-id",
        "9f2e3d4c-5b6a-4978-8877-665544332211",
        "--metadata",
        "run=7",
        "--metadata",
        "tag=blue",
        "--metadata-json",
        r#"{"owner": {"team": "a"}}"#,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let env = &stdout_lines(&out)[0];
    for (k, v) in [
        ("correlation_id", CID),
        ("msg_id", MID),
        ("msg_purpose", "command"),
        ("sender_name", "dash"),
        ("sender_id", "s-1"),
        ("receiver_name", "sim"),
        ("receiver_id", "r-1"),
        ("reply_to", "answers.here"),
        ("reply_to_msg_id", "9f2e3d4c-5b6a-4978-8877-665544332211"),
        ("send_to", "fields.test"),
    ] {
        assert_eq!(env[k], v, "{k}: {env}");
    }
    assert_eq!(env["metadata"], json!({"run": 7, "tag": "blue", "owner": {"team": "a"}}));
    assert!(natsbridge_testkit::schema::envelope_validator().is_valid(env), "{env}");

    // The schema's checks, as errors with the reason, exit 1; usage errors exit 2.
    for (args, says) in [
        (&["--purpose", "gossip"][..], "gossip"),
        (&["--msg-id", "not-a-uuid"], "msg_id"),
        (&["--metadata-json", "[1]"], "JSON object"),
        (&["--store", "s4:bucket"], "--store"),
    ] {
        let out =
            run(&[&["send", "--subject", "x", "--no-publish", "--payload", "n:text:a"][..], args].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(run(&["send", "--no-publish", "--payload", "n:text:a"]).status.code(), Some(2));
}

#[test]
fn a_stream_replayed_since_a_duration_into_files_that_match_the_senders_digest() {
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let big = dir.path().join("big.bin");
    std::fs::write(&big, (0..700_000u32).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>()).unwrap();
    // A payload from stdin and one by link into a directory store (file:// links).
    let mut send = command(bin())
        .args(["send", "--server", &server.url(), "--subject", "files.test", "--stream", "FILES"])
        .args(["--store", &format!("dir:{}", store.display()), "--from-stdin", "voice.wav:audio"])
        .arg(format!("--payload=blob:binary:@{}", big.display()))
        .arg("--payload=cfg:dictionary:{\"a\": [1, 2]}")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    send.stdin.take().unwrap().write_all(b"RIFF....WAVEfake audio").unwrap();
    let sent = send.wait_with_output().unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let digest = stdout_lines(&sent).pop().unwrap();
    let transports: Vec<&Value> =
        digest["payloads"].as_array().unwrap().iter().map(|p| &p["transport"]).collect();
    assert_eq!(transports, ["link", "direct", "direct"], "blob, cfg, then the one from stdin: {digest}");

    let out_dir = dir.path().join("got");
    let got = run(&[
        "receive",
        "--server",
        &server.url(),
        "--subject",
        "files.test",
        "--stream",
        "FILES",
        "--since",
        "10m",
        "--count",
        "1",
        "--timeout",
        "20",
        "--allow-dir",
        &store.display().to_string(),
        "--out",
        &out_dir.display().to_string(),
        "--envelope",
    ]);
    assert!(got.status.success(), "{}", String::from_utf8_lossy(&got.stderr));
    let lines = stdout_lines(&got);
    assert_eq!(lines[0], digest, "the receiver's digest line");
    assert_eq!(lines[1]["correlation_id"], digest["correlation_id"], "then the envelope");
    for p in digest["payloads"].as_array().unwrap() {
        let file = match p["dataname"].as_str().unwrap() {
            "voice.wav" => "voice.wav",
            "blob" => "blob.bin",
            _ => "cfg.json",
        };
        let bytes = std::fs::read(out_dir.join(file)).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), p["sha256"].as_str().unwrap(), "{file}");
    }
}

#[test]
fn a_durable_consumer_goes_on_where_it_stopped() {
    let server = NatsServer::spawn();
    for text in ["one", "two"] {
        let out = run(&[
            "send",
            "--server",
            &server.url(),
            "--subject",
            "durable.test",
            "--stream",
            "DURABLE",
            "--payload",
            &format!("n:text:{text}"),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let receive_one = || {
        let out = run(&[
            "receive",
            "--server",
            &server.url(),
            "--subject",
            "durable.test",
            "--stream",
            "DURABLE",
            "--durable",
            "reader",
            "--count",
            "1",
            "--timeout",
            "20",
            "--envelope",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        stdout_lines(&out)[1]["payloads"][0]["data"].clone()
    };
    // "one" and "two", base64: the second run starts after what the first acknowledged.
    assert_eq!((receive_one(), receive_one()), (json!("b25l"), json!("dHdv")));
}

#[test]
fn request_and_reply_including_an_error_response() {
    let server = NatsServer::spawn();
    let responder = |extra: &[&str]| {
        spawn_ready(
            command(bin())
                .args([
                    "reply",
                    "--server",
                    &server.url(),
                    "--subject",
                    "sim.command",
                    "--count",
                    "1",
                    "--timeout",
                    "30",
                ])
                .args(extra),
        )
    };
    let request = || {
        run(&[
            "request",
            "--server",
            &server.url(),
            "--subject",
            "sim.command",
            "--correlation-id",
            CID,
            "--payload",
            r#"config:dictionary:{"iterations": 10}"#,
            "--timeout",
            "10",
        ])
    };

    let mut echo = responder(&["--payload", r#"status:dictionary:{"status": "Running"}"#]);
    let answered = request();
    assert!(answered.status.success(), "{}", String::from_utf8_lossy(&answered.stderr));
    let reply = &stdout_lines(&answered)[0];
    assert_eq!(reply["correlation_id"], CID);
    assert_eq!(reply["msg_purpose"], "ACK");
    assert_eq!(reply["payloads"][0]["dataname"], "status");
    let (status, seen) = echo.finish();
    assert!(status.success());
    assert_eq!(
        serde_json::from_str::<Value>(seen.lines().next().unwrap()).unwrap()["payloads"][0]["dataname"],
        "config"
    );

    let _failing = responder(&["--fail", "TIMEOUT:the simulation is busy"]);
    let refused = request();
    assert_eq!(refused.status.code(), Some(1));
    let line = &stdout_lines(&refused)[0];
    assert_eq!(line["error"], "TIMEOUT", "{line}");
    assert_eq!(line["remote"], true);
    assert_eq!(line["correlation_id"], CID);
    assert!(line["message"].as_str().unwrap().contains("the simulation is busy"), "{line}");

    assert_eq!(run(&["reply", "--subject", "x", "--fail", "NOPE"]).status.code(), Some(1));
}

#[test]
fn completions_a_man_page_and_help_with_examples() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).unwrap();
    for sub in ["fileserver", "send", "receive", "request", "reply", "validate", "--stream", "--out"] {
        assert!(script.contains(sub), "bash completion lacks {sub}");
    }
    for shell in ["zsh", "fish"] {
        assert!(run(&["completions", shell]).status.success(), "{shell}");
    }
    let man = String::from_utf8(run(&["man"]).stdout).unwrap();
    assert!(man.starts_with(".ie") || man.contains(".TH natsbridge"), "{}", &man[..man.len().min(200)]);
    let help = String::from_utf8(run(&["--help"]).stdout).unwrap();
    let subcommands = [
        "fileserver",
        "send",
        "receive",
        "request",
        "reply",
        "validate",
        "codegen",
        "conformance",
        "completions",
        "man",
    ];
    for sub in subcommands.iter().chain(&["Examples:"]) {
        assert!(help.contains(sub), "--help lacks {sub}");
    }
    for sub in subcommands {
        let text = String::from_utf8(run(&[sub, "--help"]).stdout).unwrap();
        assert!(text.contains("Example: `natsbridge"), "`{sub} --help` shows no example");
    }
}

/// A big send in a terminal (a pseudo-terminal from util-linux's `script`) draws a moving
/// progress bar on stderr; the same send piped prints nothing there, and neither does
/// `--quiet` in a terminal.
#[test]
fn a_big_send_shows_a_progress_bar_only_on_a_terminal() {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .unwrap_or_else(|| panic!("util-linux `script` is missing: apt-get install -y bsdutils"));
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let (_files, files_url) = crate::common::start_fileserver(bin(), &dir.path().join("files"));
    let big = dir.path().join("big.bin");
    std::fs::write(
        &big,
        (0..64_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let send = format!(
        "{} send --server {} --subject bar --fileserver {files_url} --payload big:binary:@{}",
        bin(),
        server.url(),
        big.display()
    );
    let in_terminal = |cmd: &str| {
        let out = command(script).args(["-qfec", cmd, "/dev/null"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = in_terminal(&send);
    // Several redraws of one bar: it moved.
    let redraws = shown.matches("big.bin").count();
    assert!(redraws >= 2 && shown.contains("MiB/61.04 MiB"), "no moving bar in: {shown:?}");
    assert!(shown.contains("\"transport\":\"link\""), "the digest line is still printed");
    assert!(!in_terminal(&format!("{send} --quiet")).contains("big.bin"), "--quiet draws no bar");

    let piped = command(bin())
        .args(["send", "--server", &server.url(), "--subject", "bar", "--fileserver", &files_url])
        .arg(format!("--payload=big:binary:@{}", big.display()))
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert!(piped.stderr.is_empty(), "piped stderr: {}", String::from_utf8_lossy(&piped.stderr));
}

/// `--one-shot`, `--link-ttl`, `--max-age`, `--store nats-os:BUCKET` and `reply --queue`
/// reach the file server, the stream, the Object Store and the server's queue groups.
#[test]
fn link_and_stream_options_take_effect() {
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let (_files, files_url) = crate::common::start_fileserver(bin(), &dir.path().join("files"));
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![3u8; 600_000]).unwrap();
    let payload = format!("--payload=big:binary:@{}", big.display());
    let link_of = |extra: &[&str]| {
        let out = command(bin())
            .args(["send", "--subject", "opts", "--no-publish", "--fileserver", &files_url, &payload])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        stdout_lines(&out)[0]["payloads"][0]["data"].as_str().unwrap().to_owned()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    // A download read to its end: a one-shot link is consumed only by a complete transfer.
    let status = |url: &str| {
        rt.block_on(async {
            let resp = natsbridge::fetch::http_client().get(url).send().await.unwrap();
            let code = resp.status().as_u16();
            resp.bytes().await.unwrap();
            code
        })
    };

    let once = link_of(&["--one-shot"]);
    assert_eq!((status(&once), status(&once)), (200, 404), "a one-shot link serves one download");
    let short = link_of(&["--link-ttl", "1"]);
    assert_eq!(status(&short), 200);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(status(&short), 404, "a 1 s link is gone after 1.5 s");

    // --max-age shapes the stream `send --stream` creates.
    let out = run(&[
        "send",
        "--server",
        &server.url(),
        "--subject",
        "aged",
        "--stream",
        "AGED",
        "--max-age",
        "120",
        "--payload",
        "n:text:x",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let max_age = rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(server.url()).await.unwrap());
        js.get_stream("AGED").await.unwrap().cached_info().config.max_age
    });
    assert_eq!(max_age, std::time::Duration::from_secs(120));

    // The Object Store: a nats-os:// link that `receive` resolves through the same server.
    let mut rx = spawn_ready(command(bin()).args([
        "receive",
        "--server",
        &server.url(),
        "--subject",
        "os",
        "--count",
        "1",
        "--timeout",
        "30",
    ]));
    let sent = command(bin())
        .args(["send", "--server", &server.url(), "--subject", "os", "--store", "nats-os:blobs", &payload])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let (ok, got) = rx.finish();
    assert!(ok.success(), "{got}");
    assert_eq!(got.lines().next().unwrap(), stdout_lines(&sent)[0].to_string());

    // Two responders in one queue group: each request is answered once.
    let responders: Vec<_> = (0..2)
        .map(|_| {
            spawn_ready(command(bin()).args([
                "reply",
                "--server",
                &server.url(),
                "--subject",
                "q",
                "--queue",
                "sim",
                "--timeout",
                "5",
            ]))
        })
        .collect();
    for _ in 0..6 {
        assert!(
            run(&["request", "--server", &server.url(), "--subject", "q", "--payload", "n:text:hi"])
                .status
                .success()
        );
    }
    let answered: usize = responders.into_iter().map(|mut r| r.finish().1.lines().count()).sum();
    assert_eq!(answered, 6, "each request reached one responder of the group");
}
