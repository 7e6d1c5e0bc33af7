//! The envelope's own wire types: what `cargo xtask codegen` writes to `generated/` and
//! `docs/reference/` from this repository's `schema/`.

use anyhow::{Context, Result};

use crate::model::Model;
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

/// Every file generated from `model`, sorted by path.
pub fn generate_all(model: &Model, layout: &Layout, rustfmt: &Rustfmt) -> Result<Vec<GeneratedFile>> {
    let mut files = Vec::new();
    files.extend(rust::generate(model, &layout.rust, rustfmt).context("rust")?);
    files.extend(typescript::generate(model, &layout.typescript).context("typescript")?);
    files.extend(python::generate(model, &layout.python).context("python")?);
    files.extend(julia::generate(model, &layout.julia).context("julia")?);
    files.extend(micropython::generate(model, &layout.micropython).context("micropython")?);
    files.extend(docs::generate(model, &layout.docs).context("docs")?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The Python types package alone (`natsbridge_types`), under `out_dir`.
pub fn python(model: &Model, out_dir: &str) -> Result<Vec<GeneratedFile>> {
    python::generate(model, out_dir)
}
