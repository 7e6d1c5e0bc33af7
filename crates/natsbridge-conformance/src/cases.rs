//! The behaviour groups: calls, not envelopes. Every lane gets the same call and must give
//! the same answer.
//!
//! - `send` cases (`writer-api`, `budget`): `smartsend` from API-level inputs (payloads as
//!   the caller holds them, options by their language-neutral names, the server's
//!   `max_payload` to plan for), nothing published; links go to the runner's in-memory Plik.
//!   The answer is an error code, or an envelope whose fields and per-payload transports
//!   must be as expected, and which every lane then decodes to the bytes given.
//! - `fetch` cases: `fetch_with_backoff` against a scripted server (statuses, `Retry-After`,
//!   cut-off and wrong-length bodies, redirects). The runner counts the attempts the server
//!   saw and times the call; the lane answers with the outcome.
//! - `typed` cases: one message value through the package generated from a team spec
//!   (`examples/simulation`), sent (the package's check before publishing) or received (its
//!   check of a payload another sender wrote); only lanes whose `hello` lists the spec under
//!   `capabilities.typed` run them, the others count them `na`.

use std::collections::BTreeSet;
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::blobs::{BlobServer, Step};
use crate::calls;
use crate::compare::{same, verdict_problem};
use crate::lane::Running;
use crate::vectors::{Case, CaseOp};
use crate::writer::Outcome;

/// One case on one lane.
pub(crate) struct Checked {
    pub(crate) group: String,
    pub(crate) lane: String,
    pub(crate) id: String,
    pub(crate) outcome: Outcome,
}

/// Runs every case on every lane.
pub(crate) fn run(
    cases: &[Case],
    running: &mut [Running],
    blobs: &BlobServer,
    known: &BTreeSet<String>,
) -> Result<Vec<Checked>> {
    let mut out = Vec::new();
    for case in cases {
        for w in 0..running.len() {
            let outcome = match case.op {
                CaseOp::Send => send(case, w, running, blobs, known),
                CaseOp::Fetch => fetch(case, &mut running[w], blobs),
                CaseOp::Typed => typed(case, &mut running[w]),
                CaseOp::Start | CaseOp::AllowHost => calls::argument(case, &mut running[w]),
                CaseOp::ReplyError => calls::reply_error(case, w, running),
                CaseOp::DecodeReply => calls::decode_reply(case, &mut running[w]),
                CaseOp::ConnectSettings => calls::connect_settings(case, &mut running[w]),
            }
            .with_context(|| format!("{}: {}", running[w].name, case.id))?;
            out.push(Checked {
                group: case.group.clone(),
                lane: running[w].name.clone(),
                id: case.id.clone(),
                outcome,
            });
        }
    }
    Ok(out)
}

/// The bytes a `send` payload stands for, when the caller's value fixes them (`json` is
/// serialized by each writer its own way).
fn given_bytes(p: &Value) -> Option<Vec<u8>> {
    if let Some(t) = p["text"].as_str() {
        return Some(t.as_bytes().to_vec());
    }
    if let Some(b) = p["base64"].as_str() {
        return base64_simd::STANDARD.decode_to_vec(b).ok();
    }
    let fill = &p["fill"];
    let (byte, count) = (fill["byte"].as_u64()?, fill["count"].as_u64()?);
    Some(vec![u8::try_from(byte).ok()?; usize::try_from(count).ok()?])
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn send(
    case: &Case,
    w: usize,
    running: &mut [Running],
    blobs: &BlobServer,
    known: &BTreeSet<String>,
) -> Result<Outcome> {
    let call = &case.body["send"];
    let expect = &case.body["expect"];
    let payloads = call["payloads"].as_array().cloned().unwrap_or_default();
    let types: Vec<&str> = payloads.iter().filter_map(|p| p["payload_type"].as_str()).collect();
    if !running[w].testee.handles(known, types.iter().copied()) {
        return Ok(Outcome::NotApplicable);
    }
    let request = json!({
        "op": "send",
        "subject": call["subject"],
        "payloads": payloads,
        "options": call.get("options").cloned().unwrap_or_else(|| json!({})),
        "fileserver": blobs.url(),
    });
    let answer = running[w].testee.request(&request)?;
    if let Some(problem) = verdict_problem(&answer, expect) {
        return Ok(Outcome::Checked(vec![problem]));
    }
    if expect["ok"] == false {
        return Ok(Outcome::Checked(Vec::new()));
    }
    let mut problems = Vec::new();
    let Some(text) = answer["text"].as_str() else {
        return Ok(Outcome::Checked(vec![format!("no envelope text: {answer}")]));
    };
    let envelope: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    for (field, want) in expect["fields"].as_object().into_iter().flatten() {
        if !same(&envelope[field], want) {
            problems.push(format!("`{field}` is {}, expected {want}", envelope[field]));
        }
    }
    if let Some(want) = expect.get("transports") {
        let got: Vec<Value> =
            envelope["payloads"].as_array().into_iter().flatten().map(|p| p["transport"].clone()).collect();
        if !same(&Value::Array(got.clone()), want) {
            problems.push(format!("transports {got:?}, expected {want}"));
        }
    }
    // Every lane reads it back to the bytes given.
    for reader in running.iter_mut() {
        if !reader.testee.handles(known, types.iter().copied()) {
            continue;
        }
        let decoded = reader.testee.ask("decode", text)?;
        if decoded["ok"] != true {
            problems.push(format!("{} cannot read it: {decoded}", reader.name));
            continue;
        }
        let got = decoded["payloads"].as_array().cloned().unwrap_or_default();
        if got.len() != payloads.len() {
            problems.push(format!("{} reads {} payloads of {}", reader.name, got.len(), payloads.len()));
            continue;
        }
        for (g, p) in got.iter().zip(&payloads) {
            if let Some(bytes) = given_bytes(p)
                && (g["size"] != json!(bytes.len()) || g["sha256"] != json!(sha256_hex(&bytes)))
            {
                problems.push(format!("{} reads {} as other bytes: {g}", reader.name, p["dataname"]));
            }
            if let Some(j) = p.get("json")
                && !same(&g["json"], j)
            {
                problems.push(format!("{} reads {} as {}", reader.name, p["dataname"], g["json"]));
            }
        }
    }
    Ok(Outcome::Checked(problems))
}

/// A script step from a case: `{"status", "headers", "body", "truncate"}`.
fn step(s: &Value) -> Step {
    Step {
        status: s["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(200),
        headers: s["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        body: s["body"].as_str().unwrap_or_default().as_bytes().to_vec().into(),
        truncate: s["truncate"].as_u64().and_then(|n| usize::try_from(n).ok()),
    }
}

fn fetch(case: &Case, lane: &mut Running, blobs: &BlobServer) -> Result<Outcome> {
    let expect = &case.body["expect"];
    let key = format!("{}/{}", lane.name, case.id);
    blobs.script(&key, case.body["script"].as_array().into_iter().flatten().map(step).collect());
    let request = json!({
        "op": "fetch",
        "url": format!("{}/script/{key}", blobs.url()),
        "options": case.body["options"],
    });
    let started = Instant::now();
    let answer = lane.testee.request(&request)?;
    let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let attempts = blobs.requests(&key);
    let mut problems: Vec<String> = verdict_problem(&answer, expect).into_iter().collect();
    if expect["ok"] == true && problems.is_empty() {
        for k in ["size", "sha256"] {
            if !same(&answer[k], &expect[k]) {
                problems.push(format!("`{k}` {}, expected {}", answer[k], expect[k]));
            }
        }
    }
    if let Some(want) = expect["attempts"].as_u64()
        && attempts as u64 != want
    {
        problems.push(format!("the server saw {attempts} attempt(s), expected {want}"));
    }
    if let Some(min) = expect["min_elapsed_ms"].as_u64()
        && elapsed < min
    {
        problems.push(format!("answered after {elapsed} ms, sooner than {min} ms"));
    }
    if let Some(max) = expect["max_elapsed_ms"].as_u64()
        && elapsed > max
    {
        problems.push(format!("answered after {elapsed} ms, later than {max} ms"));
    }
    Ok(Outcome::Checked(problems))
}

fn typed(case: &Case, lane: &mut Running) -> Result<Outcome> {
    let b = &case.body;
    if !lane.testee.has_typed(b["spec"].as_str().unwrap_or_default()) {
        return Ok(Outcome::NotApplicable);
    }
    let request = json!({
        "op": "typed",
        "spec": b["spec"],
        "message": b["message"],
        "value": b["value"],
        "direction": b["direction"],
    });
    let answer = lane.testee.request(&request)?;
    Ok(Outcome::Checked(verdict_problem(&answer, &b["expect"]).into_iter().collect()))
}
