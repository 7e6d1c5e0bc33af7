//! TypeScript: an ESM package with interfaces, open string unions and ajv validation
//! against the bundled schema.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Kind, Model, ScalarRule};
use super::names::{ts_property, ts_type_name, upper_snake};
use super::profile::{self, Profile};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "typescript/index.ts", escape = "none")]
struct IndexView {
    preamble: String,
    title: String,
    enums: Vec<EnumView>,
    aliases: Vec<AliasView>,
    structs: Vec<StructView>,
    roots: Vec<RootView>,
}

struct EnumView {
    name: String,
    doc: String,
    union: String,
    values_const: String,
    values: String,
}

struct AliasView {
    name: String,
    doc: String,
    ty: String,
}

struct StructView {
    name: String,
    doc: String,
    fields: Vec<FieldView>,
    open: bool,
}

struct FieldView {
    name: String,
    doc: String,
    optional: bool,
    ty: String,
}

struct RootView {
    name: String,
    schema_name: String,
}

#[derive(Template)]
#[template(path = "typescript/schema.ts", escape = "none")]
struct SchemaView {
    open_enums: String,
    preamble: String,
    schema: String,
}

#[derive(Template)]
#[template(path = "typescript/package.json", escape = "none")]
struct PackageView {
    hash: String,
}

#[derive(Template)]
#[template(path = "typescript/tsconfig.json", escape = "none")]
struct TsconfigView {
    preamble: String,
}

pub(crate) fn doc(text: &str, indent: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = format!("{indent}/**\n");
    for line in text.lines() {
        out.push_str(&format!("{indent} * {}\n", line.replace("*/", "*\\/")).replace(" * \n", " *\n"));
    }
    out.push_str(&format!("{indent} */\n"));
    out
}

fn ts_type(model: &Model, ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => {
            let name = ts_type_name(n);
            match model.kind(n) {
                // Open enums: known values autocomplete, any string is accepted.
                Kind::Enum(_) => format!("{name} | (string & {{}})"),
                Kind::Struct(_) | Kind::Scalar(_) => name,
            }
        }
        FieldType::String => "string".into(),
        FieldType::Integer { .. } | FieldType::Number => "number".into(),
        FieldType::Boolean => "boolean".into(),
        FieldType::Array(inner) => match inner.as_ref() {
            FieldType::Named(n) if matches!(model.kind(n), Kind::Enum(_)) => {
                format!("Array<{}>", ts_type(model, inner))
            }
            _ => format!("{}[]", ts_type(model, inner)),
        },
        FieldType::Any => "unknown".into(),
    }
}

/// The contract's types package: the wire types and the runtime profile (`profile.ts`,
/// re-exported by the index).
pub(crate) fn generate(
    model: &Model,
    profile: Option<&Profile>,
    out_dir: &str,
) -> Result<Vec<GeneratedFile>> {
    let (mut index, schema) =
        render_types(model, "NATSBridge wire types: the envelope, its payloads and the error response.")?;
    if profile.is_some() {
        index.push_str("\n/** The runtime profile: constants and rules every runtime shares. */\nexport * from \"./profile.js\";\n");
    }
    let package = PackageView { hash: model.schema_hash.clone() }.render()?;
    let tsconfig = TsconfigView { preamble: preamble("//", model) }.render()?;
    let mut files = vec![
        GeneratedFile::new(format!("{out_dir}/src/index.ts"), index),
        GeneratedFile::new(format!("{out_dir}/src/schema.ts"), schema),
        GeneratedFile::new(format!("{out_dir}/package.json"), package),
        GeneratedFile::new(format!("{out_dir}/tsconfig.json"), tsconfig),
    ];
    if let Some(profile) = profile {
        files.push(GeneratedFile::new(format!("{out_dir}/src/profile.ts"), profile::typescript(profile)?));
    }
    Ok(files)
}

/// The types module (interfaces, open string unions, ajv validators; its module doc opens
/// with `title`) and the `schema.ts` it imports, for `model`.
pub(crate) fn render_types(model: &Model, title: &str) -> Result<(String, String)> {
    let pre = preamble("//", model);
    let enums = model
        .enums()
        .map(|e| EnumView {
            name: ts_type_name(e.name),
            doc: doc(e.description, ""),
            union: e.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(" | "),
            values_const: format!("{}_VALUES", upper_snake(e.name)),
            values: e.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
        })
        .collect();
    let aliases = model
        .scalars()
        .map(|s| {
            let (text, ty) = match s.rule {
                ScalarRule::String { pattern, min_length } => {
                    let mut text = s.description.to_owned();
                    if let Some(p) = pattern {
                        text.push_str(&format!("\n\nPattern: `{p}`"));
                    }
                    if let Some(m) = min_length {
                        text.push_str(&format!("\n\nMinimum length: {m}"));
                    }
                    (text, "string".to_owned())
                }
                ScalarRule::Map => (s.description.to_owned(), "{ [key: string]: unknown }".to_owned()),
                ScalarRule::Union(variants) => (
                    s.description.to_owned(),
                    variants.iter().map(|v| ts_type(model, v)).collect::<Vec<_>>().join(" | "),
                ),
            };
            AliasView { name: ts_type_name(s.name), doc: doc(&text, ""), ty }
        })
        .collect();
    let structs = model
        .structs()
        .into_iter()
        .map(|s| StructView {
            name: ts_type_name(s.name),
            doc: doc(s.description, ""),
            open: s.open,
            fields: s
                .fields
                .iter()
                .map(|f| FieldView {
                    name: ts_property(&f.name),
                    doc: doc(&f.description, "  "),
                    optional: !f.required,
                    ty: ts_type(model, &f.ty),
                })
                .collect(),
        })
        .collect();
    // Every type a message can be: structs, and a team spec's unions and free-form objects.
    let roots = model
        .structs()
        .into_iter()
        .map(|s| s.name)
        .chain(
            model
                .scalars()
                .filter(|s| matches!(s.rule, ScalarRule::Union(_) | ScalarRule::Map))
                .map(|s| s.name),
        )
        .map(|name| RootView { name: ts_type_name(name), schema_name: name.to_owned() })
        .collect();
    let index = IndexView { preamble: pre.clone(), title: title.to_owned(), enums, aliases, structs, roots }
        .render()?;
    let schema = SchemaView {
        preamble: pre,
        schema: model.bundled_text().trim_end().to_owned(),
        open_enums: model.open_enums().iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "),
    }
    .render()?;
    Ok((index, schema))
}
