//! Rust: structs from typify, scalar types (open enums, constrained strings) from
//! `templates/rust/scalars.rs`, all formatted with rustfmt.

use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result, format_err};
use askama::Template;
use typify::{TypeSpace, TypeSpaceImpl, TypeSpaceSettings};

use super::model::{Kind, Model, Scalar, ScalarRule};
use super::names::pascal;
use super::{GeneratedFile, preamble};
use crate::util::{project_root, rustfmt};

#[derive(Template)]
#[template(path = "rust/scalars.rs", escape = "none")]
struct ScalarsView {
    preamble: String,
    enums: Vec<EnumView>,
    strings: Vec<StringView>,
}

struct EnumView {
    name: String,
    description: String,
    variants: Vec<VariantView>,
    schema_json: String,
}

struct VariantView {
    variant: String,
    value: String,
}

struct StringView {
    name: String,
    description: String,
    pattern: Option<String>,
    min_length: Option<u64>,
    schema_json: String,
}

#[derive(Template)]
#[template(path = "rust/lib.rs", escape = "none")]
struct LibView {
    preamble: String,
    hash: String,
    /// The root type names as a Rust list of string literals.
    roots: String,
}

#[derive(Template)]
#[template(path = "rust/types.rs", escape = "none")]
struct TypesView {
    preamble: String,
    /// typify's output, unformatted.
    tokens: String,
}

#[derive(Template)]
#[template(path = "rust/Cargo.toml", escape = "none")]
struct ManifestView {
    preamble: String,
}

pub(crate) fn generate(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("//", model);
    let scalars = ScalarsView {
        preamble: pre.clone(),
        enums: model
            .enums()
            .map(|e| EnumView {
                name: e.name.to_owned(),
                description: e.description.to_owned(),
                variants: e
                    .values
                    .iter()
                    .map(|v| VariantView { variant: pascal(v), value: v.clone() })
                    .collect(),
                schema_json: serde_json::to_string(model.definition(e.name)).expect("Value"),
            })
            .collect(),
        strings: model
            .scalars()
            .filter_map(|s| match s.rule {
                ScalarRule::String { pattern, min_length } => Some(StringView {
                    name: s.name.to_owned(),
                    description: s.description.to_owned(),
                    pattern: pattern.map(str::to_owned),
                    min_length,
                    schema_json: serde_json::to_string(model.definition(s.name)).expect("Value"),
                }),
                ScalarRule::Map => None,
            })
            .collect(),
    };
    let scalars = format_rust(&scalars.render()?).context("formatting scalars.rs")?;
    let types = TypesView { preamble: pre.clone(), tokens: typify_structs(model)? };
    let types = format_rust(&types.render()?).context("formatting types.rs")?;
    let lib = LibView {
        preamble: pre,
        hash: model.schema_hash.clone(),
        roots: model.roots.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", "),
    };
    let lib = format_rust(&lib.render()?).context("formatting lib.rs")?;
    let manifest = ManifestView { preamble: preamble("#", model) }.render()?;
    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/Cargo.toml"), manifest),
        GeneratedFile::new(format!("{out_dir}/src/lib.rs"), lib),
        GeneratedFile::new(format!("{out_dir}/src/scalars.rs"), scalars),
        GeneratedFile::new(format!("{out_dir}/src/types.rs"), types),
        GeneratedFile::new(format!("{out_dir}/src/schema.json"), model.bundled_text()),
    ])
}

/// Runs typify over the bundled schema, with every non-struct named type replaced by
/// the scalar types above.
fn typify_structs(model: &Model) -> Result<String> {
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_struct_builder(false)
        .with_derive("PartialEq".to_owned())
        .with_derive("::schemars::JsonSchema".to_owned())
        .with_map_type("::serde_json::Map");
    for kind in model.kinds() {
        let impls = match kind {
            Kind::Struct(_) => continue,
            Kind::Scalar(Scalar { rule: ScalarRule::Map, .. }) => vec![TypeSpaceImpl::Default],
            Kind::Enum(_) | Kind::Scalar(Scalar { rule: ScalarRule::String { .. }, .. }) => {
                vec![TypeSpaceImpl::Display, TypeSpaceImpl::FromStr]
            }
        };
        settings.with_replacement(kind.name(), format!("crate::{}", kind.name()), impls.into_iter());
    }
    let root: schemars08::schema::RootSchema =
        serde_json::from_value(model.bundled.clone()).context("bundled schema as a schemars RootSchema")?;
    let mut space = TypeSpace::new(&settings);
    // typify panics on some schema shapes; turn that into an error that names the cause.
    std::panic::catch_unwind(AssertUnwindSafe(|| space.add_root_schema(root)))
        .map_err(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            format_err!("typify panicked: {msg}")
        })?
        .context("typify")?;
    Ok(space.to_stream().to_string())
}

/// Formats with the toolchain's rustfmt and the repository's `rustfmt.toml`, so the
/// output is exactly what `cargo fmt` leaves alone.
fn format_rust(src: &str) -> Result<String> {
    use std::io::Write;
    use std::process::Stdio;
    let config = project_root().join("rustfmt.toml");
    let mut child = rustfmt()?
        .args(["--edition", "2024", "--emit", "stdout", "--config-path"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    child.stdin.take().expect("piped").write_all(src.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        anyhow::bail!("rustfmt rejected the generated code: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}
