//! What a run found: the reader matrix (vector group × lane), the writer matrix (reader ×
//! writer), the validator cross-check and every failure; printed as text or as JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::writer::WRITER_GROUPS;

/// The checks of one matrix cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Passed.
    pub pass: usize,
    /// Failed, as the lane's ledger says it does.
    pub xfail: usize,
    /// Failed unexpectedly, or passed although in the ledger.
    pub fail: usize,
    /// Not applicable: the lane declared it does not handle a payload type involved.
    pub na: usize,
}

impl Cell {
    fn json(&self) -> Value {
        json!({"pass": self.pass, "xfail": self.xfail, "fail": self.fail, "na": self.na})
    }
}

/// The outcome of [`crate::run`].
#[derive(Debug, Clone)]
pub struct Report {
    /// Where the vectors came from.
    pub source: String,
    /// Every lane, in matrix order.
    pub lanes: Vec<String>,
    /// The lanes whose testee ran.
    pub ran: Vec<String>,
    /// The vector groups, sorted.
    pub groups: Vec<String>,
    /// (group, lane) → cell.
    pub reader: BTreeMap<(String, String), Cell>,
    /// (reader, writer) → cell.
    pub writer: BTreeMap<(String, String), Cell>,
    /// How many writer cases there are.
    pub writer_cases: usize,
    /// How many vectors there are.
    pub vectors: usize,
    /// How many behaviour cases there are (`send`, `fetch`, `typed`).
    pub cases: usize,
    /// The cross-checked schema validators.
    pub validators: Vec<String>,
    /// On how many vectors they agree.
    pub agree: usize,
    /// The lanes' notes.
    pub notes: Vec<String>,
    /// Every unexpected outcome, one line each.
    pub failures: Vec<String>,
}

impl Report {
    /// Whether every lane that ran passed (expected failures aside).
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// Prints both matrices and the verdict; `ledgers` says where known failures are listed,
    /// if anywhere. Without `verbose`, only the first 20 failures.
    pub fn print(&self, verbose: bool, ledgers: Option<&str>) {
        print_matrix(&self.groups, &self.lanes, &self.reader, &self.ran);
        for note in &self.notes {
            println!("{note}");
        }
        println!(
            "\nwriter side: {} cases (the all-direct vectors of {}), rows = reader, columns = writer",
            self.writer_cases,
            WRITER_GROUPS.join(", ")
        );
        let readers: Vec<String> = self.ran.iter().map(|l| format!("read by {l}")).collect();
        let writer: BTreeMap<(String, String), Cell> =
            self.writer.iter().map(|((r, w), c)| ((format!("read by {r}"), w.clone()), *c)).collect();
        print_matrix(&readers, &self.lanes, &writer, &self.ran);
        if self.validators.is_empty() {
            println!("\n{} vectors and {} behaviour cases ({})", self.vectors, self.cases, self.source);
        } else {
            println!(
                "\n{} vectors and {} behaviour cases; schema validators ({}) agree on {} of {} vectors",
                self.vectors,
                self.cases,
                self.validators.join(", "),
                self.agree,
                self.vectors
            );
        }
        if self.passed() {
            match ledgers {
                Some(ledgers) => println!(
                    "conformance: every lane that ran passes (expected failures are listed in {ledgers})"
                ),
                None => println!("conformance: every lane that ran passes"),
            }
        } else {
            let shown = if verbose { self.failures.len() } else { self.failures.len().min(20) };
            for f in &self.failures[..shown] {
                println!("FAIL {f}");
            }
            if shown < self.failures.len() {
                println!("… and {} more (--verbose)", self.failures.len() - shown);
            }
        }
    }

    /// The report as one JSON document: `{"passed", "vectors", "source", "lanes": [{name,
    /// ran}], "reader": {group: {lane: cell}}, "writer": {reader: {writer: cell}},
    /// "writer_cases", "validators": {names, agree}, "notes", "failures"}`, each cell
    /// `{pass, xfail, fail, na}`.
    pub fn to_json(&self) -> Value {
        let nested = |m: &BTreeMap<(String, String), Cell>| {
            let mut out = serde_json::Map::new();
            for ((row, column), cell) in m {
                let row = out.entry(row.clone()).or_insert_with(|| json!({}));
                row[column.as_str()] = cell.json();
            }
            Value::Object(out)
        };
        json!({
            "passed": self.passed(),
            "vectors": self.vectors,
            "cases": self.cases,
            "source": self.source,
            "lanes": self.lanes.iter().map(|l| json!({"name": l, "ran": self.ran.contains(l)})).collect::<Vec<_>>(),
            "reader": nested(&self.reader),
            "writer_cases": self.writer_cases,
            "writer": nested(&self.writer),
            "validators": {"names": self.validators, "agree": self.agree},
            "notes": self.notes,
            "failures": self.failures,
        })
    }
}

fn print_matrix(
    groups: &[String],
    lanes: &[String],
    matrix: &BTreeMap<(String, String), Cell>,
    ran: &[String],
) {
    let w = groups.iter().map(String::len).max().unwrap_or(5).max(5);
    print!("\n{:<w$}", "group");
    for l in lanes {
        print!("  {l:<16}");
    }
    println!();
    for g in groups {
        print!("{g:<w$}");
        for l in lanes {
            let text = if !ran.contains(l) {
                "not run".to_owned()
            } else {
                let c = matrix
                    .get(&(g.clone(), l.clone()))
                    .map_or((0, 0, 0, 0), |c| (c.pass, c.xfail, c.fail, c.na));
                let total = c.0 + c.1 + c.2;
                let na = if c.3 > 0 { format!(" +{}na", c.3) } else { String::new() };
                match c {
                    (0, 0, 0, n) if n > 0 => format!("n/a {n}"),
                    (p, 0, 0, _) => format!("pass {p}/{total}{na}"),
                    (p, x, 0, _) => format!("pass {p}/{total} +{x}xf{na}"),
                    (_, _, f, _) => format!("FAIL {f}/{total}"),
                }
            };
            print!("  {text:<16}");
        }
        println!();
    }
}
