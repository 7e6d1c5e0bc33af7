//! Python: a typed package (`py.typed`) of TypedDicts, open `Literal` unions and
//! jsonschema-backed parse / validate / dump functions.
//!
//! TypedDicts, not dataclasses or pydantic: an envelope stays the dict that came off
//! the wire, so unknown fields survive a relay and re-serializing changes nothing, and
//! users need no model library beyond `jsonschema`.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Model, TypeKind};
use super::names::{pascal, python_field_ok, python_ident, snake, upper_snake};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "python/__init__.py", escape = "none")]
struct InitView {
    preamble: String,
    enums: Vec<EnumView>,
    aliases: Vec<AliasView>,
    structs: Vec<StructView>,
    exports: Vec<String>,
}

struct EnumView {
    name: String,
    doc: String,
    literal: String,
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
    schema_name: String,
    snake: String,
    doc: String,
    /// Class syntax works only when every key is a usable identifier.
    class_syntax: bool,
    fields: Vec<FieldView>,
}

struct FieldView {
    key: String,
    ty: String,
    doc: String,
}

fn py_type(model: &Model, ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => {
            let name = pascal(n);
            match model.types[n].kind {
                TypeKind::Enum { .. } => format!("{name} | str"),
                _ => name,
            }
        }
        FieldType::String => "str".into(),
        FieldType::Integer { .. } => "int".into(),
        FieldType::Number => "float".into(),
        FieldType::Boolean => "bool".into(),
        FieldType::Array(inner) => format!("list[{}]", py_type(model, inner)),
        FieldType::Any => "Any".into(),
    }
}

fn docstring(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

pub(crate) fn generate(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("#", model);
    let mut exports = Vec::new();
    let mut enums = Vec::new();
    let mut aliases = Vec::new();
    for t in model.types.values() {
        let name = pascal(&t.name);
        match &t.kind {
            TypeKind::Enum { values } => {
                let values_const = format!("{}_VALUES", upper_snake(&t.name));
                exports.push(name.clone());
                exports.push(values_const.clone());
                enums.push(EnumView {
                    doc: docstring(&t.description),
                    literal: values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
                    values: values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
                    values_const,
                    name,
                });
            }
            TypeKind::String { .. } | TypeKind::Map => {
                exports.push(name.clone());
                aliases.push(AliasView {
                    doc: docstring(&t.description),
                    ty: if matches!(t.kind, TypeKind::Map) { "dict[str, Any]".into() } else { "str".into() },
                    name,
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
            let fields: Vec<FieldView> = fields
                .iter()
                .map(|f| {
                    let ty = py_type(model, &f.ty);
                    FieldView {
                        key: f.name.clone(),
                        ty: if f.required { ty } else { format!("NotRequired[{ty}]") },
                        doc: docstring(&f.description),
                    }
                })
                .collect();
            let name = pascal(&t.name);
            let sn = python_ident(&snake(&t.name));
            exports.extend([
                name.clone(),
                format!("parse_{sn}"),
                format!("validate_{sn}"),
                format!("dump_{sn}"),
            ]);
            StructView {
                class_syntax: fields.iter().all(|f| python_field_ok(&f.key)),
                doc: docstring(&t.description),
                schema_name: t.name.clone(),
                snake: sn,
                name,
                fields,
            }
        })
        .collect();
    exports.extend([
        "SCHEMA".into(),
        "SchemaValidationError".into(),
        "ValidationIssue".into(),
        "validate".into(),
    ]);
    exports.sort();
    exports.dedup();
    let init = InitView { preamble: pre.clone(), enums, aliases, structs, exports }.render()?;
    let open_enums: String = model.open_enums().iter().map(|n| format!("{n:?}, ")).collect();
    let schema = format!(
        "{pre}\"\"\"The bundled JSON Schema (draft-07) the types were generated from.\"\"\"\n\nimport json\nfrom typing import Any, Final\n\nSCHEMA: Final[dict[str, Any]] = json.loads(\n    r'''{}'''\n)\n\nOPEN_ENUMS: Final[tuple[str, ...]] = ({})\n\"\"\"Enum types whose value lists readers do not enforce.\"\"\"\n",
        model.bundled_text().trim_end(),
        open_enums.trim_end()
    );
    let pyproject = format!(
        "{pre}[build-system]\nrequires = [\"setuptools>=68\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"natsbridge-types\"\nversion = \"1.0.0\"\ndescription = \"NATSBridge wire types and validators (generated from schema/)\"\nrequires-python = \">=3.11\"\ndependencies = [\"jsonschema>=4.20\"]\n\n[tool.setuptools.package-data]\nnatsbridge_types = [\"py.typed\"]\n\n[tool.mypy]\nstrict = true\n"
    );
    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/__init__.py"), init),
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/_schema.py"), schema),
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/py.typed"), pre.clone()),
        GeneratedFile::new(format!("{out_dir}/pyproject.toml"), pyproject),
    ])
}
