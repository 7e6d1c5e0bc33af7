//! What must stay compatible: the mode, whether every release counts, and the breaks a team
//! accepted on purpose, from flags or from `natsbridge.yaml` beside the document:
//!
//! ```yaml
//! diff:
//!   mode: backward          # backward | forward | full | none (default: full)
//!   transitive: true        # every release of `releases`, not only the newest
//!   releases: releases/     # one directory per released version (optional)
//!   accept:                 # deliberate breaks, one change each, each with a reason
//!     - rule: enum-value-removed
//!       at: "#/components/schemas/RunState"
//!       operation: sendCommand   # optional: only in this operation
//!       reason: "Paused was never sent in production"
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::change::{Change, Compat};

/// The config file `natsbridge diff` reads beside the document.
pub const CONFIG_FILE: &str = "natsbridge.yaml";

/// Which mixes of versions must keep working (Confluent Schema Registry's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Receivers built from the new document read what old senders send: upgrade
    /// receivers first. Forbids changes that break senders.
    Backward,
    /// Receivers built from the old document read what new senders send: upgrade senders
    /// first. Forbids changes that break receivers.
    Forward,
    /// Both: any order of upgrades works (the default).
    Full,
    /// Report only; nothing is forbidden.
    None,
}

impl Mode {
    /// Whether the mode forbids `change`.
    pub fn forbids(self, change: &Change) -> bool {
        let (receivers, senders) = (change.receivers == Compat::Breaks, change.senders == Compat::Breaks);
        match self {
            Mode::Full => receivers || senders,
            Mode::Backward => senders,
            Mode::Forward => receivers,
            Mode::None => false,
        }
    }
}

/// A break accepted on purpose: one rule at one place, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// The rule of the change (`enum-value-removed`).
    pub rule: String,
    /// Where: the change's pointer (`#/components/schemas/RunState`) or its location
    /// (`Command.iterations`), as the report prints them.
    pub at: String,
    /// Only in this operation (its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Only in this message (its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the break is acceptable (required, shown in every report).
    pub reason: String,
}

impl Accept {
    /// Whether this acceptance covers `change`.
    pub fn covers(&self, change: &Change) -> bool {
        self.rule == change.rule
            && (change.pointer.as_deref() == Some(self.at.as_str()) || change.location == self.at)
            && self.operation.as_ref().is_none_or(|o| change.operation.as_ref() == Some(o))
            && self.message.as_ref().is_none_or(|m| change.message.as_ref() == Some(m))
    }
}

/// How changes are judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// What must stay compatible.
    pub mode: Mode,
    /// Against every release, not only the newest.
    pub transitive: bool,
    /// Deliberate breaks.
    pub accept: Vec<Accept>,
}

impl Policy {
    /// `mode`, not transitive, nothing accepted.
    pub fn mode(mode: Mode) -> Policy {
        Policy { mode, transitive: false, accept: Vec::new() }
    }
}

/// `natsbridge.yaml`: only the `diff` section is read (and must be the only section).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    diff: Config,
}

/// The `diff` section of `natsbridge.yaml`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The mode (default full).
    pub mode: Option<Mode>,
    /// Judge against every release.
    pub transitive: Option<bool>,
    /// The releases directory, relative to the config file.
    pub releases: Option<PathBuf>,
    /// Deliberate breaks.
    #[serde(default)]
    pub accept: Vec<Accept>,
}

impl Config {
    /// Reads `natsbridge.yaml` in `dir`; none there is the default config.
    pub fn beside(dir: &Path) -> Result<Option<(PathBuf, Config)>> {
        let path = dir.join(CONFIG_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        Ok(Some((path.clone(), Config::read(&path)?)))
    }

    /// Reads a config file; an unknown key, a missing reason or a bad mode is an error that
    /// names it.
    pub fn read(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: File = serde_norway::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let mut config = file.diff;
        for (i, a) in config.accept.iter().enumerate() {
            if a.reason.trim().is_empty() {
                bail!(
                    "{}: `diff.accept[{i}]` ({} at {}) has no reason: say why the break is acceptable",
                    path.display(),
                    a.rule,
                    a.at
                );
            }
        }
        if let (Some(r), Some(dir)) = (&config.releases, path.parent()) {
            config.releases = Some(dir.join(r));
        }
        Ok(config)
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "backward" => Ok(Mode::Backward),
            "forward" => Ok(Mode::Forward),
            "full" => Ok(Mode::Full),
            "none" => Ok(Mode::None),
            other => Err(format!("`{other}` is not a mode: backward, forward, full or none")),
        }
    }
}
