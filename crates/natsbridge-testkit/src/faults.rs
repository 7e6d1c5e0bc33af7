//! A fault-injecting HTTP server, in process, on a free loopback port.
//!
//! It speaks just enough HTTP/1.1 to answer `GET /{name}`, straight on the socket, so it
//! can do what a well-behaved server library never would: announce one length and send
//! another, reset the connection mid-body, trickle bytes, or stall after the headers.
//! Each blob has a *script*: the n-th request for it gets the n-th [`Fault`], and the
//! last one repeats. Every request is recorded, so tests can count the attempts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What one request gets.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 200 with the whole blob.
    Serve,
    /// This status, an empty body, and `Retry-After: secs` when given.
    Status(u16, Option<u64>),
    /// Announces the whole length, sends only `keep` bytes, closes.
    Truncate(usize),
    /// Sends `after` bytes of the body, then resets the connection (TCP RST).
    Reset(usize),
    /// Sends `chunk` bytes every `every`.
    Trickle(usize, Duration),
    /// Sends the headers, then nothing, holding the connection open.
    Stall,
    /// 200, same length, different bytes (a store that returns the wrong object).
    Corrupt,
    /// 200 with a complete body `by` bytes shorter than the blob (a different file).
    Shorter(usize),
    /// The blob plus `extra` bytes, without `Content-Length` (body ends at close).
    Longer(usize),
    /// The blob plus `extra` bytes, and a `Content-Length` that says so.
    AnnounceLonger(usize),
    /// `302 Found` to this location.
    Redirect(String),
}

#[derive(Debug, Default)]
struct State {
    blobs: HashMap<String, (Vec<u8>, Vec<Fault>)>,
    requests: HashMap<String, Vec<Instant>>,
    sent: HashMap<String, u64>,
}

/// The running server; stops when dropped.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// Starts on a free loopback port.
    pub async fn start() -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        FaultServer { addr, state, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `/{name}` following `script`; returns the URL.
    pub fn blob(&self, name: &str, body: Vec<u8>, script: Vec<Fault>) -> String {
        assert!(!script.is_empty(), "a script needs at least one step");
        self.state.lock().expect("lock").blobs.insert(name.to_owned(), (body, script));
        format!("{}/{name}", self.base_url())
    }

    /// How many requests `/{name}` has had.
    pub fn requests(&self, name: &str) -> usize {
        self.state.lock().expect("lock").requests.get(name).map_or(0, Vec::len)
    }

    /// When each request for `/{name}` arrived.
    pub fn request_times(&self, name: &str) -> Vec<Instant> {
        self.state.lock().expect("lock").requests.get(name).cloned().unwrap_or_default()
    }

    /// Body bytes written for `/{name}`, over all requests.
    pub fn bytes_sent(&self, name: &str) -> u64 {
        self.state.lock().expect("lock").sent.get(name).copied().unwrap_or(0)
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    // One request per connection: enough for a client that retries on a new one.
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 << 10 {
            return;
        }
    }
    let line = String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let name = path.trim_start_matches('/').to_owned();
    let (body, fault) = {
        let mut st = state.lock().expect("lock");
        let times = st.requests.entry(name.clone()).or_default();
        times.push(Instant::now());
        let n = times.len() - 1;
        match st.blobs.get(&name) {
            Some((body, script)) => (body.clone(), script[n.min(script.len() - 1)].clone()),
            None => (Vec::new(), Fault::Status(404, None)),
        }
    };
    let count = |n: usize| {
        *state.lock().expect("lock").sent.entry(name.clone()).or_default() += n as u64;
    };
    let ok = |len: Option<usize>| match len {
        Some(len) => format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"),
        None => "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
    };
    let _ = match fault {
        Fault::Serve => write_all(&mut socket, &ok(Some(body.len())), &body, count).await,
        Fault::Status(code, retry_after) => {
            let extra = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
            let head =
                format!("HTTP/1.1 {code} Fault\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
            write_all(&mut socket, &head, &[], count).await
        }
        Fault::Truncate(keep) => {
            write_all(&mut socket, &ok(Some(body.len())), &body[..keep.min(body.len())], count).await
        }
        Fault::Reset(after) => {
            let _ =
                write_all(&mut socket, &ok(Some(body.len())), &body[..after.min(body.len())], count).await;
            // Linger 0 makes close send RST at once; the deprecation is about blocking on
            // drop with a non-zero linger, which cannot happen here.
            #[allow(deprecated)]
            let _ = socket.set_linger(Some(Duration::ZERO));
            drop(socket);
            return;
        }
        Fault::Trickle(chunk, every) => {
            let _ = socket.write_all(ok(Some(body.len())).as_bytes()).await;
            for piece in body.chunks(chunk.max(1)) {
                if socket.write_all(piece).await.is_err() {
                    return;
                }
                count(piece.len());
                tokio::time::sleep(every).await;
            }
            Ok(())
        }
        Fault::Stall => {
            let _ = socket.write_all(ok(Some(body.len())).as_bytes()).await;
            // Hold the connection until the client gives up and closes it.
            let _ = socket.read(&mut buf).await;
            return;
        }
        Fault::Corrupt => {
            let mut bad = body.clone();
            let mid = bad.len() / 2;
            if let Some(b) = bad.get_mut(mid) {
                *b ^= 0xff;
            }
            write_all(&mut socket, &ok(Some(bad.len())), &bad, count).await
        }
        Fault::Shorter(by) => {
            let short = &body[..body.len().saturating_sub(by)];
            write_all(&mut socket, &ok(Some(short.len())), short, count).await
        }
        Fault::Longer(extra) | Fault::AnnounceLonger(extra) => {
            let mut long = body.clone();
            long.resize(body.len() + extra, b'!');
            let announce = matches!(fault, Fault::AnnounceLonger(_)).then_some(long.len());
            write_all(&mut socket, &ok(announce), &long, count).await
        }
        Fault::Redirect(location) => {
            let head = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            write_all(&mut socket, &head, &[], count).await
        }
    };
    let _ = socket.shutdown().await;
}

async fn write_all(
    socket: &mut TcpStream,
    head: &str,
    body: &[u8],
    count: impl Fn(usize),
) -> std::io::Result<()> {
    socket.write_all(head.as_bytes()).await?;
    for piece in body.chunks(64 << 10) {
        socket.write_all(piece).await?;
        count(piece.len());
    }
    socket.flush().await
}
