//! Julia: a package layout with mutable structs, `@enum`s for the known values of each
//! open enum, and StructTypes mappings for JSON3.
//!
//! There is no Julia runtime on the build machines; the output is syntax-checked with
//! tree-sitter-julia and reported as "syntax-checked, not run".

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Model, TypeKind};
use super::names::{julia_field, pascal, snake, upper_snake};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "julia/NATSBridgeTypes.jl", escape = "none")]
struct ModuleView {
    preamble: String,
    exports: String,
    enums: Vec<EnumView>,
    aliases: Vec<AliasView>,
    structs: Vec<StructView>,
}

struct EnumView {
    name: String,
    doc: String,
    members: Vec<(String, String)>,
    snake: String,
}

struct AliasView {
    name: String,
    doc: String,
    ty: String,
}

struct StructView {
    name: String,
    doc: String,
    snake: String,
    fields: Vec<FieldView>,
    /// `(:julia_name, :json_name)` pairs where the two differ.
    renames: String,
    /// Optional fields, left out of JSON when `nothing`.
    omit: String,
}

struct FieldView {
    name: String,
    ty: String,
    default: String,
    doc: String,
}

fn jl_type(model: &Model, ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => match model.types[n].kind {
            TypeKind::Struct { .. } => pascal(n),
            TypeKind::Map => "Dict{String,Any}".into(),
            // Open enums and constrained strings stay strings on the wire.
            _ => "String".into(),
        },
        FieldType::String => "String".into(),
        FieldType::Integer { .. } => "Int64".into(),
        FieldType::Number => "Float64".into(),
        FieldType::Boolean => "Bool".into(),
        FieldType::Array(inner) => format!("Vector{{{}}}", jl_type(model, inner)),
        FieldType::Any => "Any".into(),
    }
}

fn jl_default(ty: &str) -> String {
    match ty {
        "String" => "\"\"".into(),
        "Int64" => "0".into(),
        "Float64" => "0.0".into(),
        "Bool" => "false".into(),
        "Any" => "nothing".into(),
        t if t.starts_with("Vector{") || t.starts_with("Dict{") => format!("{t}()"),
        t => format!("{t}()"),
    }
}

fn jl_doc(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$")
}

pub(crate) fn generate(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("#", model);
    let mut exports = Vec::new();
    let mut enums = Vec::new();
    let mut aliases = Vec::new();
    for t in model.types.values() {
        match &t.kind {
            TypeKind::Enum { values } => {
                let prefix = upper_snake(&t.name);
                let members: Vec<(String, String)> =
                    values.iter().map(|v| (format!("{prefix}_{}", upper_snake(v)), v.clone())).collect();
                exports.push(pascal(&t.name));
                exports.extend(members.iter().map(|m| m.0.clone()));
                exports.push(format!("parse_{}", snake(&t.name)));
                exports.push("wire_string".to_owned());
                enums.push(EnumView {
                    name: pascal(&t.name),
                    doc: jl_doc(&t.description),
                    members,
                    snake: snake(&t.name),
                });
            }
            TypeKind::String { .. } | TypeKind::Map => {
                exports.push(pascal(&t.name));
                aliases.push(AliasView {
                    name: pascal(&t.name),
                    doc: jl_doc(&t.description),
                    ty: if matches!(t.kind, TypeKind::Map) {
                        "Dict{String,Any}".into()
                    } else {
                        "String".into()
                    },
                });
            }
            TypeKind::Struct { .. } => {}
        }
    }
    let structs: Vec<StructView> = model
        .structs_in_dependency_order()
        .into_iter()
        .map(|t| {
            let TypeKind::Struct { fields, .. } = &t.kind else { unreachable!() };
            let mut renames = Vec::new();
            let mut omit = Vec::new();
            let fields = fields
                .iter()
                .map(|f| {
                    let name = julia_field(&f.name);
                    if name != f.name {
                        renames.push(format!("(:{name}, Symbol({:?}))", f.name));
                    }
                    let base = jl_type(model, &f.ty);
                    let (ty, default) = if f.required {
                        let d = jl_default(&base);
                        (base, d)
                    } else {
                        omit.push(format!(":{name}"));
                        (format!("Union{{Nothing,{base}}}"), "nothing".into())
                    };
                    FieldView { name, ty, default, doc: jl_doc(&f.description) }
                })
                .collect();
            let name = pascal(&t.name);
            exports.push(name.clone());
            exports.push(format!("parse_{}", snake(&t.name)));
            let tuple = |v: Vec<String>| match v.len() {
                0 => "()".to_owned(),
                1 => format!("({},)", v[0]),
                _ => format!("({})", v.join(", ")),
            };
            StructView {
                doc: jl_doc(&t.description),
                snake: snake(&t.name),
                renames: tuple(renames),
                omit: tuple(omit),
                fields,
                name,
            }
        })
        .collect();
    exports.push("dump_json".into());
    exports.sort();
    exports.dedup();
    let module = ModuleView { preamble: pre.clone(), exports: exports.join(", "), enums, aliases, structs }
        .render()?;
    let project = format!(
        "{pre}name = \"NATSBridgeTypes\"\nuuid = \"6c0f4b1e-8a3d-5b7e-9f21-3d4c5b6a7e80\"\nversion = \"1.0.0\"\n\n[deps]\nJSON3 = \"0f8b85d8-7281-11e9-16c2-39a750bddbf1\"\nStructTypes = \"856f2bd8-1eba-4b0a-8007-ebc267875bd4\"\n\n[compat]\nJSON3 = \"1\"\nStructTypes = \"1\"\njulia = \"1.9\"\n"
    );
    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/src/NATSBridgeTypes.jl"), module),
        GeneratedFile::new(format!("{out_dir}/Project.toml"), project),
    ])
}
