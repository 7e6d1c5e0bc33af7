//! Rust: structs from typify, scalar types (open enums, constrained strings) from
//! `templates/rust/scalars.rs`, all formatted with rustfmt.

use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result, format_err};
use askama::Template;
use typify::{TypeSpace, TypeSpaceImpl, TypeSpaceSettings};

use super::model::{Model, TypeKind};
use super::names::pascal;
use super::{GeneratedFile, preamble};

#[derive(Template)]
#[template(path = "rust/scalars.rs", escape = "none")]
struct ScalarsView {
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

pub(crate) fn generate(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("//", model);
    let scalars = ScalarsView {
        enums: model
            .of_kind(|k| matches!(k, TypeKind::Enum { .. }))
            .map(|t| {
                let TypeKind::Enum { values } = &t.kind else { unreachable!() };
                EnumView {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    variants: values
                        .iter()
                        .map(|v| VariantView { variant: pascal(v), value: v.clone() })
                        .collect(),
                    schema_json: serde_json::to_string(model.definition(&t.name)).expect("Value"),
                }
            })
            .collect(),
        strings: model
            .of_kind(|k| matches!(k, TypeKind::String { .. }))
            .map(|t| {
                let TypeKind::String { pattern, min_length } = &t.kind else { unreachable!() };
                StringView {
                    name: t.name.clone(),
                    description: t.description.clone(),
                    pattern: pattern.clone(),
                    min_length: *min_length,
                    schema_json: serde_json::to_string(model.definition(&t.name)).expect("Value"),
                }
            })
            .collect(),
    };
    let scalars_src = format_rust(&scalars.render()?).context("formatting scalars.rs")?;

    let types_src = format_rust(&typify_structs(model)?).context("formatting types.rs")?;

    let roots: Vec<String> = model.roots.clone();
    let lib = format_rust(&format!(
        "{pre}\
//! NATSBridge wire types, generated from `schema/`.
//!
//! Parse an envelope with serde and get typed, validated fields; unknown properties are
//! kept in `extra` and unknown enum values in `Unknown(..)`, so relaying never loses data.
//!
//! ```
//! let text = r#\"{{\"correlation_id\":\"0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11\",\"msg_id\":\"5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20\",
//!   \"timestamp\":\"2026-03-13T07:02:50.443Z\",\"send_to\":\"demo\",\"msg_purpose\":\"chat\",\"sender_name\":\"a\",
//!   \"sender_id\":\"\",\"receiver_name\":\"\",\"receiver_id\":\"\",\"reply_to\":\"\",\"reply_to_msg_id\":\"\",\"payloads\":[]}}\"#;
//! let env: natsbridge_types::MsgEnvelopeV1 = serde_json::from_str(text).unwrap();
//! assert_eq!(env.timestamp.as_str(), \"2026-03-13T07:02:50.443Z\");
//! ```
#![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]

mod scalars;
mod types;

pub use scalars::*;
pub use types::*;

/// The bundled JSON Schema (draft-07) every type here was generated from.
pub const SCHEMA_JSON: &str = include_str!(\"schema.json\");

/// SHA-256 (hex) of the `schema/` files this crate was generated from.
pub const SCHEMA_SHA256: &str = \"{hash}\";

/// The root message types, in schema order.
pub const ROOT_TYPES: &[&str] = &[{roots}];
",
        hash = model.schema_hash,
        roots = roots.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", "),
    ))?;

    let manifest = format!(
        "{}{}",
        preamble("#", model),
        r#"[package]
name = "natsbridge-types"
description = "NATSBridge wire types (msg_envelope_v1, msg_payload_v1), generated from schema/"
version.workspace = true
edition.workspace = true
license.workspace = true

[dependencies]
regress.workspace = true
schemars.workspace = true
serde.workspace = true
serde_json.workspace = true

[lints]
workspace = true
"#
    );
    Ok(vec![
        GeneratedFile::new(format!("{out_dir}/Cargo.toml"), manifest),
        GeneratedFile::new(format!("{out_dir}/src/lib.rs"), lib),
        GeneratedFile::new(format!("{out_dir}/src/scalars.rs"), format!("{pre}{scalars_src}")),
        GeneratedFile::new(format!("{out_dir}/src/types.rs"), format!("{pre}{types_src}")),
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
    for t in model.types.values() {
        if !matches!(t.kind, TypeKind::Struct { .. }) {
            let impls: Vec<TypeSpaceImpl> = match t.kind {
                TypeKind::Map => vec![TypeSpaceImpl::Default],
                _ => vec![TypeSpaceImpl::Display, TypeSpaceImpl::FromStr],
            };
            settings.with_replacement(&t.name, format!("crate::{}", t.name), impls.into_iter());
        }
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
    let tokens = space.to_stream();
    Ok(format!(
        "//! Structs generated by typify from the bundled schema.\n\n#![allow(clippy::all)]\n\n{tokens}"
    ))
}

/// Formats with the toolchain's rustfmt and the repository's `rustfmt.toml`, so the
/// output is exactly what `cargo fmt` leaves alone.
fn format_rust(src: &str) -> Result<String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let config = super::project_root().join("rustfmt.toml");
    let mut child = Command::new(std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into()))
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
