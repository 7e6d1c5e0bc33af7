//! The HTTP server the link vectors point at (`http://{{BLOBS}}/blobs/NAME`): the vectors'
//! blobs from memory at `/blobs/NAME` (200 with `Content-Length`, or 404), on a free
//! 127.0.0.1 port, with axum on a Tokio runtime of its own thread, so the runner needs
//! neither Python nor an async caller.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::{Context as _, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

/// The running server; stopped when dropped.
#[derive(Debug)]
pub struct BlobServer {
    addr: SocketAddr,
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
        let app = Router::new().route("/blobs/{name}", get(blob)).with_state(Arc::new(blobs));
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
        Ok(BlobServer { addr, stop: Some(stop), thread: Some(thread) })
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

async fn blob(State(blobs): State<Arc<BTreeMap<String, Bytes>>>, Path(name): Path<String>) -> Response {
    match blobs.get(&name) {
        // A `Bytes` body has an exact size: hyper sends `Content-Length`, never chunks.
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
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
