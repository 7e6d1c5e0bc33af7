//! `cargo xtask codegen [--check]`: everything under `generated/` and `docs/reference/`
//! is written from `schema/` alone, deterministically, and the example team spec
//! (`examples/simulation/asyncapi.yaml`) is generated into `examples/simulation/generated/`.
//!
//! The engine is the `natsbridge-codegen` crate; this module only knows where this
//! repository keeps its spec and its output, and which rustfmt it pins.

#[cfg(test)]
mod example_tests;
#[cfg(test)]
mod tests;

use std::path::Path;

use anyhow::{Context, Result};
use natsbridge_codegen::{GeneratedFile, Rustfmt, Staleness, api, contract, write_or_check_owned};

use crate::util::{project_root, rustfmt};

/// The example team spec and where its output is kept.
pub(crate) const EXAMPLE_SPEC: &str = "examples/simulation/asyncapi.yaml";
pub(crate) const EXAMPLE_OUT: &str = "examples/simulation/generated";

/// The repository's rustfmt: the pinned toolchain's, with `rustfmt.toml`.
pub(crate) fn repo_rustfmt() -> Result<Rustfmt> {
    let cmd = rustfmt()?;
    let mut program = vec![cmd.get_program().to_owned()];
    program.extend(cmd.get_args().map(ToOwned::to_owned));
    Ok(Rustfmt { program, config: Some(project_root().join("rustfmt.toml")) })
}

/// The example spec's options: its own names and versions, the runtimes of this checkout.
pub(crate) fn example_options(spec: &api::Spec) -> api::Options {
    // From examples/simulation/generated/<lang>/ up to the repository root.
    api::Options::from_spec(spec).runtimes_from_checkout("../../../..")
}

/// Every file `cargo xtask codegen` writes, relative to the repository root.
pub(crate) fn all_files(root: &Path) -> Result<Vec<GeneratedFile>> {
    let fmt = repo_rustfmt()?;
    let contract = contract::Contract::load(&root.join("schema"))?;
    let mut files = contract::generate_all(&contract, &contract::Layout::default(), &fmt)?;
    let spec = api::Spec::load(&root.join(EXAMPLE_SPEC)).context(EXAMPLE_SPEC)?;
    for mut f in api::generate(&spec, &example_options(&spec), &fmt).context(EXAMPLE_SPEC)? {
        f.path = format!("{EXAMPLE_OUT}/{}", f.path);
        files.push(f);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// Generates and either writes the files (`check == false`) or reports what is stale.
pub(crate) fn run(root: &Path, check: bool) -> Result<Staleness> {
    let files = all_files(root)?;
    let layout = contract::Layout::default();
    let mut owned = layout.owned();
    owned.push(EXAMPLE_OUT);
    let report = write_or_check_owned(root, &files, check, &owned)?;
    for path in &report.written {
        eprintln!("wrote {path}");
    }
    Ok(report)
}

/// The example spec with a field added to the command message (`seed`, optional), as a
/// team would edit it: the `team codegen` step and the tests regenerate from it.
pub(crate) fn with_seed_field(example: &str) -> Result<String> {
    let anchor = "        iterations:\n          type: integer\n          minimum: 1\n          maximum: 1000000\n          description: Number of steps to run.\n";
    anyhow::ensure!(
        example.contains(anchor),
        "the example's Command schema moved; update codegen::with_seed_field"
    );
    Ok(example.replace(
        anchor,
        &format!(
            "{anchor}        seed:\n          type: integer\n          description: Random seed of the run.\n"
        ),
    ))
}
