//! The dashboard page in headless Chromium: the 10 M-row Arrow table (520 MB) downloaded by
//! link, verified while the bytes stream in and decoded over the downloaded buffer, against
//! the same link downloaded alone in the same page; and the renderer's peak memory during
//! that transfer against the table.
//!
//! The page measures itself (`dashboard/src/table.ts`): the timed receive first, then the
//! same link downloaded alone and the SHA-256 alone over the same bytes in memory, so each
//! run's ratio has its baseline from the same tab. `dashboard/scripts/demo.mjs --json` drives
//! it against a `natsbridge-demo dashboard` it starts (xtask builds the release binary and
//! passes it in with `--demo-bin`) and prints the figures; this module runs it and turns
//! them into rows. The SHA-256 alone is what bounds the rate: a download cannot be verified
//! faster than its bytes are hashed, so the rows give the rate against the download and the
//! hash in sequence (what verification costs when it cannot overlap the reads) too.

use std::path::Path;

use serde::Deserialize;

use crate::ctx::{Ctx, Error, Figure, Target};

const GROUP: &str = "page";

/// `table` in the line `demo.mjs --json` prints (`dashboard/scripts/demo.mjs`).
#[derive(Debug, Clone, Copy, Deserialize)]
struct TableFigures {
    /// The table's IPC size, MB.
    mb: f64,
    /// Download + verify + decode, MB/s.
    mbps: f64,
    /// The same link downloaded alone afterwards, MB/s.
    download_mbps: f64,
    /// The page's streaming SHA-256 alone over the same bytes in memory, MB/s.
    hash_mbps: f64,
}

/// `table_transfer_memory`: the renderer that rose most between the page's two probe calls.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransferMemory {
    peak_bytes: f64,
    rise_bytes: f64,
}

#[derive(Debug, Deserialize)]
struct DemoReport {
    table: TableFigures,
    table_transfer_memory: TransferMemory,
    results: Vec<DemoRow>,
}

#[derive(Debug, Deserialize)]
struct DemoRow {
    scenario: String,
    ok: bool,
    result: String,
}

/// One run of the page: the table's figures and the transfer's memory.
#[derive(Debug, Clone, Copy)]
struct PageRun {
    table: TableFigures,
    memory: TransferMemory,
}

/// Reads the JSON line among what `demo.mjs --json` printed (its last line that is an object).
fn parse_report(stdout: &str) -> Result<DemoReport, Error> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or("demo.mjs printed no JSON line (was it run with --json?)")?;
    Ok(serde_json::from_str(line)?)
}

/// One run of `node dashboard/scripts/demo.mjs --json` against `demo_bin`; the bench runs from
/// the repository root. A failed check of the demo's (exit 1) still gives figures when the page
/// got as far as the table: a missed memory target is a figure, not a failed bench.
async fn run_once(demo_bin: &Path, quick: bool) -> Result<PageRun, Error> {
    let mut cmd = natsbridge_testkit::process::command("node");
    cmd.arg("dashboard/scripts/demo.mjs").arg("--json").env("NATSBRIDGE_DEMO_BIN", demo_bin);
    if quick {
        cmd.arg("--small");
    }
    let output = tokio::task::spawn_blocking(move || cmd.output())
        .await?
        .map_err(|e| format!("starting node for the page: {e} (needs Node and `cargo xtask setup`)"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = parse_report(&stdout).map_err(|e| {
        format!(
            "the page's run ({}) gave no figures: {e}\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    })?;
    for row in report.results.iter().filter(|r| !r.ok) {
        eprintln!("page: the demo's check `{}` failed: {}", row.scenario, row.result);
    }
    if report.results.iter().any(|r| !r.ok && r.scenario.starts_with("deep dive")) {
        return Err(format!("the page's table did not arrive verified and zero-copy:\n{stdout}").into());
    }
    Ok(PageRun { table: report.table, memory: report.table_transfer_memory })
}

/// The page's rows from `runs`, medians over the runs.
fn figures(runs: &[PageRun]) -> Vec<Figure> {
    let col = |f: fn(&PageRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let (mb, download, received, hash) = (
        col(|r| r.table.mb),
        col(|r| r.table.download_mbps),
        col(|r| r.table.mbps),
        col(|r| r.table.hash_mbps),
    );
    // The download and then the hash, one after the other: 1 / (1/download + 1/hash).
    let sequential: Vec<f64> =
        runs.iter().map(|r| 1.0 / (1.0 / r.table.download_mbps + 1.0 / r.table.hash_mbps)).collect();
    let table = format!("Arrow table {:.0} MB in the page (Chromium)", crate::ctx::median(&mb));
    const DOWNLOAD: &str = "the same link downloaded alone, same page";
    let against_table = |name: String, samples: Vec<f64>| Figure {
        higher_is_better: false,
        ..Figure::rate(GROUP, name, "MB", "the table (IPC size)", mb.clone(), samples)
    };
    vec![
        Figure::rate(GROUP, format!("{table}: download + verify + decode"), "MB/s", DOWNLOAD, download.clone(), received.clone())
            .target(Target::MinRatio(0.8)),
        Figure::rate(
            GROUP,
            format!("{table}: SHA-256 alone in the page, over the bytes in memory (bounds the row above: a download is verified no faster than it is hashed)"),
            "MB/s",
            DOWNLOAD,
            download,
            hash,
        ),
        Figure::rate(
            GROUP,
            format!("{table}: download + verify + decode, against the download and the hash one after the other (what bounds the first row when the hash cannot overlap the reads)"),
            "MB/s",
            "download alone, then SHA-256 alone: 1 / (1/download + 1/hash)",
            sequential,
            received,
        )
        .target(Target::MinRatio(0.8)),
        against_table(
            format!("{table}: the renderer's peak RSS during the transfer, above its RSS before"),
            col(|r| r.memory.rise_bytes / 1e6),
        )
        .target(Target::MaxRatio(1.5)),
        against_table(
            format!("{table}: the renderer's peak RSS during the transfer, whole (the page, its runtime and nats.js included)"),
            col(|r| r.memory.peak_bytes / 1e6),
        ),
    ]
}

/// Runs the page `ctx.sizes.table_reps` times (the 10 M-row table; 1 M rows when quick).
pub(crate) async fn run(ctx: &Ctx, demo_bin: &Path, quick: bool) -> Result<Vec<Figure>, Error> {
    let mut runs = Vec::with_capacity(ctx.sizes.table_reps);
    for i in 0..ctx.sizes.table_reps {
        eprintln!(
            "page: run {} of {} (headless Chromium, the dashboard's table)",
            i + 1,
            ctx.sizes.table_reps
        );
        runs.push(run_once(demo_bin, quick).await?);
    }
    Ok(figures(&runs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"results":[{"scenario":"deep dive","ok":true,"result":"10000000 rows","figure":""},{"scenario":"table memory","ok":false,"result":"x","figure":""}],"heap_peak_bytes":1,"renderer_peak_rss_bytes":2,"table":{"mb":520,"seconds":2,"mbps":260,"download_seconds":1.3,"download_mbps":400,"rate_ratio":0.65,"hash_mbps":300},"table_transfer_memory":{"pid":7,"beforeBytes":100000000,"peakBytes":700000000,"riseBytes":600000000}}"#;

    #[test]
    fn the_demo_s_json_line_reads_back_into_rows_with_their_baselines() {
        let report = parse_report(&format!("scenario | result\nconnection | ok\n{LINE}\n")).unwrap();
        assert_eq!(report.results.len(), 2);
        let run = PageRun { table: report.table, memory: report.table_transfer_memory };
        let rows = figures(&[run]);
        assert_eq!(rows.len(), 5);
        assert!((rows[0].ratio() - 0.65).abs() < 1e-9, "{}", rows[0].ratio());
        assert_eq!(rows[0].met(), Some(false));
        // 1 / (1/400 + 1/300) = 171.4 MB/s; 260 against it is 1.52×.
        assert!((rows[2].baseline - 1200.0 / 7.0).abs() < 1e-9, "{}", rows[2].baseline);
        assert_eq!(rows[2].met(), Some(true));
        // 600 MB above the 100 MB before, against a 520 MB table: 1.15×, within 1.5×.
        assert!((rows[3].ratio() - 600.0 / 520.0).abs() < 1e-9);
        assert_eq!(rows[3].met(), Some(true));
        assert!(!rows[3].higher_is_better && rows[3].unit == "MB");
    }

    #[test]
    fn output_without_a_json_line_says_so() {
        let err = parse_report("scenario | result\n").unwrap_err();
        assert!(err.to_string().contains("no JSON line"), "{err}");
    }
}
