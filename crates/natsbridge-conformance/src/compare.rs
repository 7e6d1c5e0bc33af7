//! Comparing a testee's answers with a vector's expectations: semantic JSON equality, the
//! three checks of one vector (validate, roundtrip as a relay, decode), and the ledgers of
//! expected failures.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use crate::testee::Testee;
use crate::vectors::Vector;

/// JSON equality where numbers compare as doubles (every lane's common ground).
pub fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// The checks of one vector on one lane (`text`: the vector's with the blob host in);
/// `Ok(valid)` with the lane's validator verdict, or `Err` listing what disagreed.
pub(crate) fn check(
    t: &mut Testee,
    v: &Vector,
    text: &str,
) -> Result<std::result::Result<bool, Vec<String>>> {
    let e = &v.expect;
    let mut problems = Vec::new();
    if let Some(bytes) = &v.bytes {
        let decoded = t.ask_bytes("decode", bytes)?;
        if !decode_matches(&decoded, &e["decode"]) {
            problems.push(format!("decode: {decoded}, expected {}", e["decode"]));
        }
        // A byte vector has no schema verdict: it counts as valid only when it decodes.
        return Ok(if problems.is_empty() { Ok(e["decode"]["ok"] == true) } else { Err(problems) });
    }
    let validated = t.ask("validate", text)?;
    let valid = validated["valid"].as_bool().unwrap_or(false);
    if valid != e["valid"].as_bool().unwrap_or(false) {
        problems.push(format!("validate: {valid}, expected {}", e["valid"]));
    }
    let reader_accepts = e["reader"] == "accept";
    let rt = t.ask("roundtrip", text)?;
    if rt["ok"].as_bool() != Some(reader_accepts) {
        problems.push(format!(
            "reader {}, expected {}",
            if rt["ok"] == true { "accepts" } else { "rejects" },
            e["reader"]
        ));
    } else if reader_accepts && e.get("relay") != Some(&Value::Bool(false)) {
        let input: Value = serde_json::from_str(text)?;
        if !same(&rt["json"], &input) {
            problems.push(format!("relay changed the envelope: {}", rt["json"]));
        }
    }
    let decoded = t.ask("decode", text)?;
    let want = &e["decode"];
    if !decode_matches(&decoded, want) {
        problems.push(format!("decode: {decoded}, expected {want}"));
    }
    Ok(if problems.is_empty() { Ok(valid) } else { Err(problems) })
}

fn decode_matches(got: &Value, want: &Value) -> bool {
    if got["ok"] != want["ok"] {
        return false;
    }
    if want["ok"] == false {
        return got["error"] == want["error"];
    }
    let (Some(g), Some(w)) = (got["payloads"].as_array(), want["payloads"].as_array()) else { return false };
    g.len() == w.len()
        && g.iter().zip(w).all(|(g, w)| {
            let keys: BTreeSet<&String> = g
                .as_object()
                .into_iter()
                .flatten()
                .chain(w.as_object().into_iter().flatten())
                .map(|(k, _)| k)
                .collect();
            keys.into_iter().all(|k| same(&g[k.as_str()], &w[k.as_str()]))
        })
}

/// A lane's known failures: vector id (or `writer/<vector-id>@<reader>`) → reason.
pub type Ledger = BTreeMap<String, String>;

/// Reads a ledger: `vector-id  # reason` lines (a reason is required), `#` comment lines
/// and blank lines.
pub fn read_ledger(path: &Path) -> Result<Ledger> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading the ledger {}", path.display()))?;
    parse_ledger(&text).with_context(|| path.display().to_string())
}

/// Parses the text of a ledger (see [`read_ledger`]).
pub fn parse_ledger(text: &str) -> Result<Ledger> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (id, reason) = line.split_once('#').map(|(a, b)| (a.trim(), b.trim())).unwrap_or((line, ""));
        if reason.is_empty() {
            bail!("`{id}` needs a reason after `#`");
        }
        out.insert(id.to_owned(), reason.to_owned());
    }
    Ok(out)
}

/// Compares an answer's `ok`/`error` with `expect`; the problem when they differ.
pub(crate) fn verdict_problem(answer: &Value, expect: &Value) -> Option<String> {
    if answer["ok"] != expect["ok"] {
        return Some(format!("answered {answer}, expected {expect}"));
    }
    (expect["ok"] == false && answer["error"] != expect["error"])
        .then(|| format!("error {}, expected {}", answer["error"], expect["error"]))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_compare_as_doubles_and_ledgers_need_reasons() {
        assert!(same(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        let l = parse_ledger("# header\n\nx/y  # serde's u64\n").unwrap();
        assert_eq!(l["x/y"], "serde's u64");
        assert!(parse_ledger("x/y\n").is_err());
    }
}
