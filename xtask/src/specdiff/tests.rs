//! Fixture pairs for every rule (a base schema and one edit each, asserting the
//! classification), the acceptance edits on a scratch copy of the real `schema/` with exit
//! statuses, and the claims checked against generated readers: the Python package
//! generated from the old schema parses (or refuses) the new schema's messages, and the
//! other way round.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::util::project_root;
use Compat::{Breaks as B, Ok as K};
use natsbridge_diff::contract::Schema;
use natsbridge_diff::policy::{Mode, Policy};
use natsbridge_diff::report::{Severity, Verdict, compare, judge};
use natsbridge_diff::source::{self, Against};
use natsbridge_diff::{Compat, Side, render};

fn base_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ThingV1",
        "description": "A fixture message.",
        "type": "object",
        "additionalProperties": {},
        "required": ["id", "kind", "count", "label"],
        "properties": {
            "id": {"$ref": "#/definitions/Id"},
            "kind": {"$ref": "#/definitions/Kind"},
            "count": {"type": "integer", "minimum": 0},
            "label": {"type": "string", "maxLength": 64},
            "note": {"type": "string", "description": "optional"},
            "ratio": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "version": {"type": "string", "const": "1"}
        },
        "definitions": {
            "Id": {"type": "string", "pattern": "^[a-z0-9-]+$"},
            "Name": {"type": "string", "minLength": 1},
            "Kind": {"type": "string", "enum": ["alpha", "beta", "gamma"]},
            "Other": {"type": "object", "properties": {"x": {"type": "string"}}}
        }
    })
}

fn base_asyncapi() -> Value {
    json!({
        "asyncapi": "3.0.0",
        "info": {"title": "fixture", "version": "1.2.0"},
        "channels": {
            "things": {"address": "things.{id}", "messages": {"thing": {"$ref": "#/components/messages/Thing"}}},
            "audit": {"address": "audit", "messages": {"thing": {"$ref": "#/components/messages/Thing"}}}
        },
        "operations": {
            "sendThing": {"action": "send", "channel": {"$ref": "#/channels/things"},
                          "messages": [{"$ref": "#/channels/things/messages/thing"}]},
            "askThing": {"action": "send", "channel": {"$ref": "#/channels/things"},
                         "messages": [{"$ref": "#/channels/things/messages/thing"}],
                         "reply": {"address": {"location": "$message.payload#/reply_to"}}}
        },
        "components": {
            "messages": {
                "Thing": {"name": "thing_v1", "contentType": "application/json",
                          "headers": {"$ref": "#/components/schemas/NatsHeaders"},
                          "payload": {"schema": {"$ref": "./thing_v1.schema.json"}}},
                "Gone": {"name": "gone_v1", "payload": {"schema": {"$ref": "./thing_v1.schema.json"}}}
            },
            "schemas": {
                "NatsHeaders": {"type": "object", "properties": {
                    "Nats-Msg-Id": {"type": "string"},
                    "Sample-Rate": {"type": "string", "pattern": "^[0-9]+$"}
                }}
            }
        }
    })
}

fn spec(label: &str, schema: &Value, asyncapi: &Value) -> Side<Schema> {
    let files = BTreeMap::from([
        ("thing_v1.schema.json".to_owned(), serde_json::to_string_pretty(schema).unwrap()),
        ("asyncapi.yaml".to_owned(), serde_norway::to_string(asyncapi).unwrap()),
    ]);
    let doc = Schema::from_files(label, &files).unwrap_or_else(|e| panic!("{label}: {e:#}"));
    Side { label: label.to_owned(), file: None, doc }
}

/// One fixture pair: an edit of the schema or of the AsyncAPI document, and the one change
/// it must produce.
struct Case {
    name: &'static str,
    edit: fn(&mut Value, &mut Value),
    rule: &'static str,
    location: &'static str,
    forward: Compat,
    backward: Compat,
}

fn props(s: &mut Value) -> &mut serde_json::Map<String, Value> {
    s["properties"].as_object_mut().unwrap()
}

fn required(s: &mut Value) -> &mut Vec<Value> {
    s["required"].as_array_mut().unwrap()
}

const CASES: &[Case] = &[
    Case {
        name: "required property removed",
        edit: |s, _| {
            props(s).remove("label");
            required(s).retain(|r| r != "label");
        },
        rule: "property-removed",
        location: "ThingV1.label",
        forward: B,
        backward: K,
    },
    Case {
        name: "optional property removed",
        edit: |s, _| {
            props(s).remove("note");
        },
        rule: "property-removed",
        location: "ThingV1.note",
        forward: K,
        backward: K,
    },
    Case {
        name: "required property added",
        edit: |s, _| {
            props(s).insert("owner".into(), json!({"type": "string"}));
            required(s).push(json!("owner"));
        },
        rule: "required-added",
        location: "ThingV1.owner",
        forward: K,
        backward: B,
    },
    Case {
        name: "optional property added",
        edit: |s, _| {
            props(s).insert("owner".into(), json!({"type": "string"}));
        },
        rule: "optional-added",
        location: "ThingV1.owner",
        forward: K,
        backward: K,
    },
    Case {
        name: "optional property added to a closed object",
        edit: |s, _| {
            s["additionalProperties"] = json!(false);
            props(s).insert("owner".into(), json!({"type": "string"}));
        },
        rule: "optional-added",
        location: "ThingV1.owner",
        forward: B,
        backward: K,
    },
    Case {
        name: "optional became required",
        edit: |s, _| required(s).push(json!("note")),
        rule: "became-required",
        location: "ThingV1.note",
        forward: K,
        backward: B,
    },
    Case {
        name: "required became optional",
        edit: |s, _| required(s).retain(|r| r != "label"),
        rule: "became-optional",
        location: "ThingV1.label",
        forward: B,
        backward: K,
    },
    Case {
        name: "type changed",
        edit: |s, _| s["properties"]["label"] = json!({"type": "integer"}),
        rule: "type-changed",
        location: "ThingV1.label",
        forward: B,
        backward: B,
    },
    Case {
        name: "type widened (integer → number)",
        edit: |s, _| s["properties"]["count"] = json!({"type": "number", "minimum": 0}),
        rule: "type-widened",
        location: "ThingV1.count",
        forward: B,
        backward: K,
    },
    Case {
        name: "type narrowed (number → integer)",
        edit: |s, _| s["properties"]["ratio"] = json!({"type": "integer"}),
        rule: "type-narrowed",
        location: "ThingV1.ratio",
        forward: K,
        backward: B,
    },
    Case {
        name: "referenced type changed",
        edit: |s, _| s["properties"]["kind"] = json!({"$ref": "#/definitions/Id"}),
        rule: "type-changed",
        location: "ThingV1.kind",
        forward: B,
        backward: B,
    },
    Case {
        name: "array item type changed",
        edit: |s, _| s["properties"]["tags"]["items"] = json!({"type": "integer"}),
        rule: "type-changed",
        location: "ThingV1.tags[]",
        forward: B,
        backward: B,
    },
    Case {
        name: "enum value added",
        edit: |s, _| s["definitions"]["Kind"]["enum"].as_array_mut().unwrap().push(json!("delta")),
        rule: "enum-value-added",
        location: "Kind",
        forward: K,
        backward: K,
    },
    Case {
        name: "enum value removed",
        edit: |s, _| s["definitions"]["Kind"]["enum"].as_array_mut().unwrap().retain(|v| v != "gamma"),
        rule: "enum-value-removed",
        location: "Kind",
        forward: K,
        backward: B,
    },
    Case {
        name: "const changed",
        edit: |s, _| s["properties"]["version"]["const"] = json!("2"),
        rule: "const-changed",
        location: "ThingV1.version",
        forward: B,
        backward: B,
    },
    Case {
        name: "const added",
        edit: |s, _| s["properties"]["note"]["const"] = json!("fixed"),
        rule: "const-added",
        location: "ThingV1.note",
        forward: K,
        backward: B,
    },
    Case {
        name: "pattern added (tightened)",
        edit: |s, _| s["definitions"]["Name"]["pattern"] = json!("^[a-z]+$"),
        rule: "constraint-tightened",
        location: "Name",
        forward: K,
        backward: B,
    },
    Case {
        name: "pattern changed",
        edit: |s, _| s["definitions"]["Id"]["pattern"] = json!("^[a-z]+$"),
        rule: "constraint-changed",
        location: "Id",
        forward: B,
        backward: B,
    },
    Case {
        name: "pattern removed (loosened)",
        edit: |s, _| {
            s["definitions"]["Id"].as_object_mut().unwrap().remove("pattern");
        },
        rule: "constraint-loosened",
        location: "Id",
        forward: B,
        backward: K,
    },
    Case {
        name: "format added (tightened)",
        edit: |s, _| s["definitions"]["Id"]["format"] = json!("uuid"),
        rule: "constraint-tightened",
        location: "Id",
        forward: K,
        backward: B,
    },
    Case {
        name: "minimum raised (tightened)",
        edit: |s, _| s["properties"]["count"]["minimum"] = json!(1),
        rule: "constraint-tightened",
        location: "ThingV1.count",
        forward: K,
        backward: B,
    },
    Case {
        name: "maximum added (tightened)",
        edit: |s, _| s["properties"]["count"]["maximum"] = json!(1000),
        rule: "constraint-tightened",
        location: "ThingV1.count",
        forward: K,
        backward: B,
    },
    Case {
        name: "maxLength lowered (tightened)",
        edit: |s, _| s["properties"]["label"]["maxLength"] = json!(8),
        rule: "constraint-tightened",
        location: "ThingV1.label",
        forward: K,
        backward: B,
    },
    Case {
        name: "maxLength raised (loosened)",
        edit: |s, _| s["properties"]["label"]["maxLength"] = json!(128),
        rule: "constraint-loosened",
        location: "ThingV1.label",
        forward: B,
        backward: K,
    },
    Case {
        name: "property renamed",
        edit: |s, _| {
            let v = props(s).remove("label").unwrap();
            props(s).insert("title".into(), v);
            for r in required(s) {
                if r == "label" {
                    *r = json!("title");
                }
            }
        },
        rule: "property-renamed",
        location: "ThingV1.label",
        forward: B,
        backward: B,
    },
    Case {
        name: "additionalProperties closed",
        edit: |s, _| s["additionalProperties"] = json!(false),
        rule: "additional-properties-closed",
        location: "ThingV1",
        forward: K,
        backward: B,
    },
    Case {
        name: "type added",
        edit: |s, _| s["definitions"]["Extra"] = json!({"type": "string"}),
        rule: "type-added",
        location: "Extra",
        forward: K,
        backward: K,
    },
    Case {
        name: "type removed",
        edit: |s, _| {
            s["definitions"].as_object_mut().unwrap().remove("Other");
        },
        rule: "type-removed",
        location: "Other",
        forward: K,
        backward: K,
    },
    Case {
        name: "description only",
        edit: |s, _| s["properties"]["count"]["description"] = json!("how many"),
        rule: "",
        location: "",
        forward: K,
        backward: K,
    },
    Case {
        name: "channel removed",
        edit: |_, a| {
            a["channels"].as_object_mut().unwrap().remove("audit");
        },
        rule: "channel-removed",
        location: "asyncapi:channels.audit",
        forward: B,
        backward: B,
    },
    Case {
        name: "channel renamed (address changed)",
        edit: |_, a| a["channels"]["audit"]["address"] = json!("audit.v2"),
        rule: "channel-address-changed",
        location: "asyncapi:channels.audit",
        forward: B,
        backward: B,
    },
    Case {
        name: "channel key renamed, same address",
        edit: |_, a| {
            let c = a["channels"].as_object_mut().unwrap();
            let v = c.remove("audit").unwrap();
            c.insert("auditing".into(), v);
        },
        rule: "channel-key-renamed",
        location: "asyncapi:channels.audit",
        forward: K,
        backward: K,
    },
    Case {
        name: "channel added",
        edit: |_, a| a["channels"]["metrics"] = json!({"address": "metrics"}),
        rule: "channel-added",
        location: "asyncapi:channels.metrics",
        forward: K,
        backward: K,
    },
    Case {
        name: "message added to a channel",
        edit: |_, a| {
            a["channels"]["audit"]["messages"]["gone"] = json!({"$ref": "#/components/messages/Gone"})
        },
        rule: "channel-message-added",
        location: "asyncapi:channels.audit",
        forward: B,
        backward: K,
    },
    Case {
        name: "operation removed",
        edit: |_, a| {
            a["operations"].as_object_mut().unwrap().remove("askThing");
        },
        rule: "operation-removed",
        location: "asyncapi:operations.askThing",
        forward: B,
        backward: B,
    },
    Case {
        name: "operation action changed",
        edit: |_, a| a["operations"]["sendThing"]["action"] = json!("receive"),
        rule: "operation-action-changed",
        location: "asyncapi:operations.sendThing",
        forward: B,
        backward: B,
    },
    Case {
        name: "operation added",
        edit: |_, a| {
            a["operations"]["watch"] = json!({"action": "receive", "channel": {"$ref": "#/channels/audit"}})
        },
        rule: "operation-added",
        location: "asyncapi:operations.watch",
        forward: K,
        backward: K,
    },
    Case {
        name: "reply address changed",
        edit: |_, a| {
            a["operations"]["askThing"]["reply"]["address"]["location"] = json!("$message.header#/Reply")
        },
        rule: "operation-reply-changed",
        location: "asyncapi:operations.askThing",
        forward: B,
        backward: B,
    },
    Case {
        name: "message removed",
        edit: |_, a| {
            a["components"]["messages"].as_object_mut().unwrap().remove("Gone");
        },
        rule: "message-removed",
        location: "asyncapi:messages.Gone",
        forward: B,
        backward: B,
    },
    Case {
        name: "message renamed",
        edit: |_, a| a["components"]["messages"]["Thing"]["name"] = json!("thing_v2"),
        rule: "message-renamed",
        location: "asyncapi:messages.Thing",
        forward: B,
        backward: B,
    },
    Case {
        name: "header added",
        edit: |_, a| {
            a["components"]["schemas"]["NatsHeaders"]["properties"]["Channels"] = json!({"type": "string"})
        },
        rule: "header-added",
        location: "asyncapi:headers.NatsHeaders.Channels",
        forward: K,
        backward: K,
    },
    Case {
        name: "header removed",
        edit: |_, a| {
            a["components"]["schemas"]["NatsHeaders"]["properties"]
                .as_object_mut()
                .unwrap()
                .remove("Sample-Rate");
        },
        rule: "header-removed",
        location: "asyncapi:headers.NatsHeaders.Sample-Rate",
        forward: B,
        backward: K,
    },
    Case {
        name: "header pattern loosened",
        edit: |_, a| {
            a["components"]["schemas"]["NatsHeaders"]["properties"]["Sample-Rate"]
                .as_object_mut()
                .unwrap()
                .remove("pattern");
        },
        rule: "constraint-loosened",
        location: "asyncapi:headers.NatsHeaders.Sample-Rate",
        forward: B,
        backward: K,
    },
];

#[test]
fn every_rule_has_a_fixture_pair_that_classifies_as_expected() {
    let mut failures = Vec::new();
    for case in CASES {
        // Cases named "… to a closed object" start from a closed base (both sides).
        let base = || {
            let mut s = base_schema();
            if case.name.ends_with("to a closed object") {
                s["additionalProperties"] = json!(false);
            }
            s
        };
        let old = spec("old", &base(), &base_asyncapi());
        let (mut s, mut a) = (base(), base_asyncapi());
        (case.edit)(&mut s, &mut a);
        let report = compare(&old, &spec(case.name, &s, &a), &Policy::mode(Mode::Full));
        let got: Vec<_> = report
            .changes
            .iter()
            .map(|c| (c.change.rule, c.change.location.as_str(), c.change.receivers, c.change.senders))
            .collect();
        let want = if case.rule.is_empty() {
            vec![]
        } else {
            vec![(case.rule, case.location, case.forward, case.backward)]
        };
        if got != want {
            failures.push(format!("{}: want {want:?}, got {got:?}", case.name));
        }
        let breaking = case.forward == B || case.backward == B;
        let expected_verdict = if breaking { Verdict::Breaking } else { Verdict::Compatible };
        if report.verdict != expected_verdict {
            failures.push(format!("{}: verdict {:?} (want {expected_verdict:?})", case.name, report.verdict));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn policy_and_major_bump_decide_the_severity() {
    let old = spec("old", &base_schema(), &base_asyncapi());
    let (mut s, mut a) = (base_schema(), base_asyncapi());
    props(&mut s).insert("owner".into(), json!({"type": "string"}));
    required(&mut s).push(json!("owner")); // backward-breaking only
    let new = spec("new", &s, &a);
    assert_eq!(compare(&old, &new, &Policy::mode(Mode::Full)).verdict, Verdict::Breaking);
    assert_eq!(compare(&old, &new, &Policy::mode(Mode::Backward)).verdict, Verdict::Breaking);
    assert_eq!(compare(&old, &new, &Policy::mode(Mode::Forward)).verdict, Verdict::BreakingAllowed);
    assert_eq!(compare(&old, &new, &Policy::mode(Mode::None)).verdict, Verdict::BreakingAllowed);
    a["info"]["version"] = json!("2.0.0");
    let bumped = compare(&old, &spec("bumped", &s, &a), &Policy::mode(Mode::Full));
    assert!(bumped.major_bump);
    assert_eq!(bumped.verdict, Verdict::BreakingAllowed);
    assert_eq!(bumped.changes.iter().map(|c| c.severity).collect::<Vec<_>>(), [Severity::Warning]);
}

// ---- Against the released history. ----

/// Writes one release directory (`thing_v1.schema.json`, `asyncapi.yaml` at `version`).
fn write_release(dir: &Path, version: &str, schema: &Value) {
    let mut a = base_asyncapi();
    a["info"]["version"] = json!(version);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("thing_v1.schema.json"), serde_json::to_string_pretty(schema).unwrap()).unwrap();
    std::fs::write(dir.join("asyncapi.yaml"), serde_norway::to_string(&a).unwrap()).unwrap();
}

/// 1.9.0, then 1.10.0 tightened `label` (released under a forward policy: writers first),
/// then the candidate adds an optional field. The last step is compatible, yet the
/// candidate's readers still reject what 1.9.0 writers send: only a check against every
/// release (transitive) names 1.9.0.
#[test]
fn a_change_compatible_with_the_last_release_can_still_break_an_older_one() {
    let root = project_root().join("target/xtask-fixtures/spec-diff/history");
    let _ = std::fs::remove_dir_all(&root);
    let older = base_schema();
    let mut last = base_schema();
    last["properties"]["label"]["maxLength"] = json!(8);
    let mut candidate = last.clone();
    props(&mut candidate).insert("owner".into(), json!({"type": "string"}));
    write_release(&root.join("releases/1.10.0"), "1.10.0", &last);
    write_release(&root.join("releases/1.9.0"), "1.9.0", &older);
    write_release(&root.join("candidate"), "1.11.0", &candidate);

    let releases =
        source::load_against::<Schema>(&Against::Releases(root.join("releases")), &root.join("candidate"))
            .unwrap();
    let order: Vec<&str> = releases.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(order, ["release 1.9.0", "release 1.10.0"], "ordered by version, not by name");
    let new = source::load::<Schema>("candidate", &root.join("candidate")).unwrap();
    let backward = Policy::mode(Mode::Backward);
    assert_eq!(compare(&releases[1], &new, &backward).verdict, Verdict::Compatible, "the last step is fine");
    assert_eq!(
        judge(&releases, &new, &backward).verdict,
        Verdict::Compatible,
        "not transitive: the newest only"
    );
    let history = judge(&releases, &new, &Policy { transitive: true, ..backward });
    let text = render::text(&history);
    assert_eq!(history.verdict, Verdict::Breaking, "{text}");
    let broken = &history.reports[0];
    assert_eq!((broken.old.as_str(), broken.old_version.as_deref()), ("release 1.9.0", Some("1.9.0")));
    let got: Vec<_> = broken
        .changes
        .iter()
        .filter(|c| c.change.breaking())
        .map(|c| {
            (c.change.rule, c.change.location.as_str(), c.change.receivers, c.change.senders, c.severity)
        })
        .collect();
    assert_eq!(got, [("constraint-tightened", "ThingV1.label", K, B, Severity::Error)]);
    assert_eq!(history.reports[1].verdict, Verdict::Compatible);
    assert!(text.contains("against release 1.9.0 (version 1.9.0 → 1.11.0)"), "{text}");

    // Through the command: exit 1; a major version leaves the old release reported only.
    let args = |dir: &str| super::Args {
        against: None,
        against_dir: None,
        against_releases: true,
        releases: Some(root.join("releases")),
        tags: None,
        dir: Some(root.join(dir)),
        mode: Mode::Backward,
        format: natsbridge_diff::render::Format::Json,
    };
    assert_eq!(super::run(&args("candidate")).unwrap(), natsbridge_diff::report::BREAKING);
    write_release(&root.join("major"), "2.0.0", &candidate);
    assert_eq!(super::run(&args("major")).unwrap(), 0);
    // The repository's own history: the working tree breaks no release.
    let schema = project_root().join("schema");
    let own = source::load_against::<Schema>(&Against::Releases(schema.join("releases")), &schema).unwrap();
    let current = source::load::<Schema>("schema", &schema).unwrap();
    assert_ne!(
        judge(&own, &current, &Policy { transitive: true, ..Policy::mode(Mode::Full) }).verdict,
        Verdict::Breaking
    );
}

// ---- The acceptance edits on a scratch copy of the real schema, through the command. ----

fn scratch_copy(name: &str) -> std::path::PathBuf {
    let dir = project_root().join("target/xtask-fixtures/spec-diff").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(project_root().join("schema")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn run_spec_diff(dir: &Path) -> (u8, Value) {
    let args = super::Args {
        against: None,
        against_dir: Some(project_root().join("schema")),
        against_releases: false,
        releases: None,
        tags: None,
        dir: Some(dir.to_owned()),
        mode: Mode::Full,
        format: natsbridge_diff::render::Format::Json,
    };
    let code = super::run(&args).unwrap();
    let old = source::load::<Schema>("schema", &project_root().join("schema")).unwrap();
    let new = source::load::<Schema>("scratch", dir).unwrap();
    (code, serde_json::to_value(compare(&old, &new, &Policy::mode(Mode::Full))).unwrap())
}

/// `(rule, location, receivers, senders)` of every change in a JSON report.
fn summary(report: &Value) -> Vec<(String, String, String, String)> {
    report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap().to_owned();
            (s("rule"), s("location"), s("receivers"), s("senders"))
        })
        .collect()
}

fn t(r: &str, l: &str, f: &str, b: &str) -> (String, String, String, String) {
    (r.into(), l.into(), f.into(), b.into())
}

/// Generates the Python package of `schema_dir` into `out` and returns its parent for PYTHONPATH.
fn python_package(schema_dir: &Path, out: &Path) -> std::path::PathBuf {
    let model = natsbridge_codegen::model::Model::load(schema_dir).unwrap();
    for f in natsbridge_codegen::contract::python(&model, "py").unwrap() {
        let path = out.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.contents).unwrap();
    }
    out.join("py")
}

/// Whether the Python reader generated from `schema_dir` parses `envelope`.
fn python_reader_accepts(schema_dir: &Path, work: &Path, envelope: &Value) -> bool {
    let python = project_root().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run `cargo xtask setup`", python.display());
    let pkg = python_package(schema_dir, work);
    let script = "import sys, natsbridge_types as t\ntry:\n t.parse_msg_envelope_v1(sys.argv[1]); print('ok')\n\
                  except t.SchemaValidationError as e:\n print('refused', e)";
    let out = Command::new(python)
        .args(["-c", script])
        .arg(envelope.to_string())
        .env("PYTHONPATH", pkg)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).starts_with("ok")
}

fn sample_envelope() -> Value {
    json!({
        "correlation_id": "0b7d8f6e-3f52-4f0e-9a59-0d2b7b1f6c11",
        "msg_id": "5f0c3b8e-2a0d-4d59-8c1e-6b2f4c1d9e20",
        "timestamp": "2026-03-13T07:02:50.443Z",
        "send_to": "a.b", "msg_purpose": "chat", "sender_name": "s", "sender_id": "",
        "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "",
        "payloads": []
    })
}

/// The four edits of the acceptance test, each checked three ways: the classification,
/// the exit status, and generated readers of both versions on each other's messages.
#[test]
fn scratch_copy_edits_are_classified_and_generated_readers_agree() {
    let real = project_root().join("schema");
    let env_file = "msg_envelope_v1.schema.json";
    let old_writer = sample_envelope();

    // 1. Remove a required envelope field.
    let dir = scratch_copy("remove-required");
    edit_json(&dir.join(env_file), |s| {
        s["properties"].as_object_mut().unwrap().remove("sender_name");
        s["required"].as_array_mut().unwrap().retain(|r| r != "sender_name");
    });
    let (code, report) = run_spec_diff(&dir);
    assert_eq!(
        (code, summary(&report)),
        (1, vec![t("property-removed", "MsgEnvelopeV1.sender_name", "breaks", "ok")])
    );
    let mut new_writer = sample_envelope();
    new_writer.as_object_mut().unwrap().remove("sender_name");
    let work = dir.join("work");
    assert!(
        !python_reader_accepts(&real, &work.join("old"), &new_writer),
        "forward breaks: old reader refuses"
    );
    assert!(
        python_reader_accepts(&dir, &work.join("new"), &old_writer),
        "backward ok: new reader keeps it as unknown"
    );

    // 2. Add a required envelope field.
    let dir = scratch_copy("add-required");
    edit_json(&dir.join(env_file), |s| {
        s["properties"]["priority"] = json!({"type": "integer", "minimum": 0});
        s["required"].as_array_mut().unwrap().push(json!("priority"));
    });
    let (code, report) = run_spec_diff(&dir);
    assert_eq!(
        (code, summary(&report)),
        (1, vec![t("required-added", "MsgEnvelopeV1.priority", "ok", "breaks")])
    );
    let mut new_writer = sample_envelope();
    new_writer["priority"] = json!(3);
    let work = dir.join("work");
    assert!(python_reader_accepts(&real, &work.join("old"), &new_writer), "forward ok: old reader keeps it");
    assert!(
        !python_reader_accepts(&dir, &work.join("new"), &old_writer),
        "backward breaks: new reader requires it"
    );

    // 3. Remove an enum value.
    let dir = scratch_copy("remove-enum-value");
    edit_json(&dir.join("common_v1.schema.json"), |s| {
        s["definitions"]["MsgPurpose"]["enum"].as_array_mut().unwrap().retain(|v| v != "chat");
    });
    let (code, report) = run_spec_diff(&dir);
    assert_eq!((code, summary(&report)), (1, vec![t("enum-value-removed", "MsgPurpose", "ok", "breaks")]));

    // 4. Add an optional envelope field.
    let dir = scratch_copy("add-optional");
    edit_json(&dir.join(env_file), |s| {
        s["properties"]["trace_parent"] = json!({"type": "string"});
    });
    let (code, report) = run_spec_diff(&dir);
    assert_eq!(
        (code, summary(&report)),
        (0, vec![t("optional-added", "MsgEnvelopeV1.trace_parent", "ok", "ok")])
    );
    let mut new_writer = sample_envelope();
    new_writer["trace_parent"] = json!("00-abc");
    let work = dir.join("work");
    assert!(python_reader_accepts(&real, &work.join("old"), &new_writer), "forward ok");
    assert!(python_reader_accepts(&dir, &work.join("new"), &old_writer), "backward ok");

    // 5. Add an enum value: old generated readers keep the new value.
    let dir = scratch_copy("add-enum-value");
    edit_json(&dir.join("common_v1.schema.json"), |s| {
        s["definitions"]["MsgPurpose"]["enum"].as_array_mut().unwrap().push(json!("heartbeat"));
    });
    let (code, report) = run_spec_diff(&dir);
    assert_eq!((code, summary(&report).len()), (0, 1));
    let mut new_writer = sample_envelope();
    new_writer["msg_purpose"] = json!("heartbeat");
    assert!(python_reader_accepts(&real, &dir.join("work/old"), &new_writer), "forward ok: open enum");
}
