//! A real S3 API server on loopback: `s3s-fs` (the s3s crate's file-system backend), run
//! in-process on a thread of its own, with SigV4 authentication and presigned-URL expiry
//! enforced, so a test that says "an expired link is refused" proves it. Objects are files
//! under `dir/bucket/`, which tests may tamper with. Stopped and deleted on drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use natsbridge::blob::{AmazonS3Builder, S3Store};
use tokio::sync::oneshot;

use crate::Error;

/// The access key the server accepts.
pub const ACCESS_KEY: &str = "NATSBRIDGETESTKEY";

/// The secret key the server accepts (tests check it never reaches a log).
pub const SECRET_KEY: &str = "natsbridge-test-secret-9f1c2e";

/// A running S3 API server with one bucket.
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    bucket: String,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server on a free loopback port with an empty `bucket`.
    pub fn start(bucket: &str) -> Result<S3Server, Error> {
        let dir = tempfile::Builder::new()
            .prefix("natsbridge-s3-")
            .tempdir()
            .map_err(|e| Error::new(format!("a temporary directory: {e}")))?;
        std::fs::create_dir_all(dir.path().join(bucket))
            .map_err(|e| Error::new(format!("the bucket directory: {e}")))?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| Error::new(format!("binding the S3 server: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::new(e.to_string()))?;
        let fs = s3s_fs::FileSystem::new(dir.path())
            .map_err(|e| Error::new(format!("the s3s-fs backend: {e:?}")))?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("s3s-fs".into())
            .spawn(move || serve(listener, fs, stopped))
            .map_err(|e| Error::new(format!("the S3 server thread: {e}")))?;
        Ok(S3Server { addr, bucket: bucket.to_owned(), dir, stop: Some(stop), thread: Some(thread) })
    }

    /// [`S3Server::start`] for tests: panics when it fails.
    #[track_caller]
    pub fn spawn(bucket: &str) -> S3Server {
        S3Server::start(bucket).unwrap_or_else(|e| panic!("{e}"))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`: what a receiver must allow links from.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A builder for this server: endpoint, bucket, region, the test credentials, plain HTTP.
    pub fn builder(&self) -> AmazonS3Builder {
        builder_for(&self.endpoint(), &self.bucket)
    }

    /// The runtime's S3 store on this server.
    pub fn store(&self) -> S3Store {
        S3Store::new(self.builder()).unwrap_or_else(|e| panic!("{}", e.report()))
    }

    /// Where the object behind a key lives on disk.
    pub fn object_path(&self, key: &str) -> PathBuf {
        self.dir.path().join(&self.bucket).join(key)
    }

    /// The object key a link points at (`http://host/bucket/KEY?signature`).
    pub fn key_of(&self, link: &str) -> String {
        let path = link.split('?').next().unwrap_or(link);
        let prefix = format!("{}/{}/", self.endpoint(), self.bucket);
        path.strip_prefix(&prefix).unwrap_or_else(|| panic!("{link} is not a link into {prefix}")).to_owned()
    }

    /// The server's root directory (one directory per bucket).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// A builder for a test kit S3 server at `endpoint` (from another process, e.g. a bench
/// worker): the bucket, region `us-east-1`, the test credentials, plain HTTP.
pub fn builder_for(endpoint: &str, bucket: &str) -> AmazonS3Builder {
    AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
}

fn serve(listener: std::net::TcpListener, fs: s3s_fs::FileSystem, stopped: oneshot::Receiver<()>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the S3 server");
    runtime.block_on(async move {
        let service = {
            let mut b = s3s::service::S3ServiceBuilder::new(fs);
            b.set_auth(s3s::auth::SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
            b.build()
        };
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let mut stopped = std::pin::pin!(stopped);
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = stopped.as_mut() => break,
            };
            let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    runtime.shutdown_background();
}

impl Drop for S3Server {
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
    use super::*;

    #[test]
    fn unsigned_requests_are_refused_and_the_server_cleans_up() {
        let server = S3Server::spawn("bucket");
        let dir = server.dir().to_owned();
        let mut s = std::net::TcpStream::connect(server.addr).expect("listening");
        use std::io::{Read as _, Write as _};
        write!(s, "GET /bucket/x HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.host()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
        let addr = server.addr;
        drop(server);
        assert!(!dir.exists(), "the objects are deleted");
        assert!(std::net::TcpStream::connect(addr).is_err(), "the server is gone");
    }
}
