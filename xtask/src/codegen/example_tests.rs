//! The example team spec (`examples/simulation/asyncapi.yaml`) through the engine's API
//! target: every language changes with the spec, Julia parses, bad specs are errors. (The
//! packages built outside the repository: `cargo xtask test`'s `team codegen` step.)

use natsbridge_codegen::api::{Options, Spec};
use natsbridge_codegen::{GeneratedFile, api};

use super::tests::julia_parses;
use super::{EXAMPLE_SPEC, example_options, repo_rustfmt, with_seed_field};
use crate::util::project_root;

fn example_text() -> String {
    std::fs::read_to_string(project_root().join(EXAMPLE_SPEC)).unwrap()
}

fn generate(text: &str, options: impl Fn(&Spec) -> Options) -> Vec<GeneratedFile> {
    let dir = project_root().join("examples/simulation");
    let spec = Spec::parse("asyncapi.yaml", text, &dir).unwrap();
    api::generate(&spec, &options(&spec), &repo_rustfmt().unwrap()).unwrap()
}

#[test]
fn adding_a_field_to_the_command_changes_all_four_languages() {
    let text = example_text();
    let edited = with_seed_field(&text).unwrap();
    let before = generate(&text, example_options);
    let after = generate(&edited, example_options);
    for lang in ["rust/", "typescript/", "python/", "julia/"] {
        let changed: Vec<&str> = after
            .iter()
            .filter(|f| f.path.starts_with(lang))
            .filter(|f| before.iter().find(|b| b.path == f.path).is_none_or(|b| b.contents != f.contents))
            .filter(|f| f.contents.contains("seed"))
            .map(|f| f.path.as_str())
            .collect();
        assert!(!changed.is_empty(), "no {lang} file mentions the new field");
    }
}

#[test]
fn example_julia_parses() {
    let files = generate(&example_text(), example_options);
    let julia: Vec<&GeneratedFile> = files.iter().filter(|f| f.path.ends_with(".jl")).collect();
    assert_eq!(julia.len(), 2, "the module and its Payloads");
    for f in julia {
        julia_parses(&f.contents).unwrap_or_else(|e| panic!("{}: {e}", f.path));
    }
}

#[test]
fn bad_specs_are_errors_that_say_where() {
    let text = example_text();
    for (from, to, expect) in [
        (
            "address: 'sim.{service}.command'",
            "address: 'sim.{service.command'",
            "`/channels/command/address`: `{service` in `sim.{service.command`: a parameter must be a whole subject token",
        ),
        (
            "x-natsbridge-payload-type: audio",
            "x-natsbridge-payload-type: mp3",
            "`/components/messages/AudioClip/x-natsbridge-payload-type`: unknown payload type `mp3`",
        ),
        (
            "        $ref: '#/components/schemas/Command'",
            "        $ref: '#/components/schemas/Nope'",
            "`/components/messages/Command/payload`: `$ref: #/components/schemas/Nope` points at nothing",
        ),
        ("asyncapi: 3.0.0", "asyncapi: 2.6.0", "convert a 2.x document with `asyncapi convert`"),
    ] {
        assert!(text.contains(from), "{from}");
        let dir = project_root().join("examples/simulation");
        let err = Spec::parse("asyncapi.yaml", &text.replacen(from, to, 1), &dir).unwrap_err();
        assert!(format!("{err:#}").contains(expect), "{from} -> {to}: {err:#}");
    }
}
