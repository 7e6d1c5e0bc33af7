//! Real components on loopback, for everything in this repository that needs them: the
//! integration tests, the CLI's tests, the demo and the benchmark.
//!
//! - [`nats`]: finds `nats-server` (one documented order, [`nats::nats_server_bin`]) and
//!   runs it with JetStream on a free port, its own store, killed and deleted on drop,
//!   restartable on the same port ([`NatsServer`]), or three of them as a JetStream
//!   cluster whose nodes can be killed and restarted ([`NatsCluster`]).
//! - [`file_server`], [`file_server_in`]: the embedded Plik-compatible file server on a
//!   free port.
//! - [`s3`]: a real S3 API server (`s3s-fs`, SigV4 and presigned expiry enforced) on a
//!   free port, in-process ([`S3Server`]).
//! - [`faults`]: a fault-injecting HTTP server (statuses, truncation, resets, trickles,
//!   stalls, wrong bytes, redirects), scripted per blob.
//! - [`process`]: child processes that are killed when dropped, and the one place that
//!   builds a `std::process::Command` outside `xtask`.
//! - [`secure`]: nats-servers as production runs them: TLS (certificates made for the
//!   test, mutual TLS), a token, a user and password, NKey users, operator mode with
//!   `.creds` files.
//! - [`data`]: the scenarios' Arrow table, shared by tests, the demo and the benchmark.
//! - [`schema`]: a validator for everything the runtime publishes, built from the bundled
//!   schema.
//!
//! Nothing here skips: a missing binary is an error that names the install command.
//!
//! ```no_run
//! let server = natsbridge_testkit::NatsServer::start()?;
//! println!("JetStream at {}", server.url());
//! # Ok::<(), natsbridge_testkit::Error>(())
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use natsbridge::fileserver::{FileServer, FileServerConfig};

pub mod data;
pub mod faults;
pub mod nats;
pub mod process;
pub mod s3;
pub mod schema;
pub mod secure;

pub use nats::{NatsCluster, NatsServer};
pub use process::KillOnDrop;
pub use s3::S3Server;

/// A component that could not be started, with what to do about it.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The repository root (where `.venv`, `node_modules` and `conformance/` live). Fixed at
/// build time: the binaries built from this checkout find the tools installed into it.
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

/// A tool the project installs (`cargo xtask setup`), by its path under the root; an error
/// naming the install command when it is missing.
pub fn project_tool(relative: &str) -> Result<PathBuf, Error> {
    let path = project_root().join(relative);
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::new(format!("{} is missing: run `cargo xtask setup`", path.display())))
    }
}

/// Starts the embedded file server on a free loopback port, spooling into a temporary
/// directory of its own.
pub async fn file_server() -> Result<FileServer, Error> {
    start_file_server(None).await
}

/// Starts the embedded file server on a free loopback port, spooling into `dir`.
pub async fn file_server_in(dir: impl Into<PathBuf>) -> Result<FileServer, Error> {
    start_file_server(Some(dir.into())).await
}

async fn start_file_server(dir: Option<PathBuf>) -> Result<FileServer, Error> {
    let config =
        FileServerConfig { listen: SocketAddr::from(([127, 0, 0, 1], 0)), dir, ..Default::default() };
    FileServer::start(config)
        .await
        .map_err(|e| Error::new(format!("the embedded file server did not start: {}", e.report())))
}

/// A free loopback TCP port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
