//! `natsbridge conformance --testee CMD --lane NAME`: a team's own implementation against
//! the golden vectors compiled into this binary, with no checkout of this repository. The
//! engine is `natsbridge-conformance` (the same one `cargo xtask conformance` runs): it
//! serves the link vectors' blobs itself, starts the testee with `--allow-host URL`
//! appended, puts every vector through it (reader side), has it encode every writer case
//! and reads those envelopes back with the same testee (writer side, alone: validated and
//! decoded by itself), and prints both matrices. Exit 1 on any failure outside the ledger.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use natsbridge_conformance::{Lane, Ledger, Vectors, read_ledger, testee_command};

use crate::CliResult;

#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {
    /// Your testee: a shell command speaking the testee protocol on stdin/stdout (JSON
    /// lines; see docs/conformance.md). It is run by `sh` with `--allow-host URL` appended.
    #[arg(long, value_name = "CMD")]
    testee: String,
    /// Its lane name in the matrices (lowercase letters, digits, `-`, `_`).
    #[arg(long, value_name = "NAME", value_parser = lane_name)]
    lane: String,
    /// Known failures: `vector-id  # reason` lines (`writer/<vector-id>@NAME` for the
    /// writer side). Listed failures count as `xf`; one that passes is a failure.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// Read the vectors from a directory laid out as `conformance/v1` (`<group>.json`,
    /// `blobs/`) instead of the v1 vectors compiled into this binary.
    #[arg(long, value_name = "DIR")]
    vectors: Option<PathBuf>,
    /// Print every failing check, not only the first 20.
    #[arg(long)]
    verbose: bool,
    /// `text`: the matrices; `json`: one JSON report on stdout (cells, failures, `passed`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn lane_name(s: &str) -> Result<String, String> {
    natsbridge_conformance::check_lane_name(s).map(|()| s.to_owned())
}

pub(crate) fn run(args: ConformanceArgs) -> CliResult {
    let vectors = match &args.vectors {
        Some(dir) => Vectors::from_dir(dir)?,
        None => Vectors::embedded()?,
    };
    let ledger = match &args.ledger {
        Some(file) => read_ledger(file)?,
        None => Ledger::new(),
    };
    let lane = Lane::new(args.lane.clone(), Some(testee_command(&args.testee))).ledger(ledger);
    let report = natsbridge_conformance::run(&vectors, vec![lane])?;
    match args.format {
        Format::Text => {
            let ledger = args.ledger.as_ref().map(|f| f.display().to_string());
            report.print(args.verbose, ledger.as_deref());
        }
        Format::Json => println!("{}", serde_json::to_string_pretty(&report.to_json())?),
    }
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
