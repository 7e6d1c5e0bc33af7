//! What a bench run leaves behind: `results.json` (machine, commit, every figure and its
//! samples), `chart.svg` (relative speed and memory at a glance) and `results.md` (the
//! table the README shows).

use std::path::Path;
use std::time::Duration;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde::Serialize;
use serde_json::json;

use natsbridge_testkit::process::command;

use crate::ctx::{Error, Figure, Target};

/// The machine and software a run was taken on.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    pub(crate) memory_gib: f64,
    pub(crate) kernel: String,
    pub(crate) nats_server: String,
    pub(crate) commit: String,
    pub(crate) date: String,
}

fn first_line(cmd: &mut std::process::Command) -> String {
    cmd.output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or_default().trim().to_owned())
        .unwrap_or_default()
}

impl Machine {
    pub(crate) fn read(nats_server: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("unknown")
            .trim()
            .to_owned();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            memory_gib: (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: first_line(command("uname").args(["-sr"])),
            nats_server: first_line(command(nats_server).arg("--version")),
            commit: first_line(command("git").args(["rev-parse", "--short", "HEAD"])),
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        }
    }

    fn summary(&self) -> String {
        format!(
            "{}, {} cores, {} GiB, {}, {}, commit {}",
            self.cpu, self.cores, self.memory_gib, self.kernel, self.nats_server, self.commit
        )
    }
}

fn target_text(f: &Figure) -> String {
    match f.target {
        None => "—".into(),
        Some(Target::MinRatio(r)) => format!("≥ {r}× baseline"),
        Some(Target::MaxOverBaseline(d)) => format!("≤ baseline + {d} {}", f.unit),
        Some(Target::MaxRatio(r)) => format!("≤ {r}× {}", f.baseline_name),
        Some(Target::MinAbsolute(v)) => format!("≥ {v} {}", f.unit),
        Some(Target::MaxAbsolute(v)) => format!("≤ {v} {}", f.unit),
    }
}

fn number(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The Markdown table of a run.
pub(crate) fn markdown(machine: &Machine, figures: &[Figure]) -> String {
    let mut out = format!("Taken {} on {}.\n\n", machine.date, machine.summary());
    out.push_str("| case | baseline | bridge | ratio | target | met |\n|---|---|---|---|---|---|\n");
    for f in figures {
        let baseline = if f.baseline.is_finite() {
            format!("{} {} ({})", number(f.baseline), f.unit, f.baseline_name)
        } else {
            "—".into()
        };
        out.push_str(&format!(
            "| {} | {} | {} {} | {} | {} | {} |\n",
            f.name,
            baseline,
            number(f.bridge),
            f.unit,
            if f.ratio().is_finite() { format!("{:.2}×", f.ratio()) } else { "—".into() },
            target_text(f),
            match f.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            }
        ));
    }
    out
}

pub(crate) fn write(
    out: &Path,
    machine: &Machine,
    quick: bool,
    figures: &[Figure],
    took: Duration,
) -> Result<(), Error> {
    let figures_json: Vec<_> = figures
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).expect("figures serialize");
            v["ratio"] = json!(f.ratio().is_finite().then(|| f.ratio()));
            v["met"] = json!(f.met());
            v
        })
        .collect();
    let results = json!({
        "machine": machine,
        "quick": quick,
        "seconds": took.as_secs_f64().round(),
        "figures": figures_json,
    });
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&results)? + "\n")?;
    std::fs::write(out.join("results.md"), markdown(machine, figures))?;
    chart(&out.join("chart.svg"), machine, figures)?;
    Ok(())
}

/// How far a figure is towards its target: 1.0 is exactly the target, above is met,
/// whatever the unit and direction. `None` without a target.
pub(crate) fn progress(f: &Figure) -> Option<f64> {
    let p = match f.target? {
        Target::MinRatio(r) => f.ratio() / r,
        Target::MaxOverBaseline(d) => (f.baseline + d) / f.bridge,
        Target::MaxRatio(r) => r / f.ratio(),
        Target::MinAbsolute(v) => f.bridge / v,
        Target::MaxAbsolute(v) => v / f.bridge,
    };
    p.is_finite().then_some(p)
}

/// Appends this run to `history.jsonl` (one line per full run: commit, date, machine,
/// each figure with its ratio and progress towards its target) and draws the last runs
/// into `history.svg`.
pub(crate) fn append_history(out: &Path, machine: &Machine, figures: &[Figure]) -> Result<(), Error> {
    use std::io::Write as _;
    let line = json!({
        "commit": machine.commit,
        "date": machine.date,
        "machine": machine.summary(),
        "figures": figures.iter().map(|f| json!({
            "name": f.name,
            "unit": f.unit,
            "baseline": f.baseline.is_finite().then_some(f.baseline),
            "bridge": f.bridge,
            "ratio": f.ratio().is_finite().then(|| f.ratio()),
            "progress": progress(f),
            "met": f.met(),
        })).collect::<Vec<_>>(),
    });
    let path = out.join("history.jsonl");
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    writeln!(file, "{}", serde_json::to_string(&line)?)?;
    let runs: Vec<serde_json::Value> =
        std::fs::read_to_string(&path)?.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    history_chart(&out.join("history.svg"), &runs[runs.len().saturating_sub(HISTORY_RUNS)..])
}

/// Runs the history chart shows.
const HISTORY_RUNS: usize = 12;

/// One line per targeted figure of the latest run: its progress towards the target
/// (1.0 = met) over the last runs, on a log scale.
fn history_chart(path: &Path, runs: &[serde_json::Value]) -> Result<(), Error> {
    let Some(latest) = runs.last() else { return Ok(()) };
    let names: Vec<&str> = latest["figures"]
        .as_array()
        .map(|fs| fs.iter().filter(|f| f["progress"].is_f64()).filter_map(|f| f["name"].as_str()).collect())
        .unwrap_or_default();
    let series: Vec<(&str, Vec<(usize, f64)>)> = names
        .iter()
        .map(|name| {
            let points = runs
                .iter()
                .enumerate()
                .filter_map(|(i, run)| {
                    let f = run["figures"].as_array()?.iter().find(|f| f["name"] == *name)?;
                    Some((i, f["progress"].as_f64()?))
                })
                .collect();
            (*name, points)
        })
        .collect();
    let values = series.iter().flat_map(|(_, p)| p.iter().map(|(_, v)| *v));
    let (lo, hi) = values.fold((1.0_f64, 1.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let root = SVGBackend::new(path, (1200, 420 + 18 * series.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let labels: Vec<String> = runs
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["date"].as_str().unwrap_or_default().get(..10).unwrap_or_default(),
                r["commit"].as_str().unwrap_or_default()
            )
        })
        .collect();
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Progress towards each target over the last runs (1.0 = target met; log scale)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..runs.len().max(2) - 1, ((lo * 0.8)..(hi * 1.25)).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(runs.len())
        .x_label_formatter(&|i| labels.get(*i).cloned().unwrap_or_default())
        .y_desc("share of the target")
        .label_style(("sans-serif", 11))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0, 1.0), (runs.len().max(2) - 1, 1.0)],
        BLACK.stroke_width(2),
    )))?;
    for (k, (name, points)) in series.iter().enumerate() {
        let colour = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(points.iter().copied(), colour.stroke_width(2)).point_size(3))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 11))
        .draw()?;
    root.present()?;
    Ok(())
}

const GOOD: RGBColor = RGBColor(46, 139, 87);
const SHORT: RGBColor = RGBColor(230, 126, 34);
const PLAIN: RGBColor = RGBColor(110, 130, 160);

fn colour(met: Option<bool>) -> RGBColor {
    match met {
        Some(true) => GOOD,
        Some(false) => SHORT,
        None => PLAIN,
    }
}

/// Where the target sits on the relative-speed axis (1.0 = the baseline).
fn relative_target(f: &Figure) -> Option<f64> {
    match f.target? {
        Target::MinRatio(r) => Some(r),
        Target::MaxOverBaseline(d) => Some(f.baseline / (f.baseline + d)),
        Target::MinAbsolute(v) => Some(v / f.baseline),
        Target::MaxRatio(r) => Some(r),
        Target::MaxAbsolute(_) => None,
    }
}

/// Two panels: speed relative to the baseline (higher is better), and peak memory per
/// byte of payload (lower is better).
fn chart(path: &Path, machine: &Machine, figures: &[Figure]) -> Result<(), Error> {
    let speed: Vec<&Figure> = figures.iter().filter(|f| f.baseline.is_finite() && f.unit != "MB").collect();
    let memory: Vec<&Figure> = figures.iter().filter(|f| f.unit == "MB").collect();
    let rows = speed.len() + memory.len();
    let height = 150 + 34 * rows as u32;
    let root = SVGBackend::new(path, (1200, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(60);
    title.draw_text(
        "NATSBridge against the raw transports, measured in the same run",
        &("sans-serif", 22).into_font().color(&BLACK),
        (10, 8),
    )?;
    title.draw_text(
        &format!("{} · {}", machine.date, machine.summary()),
        &("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
        (10, 36),
    )?;
    let split = (body.dim_in_pixel().1 as usize * speed.len() / rows.max(1)) as u32;
    let (upper, lower) = body.split_vertically(split);
    panel(
        &upper,
        &speed,
        "speed relative to the baseline (1.0 = as fast; bar ends green where the target is met, | = target)",
        Figure::relative,
    )?;
    if !memory.is_empty() {
        panel(
            &lower,
            &memory,
            "peak RSS ÷ IPC bytes of the table (lower is better, | = target 1.3)",
            Figure::ratio,
        )?;
    }
    root.present()?;
    Ok(())
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    figures: &[&Figure],
    caption: &str,
    value: fn(&Figure) -> f64,
) -> Result<(), Error>
where
    DB::ErrorType: 'static,
{
    let max = figures
        .iter()
        .flat_map(|f| [value(f), relative_target(f).unwrap_or(0.0), 1.0])
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max)
        * 1.15;
    let names: Vec<String> = figures.iter().map(|f| f.name.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 14))
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(430)
        .build_cartesian_2d(0.0..max, (0..figures.len()).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(figures.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style(("sans-serif", 12))
        .draw()?;
    chart.draw_series(figures.iter().enumerate().map(|(i, f)| {
        let v = value(f);
        let v = if v.is_finite() { v } else { 0.0 };
        let mut bar = Rectangle::new(
            [(0.0, SegmentValue::Exact(i)), (v, SegmentValue::Exact(i + 1))],
            colour(f.met()).filled(),
        );
        bar.set_margin(5, 5, 0, 0);
        bar
    }))?;
    chart.draw_series(figures.iter().enumerate().map(|(i, f)| {
        Text::new(
            format!("{:.2}", value(f)),
            (value(f).max(0.0) + max * 0.005, SegmentValue::CenterOf(i)),
            ("sans-serif", 12),
        )
    }))?;
    chart.draw_series(figures.iter().enumerate().filter_map(|(i, f)| {
        let t = relative_target(f)?;
        Some(PathElement::new(
            vec![(t, SegmentValue::Exact(i)), (t, SegmentValue::Exact(i + 1))],
            BLACK.stroke_width(2),
        ))
    }))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
        RGBColor(150, 150, 150).stroke_width(1),
    )))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(commit: &str) -> Machine {
        Machine {
            cpu: "cpu".into(),
            cores: 2,
            memory_gib: 1.0,
            kernel: "Linux".into(),
            nats_server: "nats-server: v2".into(),
            commit: commit.into(),
            date: "2026-11-30 03:00 UTC".into(),
        }
    }

    fn rate(name: &str, ratio: f64, target: Option<Target>) -> Figure {
        Figure {
            group: "messaging",
            name: name.into(),
            unit: "msgs/s",
            baseline_name: "raw",
            baseline: 100.0,
            bridge: 100.0 * ratio,
            higher_is_better: true,
            target,
            baseline_samples: vec![100.0],
            bridge_samples: vec![100.0 * ratio],
        }
    }

    /// Each full run adds one line; the chart draws every targeted figure of the latest.
    #[test]
    fn the_history_grows_by_a_line_per_run_and_is_drawn() {
        let dir = tempfile::tempdir().unwrap();
        for (commit, ratio) in [("aaa1111", 0.2), ("bbb2222", 0.4)] {
            let figures = [
                rate("targeted case", ratio, Some(Target::MinRatio(0.35))),
                rate("untargeted case", ratio, None),
            ];
            append_history(dir.path(), &machine(commit), &figures).unwrap();
        }
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("history.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["commit"], "bbb2222");
        let progress = lines[1]["figures"][0]["progress"].as_f64().unwrap();
        assert!((progress - 0.4 / 0.35).abs() < 1e-9, "{progress}");
        assert!(lines[1]["figures"][1]["progress"].is_null());
        let svg = std::fs::read_to_string(dir.path().join("history.svg")).unwrap();
        assert!(svg.contains("targeted case") && !svg.contains("untargeted case"));
        assert!(svg.contains("bbb2222"));
    }
}
