//! The writer side of the conformance suite. Every lane's `smartsend` produces envelopes
//! (the `encode` request: payloads as native values in, envelope text out, nothing
//! published) and every lane reads them: each produced envelope must pass all three schema
//! validators and decode, in every lane, to the values the writer was given.
//!
//! The cases are the reader vectors of [`WRITER_GROUPS`] whose payloads all travel direct
//! and decode: their decode expectations are the values handed to the writer and the values
//! every reader must get back. Bytes that a writer serializes its own way (JSON text, Arrow
//! IPC) are compared as values (`json`, `num_rows`, `arrow_schema`); bytes it carries
//! unchanged (text, image, audio, video, binary) by size and sha256 too.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use crate::compare::same;
use crate::lane::Running;
use crate::vectors::Vector;

/// Vector groups whose valid, decodable, all-direct vectors become writer cases.
pub(crate) const WRITER_GROUPS: &[&str] = &["payload-types", "strings"];

/// The correlation and message ids every `encode` asks for (UUIDs, as the schema wants).
const CORRELATION_ID: &str = "0000c0de-0000-4000-8000-00000000c0de";
const MSG_ID: &str = "0000beef-0000-4000-8000-00000000beef";

/// One writer case: the `encode` request and the decode every reader must produce.
pub(crate) struct Case {
    pub(crate) id: String,
    request: Value,
    expect: Vec<Value>,
}

/// The writer cases drawn from `vectors`.
pub(crate) fn cases(vectors: &[Vector]) -> Vec<Case> {
    vectors
        .iter()
        .filter(|v| WRITER_GROUPS.contains(&v.group.as_str()))
        .filter(|v| v.expect["valid"] == true && v.expect["decode"]["ok"] == true)
        .filter_map(|v| {
            let envelope: Value = serde_json::from_str(&v.text).ok()?;
            let carried = envelope["payloads"].as_array()?;
            let expect = v.expect["decode"]["payloads"].as_array()?.clone();
            if carried.len() != expect.len() || carried.iter().any(|p| p["transport"] != "direct") {
                return None;
            }
            let payloads =
                carried.iter().zip(&expect).map(|(p, want)| given(p, want)).collect::<Option<Vec<_>>>()?;
            let request = json!({
                "op": "encode",
                "correlation_id": CORRELATION_ID,
                "msg_id": MSG_ID,
                "payloads": payloads,
            });
            Some(Case { id: format!("writer/{}", v.id), request, expect })
        })
        .collect()
}

/// One payload of an `encode` request: the value as the writer's caller would hold it.
fn given(carried: &Value, want: &Value) -> Option<Value> {
    let kind = want["payload_type"].as_str()?;
    let mut p = json!({"dataname": want["dataname"], "payload_type": kind});
    match kind {
        "text" => p["text"] = want["text"].clone(),
        "dictionary" | "jsontable" => p["json"] = want["json"].clone(),
        _ => p["base64"] = carried["data"].clone(),
    }
    Some(p)
}

/// What a reader's decode of a produced envelope must show for each payload.
fn decode_problems(case: &Case, decoded: &Value) -> Vec<String> {
    if decoded["ok"] != true {
        return vec![format!("decode failed: {decoded}")];
    }
    let Some(got) = decoded["payloads"].as_array() else { return vec!["decode has no payloads".into()] };
    if got.len() != case.expect.len() {
        return vec![format!("{} payloads decoded, {} given", got.len(), case.expect.len())];
    }
    let mut problems = Vec::new();
    for (g, w) in got.iter().zip(&case.expect) {
        let kind = w["payload_type"].as_str().unwrap_or_default();
        let mut keys = vec!["dataname", "payload_type", "transport"];
        keys.extend(match kind {
            "text" => &["text", "size", "sha256"][..],
            "dictionary" => &["json"][..],
            "jsontable" => &["json", "num_rows"][..],
            "arrowtable" => &["num_rows", "arrow_schema"][..],
            _ => &["size", "sha256"][..],
        });
        for k in keys {
            if !same(&g[k], &w[k]) {
                problems.push(format!("{} `{k}`: {} instead of {}", w["dataname"], g[k], w[k]));
            }
        }
    }
    problems
}

/// The outcome of one (writer, reader) pair on one case.
pub(crate) enum Outcome {
    /// The problems found (none: a pass).
    Checked(Vec<String>),
    /// The writer or the reader does not handle a payload type of the case.
    NotApplicable,
}

/// Outcomes per (writer, reader).
type Outcomes = BTreeMap<(String, String), Outcome>;

/// Runs every case through every writer and every reader. Returns, per (case id, writer,
/// reader), the problems found (empty = pass); a writer that cannot encode a case fails it
/// for every reader.
pub(crate) fn run(
    cases: &[Case],
    testees: &mut [Running],
    known: &BTreeSet<String>,
) -> Result<BTreeMap<String, Outcomes>> {
    let mut out: BTreeMap<String, Outcomes> = BTreeMap::new();
    let lanes: Vec<String> = testees.iter().map(|r| r.name.clone()).collect();
    for case in cases {
        let results = out.entry(case.id.clone()).or_default();
        let types: Vec<&str> = case.request["payloads"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["payload_type"].as_str())
            .collect();
        let handled: Vec<bool> =
            testees.iter().map(|r| r.testee.handles(known, types.iter().copied())).collect();
        for w in 0..testees.len() {
            let writer = lanes[w].clone();
            if !handled[w] {
                for r in &lanes {
                    results.insert((writer.clone(), r.clone()), Outcome::NotApplicable);
                }
                continue;
            }
            let answer = testees[w]
                .testee
                .request(&case.request)
                .with_context(|| format!("{writer} encode {}", case.id))?;
            let Some(text) = answer["text"].as_str().filter(|_| answer["ok"] == true).map(str::to_owned)
            else {
                for (r, reader) in lanes.iter().enumerate() {
                    let outcome = if handled[r] {
                        Outcome::Checked(vec![format!("encode failed: {answer}")])
                    } else {
                        Outcome::NotApplicable
                    };
                    results.insert((writer.clone(), reader.clone()), outcome);
                }
                continue;
            };
            let envelope: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let mut ids = Vec::new();
            if envelope["correlation_id"] != CORRELATION_ID || envelope["msg_id"] != MSG_ID {
                ids.push(format!(
                    "the envelope's ids are {} / {}, not the requested ones",
                    envelope["correlation_id"], envelope["msg_id"]
                ));
            }
            let mut first_decode: Option<(String, Value)> = None;
            for (r, reader) in testees.iter_mut().enumerate() {
                if !handled[r] {
                    results.insert((writer.clone(), reader.name.clone()), Outcome::NotApplicable);
                    continue;
                }
                let mut problems = ids.clone();
                if reader.testee.ask("validate", &text)?["valid"] != true {
                    problems.push(format!("{}'s validator rejects it", reader.validator));
                }
                let decoded = reader.testee.ask("decode", &text)?;
                problems.extend(decode_problems(case, &decoded));
                // Every reader must see exactly what the first one saw.
                match &first_decode {
                    None => first_decode = Some((lanes[r].clone(), decoded)),
                    Some((first, seen)) if !same(seen, &decoded) => {
                        problems.push(format!("decodes otherwise than {first}: {decoded}"));
                    }
                    Some(_) => {}
                }
                results.insert((writer.clone(), reader.name.clone()), Outcome::Checked(problems));
            }
        }
    }
    Ok(out)
}
