//! The rule table: how a change to a JSON Schema definition or to the AsyncAPI document
//! affects old readers of new writers' messages (forward) and new readers of old writers'
//! messages (backward), given what the generated readers do:
//!
//! - Rust (typify + serde), TypeScript and Python `parseX` require every required property,
//!   check types, patterns and ranges;
//! - unknown properties are kept when the object is open (`additionalProperties` absent or
//!   `{}`), rejected when it is closed (`false`);
//! - enum types are open for readers (Rust `Unknown(String)`, `parseX` relaxes `enum`), so an
//!   added enum value does not break an old reader; a removed one still breaks new readers
//!   that are handed it by old writers only where the value is needed (strict validation).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value};

/// Whether one direction of communication survives a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Compat {
    Ok,
    Breaks,
}

use Compat::{Breaks, Ok as Fine};

/// One classified change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Change {
    /// Where: `MsgEnvelopeV1.priority`, `asyncapi:channels.command`, …
    pub(crate) location: String,
    /// The rule's identifier, e.g. `required-added`.
    pub(crate) rule: &'static str,
    pub(crate) detail: String,
    /// Old reader ← new writer.
    pub(crate) forward: Compat,
    /// New reader ← old writer.
    pub(crate) backward: Compat,
}

impl Change {
    pub(crate) fn breaking(&self) -> bool {
        self.forward == Breaks || self.backward == Breaks
    }
}

/// Collects changes.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    pub(crate) changes: Vec<Change>,
}

impl Diff {
    pub(crate) fn push(
        &mut self,
        location: impl Into<String>,
        rule: &'static str,
        detail: impl Into<String>,
        forward: Compat,
        backward: Compat,
    ) {
        self.changes.push(Change {
            location: location.into(),
            rule,
            detail: detail.into(),
            forward,
            backward,
        });
    }
}

/// Keywords that only document; changing them changes nothing on the wire.
const DOC_KEYWORDS: &[&str] = &["description", "title", "$comment", "examples", "default", "deprecated"];

fn is_open(schema: &Value) -> bool {
    !matches!(schema.get("additionalProperties"), Some(Value::Bool(false)))
}

fn types_of(schema: &Value) -> BTreeSet<String> {
    match schema.get("type") {
        Some(Value::String(s)) => [s.clone()].into(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => BTreeSet::new(),
    }
}

/// `integer` is a subset of `number`: treat `number` as covering it.
fn covers(wide: &BTreeSet<String>, narrow: &BTreeSet<String>) -> bool {
    narrow.iter().all(|t| wide.contains(t) || (t == "integer" && wide.contains("number")))
}

fn strip_docs(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !DOC_KEYWORDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), strip_docs(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_docs).collect()),
        other => other.clone(),
    }
}

/// Compares two definitions sets (the bundled `definitions` of old and new).
pub(crate) fn diff_definitions(
    old: &BTreeMap<String, Value>,
    new: &BTreeMap<String, Value>,
    roots_old: &[String],
    diff: &mut Diff,
) {
    for (name, o) in old {
        match new.get(name) {
            None if roots_old.contains(name) => diff.push(
                name,
                "message-type-removed",
                format!("message type `{name}` is gone (a renamed type, e.g. _v2, is a new type)"),
                Breaks,
                Breaks,
            ),
            None => diff.push(
                name,
                "type-removed",
                format!("type `{name}` is gone; properties that used it are reported where they changed"),
                Fine,
                Fine,
            ),
            Some(n) => compare(o, n, name, diff),
        }
    }
    for name in new.keys().filter(|n| !old.contains_key(*n)) {
        diff.push(name, "type-added", format!("new type `{name}`"), Fine, Fine);
    }
}

/// Compares two schemas at `loc`, recursively.
pub(crate) fn compare(old: &Value, new: &Value, loc: &str, diff: &mut Diff) {
    if strip_docs(old) == strip_docs(new) {
        return;
    }
    let (o_ref, n_ref) = (old.get("$ref").and_then(Value::as_str), new.get("$ref").and_then(Value::as_str));
    if o_ref != n_ref {
        diff.push(loc, "type-changed", format!("type {} → {}", describe(old), describe(new)), Breaks, Breaks);
        return;
    }
    let (ot, nt) = (types_of(old), types_of(new));
    if ot != nt {
        let (rule, fwd, bwd) = match (covers(&nt, &ot), covers(&ot, &nt)) {
            // New accepts more: new writers may send what old readers refuse.
            (true, false) => ("type-widened", Breaks, Fine),
            // New accepts less: old writers may send what new readers refuse.
            (false, true) => ("type-narrowed", Fine, Breaks),
            _ => ("type-changed", Breaks, Breaks),
        };
        diff.push(loc, rule, format!("type {} → {}", describe(old), describe(new)), fwd, bwd);
        if rule == "type-changed" {
            return;
        }
    }
    compare_enum(old, new, loc, diff);
    compare_const(old, new, loc, diff);
    for kw in ["pattern", "format"] {
        compare_exact_constraint(old, new, loc, kw, diff);
    }
    for kw in ["minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"] {
        compare_bound(old, new, loc, kw, true, diff);
    }
    for kw in ["maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"] {
        compare_bound(old, new, loc, kw, false, diff);
    }
    if let (Some(oi), Some(ni)) = (old.get("items"), new.get("items")) {
        compare(oi, ni, &format!("{loc}[]"), diff);
    }
    if old.get("properties").is_some() || new.get("properties").is_some() {
        compare_object(old, new, loc, diff);
    } else if is_open(old) != is_open(new) {
        compare_openness(old, new, loc, diff);
    }
}

fn describe(s: &Value) -> String {
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    let t = types_of(s);
    if t.is_empty() { "any".into() } else { t.into_iter().collect::<Vec<_>>().join("|") }
}

fn compare_enum(old: &Value, new: &Value, loc: &str, diff: &mut Diff) {
    let values = |s: &Value| -> Option<Vec<Value>> { s.get("enum").and_then(Value::as_array).cloned() };
    match (values(old), values(new)) {
        (Some(o), Some(n)) => {
            for v in n.iter().filter(|v| !o.contains(v)) {
                // Generated readers keep unknown enum values (open enums); writers' strict
                // validation of *their own* output is unaffected.
                diff.push(
                    loc,
                    "enum-value-added",
                    format!("value {v} added (old generated readers keep it as an unknown value)"),
                    Fine,
                    Fine,
                );
            }
            for v in o.iter().filter(|v| !n.contains(v)) {
                diff.push(
                    loc,
                    "enum-value-removed",
                    format!("value {v} removed: new strict validation rejects old writers that send it"),
                    Fine,
                    Breaks,
                );
            }
        }
        (None, Some(_)) => {
            diff.push(loc, "enum-added", "values restricted to a list", Fine, Breaks);
        }
        (Some(_), None) => {
            diff.push(loc, "enum-dropped", "value list removed: any value allowed", Fine, Fine);
        }
        (None, None) => {}
    }
}

fn compare_const(old: &Value, new: &Value, loc: &str, diff: &mut Diff) {
    match (old.get("const"), new.get("const")) {
        (o, n) if o == n => {}
        (None, Some(n)) => diff.push(loc, "const-added", format!("must now be {n}"), Fine, Breaks),
        (Some(o), None) => diff.push(loc, "const-removed", format!("no longer fixed to {o}"), Breaks, Fine),
        (Some(o), Some(n)) => diff.push(loc, "const-changed", format!("{o} → {n}"), Breaks, Breaks),
        (None, None) => {}
    }
}

fn compare_exact_constraint(old: &Value, new: &Value, loc: &str, kw: &str, diff: &mut Diff) {
    match (old.get(kw), new.get(kw)) {
        (o, n) if o == n => {}
        (None, Some(n)) => diff.push(loc, "constraint-tightened", format!("{kw} {n} added"), Fine, Breaks),
        (Some(o), None) => diff.push(loc, "constraint-loosened", format!("{kw} {o} removed"), Breaks, Fine),
        (Some(o), Some(n)) => diff.push(
            loc,
            "constraint-changed",
            format!("{kw} {o} → {n} (neither contains the other in general)"),
            Breaks,
            Breaks,
        ),
        (None, None) => {}
    }
}

/// `lower`: a lower bound (raising it tightens); otherwise an upper bound.
fn compare_bound(old: &Value, new: &Value, loc: &str, kw: &str, lower: bool, diff: &mut Diff) {
    let (o, n) = (old.get(kw).and_then(Value::as_f64), new.get(kw).and_then(Value::as_f64));
    let tightened = match (o, n) {
        (None, None) => return,
        (Some(a), Some(b)) if a == b => return,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(a), Some(b)) => (b > a) == lower,
    };
    let text = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
    let detail = format!("{kw} {} → {}", text(o), text(n));
    if tightened {
        diff.push(loc, "constraint-tightened", detail, Fine, Breaks);
    } else {
        diff.push(loc, "constraint-loosened", detail, Breaks, Fine);
    }
}

fn compare_openness(old: &Value, new: &Value, loc: &str, diff: &mut Diff) {
    if is_open(old) && !is_open(new) {
        diff.push(
            loc,
            "additional-properties-closed",
            "unknown properties are now rejected: relayed or newer fields from old writers break new readers",
            Fine,
            Breaks,
        );
    } else if !is_open(old) && is_open(new) {
        diff.push(
            loc,
            "additional-properties-opened",
            "new writers may send properties old (closed) readers reject",
            Breaks,
            Fine,
        );
    }
}

/// The `required` list of an object schema.
pub(crate) fn required(s: &Value) -> BTreeSet<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn compare_object(old: &Value, new: &Value, loc: &str, diff: &mut Diff) {
    let empty = Map::new();
    let props = |s: &Value| s.get("properties").and_then(Value::as_object).unwrap_or(&empty).clone();
    let (op, np) = (props(old), props(new));
    let (or, nr) = (required(old), required(new));
    let (old_open, new_open) = (is_open(old), is_open(new));

    let mut removed: Vec<&String> = op.keys().filter(|k| !np.contains_key(*k)).collect();
    let mut added: Vec<&String> = np.keys().filter(|k| !op.contains_key(*k)).collect();

    // A removed and an added property with the same schema and requiredness: a rename.
    let mut renames = Vec::new();
    for r in removed.clone() {
        if let Some(pos) = added
            .iter()
            .position(|a| strip_docs(&op[r]) == strip_docs(&np[*a]) && or.contains(r) == nr.contains(*a))
        {
            renames.push((r, added.remove(pos)));
            removed.retain(|x| *x != r);
        }
    }
    for (from, to) in renames {
        diff.push(
            format!("{loc}.{from}"),
            "property-renamed",
            format!("`{from}` renamed to `{to}`: the JSON name is the wire name"),
            Breaks,
            Breaks,
        );
    }
    for name in removed {
        let was_required = or.contains(name);
        diff.push(
            format!("{loc}.{name}"),
            "property-removed",
            format!(
                "{} property removed{}",
                if was_required { "required" } else { "optional" },
                if new_open { "" } else { " from a closed object" }
            ),
            // Old readers require a required property that new writers no longer send.
            if was_required { Breaks } else { Fine },
            // Old writers still send it: kept as unknown when open, rejected when closed.
            if new_open { Fine } else { Breaks },
        );
    }
    for name in added {
        let now_required = nr.contains(name);
        diff.push(
            format!("{loc}.{name}"),
            if now_required { "required-added" } else { "optional-added" },
            format!(
                "{} property added{}",
                if now_required { "required" } else { "optional" },
                if old_open { "" } else { " to a closed object (old readers reject unknown fields)" }
            ),
            if old_open { Fine } else { Breaks },
            // Old writers do not send it.
            if now_required { Breaks } else { Fine },
        );
    }
    for (name, o) in &op {
        let Some(n) = np.get(name) else { continue };
        let at = format!("{loc}.{name}");
        match (or.contains(name), nr.contains(name)) {
            (false, true) => diff.push(&at, "became-required", "optional → required", Fine, Breaks),
            (true, false) => diff.push(&at, "became-optional", "required → optional", Breaks, Fine),
            _ => {}
        }
        compare(o, n, &at, diff);
    }
    if old_open != new_open {
        compare_openness(old, new, loc, diff);
    }
}
