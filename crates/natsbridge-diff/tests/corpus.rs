//! Whatever `natsbridge codegen` accepts, `natsbridge diff` judges: every generating document
//! of the generator's corpus (real AsyncAPI 3.0 documents from public repositories) is read
//! by the same loader and judged against itself (no change) and against itself with its first
//! operation gone (a breaking change naming that operation).

use std::path::{Path, PathBuf};

use natsbridge_codegen::api::{AddressStyle, LoadOptions, Spec};
use natsbridge_diff::document::Api;
use natsbridge_diff::policy::{Mode, Policy};
use natsbridge_diff::report::{Verdict, judge};
use natsbridge_diff::{Side, render};
use serde::Deserialize;

#[derive(Deserialize)]
struct Doc {
    file: String,
    expect: String,
    #[serde(default)]
    address_style: Option<String>,
}

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../natsbridge-codegen/tests/corpus")
}

fn load(doc: &Doc) -> Spec {
    let options = LoadOptions {
        address_style: if doc.address_style.as_deref() == Some("slash") {
            AddressStyle::Slash
        } else {
            AddressStyle::Nats
        },
    };
    Spec::load_with(&corpus().join(&doc.file), &options).unwrap_or_else(|e| panic!("{}: {e:#}", doc.file))
}

#[test]
fn every_document_codegen_accepts_is_judged() {
    let docs: Vec<Doc> =
        serde_norway::from_str(&std::fs::read_to_string(corpus().join("corpus.yaml")).unwrap()).unwrap();
    let generating: Vec<&Doc> = docs.iter().filter(|d| d.expect == "generates").collect();
    assert!(generating.len() >= 20, "the corpus has {} generating documents", generating.len());
    let mut judged_removals = 0;
    for doc in generating {
        let side =
            |label: &str, spec: Spec| Side { label: label.to_owned(), file: None, doc: Api::from_spec(spec) };
        let old = side("old", load(doc));
        let same = judge(std::slice::from_ref(&old), &side("same", load(doc)), &Policy::mode(Mode::Full));
        assert!(same.reports[0].changes.is_empty(), "{}: {}", doc.file, render::text(&same));
        assert_eq!(same.verdict, Verdict::Compatible);

        let mut fewer = load(doc);
        if fewer.operations.is_empty() {
            continue;
        }
        let gone = fewer.operations.remove(0);
        let outcome = judge(std::slice::from_ref(&old), &side("fewer", fewer), &Policy::mode(Mode::Full));
        let change = outcome.reports[0]
            .changes
            .iter()
            .find(|c| c.change.operation.as_deref() == Some(gone.key.as_str()));
        let change = change.unwrap_or_else(|| {
            panic!("{}: nothing about `{}`:\n{}", doc.file, gone.key, render::text(&outcome))
        });
        assert!(
            ["operation-removed", "operation-renamed"].contains(&change.change.rule),
            "{}: {}",
            doc.file,
            render::text(&outcome)
        );
        judged_removals += 1;
    }
    assert!(judged_removals >= 15, "{judged_removals} documents had an operation to remove");
}
