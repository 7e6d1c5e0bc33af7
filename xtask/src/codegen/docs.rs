//! Reference docs: one Markdown page of field tables, from the schema's descriptions.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Model, TypeKind};
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
        .map(|t| {
            let TypeKind::Struct { fields, open } = &t.kind else { unreachable!() };
            StructView {
                name: t.name.clone(),
                description: t.description.clone(),
                unknown_fields: if *open {
                    "Unknown properties are allowed and kept when relaying.".into()
                } else {
                    "Unknown properties are rejected.".into()
                },
                rows: fields
                    .iter()
                    .map(|f| Row {
                        name: f.name.clone(),
                        ty: md_type(&f.ty),
                        required: if f.required { "yes" } else { "no" },
                        description: cell(&f.description),
                    })
                    .collect(),
            }
        })
        .collect();
    let mut enums = Vec::new();
    let mut scalars = Vec::new();
    for t in model.types.values() {
        match &t.kind {
            TypeKind::Enum { values } => enums.push(EnumView {
                name: t.name.clone(),
                description: t.description.clone(),
                values: values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", "),
            }),
            TypeKind::String { pattern, min_length } => scalars.push(ScalarView {
                name: t.name.clone(),
                description: t.description.clone(),
                rule: match (pattern, min_length) {
                    (Some(p), _) => format!("string matching `{p}`"),
                    (None, Some(m)) => format!("string of at least {m} character(s)"),
                    (None, None) => "string".into(),
                },
            }),
            TypeKind::Map => scalars.push(ScalarView {
                name: t.name.clone(),
                description: t.description.clone(),
                rule: "JSON object, any keys".into(),
            }),
            TypeKind::Struct { .. } => {}
        }
    }
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
