//! Rust: structs from typify, scalar types (open enums, constrained strings) from
//! `templates/rust/scalars.rs`, all formatted with rustfmt.

use std::panic::AssertUnwindSafe;

use anyhow::{Context, Result, bail, format_err};
use askama::Template;
use typify::{TypeDetails, TypeSpace, TypeSpaceImpl, TypeSpaceSettings};

use super::model::{Kind, Model, Scalar, ScalarRule, shapes_only};
use super::names::{rust_type_name, snake};
use super::pattern::compile;
use super::profile::{self, Profile};
use super::{GeneratedFile, Rustfmt, preamble};

#[derive(Template)]
#[template(path = "rust/scalars.rs", escape = "none")]
struct ScalarsView {
    preamble: String,
    /// Free-form objects, by Rust name.
    maps: Vec<String>,
    enums: Vec<EnumView>,
    strings: Vec<StringView>,
    /// Any enum or string type (they share `FromStr` and the schema helper).
    has_scalars: bool,
    /// Any string type whose `pattern` regress checks (they share `LazyLock`).
    has_patterns: bool,
    /// Any string type whose `pattern` compiled to a matcher (they share a test).
    has_matchers: bool,
}

struct EnumView {
    /// The Rust type name.
    name: String,
    /// The name in the schema (what `JsonSchema::schema_name` returns).
    schema_name: String,
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
    schema_name: String,
    description: String,
    pattern: Option<String>,
    /// The pattern compiled to Rust, when `pattern.rs` can.
    matcher: Option<MatcherView>,
    /// `minLength`, when above zero.
    min_length: Option<u64>,
    /// `minLength - 1`: the index of the last character that must exist.
    min_index: u64,
    schema_json: String,
}

struct MatcherView {
    fn_name: String,
    body: String,
    /// The sample strings as a list of Rust string literals.
    samples: String,
}

#[derive(Template)]
#[template(path = "rust/lib.rs", escape = "none")]
struct LibView {
    preamble: String,
    /// Whether the crate has the runtime profile module.
    profile: bool,
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
#[template(path = "rust/Cargo.toml.in", escape = "none")]
struct ManifestView {
    preamble: String,
}

/// The types crate of `model`; with a `profile` (the contract's), also its `profile` module.
pub(crate) fn generate(
    model: &Model,
    profile: Option<&Profile>,
    out_dir: &str,
    rustfmt: &Rustfmt,
) -> Result<Vec<GeneratedFile>> {
    let pre = preamble("//", model);
    let enums: Vec<EnumView> = model
        .enums()
        .map(|e| EnumView {
            name: rust_type_name(e.name),
            schema_name: e.name.to_owned(),
            description: e.description.to_owned(),
            variants: e
                .values
                .iter()
                .map(|v| VariantView { variant: rust_type_name(v), value: v.clone() })
                .collect(),
            schema_json: serde_json::to_string(model.definition(e.name)).expect("Value"),
        })
        .collect();
    let mut strings = Vec::new();
    let mut maps = Vec::new();
    for s in model.scalars() {
        match s.rule {
            ScalarRule::String { pattern, min_length } => strings.push(StringView {
                name: rust_type_name(s.name),
                schema_name: s.name.to_owned(),
                description: s.description.to_owned(),
                pattern: pattern.map(str::to_owned),
                matcher: pattern.and_then(compile).map(|c| MatcherView {
                    fn_name: format!("{}_pattern", snake(s.name)),
                    body: c.body,
                    samples: c.samples.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
                }),
                min_length: min_length.filter(|m| *m > 0),
                min_index: min_length.unwrap_or(1).saturating_sub(1),
                schema_json: serde_json::to_string(model.definition(s.name)).expect("Value"),
            }),
            ScalarRule::Map => maps.push(rust_type_name(s.name)),
            // typify builds the enum of a union (`typify_structs`).
            ScalarRule::Union(_) => {}
        }
    }
    let scalars = ScalarsView {
        preamble: pre.clone(),
        maps,
        has_scalars: !enums.is_empty() || !strings.is_empty(),
        has_patterns: strings.iter().any(|s| s.pattern.is_some() && s.matcher.is_none()),
        has_matchers: strings.iter().any(|s| s.matcher.is_some()),
        enums,
        strings,
    };
    let scalars = format_rust(rustfmt, &scalars.render()?).context("formatting scalars.rs")?;
    let types = TypesView { preamble: pre.clone(), tokens: typify_structs(model)? };
    let types = format_rust(rustfmt, &types.render()?).context("formatting types.rs")?;
    let lib = LibView {
        preamble: pre,
        profile: profile.is_some(),
        hash: model.schema_hash.clone(),
        roots: model.roots.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", "),
    };
    let lib = format_rust(rustfmt, &lib.render()?).context("formatting lib.rs")?;
    let manifest = ManifestView { preamble: preamble("#", model) }.render()?;
    let mut files = vec![
        GeneratedFile::new(format!("{out_dir}/Cargo.toml"), manifest),
        GeneratedFile::new(format!("{out_dir}/src/lib.rs"), lib),
        GeneratedFile::new(format!("{out_dir}/src/scalars.rs"), scalars),
        GeneratedFile::new(format!("{out_dir}/src/types.rs"), types),
        GeneratedFile::new(format!("{out_dir}/src/schema.json"), model.bundled_text()),
    ];
    if let Some(profile) = profile {
        let text = format_rust(rustfmt, &profile::rust(profile)?).context("formatting profile.rs")?;
        files.push(GeneratedFile::new(format!("{out_dir}/src/profile.rs"), text));
    }
    Ok(files)
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
            Kind::Struct(_) | Kind::Scalar(Scalar { rule: ScalarRule::Union(_), .. }) => continue,
            Kind::Scalar(Scalar { rule: ScalarRule::Map, .. }) => vec![TypeSpaceImpl::Default],
            Kind::Enum(_) | Kind::Scalar(Scalar { rule: ScalarRule::String { .. }, .. }) => {
                vec![TypeSpaceImpl::Display, TypeSpaceImpl::FromStr]
            }
        };
        let name = rust_type_name(kind.name());
        settings.with_replacement(&name, format!("crate::{name}"), impls.into_iter());
    }
    let root: schemars08::schema::RootSchema = serde_json::from_value(shapes_only(&model.bundled))
        .context("bundled schema as a schemars RootSchema")?;
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
    // typify generates only the structs; anything else means a replacement key missed the
    // name typify gave the type, and the scalar type would silently lose its rules.
    let unions =
        model.scalars().filter(|s| matches!(s.rule, ScalarRule::Union(_))).map(|s| rust_type_name(s.name));
    let structs: Vec<String> = model.structs().iter().map(|s| rust_type_name(s.name)).chain(unions).collect();
    let extra: Vec<String> = space
        .iter_types()
        .filter(|t| {
            matches!(t.details(), TypeDetails::Enum(_) | TypeDetails::Struct(_) | TypeDetails::Newtype(_))
        })
        .map(|t| t.name())
        .filter(|n| !structs.contains(n))
        .collect();
    if !extra.is_empty() {
        bail!(
            "typify generated {extra:?}, which are not structs of the schema: \
             names::rust_type_name must name types as typify does"
        );
    }
    Ok(space.to_stream().to_string())
}

/// Formats with the toolchain's rustfmt and the repository's `rustfmt.toml`, so the
/// output is exactly what `cargo fmt` leaves alone.
pub(crate) fn format_rust(rustfmt: &Rustfmt, src: &str) -> Result<String> {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = rustfmt.command();
    cmd.args(["--edition", "2024", "--emit", "stdout"]);
    if let Some(config) = &rustfmt.config {
        cmd.arg("--config-path").arg(config);
    }
    let mut child = cmd
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
