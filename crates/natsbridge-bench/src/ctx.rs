//! What every bench case shares, in a module of its own so that the driver (`run`) and
//! the cases it drives (`messaging`, `transfer`, `cluster`, `codec`) and `report` import it
//! and never each other: the context of a run ([`Ctx`], [`Sizes`]), one measured
//! [`Figure`] with its [`Target`], and [`median`].

use std::path::PathBuf;

use serde::Serialize;

pub(crate) type Error = Box<dyn std::error::Error>;

/// What a figure is checked against.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub(crate) enum Target {
    /// bridge / baseline ≥ value (throughput).
    MinRatio(f64),
    /// bridge ≤ baseline + value (latency, in the figure's unit).
    MaxOverBaseline(f64),
    /// bridge / baseline ≤ value (memory against the payload size).
    MaxRatio(f64),
    /// bridge ≥ value, in the figure's unit.
    MinAbsolute(f64),
    /// bridge ≤ value, in the figure's unit (CPU time with no baseline).
    MaxAbsolute(f64),
}

/// One measured figure: the bridge's median next to its baseline's.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Figure {
    pub(crate) group: &'static str,
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    /// What the baseline is ("raw async-nats", "memcpy", ...).
    pub(crate) baseline_name: &'static str,
    pub(crate) baseline: f64,
    pub(crate) bridge: f64,
    /// `true` for rates (higher is better), `false` for latencies and memory.
    pub(crate) higher_is_better: bool,
    pub(crate) target: Option<Target>,
    pub(crate) baseline_samples: Vec<f64>,
    pub(crate) bridge_samples: Vec<f64>,
}

impl Figure {
    /// A rate (higher is better) against its baseline, from the samples of each, with no
    /// target; [`Figure::target`] adds one.
    pub(crate) fn rate(
        group: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        baseline_name: &'static str,
        baseline_samples: Vec<f64>,
        bridge_samples: Vec<f64>,
    ) -> Figure {
        Figure {
            group,
            name: name.into(),
            unit,
            baseline_name,
            baseline: median(&baseline_samples),
            bridge: median(&bridge_samples),
            higher_is_better: true,
            target: None,
            baseline_samples,
            bridge_samples,
        }
    }

    /// The same figure, checked against `target`.
    pub(crate) fn target(self, target: Target) -> Figure {
        Figure { target: Some(target), ..self }
    }

    /// bridge / baseline.
    pub(crate) fn ratio(&self) -> f64 {
        if self.baseline == 0.0 { f64::NAN } else { self.bridge / self.baseline }
    }

    /// Relative speed: 1.0 is as fast as the baseline, higher is better, whatever the unit.
    pub(crate) fn relative(&self) -> f64 {
        if self.higher_is_better { self.ratio() } else { 1.0 / self.ratio() }
    }

    pub(crate) fn met(&self) -> Option<bool> {
        Some(match self.target? {
            Target::MinRatio(r) => self.ratio() >= r,
            Target::MaxOverBaseline(d) => self.bridge <= self.baseline + d,
            Target::MaxRatio(r) => self.ratio() <= r,
            Target::MinAbsolute(v) => self.bridge >= v,
            Target::MaxAbsolute(v) => self.bridge <= v,
        })
    }
}

pub(crate) fn median(samples: &[f64]) -> f64 {
    let mut s: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let mid = s.len() / 2;
    if s.len() % 2 == 1 { s[mid] } else { (s[mid - 1] + s[mid]) / 2.0 }
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) reps: usize,
    pub(crate) small_messages: usize,
    pub(crate) requests: usize,
    pub(crate) direct_messages: usize,
    /// (label, rows) of the link-path tables.
    pub(crate) tables: [(&'static str, usize); 2],
    pub(crate) table_reps: usize,
    /// Rows of the table every blob store carries.
    pub(crate) store_rows: usize,
    pub(crate) stream_messages: usize,
    pub(crate) codec_sizes: [usize; 2],
}

impl Sizes {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                reps: 2,
                small_messages: 2_000,
                requests: 200,
                direct_messages: 20,
                tables: [("2 MB", 40_000), ("5 MB", 100_000)],
                table_reps: 1,
                store_rows: 40_000,
                stream_messages: 400,
                codec_sizes: [1 << 20, 4 << 20],
            }
        } else {
            Sizes {
                reps: 5,
                small_messages: 50_000,
                requests: 2_000,
                direct_messages: 300,
                tables: [("100 MB", 2_000_000), ("500 MB, 10 M rows", 10_000_000)],
                table_reps: 3,
                store_rows: 2_000_000,
                stream_messages: 10_000,
                codec_sizes: [1 << 20, 64 << 20],
            }
        }
    }
}

/// What every case shares.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) nats_url: String,
    pub(crate) files_url: String,
    pub(crate) s3_endpoint: String,
    pub(crate) scratch: PathBuf,
    /// The embedded file server's spool (in memory where the machine has tmpfs).
    pub(crate) files_spool: PathBuf,
    pub(crate) sizes: Sizes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(baseline: f64, bridge: f64, higher_is_better: bool, target: Target) -> Figure {
        Figure {
            group: "t",
            name: "t".into(),
            unit: "x",
            baseline_name: "raw",
            baseline,
            bridge,
            higher_is_better,
            target: Some(target),
            baseline_samples: vec![baseline],
            bridge_samples: vec![bridge],
        }
    }

    #[test]
    fn medians_ignore_order_and_non_finite_samples() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn targets_are_judged_in_the_right_direction() {
        assert_eq!(figure(100.0, 60.0, true, Target::MinRatio(0.6)).met(), Some(true));
        assert_eq!(figure(100.0, 59.0, true, Target::MinRatio(0.6)).met(), Some(false));
        assert_eq!(figure(200.0, 250.0, false, Target::MaxOverBaseline(50.0)).met(), Some(true));
        assert_eq!(figure(200.0, 251.0, false, Target::MaxOverBaseline(50.0)).met(), Some(false));
        assert_eq!(figure(500.0, 650.0, false, Target::MaxRatio(1.3)).met(), Some(true));
        assert_eq!(figure(500.0, 651.0, false, Target::MaxRatio(1.3)).met(), Some(false));
        assert_eq!(figure(20.0, 1.5, true, Target::MinAbsolute(1.5)).met(), Some(true));
        assert_eq!(figure(20.0, 1.4, true, Target::MinAbsolute(1.5)).met(), Some(false));
        assert_eq!(figure(f64::NAN, 2.5, false, Target::MaxAbsolute(2.5)).met(), Some(true));
        assert_eq!(figure(f64::NAN, 2.6, false, Target::MaxAbsolute(2.5)).met(), Some(false));
        // Progress towards a target is 1.0 at the target, above it when met.
        assert_eq!(crate::report::progress(&figure(100.0, 60.0, true, Target::MinRatio(0.6))), Some(1.0));
        assert_eq!(
            crate::report::progress(&figure(200.0, 300.0, false, Target::MaxOverBaseline(100.0))),
            Some(1.0)
        );
        assert_eq!(
            crate::report::progress(&figure(f64::NAN, 5.0, false, Target::MaxAbsolute(2.5))),
            Some(0.5)
        );
        assert_eq!(crate::report::progress(&figure(500.0, 1000.0, false, Target::MaxRatio(1.0))), Some(0.5));
        // Relative speed is "higher is better" whatever the unit.
        assert_eq!(figure(200.0, 400.0, false, Target::MaxRatio(9.0)).relative(), 0.5);
        assert_eq!(figure(200.0, 400.0, true, Target::MinRatio(0.1)).relative(), 2.0);
    }
}
