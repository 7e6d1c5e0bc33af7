//! Three CLIs, one contract (issue 25): the same script — the same arguments, step by step —
//! runs against `natsbridge`, `natsbridge-js` and `python -m natsbridge`, and what each
//! prints must be the same, up to what is new per run (timestamps, generated ids, the
//! sender's own id):
//!
//! 1. `send --no-publish` with every envelope field and three payloads prints the envelope;
//! 2. `receive --envelope --out DIR` prints the digest and the envelope, and writes each
//!    payload as `<dataname>.<ext>` with the bytes as carried;
//! 3. `receive --stream --since` replays a stream; `--durable` goes on where the last run of
//!    the same name stopped;
//! 4. `reply --fail CODE:MESSAGE` answers an `error_response_v1` that `request` prints as the
//!    remote error (exit 1); a plain `reply` answers what `request` prints as a digest.
//!
//! The hostile group through each CLI's `receive` is `hostile.rs`.

use std::path::Path;
use std::process::Stdio;

use natsbridge::{Payload, SendOptions};
use natsbridge_testkit::{KillOnDrop, NatsServer};
use serde_json::{Value, json};

use crate::common::{LANGS, cli, wait_subscribed};

const CID: &str = "00000003-0000-4000-8000-000000000003";
const MSG_ID: &str = "00000004-0000-4000-8000-000000000004";

/// Runs `lang`'s CLI with `args` to its end: (exit code, stdout lines as JSON).
fn run(lang: &str, args: &[&str]) -> (i32, Vec<Value>) {
    let out = cli(lang).args(args).stderr(Stdio::inherit()).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{lang} {args:?}: not JSON ({e}): {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), lines)
}

/// Starts `lang`'s CLI (a `receive` or `reply`) and waits until it has subscribed.
fn start(lang: &str, args: &[&str]) -> KillOnDrop {
    let mut child =
        KillOnDrop(cli(lang).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    wait_subscribed(&mut child);
    child
}

fn lines_of(lang: &str, child: KillOnDrop) -> (i32, Vec<Value>) {
    let mut child = child;
    let (status, out) = child.finish();
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{lang}: not JSON ({e}): {l}")))
        .collect();
    (status.code().unwrap_or(-1), lines)
}

/// Removes what is new on every run from an envelope or a digest line.
fn normalized(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("timestamp");
        // Ids the script did not set are new on every run.
        for key in ["correlation_id", "msg_id"] {
            if o.get(key).is_some_and(|id| {
                id != CID && id != MSG_ID && !id.as_str().is_some_and(|s| s.starts_with("0000000"))
            }) {
                o.remove(key);
            }
        }
        for p in o.get_mut("payloads").and_then(Value::as_array_mut).into_iter().flatten() {
            if let Some(p) = p.as_object_mut() {
                p.remove("id");
            }
        }
    }
    v
}

/// Every line of every CLI equal to the Rust CLI's (`what` names the step).
fn all_equal(what: &str, outputs: &[(&str, (i32, Vec<Value>))]) {
    let (first, (code, lines)) = &outputs[0];
    let want: Vec<Value> = lines.iter().cloned().map(normalized).collect();
    assert!(!want.is_empty(), "{what}: {first} printed nothing");
    for (lang, (c, got)) in &outputs[1..] {
        let got: Vec<Value> = got.iter().cloned().map(normalized).collect();
        assert_eq!(c, code, "{what}: {lang} exits {c}, {first} {code}");
        assert_eq!(got, want, "{what}: {lang} prints otherwise than {first}");
    }
}

#[test]
fn one_script_three_clis() {
    let server = NatsServer::spawn();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("blob.bin");
    std::fs::write(&bin, (0..=255u8).collect::<Vec<_>>()).unwrap();
    let blob = format!("blob:binary:@{}", bin.display());

    // 1. Every envelope field, not published.
    let every: Vec<&str> = vec![
        "send",
        "--server",
        &url,
        "--subject",
        "three.every",
        "--no-publish",
        "--correlation-id",
        CID,
        "--msg-id",
        MSG_ID,
        "--purpose",
        "command",
        "--sender-name",
        "script",
        "--sender-id",
        "script-1",
        "--receiver-name",
        "peer",
        "--receiver-id",
        "peer-1",
        "--reply-to",
        "three.reply",
        "--reply-to-msg-id",
        "00000005-0000-4000-8000-000000000005",
        "--metadata",
        "run=7",
        "--metadata",
        "who=me",
        "--metadata-json",
        r#"{"tags":["a","b"],"x":{"y":1.5}}"#,
        "--header",
        "X-Trace=abc",
        "--threshold",
        "1000000",
        "--payload",
        "note:text:hello, world",
        "--payload",
        r#"cfg:dictionary:{"a":1}"#,
        "--payload",
        &blob,
    ];
    let outputs: Vec<_> = LANGS.iter().map(|l| (*l, run(l, &every))).collect();
    for (lang, (code, lines)) in &outputs {
        assert_eq!(*code, 0, "{lang} send --no-publish: {lines:?}");
        assert_eq!(lines.len(), 1, "{lang}: one envelope line");
        assert_eq!(
            lines[0]["metadata"],
            json!({"run": 7, "who": "me", "tags": ["a", "b"], "x": {"y": 1.5}}),
            "{lang}"
        );
    }
    all_equal("send --no-publish", &outputs);

    // 2. One envelope, received by each CLI with --envelope and --out.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(natsbridge::connect(&url)).unwrap();
    let mut outputs = Vec::new();
    let mut files = Vec::new();
    for lang in LANGS {
        let out = dir.path().join(format!("out-{lang}"));
        let subject = format!("three.receive.{lang}");
        let rx = start(
            lang,
            &[
                "receive",
                "--server",
                &url,
                "--subject",
                &subject,
                "--count",
                "1",
                "--timeout",
                "30",
                "--envelope",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        runtime.block_on(async {
            let options = SendOptions::default()
                .connection(&client)
                .correlation_id(CID)
                .msg_id(MSG_ID)
                .sender_name("script");
            let payloads = [
                ("note", Payload::Text("hello".into())),
                ("cfg", Payload::Dictionary(json!({"a": [1, 2]}))),
                ("blob", Payload::Binary((0..=255u8).collect::<Vec<_>>().into())),
            ];
            natsbridge::smartsend(&subject, payloads, &options).await.unwrap();
            client.flush().await.unwrap();
        });
        outputs.push((lang, lines_of(lang, rx)));
        files.push((lang, listing(&out)));
    }
    for (lang, (code, lines)) in &outputs {
        assert_eq!(*code, 0, "{lang} receive: {lines:?}");
        assert_eq!(lines.len(), 2, "{lang}: the digest line and the envelope line: {lines:?}");
    }
    // The envelope was sent to another subject per CLI.
    for (_, (_, lines)) in &mut outputs {
        lines[1]["send_to"] = json!("three.receive");
    }
    all_equal("receive --envelope", &outputs);
    for (lang, listing) in &files[1..] {
        assert_eq!(listing, &files[0].1, "receive --out: {lang} writes otherwise than rust");
    }
    assert_eq!(
        files[0].1.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["blob.bin", "cfg.json", "note.txt"]
    );

    // 3. A stream replayed from --since, and a durable consumer that goes on.
    for i in 0..3 {
        let (code, _) = run(
            "rust",
            &[
                "send",
                "--server",
                &url,
                "--subject",
                "three.health",
                "--stream",
                "THREE",
                "--correlation-id",
                &format!("0000000{i}-0000-4000-8000-00000000000{i}"),
                "--payload",
                &format!("n:text:{i}"),
            ],
        );
        assert_eq!(code, 0);
    }
    let replay = [
        "receive",
        "--server",
        &url,
        "--subject",
        "three.health",
        "--stream",
        "THREE",
        "--since",
        "10m",
        "--count",
        "3",
        "--timeout",
        "30",
    ];
    let outputs: Vec<_> = LANGS.iter().map(|l| (*l, run(l, &replay))).collect();
    for (lang, (code, lines)) in &outputs {
        assert_eq!((*code, lines.len()), (0, 3), "{lang} --since: {lines:?}");
    }
    all_equal("receive --stream --since", &outputs);
    // A start or an allowed host outside its one form is a usage error naming what was given,
    // in every CLI (schema/README.md rules 14 and 15), before anything is asked of the server.
    for (flag, value) in
        [("--since", "New"), ("--since", "2026-12-06T09:00:00"), ("--allow-host", "files:8080")]
    {
        for lang in LANGS {
            let mut args = vec!["receive", "--server", &url, "--subject", "three.health", "--count", "1"];
            if flag == "--since" {
                args.extend(["--stream", "THREE"]);
            }
            args.extend([flag, value]);
            let out = cli(lang).args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{lang} {flag} {value}: {stderr}");
            assert!(stderr.contains(value), "{lang} {flag} {value} names the value: {stderr}");
        }
    }
    let mut outputs = Vec::new();
    for lang in LANGS {
        let durable = format!("three-{lang}");
        let durable_run = |count: &str| {
            let args = ["receive", "--server", &url, "--subject", "three.health", "--stream", "THREE"];
            run(lang, &[&args[..], &["--durable", &durable, "--count", count, "--timeout", "30"]].concat())
        };
        let (code, lines) = durable_run("2");
        assert_eq!((code, lines.len()), (0, 2), "{lang} --durable, first run: {lines:?}");
        let (code, more) = durable_run("1");
        assert_eq!((code, more.len()), (0, 1), "{lang} --durable, second run: {more:?}");
        assert_eq!(
            more[0]["correlation_id"], "00000002-0000-4000-8000-000000000002",
            "{lang}: the second run goes on"
        );
        outputs.push((lang, (code, [lines, more].concat())));
    }
    all_equal("receive --durable", &outputs);

    // 4. Request and reply, with an error response and without.
    let mut failing = Vec::new();
    let mut answered = Vec::new();
    for lang in LANGS {
        let subject = format!("three.fail.{lang}");
        let responder = start(
            lang,
            &[
                "reply",
                "--server",
                &url,
                "--subject",
                &subject,
                "--count",
                "1",
                "--timeout",
                "30",
                "--fail",
                "DESERIALIZATION_ERROR:no thanks",
            ],
        );
        let asked = run(
            lang,
            &[
                "request",
                "--server",
                &url,
                "--subject",
                &subject,
                "--correlation-id",
                CID,
                "--payload",
                "q:text:hi",
                "--timeout",
                "10",
            ],
        );
        assert_eq!(asked.0, 1, "{lang} request answered with an error exits 1: {:?}", asked.1);
        assert_eq!(asked.1[0]["error"], "DESERIALIZATION_ERROR", "{lang}: {:?}", asked.1);
        assert_eq!(asked.1[0]["remote"], true, "{lang}: {:?}", asked.1);
        failing.push((lang, asked));
        drop(responder);

        let subject = format!("three.ok.{lang}");
        let responder = start(
            lang,
            &[
                "reply",
                "--server",
                &url,
                "--subject",
                &subject,
                "--count",
                "1",
                "--timeout",
                "30",
                "--payload",
                r#"status:dictionary:{"status":"Running"}"#,
            ],
        );
        let asked = run(
            lang,
            &[
                "request",
                "--server",
                &url,
                "--subject",
                &subject,
                "--correlation-id",
                CID,
                "--payload",
                "q:text:hi",
                "--timeout",
                "10",
            ],
        );
        assert_eq!(asked.0, 0, "{lang} request: {:?}", asked.1);
        answered.push((lang, asked));
        drop(responder);
    }
    all_equal("request → reply --fail", &failing);
    all_equal("request → reply", &answered);
}

/// The files of `dir`, by name, with their bytes.
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}
