//! The generator's one intermediate model: every named type of `schema/`, bundled into a
//! single draft-07 root (`definitions`), plus a language-neutral description of each type
//! that the emitters render.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail, format_err};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Everything the emitters need, derived from the schema files alone.
///
/// Emitters read the named types through typed accessors ([`Model::structs`],
/// [`Model::enums`], [`Model::scalars`], [`Model::kind`]), so every kind they handle is
/// a type of its own and a `match` on [`Kind`] is exhaustive.
#[derive(Debug)]
pub struct Model {
    /// Hex SHA-256 over the schema files (name and bytes, sorted by name).
    pub schema_hash: String,
    /// What generated the output and from what, for the do-not-edit line, e.g.
    /// ``"`cargo xtask codegen` from schema/"``.
    pub origin: String,
    /// The bundled schema: `{"$schema", "$comment", "definitions": {...}}`.
    pub bundled: Value,
    /// Named types by name (sorted, so output order is stable).
    types: BTreeMap<String, TypeDef>,
    /// Struct types in the order the schema files introduce them (roots first).
    pub roots: Vec<String>,
}

#[derive(Debug, Clone)]
struct TypeDef {
    name: String,
    description: String,
    kind: TypeKind,
}

#[derive(Debug, Clone)]
enum TypeKind {
    Struct { fields: Vec<Field>, open: bool },
    Enum { values: Vec<String> },
    String { pattern: Option<String>, min_length: Option<u64> },
    Map,
    Union { variants: Vec<FieldType> },
}

/// One named type, by kind. Emitters match on it exhaustively.
#[derive(Debug, Clone, Copy)]
pub enum Kind<'a> {
    Struct(Struct<'a>),
    Enum(Enum<'a>),
    Scalar(Scalar<'a>),
}

/// An object with declared properties.
#[derive(Debug, Clone, Copy)]
pub struct Struct<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub fields: &'a [Field],
    /// Unknown properties are kept (`additionalProperties` is not `false`).
    pub open: bool,
}

/// A string with a list of known values (readers keep unknown ones).
#[derive(Debug, Clone, Copy)]
pub struct Enum<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub values: &'a [String],
}

/// A named type that is neither a struct nor an enum: a constrained string or a free-form
/// JSON object.
#[derive(Debug, Clone, Copy)]
pub struct Scalar<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub rule: ScalarRule<'a>,
}

#[derive(Debug, Clone, Copy)]
pub enum ScalarRule<'a> {
    /// A string, with optional constraints.
    String { pattern: Option<&'a str>, min_length: Option<u64> },
    /// A free-form JSON object.
    Map,
    /// One of several types (`oneOf` / `anyOf` of typed variants; only in a team's spec).
    Union(&'a [FieldType]),
}

impl TypeDef {
    fn view(&self) -> Kind<'_> {
        let (name, description) = (self.name.as_str(), self.description.as_str());
        match &self.kind {
            TypeKind::Struct { fields, open } => {
                Kind::Struct(Struct { name, description, fields, open: *open })
            }
            TypeKind::Enum { values } => Kind::Enum(Enum { name, description, values }),
            TypeKind::String { pattern, min_length } => Kind::Scalar(Scalar {
                name,
                description,
                rule: ScalarRule::String { pattern: pattern.as_deref(), min_length: *min_length },
            }),
            TypeKind::Map => Kind::Scalar(Scalar { name, description, rule: ScalarRule::Map }),
            TypeKind::Union { variants } => {
                Kind::Scalar(Scalar { name, description, rule: ScalarRule::Union(variants) })
            }
        }
    }
}

impl Kind<'_> {
    pub fn name(&self) -> &str {
        match self {
            Kind::Struct(s) => s.name,
            Kind::Enum(e) => e.name,
            Kind::Scalar(s) => s.name,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The JSON property name, exactly as on the wire.
    pub name: String,
    pub ty: FieldType,
    pub required: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    Named(String),
    String,
    Integer { minimum: Option<i64> },
    Number,
    Boolean,
    Array(Box<FieldType>),
    Any,
}

impl Model {
    /// Reads every `*.schema.json` under `dir` and builds the model.
    pub fn load(dir: &Path) -> Result<Model> {
        let mut files = read_schema_dir(dir)?;
        files.retain(|name, _| name.ends_with(".schema.json"));
        if files.is_empty() {
            bail!("no *.schema.json files in {}", dir.display());
        }
        Model::from_files(&files)
    }

    /// Builds the model from `(file name, text)` pairs.
    pub fn from_files(files: &BTreeMap<String, String>) -> Result<Model> {
        let mut hasher = Sha256::new();
        let mut parsed = BTreeMap::new();
        for (name, text) in files {
            hasher.update(name.as_bytes());
            hasher.update([0]);
            hasher.update(text.as_bytes());
            hasher.update([0]);
            let value: Value =
                serde_json::from_str(text).with_context(|| format!("parsing schema/{name}"))?;
            parsed.insert(name.clone(), value);
        }
        let schema_hash = hex::encode(hasher.finalize());

        // File name -> title of its root type, for refs to whole files.
        let mut file_titles = BTreeMap::new();
        for (name, value) in &parsed {
            if value.get("type").is_some() {
                let title = value
                    .get("title")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format_err!("schema/{name}: a root type needs a `title`"))?;
                file_titles.insert(name.clone(), title.to_owned());
            }
        }

        let mut definitions = Map::new();
        let mut roots = Vec::new();
        let mut add = |name: &str, mut schema: Value, file: &str| -> Result<()> {
            rewrite_refs(&mut schema, file, &file_titles)?;
            if let Some(obj) = schema.as_object_mut() {
                obj.remove("$schema");
                obj.remove("$id");
                obj.remove("definitions");
                obj.entry("title").or_insert_with(|| Value::String(name.to_owned()));
            }
            if definitions.insert(name.to_owned(), schema).is_some() {
                bail!("type name `{name}` is defined twice; names must be unique across schema files");
            }
            Ok(())
        };
        for (file, value) in &parsed {
            if let Some(title) = file_titles.get(file) {
                add(title, value.clone(), file)?;
                roots.push(title.clone());
            }
            if let Some(defs) = value.get("definitions").and_then(Value::as_object) {
                for (name, def) in defs {
                    add(name, def.clone(), file)?;
                }
            }
        }
        // Roots in a stable, meaningful order: envelopes before the things they contain.
        roots.sort_by_key(|r| (!r.starts_with("MsgEnvelope"), r.clone()));

        let mut types = BTreeMap::new();
        for (name, schema) in &definitions {
            let def = type_def(name, schema).with_context(|| format!("type `{name}`"))?;
            types.insert(name.clone(), def);
        }
        for (name, def) in &types {
            match &def.kind {
                TypeKind::Struct { fields, .. } => {
                    for field in fields {
                        check_refs(&field.ty, &types).with_context(|| format!("{name}.{}", field.name))?;
                    }
                }
                TypeKind::Union { variants } => {
                    for v in variants {
                        check_refs(v, &types).with_context(|| name.clone())?;
                    }
                }
                _ => {}
            }
        }

        let bundled = serde_json::json!({
            "$comment": format!("Generated by `cargo xtask codegen` from schema/ (sha256 {schema_hash}); do not edit by hand."),
            "$schema": "http://json-schema.org/draft-07/schema#",
            "$id": "https://natsbridge.dev/schema/v1/bundle.json",
            "definitions": Value::Object(definitions),
        });
        Ok(Model {
            schema_hash,
            origin: "`cargo xtask codegen` from schema/".to_owned(),
            bundled,
            types,
            roots,
        })
    }

    /// Names another source for the output: the do-not-edit line's `origin`, the spec's
    /// `hash`, and the bundle's `$id`.
    pub fn relabel(&mut self, origin: String, hash: String, id: String) {
        self.bundled["$comment"] =
            Value::String(format!("Generated by {origin} (sha256 {hash}); do not edit by hand."));
        self.bundled["$id"] = Value::String(id);
        self.origin = origin;
        self.schema_hash = hash;
    }

    /// The bundled schema as pretty JSON text (stable key order).
    pub fn bundled_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.bundled).expect("a Value always serializes");
        text.push('\n');
        text
    }

    /// Names of the enum types, whose `enum` lists readers do not enforce (see schema/README.md).
    pub fn open_enums(&self) -> Vec<&str> {
        self.enums().map(|e| e.name).collect()
    }

    /// The schema of one named type, as it appears in the bundle.
    pub fn definition(&self, name: &str) -> &Value {
        &self.bundled["definitions"][name]
    }

    /// Every named type, by name.
    pub fn kinds(&self) -> impl Iterator<Item = Kind<'_>> {
        self.types.values().map(TypeDef::view)
    }

    /// The named type `name` refers to; the model checked every reference when it loaded.
    pub fn kind(&self, name: &str) -> Kind<'_> {
        self.types[name].view()
    }

    /// Enum types, by name.
    pub fn enums(&self) -> impl Iterator<Item = Enum<'_>> {
        self.kinds().filter_map(|k| match k {
            Kind::Enum(e) => Some(e),
            Kind::Struct(_) | Kind::Scalar(_) => None,
        })
    }

    /// Constrained strings and free-form objects, by name.
    pub fn scalars(&self) -> impl Iterator<Item = Scalar<'_>> {
        self.kinds().filter_map(|k| match k {
            Kind::Scalar(s) => Some(s),
            Kind::Struct(_) | Kind::Enum(_) => None,
        })
    }

    /// Struct types: roots first, then the rest by name.
    pub fn structs(&self) -> Vec<Struct<'_>> {
        let rest = self.types.keys().filter(|k| !self.roots.contains(k));
        self.roots
            .iter()
            .chain(rest)
            .filter_map(|name| match self.kind(name) {
                Kind::Struct(s) => Some(s),
                Kind::Enum(_) | Kind::Scalar(_) => None,
            })
            .collect()
    }

    /// Struct types with every struct a field refers to before the struct itself.
    pub fn structs_in_dependency_order(&self) -> Vec<Struct<'_>> {
        fn visit<'a>(m: &'a Model, name: &str, seen: &mut Vec<String>, out: &mut Vec<Struct<'a>>) {
            if seen.iter().any(|s| s == name) {
                return;
            }
            seen.push(name.to_owned());
            if let Kind::Struct(s) = m.kind(name) {
                for f in s.fields {
                    if let Some(dep) = f.ty.named() {
                        visit(m, dep, seen, out);
                    }
                }
                out.push(s);
            }
        }
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for s in self.structs() {
            visit(self, s.name, &mut seen, &mut out);
        }
        out
    }
}

impl FieldType {
    /// The named type this field refers to, looking through arrays.
    pub fn named(&self) -> Option<&str> {
        match self {
            FieldType::Named(n) => Some(n),
            FieldType::Array(inner) => inner.named(),
            _ => None,
        }
    }
}

/// The contract files of a schema directory, by name: `*.schema.json` and `asyncapi.yaml`.
pub fn read_schema_dir(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if name.ends_with(".schema.json") || name == "asyncapi.yaml" {
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            files.insert(name, text);
        }
    }
    Ok(files)
}

fn rewrite_refs(value: &mut Value, file: &str, titles: &BTreeMap<String, String>) -> Result<()> {
    match value {
        Value::Object(obj) => {
            if let Some(Value::String(r)) = obj.get_mut("$ref") {
                let (target_file, pointer) = match r.split_once('#') {
                    Some((f, p)) => (f.to_owned(), p.to_owned()),
                    None => (r.clone(), String::new()),
                };
                let target_file = if target_file.is_empty() { file.to_owned() } else { target_file };
                let name = if pointer.is_empty() {
                    titles
                        .get(&target_file)
                        .ok_or_else(|| format_err!("$ref to unknown schema file `{target_file}`"))?
                        .clone()
                } else {
                    pointer
                        .strip_prefix("/definitions/")
                        .filter(|n| !n.contains('/'))
                        .ok_or_else(|| format_err!("unsupported $ref `{r}`: use `#/definitions/Name`"))?
                        .to_owned()
                };
                *r = format!("#/definitions/{name}");
            }
            for (_, v) in obj.iter_mut() {
                rewrite_refs(v, file, titles)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                rewrite_refs(v, file, titles)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn description(schema: &Value) -> String {
    schema.get("description").and_then(Value::as_str).unwrap_or_default().trim().to_owned()
}

fn type_def(name: &str, schema: &Value) -> Result<TypeDef> {
    // `not`, `if`/`then`/`else` and untyped `oneOf`/`anyOf` (lists of `required`...) only
    // constrain values: the validators check them, no type holds them.
    if schema.get("allOf").is_some() {
        bail!("`allOf` is outside the generator's schema profile (see schema/README.md)");
    }
    if let Some(variants) = typed_union(schema) {
        let variants = variants
            .iter()
            .enumerate()
            .map(|(i, v)| field_type(v).with_context(|| format!("variant {}", i + 1)))
            .collect::<Result<Vec<_>>>()?;
        return Ok(TypeDef {
            name: name.to_owned(),
            description: description(schema),
            kind: TypeKind::Union { variants },
        });
    }
    let kind = match schema.get("type").and_then(Value::as_str) {
        Some("object") if schema.get("properties").is_some() => {
            let props = schema["properties"].as_object().expect("checked above");
            let required: Vec<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for r in &required {
                if !props.contains_key(*r) {
                    bail!("required property `{r}` is not declared");
                }
            }
            let mut fields = Vec::new();
            for (fname, fschema) in props {
                fields.push(Field {
                    name: fname.clone(),
                    ty: field_type(fschema).with_context(|| format!("property `{fname}`"))?,
                    required: required.contains(&fname.as_str()),
                    description: description(fschema),
                });
            }
            let open = match schema.get("additionalProperties") {
                Some(Value::Bool(false)) => false,
                None | Some(Value::Bool(true)) | Some(Value::Object(_)) => true,
                Some(other) => bail!("unsupported additionalProperties {other}"),
            };
            TypeKind::Struct { fields, open }
        }
        Some("object") => TypeKind::Map,
        Some("string") if schema.get("enum").is_some() => {
            let values = schema["enum"]
                .as_array()
                .ok_or_else(|| format_err!("`enum` must be an array"))?
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| format_err!("non-string enum value {v}"))
                })
                .collect::<Result<Vec<_>>>()?;
            TypeKind::Enum { values }
        }
        Some("string") => TypeKind::String {
            pattern: schema.get("pattern").and_then(Value::as_str).map(str::to_owned),
            min_length: schema.get("minLength").and_then(Value::as_u64),
        },
        Some(other) => bail!("a named type is an object or a string, this one is `{other}`"),
        None => bail!("a named type is an object or a string, this one has no `type`"),
    };
    Ok(TypeDef { name: name.to_owned(), description: description(schema), kind })
}

fn field_type(schema: &Value) -> Result<FieldType> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").ok_or_else(|| format_err!("bad $ref {r}"))?;
        return Ok(FieldType::Named(name.to_owned()));
    }
    Ok(match schema.get("type").and_then(Value::as_str) {
        None if !["type", "properties", "items", "enum", "oneOf", "anyOf", "allOf"]
            .iter()
            .any(|k| schema.get(*k).is_some()) =>
        {
            FieldType::Any
        }
        Some("string") if schema.get("enum").is_none() && schema.get("pattern").is_none() => {
            FieldType::String
        }
        Some("integer") => FieldType::Integer { minimum: schema.get("minimum").and_then(Value::as_i64) },
        Some("number") => FieldType::Number,
        Some("boolean") => FieldType::Boolean,
        Some("array") => FieldType::Array(Box::new(field_type(
            schema.get("items").ok_or_else(|| format_err!("array without `items`"))?,
        )?)),
        Some("string") => {
            bail!(
                "an inline string with `enum` or `pattern` is outside the profile: give it a name under `definitions`"
            )
        }
        Some(other) => bail!("`type: {other}` is not generated (a property of that type: leave it out)"),
        None => match schema.get("type") {
            Some(Value::Array(types)) => bail!(
                "`type` lists several types ({}): the generator types one (for \"or null\", make the property optional)",
                types
                    .iter()
                    .map(|t| format!("`{}`", t.as_str().unwrap_or("?")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => bail!("a schema with `properties`, `items` or `enum` but no `type`: give it one"),
        },
    })
}

/// The variants of a `oneOf` / `anyOf` whose variants are types (a `$ref`, a `type`...), not
/// only constraints.
pub(crate) fn typed_union(schema: &Value) -> Option<&Vec<Value>> {
    ["oneOf", "anyOf"].iter().filter_map(|k| schema.get(*k).and_then(Value::as_array)).find(|vs| {
        vs.iter().any(|v| {
            ["type", "$ref", "properties", "enum", "const", "items"].iter().any(|t| v.get(*t).is_some())
        })
    })
}

/// `schema` without what only constrains values (`format`, `not`, `if`/`then`/`else`,
/// untyped `oneOf`/`anyOf`, defaults and examples): what typify builds Rust types from. The
/// validators check the rest on the full schema.
pub fn shapes_only(schema: &Value) -> Value {
    match schema {
        Value::Object(o) => {
            let union = typed_union(schema).is_some();
            let mut out = Map::new();
            for (k, v) in o {
                let constraint_only = match k.as_str() {
                    "format" | "not" | "if" | "then" | "else" | "default" | "examples" | "contains"
                    | "propertyNames" | "dependencies" | "patternProperties" | "minLength" | "maxLength" => {
                        true
                    }
                    "oneOf" | "anyOf" => !union,
                    _ => false,
                };
                if constraint_only {
                    continue;
                }
                let value = match (k.as_str(), v) {
                    // Maps of names to schemas: the names are not keywords.
                    ("properties" | "definitions", Value::Object(m)) => {
                        Value::Object(m.iter().map(|(n, s)| (n.clone(), shapes_only(s))).collect())
                    }
                    ("items" | "additionalProperties" | "oneOf" | "anyOf", _) => shapes_only(v),
                    _ => v.clone(),
                };
                out.insert(k.clone(), value);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(shapes_only).collect()),
        other => other.clone(),
    }
}

fn check_refs(ty: &FieldType, types: &BTreeMap<String, TypeDef>) -> Result<()> {
    match ty {
        FieldType::Named(n) if !types.contains_key(n) => bail!("$ref to unknown type `{n}`"),
        FieldType::Array(inner) => check_refs(inner, types),
        _ => Ok(()),
    }
}
