//! Julia: a package layout with mutable structs, `@enum`s for the known values of each
//! open enum, and StructTypes mappings for JSON3.
//!
//! There is no Julia runtime on the build machines; the output is syntax-checked with
//! tree-sitter-julia and reported as "syntax-checked, not run".

use anyhow::{Context, Result};
use askama::Template;

use super::model::{FieldType, Kind, Model, ScalarRule};
use super::names::{julia_field, pascal, snake, upper_snake};
use super::profile::{self, Profile};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "julia/NATSBridgeTypes.jl", escape = "none")]
struct ModuleView {
    preamble: String,
    module: String,
    title: String,
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

#[derive(Template)]
#[template(path = "julia/Project.toml", escape = "none")]
struct ProjectView {
    preamble: String,
}

/// Julia's type for a named scalar: open enums and constrained strings stay strings.
fn jl_scalar(rule: ScalarRule<'_>) -> &'static str {
    match rule {
        ScalarRule::String { .. } => "String",
        ScalarRule::Map => "Dict{String,Any}",
        // One of several types: checked on the other side's validators.
        ScalarRule::Union(_) => "Any",
    }
}

fn jl_type(model: &Model, ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => match model.kind(n) {
            Kind::Struct(_) => pascal(n),
            // Open enums stay strings on the wire.
            Kind::Enum(_) => "String".into(),
            Kind::Scalar(s) => jl_scalar(s.rule).into(),
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

pub(crate) fn jl_doc(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$")
}

/// The contract's Julia package: the wire types and the runtime profile (`profile.jl`,
/// included by the module).
pub(crate) fn generate(
    model: &Model,
    profile: Option<&Profile>,
    out_dir: &str,
) -> Result<Vec<GeneratedFile>> {
    let mut module = render_module(
        model,
        "NATSBridgeTypes",
        "NATSBridge wire types: the envelope, its payloads and the error response",
    )?;
    if profile.is_some() {
        let end = module.rfind("end # module").context("the module template ends in `end # module`")?;
        module.insert_str(end, "include(\"profile.jl\")\n\n");
    }
    let project = ProjectView { preamble: preamble("#", model) }.render()?;
    let mut files = vec![
        GeneratedFile::new(format!("{out_dir}/src/NATSBridgeTypes.jl"), module),
        GeneratedFile::new(format!("{out_dir}/Project.toml"), project),
    ];
    if let Some(profile) = profile {
        files.push(GeneratedFile::new(format!("{out_dir}/src/profile.jl"), profile::julia(profile)?));
    }
    Ok(files)
}

/// The module of `model`'s types, named `module`, its docstring opening with `title`.
pub(crate) fn render_module(model: &Model, module: &str, title: &str) -> Result<String> {
    let pre = preamble("#", model);
    let mut exports = Vec::new();
    let mut enums = Vec::new();
    for e in model.enums() {
        let prefix = upper_snake(e.name);
        let members: Vec<(String, String)> =
            e.values.iter().map(|v| (format!("{prefix}_{}", upper_snake(v)), v.clone())).collect();
        exports.push(pascal(e.name));
        exports.extend(members.iter().map(|m| m.0.clone()));
        exports.push(format!("parse_{}", snake(e.name)));
        exports.push("wire_string".to_owned());
        enums.push(EnumView {
            name: pascal(e.name),
            doc: jl_doc(e.description),
            members,
            snake: snake(e.name),
        });
    }
    let mut aliases = Vec::new();
    for s in model.scalars() {
        exports.push(pascal(s.name));
        aliases.push(AliasView {
            name: pascal(s.name),
            doc: jl_doc(s.description),
            ty: jl_scalar(s.rule).into(),
        });
    }
    let structs: Vec<StructView> = model
        .structs_in_dependency_order()
        .into_iter()
        .map(|t| {
            let mut renames = Vec::new();
            let mut omit = Vec::new();
            let fields = t
                .fields
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
            let name = pascal(t.name);
            exports.push(name.clone());
            exports.push(format!("parse_{}", snake(t.name)));
            let tuple = |v: Vec<String>| match v.len() {
                0 => "()".to_owned(),
                1 => format!("({},)", v[0]),
                _ => format!("({})", v.join(", ")),
            };
            StructView {
                doc: jl_doc(t.description),
                snake: snake(t.name),
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
    Ok(ModuleView {
        preamble: pre,
        module: module.to_owned(),
        title: title.to_owned(),
        exports: exports.join(", "),
        enums,
        aliases,
        structs,
    }
    .render()?)
}
