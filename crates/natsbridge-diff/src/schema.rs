//! The JSON Schema rules: how a change to a payload or header schema affects old readers
//! of new writers' messages (forward) and new readers of old writers' messages (backward),
//! given what the generated readers of every language do:
//!
//! - Rust (typify + serde), TypeScript and Python `parseX` require every required property,
//!   check types, patterns and ranges;
//! - unknown properties are kept when the object is open (`additionalProperties` absent or
//!   `{}`), rejected when it is closed (`false`);
//! - enum types are open for readers (Rust `Unknown(String)`, `parseX` relaxes `enum`): an
//!   added value reaches an old reader as an unknown value, never as an error, so adding
//!   values is compatible. A removed value is a value new readers were written never to
//!   see while old writers still send it: it breaks senders.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::change::Compat::{Breaks, Ok as Fine};
use crate::change::Diff;

/// Named schemas by name (a bundle's `definitions`).
pub(crate) type Defs = BTreeMap<String, Value>;

/// Keywords that only document; changing them changes nothing on the wire.
const DOC_KEYWORDS: &[&str] = &["description", "title", "$comment", "examples", "default", "deprecated"];

/// Both sides' named schemas, and how references are compared.
pub(crate) struct Schemas<'a> {
    pub(crate) old: &'a Defs,
    pub(crate) new: &'a Defs,
    /// Where each named type was written, old and new side (for pointers).
    pub(crate) old_places: Option<&'a BTreeMap<String, String>>,
    pub(crate) new_places: Option<&'a BTreeMap<String, String>>,
    /// Follow `$ref`s and compare what they name (a team's document, whose type names come
    /// from where schemas are written); otherwise a changed `$ref` is a changed type and a
    /// named type is compared once, by name (the envelope contract, whose names are the
    /// contract).
    pub(crate) follow_refs: bool,
    /// Pairs of references being compared (a recursive schema ends here).
    seen: BTreeSet<(String, String)>,
}

fn ref_name(s: &Value) -> Option<&str> {
    s.get("$ref").and_then(Value::as_str).map(|r| r.rsplit('/').next().unwrap_or(r))
}

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

/// The `required` list of an object schema.
pub(crate) fn required(s: &Value) -> BTreeSet<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn describe(s: &Value) -> String {
    if let Some(r) = ref_name(s) {
        return r.to_owned();
    }
    let t = types_of(s);
    if t.is_empty() { "any".into() } else { t.into_iter().collect::<Vec<_>>().join("|") }
}

/// A pointer one level down (`key` escaped as a pointer token).
fn down(ptr: &Option<String>, path: &[&str]) -> Option<String> {
    ptr.as_ref().map(|p| {
        let mut p = p.clone();
        for key in path {
            p.push('/');
            p.push_str(&key.replace('~', "~0").replace('/', "~1"));
        }
        p
    })
}

impl<'a> Schemas<'a> {
    pub(crate) fn new(old: &'a Defs, new: &'a Defs, follow_refs: bool) -> Schemas<'a> {
        Schemas { old, new, old_places: None, new_places: None, follow_refs, seen: BTreeSet::new() }
    }

    /// Compares every named type of the two sides by name; `roots` are the message types
    /// of the old side (their removal removes a message).
    pub(crate) fn diff_definitions(&mut self, roots: &[String], diff: &mut Diff) {
        let (old, new) = (self.old, self.new);
        for (name, o) in old {
            match new.get(name) {
                None if roots.contains(name) => diff.push(
                    name,
                    None,
                    "message-type-removed",
                    format!("message type `{name}` is gone (a renamed type, e.g. _v2, is a new type)"),
                    Breaks,
                    Breaks,
                ),
                None => diff.push(
                    name,
                    None,
                    "type-removed",
                    format!("type `{name}` is gone; properties that used it are reported where they changed"),
                    Fine,
                    Fine,
                ),
                Some(n) => self.compare(o, n, name, None, diff),
            }
        }
        for name in new.keys().filter(|n| !old.contains_key(*n)) {
            diff.push(name, None, "type-added", format!("new type `{name}`"), Fine, Fine);
        }
    }

    /// Compares the named types `old` and `new` (a message's payload types).
    pub(crate) fn compare_named(&mut self, old: &str, new: &str, loc: &str, diff: &mut Diff) {
        let r = |n: &str| serde_json::json!({ "$ref": format!("#/definitions/{n}") });
        self.compare(&r(old), &r(new), loc, None, diff);
    }

    /// Compares two schemas at `loc` (pointer `ptr`), recursively.
    pub(crate) fn compare(
        &mut self,
        old: &Value,
        new: &Value,
        loc: &str,
        ptr: Option<String>,
        diff: &mut Diff,
    ) {
        if self.follow_refs && (old.get("$ref").is_some() || new.get("$ref").is_some()) {
            return self.compare_referred(old, new, loc, ptr, diff);
        }
        // Equal text is an equal schema only when references are compared by name: followed,
        // the same `$ref` can name a changed type.
        if !self.follow_refs && strip_docs(old) == strip_docs(new) {
            return;
        }
        let (o_ref, n_ref) = (ref_name(old), ref_name(new));
        if o_ref != n_ref {
            let detail = format!("type {} → {}", describe(old), describe(new));
            diff.push(loc, ptr, "type-changed", detail, Breaks, Breaks);
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
            diff.push(
                loc,
                ptr.clone(),
                rule,
                format!("type {} → {}", describe(old), describe(new)),
                fwd,
                bwd,
            );
            if rule == "type-changed" {
                return;
            }
        }
        compare_enum(old, new, loc, &ptr, diff);
        compare_const(old, new, loc, &ptr, diff);
        for kw in ["pattern", "format"] {
            compare_exact_constraint(old, new, loc, &ptr, kw, diff);
        }
        for kw in ["minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"] {
            compare_bound(old, new, loc, &ptr, kw, true, diff);
        }
        for kw in ["maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"] {
            compare_bound(old, new, loc, &ptr, kw, false, diff);
        }
        if let (Some(oi), Some(ni)) = (old.get("items"), new.get("items")) {
            self.compare(oi, ni, &format!("{loc}[]"), down(&ptr, &["items"]), diff);
        }
        if old.get("properties").is_some() || new.get("properties").is_some() {
            self.compare_object(old, new, loc, &ptr, diff);
        } else if is_open(old) != is_open(new) {
            compare_openness(old, new, loc, &ptr, diff);
        }
    }

    /// A `$ref` on either side: compare what the references name.
    fn compare_referred(
        &mut self,
        old: &Value,
        new: &Value,
        loc: &str,
        ptr: Option<String>,
        diff: &mut Diff,
    ) {
        let (o_ref, n_ref) = (ref_name(old), ref_name(new));
        let o = match o_ref {
            Some(name) => self.old.get(name).cloned().unwrap_or(Value::Null),
            None => old.clone(),
        };
        let n = match n_ref {
            Some(name) => self.new.get(name).cloned().unwrap_or(Value::Null),
            None => new.clone(),
        };
        if let (Some(a), Some(b)) = (o_ref, n_ref)
            && !self.seen.insert((a.to_owned(), b.to_owned()))
        {
            return;
        }
        // The pointer follows the new side's definition (the old one's when it is gone).
        let ptr = n_ref
            .and_then(|n| self.new_places.and_then(|p| p.get(n)).cloned())
            .or_else(|| o_ref.and_then(|o| self.old_places.and_then(|p| p.get(o)).cloned()))
            .or(ptr);
        self.compare(&o, &n, loc, ptr, diff);
    }

    fn compare_object(&mut self, old: &Value, new: &Value, loc: &str, ptr: &Option<String>, diff: &mut Diff) {
        let empty = Map::new();
        let props = |s: &Value| s.get("properties").and_then(Value::as_object).unwrap_or(&empty).clone();
        let (op, np) = (props(old), props(new));
        let (or, nr) = (required(old), required(new));
        let (old_open, new_open) = (is_open(old), is_open(new));
        let at = |name: &str| down(ptr, &["properties", name]);

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
                at(to),
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
                ptr.clone(),
                "property-removed",
                format!(
                    "{} property `{name}` removed{}",
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
                at(name),
                if now_required { "required-added" } else { "optional-added" },
                format!(
                    "{} property `{name}` added{}",
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
            let loc = format!("{loc}.{name}");
            match (or.contains(name), nr.contains(name)) {
                (false, true) => {
                    diff.push(&loc, at(name), "became-required", "optional → required", Fine, Breaks)
                }
                (true, false) => {
                    diff.push(&loc, at(name), "became-optional", "required → optional", Breaks, Fine)
                }
                _ => {}
            }
            self.compare(o, n, &loc, at(name), diff);
        }
        if old_open != new_open {
            compare_openness(old, new, loc, ptr, diff);
        }
    }
}

fn compare_enum(old: &Value, new: &Value, loc: &str, ptr: &Option<String>, diff: &mut Diff) {
    let values = |s: &Value| -> Option<Vec<Value>> { s.get("enum").and_then(Value::as_array).cloned() };
    match (values(old), values(new)) {
        (Some(o), Some(n)) => {
            for v in n.iter().filter(|v| !o.contains(v)) {
                diff.push(
                    loc,
                    ptr.clone(),
                    "enum-value-added",
                    format!("value {v} added (old generated readers keep it as an unknown value)"),
                    Fine,
                    Fine,
                );
            }
            for v in o.iter().filter(|v| !n.contains(v)) {
                diff.push(
                    loc,
                    ptr.clone(),
                    "enum-value-removed",
                    format!("value {v} removed: old writers still send it, new readers were written never to see it"),
                    Fine,
                    Breaks,
                );
            }
        }
        (None, Some(_)) => {
            diff.push(loc, ptr.clone(), "enum-added", "values restricted to a list", Fine, Breaks)
        }
        (Some(_), None) => {
            diff.push(loc, ptr.clone(), "enum-dropped", "value list removed: any value allowed", Fine, Fine);
        }
        (None, None) => {}
    }
}

fn compare_const(old: &Value, new: &Value, loc: &str, ptr: &Option<String>, diff: &mut Diff) {
    let p = ptr.clone();
    match (old.get("const"), new.get("const")) {
        (o, n) if o == n => {}
        (None, Some(n)) => diff.push(loc, p, "const-added", format!("must now be {n}"), Fine, Breaks),
        (Some(o), None) => {
            diff.push(loc, p, "const-removed", format!("no longer fixed to {o}"), Breaks, Fine)
        }
        (Some(o), Some(n)) => diff.push(loc, p, "const-changed", format!("{o} → {n}"), Breaks, Breaks),
        (None, None) => {}
    }
}

fn compare_exact_constraint(
    old: &Value,
    new: &Value,
    loc: &str,
    ptr: &Option<String>,
    kw: &str,
    diff: &mut Diff,
) {
    let p = ptr.clone();
    match (old.get(kw), new.get(kw)) {
        (o, n) if o == n => {}
        (None, Some(n)) => diff.push(loc, p, "constraint-tightened", format!("{kw} {n} added"), Fine, Breaks),
        (Some(o), None) => {
            diff.push(loc, p, "constraint-loosened", format!("{kw} {o} removed"), Breaks, Fine)
        }
        (Some(o), Some(n)) => diff.push(
            loc,
            p,
            "constraint-changed",
            format!("{kw} {o} → {n} (neither contains the other in general)"),
            Breaks,
            Breaks,
        ),
        (None, None) => {}
    }
}

/// `lower`: a lower bound (raising it tightens); otherwise an upper bound.
fn compare_bound(
    old: &Value,
    new: &Value,
    loc: &str,
    ptr: &Option<String>,
    kw: &str,
    lower: bool,
    diff: &mut Diff,
) {
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
        diff.push(loc, ptr.clone(), "constraint-tightened", detail, Fine, Breaks);
    } else {
        diff.push(loc, ptr.clone(), "constraint-loosened", detail, Breaks, Fine);
    }
}

fn compare_openness(old: &Value, new: &Value, loc: &str, ptr: &Option<String>, diff: &mut Diff) {
    if is_open(old) && !is_open(new) {
        diff.push(
            loc,
            ptr.clone(),
            "additional-properties-closed",
            "unknown properties are now rejected: relayed or newer fields from old writers break new readers",
            Fine,
            Breaks,
        );
    } else if !is_open(old) && is_open(new) {
        diff.push(
            loc,
            ptr.clone(),
            "additional-properties-opened",
            "new writers may send properties old (closed) readers reject",
            Breaks,
            Fine,
        );
    }
}
