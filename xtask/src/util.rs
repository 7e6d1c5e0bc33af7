//! What every xtask command needs: where the repository and cargo's output are, which
//! cargo and rustfmt to run, and running a command so that a failure says what failed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, format_err};

/// The repository root (the parent of `xtask/`).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo root").to_path_buf()
}

/// The cargo that runs us (`$CARGO`), or `cargo` from `PATH`.
pub(crate) fn cargo_path() -> PathBuf {
    std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from)
}

/// A `cargo` command in the repository root.
pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(cargo_path());
    cmd.current_dir(project_root());
    cmd
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` or `target/` at the root.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| project_root().join("target"), PathBuf::from)
}

/// Prints `$ cmd`, runs it with inherited stdio and fails unless it exits with 0.
pub(crate) fn run_checked(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its stdout; on failure the error carries its stderr.
pub(crate) fn read_output(cmd: &mut Command) -> Result<String> {
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("could not start {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    String::from_utf8(out.stdout).with_context(|| format!("{cmd:?} printed non-UTF-8"))
}

/// The toolchain `rust-toolchain.toml` pins (its `channel`).
pub(crate) fn pinned_toolchain() -> Result<String> {
    let path = project_root().join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("channel"))
        .find_map(|rest| rest.trim_start().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .filter(|channel| !channel.is_empty())
        .ok_or_else(|| format_err!("{} has no `channel = \"...\"`", path.display()))
}

/// The rustfmt that formats generated Rust: `$RUSTFMT` when set; else the pinned
/// toolchain's (`rustup run <channel> rustfmt`) where rustup exists; else `rustfmt` from
/// `PATH`. The same rustfmt every time keeps `codegen --check` from flapping when the
/// default toolchain moves.
pub(crate) fn rustfmt() -> Result<Command> {
    static PROGRAM: OnceLock<Result<Vec<OsString>, String>> = OnceLock::new();
    let program = PROGRAM.get_or_init(|| {
        if let Some(explicit) = std::env::var_os("RUSTFMT") {
            return Ok(vec![explicit]);
        }
        let has_rustup = Command::new("rustup")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_rustup {
            return Ok(vec!["rustfmt".into()]);
        }
        let channel = pinned_toolchain().map_err(|e| format!("{e:#}"))?;
        let check = Command::new("rustup").args(["run", &channel, "rustfmt", "--version"]).output();
        match check {
            Ok(out) if out.status.success() => {
                Ok(vec!["rustup".into(), "run".into(), channel.into(), "rustfmt".into()])
            }
            _ => Err(format!(
                "rustfmt of the pinned toolchain {channel} is missing: \
                 run `rustup toolchain install {channel} --component rustfmt`"
            )),
        }
    });
    let program = program.as_ref().map_err(|e| format_err!("{e}"))?;
    let mut cmd = Command::new(&program[0]);
    cmd.args(&program[1..]);
    Ok(cmd)
}

/// `cargo metadata --no-deps` of the workspace at `root`, as JSON.
pub(crate) fn workspace_metadata(root: &Path) -> Result<serde_json::Value> {
    let text =
        read_output(cargo().current_dir(root).args(["metadata", "--no-deps", "--format-version", "1"]))?;
    serde_json::from_str(&text).context("reading `cargo metadata`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_toolchain_formats_generated_rust() {
        let channel = pinned_toolchain().unwrap();
        assert!(channel.chars().next().is_some_and(|c| c.is_ascii_digit()), "pin a version, not {channel}");
        let version = read_output(rustfmt().unwrap().arg("--version")).unwrap();
        assert!(version.starts_with("rustfmt "), "{version}");
    }

    #[test]
    fn read_output_reports_the_failure() {
        let err = read_output(Command::new("git").args(["--no-such-flag"])).unwrap_err();
        assert!(format!("{err:#}").contains("failed"), "{err:#}");
    }
}
