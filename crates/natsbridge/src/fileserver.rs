//! The embedded file server: the subset of Plik's HTTP API that claim-check links need,
//! so the reference implementations (Julia, JS, Python) can upload to it unchanged.
//!
//! - `POST /upload` (JSON `{"oneShot": bool, "ttl": secs}`, keys case-insensitive)
//!   → `{"id", "uploadToken", "ttl", ...}`. A `ttl` above the server's `max_ttl` is
//!   refused (400), never shortened: a link must not die before the message carrying it.
//!   With a server token, `X-PlikToken: T` or `Authorization: Bearer T` is required.
//! - `POST /file/{uploadId}`, header `X-UploadToken`, multipart field `file` → `{"id", ...}`.
//! - `GET|HEAD /file/{uploadId}/{fileId}/{fileName}`; HEAD never consumes a one-shot file,
//!   and a one-shot file is deleted once its last chunk is handed to the connection (a
//!   transfer cut off before that leaves it in place for the retry; one cut during the
//!   last chunk, at most 256 KiB, loses it: HTTP has no receipt).
//! - `GET /health`, `GET /config`.
//!
//! Files are spooled to disk as they arrive (the server's memory stays flat), ids are 128
//! random bits, names never reach the filesystem, and expired uploads are deleted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::Stream;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tracing::{debug, info};

use crate::error::{Error, ErrorCode, Result};

/// Settings of the embedded file server.
#[derive(Debug, Clone)]
pub struct FileServerConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Where files are spooled; `None` uses a fresh temporary directory removed on shutdown.
    pub dir: Option<PathBuf>,
    /// Lifetime of uploads that do not ask for one.
    pub ttl: Duration,
    /// The longest lifetime an upload may ask for (at least `ttl`); asking for more is
    /// refused with HTTP 400, so the sender fails instead of publishing a link that dies
    /// before its message. Default: 30 days, as Plik's.
    pub max_ttl: Duration,
    /// Largest file accepted.
    pub max_bytes: u64,
    /// Token required to create uploads.
    pub token: Option<String>,
    /// The URL clients reach the server at, when not `http://{listen}`.
    pub public_url: Option<String>,
    /// Most live uploads at once; `POST /upload` answers 503 beyond it, so nobody can
    /// grow the server's table without bound.
    pub max_uploads: usize,
    /// Browser origins (`http://127.0.0.1:3000`) allowed to upload and download from a page
    /// (CORS); empty: none, browsers refuse cross-origin reads.
    pub allow_origins: Vec<String>,
    /// How long a client may take to send a request's headers (slow-loris clients are cut
    /// off after it).
    pub header_timeout: Duration,
    /// How long a connection may go without a byte read or written (an idle keep-alive, a
    /// stalled upload, a reader that stopped reading) before it is closed.
    pub idle_timeout: Duration,
    /// Most connections served at once; more wait to be accepted until one closes.
    pub max_connections: usize,
}

impl Default for FileServerConfig {
    fn default() -> Self {
        FileServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            dir: None,
            ttl: Duration::from_secs(24 * 3600),
            max_ttl: Duration::from_secs(30 * 24 * 3600),
            max_bytes: 8 << 30,
            token: None,
            public_url: None,
            max_uploads: 100_000,
            allow_origins: Vec::new(),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

#[derive(Debug)]
struct Upload {
    token: String,
    one_shot: bool,
    expires: Instant,
    files: HashMap<String, StoredFile>,
}

#[derive(Debug)]
struct StoredFile {
    name: String,
    size: u64,
    path: PathBuf,
    /// A one-shot file with a download in flight.
    busy: bool,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    ttl: Duration,
    max_ttl: Duration,
    max_bytes: u64,
    token: Option<String>,
    max_uploads: usize,
    uploads: Mutex<HashMap<String, Upload>>,
}

type Shared = Arc<Inner>;

/// A running embedded file server; stops when dropped or on [`FileServer::shutdown`].
#[derive(Debug)]
pub struct FileServer {
    url: String,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    temp_dir: Option<PathBuf>,
}

/// Connection limits: what keeps slow or stalled clients from holding the server.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header: Duration,
    idle: Duration,
    connections: usize,
}

/// Accepts and serves connections until `shutdown` fires, then lets the requests in flight
/// finish (for at most the idle timeout). Each connection holds one of `limits.connections`
/// permits, must send its headers within `limits.header`, and is closed after
/// `limits.idle` without progress either way.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: Limits,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto;
    use hyper_util::service::TowerToHyperService;

    let permits = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let mut connections = tokio::task::JoinSet::new();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(limits.idle));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors and the like: back off a little rather than spin.
                Err(e) => {
                    debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(IdleTimeout::new(stream, limits.idle));
        let conn = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn.into_owned());
        connections.spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
        // Reap finished connections as we go, so the set stays as large as what is open.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    // Requests in flight may finish; whatever is still open after the idle timeout is cut.
    if tokio::time::timeout(limits.idle, graceful.shutdown()).await.is_err() {
        connections.abort_all();
    }
    while connections.join_next().await.is_some() {}
}

/// A connection closed after `idle` without a byte read or written. One deadline for both
/// directions: while hyper writes a long download it also keeps a read pending (to notice
/// the client hanging up), and that read must not time out while the writes go on.
struct IdleTimeout<S> {
    inner: S,
    idle: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> IdleTimeout<S> {
    fn new(inner: S, idle: Duration) -> Self {
        IdleTimeout { inner, idle, deadline: Box::pin(tokio::time::sleep(idle)) }
    }

    /// Progress was made: the deadline moves.
    fn progressed(&mut self) {
        let next = tokio::time::Instant::now() + self.idle;
        self.deadline.as_mut().reset(next);
    }

    /// After a write: bytes out move the deadline; nothing written waits on it.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        written: Poll<std::io::Result<usize>>,
    ) -> Poll<std::io::Result<usize>> {
        match written {
            Poll::Ready(result) => {
                if matches!(result, Ok(n) if n > 0) {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.stalled(cx),
        }
    }

    /// Nothing moved: an error once the deadline has passed, else wait (the deadline's waker
    /// is registered alongside the socket's).
    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "connection idle")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.progressed();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        self.wrote(cx, written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.wrote(cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.stalled(cx),
            ready => ready,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl FileServer {
    /// Binds and starts serving in the background.
    pub async fn start(config: FileServerConfig) -> Result<FileServer> {
        let io = |what: &str, e: std::io::Error| {
            Error::new(ErrorCode::UploadFailed, what.to_owned()).with_source(e)
        };
        let (dir, temp_dir) = match &config.dir {
            Some(d) => (d.clone(), None),
            None => {
                let d =
                    std::env::temp_dir().join(format!("natsbridge-files-{}", uuid::Uuid::new_v4().simple()));
                (d.clone(), Some(d))
            }
        };
        std::fs::create_dir_all(&dir).map_err(|e| io("creating the file server directory", e))?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| io("binding the file server", e))?;
        let addr = listener.local_addr().map_err(|e| io("file server address", e))?;
        let url = config.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
        let inner = Arc::new(Inner {
            dir,
            ttl: config.ttl,
            max_ttl: config.max_ttl.max(config.ttl),
            max_bytes: config.max_bytes,
            token: config.token.clone(),
            max_uploads: config.max_uploads,
            uploads: Mutex::new(HashMap::new()),
        });
        let sweeper = {
            let inner = Arc::downgrade(&inner);
            let period = (config.ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(period).await;
                    let Some(inner) = inner.upgrade() else { return };
                    sweep(&inner);
                }
            })
        };
        let app = router(inner).layer(cors(&config.allow_origins)?);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let limits = Limits {
            header: config.header_timeout,
            idle: config.idle_timeout,
            connections: config.max_connections.max(1),
        };
        let task = tokio::spawn(async move {
            serve(listener, app, limits, rx).await;
            sweeper.abort();
        });
        info!(%url, "file server listening");
        Ok(FileServer { url, addr, shutdown: Some(tx), task: Some(task), temp_dir })
    }

    /// The base URL to give senders (`FILESERVER_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes in-flight requests, removes a temporary directory.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until the process is interrupted (Ctrl-C).
    pub async fn run_until_ctrl_c(self) {
        let _ = tokio::signal::ctrl_c().await;
        self.shutdown().await;
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(d) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn sweep(inner: &Inner) {
    let now = Instant::now();
    let expired: Vec<(String, Upload)> = {
        let mut uploads = inner.uploads.lock().expect("lock");
        let ids: Vec<String> =
            uploads.iter().filter(|(_, u)| u.expires <= now).map(|(k, _)| k.clone()).collect();
        ids.into_iter().filter_map(|id| uploads.remove(&id).map(|u| (id, u))).collect()
    };
    for (id, _) in expired {
        debug!(upload = %id, "expired");
        let _ = std::fs::remove_dir_all(inner.dir.join(&id));
    }
}

/// The server's routes over shared state.
fn router(inner: Shared) -> Router {
    Router::new()
        // Upload parameters are a small JSON object; only file bodies may be large.
        .route("/upload", post(create_upload).layer(DefaultBodyLimit::max(MAX_PARAMS_BYTES)))
        .route("/file/{upload}", post(add_file).layer(DefaultBodyLimit::disable()))
        .route("/file/{upload}/{file}/{name}", get(download).head(head))
        .route("/health", get(|| async { "ok" }))
        .route("/config", get(config))
        .with_state(inner)
}

/// CORS for the configured browser origins: the Plik calls a page makes (create an upload,
/// add a file with its token, download) and the headers a client reads back.
fn cors(origins: &[String]) -> Result<CorsLayer> {
    let origins = origins
        .iter()
        .map(|o| {
            HeaderValue::from_str(o.trim_end_matches('/')).map_err(|e| {
                Error::new(ErrorCode::UrlNotAllowed, format!("`{o}` is not a valid origin")).with_source(e)
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::RANGE,
            HeaderName::from_static("x-uploadtoken"),
            HeaderName::from_static("x-pliktoken"),
        ])
        .expose_headers([header::CONTENT_LENGTH, header::RETRY_AFTER, header::CONTENT_TYPE]))
}

/// Largest `POST /upload` body (the JSON parameters).
const MAX_PARAMS_BYTES: usize = 64 << 10;

fn err(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(token) = &inner.token else { return true };
    let plik = headers.get("X-PlikToken").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    [plik, bearer].into_iter().flatten().any(|t| constant_time_eq(t.as_bytes(), token.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn config(State(inner): State<Shared>) -> Response {
    axum::Json(json!({
        "maxFileSize": inner.max_bytes,
        "maxTTL": inner.max_ttl.as_secs(),
        "defaultTTL": inner.ttl.as_secs(),
        "oneShot": true,
        "authentication": inner.token.is_some(),
    }))
    .into_response()
}

async fn create_upload(State(inner): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !authorized(&inner, &headers) {
        return err(StatusCode::UNAUTHORIZED, "missing or wrong token");
    }
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(_) => return err(StatusCode::BAD_REQUEST, "upload parameters must be JSON"),
        }
    };
    let one_shot = get_ci(&params, "oneShot").and_then(Value::as_bool).unwrap_or(false);
    // Plik: a positive ttl in seconds, 0 (or none) the default, -1 "never expires". Files
    // here always expire, so a lifetime above `max_ttl` (never-expiring included) is refused,
    // never silently shortened.
    let ttl = match get_ci(&params, "ttl").and_then(Value::as_i64) {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        Some(s) if s < 0 => Duration::MAX,
        _ => inner.ttl,
    };
    if ttl > inner.max_ttl {
        let max = inner.max_ttl.as_secs();
        let asked = if ttl == Duration::MAX {
            "-1 (never expires)".to_owned()
        } else {
            format!("{} s", ttl.as_secs())
        };
        return err(StatusCode::BAD_REQUEST, &format!("ttl {asked} is above this server's maxTTL {max} s"));
    }
    let Some(expires) = Instant::now().checked_add(ttl) else {
        return err(StatusCode::BAD_REQUEST, "ttl is too large");
    };
    let id = new_id();
    let token = new_id();
    {
        let mut uploads = inner.uploads.lock().expect("lock");
        if uploads.len() >= inner.max_uploads {
            return err(StatusCode::SERVICE_UNAVAILABLE, "too many live uploads; try again later");
        }
        uploads.insert(id.clone(), Upload { token: token.clone(), one_shot, expires, files: HashMap::new() });
    }
    axum::Json(
        json!({ "id": id, "uploadToken": token, "oneShot": one_shot, "ttl": ttl.as_secs(), "files": {} }),
    )
    .into_response()
}

async fn add_file(
    State(inner): State<Shared>,
    UrlPath(upload): UrlPath<String>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    if !valid_id(&upload) {
        return err(StatusCode::NOT_FOUND, "no such upload");
    }
    let given = headers.get("X-UploadToken").and_then(|v| v.to_str().ok()).unwrap_or_default();
    match inner.uploads.lock().expect("lock").get(&upload) {
        None => return err(StatusCode::NOT_FOUND, "no such upload"),
        Some(u) if !constant_time_eq(u.token.as_bytes(), given.as_bytes()) => {
            return err(StatusCode::FORBIDDEN, "missing or wrong X-UploadToken");
        }
        Some(_) => {}
    }
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return err(StatusCode::BAD_REQUEST, "no `file` part in the form"),
            Err(_) => return err(StatusCode::BAD_REQUEST, "malformed multipart body"),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name =
            field.file_name().map(str::to_owned).filter(|n| !n.is_empty()).unwrap_or_else(|| "file".into());
        let file_id = new_id();
        let dir = inner.dir.join(&upload);
        let path = dir.join(&file_id);
        let result = spool(field, &dir, &path, inner.max_bytes).await;
        let size = match result {
            Ok(size) => size,
            Err(resp) => {
                let _ = tokio::fs::remove_file(&path).await;
                return resp;
            }
        };
        let mut uploads = inner.uploads.lock().expect("lock");
        let Some(u) = uploads.get_mut(&upload) else {
            let _ = std::fs::remove_file(&path);
            return err(StatusCode::NOT_FOUND, "upload expired");
        };
        u.files.insert(file_id.clone(), StoredFile { name: name.clone(), size, path, busy: false });
        return axum::Json(
            json!({ "id": file_id, "fileName": name, "fileSize": size, "status": "uploaded" }),
        )
        .into_response();
    }
}

async fn spool(
    mut field: axum::extract::multipart::Field<'_>,
    dir: &Path,
    path: &Path,
    max: u64,
) -> std::result::Result<u64, Response> {
    let internal = |_| err(StatusCode::INTERNAL_SERVER_ERROR, "could not store the file");
    tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    let file = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut size = 0u64;
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => {
                size += chunk.len() as u64;
                if size > max {
                    return Err(err(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("file is larger than {max} bytes"),
                    ));
                }
                out.write_all(&chunk).await.map_err(internal)?;
            }
            Ok(None) => break,
            Err(_) => return Err(err(StatusCode::BAD_REQUEST, "upload body cut off")),
        }
    }
    out.flush().await.map_err(internal)?;
    Ok(size)
}

/// Looks a file up; for a one-shot GET, marks it busy so a second reader gets 404.
fn lookup(inner: &Inner, upload: &str, file: &str, name: &str, claim: bool) -> Option<(PathBuf, u64, bool)> {
    if !valid_id(upload) || !valid_id(file) {
        return None;
    }
    let mut uploads = inner.uploads.lock().expect("lock");
    let u = uploads.get_mut(upload)?;
    if u.expires <= Instant::now() {
        return None;
    }
    let one_shot = u.one_shot;
    let f = u.files.get_mut(file)?;
    if f.name != name || (one_shot && f.busy) {
        return None;
    }
    if claim && one_shot {
        f.busy = true;
    }
    Some((f.path.clone(), f.size, one_shot))
}

async fn head(
    State(inner): State<Shared>,
    UrlPath((upload, file, name)): UrlPath<(String, String, String)>,
) -> Response {
    match lookup(&inner, &upload, &file, &name, false) {
        Some((_, size, _)) => ([
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".into()),
        ])
        .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn download(
    State(inner): State<Shared>,
    UrlPath((upload, file, name)): UrlPath<(String, String, String)>,
) -> Response {
    let Some((path, size, one_shot)) = lookup(&inner, &upload, &file, &name, true) else {
        return err(StatusCode::NOT_FOUND, "no such file (expired, consumed, or never uploaded)");
    };
    let f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(_) => return err(StatusCode::NOT_FOUND, "no such file"),
    };
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 << 10);
    let body = if one_shot {
        Body::from_stream(OneShotStream {
            inner: stream,
            remaining: size,
            guard: Some((inner, upload, file)),
        })
    } else {
        Body::from_stream(stream)
    };
    (
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_TYPE, "application/octet-stream".into()),
            // A blob is fetched once per receiver and never from a cache; `no-store` also keeps
            // Chromium from reading the body ahead of the page into chunks in its garbage-collected
            // heap (Blink's BufferingBytesConsumer), which cost a page that downloads a 208 MB
            // table up to 1.0x the table on top of its own buffer (dashboard/README.md).
            (header::CACHE_CONTROL, "no-store".into()),
        ],
        body,
    )
        .into_response()
}

/// Streams a one-shot file; consumes it as the last byte is handed over, and releases
/// the claim if the transfer is abandoned, so a retry can still fetch it.
///
/// "Handed over" is counted in bytes: with a `Content-Length`, hyper stops polling the
/// body after the last byte and never sees its end. The file is consumed in the same
/// poll that yields the last chunk, before a client can have read it, so a second GET
/// that follows a complete download always finds it gone.
struct OneShotStream<S> {
    inner: S,
    remaining: u64,
    guard: Option<(Shared, String, String)>,
}

impl<S> OneShotStream<S> {
    /// Deletes the file once fully handed over, or releases the claim for a retry.
    fn settle(&mut self) {
        let Some((inner, upload, file)) = self.guard.take() else { return };
        let mut uploads = inner.uploads.lock().expect("lock");
        let Some(u) = uploads.get_mut(&upload) else { return };
        if self.remaining == 0 {
            if let Some(f) = u.files.remove(&file) {
                let _ = std::fs::remove_file(&f.path);
            }
            if u.files.is_empty() {
                uploads.remove(&upload);
                let _ = std::fs::remove_dir_all(inner.dir.join(&upload));
            }
        } else if let Some(f) = u.files.get_mut(&file) {
            f.busy = false;
        }
    }
}

impl<S: Stream<Item = std::io::Result<axum::body::Bytes>> + Unpin> Stream for OneShotStream<S> {
    type Item = S::Item;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let item = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &item {
            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
            if self.remaining == 0 {
                self.settle();
            }
        }
        item
    }
}

impl<S> Drop for OneShotStream<S> {
    fn drop(&mut self) {
        self.settle();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_digits() {
        assert!(valid_id(&new_id()));
        for (id, ok) in [
            ("0123456789abcdef0123456789ABCDEF", true),
            ("0123456789abcdef0123456789abcde", false),
            ("0123456789abcdef0123456789abcdef0", false),
            ("../../../../../../../../etc/pass", false),
            ("0123456789abcdef0123456789abcdeg", false),
            ("", false),
        ] {
            assert_eq!(valid_id(id), ok, "{id}");
        }
    }

    #[test]
    fn parameters_are_read_case_insensitively() {
        let body = json!({"OneShot": true, "TTL": 60});
        assert_eq!(get_ci(&body, "oneShot"), Some(&json!(true)));
        assert_eq!(get_ci(&body, "ttl"), Some(&json!(60)));
        assert_eq!(get_ci(&body, "missing"), None);
        assert_eq!(get_ci(&json!([1]), "ttl"), None);
    }

    #[test]
    fn tokens_compare_whole() {
        for (a, b, equal) in [
            ("s3cret", "s3cret", true),
            ("s3cret", "s3creT", false),
            ("s3cret", "s3cre", false),
            ("", "", true),
            ("", "x", false),
        ] {
            assert_eq!(constant_time_eq(a.as_bytes(), b.as_bytes()), equal, "{a:?} {b:?}");
        }
    }

    #[test]
    fn uploads_need_the_token_in_either_header() {
        let inner = |token: Option<&str>| Inner {
            dir: PathBuf::new(),
            ttl: Duration::from_secs(1),
            max_ttl: Duration::from_secs(1),
            max_bytes: 0,
            token: token.map(str::to_owned),
            max_uploads: 0,
            uploads: Mutex::new(HashMap::new()),
        };
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let locked = inner(Some("s3cret"));
        for (given, ok) in [
            (headers(&[("X-PlikToken", "s3cret")]), true),
            (headers(&[("Authorization", "Bearer s3cret")]), true),
            (headers(&[("Authorization", "s3cret")]), false),
            (headers(&[("Authorization", "Bearer wrong")]), false),
            (headers(&[("X-PlikToken", "wrong"), ("Authorization", "Bearer s3cret")]), true),
            (headers(&[]), false),
        ] {
            assert_eq!(authorized(&locked, &given), ok, "{given:?}");
        }
        assert!(authorized(&inner(None), &headers(&[])), "no token configured: open");
    }
}
