//! The lanes of a run: a [`Lane`] as the caller describes it (its testee command, ledger,
//! validator and note), and [`Running`], a lane whose testee process is up. The modules
//! that drive a run (`run`, `writer`, `cases`) all use these; none of them imports another
//! driver.

use std::fmt;
use std::process::Command;

use crate::compare::Ledger;
use crate::testee::Testee;

/// One lane of the matrices.
pub struct Lane {
    pub(crate) name: String,
    pub(crate) command: Option<Command>,
    pub(crate) ledger: Ledger,
    pub(crate) validator: String,
    pub(crate) cross_check: bool,
    pub(crate) note: Option<String>,
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("name", &self.name)
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

impl Lane {
    /// A lane run by `command` (`--allow-host http://127.0.0.1:PORT` is appended), or listed
    /// as `not run` when `None`. No known failures; its validator is named after it and
    /// takes no part in the cross-check.
    pub fn new(name: impl Into<String>, command: Option<Command>) -> Lane {
        let name = name.into();
        Lane {
            validator: format!("the {name} lane"),
            name,
            command,
            ledger: Ledger::new(),
            cross_check: false,
            note: None,
        }
    }

    /// Its known failures (see [`crate::read_ledger`]).
    pub fn ledger(mut self, ledger: Ledger) -> Lane {
        self.ledger = ledger;
        self
    }

    /// Names its schema validator (`ajv`) in messages; with `cross_check`, its verdicts must
    /// agree with the other cross-checked lanes' on every vector.
    pub fn validator(mut self, name: impl Into<String>, cross_check: bool) -> Lane {
        self.validator = name.into();
        self.cross_check = cross_check;
        self
    }

    /// A line printed under the reader matrix (what its `na` or `not run` means).
    pub fn note(mut self, note: impl Into<String>) -> Lane {
        self.note = Some(note.into());
        self
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A lane name: lowercase letters, digits, `-` and `_`.
pub fn check_lane_name(s: &str) -> std::result::Result<(), String> {
    let ok = !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err("use lowercase letters, digits, `-` and `_`".into()) }
}

/// A lane whose testee runs.
pub(crate) struct Running {
    pub(crate) name: String,
    pub(crate) validator: String,
    pub(crate) testee: Testee,
}
