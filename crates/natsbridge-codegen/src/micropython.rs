//! MicroPython: one module of plain constants, `schema_v1.py`, for the small-device codec
//! in `packages/micropython` (no `typing`, no `dataclasses`, no imports: what MicroPython
//! can afford).
//!
//! - every enum's values, as a tuple, and `ENUMS` from each enum's kind name to them;
//! - every constrained string as `(minimum length, steps)` in `STRING_KINDS`, its pattern
//!   as steps `(characters, min, max)` matched greedily left to right (a group's characters
//!   are a nested tuple of steps). MicroPython's `re` has no counted repetition, and greedy
//!   steps are exact for the patterns [`pattern::steps`] accepts (one byte of lookahead
//!   decides every repetition); any other pattern gets `None` (not checked on a device)
//!   and its kind is listed in `UNCHECKED_PATTERNS`;
//! - every free-form object's kind name in `OBJECT_KINDS`;
//! - every struct's fields, in schema order, as `(name, kind, required)`. A kind is a
//!   named type's snake-case name, `string`, `integer`, `nonneg_integer`, `number`,
//!   `boolean`, `any`, or `list:` and the kind of the items.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Model, ScalarRule};
use super::names::{snake, upper_snake};
use super::pattern::{self, Step, StepAtom};
use super::profile::{self, Profile};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "micropython/schema_v1.py", escape = "none")]
struct SchemaView {
    preamble: String,
    enums: Vec<EnumView>,
    enum_map: String,
    strings: Vec<StringView>,
    string_kinds: String,
    object_kinds: String,
    unchecked: String,
    structs: Vec<StructView>,
}

struct EnumView {
    konst: String,
    name: String,
    values: String,
}

struct StringView {
    konst: String,
    pattern: String,
    steps: String,
}

struct StructView {
    konst: String,
    name: String,
    fields: Vec<String>,
}

/// A field's kind, as the codec reads it.
fn kind(ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => snake(n),
        FieldType::String => "string".into(),
        FieldType::Integer { minimum: Some(0) } => "nonneg_integer".into(),
        FieldType::Integer { .. } => "integer".into(),
        FieldType::Number => "number".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::Array(inner) => format!("list:{}", kind(inner)),
        FieldType::Any => "any".into(),
    }
}

/// Steps as the codec reads them: `(characters, min, max)`, a group's characters a nested
/// tuple of steps, an unbounded `max` 2**31.
fn steps_literal(steps: &[Step]) -> String {
    tuple(steps.iter().map(|step| {
        let what = match &step.what {
            StepAtom::Chars(chars) => format!("{chars:?}"),
            StepAtom::Group(inner) => steps_literal(inner),
        };
        format!("({what}, {}, {})", step.min, step.max.map_or("2147483648".to_owned(), |m| m.to_string()))
    }))
}

fn tuple(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.len() {
        1 => format!("({},)", items[0]),
        _ => format!("({})", items.join(", ")),
    }
}

pub(crate) fn generate(
    model: &Model,
    profile: Option<&Profile>,
    out_dir: &str,
) -> Result<Vec<GeneratedFile>> {
    let enums: Vec<EnumView> = model
        .enums()
        .map(|e| EnumView {
            konst: upper_snake(e.name),
            name: e.name.to_owned(),
            values: tuple(e.values.iter().map(|v| format!("{v:?}"))),
        })
        .collect();
    let enum_map = model
        .enums()
        .map(|e| format!("{:?}: {}", snake(e.name), upper_snake(e.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let (mut strings, mut string_kinds, mut object_kinds) = (Vec::new(), Vec::new(), Vec::new());
    let mut unchecked = Vec::new();
    for s in model.scalars() {
        match s.rule {
            ScalarRule::String { pattern, min_length } => {
                let steps = match pattern {
                    None => "None".to_owned(),
                    Some(p) => match pattern::steps(p).map(|s| steps_literal(&s)) {
                        Some(steps) => {
                            let konst = format!("{}_STEPS", upper_snake(s.name));
                            strings.push(StringView { konst: konst.clone(), pattern: p.to_owned(), steps });
                            konst
                        }
                        None => {
                            unchecked.push(format!("{:?}", snake(s.name)));
                            "None".to_owned()
                        }
                    },
                };
                string_kinds.push(format!("{:?}: ({}, {steps})", snake(s.name), min_length.unwrap_or(0)));
            }
            ScalarRule::Map => object_kinds.push(format!("{:?}", snake(s.name))),
            // Only a team's spec has unions; the device codec is the contract's.
            ScalarRule::Union(_) => unchecked.push(format!("{:?}", snake(s.name))),
        }
    }
    let structs = model
        .structs()
        .into_iter()
        .map(|t| StructView {
            konst: format!("{}_FIELDS", upper_snake(t.name)),
            name: t.name.to_owned(),
            fields: t
                .fields
                .iter()
                .map(|f| {
                    format!(
                        "({:?}, {:?}, {})",
                        f.name,
                        kind(&f.ty),
                        if f.required { "True" } else { "False" }
                    )
                })
                .collect(),
        })
        .collect();
    let view = SchemaView {
        preamble: preamble("#", model),
        enums,
        enum_map,
        strings,
        string_kinds: string_kinds.join(", "),
        object_kinds: tuple(object_kinds),
        unchecked: tuple(unchecked),
        structs,
    };
    let mut text = view.render()?;
    if let Some(profile) = profile {
        text.push_str(&profile::python(profile, false)?);
    }
    Ok(vec![GeneratedFile::new(format!("{out_dir}/schema_v1.py"), text)])
}
