//! The corpus: real AsyncAPI 3.0 documents from public repositories (`tests/corpus/`,
//! never edited; origins and licenses in `tests/corpus/corpus.yaml`). Every document either
//! generates all four languages or is refused with exactly the message the manifest
//! records. `cargo xtask corpus` then compiles and type-checks what the accepted ones
//! generate, and has two of them exchange typed messages across Rust, TypeScript and Python.

use std::path::{Path, PathBuf};

use natsbridge_codegen::Rustfmt;
use natsbridge_codegen::api::{self, AddressStyle, LoadOptions};
use serde::Deserialize;

/// One document of the corpus, as `corpus.yaml` describes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Doc {
    /// The file under `tests/corpus/`.
    file: String,
    /// Where it comes from: `owner/name`, the path there, the commit.
    repo: String,
    path: String,
    commit: String,
    license: String,
    /// Written for NATS (a `nats` server or bindings).
    nats: bool,
    /// What it uses, for docs/codegen.md's table.
    features: Vec<String>,
    /// `slash`: generated with `--address-style slash`.
    #[serde(default)]
    address_style: Option<String>,
    /// `generates`, or the exact refusal.
    expect: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn docs() -> Vec<Doc> {
    let text = std::fs::read_to_string(corpus_dir().join("corpus.yaml")).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn the_corpus_is_real_and_varied() {
    let docs = docs();
    assert!(docs.len() >= 12, "{} documents", docs.len());
    let mut sources: Vec<&str> = docs.iter().map(|d| d.repo.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    assert!(sources.len() >= 4, "{sources:?}");
    assert!(docs.iter().filter(|d| d.nats).count() >= 3, "documents written for NATS");
    for d in &docs {
        assert!(corpus_dir().join(&d.file).is_file(), "{} is listed but missing", d.file);
        assert!(
            d.commit.len() == 40 && d.commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "{}: commit",
            d.file
        );
        assert!(!d.license.is_empty() && !d.path.is_empty() && !d.features.is_empty(), "{}", d.file);
    }
    assert!(docs.iter().filter(|d| d.expect == "generates").count() * 2 > docs.len(), "most generate");
}

#[test]
fn every_document_generates_or_is_refused_with_its_exact_message() {
    let mut wrong = Vec::new();
    for d in docs() {
        let style = match d.address_style.as_deref() {
            None => AddressStyle::Nats,
            Some("slash") => AddressStyle::Slash,
            Some(other) => panic!("{}: address_style {other}", d.file),
        };
        let outcome =
            api::Spec::load_with(&corpus_dir().join(&d.file), &LoadOptions { address_style: style })
                .and_then(|spec| {
                    let options = api::Options::from_spec(&spec);
                    api::generate(&spec, &options, &Rustfmt::default())
                });
        let got = match outcome {
            Ok(files) => {
                assert!(files.iter().any(|f| f.path == "rust/src/operations.rs"), "{}", d.file);
                "generates".to_owned()
            }
            Err(e) => format!("{e:#}"),
        };
        if got != d.expect {
            wrong.push(format!("{}:\n  expected: {}\n       got: {got}", d.file, d.expect));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
