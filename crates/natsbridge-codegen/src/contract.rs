//! The envelope's own contract: what `cargo xtask codegen` writes to `generated/` and
//! `docs/reference/` from this repository's `schema/` — the wire types and the runtime
//! profile (`schema/runtime_profile_v1.json`, see [`crate::profile`]).

use std::path::Path;

use anyhow::{Context, Result};

use crate::model::Model;
use crate::profile::{self, Profile};
use crate::{GeneratedFile, Rustfmt, docs, julia, micropython, python, rust, typescript};

/// Output roots, relative to the output root (the repository root for `cargo xtask`).
#[derive(Debug, Clone)]
pub struct Layout {
    /// The `natsbridge-types` crate.
    pub rust: String,
    /// The `@natsbridge/types` package.
    pub typescript: String,
    /// The `natsbridge-types` Python distribution.
    pub python: String,
    /// The `NATSBridgeTypes` Julia package.
    pub julia: String,
    /// The MicroPython constants module.
    pub micropython: String,
    /// The wire-types docs page.
    pub docs: String,
}

impl Default for Layout {
    /// This repository's layout.
    fn default() -> Self {
        Layout {
            rust: "generated/rust".into(),
            typescript: "generated/typescript".into(),
            python: "generated/python".into(),
            julia: "generated/julia".into(),
            micropython: "generated/micropython".into(),
            docs: "docs/reference".into(),
        }
    }
}

impl Layout {
    /// The directories whose every file the generator writes (so `--check` flags strays).
    pub fn owned(&self) -> Vec<&str> {
        vec![&self.rust, &self.typescript, &self.python, &self.julia, &self.docs]
    }
}

/// The contract of a schema directory: its wire types and its runtime profile (none for a
/// schema directory without `runtime_profile_v1.json`, such as a test fixture).
#[derive(Debug)]
pub struct Contract {
    pub model: Model,
    pub profile: Option<Profile>,
}

impl Contract {
    /// Reads `dir`'s `*.schema.json` files and its `runtime_profile_v1.json`.
    pub fn load(dir: &Path) -> Result<Contract> {
        let model = Model::load(dir)?;
        let path = dir.join(profile::FILE_NAME);
        let profile = match std::fs::read_to_string(&path) {
            Ok(text) => Some(Profile::parse(&text, &model).with_context(|| path.display().to_string())?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(Contract { model, profile })
    }
}

/// Every file generated from the contract, sorted by path.
pub fn generate_all(contract: &Contract, layout: &Layout, rustfmt: &Rustfmt) -> Result<Vec<GeneratedFile>> {
    let model = &contract.model;
    let profile = contract.profile.as_ref();
    let mut files = Vec::new();
    files.extend(rust::generate(model, profile, &layout.rust, rustfmt).context("rust")?);
    files.extend(typescript::generate(model, profile, &layout.typescript).context("typescript")?);
    files.extend(python::generate(model, profile, &layout.python).context("python")?);
    files.extend(julia::generate(model, profile, &layout.julia).context("julia")?);
    files.extend(micropython::generate(model, profile, &layout.micropython).context("micropython")?);
    files.extend(docs::generate(model, &layout.docs).context("docs")?);
    if let Some(profile) = profile {
        files.push(profile::docs(profile, &layout.docs).context("profile docs")?);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The Python types package alone (`natsbridge_types`), under `out_dir`.
pub fn python(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    python::generate(model, None, out_dir)
}
