//! The three local registries the dry run publishes to, each started for the run on a free
//! loopback port (or, for Cargo, made in a directory) and gone with it.
//!
//! - Cargo: a directory source that replaces crates.io (`[source.crates-io] replace-with`):
//!   `cargo vendor` of the workspace's `Cargo.lock` (the crates.io crates the packages need)
//!   plus our `.crate` files unpacked beside them, each with its `.cargo-checksum.json`. A
//!   scratch project then sees "crates.io" holding our crates under their own names; `cargo
//!   package` has already turned our path dependencies into crates.io dependencies.
//! - npm: verdaccio (`xtask/release/verdaccio/`, installed into `target/release-tools/`):
//!   `@natsbridge/*` only from what we publish (anonymous publish, no uplink, so a package of
//!   that name on the public registry can never stand in for ours), everything else through
//!   its uplink to registry.npmjs.org.
//! - Python: pypiserver (in `.venv` from `requirements-dev.txt`) serving a directory, filled
//!   by `twine upload` as a release uploads, with PyPI as its fallback for everything else.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

use crate::setup::Tools;
use crate::team::Running;
use crate::util::{cargo, read_output, run_checked, target_dir};

/// A free TCP port on 127.0.0.1 (the OS picks it; released before the server binds it).
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until `port` accepts connections, or the child exits, or 60 s pass.
fn wait_listening(server: &mut Running, port: u16, what: &str, log: &Path) -> Result<()> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.0.try_wait()? {
            bail!("{what} exited with {status}: {}", std::fs::read_to_string(log).unwrap_or_default());
        }
        ensure!(started.elapsed() < Duration::from_secs(60), "{what} did not listen on {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Cargo's side: a directory that replaces crates.io, and the config file that says so.
#[derive(Debug)]
pub(crate) struct CargoRegistry {
    /// Pass as `--config FILE` to cargo (cargo install reads no project config).
    pub(crate) config: PathBuf,
}

impl CargoRegistry {
    /// Made afresh in `dir/registry` each run. The place stays the same: cargo's fingerprint
    /// of a registry crate holds its source path, so a new place would compile every
    /// dependency again.
    pub(crate) fn create(root: &Path, dir: &Path, crates: &[PathBuf]) -> Result<CargoRegistry> {
        let dir = dir.join("registry");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let sources = dir.join("crates");
        read_output(
            cargo()
                .current_dir(root)
                .args(["vendor", "--locked", "--versioned-dirs", "--quiet"])
                .arg(&sources),
        )
        .context("vendoring the crates.io crates of Cargo.lock")?;
        for file in crates {
            let name = file.file_name().and_then(|n| n.to_str()).context("a .crate file name")?;
            let unpacked = sources.join(name.strip_suffix(".crate").context("not a .crate file")?);
            ensure!(!unpacked.exists(), "{} is also a crates.io crate of Cargo.lock", unpacked.display());
            run_checked(Command::new("tar").arg("-xzf").arg(file).arg("-C").arg(&sources))?;
            // What cargo checks a directory source against: the .crate's sha256 (recorded in
            // consumers' Cargo.lock, as from crates.io), no per-file list.
            let sum = hex::encode(Sha256::digest(std::fs::read(file)?));
            std::fs::write(
                unpacked.join(".cargo-checksum.json"),
                serde_json::json!({ "files": {}, "package": sum }).to_string(),
            )?;
        }
        // The workspace's `[profile.*]` tables too (a config file takes them as they are): no
        // debug info for dependencies, the hot crates optimized, as the workspace builds them
        // (cargo's default profile made this target directory 3.9 GB and slower to build).
        let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
        let profiles = manifest.find("\n[profile.").map_or("", |at| &manifest[at..]);
        let config = dir.join("cargo-config.toml");
        std::fs::write(
            &config,
            format!(
                "[source.crates-io]\nreplace-with = \"natsbridge-dry-run\"\n\n\
                 [source.natsbridge-dry-run]\ndirectory = {}\n{profiles}",
                serde_json::Value::from(sources.to_string_lossy())
            ),
        )?;
        Ok(CargoRegistry { config })
    }
}

/// Where verdaccio is installed (`npm ci` of `xtask/release/verdaccio/`, redone when its
/// lock changes).
fn verdaccio(root: &Path) -> Result<PathBuf> {
    let tools = target_dir().join("release-tools/verdaccio");
    let spec = root.join("xtask/release/verdaccio");
    let lock = std::fs::read(spec.join("package-lock.json"))?;
    let marker = tools.join(".installed-lock-sha256");
    let hash = hex::encode(Sha256::digest(&lock));
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(hash.as_str()) {
        std::fs::create_dir_all(&tools)?;
        std::fs::copy(spec.join("package.json"), tools.join("package.json"))?;
        std::fs::write(tools.join("package-lock.json"), &lock)?;
        run_checked(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&tools))
            .context("installing verdaccio needs Node 20+ and npm (Debian: `apt-get install nodejs npm`)")?;
        std::fs::write(&marker, &hash)?;
    }
    Ok(tools.join("node_modules/verdaccio/bin/verdaccio"))
}

/// A verdaccio started for the run.
#[derive(Debug)]
pub(crate) struct NpmRegistry {
    _server: Running,
    /// `http://127.0.0.1:PORT/`
    pub(crate) url: String,
}

impl NpmRegistry {
    pub(crate) fn start(root: &Path, dir: &Path) -> Result<NpmRegistry> {
        let bin = verdaccio(root)?;
        std::fs::create_dir_all(dir)?;
        let storage = dir.join("storage");
        let config = dir.join("config.yaml");
        // Paths as JSON strings (YAML reads them alike).
        let quote = |p: &Path| serde_json::Value::from(p.to_string_lossy()).to_string();
        std::fs::write(
            &config,
            format!(
                "storage: {storage}\n\
                 auth:\n  htpasswd:\n    file: {htpasswd}\n    max_users: -1\n\
                 uplinks:\n  npmjs:\n    url: https://registry.npmjs.org/\n    timeout: 60s\n\
                 packages:\n  '@natsbridge/*':\n    access: $all\n    publish: $all\n    unpublish: $all\n\
                 \x20 '**':\n    access: $all\n    publish: $authenticated\n    proxy: npmjs\n\
                 log: {{ type: stdout, format: pretty, level: warn }}\n",
                storage = quote(&storage),
                htpasswd = quote(&dir.join("htpasswd")),
            ),
        )?;
        let port = free_port()?;
        let log = dir.join("verdaccio.log");
        let mut server = Running(
            Command::new("node")
                .arg(&bin)
                .arg("--config")
                .arg(&config)
                .arg("--listen")
                .arg(format!("127.0.0.1:{port}"))
                .stdout(std::fs::File::create(&log)?)
                .stderr(Stdio::from(std::fs::File::options().append(true).open(&log)?))
                .spawn()
                .context("starting verdaccio")?,
        );
        wait_listening(&mut server, port, "verdaccio", &log)?;
        Ok(NpmRegistry { _server: server, url: format!("http://127.0.0.1:{port}/") })
    }

    /// `npm publish` of a tarball made by `npm pack`. npm wants a token before it asks; the
    /// registry lets anyone publish `@natsbridge/*`, so any token does.
    pub(crate) fn publish(&self, tarball: &Path) -> Result<()> {
        let auth = format!("--{}:_authToken=dry-run", self.url.trim_start_matches("http:"));
        run_checked(Command::new("npm").arg("publish").arg(tarball).args([
            "--registry",
            &self.url,
            &auth,
            "--no-audit",
            "--loglevel",
            "warn",
        ]))
    }
}

/// A pypiserver started for the run.
#[derive(Debug)]
pub(crate) struct PythonIndex {
    _server: Running,
    /// `http://127.0.0.1:PORT/` (uploads); `{url}simple/` is the index pip reads.
    pub(crate) url: String,
}

impl PythonIndex {
    pub(crate) fn start(tools: &Tools, dir: &Path) -> Result<PythonIndex> {
        let packages = dir.join("packages");
        std::fs::create_dir_all(&packages)?;
        let port = free_port()?;
        let log = dir.join("pypiserver.log");
        let mut server = Running(
            Command::new(tools.python.with_file_name("pypi-server"))
                .args(["run", "--host", "127.0.0.1", "--port", &port.to_string()])
                // Anyone may upload (`-a .`, no password file `-P .`): a local index for one run.
                .args(["-a", ".", "-P", ".", "--fallback-url", "https://pypi.org/simple/"])
                .arg(&packages)
                .stdout(std::fs::File::create(&log)?)
                .stderr(Stdio::from(std::fs::File::options().append(true).open(&log)?))
                .spawn()
                .context("starting pypiserver (`cargo xtask setup` installs it into .venv)")?,
        );
        wait_listening(&mut server, port, "pypiserver", &log)?;
        Ok(PythonIndex { _server: server, url: format!("http://127.0.0.1:{port}/") })
    }

    /// `twine upload`, as a release uploads to PyPI (the index accepts any credentials).
    pub(crate) fn upload(&self, tools: &Tools, files: &[PathBuf]) -> Result<()> {
        run_checked(
            Command::new(&tools.python)
                .args(["-m", "twine", "upload", "--non-interactive", "--disable-progress-bar"])
                .args(["--repository-url", &self.url, "-u", "dry-run", "-p", "dry-run"])
                .args(files),
        )
    }
}
