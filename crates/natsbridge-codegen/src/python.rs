//! Python: a typed package (`py.typed`) of TypedDicts, open `Literal` unions and
//! jsonschema-backed parse / validate / dump functions.
//!
//! TypedDicts, not dataclasses or pydantic: an envelope stays the dict that came off
//! the wire, so unknown fields survive a relay and re-serializing changes nothing, and
//! users need no model library beyond `jsonschema`.

use anyhow::Result;
use askama::Template;

use super::model::{FieldType, Kind, Model, ScalarRule};
use super::names::{pascal, python_field_ok, python_ident, snake, upper_snake};
use super::profile::{self, Profile};
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "python/__init__.py", escape = "none")]
struct InitView {
    preamble: String,
    /// The module docstring's first line.
    title: String,
    enums: Vec<EnumView>,
    aliases: Vec<AliasView>,
    structs: Vec<StructView>,
    patterns: Vec<PatternView>,
    exports: Vec<String>,
    /// Unions and free-form objects a message can be: `(snake, schema name, type)`, each
    /// with its `validate_x`.
    other_roots: Vec<(String, String, String)>,
    /// Some alias is a union (an explicit `TypeAlias`).
    any_union: bool,
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
    /// Declared `: TypeAlias` (a union, written as a string: its types come further down).
    explicit: bool,
}

struct StructView {
    name: String,
    schema_name: String,
    snake: String,
    doc: String,
    /// Class syntax works only when every key is a usable identifier.
    class_syntax: bool,
    fields: Vec<FieldView>,
    /// For a closed struct (`additionalProperties: false`), its keys as a Python set body.
    closed_keys: Option<String>,
}

struct FieldView {
    key: String,
    ty: String,
    doc: String,
    required: bool,
    /// A Python expression over `x` (the field's value, `reader` in scope) that is true only
    /// when the schema accepts the value: the generated fast check.
    check: String,
}

/// A compiled ECMA-262 pattern of a constrained string type, for the fast checks.
struct PatternView {
    konst: String,
    pattern: String,
}

#[derive(Template)]
#[template(path = "python/_schema.py", escape = "none")]
struct SchemaView {
    preamble: String,
    schema: String,
    /// Python tuple items, each followed by a comma.
    open_enums: String,
}

#[derive(Template)]
#[template(path = "python/pyproject.toml", escape = "none")]
struct PyprojectView {
    preamble: String,
}

#[derive(Template)]
#[template(path = "python/py.typed", escape = "none")]
struct PyTypedView {
    preamble: String,
}

fn py_type(model: &Model, ty: &FieldType) -> String {
    match ty {
        FieldType::Named(n) => {
            let name = pascal(n);
            match model.kind(n) {
                Kind::Enum(_) => format!("{name} | str"),
                Kind::Struct(_) | Kind::Scalar(_) => name,
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

/// The fast check of a value of type `ty` held in `x` (see [`FieldView::check`]): exact for
/// every kind the model has, patterns matched by `regress` (ECMA-262), enums closed unless
/// `reader`; conservative for integers (only `int`: a float such as 5.0 is left to the
/// validator).
fn py_check(model: &Model, ty: &FieldType, x: &str, depth: usize) -> String {
    match ty {
        FieldType::Named(n) => match model.kind(n) {
            Kind::Struct(_) => format!("_plain_{}({x}, reader)", python_ident(&snake(n))),
            Kind::Enum(_) => format!("(type({x}) is str and (reader or {x} in {}_VALUES))", upper_snake(n)),
            Kind::Scalar(s) => match s.rule {
                ScalarRule::Map => format!("type({x}) is dict"),
                ScalarRule::Union(variants) => format!(
                    "({})",
                    variants.iter().map(|v| py_check(model, v, x, depth)).collect::<Vec<_>>().join(" or ")
                ),
                ScalarRule::String { pattern, min_length } => {
                    let mut parts = vec![format!("type({x}) is str")];
                    if let Some(min) = min_length.filter(|m| *m > 0) {
                        parts.push(format!("len({x}) >= {min}"));
                    }
                    if pattern.is_some() {
                        parts.push(format!("_PATTERN_{}.find({x}) is not None", upper_snake(n)));
                    }
                    format!("({})", parts.join(" and "))
                }
            },
        },
        FieldType::String => format!("type({x}) is str"),
        FieldType::Integer { minimum: Some(min) } => format!("(type({x}) is int and {x} >= {min})"),
        FieldType::Integer { minimum: None } => format!("type({x}) is int"),
        FieldType::Number => format!("(type({x}) is int or type({x}) is float)"),
        FieldType::Boolean => format!("type({x}) is bool"),
        FieldType::Array(inner) => {
            let item = format!("i{depth}");
            format!(
                "(type({x}) is list and all({} for {item} in {x}))",
                py_check(model, inner, &item, depth + 1)
            )
        }
        FieldType::Any => "True".into(),
    }
}

pub(crate) fn docstring(text: &str) -> String {
    text.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
}

/// The types module and the bundled-schema module of a package, rendered; `exports` are the
/// names the types module defines (its `__all__`, sorted).
pub(crate) struct TypesModule {
    /// The types module (`__init__.py` of `natsbridge_types`); it imports `._schema`.
    pub(crate) types: String,
    /// `_schema.py`.
    pub(crate) schema: String,
    /// Every name the types module exports, sorted.
    pub(crate) exports: Vec<String>,
}

/// The types package of `model`; with a `profile` (the contract's), also its `profile` module.
pub(crate) fn generate(
    model: &Model,
    profile: Option<&Profile>,
    out_dir: &str,
) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("#", model);
    let TypesModule { types: init, schema, .. } =
        types_module(model, "NATSBridge wire types: the envelope, its payloads and the error response.")?;
    let pyproject = PyprojectView { preamble: pre.clone() }.render()?;
    let py_typed = PyTypedView { preamble: pre }.render()?;
    let mut files = vec![
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/__init__.py"), init),
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/_schema.py"), schema),
        GeneratedFile::new(format!("{out_dir}/natsbridge_types/py.typed"), py_typed),
        GeneratedFile::new(format!("{out_dir}/pyproject.toml"), pyproject),
    ];
    if let Some(profile) = profile {
        files.push(GeneratedFile::new(
            format!("{out_dir}/natsbridge_types/profile.py"),
            profile::python(profile, true)?,
        ));
    }
    Ok(files)
}

/// The TypedDicts, enums and validators of `model` as one module whose docstring starts
/// with `title`, and the `_schema` module it imports.
pub(crate) fn types_module(model: &Model, title: &str) -> Result<TypesModule> {
    let pre = preamble("#", model);
    let mut exports = Vec::new();
    let mut enums = Vec::new();
    for e in model.enums() {
        let name = pascal(e.name);
        let values_const = format!("{}_VALUES", upper_snake(e.name));
        exports.push(name.clone());
        exports.push(values_const.clone());
        enums.push(EnumView {
            doc: docstring(e.description),
            literal: e.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
            values: e.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "),
            values_const,
            name,
        });
    }
    let mut aliases = Vec::new();
    for s in model.scalars() {
        let name = pascal(s.name);
        exports.push(name.clone());
        let ty = match s.rule {
            ScalarRule::String { .. } => "str".to_owned(),
            ScalarRule::Map => "dict[str, Any]".to_owned(),
            // A string: the variants may be defined further down.
            ScalarRule::Union(variants) => {
                format!("{:?}", variants.iter().map(|v| py_type(model, v)).collect::<Vec<_>>().join(" | "))
            }
        };
        let explicit = matches!(s.rule, ScalarRule::Union(_));
        aliases.push(AliasView { doc: docstring(s.description), ty, name, explicit });
    }
    let structs: Vec<StructView> = model
        .structs_in_dependency_order()
        .into_iter()
        .map(|t| {
            let fields: Vec<FieldView> = t
                .fields
                .iter()
                .map(|f| {
                    let ty = py_type(model, &f.ty);
                    FieldView {
                        key: f.name.clone(),
                        ty: if f.required { ty } else { format!("NotRequired[{ty}]") },
                        doc: docstring(&f.description),
                        required: f.required,
                        check: py_check(model, &f.ty, "x", 0),
                    }
                })
                .collect();
            let name = pascal(t.name);
            let sn = python_ident(&snake(t.name));
            exports.extend([
                name.clone(),
                format!("parse_{sn}"),
                format!("validate_{sn}"),
                format!("plainly_valid_{sn}"),
                format!("dump_{sn}"),
            ]);
            StructView {
                closed_keys: (!t.open)
                    .then(|| t.fields.iter().map(|f| format!("{:?}", f.name)).collect::<Vec<_>>().join(", ")),
                class_syntax: fields.iter().all(|f| python_field_ok(&f.key)),
                doc: docstring(t.description),
                schema_name: t.name.to_owned(),
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
    let patterns = model
        .scalars()
        .filter_map(|s| match s.rule {
            ScalarRule::String { pattern: Some(p), .. } => Some(PatternView {
                konst: format!("_PATTERN_{}", upper_snake(s.name)),
                pattern: format!("{p:?}"),
            }),
            _ => None,
        })
        .collect();
    let other_roots: Vec<(String, String, String)> = model
        .scalars()
        .filter(|s| matches!(s.rule, ScalarRule::Union(_) | ScalarRule::Map))
        .map(|s| (python_ident(&snake(s.name)), s.name.to_owned(), pascal(s.name)))
        .collect();
    exports.extend(other_roots.iter().map(|(sn, _, _)| format!("validate_{sn}")));
    exports.sort();
    exports.dedup();
    let any_union = aliases.iter().any(|a| a.explicit);
    let init = InitView {
        preamble: pre.clone(),
        title: docstring(title),
        enums,
        aliases,
        structs,
        patterns,
        exports: exports.clone(),
        other_roots,
        any_union,
    }
    .render()?;
    let open_enums: String = model.open_enums().iter().map(|n| format!("{n:?}, ")).collect();
    let schema = SchemaView {
        preamble: pre,
        schema: model.bundled_text().trim_end().to_owned(),
        open_enums: open_enums.trim_end().to_owned(),
    }
    .render()?;
    Ok(TypesModule { types: init, schema, exports })
}
