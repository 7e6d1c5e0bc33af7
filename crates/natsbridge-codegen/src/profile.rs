//! The runtime profile (`schema/runtime_profile_v1.json`): every constant and rule a
//! runtime applies beyond the wire shapes — header names, environment variables, defaults,
//! limits, the download schedule and its retryable statuses, and which error code each
//! situation gets. It is written into every runtime (Rust, TypeScript, Python, MicroPython,
//! Julia) and into a docs page, so a rule added here reaches them all by `cargo xtask
//! codegen` alone; xtask's tidy test keeps the hand-written runtimes from spelling any of
//! these values themselves.
//!
//! Every constant has the same name in every language (`HEADER_MSG_ID`,
//! `DEFAULT_SIZE_THRESHOLD`, …); a status rule `X_<NAME>_STATUSES` also gets a predicate,
//! `is_<name>_status` (`isNameStatus` in TypeScript).

use anyhow::{Context, Result, bail, ensure, format_err};
use askama::Template;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::GeneratedFile;
use crate::model::Model;
use crate::names::{camel, rust_type_name};

/// The profile file's name in a schema directory.
pub const FILE_NAME: &str = "runtime_profile_v1.json";

/// The parsed, checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// Hex SHA-256 of the profile file's bytes.
    pub hash: String,
    /// The groups, in file order.
    pub groups: Vec<Group>,
}

/// One group of constants (`headers`, `limits`, …).
#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub doc: String,
    pub constants: Vec<Constant>,
}

/// One constant.
#[derive(Debug, Clone)]
pub struct Constant {
    pub name: String,
    pub doc: String,
    pub value: ConstValue,
}

/// A constant's kind and value.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstValue {
    Str(String),
    Bool(bool),
    /// A number of `unit`s.
    Int(Unit, u64),
    /// A value of the schema's `ErrorCode`.
    ErrorCode(String),
    /// HTTP statuses: listed ones, inclusive ranges, exceptions.
    Statuses {
        statuses: Vec<u16>,
        ranges: Vec<(u16, u16)>,
        except: Vec<u16>,
    },
    /// Strings by string, in file order (`keys` names the enum whose values they must be).
    StringMap(Vec<(String, String)>),
    /// Milliseconds by name, in file order (e.g. duration units).
    MsMap(Vec<(String, u64)>),
}

/// What an integer constant counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Integer,
    Bytes,
    Count,
    Ms,
    Seconds,
}

impl Unit {
    fn from_kind(kind: &str) -> Option<Unit> {
        Some(match kind {
            "integer" => Unit::Integer,
            "bytes" => Unit::Bytes,
            "count" => Unit::Count,
            "ms" => Unit::Ms,
            "seconds" => Unit::Seconds,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Unit::Integer => "",
            Unit::Bytes => " bytes",
            Unit::Count => "",
            Unit::Ms => " ms",
            Unit::Seconds => " s",
        }
    }
}

impl Profile {
    /// Parses and checks the profile text: names are unique `UPPER_SNAKE`, kinds known,
    /// error codes values of the model's `ErrorCode`.
    pub fn parse(text: &str, model: &Model) -> Result<Profile> {
        let root: Value = serde_json::from_str(text).context("parsing the runtime profile")?;
        let error_codes: Vec<&str> = model
            .enums()
            .find(|e| e.name == "ErrorCode")
            .map(|e| e.values.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut names = std::collections::BTreeSet::new();
        let mut groups = Vec::new();
        let str_of = |v: &Value, key: &str, at: &str| -> Result<String> {
            v.get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format_err!("{at}: `{key}` must be a string"))
        };
        for g in root
            .get("groups")
            .and_then(Value::as_array)
            .ok_or_else(|| format_err!("`groups` must be an array"))?
        {
            let name = str_of(g, "name", "a group")?;
            let doc = str_of(g, "doc", &name)?;
            let mut constants = Vec::new();
            for c in g
                .get("constants")
                .and_then(Value::as_array)
                .ok_or_else(|| format_err!("{name}: `constants` must be an array"))?
            {
                let cname = str_of(c, "name", &name)?;
                ensure!(
                    !cname.is_empty()
                        && cname
                            .chars()
                            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ch == '_'),
                    "{cname}: a constant's name is UPPER_SNAKE"
                );
                ensure!(names.insert(cname.clone()), "{cname}: defined twice");
                let doc = str_of(c, "doc", &cname)?;
                let kind = str_of(c, "kind", &cname)?;
                let v = c.get("value").ok_or_else(|| format_err!("{cname}: no `value`"))?;
                let value = match kind.as_str() {
                    "string" => ConstValue::Str(
                        v.as_str().ok_or_else(|| format_err!("{cname}: a string"))?.to_owned(),
                    ),
                    "boolean" => {
                        ConstValue::Bool(v.as_bool().ok_or_else(|| format_err!("{cname}: a boolean"))?)
                    }
                    "error_code" => {
                        let code = v.as_str().ok_or_else(|| format_err!("{cname}: an error code"))?;
                        ensure!(error_codes.contains(&code), "{cname}: `{code}` is not a value of ErrorCode");
                        ConstValue::ErrorCode(code.to_owned())
                    }
                    "statuses" => statuses(v).with_context(|| cname.clone())?,
                    "string_map" => {
                        let map =
                            v.as_object().ok_or_else(|| format_err!("{cname}: an object of strings"))?;
                        let mut pairs = Vec::new();
                        for (k, s) in map {
                            let s = s.as_str().ok_or_else(|| format_err!("{cname}.{k}: a string"))?;
                            pairs.push((k.clone(), s.to_owned()));
                        }
                        if let Some(keys) = c.get("keys").and_then(Value::as_str) {
                            let e = model
                                .enums()
                                .find(|e| e.name == keys)
                                .ok_or_else(|| format_err!("{cname}: `keys` names no enum `{keys}`"))?;
                            let got: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
                            let want: Vec<&str> = e.values.iter().map(String::as_str).collect();
                            ensure!(
                                got == want,
                                "{cname}: its keys must be the values of {keys}, in order: {want:?}"
                            );
                        }
                        ConstValue::StringMap(pairs)
                    }
                    "ms_map" => {
                        let map =
                            v.as_object().ok_or_else(|| format_err!("{cname}: an object of integers"))?;
                        let mut pairs = Vec::new();
                        for (k, n) in map {
                            let n = n
                                .as_u64()
                                .ok_or_else(|| format_err!("{cname}.{k}: a non-negative integer"))?;
                            pairs.push((k.clone(), n));
                        }
                        ConstValue::MsMap(pairs)
                    }
                    other => match Unit::from_kind(other) {
                        Some(unit) => ConstValue::Int(
                            unit,
                            v.as_u64().ok_or_else(|| format_err!("{cname}: a non-negative integer"))?,
                        ),
                        None => bail!("{cname}: unknown kind `{other}`"),
                    },
                };
                if matches!(value, ConstValue::Statuses { .. }) {
                    ensure!(cname.ends_with("_STATUSES"), "{cname}: a status rule's name ends in _STATUSES");
                }
                constants.push(Constant { name: cname, doc, value });
            }
            groups.push(Group { name, doc, constants });
        }
        Ok(Profile { hash: hex::encode(Sha256::digest(text.as_bytes())), groups })
    }

    /// Every constant, in file order.
    pub fn constants(&self) -> impl Iterator<Item = &Constant> {
        self.groups.iter().flat_map(|g| g.constants.iter())
    }

    fn preamble(&self, comment: &str) -> String {
        format!(
            "{comment} Generated by `cargo xtask codegen` from schema/{FILE_NAME} (sha256 {}); do not edit by hand.\n",
            self.hash
        )
    }
}

fn statuses(v: &Value) -> Result<ConstValue> {
    let list = |key: &str| -> Result<Vec<&Value>> {
        Ok(match v.get(key) {
            None => Vec::new(),
            Some(a) => a.as_array().ok_or_else(|| format_err!("`{key}` must be an array"))?.iter().collect(),
        })
    };
    let status = |x: &Value| -> Result<u16> {
        x.as_u64()
            .filter(|s| (100..=599).contains(s))
            .map(|s| s as u16)
            .ok_or_else(|| format_err!("{x} is not an HTTP status"))
    };
    let mut ranges = Vec::new();
    for r in list("ranges")? {
        match r.as_array().map(Vec::as_slice) {
            Some([a, b]) => ranges.push((status(a)?, status(b)?)),
            _ => bail!("a range is [first, last]"),
        }
    }
    Ok(ConstValue::Statuses {
        statuses: list("statuses")?.into_iter().map(status).collect::<Result<_>>()?,
        ranges,
        except: list("except")?.into_iter().map(status).collect::<Result<_>>()?,
    })
}

/// `FETCH_RETRYABLE_STATUSES` → `retryable`: the predicate's word(s).
fn predicate_words(name: &str) -> String {
    let stem = name.strip_suffix("_STATUSES").unwrap_or(name);
    let stem = stem.split_once('_').map_or(stem, |(_, rest)| rest);
    stem.to_ascii_lowercase()
}

fn list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// A number with `_` thousands separators (Rust, TypeScript, Python and Julia read them).
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    if digits.len() <= 4 {
        return digits;
    }
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(ch);
    }
    out
}

struct ConstView {
    name: String,
    doc: Vec<String>,
    /// The declaration's type (Rust, TypeScript annotation, Python), value per language.
    rust_ty: String,
    rust: String,
    ts: String,
    py: String,
    /// MicroPython: as Python, numbers without `_` separators.
    mp: String,
    jl: String,
    md: String,
}

struct PredicateView {
    konst: String,
    snake: String,
    camel: String,
}

struct GroupView {
    name: String,
    doc: String,
    constants: Vec<ConstView>,
}

fn views(profile: &Profile) -> (Vec<GroupView>, Vec<PredicateView>) {
    let mut predicates = Vec::new();
    let groups = profile
        .groups
        .iter()
        .map(|g| GroupView {
            name: g.name.clone(),
            doc: g.doc.clone(),
            constants: g
                .constants
                .iter()
                .map(|c| {
                    if let ConstValue::Statuses { .. } = c.value {
                        let words = predicate_words(&c.name);
                        predicates.push(PredicateView {
                            konst: c.name.clone(),
                            snake: format!("is_{words}_status"),
                            camel: camel(&format!("is_{words}_status")),
                        });
                    }
                    const_view(c)
                })
                .collect(),
        })
        .collect();
    (groups, predicates)
}

fn const_view(c: &Constant) -> ConstView {
    let doc = c.doc.lines().map(str::to_owned).collect();
    let (rust_ty, rust, ts, py, jl, md) = match &c.value {
        ConstValue::Str(s) => {
            let q = format!("{s:?}");
            ("&str".into(), q.clone(), q.clone(), q.clone(), q, format!("`{s}`"))
        }
        ConstValue::Bool(b) => {
            let py = if *b { "True" } else { "False" };
            ("bool".into(), b.to_string(), b.to_string(), py.into(), b.to_string(), format!("`{b}`"))
        }
        ConstValue::Int(unit, n) => {
            let ty = match unit {
                Unit::Count => "usize",
                _ => "u64",
            };
            let g = grouped(*n);
            (ty.into(), g.clone(), g.clone(), g.clone(), g, format!("{}{}", grouped_md(*n), unit.label()))
        }
        ConstValue::ErrorCode(code) => (
            "ErrorCode".into(),
            format!("ErrorCode::{}", rust_type_name(code)),
            format!("{code:?} as const"),
            format!("{code:?}"),
            format!("{code:?}"),
            format!("`{code}`"),
        ),
        ConstValue::StringMap(pairs) => {
            let items = |sep: &str| list(pairs.iter().map(|(k, v)| format!("{k:?}{sep}{v:?}")));
            (
                "&[(&str, &str)]".into(),
                format!("&[{}]", list(pairs.iter().map(|(k, v)| format!("({k:?}, {v:?})")))),
                format!("{{ {} }} as const", items(": ")),
                format!("{{{}}}", items(": ")),
                format!("Dict({})", items(" => ")),
                list(pairs.iter().map(|(k, v)| format!("`{k}` {v}"))),
            )
        }
        ConstValue::MsMap(pairs) => {
            let items = |sep: &str| list(pairs.iter().map(|(k, v)| format!("{k:?}{sep}{}", grouped(*v))));
            (
                "&[(&str, u64)]".into(),
                format!("&[{}]", list(pairs.iter().map(|(k, v)| format!("({k:?}, {})", grouped(*v))))),
                format!("{{ {} }} as const", items(": ")),
                format!("{{{}}}", items(": ")),
                format!("Dict({})", items(" => ")),
                list(pairs.iter().map(|(k, v)| format!("`{k}` {} ms", grouped_md(*v)))),
            )
        }
        ConstValue::Statuses { statuses, ranges, except } => {
            let nums = |v: &[u16]| list(v.iter().map(u16::to_string));
            let pairs = |sep: &str, open: &str, close: &str| {
                list(ranges.iter().map(|(a, b)| format!("{open}{a}{sep}{b}{close}")))
            };
            let py_tuple = |s: String, n: usize| if n == 1 { format!("({s},)") } else { format!("({s})") };
            let mut md = nums(statuses);
            for (a, b) in ranges {
                md.push_str(&format!(", {a}–{b}"));
            }
            if !except.is_empty() {
                md.push_str(&format!(" except {}", nums(except)));
            }
            (
                "StatusRule".into(),
                format!(
                    "StatusRule {{ statuses: &[{}], ranges: &[{}], except: &[{}] }}",
                    nums(statuses),
                    pairs(", ", "(", ")"),
                    nums(except)
                ),
                format!(
                    "{{ statuses: [{}], ranges: [{}], except: [{}] }}",
                    nums(statuses),
                    pairs(", ", "[", "]"),
                    nums(except)
                ),
                format!(
                    "StatusRule({}, {}, {})",
                    py_tuple(nums(statuses), statuses.len()),
                    py_tuple(pairs(", ", "(", ")"), ranges.len()),
                    py_tuple(nums(except), except.len())
                ),
                format!(
                    "(statuses = ({},), ranges = ({},), except = ({},))",
                    nums(statuses),
                    pairs(", ", "(", ")"),
                    nums(except)
                ),
                md,
            )
        }
    };
    let mp = match &c.value {
        ConstValue::Int(_, n) => n.to_string(),
        ConstValue::MsMap(pairs) => format!("{{{}}}", list(pairs.iter().map(|(k, v)| format!("{k:?}: {v}")))),
        _ => py.clone(),
    };
    ConstView { name: c.name.clone(), doc, rust_ty, rust, ts, py, mp, jl, md }
}

/// `500000` → `500 000` (the docs' style).
fn grouped_md(n: u64) -> String {
    grouped(n).replace('_', " ")
}

#[derive(Template)]
#[template(path = "profile/profile.rs", escape = "none")]
struct RustView {
    preamble: String,
    groups: Vec<GroupView>,
    predicates: Vec<PredicateView>,
}

#[derive(Template)]
#[template(path = "profile/profile.ts", escape = "none")]
struct TsView {
    preamble: String,
    groups: Vec<GroupView>,
    predicates: Vec<PredicateView>,
}

#[derive(Template)]
#[template(path = "profile/profile.py", escape = "none")]
struct PyView {
    preamble: String,
    typed: bool,
    groups: Vec<GroupView>,
    predicates: Vec<PredicateView>,
}

#[derive(Template)]
#[template(path = "profile/profile.jl", escape = "none")]
struct JlView {
    preamble: String,
    groups: Vec<GroupView>,
    predicates: Vec<PredicateView>,
}

#[derive(Template)]
#[template(path = "profile/runtime-profile.md", escape = "none")]
struct DocsView {
    preamble: String,
    hash: String,
    groups: Vec<GroupView>,
}

/// `profile.rs` of the Rust types crate (unformatted).
pub(crate) fn rust(profile: &Profile) -> Result<String> {
    let (groups, predicates) = views(profile);
    Ok(RustView { preamble: profile.preamble("//"), groups, predicates }.render()?)
}

/// `profile.ts` of the TypeScript types package.
pub(crate) fn typescript(profile: &Profile) -> Result<String> {
    let (groups, predicates) = views(profile);
    Ok(TsView { preamble: profile.preamble("//"), groups, predicates }.render()?)
}

/// `profile.py` of the Python types package (`typed`), or the MicroPython section
/// appended to `schema_v1.py` (no `typing`).
pub(crate) fn python(profile: &Profile, typed: bool) -> Result<String> {
    let (groups, predicates) = views(profile);
    Ok(PyView { preamble: profile.preamble("#"), typed, groups, predicates }.render()?)
}

/// `profile.jl`, included by the Julia module.
pub(crate) fn julia(profile: &Profile) -> Result<String> {
    let (groups, predicates) = views(profile);
    Ok(JlView { preamble: profile.preamble("#"), groups, predicates }.render()?)
}

/// `docs/reference/runtime-profile.md`.
pub(crate) fn docs(profile: &Profile, out_dir: &str) -> Result<GeneratedFile> {
    let (groups, _) = views(profile);
    let page = DocsView {
        preamble: profile.preamble("<!--").trim_end().to_owned() + " -->",
        hash: profile.hash.clone(),
        groups,
    };
    Ok(GeneratedFile::new(format!("{out_dir}/runtime-profile.md"), page.render()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicate_names_and_grouping() {
        assert_eq!(predicate_words("FETCH_RETRYABLE_STATUSES"), "retryable");
        assert_eq!(grouped(500_000), "500_000");
        assert_eq!(grouped(1024), "1024");
        assert_eq!(grouped(4_294_967_296), "4_294_967_296");
    }
}
