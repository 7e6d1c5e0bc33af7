//! README's "same program in each language": the TypeScript block runs under plain `node`
//! against the compiled `@natsbridge/client`, the Python block under the project's
//! interpreter with the `natsbridge` runtime, both against a real nats-server and the
//! embedded file server; they must print the lines README shows. (The Rust block is
//! compiled as a doctest of the runtime crate.)

use std::process::Output;

use natsbridge_testkit::process::command;
use natsbridge_testkit::{NatsServer, project_root, project_tool};

use crate::common::start_fileserver;

/// The code block that follows the `<!-- side-by-side: LANG ... -->` marker.
fn block(readme: &str, lang: &str) -> String {
    let marker = format!("<!-- side-by-side: {lang} ");
    let at = readme.find(&marker).unwrap_or_else(|| panic!("README has no {marker}"));
    let rest = &readme[at..];
    let start = rest.find("```").unwrap();
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

/// The lines README says the programs print.
fn expected(readme: &str) -> String {
    let at = readme.find("The TypeScript and Python programs print the same two lines").unwrap();
    let rest = &readme[at..];
    let body = &rest[rest.find("```text\n").unwrap() + 8..];
    body[..body.find("```").unwrap()].to_owned()
}

fn stdout(lang: &str, out: Output) -> String {
    assert!(out.status.success(), "the {lang} block failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_typescript_and_python_blocks_print_what_readme_says() {
    let root = project_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let server = NatsServer::spawn();
    let dir = tempfile::tempdir().unwrap();
    let (_files, files_url) = start_fileserver(env!("CARGO_BIN_EXE_natsbridge"), &dir.path().join("files"));
    let want = expected(&readme);

    // Under the repository, so that `@natsbridge/client` resolves to the workspace package.
    // (`target/` need not exist: the build may use another CARGO_TARGET_DIR.)
    std::fs::create_dir_all(root.join("target")).unwrap();
    let js = root.join("target/readme-side-by-side.mjs");
    std::fs::write(&js, block(&readme, "typescript")).unwrap();
    let out = command("node")
        .arg(&js)
        .env("NATS_URL", server.url())
        .env("FILESERVER_URL", &files_url)
        .output()
        .unwrap();
    assert_eq!(stdout("typescript", out), want);

    let python = project_tool(".venv/bin/python").unwrap_or_else(|e| panic!("{e}"));
    let out = command(python)
        .args(["-c", &block(&readme, "python")])
        .env(
            "PYTHONPATH",
            std::env::join_paths([root.join("generated/python"), root.join("packages/python")]).unwrap(),
        )
        .env("NATS_URL", server.url())
        .env("FILESERVER_URL", &files_url)
        .output()
        .unwrap();
    assert_eq!(stdout("python", out), want);
}
