//! Versions that must line up across the three registries, read from the manifests.
//!
//! - The runtime is one version everywhere: the crates `natsbridge`, `natsbridge-cli` and
//!   `natsbridge-codegen`, npm `@natsbridge/client`, PyPI `natsbridge`, and the generator's
//!   `RUNTIME_VERSION` (what generated packages ask for).
//! - The wire types are the contract's version (`schema/asyncapi.yaml` `info.version`):
//!   the crate `natsbridge-types`, npm `@natsbridge/types`, PyPI `natsbridge-types`; each
//!   runtime's requirement on them admits it.
//! - apache-arrow is a peer of `@natsbridge/client` in the range generated packages ask for.
//!
//! [`Versions::drift`] lists every disagreement; `cargo xtask release --dry-run` refuses to
//! start on one, and the test below fails on one.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, format_err};
use serde_json::Value;

/// The versions and requirements of every released package, as their manifests say.
#[derive(Debug)]
pub(crate) struct Versions {
    /// Crate name → version, for every workspace member.
    pub(crate) crates: BTreeMap<String, String>,
    /// `(crate, dependency)` → version requirement, for workspace path dependencies.
    crate_requirements: BTreeMap<(String, String), String>,
    /// `packages/typescript/package.json`.
    client: Value,
    /// `generated/typescript/package.json`.
    ts_types: Value,
    /// `dashboard/package.json` (a user of `@natsbridge/client` in this repository).
    dashboard: Value,
    /// `examples/simulation/generated/typescript/package.json` (a generated package).
    example_ts: Value,
    /// `packages/python/pyproject.toml`.
    py_runtime: String,
    /// `generated/python/pyproject.toml`.
    py_types: String,
    /// `schema/asyncapi.yaml` `info.version`.
    pub(crate) contract: String,
}

impl Versions {
    pub(crate) fn read(root: &Path) -> Result<Versions> {
        let metadata = crate::util::workspace_metadata(root)?;
        let mut crates = BTreeMap::new();
        let mut crate_requirements = BTreeMap::new();
        for package in metadata["packages"].as_array().context("cargo metadata has no packages")? {
            let name = str_at(package, "name")?;
            crates.insert(name.to_owned(), str_at(package, "version")?.to_owned());
            for dep in package["dependencies"].as_array().into_iter().flatten() {
                if dep.get("path").is_some_and(Value::is_string) {
                    crate_requirements.insert(
                        (name.to_owned(), str_at(dep, "name")?.to_owned()),
                        str_at(dep, "req")?.to_owned(),
                    );
                }
            }
        }
        let json = |rel: &str| -> Result<Value> {
            serde_json::from_str(&read(root, rel)?).with_context(|| format!("parsing {rel}"))
        };
        let asyncapi: Value = serde_norway::from_str(&read(root, "schema/asyncapi.yaml")?)?;
        Ok(Versions {
            crates,
            crate_requirements,
            client: json("packages/typescript/package.json")?,
            ts_types: json("generated/typescript/package.json")?,
            dashboard: json("dashboard/package.json")?,
            example_ts: json("examples/simulation/generated/typescript/package.json")?,
            py_runtime: read(root, "packages/python/pyproject.toml")?,
            py_types: read(root, "generated/python/pyproject.toml")?,
            contract: str_at(&asyncapi["info"], "version")?.to_owned(),
        })
    }

    /// The runtime's version (the crate `natsbridge`).
    pub(crate) fn runtime(&self) -> Result<&str> {
        self.crate_version("natsbridge")
    }

    pub(crate) fn crate_version(&self, name: &str) -> Result<&str> {
        self.crates.get(name).map(String::as_str).ok_or_else(|| format_err!("no workspace crate `{name}`"))
    }

    /// Every disagreement, one line each (empty when the versions line up).
    pub(crate) fn drift(&self) -> Result<Vec<String>> {
        let mut drift = Vec::new();
        let mut same = |what: &str, expected: &str, found: &str| {
            if expected != found {
                drift.push(format!("{what} is {found}, expected {expected}"));
            }
        };
        let runtime = self.runtime()?;
        same("the crate natsbridge-cli", runtime, self.crate_version("natsbridge-cli")?);
        same("the crate natsbridge-codegen", runtime, self.crate_version("natsbridge-codegen")?);
        same("natsbridge-codegen's RUNTIME_VERSION", runtime, natsbridge_codegen::api::RUNTIME_VERSION);
        same("npm @natsbridge/client", runtime, str_at(&self.client, "version")?);
        same("PyPI natsbridge", runtime, &project_version(&self.py_runtime)?);

        let types = self.contract.as_str();
        same("the crate natsbridge-types", types, self.crate_version("natsbridge-types")?);
        same("npm @natsbridge/types", types, str_at(&self.ts_types, "version")?);
        same("PyPI natsbridge-types", types, &project_version(&self.py_types)?);

        let version = semver::Version::parse(types)?;
        let mut admits = |what: &str, requirement: &str, admitted: bool| {
            if !admitted {
                drift.push(format!("{what} asks for {requirement}, which does not admit {types}"));
            }
        };
        let rust_req = self
            .crate_requirements
            .get(&("natsbridge".to_owned(), "natsbridge-types".to_owned()))
            .context("the crate natsbridge does not depend on natsbridge-types")?;
        admits("the crate natsbridge", rust_req, semver::VersionReq::parse(rust_req)?.matches(&version));
        let ts_req = str_at(&self.client["dependencies"], "@natsbridge/types")?;
        admits("@natsbridge/client", ts_req, semver::VersionReq::parse(ts_req)?.matches(&version));
        let py_req = project_dependency(&self.py_runtime, "natsbridge-types")?;
        admits("PyPI natsbridge", &py_req, pep440_admits(&py_req["natsbridge-types".len()..], &version)?);

        let runtime = semver::Version::parse(runtime)?;
        let dashboard_req = str_at(&self.dashboard["dependencies"], "@natsbridge/client")?;
        if !semver::VersionReq::parse(dashboard_req)?.matches(&runtime) {
            drift.push(format!("dashboard asks for @natsbridge/client {dashboard_req}, not {runtime}"));
        }

        // One apache-arrow: the runtime's peer range is the one generated packages ask for,
        // and the copy its own tests use is in that range.
        let peer = str_at(&self.client["peerDependencies"], "apache-arrow")?;
        let generated_peer = str_at(&self.example_ts["peerDependencies"], "apache-arrow")?;
        if peer != generated_peer {
            drift.push(format!(
                "@natsbridge/client's peer apache-arrow is {peer}, generated packages ask for {generated_peer}"
            ));
        }
        let dev = semver::Version::parse(str_at(&self.client["devDependencies"], "apache-arrow")?)?;
        if !semver::VersionReq::parse(peer)?.matches(&dev) {
            drift.push(format!(
                "@natsbridge/client tests against apache-arrow {dev}, outside its peer range {peer}"
            ));
        }
        Ok(drift)
    }
}

fn read(root: &Path, rel: &str) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))
}

fn str_at<'a>(value: &'a Value, key: &str) -> Result<&'a str> {
    value.get(key).and_then(Value::as_str).ok_or_else(|| format_err!("no string `{key}` in {value}"))
}

/// The lines of `pyproject.toml`'s `[project]` table.
fn project_table(pyproject: &str) -> impl Iterator<Item = &str> {
    pyproject
        .lines()
        .skip_while(|line| line.trim() != "[project]")
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
}

/// `[project] version = "..."`.
fn project_version(pyproject: &str) -> Result<String> {
    project_table(pyproject)
        .find_map(|line| line.trim().strip_prefix("version")?.trim_start().strip_prefix('='))
        .map(|value| value.trim().trim_matches('"').to_owned())
        .ok_or_else(|| format_err!("no [project] version in pyproject.toml"))
}

/// The PEP 508 requirement on `name` in `[project] dependencies` (spaces removed).
fn project_dependency(pyproject: &str, name: &str) -> Result<String> {
    let start = pyproject.find("\ndependencies").context("no [project] dependencies")?;
    let list = &pyproject[start..pyproject[start..].find(']').map_or(pyproject.len(), |end| start + end)];
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(|req| req.replace(' ', ""))
        .find(|req| {
            req.strip_prefix(name)
                .is_some_and(|rest| !rest.starts_with(|c: char| c.is_alphanumeric() || c == '-'))
        })
        .ok_or_else(|| format_err!("no dependency on {name} in pyproject.toml"))
}

/// Whether a PEP 440 specifier set of `>=`, `>`, `<=`, `<`, `==` clauses (`>=1.0,<2`)
/// admits `version`; any other operator is an error, not a guess.
fn pep440_admits(specifiers: &str, version: &semver::Version) -> Result<bool> {
    let mut admitted = true;
    for clause in specifiers.split(',').filter(|c| !c.is_empty()) {
        let (op, bound) = ["==", ">=", "<=", ">", "<"]
            .iter()
            .find_map(|op| clause.strip_prefix(op).map(|rest| (*op, rest)))
            .ok_or_else(|| format_err!("unsupported specifier `{clause}`"))?;
        let mut parts: Vec<u64> =
            bound.split('.').map(str::parse).collect::<Result<_, _>>().with_context(|| clause.to_owned())?;
        parts.resize(3, 0);
        let bound = semver::Version::new(parts[0], parts[1], parts[2]);
        admitted &= match op {
            "==" => *version == bound,
            ">=" => *version >= bound,
            "<=" => *version <= bound,
            ">" => *version > bound,
            _ => *version < bound,
        };
    }
    Ok(admitted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::project_root;

    #[test]
    fn versions_line_up_across_the_registries() {
        let versions = Versions::read(&project_root()).unwrap();
        let drift = versions.drift().unwrap();
        assert!(drift.is_empty(), "versions drifted apart:\n  {}", drift.join("\n  "));
    }

    #[test]
    fn the_readers_see_what_drifts() {
        let py = "[build-system]\nrequires = [\"x\"]\n\n[project]\nname = \"n\"\nversion = \"0.2.0\"\n\
                  dependencies = [\n    \"natsbridge-types>=1.0, <2\",\n    \"pyarrow>=16\",\n]\n[tool.x]\nversion = \"9\"\n";
        assert_eq!(project_version(py).unwrap(), "0.2.0");
        assert_eq!(project_dependency(py, "natsbridge-types").unwrap(), "natsbridge-types>=1.0,<2");
        assert!(project_dependency(py, "natsbridge").is_err(), "natsbridge-types is not natsbridge");
        let v = semver::Version::parse("1.1.0").unwrap();
        assert!(pep440_admits(">=1.0,<2", &v).unwrap());
        assert!(!pep440_admits(">=1.0,<1.1", &v).unwrap());
        assert!(!pep440_admits("==1.0.0", &v).unwrap());
        assert!(pep440_admits("~=1.0", &v).is_err());

        let mut versions = Versions::read(&project_root()).unwrap();
        versions.py_types =
            versions.py_types.replace(&format!("version = \"{}\"", versions.contract), "version = \"0.0.1\"");
        versions.client["peerDependencies"]["apache-arrow"] = "^20.0.0".into();
        let drift = versions.drift().unwrap();
        assert!(drift.iter().any(|d| d.starts_with("PyPI natsbridge-types is 0.0.1")), "{drift:?}");
        assert!(drift.iter().any(|d| d.contains("peer apache-arrow is ^20.0.0")), "{drift:?}");
        assert!(drift.iter().any(|d| d.contains("outside its peer range")), "{drift:?}");
    }
}
