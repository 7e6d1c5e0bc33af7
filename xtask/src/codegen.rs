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
use natsbridge_codegen::model::Model;
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
    let model = Model::load(&root.join("schema"))?;
    let mut files = contract::generate_all(&model, &contract::Layout::default(), &fmt)?;
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

/// What a team does, in a scratch directory outside the repository: `natsbridge codegen`
/// (the binary `cargo test` built) on the example spec, then the Rust crate is checked
/// against this checkout's runtime. Run by `cargo xtask test` outside cargo's own lock,
/// into the shared target directory.
pub(crate) fn scratch_check(root: &Path) -> Result<()> {
    use crate::util::{cargo, run_checked, target_dir};
    let dir = std::env::temp_dir().join(format!("natsbridge-team-codegen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    run_checked(
        std::process::Command::new(target_dir().join("debug/natsbridge"))
            .arg("codegen")
            .arg("--spec")
            .arg(root.join(EXAMPLE_SPEC))
            .arg("--out")
            .arg(&dir)
            .arg("--runtime-checkout")
            .arg(root),
    )?;
    for lang in ["rust", "typescript", "python", "julia"] {
        anyhow::ensure!(dir.join(lang).is_dir(), "natsbridge codegen wrote no {lang}/");
    }
    let krate = dir.join("rust");
    std::fs::copy(root.join("Cargo.lock"), krate.join("Cargo.lock"))?;
    run_checked(cargo().args(["check", "--offline", "--manifest-path"]).arg(krate.join("Cargo.toml")))?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
