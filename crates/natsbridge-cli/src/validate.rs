//! `natsbridge validate`: checks JSON documents (files, standard input, NDJSON streams)
//! against one message of the built-in v1 contract or of a team's own spec, and reports
//! every failure with its JSON pointer and the rule it breaks. Runs anywhere the binary
//! does: no repository, no network.
//!
//! `--profile reference` adds the reference specification's own rules where this schema is
//! deliberately looser (it accepts the ids real senders write): `correlation_id`, `msg_id`,
//! `sender_id` and every payload `id` must be UUID v4, as the reference field table says.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::CliResult;

/// `natsbridge validate`'s arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Documents to check; `-` (or none) reads standard input.
    files: Vec<PathBuf>,
    /// A team's spec instead of the built-in v1 contract: a directory of `*.schema.json`
    /// (with its `asyncapi.yaml`), or that `asyncapi.yaml`.
    #[arg(long, value_name = "DIR|asyncapi.yaml")]
    spec: Option<PathBuf>,
    /// The message to check against: an AsyncAPI message (its key or its `name`) or a
    /// schema file's stem. Default: `msg_envelope_v1`, or the spec's only message.
    #[arg(long)]
    message: Option<String>,
    /// Every non-empty line is a document (NDJSON); failures name the line.
    #[arg(long)]
    ndjson: bool,
    /// `schema`: the contract's rules; `reference`: also the reference specification's
    /// (correlation_id, msg_id, sender_id and payload ids are UUID v4).
    #[arg(long, value_enum, default_value_t = Profile::Schema)]
    profile: Profile,
    /// `text`: one line per failure; `json`: one object per document.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Profile {
    Schema,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

/// One broken rule.
struct Failure {
    pointer: String,
    rule: String,
    message: String,
}

pub(crate) fn run(args: ValidateArgs) -> CliResult {
    let (registry, target, message) = load_spec(args.spec.as_deref(), args.message.as_deref())?;
    let registry = registry.prepare()?;
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .build(&json!({ "$ref": target }))?;
    let reference = args.profile == Profile::Reference;
    if reference && message != "msg_envelope_v1" {
        return Err(format!("--profile reference checks msg_envelope_v1 documents, not `{message}`").into());
    }
    let (mut checked, mut bad) = (0usize, 0usize);
    let mut report = |source: String, document: Result<Value, String>| {
        checked += 1;
        let failures = match document {
            Err(why) => vec![Failure { pointer: "/".into(), rule: "json".into(), message: why }],
            Ok(v) => {
                let mut found: Vec<Failure> = validator
                    .iter_errors(&v)
                    .map(|e| Failure {
                        pointer: pointer_of(e.instance_path().as_str()),
                        rule: e.kind().keyword().to_owned(),
                        message: e.to_string(),
                    })
                    .collect();
                if reference {
                    found.extend(reference_failures(&v));
                }
                found
            }
        };
        if !failures.is_empty() {
            bad += 1;
        }
        print_result(args.format, &source, &failures);
    };
    let sources: Vec<PathBuf> =
        if args.files.is_empty() { vec![PathBuf::from("-")] } else { args.files.clone() };
    for file in &sources {
        let name = if file.as_os_str() == "-" { "<stdin>".to_owned() } else { file.display().to_string() };
        if args.ndjson {
            let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(file).map_err(|e| format!("{name}: {e}"))?,
                ))
            };
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| format!("{name}: {e}"))?;
                if !line.trim().is_empty() {
                    report(format!("{name}:{}", i + 1), parse(line.as_bytes()));
                }
            }
        } else {
            let bytes = if file.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin().read_to_end(&mut buf).map(|_| buf)
            } else {
                std::fs::read(file)
            };
            report(name, bytes.map_err(|e| format!("unreadable: {e}")).and_then(|b| parse(&b)));
        }
    }
    eprintln!("{} of {checked} document(s) valid against {message}", checked - bad);
    Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn parse(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))
}

fn pointer_of(path: &str) -> String {
    if path.is_empty() { "/".to_owned() } else { path.to_owned() }
}

fn print_result(format: Format, source: &str, failures: &[Failure]) {
    match format {
        Format::Text => {
            for f in failures {
                println!("{source}: invalid: {}: breaks `{}`: {}", f.pointer, f.rule, f.message);
            }
        }
        Format::Json => {
            let errors: Vec<Value> = failures
                .iter()
                .map(|f| json!({"pointer": f.pointer, "rule": f.rule, "message": f.message}))
                .collect();
            println!("{}", json!({"source": source, "valid": failures.is_empty(), "errors": errors}));
        }
    }
}

/// The reference specification's rules this schema leaves looser: UUID v4 ids.
fn reference_failures(envelope: &Value) -> Vec<Failure> {
    let mut ids: Vec<(String, &Value)> =
        ["correlation_id", "msg_id", "sender_id"].iter().map(|k| (format!("/{k}"), &envelope[*k])).collect();
    for (i, p) in envelope["payloads"].as_array().into_iter().flatten().enumerate() {
        ids.push((format!("/payloads/{i}/id"), &p["id"]));
    }
    ids.into_iter()
        .filter(|(_, v)| !v.as_str().is_some_and(is_uuid_v4))
        .map(|(pointer, v)| Failure {
            pointer,
            rule: "reference/uuid-v4".into(),
            message: format!("{v} is not a UUID v4 (the reference field table requires one)"),
        })
        .collect()
}

/// `xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`, hex in either case.
fn is_uuid_v4(s: &str) -> bool {
    uuid::Uuid::try_parse(s)
        .is_ok_and(|u| s.len() == 36 && u.get_version_num() == 4 && u.get_variant() == uuid::Variant::RFC4122)
}

/// The registry of schemas, the URI of the message's schema, and the message's name.
fn load_spec(
    spec: Option<&Path>,
    message: Option<&str>,
) -> Result<(jsonschema::RegistryBuilder<'static>, String, String), Box<dyn std::error::Error>> {
    let Some(spec) = spec else {
        // The built-in contract: one bundle, each message a definition.
        let bundle: Value = serde_json::from_str(natsbridge::types::SCHEMA_JSON)?;
        let message = message.unwrap_or("msg_envelope_v1").to_owned();
        let definition = pascal(&message);
        if bundle["definitions"].get(&definition).is_none() {
            let known: Vec<&String> =
                bundle["definitions"].as_object().into_iter().flatten().map(|(k, _)| k).collect();
            return Err(
                format!("no message `{message}` in the built-in contract (definitions: {known:?})").into()
            );
        }
        let uri = "https://natsbridge.invalid/bundle.json";
        let registry = jsonschema::Registry::new().add(uri, bundle)?;
        return Ok((registry, format!("{uri}#/definitions/{definition}"), message));
    };
    let dir =
        if spec.is_dir() { spec.to_owned() } else { spec.parent().unwrap_or(Path::new(".")).to_owned() };
    let mut uris: BTreeMap<String, String> = BTreeMap::new();
    let mut registry = jsonschema::Registry::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if !name.ends_with(".schema.json") {
            continue;
        }
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let uri = match schema["$id"].as_str() {
            Some(id) => id.to_owned(),
            None => format!("file://{}", std::fs::canonicalize(&path)?.display()),
        };
        registry = registry.add(uri.clone(), schema)?;
        uris.insert(name, uri);
    }
    if uris.is_empty() {
        return Err(format!("{}: no *.schema.json files", dir.display()).into());
    }
    // Messages: the AsyncAPI document's, else one per schema file.
    let asyncapi_path = if spec.is_dir() { dir.join("asyncapi.yaml") } else { spec.to_owned() };
    let mut messages: BTreeMap<String, String> = BTreeMap::new();
    if asyncapi_path.is_file() {
        let doc: Value = serde_norway::from_str(&std::fs::read_to_string(&asyncapi_path)?)
            .map_err(|e| format!("{}: {e}", asyncapi_path.display()))?;
        for (key, m) in doc.pointer("/components/messages").and_then(Value::as_object).into_iter().flatten() {
            let payload = &m["payload"];
            let reference =
                payload["schema"]["$ref"].as_str().or(payload["$ref"].as_str()).unwrap_or_default();
            let (file, fragment) = reference.split_once('#').unwrap_or((reference, ""));
            let Some(uri) = uris.get(file.trim_start_matches("./")) else { continue };
            let target = if fragment.is_empty() { uri.clone() } else { format!("{uri}#{fragment}") };
            if let Some(name) = m["name"].as_str() {
                messages.insert(name.to_owned(), target.clone());
            }
            messages.insert(key.clone(), target);
        }
    }
    for (file, uri) in &uris {
        messages.entry(file.trim_end_matches(".schema.json").to_owned()).or_insert_with(|| uri.clone());
    }
    let distinct: std::collections::BTreeSet<&String> = messages.values().collect();
    let message = match message {
        Some(m) => m.to_owned(),
        None if messages.contains_key("msg_envelope_v1") => "msg_envelope_v1".to_owned(),
        // One message under several names (its key, its `name`, its file): that one.
        None if distinct.len() == 1 => messages.keys().next().expect("one").clone(),
        None => {
            return Err(format!(
                "--message is needed: the spec has {:?}",
                messages.keys().collect::<Vec<_>>()
            )
            .into());
        }
    };
    let target = messages
        .get(&message)
        .ok_or_else(|| {
            format!(
                "no message `{message}` in {} (known: {:?})",
                spec.display(),
                messages.keys().collect::<Vec<_>>()
            )
        })?
        .clone();
    Ok((registry, target, message))
}

/// `msg_envelope_v1` → `MsgEnvelopeV1` (the bundle's definition names).
fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_v4_means_version_4_and_the_rfc_variant() {
        for (s, ok) in [
            ("0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11", true),
            ("0B7D8F6E-3F52-4F0E-9A59-0D2B7B1F6C11", true),
            ("0b7d8f6e-3f52-1f0e-9a59-0d2b7b1f6c11", false),
            ("0b7d8f6e-3f52-4f0e-1a59-0d2b7b1f6c11", false),
            ("0b7d8f6e3f524f0e9a590d2b7b1f6c11", false),
            ("sender-uuid...", false),
            ("", false),
        ] {
            assert_eq!(is_uuid_v4(s), ok, "{s}");
        }
    }

    #[test]
    fn message_names_become_definition_names() {
        assert_eq!(pascal("msg_envelope_v1"), "MsgEnvelopeV1");
        assert_eq!(pascal("error_response_v1"), "ErrorResponseV1");
    }
}
