//! The `natsbridge` CLI contract, end to end with real processes: `fileserver`,
//! `receive` and `send` print identical digest lines for a 5 MB audio file, a
//! 1-million-row Arrow table and a text payload; `validate` names the broken rule.

use std::time::Instant;

use crate::common::{spawn_receive, start_fileserver, write_table};
use natsbridge_testkit::NatsServer;
use natsbridge_testkit::process::command;
use serde_json::{Value, json};

fn natsbridge_bin() -> &'static str {
    env!("CARGO_BIN_EXE_natsbridge")
}

#[test]
fn send_and_receive_print_identical_digests() {
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let bin = natsbridge_bin();
    let (_fileserver, fs_url) = start_fileserver(bin, &dir.path().join("files"));

    let mut receiver = spawn_receive(bin, &server.url(), "cli.test", 2, 120, &["--allow-host", &fs_url]);

    let audio = dir.path().join("tone.wav");
    std::fs::write(
        &audio,
        (0..5_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let table = dir.path().join("table.arrows");
    write_table(&table, 1_000_000);

    let started = Instant::now();
    let send = command(bin)
        .args(["send", "--server", &server.url(), "--subject", "cli.test", "--fileserver", &fs_url])
        .args(["--purpose", "event", "--header", "Sample-Rate=44100", "--header", "Channels=1"])
        .arg(format!("--payload=audio:audio:@{}", audio.display()))
        .arg(format!("--payload=table:arrowtable:@{}", table.display()))
        .arg("--payload=note:text:Hello World")
        .output()
        .unwrap();
    assert!(send.status.success(), "send failed: {}", String::from_utf8_lossy(&send.stderr));
    let sent = String::from_utf8(send.stdout).unwrap();

    // A second envelope, valid JSON but with a payload whose bytes contradict its `size`:
    // the receiver prints an error line with the code and correlation id, and goes on.
    let cid = "7d5b1c2e-0f7a-4e59-9a1c-3b2d4e6f8a90";
    let broken = json!({
        "correlation_id": cid, "msg_id": "7d5b1c2e-0f7a-4e59-9a1c-3b2d4e6f8a91",
        "timestamp": "2026-11-29T21:58:30.123Z", "send_to": "cli.test", "msg_purpose": "chat",
        "sender_name": "hand", "sender_id": "", "receiver_name": "", "receiver_id": "", "reply_to": "",
        "reply_to_msg_id": "", "payloads": [{
            "id": "7d5b1c2e-0f7a-4e59-9a1c-3b2d4e6f8a92", "dataname": "short", "payload_type": "text",
            "transport": "direct", "encoding": "base64", "size": 999, "data": "SGVsbG8=", "metadata": {},
        }],
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(natsbridge::publish_message(server.url(), "cli.test", broken.to_string(), cid)).unwrap();

    let (status, received) = receiver.finish();
    assert!(status.success(), "receive exited with {status:?}");
    let mut lines = received.lines();
    let first = lines.next().expect("a digest line");
    assert_eq!(first, sent.trim_end(), "sender and receiver digests differ");
    eprintln!("digest: {first} ({:.1} s)", started.elapsed().as_secs_f64());

    let digest: Value = serde_json::from_str(first).unwrap();
    let keys: Vec<&str> = digest.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["correlation_id", "msg_purpose", "payloads"]);
    let p = &digest["payloads"];
    assert_eq!(p[0]["transport"], "link");
    assert_eq!(p[0]["size"], 5_000_000);
    assert_eq!(p[1]["num_rows"], 1_000_000);
    assert_eq!(p[1]["transport"], "link");
    assert_eq!(p[2]["transport"], "direct");
    assert_eq!(p[2]["size"], 11);
    assert!(p[0].get("num_rows").is_none());
    let p_keys: Vec<&str> = p[1].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(p_keys, ["dataname", "payload_type", "transport", "size", "sha256", "num_rows"]);
    let error: Value = serde_json::from_str(lines.next().expect("a line for the broken envelope")).unwrap();
    assert_eq!(error["error"], "INTEGRITY_MISMATCH", "{error}");
    assert_eq!(error["correlation_id"], cid);
    assert!(error["message"].as_str().unwrap().contains("`short`"), "{error}");
    assert!(lines.next().is_none());
}

#[test]
fn receive_prints_an_error_line_and_goes_on() {
    let server = NatsServer::spawn();
    let bin = natsbridge_bin();
    let mut receiver = spawn_receive(bin, &server.url(), "cli.bad", 2, 30, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = natsbridge::connect(&server.url()).await.unwrap();
        client
            .publish(
                "cli.bad",
                r#"{"correlation_id": "c0ffee00-0000-4000-8000-000000000000", "payloads": 5}"#.into(),
            )
            .await
            .unwrap();
        let ok = natsbridge::SendOptions::default().connection(&client);
        natsbridge::smartsend("cli.bad", [("t", natsbridge::Payload::Text("fine".into()))], &ok)
            .await
            .unwrap();
        // The runtime ends here: what is still queued on the connection must leave first.
        client.flush().await.unwrap();
    });
    let (status, text) = receiver.finish();
    assert!(status.success());
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["error"], "INVALID_ENVELOPE");
    assert_eq!(lines[0]["correlation_id"], "c0ffee00-0000-4000-8000-000000000000");
    assert!(lines[0]["message"].as_str().unwrap().contains("msg_envelope_v1"));
    assert_eq!(lines[1]["payloads"][0]["dataname"], "t");
}

#[test]
fn validate_names_the_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::json!({
        "correlation_id": "0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11", "msg_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
        "timestamp": "2026-03-13T07:02:50.443Z", "send_to": "s", "msg_purpose": "chat", "sender_name": "a",
        "sender_id": "", "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "", "payloads": []
    });
    let mut bad = good.clone();
    bad["msg_purpose"] = "gossip".into();
    std::fs::write(dir.path().join("good.json"), good.to_string()).unwrap();
    std::fs::write(dir.path().join("bad.json"), bad.to_string()).unwrap();
    let bin = natsbridge_bin();
    let ok = command(bin).arg("validate").arg(dir.path().join("good.json")).output().unwrap();
    assert!(ok.status.success());
    assert!(ok.stdout.is_empty());
    let out = command(bin)
        .arg("validate")
        .arg(dir.path().join("good.json"))
        .arg(dir.path().join("bad.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("bad.json") && text.contains("`enum`") && text.contains("/msg_purpose"), "{text}");
}

/// `send --stream` creates the stream and reports the sequence; a late `receive --stream`
/// replays everything, `--since` only what was stored from then on; a missing stream fails
/// at once with its name instead of waiting for the timeout.
#[test]
fn send_and_receive_through_a_stream() {
    let server = NatsServer::spawn();
    let bin = natsbridge_bin();
    let send = |text: &str| {
        let out = command(bin)
            .args(["send", "--server", &server.url(), "--subject", "cli.js", "--stream", "CLI_JS"])
            .arg(format!("--payload=note:text:{text}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "send failed: {}", String::from_utf8_lossy(&out.stderr));
        let ack: Value = serde_json::from_slice(out.stderr.split(|b| *b == b'\n').next().unwrap()).unwrap();
        (String::from_utf8(out.stdout).unwrap(), ack["stream_sequence"].as_u64().unwrap())
    };
    let (first, seq1) = send("first");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let since =
        natsbridge::chrono::Utc::now().to_rfc3339_opts(natsbridge::chrono::SecondsFormat::Millis, true);
    let (second, seq2) = send("second");
    assert_eq!((seq1, seq2), (1, 2));

    let receive = |extra: &[&str]| {
        command(bin)
            .args(["receive", "--server", &server.url(), "--subject", "cli.js", "--timeout", "20"])
            .args(extra)
            .output()
            .unwrap()
    };
    let all = receive(&["--stream", "CLI_JS", "--count", "2"]);
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    assert_eq!(String::from_utf8(all.stdout).unwrap(), format!("{first}{second}"));

    let late = receive(&["--stream", "CLI_JS", "--since", &since, "--count", "1"]);
    assert!(late.status.success(), "{}", String::from_utf8_lossy(&late.stderr));
    assert_eq!(String::from_utf8(late.stdout).unwrap(), second);

    let started = Instant::now();
    let missing = receive(&["--stream", "NO_SUCH", "--count", "1"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NO_SUCH"));
    assert!(started.elapsed().as_secs() < 10, "a missing stream must fail at once");
}

fn envelope(sender_id: &str) -> serde_json::Value {
    serde_json::json!({
        "correlation_id": "0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11", "msg_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
        "timestamp": "2026-03-13T07:02:50.443Z", "send_to": "s", "msg_purpose": "chat", "sender_name": "a",
        "sender_id": sender_id, "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "", "payloads": []
    })
}

fn validate_stdin(args: &[&str], input: &str) -> (Option<i32>, String) {
    use std::io::Write as _;
    let mut child = command(natsbridge_bin())
        .arg("validate")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap())
}

/// NDJSON on stdin: each failing line named, every broken rule with its JSON pointer.
#[test]
fn validate_reads_ndjson_from_stdin_and_names_every_failure() {
    let good = envelope("").to_string();
    let mut bad = envelope("");
    bad["msg_purpose"] = "gossip".into();
    bad.as_object_mut().unwrap().remove("send_to");
    let input = format!("{good}\n\n{bad}\nnot json\n");
    let (code, text) = validate_stdin(&["--ndjson", "-"], &input);
    assert_eq!(code, Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().any(|l| l.starts_with("<stdin>:3: invalid: /msg_purpose: breaks `enum`")), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("<stdin>:3: invalid: /: breaks `required`") && l.contains("send_to")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.starts_with("<stdin>:4: invalid: /: breaks `json`")), "{text}");
    // JSON output: one object per document.
    let (_, json) = validate_stdin(&["--ndjson", "--format", "json"], &input);
    let records: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.iter().map(|r| r["valid"] == true).collect::<Vec<_>>(), [true, false, false]);
    assert_eq!(records[1]["errors"].as_array().unwrap().len(), 2);
}

/// The schema accepts the ids real senders write; the reference profile holds writers to
/// the reference field table (UUID v4 ids), as a team checking its writers wants.
#[test]
fn the_reference_profile_refuses_what_the_schema_leaves_loose() {
    let placeholder = envelope("sender-uuid...").to_string();
    let (code, text) = validate_stdin(&[], &placeholder);
    assert_eq!(code, Some(0), "the schema accepts it: {text}");
    let (code, text) = validate_stdin(&["--profile", "reference"], &placeholder);
    assert_eq!(code, Some(1));
    assert!(text.contains("/sender_id: breaks `reference/uuid-v4`"), "{text}");
    let conforming = envelope("7c9e6679-7425-40de-944b-e07fc1f90ae7").to_string();
    assert_eq!(validate_stdin(&["--profile", "reference"], &conforming).0, Some(0));
}

/// A team's own spec, outside this repository: its messages by AsyncAPI name.
#[test]
fn validate_checks_documents_against_a_team_s_own_spec() {
    let dir = tempfile::tempdir().unwrap();
    let schema = serde_json::json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://example.invalid/sim/command_v1.schema.json",
        "type": "object",
        "required": ["step_size", "iterations"],
        "properties": {"step_size": {"type": "number"}, "iterations": {"type": "integer", "minimum": 1}}
    });
    std::fs::write(dir.path().join("command_v1.schema.json"), schema.to_string()).unwrap();
    std::fs::write(
        dir.path().join("asyncapi.yaml"),
        "asyncapi: 3.0.0\ninfo: {title: sim, version: 1.0.0}\ncomponents:\n  messages:\n    Command:\n      name: sim_command\n      payload:\n        schema:\n          $ref: ./command_v1.schema.json\n",
    )
    .unwrap();
    let spec = dir.path().join("asyncapi.yaml");
    let spec = spec.to_str().unwrap();
    let ok = r#"{"step_size": 0.01, "iterations": 10}"#;
    assert_eq!(validate_stdin(&["--spec", spec, "--message", "sim_command"], ok).0, Some(0));
    let (code, text) = validate_stdin(&["--spec", spec], r#"{"step_size": "fast", "iterations": 0}"#);
    assert_eq!(code, Some(1));
    assert!(
        text.contains("/step_size: breaks `type`") && text.contains("/iterations: breaks `minimum`"),
        "{text}"
    );
    let (code, _) = validate_stdin(&["--spec", spec, "--message", "nope"], ok);
    assert_eq!(code, Some(1), "an unknown message is an error");
}
