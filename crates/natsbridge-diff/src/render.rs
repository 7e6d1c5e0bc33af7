//! The outcome for people (text), for programs (JSON), for code scanning (SARIF 2.1.0) and
//! for GitHub Actions (workflow annotations).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::change::{Change, Compat};
use crate::report::{Judged, Outcome, Report, Severity, Verdict};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people: a table per older version, then the verdict.
    Text,
    /// The [`Outcome`] as JSON.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// GitHub workflow annotations, then the text.
    Github,
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "sarif" => Ok(Format::Sarif),
            "github" => Ok(Format::Github),
            other => Err(format!("`{other}` is not a format: text, json, sarif or github")),
        }
    }
}

/// The outcome in `format`, ending with a newline.
pub fn render(o: &Outcome, format: Format) -> String {
    match format {
        Format::Text => text(o),
        Format::Json => json(o) + "\n",
        Format::Sarif => sarif(o) + "\n",
        Format::Github => github(o) + &text(o),
    }
}

fn word(c: Compat) -> &'static str {
    if c == Compat::Breaks { "BREAKS" } else { "ok" }
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Accepted => "accepted",
        Severity::Info => "info",
    }
}

/// Who a change breaks, in words.
pub fn breaks(c: &Change) -> &'static str {
    match (c.receivers, c.senders) {
        (Compat::Breaks, Compat::Breaks) => "breaks senders and receivers",
        (Compat::Breaks, Compat::Ok) => "breaks receivers",
        (Compat::Ok, Compat::Breaks) => "breaks senders",
        (Compat::Ok, Compat::Ok) => "compatible",
    }
}

fn place(c: &Change) -> &str {
    c.pointer.as_deref().unwrap_or(&c.location)
}

fn report_text(r: &Report, out: &mut String) {
    out.push_str(&format!(
        "against {} (version {} → {}{})\n",
        r.old,
        r.old_version.as_deref().unwrap_or("?"),
        r.new_version.as_deref().unwrap_or("?"),
        if r.major_bump { ", major bump: breaks allowed" } else { "" }
    ));
    if r.changes.is_empty() {
        out.push_str("  no changes to the wire contract\n");
        return;
    }
    let wr = r.changes.iter().map(|c| c.change.rule.len()).max().unwrap_or(4).max(4);
    let wp = r.changes.iter().map(|c| place(&c.change).len()).max().unwrap_or(5).max(5);
    let wo = r
        .changes
        .iter()
        .map(|c| c.change.operation.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(9)
        .max(9);
    out.push_str(&format!(
        "  {:<8}  {:<wr$}  {:<wp$}  {:<wo$}  {:<9}  {:<7}  detail\n",
        "severity", "rule", "where", "operation", "receivers", "senders"
    ));
    for Judged { severity: s, accepted, change: c } in &r.changes {
        out.push_str(&format!(
            "  {:<8}  {:<wr$}  {:<wp$}  {:<wo$}  {:<9}  {:<7}  {}{}\n",
            severity(*s),
            c.rule,
            place(c),
            c.operation.as_deref().unwrap_or("-"),
            word(c.receivers),
            word(c.senders),
            c.detail,
            accepted.as_ref().map(|r| format!(" (accepted: {r})")).unwrap_or_default()
        ));
    }
}

/// The text report: a table per older version, then the verdict.
pub fn text(o: &Outcome) -> String {
    let mut out = format!(
        "natsbridge diff: {} (mode {}{})\n",
        o.new,
        serde_json::to_value(o.mode).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        if o.transitive { ", transitive" } else { "" }
    );
    for r in &o.reports {
        report_text(r, &mut out);
    }
    for a in &o.unused_accepts {
        out.push_str(&format!(
            "warning: accepted break `{}` at `{}` matches no change: remove it\n",
            a.rule, a.at
        ));
    }
    let count = |s: Severity| o.reports.iter().flat_map(|r| &r.changes).filter(|c| c.severity == s).count();
    out.push_str(&format!(
        "{} error, {} warning, {} accepted, {} info — {}\n",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Accepted),
        count(Severity::Info),
        match o.verdict {
            Verdict::Breaking => "BREAKING: keep compatibility, bump the major version, or accept the break with a reason in natsbridge.yaml",
            Verdict::BreakingAllowed => "breaking changes, each allowed by the mode, a major version or an accepted break",
            Verdict::Compatible => "compatible",
        }
    ));
    out
}

/// The outcome as JSON.
pub fn json(o: &Outcome) -> String {
    serde_json::to_string_pretty(o).expect("an outcome is plain data")
}

/// The file a change points into: a pointer into a file beside the document names that
/// file (relative to the document's directory), else the document itself.
fn artifact(o: &Outcome, c: &Change) -> String {
    let doc = o.file.clone().unwrap_or_else(|| o.new.clone());
    match c.pointer.as_deref().and_then(|p| p.split_once('#')) {
        Some((file, _)) if !file.is_empty() => match std::path::Path::new(&doc).parent() {
            Some(dir) if !dir.as_os_str().is_empty() => format!("{}/{file}", dir.display()),
            _ => file.to_owned(),
        },
        _ => doc,
    }
}

/// Document texts read once per rendering, for line numbers.
#[derive(Default)]
struct Texts(BTreeMap<String, Option<String>>);

impl Texts {
    /// The line the change's pointer names in `file`, when the file is readable and the
    /// place found.
    fn line(&mut self, file: &str, c: &Change) -> Option<usize> {
        let pointer = c.pointer.as_deref()?.split_once('#')?.1;
        let text = self.0.entry(file.to_owned()).or_insert_with(|| std::fs::read_to_string(file).ok());
        crate::lines::line_of(text.as_deref()?, pointer)
    }
}

fn message(c: &Change, against: &str) -> String {
    format!(
        "{}: {} ({}{}; against {against})",
        place(c),
        c.detail,
        breaks(c),
        c.operation.as_ref().map(|o| format!(", operation `{o}`")).unwrap_or_default()
    )
}

/// SARIF 2.1.0: one result per change (breaking ones `error` or `warning`, accepted ones
/// suppressed with their reason, the rest `note`).
pub fn sarif(o: &Outcome) -> String {
    let mut rules: Vec<&str> = o.reports.iter().flat_map(|r| &r.changes).map(|c| c.change.rule).collect();
    rules.sort_unstable();
    rules.dedup();
    let mut results = Vec::new();
    let mut texts = Texts::default();
    for r in &o.reports {
        for j in &r.changes {
            let c = &j.change;
            let file = artifact(o, c);
            let mut physical = json!({"artifactLocation": {"uri": file}});
            if let Some(line) = texts.line(&file, c) {
                physical["region"] = json!({"startLine": line});
            }
            let mut result = json!({
                "ruleId": c.rule,
                "ruleIndex": rules.iter().position(|x| *x == c.rule),
                "level": match j.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                    Severity::Accepted => "error",
                    Severity::Info => "note",
                },
                "message": {"text": message(c, &r.old)},
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{"fullyQualifiedName": place(c), "kind": "member"}]
                }],
                "properties": {
                    "operation": c.operation,
                    "message": c.message,
                    "receivers": c.receivers,
                    "senders": c.senders,
                    "against": r.old,
                }
            });
            if let Some(reason) = &j.accepted {
                result["suppressions"] = json!([{"kind": "external", "justification": reason}]);
            }
            results.push(result);
        }
    }
    let rules: Vec<Value> = rules
        .iter()
        .map(|id| json!({"id": id, "shortDescription": {"text": id.replace('-', " ")}}))
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "natsbridge diff",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results
        }]
    });
    serde_json::to_string_pretty(&log).expect("plain data")
}

/// GitHub's escaping of an annotation's message (`%`, CR, LF) and, in properties, `:` `,`.
fn escape(s: &str, property: bool) -> String {
    let s = s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A");
    if property { s.replace(':', "%3A").replace(',', "%2C") } else { s }
}

/// GitHub Actions workflow commands: `::error` per forbidden change, `::warning` per
/// allowed break, `::notice` per accepted one; compatible changes print nothing.
pub fn github(o: &Outcome) -> String {
    let mut out = String::new();
    let mut texts = Texts::default();
    for r in &o.reports {
        for j in r.changes.iter().filter(|j| j.severity != Severity::Info) {
            let c = &j.change;
            let level = match j.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                _ => "notice",
            };
            let mut text = message(c, &r.old);
            if let Some(reason) = &j.accepted {
                text.push_str(&format!(" — accepted: {reason}"));
            }
            let file = artifact(o, c);
            let line = texts.line(&file, c).map(|l| format!(",line={l}")).unwrap_or_default();
            out.push_str(&format!(
                "::{level} file={}{line},title={}::{}\n",
                escape(&file, true),
                escape(&format!("natsbridge diff: {} ({})", c.rule, breaks(c)), true),
                escape(&text, false)
            ));
        }
    }
    for a in &o.unused_accepts {
        out.push_str(&format!(
            "::warning title=natsbridge diff: stale accepted break::{}\n",
            escape(&format!("accepted break `{}` at `{}` matches no change: remove it", a.rule, a.at), false)
        ));
    }
    out
}
