//! NATS transport: connecting (credentials kept out of logs, connection events surfaced),
//! which connection a call uses ([`Connection`]), and publishing an envelope's bytes,
//! on core NATS ([`publish_message`]) or through JetStream with an ack.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use tracing::{Instrument as _, info_span};

use crate::error::{Error, ErrorCode, Result};
use crate::fetch::redact;
use crate::settings::{ConnectFlags, ConnectSettings, shown_seeds};
use crate::wire::{HEADER_CORRELATION_ID, HEADER_MSG_ID};

/// How to reach NATS. Its `Debug` never shows credentials.
#[derive(Clone)]
pub enum Connection {
    /// An existing client (preferred: connections are reused).
    Client(Client),
    /// A broker URL to connect to for this call (with what the environment and the nats
    /// CLI's context add: [`ConnectSettings::from_url`]).
    Url(String),
    /// Resolved settings to connect with for this call.
    Settings(Box<ConnectSettings>),
    /// What the environment and the nats CLI's context say (`NATS_URL`, `NATS_CREDS`, the
    /// selected context, …: [`crate::settings`]), resolved for each call.
    Environment,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Connection::Client(c) => f.debug_tuple("Client").field(&broker_url_of(&c.server_info())).finish(),
            Connection::Url(_) => f.debug_tuple("Url").field(&self.broker_url().unwrap_or_default()).finish(),
            Connection::Settings(s) => f.debug_tuple("Settings").field(s).finish(),
            Connection::Environment => f.write_str("Environment"),
        }
    }
}

impl Connection {
    /// The `broker_url` an envelope sent on this connection names (credentials removed),
    /// `None` when it cannot be known.
    pub(crate) fn broker_url(&self) -> Option<String> {
        match self {
            Connection::Client(c) => broker_url_of(&c.server_info()),
            Connection::Url(u) => Some(shown_seeds(u)),
            Connection::Settings(s) => Some(s.shown_servers()),
            Connection::Environment => {
                ConnectSettings::resolve(&ConnectFlags::default()).ok().map(|s| s.shown_servers())
            }
        }
    }
}

impl From<Client> for Connection {
    fn from(c: Client) -> Self {
        Connection::Client(c)
    }
}

impl From<&Client> for Connection {
    fn from(c: &Client) -> Self {
        Connection::Client(c.clone())
    }
}

impl Connection {
    /// The settings of the environment and the nats CLI's context, resolved now
    /// (`SendOptions::default()` does this at its first send); [`Connection::Environment`]
    /// when they do not resolve, so the call that connects reports why.
    pub fn from_environment() -> Connection {
        match ConnectSettings::resolve(&ConnectFlags::default()) {
            Ok(settings) => Connection::Settings(Box::new(settings)),
            Err(_) => Connection::Environment,
        }
    }
}

/// The connection of a [`crate::SendOptions`]: one given to it, or the environment's
/// ([`Connection::from_environment`]), resolved when a call first needs it and kept by the
/// options and their clones from then on. Options given a connection never read the
/// environment's: `SendOptions::default().connection(&client)`, made afresh for every
/// request, costs no resolution (the variables and the nats CLI's context file).
#[derive(Clone)]
pub(crate) enum ChosenConnection {
    Given(Connection),
    Environment(Arc<OnceLock<Connection>>),
}

impl ChosenConnection {
    pub(crate) fn environment() -> ChosenConnection {
        ChosenConnection::Environment(Arc::default())
    }

    pub(crate) fn get(&self) -> &Connection {
        match self {
            ChosenConnection::Given(c) => c,
            ChosenConnection::Environment(cell) => cell.get_or_init(Connection::from_environment),
        }
    }
}

/// The connection the options publish on: printing options that take the environment's
/// resolves it, as their first send would, so that what is shown is what will be used.
impl std::fmt::Debug for ChosenConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

impl From<ConnectSettings> for Connection {
    fn from(s: ConnectSettings) -> Self {
        Connection::Settings(Box::new(s))
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

/// Connects to `url` (`NATS_CONNECTION_FAILED` on failure), with what the environment and
/// the nats CLI's context add to it (credentials, TLS: [`crate::settings`]; a URL's user
/// info is a credential). Connection events are logged: disconnects, slow consumers and
/// server errors as warnings, never silently.
pub async fn connect(url: &str) -> Result<Client> {
    ConnectSettings::from_url(url)?.connect().await
}

impl ConnectSettings {
    /// Connects with these settings (`NATS_CONNECTION_FAILED` on failure, naming the
    /// servers and, when the server refused the credentials, which ones and from where).
    pub async fn connect(&self) -> Result<Client> {
        connect_settings(self, async_nats::ConnectOptions::new(), None).await
    }
}

/// Events of a connection made by [`connect_with_events`]. Lagging receivers lose the
/// oldest events (and get `RecvError::Lagged` saying how many), never block the client.
pub type NatsEvents = tokio::sync::broadcast::Receiver<async_nats::Event>;

/// [`connect`], with a bounded per-subscription buffer and the connection's events for
/// the application: `Event::SlowConsumer(sid)` when a subscription's buffer of
/// `subscription_capacity` messages overflowed and the client dropped messages,
/// `Disconnected`/`Connected` around a server restart, server errors.
pub async fn connect_with_events(url: &str, subscription_capacity: usize) -> Result<WithEvents> {
    connect_settings_with_events(&ConnectSettings::from_url(url)?, subscription_capacity).await
}

/// [`connect_with_events`] with resolved settings.
pub async fn connect_settings_with_events(
    settings: &ConnectSettings,
    subscription_capacity: usize,
) -> Result<WithEvents> {
    let (tx, events) = tokio::sync::broadcast::channel(256);
    let options = async_nats::ConnectOptions::new().subscription_capacity(subscription_capacity);
    Ok(WithEvents { client: connect_settings(settings, options, Some(tx)).await?, events })
}

/// A client made by [`connect_with_events`] and its events.
#[derive(Debug)]
pub struct WithEvents {
    /// The connected client.
    pub client: Client,
    /// Its connection events.
    pub events: NatsEvents,
}

pub(crate) async fn connect_settings(
    settings: &ConnectSettings,
    options: async_nats::ConnectOptions,
    events: Option<tokio::sync::broadcast::Sender<async_nats::Event>>,
) -> Result<Client> {
    // A list names the seeds of a cluster: the client connects to one and moves to another
    // when it goes away. The settings hold them without user info (async-nats's debug logs
    // print server URLs); the credentials go in the options.
    let shown = settings.shown_servers();
    let server = shown.clone();
    let mut addrs = Vec::with_capacity(settings.servers().len());
    for seed in settings.servers() {
        addrs.push(seed.parse::<async_nats::ServerAddr>().map_err(|e| {
            Error::new(ErrorCode::NatsConnectionFailed, format!("server URL {}", redact(seed))).with_source(e)
        })?);
    }
    let options = settings.options(options).await?;
    let auth = settings.auth().clone();
    // async-nats reports every dropped message; the log gets one line per second with a count.
    let dropped = std::sync::Arc::new(std::sync::Mutex::new((0u64, None::<std::time::Instant>)));
    options
        .name("natsbridge")
        .connection_timeout(Duration::from_secs(5))
        .event_callback(move |event| {
            let events = events.clone();
            let server = server.clone();
            let dropped = dropped.clone();
            async move {
                match &event {
                    async_nats::Event::Connected => tracing::info!(%server, "NATS connected"),
                    // The application closing its own client is not news.
                    async_nats::Event::Closed | async_nats::Event::Draining => {
                        tracing::debug!(%server, event = %event, "NATS connection event")
                    }
                    async_nats::Event::SlowConsumer(sid) => {
                        let mut d = dropped.lock().expect("lock");
                        d.0 += 1;
                        if d.1.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            tracing::warn!(%server, sid, dropped = d.0, "NATS slow consumer: the client dropped messages");
                            *d = (0, Some(std::time::Instant::now()));
                        }
                    }
                    other => tracing::warn!(%server, event = %other, "NATS connection event"),
                }
                if let Some(tx) = events {
                    let _ = tx.send(event);
                }
            }
        })
        .connect(addrs)
        .await
        .map_err(|e| {
            let why = crate::error::root_cause(&e);
            let refused_auth = matches!(e.kind(), async_nats::ConnectErrorKind::AuthorizationViolation)
                || why.to_ascii_lowercase().contains("authorization");
            let tls_failed = matches!(e.kind(), async_nats::ConnectErrorKind::Tls)
                || ["certificate", "handshake", "alert", "tls", "invalidcontenttype", "corrupt message"].iter().any(|w| why.to_ascii_lowercase().contains(w));
            let advice = match auth.source() {
                _ if tls_failed && !refused_auth => {
                    "The TLS handshake failed: the server must speak TLS (a `tls://` URL or a CA asks for it), its certificate must be signed by the CA trusted (--tls-ca / NATS_CA; else the system's), and a server that verifies clients needs a client certificate (--tls-cert, --tls-key)".to_owned()
                }
                _ if !refused_auth => {
                    "Is nats-server running there? Start one (`nats-server -js`), or pass the server's URL (NATS_URL for the CLIs)".to_owned()
                }
                Some(source) => format!("The server refused the {} credentials from {source}: check them", auth.kind()),
                None => "The server wants credentials: give --creds, --nkey, --token or --user/--password (or a nats CLI context)".to_owned(),
            };
            Error::new(ErrorCode::NatsConnectionFailed, format!("connecting to the NATS server {shown} failed: {why}. {advice}"))
                .with_source(e)
        })
}

/// Returns once the server has registered every subscription `client` made before the
/// call, so messages published afterwards from any connection reach them.
///
/// `Client::flush` only proves the `SUB` left the socket. The server handles one
/// connection's commands in order, so a message the client publishes to its own fresh
/// inbox and gets back proves every earlier `SUB` is in place.
///
/// ```no_run
/// # async fn demo(client: async_nats::Client) -> natsbridge::Result<()> {
/// let sub = client.subscribe("sim.command").await.expect("subscribed");
/// natsbridge::transport::subscriptions_registered(&client).await?;
/// // Announce readiness now: nothing sent from here on is missed.
/// # drop(sub); Ok(()) }
/// ```
pub async fn subscriptions_registered(client: &Client) -> Result<()> {
    use futures::StreamExt as _;
    let fail = |what: &str| Error::new(ErrorCode::NatsConnectionFailed, what.to_owned());
    let probe = client.new_inbox();
    let mut echo =
        client.subscribe(probe.clone()).await.map_err(|e| fail("subscribing a probe").with_source(e))?;
    client.publish(probe, Bytes::new()).await.map_err(|e| fail("publishing a probe").with_source(e))?;
    match tokio::time::timeout(Duration::from_secs(30), echo.next()).await {
        Ok(Some(_)) => {
            let _ = echo.unsubscribe().await;
            Ok(())
        }
        Ok(None) => Err(fail("the probe subscription closed")),
        Err(_) => Err(fail("the server did not echo a probe within 30 s")),
    }
}

/// The client a call publishes on: the one given, or one connected for this call.
pub(crate) async fn client_for(connection: &Connection) -> Result<Client> {
    Ok(match connection {
        Connection::Client(c) => c.clone(),
        Connection::Url(u) => connect(u).await?,
        Connection::Settings(settings) => settings.connect().await?,
        Connection::Environment => ConnectSettings::resolve(&ConnectFlags::default())?.connect().await?,
    })
}

/// The connection to publish on, the envelope's `broker_url`, and the server's
/// `max_payload` (0 when it does not say).
pub(crate) async fn publish_target(connection: &Connection) -> Result<(Client, Option<String>, usize)> {
    let client = client_for(connection).await?;
    let broker_url = match connection {
        // A client given with the options is named through the cache.
        Connection::Client(_) => cached_broker_url(&client),
        // One made for this call: the server it reached, else the seeds as given.
        _ => broker_url_of(&client.server_info()).or_else(|| connection.broker_url()),
    };
    let max_payload = client.max_payload();
    Ok((client, broker_url, max_payload))
}

/// The `broker_url` of the envelopes sent on `client`, worked out once per connection to a
/// server: async-nats clones the whole server info on every read (a dozen allocations per
/// envelope), and the server only changes when the client connects again (its
/// `statistics().connects` moves). Kept for the process, not per [`crate::SendOptions`]:
/// options made afresh for every call (`SendOptions::default().connection(&client)`, as a
/// request loop writes them) find it too. A few clients at a time, the least recent
/// replaced.
fn cached_broker_url(client: &Client) -> Option<String> {
    /// One client's entry: its statistics (one per connection, shared by its clones), the
    /// connects they counted, and the URL worked out then.
    type Entry = (Arc<async_nats::Statistics>, u64, Option<String>);
    const KEPT: usize = 8;
    static CACHE: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
    let stats = client.statistics();
    let connects = stats.connects.load(Ordering::Acquire);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(i) = cache.iter().position(|(s, _, _)| Arc::ptr_eq(s, &stats)) {
        let entry = cache.remove(i);
        if entry.1 == connects {
            let url = entry.2.clone();
            cache.push(entry);
            return url;
        }
    }
    let url = broker_url_of(&client.server_info());
    if cache.len() == KEPT {
        cache.remove(0);
    }
    cache.push((stats, connects, url.clone()));
    url
}

/// The `broker_url` of an envelope sent on a connected client: the server it is connected
/// to (`tls://` when the server requires TLS). A server listening on every interface
/// reports `0.0.0.0`; the first URL it advertises to clients stands in then, and without
/// one the address is unknown: `None` rather than an address no peer can use.
pub(crate) fn broker_url_of(info: &async_nats::ServerInfo) -> Option<String> {
    let scheme = if info.tls_required { "tls" } else { "nats" };
    let unspecified = info.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if unspecified {
        return info.connect_urls.first().map(|advertised| format!("{scheme}://{advertised}"));
    }
    let host = if info.host.contains(':') { format!("[{}]", info.host) } else { info.host.clone() };
    Some(format!("{scheme}://{host}:{}", info.port))
}

pub(crate) async fn publish_envelope(
    client: &Client,
    subject: &str,
    headers: HeaderMap,
    body: Bytes,
    flush: bool,
    correlation_id: &str,
) -> Result<()> {
    let span = info_span!("publish", correlation_id = %correlation_id, subject, bytes = body.len());
    async {
        client.publish_with_headers(subject.to_owned(), headers, body).await.map_err(|e| {
            let code = match e.kind() {
                async_nats::client::PublishErrorKind::MaxPayloadExceeded => ErrorCode::PayloadTooLarge,
                _ => ErrorCode::PublishFailed,
            };
            Error::new(code, format!("publishing to `{subject}`")).with_source(e)
        })?;
        if flush {
            client
                .flush()
                .await
                .map_err(|e| Error::new(ErrorCode::PublishFailed, "flushing to the server").with_source(e))?;
        }
        Ok(())
    }
    .instrument(span)
    .await
}

/// How long a JetStream publish retries an unacknowledged message by default: a stream
/// leader election after a node dies takes 5–6 s.
pub const PUBLISH_RETRY_FOR: Duration = Duration::from_secs(30);

/// Publishes into a stream and waits for the ack. A publish that is not acknowledged (no
/// ack in time, no stream leader answering, the connection lost) is sent again, with the
/// same headers and so the same `Nats-Msg-Id`, until `retry_for` has passed: the stream
/// stores it once even when an earlier attempt landed and only its ack was lost.
pub(crate) async fn publish_jetstream(
    js: &async_nats::jetstream::Context,
    subject: &str,
    headers: HeaderMap,
    body: Bytes,
    correlation_id: &str,
    retry_for: Duration,
) -> Result<u64> {
    let span = info_span!("publish", correlation_id = %correlation_id, subject, bytes = body.len(), jetstream = true);
    async {
        let started = std::time::Instant::now();
        let (result, attempts) = with_retries(
            retry_for,
            unacknowledged,
            |attempt, e| {
                tracing::warn!(attempt, error = %e, "JetStream publish not acknowledged; retrying with the same Nats-Msg-Id")
            },
            || async { js.publish_with_headers(subject.to_owned(), headers.clone(), body.clone()).await?.await },
        )
        .await;
        match result {
            Ok(ack) => {
                if attempts > 1 {
                    tracing::info!(attempts, duplicate = ack.duplicate, seq = ack.sequence, "JetStream publish acknowledged after retrying");
                }
                Ok(ack.sequence)
            }
            Err(e) => {
                let code = match e.kind() {
                    async_nats::jetstream::context::PublishErrorKind::MaxPayloadExceeded => ErrorCode::PayloadTooLarge,
                    _ => ErrorCode::PublishFailed,
                };
                let tried = if attempts > 1 {
                    format!(" (not acknowledged after {attempts} attempts in {:.1} s)", started.elapsed().as_secs_f64())
                } else {
                    String::new()
                };
                Err(Error::new(code, format!("JetStream publish to `{subject}`{tried}")).with_source(e))
            }
        }
    }
    .instrument(span)
    .await
}

/// Calls `call` until it succeeds, fails in a way `retryable` says will not change, or
/// `retry_for` has passed, waiting 100 ms between attempts, doubling up to 2 s (a JetStream
/// leader election takes 5–6 s); `on_retry` hears of each failure that is retried, with its
/// attempt number. Returns the last result and how many attempts were made.
pub(crate) async fn with_retries<T, E, F: std::future::Future<Output = std::result::Result<T, E>>>(
    retry_for: Duration,
    retryable: impl Fn(&E) -> bool,
    mut on_retry: impl FnMut(u32, &E),
    mut call: impl FnMut() -> F,
) -> (std::result::Result<T, E>, u32) {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 1u32;
    loop {
        match call().await {
            Err(e) if retryable(&e) && started.elapsed() + delay < retry_for => {
                on_retry(attempt, &e);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
                attempt += 1;
            }
            result => return (result, attempt),
        }
    }
}

/// Publish failures after which the message may or may not be in the stream, and a new
/// attempt may succeed: no ack in time, no responder (no stream leader yet), a lost
/// connection, a server saying JetStream is temporarily unavailable.
fn unacknowledged(e: &async_nats::jetstream::context::PublishError) -> bool {
    use async_nats::jetstream::context::PublishErrorKind as Kind;
    match e.kind() {
        Kind::TimedOut | Kind::BrokenPipe | Kind::StreamNotFound | Kind::MaxAckPending => true,
        Kind::Other => {
            let text = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
            text.contains("temporarily unavailable") || text.contains("no responders")
        }
        _ => false,
    }
}

/// Publishes already-serialized envelope text (the reference's `publish_message`), with
/// the `Correlation-Id` header.
pub async fn publish_message(
    connection: impl Into<Connection>,
    subject: &str,
    text: impl Into<String>,
    correlation_id: &str,
) -> Result<()> {
    let client = client_for(&connection.into()).await?;
    let text = text.into();
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_CORRELATION_ID, correlation_id);
    // When the text is an envelope, mirror its msg_id for JetStream de-duplication.
    let msg_id = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("msg_id").and_then(|m| m.as_str()).map(str::to_owned));
    if let Some(id) = msg_id {
        headers.insert(HEADER_MSG_ID, id.as_str());
    }
    publish_envelope(&client, subject, headers, Bytes::from(text), true, correlation_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(host: &str, port: u16, connect_urls: &[&str], tls_required: bool) -> async_nats::ServerInfo {
        async_nats::ServerInfo {
            host: host.into(),
            port,
            connect_urls: connect_urls.iter().map(|s| (*s).to_owned()).collect(),
            tls_required,
            ..Default::default()
        }
    }

    #[test]
    fn broker_urls_name_the_connected_server() {
        for (server, expected) in [
            (info("127.0.0.1", 4333, &[], false), Some("nats://127.0.0.1:4333")),
            (info("nats.internal", 4222, &["10.0.0.5:4222"], false), Some("nats://nats.internal:4222")),
            (info("nats.internal", 4222, &[], true), Some("tls://nats.internal:4222")),
            (info("0.0.0.0", 4222, &["10.0.0.5:4222"], false), Some("nats://10.0.0.5:4222")),
            (info("::", 4222, &["10.0.0.5:4222"], true), Some("tls://10.0.0.5:4222")),
            (info("0.0.0.0", 4222, &[], false), None),
            (info("::1", 4222, &[], false), Some("nats://[::1]:4222")),
        ] {
            assert_eq!(broker_url_of(&server).as_deref(), expected, "{server:?}");
        }
    }

    #[test]
    fn url_connections_are_shown_without_credentials() {
        for (url, expected) in [
            ("nats://u:p@127.0.0.1:4222", "nats://127.0.0.1:4222"),
            ("demo.nats.io:4222", "nats://demo.nats.io:4222"),
            ("tok@demo.nats.io", "nats://demo.nats.io"),
            ("nats://a:1, nats://u:p@b:2", "nats://a:1,nats://b:2"),
        ] {
            assert_eq!(Connection::from(url).broker_url().as_deref(), Some(expected), "{url}");
        }
    }
}
