//! Options of a send and of a receive: consuming setters on a `Default` that reads the
//! environment once ([`crate::config`]), the way async-nats builds its `ConnectOptions`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use natsbridge_types::{Metadata, MsgPurpose, profile};

use crate::blob::{BlobStore, PlikStore};
use crate::config;
use crate::error::{Error, Result};
use crate::fetch::{FetchOptions, SecretUrl, allowed_host, host_of, http_client};
use crate::settings::Secret;
use crate::table::TableLimits;
use crate::transport::{ChosenConnection, Connection};

/// Options of [`crate::smartsend`]: `SendOptions::default()` and chained setters.
///
/// ```
/// use std::time::Duration;
/// use natsbridge::SendOptions;
/// use natsbridge::types::MsgPurpose;
///
/// let options = SendOptions::default()
///     .connection("nats://127.0.0.1:4222")
///     .fileserver("http://127.0.0.1:8080")
///     .size_threshold(100_000)
///     .purpose(MsgPurpose::Command)
///     .sender_name("dashboard")
///     .header("Sample-Rate", "44100")
///     .link_ttl(Duration::from_secs(3600));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct SendOptions {
    pub(crate) connection: ChosenConnection,
    /// `None`: a Plik-compatible server at `fileserver_url`, made when a link needs it.
    pub(crate) blob_store: Option<Arc<dyn BlobStore>>,
    pub(crate) fileserver_url: SecretUrl,
    pub(crate) fileserver_token: Option<Secret>,
    pub(crate) size_threshold: usize,
    pub(crate) correlation_id: Option<String>,
    pub(crate) msg_id: Option<String>,
    pub(crate) msg_purpose: MsgPurpose,
    pub(crate) sender_name: String,
    pub(crate) sender_id: String,
    pub(crate) receiver_name: String,
    pub(crate) receiver_id: String,
    pub(crate) reply_to: String,
    pub(crate) reply_to_msg_id: String,
    pub(crate) metadata: Metadata,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) publish: bool,
    pub(crate) flush: bool,
    pub(crate) link_ttl: Option<Duration>,
    pub(crate) one_shot: bool,
    pub(crate) max_payload: Option<usize>,
    pub(crate) jetstream: Option<async_nats::jetstream::Context>,
    pub(crate) publish_retry: Duration,
}

/// Connects to `NATS_URL` when publishing, uploads links to a Plik-compatible server at
/// `FILESERVER_URL`, threshold `SIZE_THRESHOLD` (500 000 bytes), purpose `chat`, sender
/// `natsbridge-rust` with this process's [`config::sender_id`], no flush per envelope on a
/// connection you pass in (see [`SendOptions::flush`]).
impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            connection: ChosenConnection::environment(),
            blob_store: None,
            fileserver_url: SecretUrl(config::fileserver_url()),
            fileserver_token: config::fileserver_token().map(Secret::from),
            size_threshold: config::size_threshold(),
            correlation_id: None,
            msg_id: None,
            msg_purpose: MsgPurpose::Chat,
            sender_name: "natsbridge-rust".into(),
            sender_id: config::sender_id().to_owned(),
            receiver_name: String::new(),
            receiver_id: String::new(),
            reply_to: String::new(),
            reply_to_msg_id: String::new(),
            metadata: Metadata::new(),
            headers: Vec::new(),
            publish: true,
            flush: false,
            link_ttl: None,
            one_shot: false,
            max_payload: None,
            jetstream: None,
            publish_retry: crate::transport::PUBLISH_RETRY_FOR,
        }
    }
}

impl SendOptions {
    /// Publishes on an existing client (connections are reused) or connects to a broker
    /// URL for each call. Default: [`Connection::from_environment`] (`NATS_URL`, `NATS_CREDS`, …,
    /// the nats CLI's selected context), resolved at the first send that needs it: options
    /// given a connection here never read those settings.
    pub fn connection(mut self, connection: impl Into<Connection>) -> Self {
        self.connection = ChosenConnection::Given(connection.into());
        self
    }

    /// Uploads link payloads to this store. Default: a Plik-compatible server at
    /// `FILESERVER_URL`.
    pub fn blob_store(mut self, store: Arc<dyn BlobStore>) -> Self {
        self.blob_store = Some(store);
        self
    }

    /// The blob store link payloads go to.
    pub(crate) fn store(&self) -> Arc<dyn BlobStore> {
        match &self.blob_store {
            Some(store) => store.clone(),
            None => {
                Arc::new(self.with_token(
                    PlikStore::new(&self.fileserver_url.0).source(config::fileserver_url_source()),
                ))
            }
        }
    }

    /// Uploads link payloads to a Plik-compatible file server at `url` (with the token of
    /// `FILESERVER_TOKEN`, when set).
    pub fn fileserver(self, url: impl Into<String>) -> Self {
        let store = self.with_token(PlikStore::new(url).source("the `fileserver` option"));
        self.blob_store(Arc::new(store))
    }

    /// The token the Plik-compatible file server asks of uploads (`natsbridge fileserver
    /// --token`). Default: `FILESERVER_TOKEN`, when set. Applies to the default store and to
    /// [`SendOptions::fileserver`] called after it.
    pub fn fileserver_token(mut self, token: impl Into<String>) -> Self {
        self.fileserver_token = Some(Secret::from(token.into()));
        self
    }

    fn with_token(&self, store: PlikStore) -> PlikStore {
        match &self.fileserver_token {
            Some(token) => store.token(token.expose()),
            None => store,
        }
    }

    /// Payloads whose serialized size is at least this many bytes go by link.
    pub fn size_threshold(mut self, bytes: usize) -> Self {
        self.size_threshold = bytes;
        self
    }

    /// The trace id (a UUID); a new one per call when not set.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// The message id (a UUID, also the `Nats-Msg-Id` header); a new one per call when not
    /// set. Set it to retry a JetStream publish without duplicating it.
    pub fn msg_id(mut self, id: impl Into<String>) -> Self {
        self.msg_id = Some(id.into());
        self
    }

    /// Why the message is sent. Default: `chat`.
    pub fn purpose(mut self, purpose: MsgPurpose) -> Self {
        self.msg_purpose = purpose;
        self
    }

    /// The sending application's name (must not be empty).
    pub fn sender_name(mut self, name: impl Into<String>) -> Self {
        self.sender_name = name.into();
        self
    }

    /// The sending instance's id. Default: [`config::sender_id`].
    pub fn sender_id(mut self, id: impl Into<String>) -> Self {
        self.sender_id = id.into();
        self
    }

    /// The intended receiver's name; empty (the default) is a broadcast.
    pub fn receiver_name(mut self, name: impl Into<String>) -> Self {
        self.receiver_name = name.into();
        self
    }

    /// The intended receiver's id; empty (the default) is a broadcast.
    pub fn receiver_id(mut self, id: impl Into<String>) -> Self {
        self.receiver_id = id.into();
        self
    }

    /// The subject replies should go to; empty (the default) expects none.
    pub fn reply_to(mut self, subject: impl Into<String>) -> Self {
        self.reply_to = subject.into();
        self
    }

    /// The `msg_id` this message answers.
    pub fn reply_to_msg_id(mut self, msg_id: impl Into<String>) -> Self {
        self.reply_to_msg_id = msg_id.into();
        self
    }

    /// Replaces the message-level metadata.
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Adds one message-level metadata entry.
    pub fn metadata_entry(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a NATS header (e.g. `Sample-Rate: 44100`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Whether to publish (default `true`). Without publishing, `smartsend` still uploads
    /// link payloads and returns the envelope and its JSON.
    pub fn publish(mut self, publish: bool) -> Self {
        self.publish = publish;
        self
    }

    /// Builds the envelope (and uploads) without publishing: `publish(false)`.
    pub fn no_publish(self) -> Self {
        self.publish(false)
    }

    /// Whether `smartsend` waits until the envelope is written to the socket. Default
    /// `false`, as NATS clients publish: the envelope is queued on the connection, which
    /// writes it out at once and batches what arrives meanwhile, so a loop of sends runs
    /// at full speed. Errors still surface: a closed connection or an envelope over the
    /// server's `max_payload` fails the call. Before the process exits, `client.flush()`
    /// (or [`crate::Sender::flush`]) makes sure the last envelopes left; turn this on for
    /// a single send that must be on the wire when it returns. A send that opens its own
    /// connection (a URL in [`SendOptions::connection`]) always flushes before closing it.
    pub fn flush(mut self, flush: bool) -> Self {
        self.flush = flush;
        self
    }

    /// How long uploads must stay downloadable (every reader, replays included). Default:
    /// the store's own.
    pub fn link_ttl(mut self, ttl: Duration) -> Self {
        self.link_ttl = Some(ttl);
        self
    }

    /// One-shot uploads, deleted after the first complete download (default off: a
    /// one-shot link does not survive a retry, a second subscriber or a replay).
    pub fn one_shot(mut self, one_shot: bool) -> Self {
        self.one_shot = one_shot;
        self
    }

    /// The server `max_payload` to fit when there is no connection to ask (not
    /// publishing). Default: 1 MiB, NATS's own default.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = Some(bytes);
        self
    }

    /// Publishes through JetStream and waits for the ack (see [`crate::jetstream`]).
    pub fn jetstream(mut self, context: async_nats::jetstream::Context) -> Self {
        self.jetstream = Some(context);
        self
    }

    /// How long a JetStream publish keeps retrying a message the stream has not
    /// acknowledged (a leader election, a reconnect), always with the same `Nats-Msg-Id`,
    /// so the stream keeps one copy. Keep it below the stream's duplicate window (2 min by
    /// default). Default: 30 s; zero tries once.
    pub fn publish_retry(mut self, retry_for: Duration) -> Self {
        self.publish_retry = retry_for;
        self
    }
}

/// Options of [`crate::smartreceive`]: what a receiver accepts from the network.
///
/// ```
/// use natsbridge::ReceiveOptions;
/// use natsbridge::fetch::FetchOptions;
///
/// let options = ReceiveOptions::default()
///     .allow_host("http://127.0.0.1:8080")
///     .fetch(FetchOptions { max_attempts: 3, ..FetchOptions::default() })
///     .max_payloads(100);
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct ReceiveOptions {
    pub(crate) allowed_hosts: Vec<String>,
    /// The first allowed host given outside the one form ([`allowed_host`]): every receive
    /// with these options fails with it, rather than allow something nobody meant.
    pub(crate) refused_host: Option<String>,
    pub(crate) allowed_dirs: Vec<PathBuf>,
    pub(crate) fetch: FetchOptions,
    pub(crate) http: reqwest::Client,
    pub(crate) max_envelope_bytes: usize,
    pub(crate) max_payloads: usize,
    pub(crate) table_limits: TableLimits,
    pub(crate) verify_sha256: bool,
    pub(crate) jetstream: Option<async_nats::jetstream::Context>,
}

/// Links allowed from the host of `FILESERVER_URL` only, no `file://` directories, the
/// reference retry schedule, envelopes up to 64 MiB with up to 10 000 payloads, sha256
/// verified, `nats-os://` links refused.
impl Default for ReceiveOptions {
    fn default() -> Self {
        ReceiveOptions {
            allowed_hosts: host_of(&config::fileserver_url()).into_iter().collect(),
            refused_host: None,
            allowed_dirs: Vec::new(),
            fetch: FetchOptions::default(),
            http: http_client(),
            max_envelope_bytes: profile::MAX_ENVELOPE_BYTES as usize,
            max_payloads: profile::MAX_PAYLOADS,
            table_limits: TableLimits::default(),
            verify_sha256: true,
            jetstream: None,
        }
    }
}

impl ReceiveOptions {
    /// Also allows downloads from the host of `url`: an `http(s)` URL or origin, or `*` for
    /// every host ([`allowed_host`]). Anything else (a bare `host:port`) is kept as a mistake:
    /// every receive with these options then fails with `INVALID_ARGUMENT` naming it.
    pub fn allow_host(mut self, url: &str) -> Self {
        match allowed_host(url) {
            Ok(host) if !self.allowed_hosts.contains(&host) => self.allowed_hosts.push(host),
            Ok(_) => {}
            Err(e) => {
                self.refused_host.get_or_insert_with(|| e.message().to_owned());
            }
        }
        self
    }

    /// Replaces the allowed hosts (each as [`ReceiveOptions::allow_host`] takes it; none
    /// refuses every HTTP link).
    pub fn allowed_hosts<S: AsRef<str>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.allowed_hosts.clear();
        for url in urls {
            self = self.allow_host(url.as_ref());
        }
        self
    }

    /// The allowed-host mistake these options carry, as an error.
    pub(crate) fn check(&self) -> Result<()> {
        match &self.refused_host {
            Some(m) => Err(Error::new(profile::ERROR_BAD_OPTION, m.clone())),
            None => Ok(()),
        }
    }

    /// Allows `file://` links into `dir` (none by default).
    pub fn allow_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.allowed_dirs.push(dir.into());
        self
    }

    /// Download retries, deadline and size cap.
    pub fn fetch(mut self, fetch: FetchOptions) -> Self {
        self.fetch = fetch;
        self
    }

    /// The largest envelope accepted, in bytes of JSON (default 64 MiB).
    pub fn max_envelope_bytes(mut self, bytes: usize) -> Self {
        self.max_envelope_bytes = bytes;
        self
    }

    /// The most payloads accepted in one envelope (default 10 000).
    pub fn max_payloads(mut self, count: usize) -> Self {
        self.max_payloads = count;
        self
    }

    /// Limits for Arrow IPC payloads.
    pub fn table_limits(mut self, limits: TableLimits) -> Self {
        self.table_limits = limits;
        self
    }

    /// Whether to verify `metadata.sha256` when a payload carries one (default `true`).
    pub fn verify_sha256(mut self, verify: bool) -> Self {
        self.verify_sha256 = verify;
        self
    }

    /// Resolves `nats-os://` (Object Store) links through this JetStream context.
    pub fn jetstream(mut self, context: async_nats::jetstream::Context) -> Self {
        self.jetstream = Some(context);
        self
    }

    /// The download limits in force (for callers sizing their own buffers).
    pub fn fetch_options(&self) -> &FetchOptions {
        &self.fetch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_are_normalized_and_kept_once() {
        let options = ReceiveOptions::default()
            .allowed_hosts(Vec::<String>::new())
            .allow_host("http://files:8080/some/path")
            .allow_host("files:8080")
            .allow_host("https://secure.example")
            .allow_host("bare-host")
            .allow_host("http://files:8080");
        assert_eq!(options.allowed_hosts, ["files:8080", "secure.example:443"]);
        let refused = options.check().unwrap_err();
        assert_eq!(refused.code(), &natsbridge_types::ErrorCode::InvalidArgument);
        assert!(
            refused.message().contains("\"files:8080\"") && refused.message().contains("`http://files:8080`"),
            "{refused}"
        );
        assert!(ReceiveOptions::default().allow_host("*").check().is_ok());
    }

    /// `SendOptions::default()` leaves the environment's connection for the first send that
    /// needs it (options given a client never resolve it), and its clones share the one
    /// resolution.
    #[test]
    fn the_environment_connection_is_resolved_once_and_only_when_used() {
        use crate::transport::ChosenConnection;
        let options = SendOptions::default();
        let ChosenConnection::Environment(cell) = &options.connection else { panic!("{options:?}") };
        assert!(cell.get().is_none(), "resolved when made");
        let given = options.clone().connection("nats://127.0.0.1:4222");
        assert!(
            matches!(&given.connection, ChosenConnection::Given(Connection::Url(u)) if u == "nats://127.0.0.1:4222")
        );
        assert!(cell.get().is_none(), "giving a connection resolved the environment's");
        let clone = options.clone();
        let resolved = clone.connection.get() as *const Connection;
        assert!(cell.get().is_some());
        assert_eq!(options.connection.get() as *const Connection, resolved, "a clone resolved it again");
    }

    #[test]
    fn debug_output_shows_no_credentials() {
        let options = SendOptions::default()
            .connection("nats://alice:n4ts-secret@127.0.0.1:4222")
            .fileserver("http://bob:http-secret@127.0.0.1:8080");
        let mut options = options;
        options.fileserver_url = SecretUrl("http://carol:env-secret@files:8080".into());
        let text = format!("{options:?}");
        for secret in ["n4ts-secret", "http-secret", "env-secret", "alice", "bob", "carol"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("127.0.0.1:4222") && text.contains("files:8080"), "{text}");
        let store = PlikStore::new("http://127.0.0.1:8080").token("t0ken-secret");
        assert!(!format!("{store:?}").contains("t0ken-secret"));
    }
}
