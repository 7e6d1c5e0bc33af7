//! What a user's build costs: a crate outside the workspace that depends on `natsbridge`,
//! built cold (debug, a fresh target directory) with the default features against the same
//! with every feature (what every user built before the crate had features), and how many
//! crates each pulls in. xtask measures it (it owns cargo) and passes the figures in with
//! `--cold-build`, as it passes `--codegen-ms`.
//!
//! Wall time is what a user waits for; the CPU time of the same build is reported beside
//! it because other load on a shared machine moves the wall time and barely the CPU time.

use std::str::FromStr;

use crate::ctx::Figure;

/// A user's cold build, measured by `cargo xtask bench` (full runs only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ColdBuild {
    /// Wall time of `cargo build` with the default features, in seconds.
    pub(crate) default_s: f64,
    /// The same with every feature, in seconds.
    pub(crate) all_s: f64,
    /// CPU time (user + system, every process of the build) with the default features,
    /// in seconds, when measured.
    pub(crate) default_cpu_s: Option<f64>,
    /// The same with every feature.
    pub(crate) all_cpu_s: Option<f64>,
    /// Crates in the build (normal dependencies, the user's crate not counted), default features.
    pub(crate) default_crates: f64,
    /// The same with every feature.
    pub(crate) all_crates: f64,
}

/// The keys of the form xtask passes, the required ones first.
const KEYS: [&str; 6] = ["default_s", "all_s", "default_crates", "all_crates", "default_cpu_s", "all_cpu_s"];
const REQUIRED: usize = 4;

/// The form xtask passes:
/// `default_s=83.1,all_s=141.9,default_crates=206,all_crates=231[,default_cpu_s=150.2,all_cpu_s=260.7]`.
impl FromStr for ColdBuild {
    type Err = String;

    fn from_str(s: &str) -> Result<ColdBuild, String> {
        let mut values = [None; KEYS.len()];
        for pair in s.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(|| format!("`{pair}` is not key=value"))?;
            let i = KEYS
                .iter()
                .position(|k| *k == key.trim())
                .ok_or_else(|| format!("unknown key `{key}` (expected {})", KEYS.join(", ")))?;
            let v: f64 = value.trim().parse().map_err(|e| format!("`{key}`: {e}"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("`{key}` must be a number ≥ 0, not {value}"));
            }
            values[i] = Some(v);
        }
        if let Some(i) = (0..REQUIRED).find(|i| values[*i].is_none()) {
            return Err(format!("`{}` is missing", KEYS[i]));
        }
        if values[4].is_some() != values[5].is_some() {
            return Err("give both `default_cpu_s` and `all_cpu_s`, or neither".into());
        }
        let [default_s, all_s, default_crates, all_crates] =
            [0, 1, 2, 3].map(|i| values[i].unwrap_or_default());
        Ok(ColdBuild {
            default_s,
            all_s,
            default_cpu_s: values[4],
            all_cpu_s: values[5],
            default_crates,
            all_crates,
        })
    }
}

/// The figures: build time (wall, and CPU when measured) and crate count, default
/// features against every feature.
pub(crate) fn figures(cold: &ColdBuild) -> Vec<Figure> {
    const ALL: &str = "all features (today's build)";
    let lower_is_better = |name: &str, unit: &'static str, all: f64, default: f64| Figure {
        higher_is_better: false,
        ..Figure::rate("build", name, unit, ALL, vec![all], vec![default])
    };
    let mut figures = vec![lower_is_better(
        "cold build of a user's crate, default features",
        "s",
        cold.all_s,
        cold.default_s,
    )];
    if let (Some(default), Some(all)) = (cold.default_cpu_s, cold.all_cpu_s) {
        figures.push(lower_is_better("CPU time of that build, default features", "s", all, default));
    }
    figures.push(lower_is_better(
        "crates in a user's build, default features",
        "crates",
        cold.all_crates,
        cold.default_crates,
    ));
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xtask_s_form_reads_back() {
        let form =
            "default_s=83.1,all_s=141.9,default_crates=206,all_crates=231,default_cpu_s=150,all_cpu_s=260";
        let cold: ColdBuild = form.parse().unwrap();
        assert_eq!(
            cold,
            ColdBuild {
                default_s: 83.1,
                all_s: 141.9,
                default_cpu_s: Some(150.0),
                all_cpu_s: Some(260.0),
                default_crates: 206.0,
                all_crates: 231.0
            }
        );
        let figures = figures(&cold);
        assert_eq!(figures.len(), 3);
        assert!(figures.iter().all(|f| !f.higher_is_better && f.baseline_name.starts_with("all features")));
        assert!((figures[0].relative() - 141.9 / 83.1).abs() < 1e-9, "faster is above 1");
        let without_cpu: ColdBuild = "default_s=1,all_s=2,default_crates=3,all_crates=4".parse().unwrap();
        assert_eq!(super::figures(&without_cpu).len(), 2);
    }

    #[test]
    fn a_bad_form_says_what_is_wrong() {
        let missing = "default_s=1,all_s=2,default_crates=3".parse::<ColdBuild>().unwrap_err();
        assert!(missing.contains("all_crates"), "{missing}");
        let unknown =
            "default_s=1,all_s=2,default_crates=3,all_crates=4,x=5".parse::<ColdBuild>().unwrap_err();
        assert!(unknown.contains("`x`"), "{unknown}");
        let negative = "default_s=-1,all_s=2,default_crates=3,all_crates=4".parse::<ColdBuild>().unwrap_err();
        assert!(negative.contains("default_s"), "{negative}");
        let half =
            "default_s=1,all_s=2,default_crates=3,all_crates=4,all_cpu_s=5".parse::<ColdBuild>().unwrap_err();
        assert!(half.contains("default_cpu_s"), "{half}");
    }
}
