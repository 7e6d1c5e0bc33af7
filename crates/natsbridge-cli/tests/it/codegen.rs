//! `natsbridge codegen` as a team runs it, outside the repository: the example spec into a
//! scratch directory, `--check` clean right after and failing (exit 2, with a diff) once a
//! file is edited or a stray one appears, names and versions overridden, and a bad spec
//! reported with where it is wrong.

use std::path::{Path, PathBuf};
use std::process::Output;

use natsbridge_testkit::process::command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_natsbridge")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/simulation/asyncapi.yaml")
}

fn codegen(out: &Path, extra: &[&str]) -> Output {
    command(bin())
        .arg("codegen")
        .arg("--spec")
        .arg(example())
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn codegen_writes_four_packages_and_check_catches_drift() {
    let dir = tempfile::tempdir().unwrap();
    let out = codegen(dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out));
    for file in [
        "rust/Cargo.toml",
        "rust/src/operations.rs",
        "typescript/package.json",
        "python/pyproject.toml",
        "julia/Project.toml",
    ] {
        assert!(dir.path().join(file).is_file(), "{file} missing:\n{}", text(&out));
    }
    let manifest = std::fs::read_to_string(dir.path().join("rust/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"simulation-api\"") && manifest.contains("version = \"1.2.0\""),
        "{manifest}"
    );
    assert!(
        manifest.contains("natsbridge = { version = \"0.1.0\", features = [\"typed\"] }"),
        "registry runtime by default, with the typed layer: {manifest}"
    );

    let check = codegen(dir.path(), &["--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));

    let ops = dir.path().join("rust/src/operations.rs");
    std::fs::write(&ops, std::fs::read_to_string(&ops).unwrap().replace("send_command", "send_kommand"))
        .unwrap();
    std::fs::write(dir.path().join("julia/src/Stray.jl"), "module Stray end\n").unwrap();
    let check = codegen(dir.path(), &["--check"]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    let report = text(&check);
    assert!(
        report.contains("rust/src/operations.rs") && report.contains("-pub async fn send_kommand"),
        "{report}"
    );
    assert!(report.contains("julia/src/Stray.jl"), "{report}");
}

#[test]
fn names_versions_and_languages_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let out = codegen(
        dir.path(),
        &[
            "--lang",
            "rust,python",
            "--name",
            "rust=acme-sim",
            "--name",
            "python=acme-sim-py",
            "--version",
            "2.0.0-rc.1",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(!dir.path().join("typescript").exists() && !dir.path().join("julia").exists());
    let manifest = std::fs::read_to_string(dir.path().join("rust/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"acme-sim\"") && manifest.contains("version = \"2.0.0-rc.1\""),
        "{manifest}"
    );
    let pyproject = std::fs::read_to_string(dir.path().join("python/pyproject.toml")).unwrap();
    assert!(pyproject.contains("acme-sim-py") && pyproject.contains("2.0.0-rc.1"), "{pyproject}");

    let bad = codegen(dir.path(), &["--name", "cobol=x"]);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("unknown language `cobol`"), "{}", text(&bad));
}

#[test]
fn a_bad_spec_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("asyncapi.yaml");
    let example = std::fs::read_to_string(example()).unwrap();
    std::fs::write(
        &spec,
        example.replace("x-natsbridge-payload-type: audio", "x-natsbridge-payload-type: mp3"),
    )
    .unwrap();
    let out = command(bin())
        .args(["codegen", "--spec"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out);
    assert!(
        report.contains(
            "`/components/messages/AudioClip/x-natsbridge-payload-type`: unknown payload type `mp3`"
        ),
        "{report}"
    );
    assert!(!dir.path().join("out").exists(), "nothing is written from a bad spec");
}
