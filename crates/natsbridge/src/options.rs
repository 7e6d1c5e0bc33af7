//! Options for sending and receiving, with defaults from the environment
//! (`NATS_URL`, `FILESERVER_URL`, `SIZE_THRESHOLD`) as in the reference implementations.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use natsbridge_types::{Metadata, MsgPurpose};

use crate::blob::{BlobStore, PlikStore};
use crate::fetch::FetchOptions;
use crate::table::TableLimits;

/// Default `size_threshold`: payloads of this many serialized bytes or more go by link.
pub const DEFAULT_SIZE_THRESHOLD: usize = 500_000;
/// Default NATS URL.
pub const DEFAULT_NATS_URL: &str = "nats://localhost:4222";
/// Default file server URL.
pub const DEFAULT_FILESERVER_URL: &str = "http://localhost:8080";

/// `NATS_URL` or the default.
pub fn nats_url_from_env() -> String {
    std::env::var("NATS_URL").ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_NATS_URL.into())
}

/// `FILESERVER_URL` or the default.
pub fn fileserver_url_from_env() -> String {
    std::env::var("FILESERVER_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_FILESERVER_URL.into())
}

/// `SIZE_THRESHOLD` or the default.
pub fn size_threshold_from_env() -> usize {
    std::env::var("SIZE_THRESHOLD").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(DEFAULT_SIZE_THRESHOLD)
}

/// This process's `sender_id`, a UUID v4 made once.
pub fn process_sender_id() -> &'static str {
    static ID: LazyLock<String> = LazyLock::new(|| uuid::Uuid::new_v4().to_string());
    &ID
}

/// How to reach NATS.
#[derive(Debug, Clone)]
pub enum Connection {
    /// An existing client (preferred: connections are reused).
    Client(async_nats::Client),
    /// A broker URL to connect to for this call.
    Url(String),
}

impl From<async_nats::Client> for Connection {
    fn from(c: async_nats::Client) -> Self {
        Connection::Client(c)
    }
}

impl From<&async_nats::Client> for Connection {
    fn from(c: &async_nats::Client) -> Self {
        Connection::Client(c.clone())
    }
}

impl From<&str> for Connection {
    fn from(url: &str) -> Self {
        Connection::Url(url.to_owned())
    }
}

impl From<String> for Connection {
    fn from(url: String) -> Self {
        Connection::Url(url)
    }
}

/// Options of [`crate::smartsend`]. Build with `SendOptions::default()` and the chainable
/// setters; every field is public too.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// NATS connection; `None` connects to `NATS_URL` when publishing.
    pub connection: Option<Connection>,
    /// Where link payloads go; `None` uses a Plik-compatible server at `FILESERVER_URL`.
    pub blob_store: Option<Arc<dyn BlobStore>>,
    /// Payloads whose serialized size is at least this go by link.
    pub size_threshold: usize,
    /// Trace id; a UUID v4 is generated when `None`.
    pub correlation_id: Option<String>,
    /// Message id; a UUID v4 is generated when `None`.
    pub msg_id: Option<String>,
    /// Why the message is sent.
    pub msg_purpose: MsgPurpose,
    /// Sending application's name.
    pub sender_name: String,
    /// Sending instance's id.
    pub sender_id: String,
    /// Intended receiver's name; empty = broadcast.
    pub receiver_name: String,
    /// Intended receiver's id; empty = broadcast.
    pub receiver_id: String,
    /// Subject replies should go to; empty = none expected.
    pub reply_to: String,
    /// The `msg_id` this message answers.
    pub reply_to_msg_id: String,
    /// Message-level metadata.
    pub metadata: Metadata,
    /// Extra NATS headers (e.g. `Sample-Rate: 44100`).
    pub headers: Vec<(String, String)>,
    /// Publish the envelope (otherwise only build it, uploading link payloads).
    pub publish: bool,
    /// Flush after publishing, so errors surface before `smartsend` returns.
    pub flush: bool,
    /// Lifetime of uploaded blobs; must cover every reader, replays included.
    pub link_ttl: Option<Duration>,
    /// One-shot uploads (deleted after the first download). Off by default.
    pub one_shot: bool,
    /// The NATS max_payload to budget for when no connection is known.
    pub max_payload: Option<usize>,
    /// Publish through JetStream and wait for the ack (see [`crate::jetstream`]).
    pub jetstream: Option<async_nats::jetstream::Context>,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            connection: None,
            blob_store: None,
            size_threshold: size_threshold_from_env(),
            correlation_id: None,
            msg_id: None,
            msg_purpose: MsgPurpose::Chat,
            sender_name: "natsbridge-rust".into(),
            sender_id: process_sender_id().to_owned(),
            receiver_name: String::new(),
            receiver_id: String::new(),
            reply_to: String::new(),
            reply_to_msg_id: String::new(),
            metadata: Metadata::new(),
            headers: Vec::new(),
            publish: true,
            flush: true,
            link_ttl: None,
            one_shot: false,
            max_payload: None,
            jetstream: None,
        }
    }
}

impl SendOptions {
    /// Uses an existing client or a broker URL.
    pub fn connection(mut self, c: impl Into<Connection>) -> Self {
        self.connection = Some(c.into());
        self
    }
    /// Uses this blob store for link payloads.
    pub fn blob_store(mut self, store: Arc<dyn BlobStore>) -> Self {
        self.blob_store = Some(store);
        self
    }
    /// Uses a Plik-compatible file server at `url` for link payloads.
    pub fn fileserver(self, url: impl Into<String>) -> Self {
        self.blob_store(Arc::new(PlikStore::new(url)))
    }
    /// Sets the size threshold.
    pub fn size_threshold(mut self, bytes: usize) -> Self {
        self.size_threshold = bytes;
        self
    }
    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }
    /// Sets the purpose.
    pub fn purpose(mut self, p: MsgPurpose) -> Self {
        self.msg_purpose = p;
        self
    }
    /// Sets the sender name.
    pub fn sender_name(mut self, name: impl Into<String>) -> Self {
        self.sender_name = name.into();
        self
    }
    /// Sets `reply_to`.
    pub fn reply_to(mut self, subject: impl Into<String>) -> Self {
        self.reply_to = subject.into();
        self
    }
    /// Adds a NATS header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    /// Builds the envelope (and uploads) without publishing.
    pub fn no_publish(mut self) -> Self {
        self.publish = false;
        self
    }
    /// Whether `smartsend` waits until the envelope is written to the socket (default
    /// `true`). Turn it off to stream many messages: they are then written in batches,
    /// and a final `client.flush()` makes sure the last ones left.
    pub fn flush(mut self, flush: bool) -> Self {
        self.flush = flush;
        self
    }

    /// Sets the lifetime of uploads.
    pub fn link_ttl(mut self, ttl: Duration) -> Self {
        self.link_ttl = Some(ttl);
        self
    }
}

/// Options of [`crate::smartreceive`]: what a receiver accepts from the network.
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    /// Hosts link payloads may be downloaded from (`host` or `host:port`; `*` = any).
    /// Defaults to the host of `FILESERVER_URL`.
    pub allowed_hosts: Vec<String>,
    /// Directories `file://` links may point into (none by default).
    pub allowed_dirs: Vec<PathBuf>,
    /// Download retries, deadline and size cap.
    pub fetch: FetchOptions,
    /// HTTP client for downloads (reused across calls).
    pub http: reqwest::Client,
    /// Largest envelope accepted, in bytes of JSON.
    pub max_envelope_bytes: usize,
    /// Most payloads accepted in one envelope.
    pub max_payloads: usize,
    /// Limits for Arrow IPC payloads.
    pub table_limits: TableLimits,
    /// Verify `metadata.sha256` when a payload carries one.
    pub verify_sha256: bool,
    /// JetStream context for `nats-os://` links (Object Store); `None` refuses them.
    pub jetstream: Option<async_nats::jetstream::Context>,
}

impl Default for ReceiveOptions {
    fn default() -> Self {
        let fs = fileserver_url_from_env();
        ReceiveOptions {
            allowed_hosts: host_of(&fs).into_iter().collect(),
            allowed_dirs: Vec::new(),
            fetch: FetchOptions::default(),
            http: crate::http_client(),
            max_envelope_bytes: 64 << 20,
            max_payloads: 10_000,
            table_limits: TableLimits::default(),
            verify_sha256: true,
            jetstream: None,
        }
    }
}

impl ReceiveOptions {
    /// Also allows downloads from the host of `url` (or a bare `host[:port]`).
    pub fn allow_host(mut self, url_or_host: &str) -> Self {
        let host = host_of(url_or_host).unwrap_or_else(|| url_or_host.to_owned());
        if !self.allowed_hosts.contains(&host) {
            self.allowed_hosts.push(host);
        }
        self
    }

    /// Allows `file://` links into `dir`.
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.allowed_dirs.push(dir.into());
        self
    }
}

/// `host:port` of an http(s) URL.
pub(crate) fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?))
}
