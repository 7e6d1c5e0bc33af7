//! The call cases beyond sending and fetching: a lane answers them only when its `hello`
//! lists the op under `capabilities.ops`; the others count them `na`.
//!
//! - `start` (`arguments`): a replay start in the one grammar (`all`, `new`, a sequence, a
//!   duration back from the case's fixed `now`, an RFC 3339 time with offset) →
//!   `{"start": "all" | "new" | {"sequence": N} | {"time": "YYYY-MM-DDTHH:MM:SS.mmmZ"}}`.
//! - `allow_host` (`arguments`): an allowed host in its one form → `{"host": "host:port" | "*"}`.
//! - `reply_error` (`replies`): the error response a responder builds for a request and an
//!   error (an application's, a NATSBridge one, or a plain exception its handler raised). The
//!   runner checks its fields, and then every lane that answers `decode_reply` reads it as a
//!   requester would: the same code, application code and `remote` in every language.
//! - `decode_reply` (`replies`): what a requester makes of a reply's bytes (an envelope, an
//!   error response of this version or of 1.0, something else): code, application code,
//!   `remote`, message and the displayed text.
//! - `connect_settings` (`arguments`): the NATS connection settings a runtime resolves from
//!   flags, an environment and the nats CLI's context files (written by the runner under a
//!   scratch directory that stands for `{{ROOT}}`) → `{"settings": {servers, servers_source,
//!   context, auth: {kind, source, user, password, token, path, inline}, tls: {ca, cert, key,
//!   first, required}, shown}}`; `shown` is the settings as the runtime prints them.

use anyhow::Result;
use serde_json::{Value, json};

use crate::compare::{same, verdict_problem};
use crate::lane::Running;
use crate::vectors::Case;
use crate::writer::Outcome;

/// The `now` every `start` case is read at, so durations have one answer.
pub(crate) const NOW: &str = "2026-12-06T10:00:00Z";

/// A `start` or `allow_host` case.
pub(crate) fn argument(case: &Case, lane: &mut Running) -> Result<Outcome> {
    let op = case.op.name();
    if !lane.testee.answers(op) {
        return Ok(Outcome::NotApplicable);
    }
    let b = &case.body;
    let answer = lane.testee.request(&json!({"op": op, "value": b["value"], "now": NOW}))?;
    let expect = &b["expect"];
    let mut problems: Vec<String> = verdict_problem(&answer, expect).into_iter().collect();
    if problems.is_empty() && expect["ok"] == true {
        for key in ["start", "host"] {
            if let Some(want) = expect.get(key)
                && !same(&answer[key], want)
            {
                problems.push(format!("`{key}` is {}, expected {want}", answer[key]));
            }
        }
    }
    Ok(Outcome::Checked(problems))
}

/// A `reply_error` case on lane `w`, read back by every lane that answers `decode_reply`.
pub(crate) fn reply_error(case: &Case, w: usize, running: &mut [Running]) -> Result<Outcome> {
    if !running[w].testee.answers("reply_error") {
        return Ok(Outcome::NotApplicable);
    }
    let b = &case.body;
    let expect = &b["expect"];
    let answer = running[w]
        .testee
        .request(&json!({"op": "reply_error", "request": b["request"], "error": b["error"]}))?;
    if let Some(problem) = verdict_problem(&answer, expect) {
        return Ok(Outcome::Checked(vec![problem]));
    }
    if expect["ok"] == false {
        return Ok(Outcome::Checked(Vec::new()));
    }
    let Some(text) = answer["text"].as_str() else {
        return Ok(Outcome::Checked(vec![format!("no error response text: {answer}")]));
    };
    let Ok(response) = serde_json::from_str::<Value>(text) else {
        return Ok(Outcome::Checked(vec![format!("not JSON: {text}")]));
    };
    let mut problems = Vec::new();
    for (pointer, want) in expect["fields"].as_object().into_iter().flatten() {
        match response.pointer(pointer) {
            Some(got) if same(got, want) => {}
            got => problems.push(format!("`{pointer}` is {got:?}, expected {want}")),
        }
    }
    for pointer in expect["absent"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if let Some(got) = response.pointer(pointer) {
            problems.push(format!("`{pointer}` is {got}, expected it absent"));
        }
    }
    let message = response.pointer("/error/message").and_then(Value::as_str).unwrap_or_default();
    for part in expect["message_contains"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !message.contains(part) {
            problems.push(format!("the message {message:?} does not say {part:?}"));
        }
    }
    for part in expect["message_excludes"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if message.contains(part) {
            problems.push(format!("the message {message:?} says {part:?}"));
        }
    }
    if response["msg_id"] == b["request"]["msg_id"] || !response["msg_id"].is_string() {
        problems.push(format!("msg_id {} is not a new id", response["msg_id"]));
    }
    // Every requester reads it alike.
    let read = json!({
        "ok": false,
        "error": response.pointer("/error/code"),
        "remote": true,
        "application_code": response.pointer("/error/application_code").cloned().unwrap_or(Value::Null),
    });
    let cid = &b["request"]["correlation_id"];
    for reader in running.iter_mut().filter(|r| r.testee.answers("decode_reply")) {
        let got = reader.testee.request(&json!({
            "op": "decode_reply",
            "bytes": base64_simd::STANDARD.encode_to_string(text.as_bytes()),
            "correlation_id": cid,
        }))?;
        for (key, want) in read.as_object().into_iter().flatten() {
            if !same(&got[key], want) {
                problems.push(format!("{} reads `{key}` as {}, expected {want}", reader.name, got[key]));
            }
        }
    }
    Ok(Outcome::Checked(problems))
}

/// A `decode_reply` case.
pub(crate) fn decode_reply(case: &Case, lane: &mut Running) -> Result<Outcome> {
    if !lane.testee.answers("decode_reply") {
        return Ok(Outcome::NotApplicable);
    }
    let b = &case.body;
    let bytes = match &b["reply"] {
        Value::String(text) => text.clone(),
        value => value.to_string(),
    };
    let cid = b.get("correlation_id").unwrap_or(&b["reply"]["correlation_id"]);
    let answer = lane.testee.request(&json!({
        "op": "decode_reply",
        "bytes": base64_simd::STANDARD.encode_to_string(bytes.as_bytes()),
        "correlation_id": cid,
    }))?;
    let expect = &b["expect"];
    let mut problems: Vec<String> = verdict_problem(&answer, expect).into_iter().collect();
    for key in ["remote", "application_code", "message", "display"] {
        if let Some(want) = expect.get(key)
            && !same(&answer[key], want)
        {
            problems.push(format!("`{key}` is {}, expected {want}", answer[key]));
        }
    }
    Ok(Outcome::Checked(problems))
}

/// A `connect_settings` case: its files written under a scratch root, `{{ROOT}}` replaced by
/// that root everywhere, the lane's settings compared field by field with `expect.settings`,
/// the error's `mentions` looked for, and no secret in `shown` or in the message.
pub(crate) fn connect_settings(case: &Case, lane: &mut Running) -> Result<Outcome> {
    if !lane.testee.answers("connect_settings") {
        return Ok(Outcome::NotApplicable);
    }
    let root = Scratch::new(&case.id)?;
    let body: Value = serde_json::from_str(&case.body.to_string().replace("{{ROOT}}", &root.text()))?;
    for (path, text) in body["files"].as_object().into_iter().flatten() {
        let path = std::path::Path::new(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text.as_str().unwrap_or_default())?;
    }
    let answer = lane
        .testee
        .request(&json!({"op": "connect_settings", "flags": body["flags"], "env": body["env"]}))?;
    let expect = &body["expect"];
    let mut problems: Vec<String> = verdict_problem(&answer, expect).into_iter().collect();
    if problems.is_empty() {
        if expect["ok"] == true {
            if !contains(&answer["settings"], &expect["settings"]) {
                problems
                    .push(format!("settings are {}, expected {}", answer["settings"], expect["settings"]));
            }
        } else {
            let message = answer["message"].as_str().unwrap_or_default();
            for m in expect["mentions"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !message.contains(m) {
                    problems.push(format!("the message does not name {m:?}: {message}"));
                }
            }
        }
    }
    let printed = format!("{} {}", answer["settings"]["shown"], answer["message"]);
    for secret in body["secrets"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if printed.contains(secret) {
            problems.push(format!("a secret is shown: {printed}"));
        }
    }
    Ok(Outcome::Checked(problems))
}

/// `got` has every field of `want` (recursively for objects), each the same.
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            w.iter().all(|(k, v)| g.get(k).is_some_and(|x| contains(x, v)))
        }
        _ => same(got, want),
    }
}

/// A scratch directory removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(id: &str) -> Result<Scratch> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name: String = id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let dir = std::env::temp_dir().join(format!(
            "natsbridge-conformance-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    fn text(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
