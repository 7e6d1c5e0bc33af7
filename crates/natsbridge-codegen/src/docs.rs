//! Reference docs: one Markdown page of field tables, from the schema's descriptions.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Model, ScalarRule};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "docs/wire-types.md", escape = "none")]
struct PageView {
    preamble: String,
    hash: String,
    structs: Vec<StructView>,
    enums: Vec<EnumView>,
    scalars: Vec<ScalarView>,
}

struct StructView {
    name: String,
    description: String,
    rows: Vec<Row>,
    unknown_fields: String,
}

struct Row {
    name: String,
    ty: String,
    required: &'static str,
    description: String,
}

struct EnumView {
    name: String,
    description: String,
    values: String,
}

struct ScalarView {
    name: String,
    description: String,
    rule: String,
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn md_type(ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => format!("[{n}](#{})", n.to_lowercase()),
        FieldType::String => "string".into(),
        FieldType::Integer { minimum: Some(m) } => format!("integer ≥ {m}"),
        FieldType::Integer { minimum: None } => "integer".into(),
        FieldType::Number => "number".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::Array(inner) => format!("array of {}", md_type(inner)),
        FieldType::Any => "any".into(),
    }
}

pub(crate) fn generate(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let structs = model
        .structs()
        .into_iter()
        .map(|s| StructView {
            name: s.name.to_owned(),
            description: s.description.to_owned(),
            unknown_fields: if s.open {
                "Unknown properties are allowed and kept when relaying.".into()
            } else {
                "Unknown properties are rejected.".into()
            },
            rows: s
                .fields
                .iter()
                .map(|f| Row {
                    name: f.name.clone(),
                    ty: md_type(&f.ty),
                    required: if f.required { "yes" } else { "no" },
                    description: cell(&f.description),
                })
                .collect(),
        })
        .collect();
    let enums = model
        .enums()
        .map(|e| EnumView {
            name: e.name.to_owned(),
            description: e.description.to_owned(),
            values: e.values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let scalars = model
        .scalars()
        .map(|s| ScalarView {
            name: s.name.to_owned(),
            description: s.description.to_owned(),
            rule: match s.rule {
                ScalarRule::String { pattern: Some(p), .. } => format!("string matching `{p}`"),
                ScalarRule::String { pattern: None, min_length: Some(m) } => {
                    format!("string of at least {m} character(s)")
                }
                ScalarRule::String { pattern: None, min_length: None } => "string".into(),
                ScalarRule::Map => "JSON object, any keys".into(),
                ScalarRule::Union(variants) => format!("one of {} types", variants.len()),
            },
        })
        .collect();
    let page = PageView {
        preamble: preamble("<!--", model).trim_end().to_owned() + " -->\n",
        hash: model.schema_hash.clone(),
        structs,
        enums,
        scalars,
    }
    .render()?;
    Ok(vec![GeneratedFile::new(format!("{out_dir}/wire-types.md"), page)])
}
