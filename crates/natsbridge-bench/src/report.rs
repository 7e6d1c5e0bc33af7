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

use crate::run::{Error, Figure, Target};

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
