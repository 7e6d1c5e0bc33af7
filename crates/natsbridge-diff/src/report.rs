//! Judging the changes under a [`Policy`]: one [`Report`] per older version, one
//! [`Outcome`] for them all, and the exit status CI reads.

use serde::Serialize;

use crate::change::Change;
use crate::policy::{Accept, Mode, Policy};
use crate::{Comparable, Side};

/// Exit status: nothing the policy forbids.
pub const COMPATIBLE: u8 = 0;
/// Exit status: a change the policy forbids, not accepted.
pub const BREAKING: u8 = 1;
/// Exit status: a document could not be read (or the command was wrong): nothing judged.
pub const NOT_JUDGED: u8 = 2;

/// How one change counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Breaking, forbidden by the mode: fails the check.
    Error,
    /// Breaking, allowed (by the mode, or by a major version bump).
    Warning,
    /// Breaking and forbidden, but accepted in the config with a reason.
    Accepted,
    /// Not breaking.
    Info,
}

/// The verdict on a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Nothing breaking.
    Compatible,
    /// Breaking changes, each allowed (mode, major version) or accepted.
    BreakingAllowed,
    /// A breaking change the mode forbids.
    Breaking,
}

/// A change and how it counts.
#[derive(Debug, Clone, Serialize)]
pub struct Judged {
    /// How it counts.
    pub severity: Severity,
    /// The reason it was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
    /// The change.
    #[serde(flatten)]
    pub change: Change,
}

/// The new version against one older version.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The older version's label (`v1.2.0`, `release 1.1.0`, a path).
    pub old: String,
    /// The new version's label.
    pub new: String,
    /// Their `info.version`s.
    pub old_version: Option<String>,
    /// The new side's.
    pub new_version: Option<String>,
    /// The major version went up: a new contract, breaks are reported, never forbidden.
    pub major_bump: bool,
    /// Every change, judged.
    pub changes: Vec<Judged>,
    /// The verdict.
    pub verdict: Verdict,
}

impl Report {
    /// The changes that fail the check.
    pub fn errors(&self) -> usize {
        self.changes.iter().filter(|c| c.severity == Severity::Error).count()
    }
}

/// The new version against every older version judged.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The new version's label.
    pub new: String,
    /// The new document's file as results name it (SARIF, annotations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The mode.
    pub mode: Mode,
    /// Judged against every release (not only the newest).
    pub transitive: bool,
    /// One per older version, oldest first.
    pub reports: Vec<Report>,
    /// Acceptances that matched no change (stale: remove them).
    pub unused_accepts: Vec<Accept>,
    /// The worst verdict of the reports.
    pub verdict: Verdict,
}

impl Outcome {
    /// The exit status: [`COMPATIBLE`] or [`BREAKING`].
    pub fn exit_code(&self) -> u8 {
        if self.verdict == Verdict::Breaking { BREAKING } else { COMPATIBLE }
    }
}

/// The major version of a version string (`v1.4.2` → 1).
fn major(version: &str) -> Option<u64> {
    version.trim().trim_start_matches('v').split('.').next()?.parse().ok()
}

/// Orders versions: semver when both parse, else numerically by part.
pub(crate) fn version_key(version: Option<&str>) -> (Option<semver::Version>, Vec<u64>) {
    let v = version.unwrap_or("0").trim().trim_start_matches('v');
    let numbers = v.split(['.', '-', '+']).map(|p| p.parse().unwrap_or(0)).collect();
    (semver::Version::parse(v).ok(), numbers)
}

/// Compares `old` (the reference) with `new` (the candidate) under `policy`.
pub fn compare<D: Comparable>(old: &Side<D>, new: &Side<D>, policy: &Policy) -> Report {
    let (old_version, new_version) = (old.doc.version(), new.doc.version());
    let major_bump = match (old_version.as_deref().and_then(major), new_version.as_deref().and_then(major)) {
        (Some(o), Some(n)) => n > o,
        _ => false,
    };
    let changes: Vec<Judged> = D::changes(&old.doc, &new.doc)
        .into_iter()
        .map(|change| {
            let accepted = policy.accept.iter().find(|a| a.covers(&change)).map(|a| a.reason.clone());
            let severity = if !change.breaking() {
                Severity::Info
            } else if !policy.mode.forbids(&change) || major_bump {
                Severity::Warning
            } else if accepted.is_some() {
                Severity::Accepted
            } else {
                Severity::Error
            };
            Judged { severity, accepted: accepted.filter(|_| severity == Severity::Accepted), change }
        })
        .collect();
    let verdict = if changes.iter().any(|c| c.severity == Severity::Error) {
        Verdict::Breaking
    } else if changes.iter().any(|c| c.change.breaking()) {
        Verdict::BreakingAllowed
    } else {
        Verdict::Compatible
    };
    Report {
        old: old.label.clone(),
        new: new.label.clone(),
        old_version,
        new_version,
        major_bump,
        changes,
        verdict,
    }
}

/// Compares `new` with each of `olds` (oldest first) — all of them when the policy is
/// transitive, else the newest only: a chain of compatible steps can still break an old
/// release, and only the transitive check catches it.
pub fn judge<D: Comparable>(olds: &[Side<D>], new: &Side<D>, policy: &Policy) -> Outcome {
    let judged: &[Side<D>] = if policy.transitive { olds } else { &olds[olds.len().saturating_sub(1)..] };
    let reports: Vec<Report> = judged.iter().map(|old| compare(old, new, policy)).collect();
    let unused_accepts = policy
        .accept
        .iter()
        .filter(|a| !reports.iter().any(|r| r.changes.iter().any(|c| a.covers(&c.change))))
        .cloned()
        .collect();
    let verdict = reports.iter().map(|r| r.verdict).max_by_key(|v| *v as u8).unwrap_or(Verdict::Compatible);
    Outcome {
        new: new.label.clone(),
        file: new.file.clone(),
        mode: policy.mode,
        transitive: policy.transitive,
        reports,
        unused_accepts,
        verdict,
    }
}
