//! The HTTP server the link vectors point at (`http://{{BLOBS}}/blobs/NAME`), on a free
//! 127.0.0.1 port, with axum on a Tokio runtime of its own thread, so the runner needs
//! neither Python nor an async caller:
//!
//! - the vectors' blobs from memory at `/blobs/NAME` (200 with `Content-Length`, or 404);
//! - a Plik-compatible upload (`POST /upload`, multipart `POST /file/{uploadId}`, `GET
//!   /file/{uploadId}/{fileId}/{name}`) in memory, where the `send` cases' links go;
//! - scripted answers for the `fetch` cases at `/script/{key}`: the n-th request gets the
//!   n-th step of the script (the last one repeats), and the requests are counted.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// One scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Step {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Announce the whole body's `Content-Length`, send this many bytes, then cut the
    /// connection.
    pub truncate: Option<usize>,
}

#[derive(Debug, Default)]
struct Shared {
    blobs: BTreeMap<String, Bytes>,
    uploads: Mutex<HashMap<String, Bytes>>,
    next_id: AtomicU64,
    scripts: Mutex<HashMap<String, (Vec<Step>, usize)>>,
}

/// The running server; stopped when dropped.
#[derive(Debug)]
pub struct BlobServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BlobServer {
    /// Serves `blobs` (by file name) at `/blobs/NAME` on a free loopback port.
    pub fn start(blobs: BTreeMap<String, Bytes>) -> Result<BlobServer> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding the blob server")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let shared = Arc::new(Shared { blobs, ..Shared::default() });
        let app = Router::new()
            .route("/blobs/{name}", get(blob))
            .route("/upload", post(create_upload))
            .route("/file/{upload}", post(upload_file))
            .route("/file/{upload}/{file}/{name}", get(uploaded))
            .route("/script/{*key}", get(scripted))
            .with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("blob-server".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return eprintln!("blob server: {e}"),
                };
                tokio::select! {
                    served = axum::serve(listener, app) => {
                        if let Err(e) = served {
                            eprintln!("blob server: {e}");
                        }
                    }
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here ends the connections still open.
        })?;
        Ok(BlobServer { addr, shared, stop: Some(stop), thread: Some(thread) })
    }

    /// Installs `steps` at `/script/{key}` with its request count at zero.
    pub fn script(&self, key: &str, steps: Vec<Step>) {
        self.shared.scripts.lock().expect("not poisoned").insert(key.to_owned(), (steps, 0));
    }

    /// How many requests `/script/{key}` has answered.
    pub fn requests(&self, key: &str) -> usize {
        self.shared.scripts.lock().expect("not poisoned").get(key).map_or(0, |s| s.1)
    }

    /// `127.0.0.1:PORT`, what replaces `{{BLOBS}}` in the vectors.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`, the host testees are allowed to download from.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn blob(State(shared): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    match shared.blobs.get(&name) {
        // A `Bytes` body has an exact size: hyper sends `Content-Length`, never chunks.
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /upload`: a new upload, any TTL granted as asked (the store keeps nothing past
/// the run).
async fn create_upload(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let ttl = asked.get("ttl").cloned().unwrap_or(json!(86_400));
    axum::Json(json!({"id": format!("u{n}"), "uploadToken": format!("t{n}"), "ttl": ttl})).into_response()
}

/// `POST /file/{uploadId}`: the multipart field `file`, kept in memory.
async fn upload_file(
    State(shared): State<Arc<Shared>>,
    Path(upload): Path<String>,
    mut form: Multipart,
) -> Response {
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("blob").to_owned();
        let Ok(bytes) = field.bytes().await else { break };
        let file = format!("f{}", shared.next_id.fetch_add(1, Ordering::Relaxed));
        shared.uploads.lock().expect("not poisoned").insert(format!("{upload}/{file}"), bytes);
        return axum::Json(json!({"id": file, "fileName": name})).into_response();
    }
    (StatusCode::BAD_REQUEST, "a multipart field `file` is needed").into_response()
}

/// `GET /file/{uploadId}/{fileId}/{name}`.
async fn uploaded(
    State(shared): State<Arc<Shared>>,
    Path((upload, file, _name)): Path<(String, String, String)>,
) -> Response {
    match shared.uploads.lock().expect("not poisoned").get(&format!("{upload}/{file}")) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `GET /script/{key}`: the next step of the script, counted.
async fn scripted(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Response {
    let step = {
        let mut scripts = shared.scripts.lock().expect("not poisoned");
        let Some((steps, count)) = scripts.get_mut(&key) else {
            return StatusCode::NOT_FOUND.into_response();
        };
        *count += 1;
        steps.get(*count - 1).or(steps.last()).cloned().unwrap_or_default()
    };
    let status = StatusCode::from_u16(step.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let full = step.body.len();
    let body = match step.truncate {
        None => Body::from(step.body),
        Some(n) => {
            let head = step.body.slice(..n.min(full));
            let cut = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut off by the script");
            Body::from_stream(futures::stream::iter([Ok(head), Err(cut)]))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if step.truncate.is_some() {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full));
    }
    for (k, v) in &step.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::try_from(v.as_str())) {
            headers.insert(k, v);
        }
    }
    response
}

impl Drop for BlobServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    /// One raw HTTP/1.1 request with `Connection: close`; the whole response.
    fn get(host: &str, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(host).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    /// What the link vectors need: the bytes with their length (a 300 000-byte blob, not
    /// chunked: the MicroPython client refuses chunked bodies), and 404 for a missing blob.
    #[test]
    fn serves_blobs_with_their_length_and_404_otherwise() {
        let blobs = BTreeMap::from([
            ("note.txt".to_owned(), Bytes::from_static(b"hello")),
            ("big.bin".to_owned(), Bytes::from(vec![7u8; 300_000])),
        ]);
        let server = BlobServer::start(blobs).unwrap();
        let host = server.host();
        let ok = get(&host, "/blobs/note.txt");
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.to_ascii_lowercase().contains("content-length: 5\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nhello"), "{ok}");
        let big = get(&host, "/blobs/big.bin");
        assert!(big.to_ascii_lowercase().contains("content-length: 300000\r\n"), "{}", &big[..200]);
        assert!(!big.to_ascii_lowercase().contains("transfer-encoding"));
        for missing in ["/blobs/missing.bin", "/other", "/blobs/"] {
            let r = get(&host, missing);
            assert!(r.starts_with("HTTP/1.1 404"), "{missing}: {r}");
        }
        assert_eq!(server.url(), format!("http://{host}"));
        drop(server);
        assert!(std::net::TcpStream::connect(&host).is_err(), "stopped when dropped");
    }
}
