//! `natsbridge diff` as a team's CI runs it: the example spec against itself (exit 0), a
//! copy with a required field added (exit 1 in `backward`, 0 in `forward`), against the
//! releases of a directory (transitively), and every way of being unable to judge (exit 2,
//! naming the mistake): a misspelt config key, an accepted break without a reason, an
//! unknown mode, an `--against` that is no file and no git ref, a document codegen refuses.

use std::path::{Path, PathBuf};
use std::process::Output;

use natsbridge_testkit::process::command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/simulation/asyncapi.yaml")
}

fn diff(spec: &Path, args: &[&str]) -> Output {
    command(env!("CARGO_BIN_EXE_natsbridge")).arg("diff").arg("--spec").arg(spec).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The example with one more required property in the command message.
fn with_required_field(dir: &Path) -> PathBuf {
    let original = std::fs::read_to_string(example()).unwrap();
    let edited =
        original.replacen("required: [step_size, iterations]", "required: [step_size, iterations, owner]", 1);
    assert_ne!(edited, original, "the example's Command lists `required: [step_size, iterations]`");
    let edited = edited.replacen(
        "        step_size:\n",
        "        owner:\n          type: string\n        step_size:\n",
        1,
    );
    let path = dir.join("asyncapi.yaml");
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn exit_status_says_compatible_breaking_or_could_not_judge() {
    let same = diff(&example(), &["--against", example().to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same));
    assert!(text(&same).contains("no changes to the wire contract"), "{}", text(&same));

    let dir = tempfile::tempdir().unwrap();
    let new = with_required_field(dir.path());
    let old = example();
    let backward =
        diff(&new, &["--against", old.to_str().unwrap(), "--mode", "backward", "--format", "json"]);
    assert_eq!(backward.status.code(), Some(1), "{}", text(&backward));
    let report: serde_json::Value = serde_json::from_slice(&backward.stdout).unwrap();
    let change = &report["reports"][0]["changes"][0];
    assert_eq!(
        (change["rule"].as_str(), change["senders"].as_str(), change["receivers"].as_str()),
        (Some("required-added"), Some("breaks"), Some("ok")),
        "{report:#}"
    );
    assert_eq!(change["operation"], "sendCommand", "{report:#}");
    let forward = diff(&new, &["--against", old.to_str().unwrap(), "--mode", "forward"]);
    assert_eq!(forward.status.code(), Some(0), "{}", text(&forward));

    // Releases: a directory per version; not transitive, the newest only.
    let releases = dir.path().join("releases");
    for (version, from) in [("1.2.0", old.clone()), ("1.3.0", new.clone())] {
        std::fs::create_dir_all(releases.join(version)).unwrap();
        std::fs::copy(&from, releases.join(version).join("asyncapi.yaml")).unwrap();
    }
    let latest = diff(&new, &["--against-releases", releases.to_str().unwrap(), "--mode", "backward"]);
    assert_eq!(latest.status.code(), Some(0), "{}", text(&latest));
    let all =
        diff(&new, &["--against-releases", releases.to_str().unwrap(), "--mode", "backward", "--transitive"]);
    assert_eq!(all.status.code(), Some(1), "{}", text(&all));
    assert!(text(&all).contains("against release 1.2.0"), "{}", text(&all));

    // Could not judge: exit 2 and the mistake named.
    let cases: Vec<(&str, Vec<&str>, Option<&str>, &str)> = vec![
        ("misspelt key", vec![], Some("diff:\n  mod: backward\n"), "unknown field `mod`"),
        (
            "no reason",
            vec![],
            Some(
                "diff:\n  accept:\n    - rule: required-added\n      at: Command.owner\n      reason: ' '\n",
            ),
            "has no reason",
        ),
        ("unknown mode", vec!["--mode", "bakward"], None, "`bakward` is not a mode"),
        (
            "no older version",
            vec!["--against", "v9.9.9-nowhere"],
            None,
            "`v9.9.9-nowhere` is neither a file nor a directory",
        ),
    ];
    for (name, args, config, expected) in cases {
        let config_path = dir.path().join("natsbridge.yaml");
        match config {
            Some(c) => std::fs::write(&config_path, c).unwrap(),
            None => {
                let _ = std::fs::remove_file(&config_path);
            }
        }
        let mut all_args = args.clone();
        if !args.contains(&"--against") {
            all_args.extend(["--against", old.to_str().unwrap()]);
        }
        let out = diff(&new, &all_args);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        assert!(text(&out).contains(expected), "{name}: want {expected:?} in {}", text(&out));
    }
    let _ = std::fs::remove_file(dir.path().join("natsbridge.yaml"));
    let refused = dir.path().join("refused.yaml");
    std::fs::write(&refused, "asyncapi: 2.6.0\ninfo: {title: x, version: '1'}\n").unwrap();
    let out = diff(&refused, &["--against", old.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("the generator reads AsyncAPI 3.x"), "{}", text(&out));
}

/// Releases as git tags: every tag matching the pattern, read from git (the working tree's
/// files play no part in the old sides).
#[test]
fn tags_of_the_repository_are_releases() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let out = command("git").args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    };
    git(&["init", "-q", "-b", "main", "."]);
    git(&["config", "user.email", "ci@example.invalid"]);
    git(&["config", "user.name", "CI"]);
    let spec = dir.path().join("asyncapi.yaml");
    std::fs::copy(example(), &spec).unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "1.2.0"]);
    git(&["tag", "v1.2.0"]);
    with_required_field(dir.path());
    git(&["commit", "-q", "-am", "owner"]);
    git(&["tag", "v1.3.0"]);
    // The working tree: one more optional field, compatible with v1.3.0, not with v1.2.0.
    let text_now = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text_now.replacen("        owner:\n", "        note:\n          type: string\n        owner:\n", 1),
    )
    .unwrap();

    let last = diff(&spec, &["--against", "v1.3.0", "--mode", "backward"]);
    assert_eq!(last.status.code(), Some(0), "{}", text(&last));
    let all =
        diff(&spec, &["--against-tags", "v*", "--transitive", "--mode", "backward", "--format", "json"]);
    assert_eq!(all.status.code(), Some(1), "{}", text(&all));
    let report: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let olds: Vec<_> = report["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["old"].clone(), r["verdict"].clone()))
        .collect();
    assert_eq!(
        olds,
        [
            (serde_json::json!("v1.2.0"), serde_json::json!("breaking")),
            (serde_json::json!("v1.3.0"), serde_json::json!("compatible"))
        ]
    );
}
