//! A team's document through the engine: six everyday changes judged for senders and
//! receivers in every mode (single step and transitive), deliberate breaks accepted by
//! rule and pointer, and the SARIF log validated against the SARIF 2.1.0 schema.

use std::path::Path;

use natsbridge_codegen::api::Spec;
use natsbridge_diff::Compat::{Breaks as B, Ok as K};
use natsbridge_diff::document::Api;
use natsbridge_diff::policy::{Accept, Mode, Policy};
use natsbridge_diff::report::{Severity, Verdict, judge};
use natsbridge_diff::{Compat, Side, render};

const BASE: &str = r##"
asyncapi: 3.0.0
info: {title: Fleet, version: 1.0.0}
channels:
  position:
    address: fleet.{vehicle}.position
    parameters: {vehicle: {description: the vehicle id}}
    messages:
      position: {$ref: '#/components/messages/Position'}
  alerts:
    address: fleet.alerts
    messages:
      alert: {$ref: '#/components/messages/Alert'}
operations:
  sendPosition:
    action: send
    channel: {$ref: '#/channels/position'}
    messages: [{$ref: '#/channels/position/messages/position'}]
  receiveAlert:
    action: receive
    channel: {$ref: '#/channels/alerts'}
    messages: [{$ref: '#/channels/alerts/messages/alert'}]
components:
  messages:
    Position:
      name: position
      headers:
        type: object
        properties:
          Sample-Count: {type: integer, minimum: 0}
      payload: {$ref: '#/components/schemas/Position'}
    Alert:
      name: alert
      payload: {$ref: '#/components/schemas/Alert'}
  schemas:
    Position:
      type: object
      required: [lat, lon, state]
      properties:
        lat: {type: number}
        lon: {type: number}
        state: {$ref: '#/components/schemas/State'}
    State: {type: string, enum: [moving, parked, towed]}
    Alert:
      type: object
      required: [text]
      properties:
        text: {type: string}
"##;

fn side(label: &str, text: &str) -> Side<Api> {
    let spec = Spec::parse(label, text, Path::new(".")).unwrap_or_else(|e| panic!("{label}: {e:#}"));
    Side { label: label.to_owned(), file: Some("asyncapi.yaml".into()), doc: Api::from_spec(spec) }
}

fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "the base has {from:?}");
    BASE.replacen(from, to, 1)
}

/// The six changes: (name, document, rule, pointer, operation, receivers, senders).
fn six() -> Vec<(&'static str, String, &'static str, &'static str, &'static str, Compat, Compat)> {
    vec![
        (
            "adding an optional field",
            edit("        lon: {type: number}\n", "        lon: {type: number}\n        speed: {type: number}\n"),
            "optional-added",
            "#/components/schemas/Position/properties/speed",
            "sendPosition",
            K,
            K,
        ),
        (
            "adding a required field",
            edit("required: [lat, lon, state]", "required: [lat, lon, state, heading]")
                .replacen("        lon: {type: number}\n", "        lon: {type: number}\n        heading: {type: number}\n", 1),
            "required-added",
            "#/components/schemas/Position/properties/heading",
            "sendPosition",
            K,
            B,
        ),
        (
            "removing a channel",
            edit(
                "  alerts:\n    address: fleet.alerts\n    messages:\n      alert: {$ref: '#/components/messages/Alert'}\n",
                "",
            )
            .replacen(
                "  receiveAlert:\n    action: receive\n    channel: {$ref: '#/channels/alerts'}\n    messages: [{$ref: '#/channels/alerts/messages/alert'}]\n",
                "",
                1,
            ),
            "channel-removed",
            "#/channels/alerts",
            "receiveAlert",
            B,
            B,
        ),
        (
            "narrowing an enum",
            edit("enum: [moving, parked, towed]", "enum: [moving, parked]"),
            "enum-value-removed",
            "#/components/schemas/State",
            "sendPosition",
            K,
            B,
        ),
        (
            "widening an enum",
            edit("enum: [moving, parked, towed]", "enum: [moving, parked, towed, charging]"),
            "enum-value-added",
            "#/components/schemas/State",
            "sendPosition",
            K,
            K,
        ),
        (
            "changing a header's type",
            edit("Sample-Count: {type: integer, minimum: 0}", "Sample-Count: {type: string}"),
            "header-type-changed",
            "#/components/messages/Position/headers/properties/Sample-Count",
            "sendPosition",
            B,
            K,
        ),
    ]
}

/// What each mode says of a change that breaks `receivers` / `senders`.
fn expected(mode: Mode, receivers: Compat, senders: Compat) -> Verdict {
    let forbidden = match mode {
        Mode::Full => receivers == B || senders == B,
        Mode::Backward => senders == B,
        Mode::Forward => receivers == B,
        Mode::None => false,
    };
    match (forbidden, receivers == B || senders == B) {
        (true, _) => Verdict::Breaking,
        (false, true) => Verdict::BreakingAllowed,
        (false, false) => Verdict::Compatible,
    }
}

#[test]
fn six_changes_are_judged_per_operation_in_every_mode() {
    let old = side("v1.0.0", BASE);
    let mut failures = Vec::new();
    for (name, text, rule, pointer, operation, receivers, senders) in six() {
        let new = side(name, &text);
        let outcome = judge(std::slice::from_ref(&old), &new, &Policy::mode(Mode::Full));
        let got: Vec<_> = outcome.reports[0]
            .changes
            .iter()
            .map(|c| {
                (
                    c.change.rule,
                    c.change.pointer.as_deref(),
                    c.change.operation.as_deref(),
                    c.change.receivers,
                    c.change.senders,
                )
            })
            .collect();
        let want = vec![(rule, Some(pointer), Some(operation), receivers, senders)];
        if got != want {
            failures.push(format!("{name}: want {want:?}\n   got {got:?}"));
        }
        for mode in [Mode::Backward, Mode::Forward, Mode::Full, Mode::None] {
            for transitive in [false, true] {
                let policy = Policy { mode, transitive, accept: Vec::new() };
                let v = judge(std::slice::from_ref(&old), &new, &policy).verdict;
                if v != expected(mode, receivers, senders) {
                    failures.push(format!("{name}: {mode:?} transitive={transitive}: {v:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// 1.1.0 added a required field (released under `forward`: senders first); the candidate
/// only adds an optional one. Against 1.1.0 that is compatible; 1.0.0 senders still break.
#[test]
fn transitive_judges_every_release() {
    let required = six().remove(1).1.replace("version: 1.0.0", "version: 1.1.0");
    let releases = [side("v1.0.0", BASE), side("v1.1.0", &required)];
    let candidate = side(
        "candidate",
        &required.replace("version: 1.1.0", "version: 1.2.0").replacen(
            "        lon: {type: number}\n",
            "        lon: {type: number}\n        speed: {type: number}\n",
            1,
        ),
    );
    let backward = Policy::mode(Mode::Backward);
    let last = judge(&releases, &candidate, &backward);
    assert_eq!((last.reports.len(), last.verdict), (1, Verdict::Compatible), "{}", render::text(&last));
    let all = judge(&releases, &candidate, &Policy { transitive: true, ..backward });
    assert_eq!(all.verdict, Verdict::Breaking, "{}", render::text(&all));
    assert_eq!(all.reports[0].verdict, Verdict::Breaking);
    assert_eq!(all.reports[0].old, "v1.0.0");
    assert_eq!(all.reports[1].verdict, Verdict::Compatible);
}

#[test]
fn a_break_is_accepted_by_rule_and_pointer_with_its_reason_and_stale_ones_are_named() {
    let old = side("v1.0.0", BASE);
    let (_, text, rule, pointer, ..) = six().remove(3);
    let new = side("narrowed", &text);
    let accept = |at: &str| Accept {
        rule: rule.to_owned(),
        at: at.to_owned(),
        operation: Some("sendPosition".into()),
        message: None,
        reason: "towed was never sent".into(),
    };
    let policy =
        Policy { mode: Mode::Full, transitive: false, accept: vec![accept(pointer), accept("#/elsewhere")] };
    let outcome = judge(std::slice::from_ref(&old), &new, &policy);
    assert_eq!(outcome.verdict, Verdict::BreakingAllowed);
    let c = &outcome.reports[0].changes[0];
    assert_eq!((c.severity, c.accepted.as_deref()), (Severity::Accepted, Some("towed was never sent")));
    assert_eq!(outcome.unused_accepts, vec![accept("#/elsewhere")]);
    assert!(
        render::text(&outcome)
            .contains("accepted break `enum-value-removed` at `#/elsewhere` matches no change")
    );
    // Another operation's acceptance does not cover it.
    let other = Accept { operation: Some("receiveAlert".into()), ..accept(pointer) };
    let policy = Policy { accept: vec![other], ..policy };
    assert_eq!(judge(std::slice::from_ref(&old), &new, &policy).verdict, Verdict::Breaking);
}

#[test]
fn renamed_operations_moved_schemas_and_replies_are_judged_by_the_wire() {
    let old = side("v1.0.0", BASE);
    // Renaming the operation and the schema changes generated names only.
    let renamed = BASE
        .replace("sendPosition", "publishPosition")
        .replace("schemas/State", "schemas/VehicleState")
        .replace("    State: {", "    VehicleState: {");
    let outcome = judge(std::slice::from_ref(&old), &side("renamed", &renamed), &Policy::mode(Mode::Full));
    let rules: Vec<_> = outcome.reports[0].changes.iter().map(|c| c.change.rule).collect();
    assert_eq!(
        (rules, outcome.verdict),
        (vec!["operation-renamed"], Verdict::Compatible),
        "{}",
        render::text(&outcome)
    );

    // A reply travels the other way: a required field in the reply breaks receivers (the
    // old responders), not senders.
    let with_reply = |required: &str| {
        BASE.replace(
            "    messages: [{$ref: '#/channels/alerts/messages/alert'}]\n",
            "    messages: [{$ref: '#/channels/alerts/messages/alert'}]\n    reply:\n      channel: {$ref: '#/channels/acks'}\n      messages: [{$ref: '#/channels/acks/messages/ack'}]\n",
        )
        .replace(
            "operations:\n",
            &format!("  acks:\n    address: fleet.acks\n    messages:\n      ack:\n        name: ack\n        payload: {{type: object, required: [{required}], properties: {{id: {{type: string}}, at: {{type: string}}}}}}\noperations:\n"),
        )
    };
    let (a, b) = (side("v1", &with_reply("id")), side("v2", &with_reply("id, at")));
    let outcome = judge(std::slice::from_ref(&a), &b, &Policy::mode(Mode::Full));
    let got: Vec<_> = outcome.reports[0]
        .changes
        .iter()
        .map(|c| (c.change.rule, c.change.receivers, c.change.senders))
        .collect();
    assert_eq!(got, [("became-required", B, K)], "{}", render::text(&outcome));
}

#[test]
fn the_sarif_log_validates_against_the_sarif_2_1_0_schema() {
    // The published schema's two `language` patterns end in a stray `]`
    // (`…-[a-zA-Z]{2}]?$`), which ECMA-262 refuses; the validator gets the pattern the
    // SARIF errata meant (language, optional region). Nothing else is touched.
    let text = include_str!("sarif/sarif-2.1.0-rtm.5.json")
        .replace(r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#, r#""^[a-zA-Z]{2}(-[a-zA-Z]{2})?$""#);
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the SARIF schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the SARIF schema compiles");
    let old = side("v1.0.0", BASE);
    for (name, text, ..) in six() {
        let outcome = judge(std::slice::from_ref(&old), &side(name, &text), &Policy::mode(Mode::Backward));
        let log: serde_json::Value = serde_json::from_str(&render::sarif(&outcome)).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&log).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        assert_eq!(log["runs"][0]["results"].as_array().unwrap().len(), 1, "{name}");
    }
    // An accepted break is a suppressed result with its justification.
    let (_, text, rule, pointer, ..) = six().remove(1);
    let accept = Accept {
        rule: rule.into(),
        at: pointer.into(),
        operation: None,
        message: None,
        reason: "all senders upgraded".into(),
    };
    let policy = Policy { mode: Mode::Full, transitive: false, accept: vec![accept] };
    let log: serde_json::Value =
        serde_json::from_str(&render::sarif(&judge(std::slice::from_ref(&old), &side("x", &text), &policy)))
            .unwrap();
    assert!(validator.is_valid(&log));
    assert_eq!(log["runs"][0]["results"][0]["suppressions"][0]["justification"], "all senders upgraded");
}

#[test]
fn github_annotations_escape_what_the_runner_would_misread() {
    let old = side("v1.0.0", BASE);
    let (name, text, ..) = six().remove(2);
    let out =
        render::github(&judge(std::slice::from_ref(&old), &side(name, &text), &Policy::mode(Mode::Full)));
    assert!(
        out.starts_with("::error file=asyncapi.yaml,title=natsbridge diff%3A channel-removed (breaks senders and receivers)::#/channels/alerts: channel `alerts`"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
}
