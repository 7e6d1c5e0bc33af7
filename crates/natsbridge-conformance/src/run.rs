//! One run of the suite: start the blob server and every lane's testee, put every vector
//! through every lane (reader side), every behaviour case (`send`, `fetch`) through every
//! lane, every writer case through every lane as writer and as reader (writer side),
//! cross-check the schema validators, and collect a [`Report`].

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context as _, Result, bail};

use crate::blobs::BlobServer;
use crate::cases;
use crate::compare::{Ledger, check};
use crate::lane::{Lane, Running};
use crate::report::{Cell, Report};
use crate::testee::Testee;
use crate::vectors::{Vectors, known_payload_types, payload_types_in};
use crate::writer;

/// Runs `vectors` through `lanes` (in matrix order). An `Err` is a run that could not happen
/// (a testee that does not start or stops answering); disagreements are in the report.
pub fn run(vectors: &Vectors, lanes: Vec<Lane>) -> Result<Report> {
    let names: Vec<String> = lanes.iter().map(|l| l.name.clone()).collect();
    if let Some(dup) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        bail!("two lanes are named {}", dup.1);
    }
    let known = known_payload_types();
    let blobs = BlobServer::start(vectors.blobs.clone())?;
    let (host, allow) = (blobs.host(), blobs.url());

    let mut running: Vec<Running> = Vec::new();
    let mut ledgers: BTreeMap<String, Ledger> = BTreeMap::new();
    let mut cross_checked = Vec::new();
    let mut notes = Vec::new();
    for lane in lanes {
        notes.extend(lane.note);
        let Some(mut cmd) = lane.command else { continue };
        let testee = Testee::spawn(cmd.args(["--allow-host", &allow]))
            .with_context(|| format!("starting the {} testee", lane.name))?;
        if lane.cross_check {
            cross_checked.push((lane.name.clone(), lane.validator.clone()));
        }
        ledgers.insert(lane.name.clone(), lane.ledger);
        running.push(Running { name: lane.name, validator: lane.validator, testee });
    }
    let ran: Vec<String> = running.iter().map(|r| r.name.clone()).collect();

    // The reader side.
    let mut reader: BTreeMap<(String, String), Cell> = BTreeMap::new();
    let mut verdicts: BTreeMap<&str, BTreeMap<&str, bool>> = BTreeMap::new();
    let mut failures = Vec::new();
    for lane in &mut running {
        let expected_failures = &ledgers[&lane.name];
        for v in &vectors.vectors {
            let text = v.text.replace("{{BLOBS}}", &host);
            let cell = reader.entry((v.group.clone(), lane.name.clone())).or_default();
            if !lane.testee.handles(&known, payload_types_in(&text).iter().map(String::as_str)) {
                cell.na += 1;
                if expected_failures.contains_key(&v.id) {
                    failures
                        .push(format!("{} {}: not applicable but in the ledger; remove it", lane.name, v.id));
                }
                continue;
            }
            let outcome =
                check(&mut lane.testee, v, &text).with_context(|| format!("{}: {}", lane.name, v.id))?;
            if let Ok(valid) = outcome {
                let name = ran.iter().find(|n| **n == lane.name).expect("a lane that ran");
                verdicts.entry(v.id.as_str()).or_default().insert(name.as_str(), valid);
            }
            tally(cell, &mut failures, &lane.name, &v.id, outcome.err(), expected_failures.get(&v.id));
        }
    }

    // The behaviour groups: the same call to every lane.
    for c in cases::run(&vectors.cases, &mut running, &blobs, &known)? {
        let cell = reader.entry((c.group, c.lane.clone())).or_default();
        match c.outcome {
            writer::Outcome::NotApplicable => {
                cell.na += 1;
                if ledgers[&c.lane].contains_key(&c.id) {
                    failures
                        .push(format!("{} {}: not applicable but in the ledger; remove it", c.lane, c.id));
                }
            }
            writer::Outcome::Checked(problems) => {
                let problems = (!problems.is_empty()).then_some(problems);
                tally(cell, &mut failures, &c.lane, &c.id, problems, ledgers[&c.lane].get(&c.id));
            }
        }
    }

    // The writer side: each lane's smartsend, read back by every lane.
    let cases = writer::cases(&vectors.vectors);
    let outcomes = writer::run(&cases, &mut running, &known)?;
    let mut writer_matrix: BTreeMap<(String, String), Cell> = BTreeMap::new();
    for (id, pairs) in &outcomes {
        for ((w, r), outcome) in pairs {
            let key = format!("{id}@{r}");
            let cell = writer_matrix.entry((r.clone(), w.clone())).or_default();
            match outcome {
                writer::Outcome::NotApplicable => cell.na += 1,
                writer::Outcome::Checked(problems) => {
                    let problems = (!problems.is_empty()).then(|| problems.clone());
                    tally(cell, &mut failures, w, &key, problems, ledgers[w].get(&key));
                }
            }
        }
    }
    for (lane, expected_failures) in &ledgers {
        let known = |id: &str| {
            vectors.vectors.iter().any(|v| v.id == id)
                || vectors.cases.iter().any(|c| c.id == id)
                || id.split_once('@').is_some_and(|(case, r)| {
                    cases.iter().any(|c| c.id == case) && names.iter().any(|n| n == r)
                })
        };
        for id in expected_failures.keys().filter(|id| !known(id)) {
            failures.push(format!("{lane}: ledger names unknown vector {id}"));
        }
    }

    // Cross-validation: the schema validators of the cross-checked lanes must agree.
    let mut agree = 0;
    for v in &vectors.vectors {
        let got: BTreeSet<bool> = cross_checked
            .iter()
            .filter_map(|(l, _)| verdicts.get(v.id.as_str()).and_then(|m| m.get(l.as_str())))
            .copied()
            .collect();
        if got.len() <= 1 {
            agree += 1;
        } else {
            failures.push(format!("validators disagree on {}: {:?}", v.id, verdicts.get(v.id.as_str())));
        }
    }

    Ok(Report {
        source: vectors.source.clone(),
        lanes: names,
        ran,
        groups: vectors.groups(),
        reader,
        writer: writer_matrix,
        writer_cases: cases.len(),
        vectors: vectors.vectors.len(),
        cases: vectors.cases.len(),
        validators: cross_checked.into_iter().map(|(_, v)| v).collect(),
        agree,
        notes,
        failures,
    })
}

/// Counts one check in `cell`, honouring the lane's ledger entry for `id`.
fn tally(
    cell: &mut Cell,
    failures: &mut Vec<String>,
    lane: &str,
    id: &str,
    problems: Option<Vec<String>>,
    ledger_entry: Option<&String>,
) {
    match (problems, ledger_entry) {
        (None, None) => cell.pass += 1,
        (None, Some(reason)) => {
            cell.fail += 1;
            failures.push(format!("{lane} {id}: passes but is in the ledger ({reason}); remove it"));
        }
        (Some(_), Some(_)) => cell.xfail += 1,
        (Some(problems), None) => {
            cell.fail += 1;
            failures.push(format!("{lane} {id}: {}", problems.join("; ")));
        }
    }
}
