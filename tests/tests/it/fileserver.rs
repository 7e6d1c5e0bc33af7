//! The embedded file server treated as a public-facing service: hostile names and ids,
//! oversize bodies, tokens, guessing, load, expiry, and one-shot files that survive a
//! broken download.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use natsbridge::blob::{BlobStore, PlikStore, PutRequest};
use natsbridge::fileserver::{FileServer, FileServerConfig};
use serde_json::{Value, json};
use sha2::Digest as _;

async fn start(config: FileServerConfig) -> (FileServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = FileServer::start(FileServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dir: Some(dir.path().to_path_buf()),
        ..config
    })
    .await
    .unwrap();
    (server, dir)
}

/// The runtime's client: rustls with ring, redirects not followed.
fn http() -> reqwest::Client {
    natsbridge::fetch::http_client()
}

/// Every regular file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out
}

/// Deterministic bytes that differ per `seed`.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

async fn create_upload(server: &FileServer, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = http().post(format!("{}/upload", server.url())).json(&json!({"oneShot": false}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn add_file(
    server: &FileServer,
    upload: &str,
    token: &str,
    name: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(body).file_name(name.to_owned()));
    http()
        .post(format!("{}/file/{upload}", server.url()))
        .header("X-UploadToken", token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Files under `sandbox` that are not id-named files inside `server_dir`, and files
/// anywhere under `sandbox` or the system temp directory whose name carries `marker`.
fn escaped(sandbox: &Path, server_dir: &Path, marker: &str) -> Vec<std::path::PathBuf> {
    let mut bad: Vec<_> = files_under(sandbox)
        .into_iter()
        .filter(|f| match f.strip_prefix(server_dir) {
            Ok(rel) => !rel.components().all(|c| c.as_os_str().to_str().is_some_and(|s| s.len() == 32)),
            Err(_) => true,
        })
        .collect();
    for tmp in [std::env::temp_dir(), std::path::PathBuf::from("/tmp")] {
        let entries = std::fs::read_dir(tmp).into_iter().flatten().flatten().map(|e| e.path());
        bad.extend(
            entries.filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(marker))),
        );
    }
    bad.sort();
    bad.dedup();
    bad
}

#[tokio::test]
async fn hostile_names_and_ids_never_reach_the_filesystem() {
    // The server spools into sandbox/server; every relative traversal lands in the sandbox
    // and every absolute name points into it, so one walk of the sandbox sees any escape.
    let sandbox = tempfile::tempdir().unwrap();
    let server_dir = sandbox.path().join("server");
    let server = FileServer::start(FileServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        dir: Some(server_dir.clone()),
        ..Default::default()
    })
    .await
    .unwrap();
    let marker = format!("natsbridge-evil-{}", std::process::id());
    let sandbox_abs = sandbox.path().display().to_string();
    // The check can fail: a file outside the server's directory is reported.
    let planted = sandbox.path().join(format!("{marker}-planted"));
    std::fs::write(&planted, b"x").unwrap();
    assert_eq!(escaped(sandbox.path(), &server_dir, &marker), vec![planted.clone()]);
    std::fs::remove_file(&planted).unwrap();

    let up: Value = create_upload(&server, &[]).await.json().await.unwrap();
    let (upload, token) = (up["id"].as_str().unwrap(), up["uploadToken"].as_str().unwrap());
    let evil_names = [
        format!("../{marker}-1"),
        format!("../../{marker}-2"),
        format!("../../../../../../../../tmp/{marker}-3"),
        format!("..\\..\\{marker}-4"),
        format!("{sandbox_abs}/{marker}-5"),
        format!("/tmp/{marker}-6"),
        format!("a/../../{marker}-7"),
        format!("%2e%2e%2f{marker}-8"),
        format!("\0{marker}-9"),
    ];
    for name in &evil_names {
        let resp = add_file(&server, upload, token, name, name.as_bytes().to_vec()).await;
        if name.contains('\0') {
            assert_eq!(resp.status(), 400, "a NUL in the part header is malformed multipart");
            continue;
        }
        assert!(resp.status().is_success(), "{name}: {}", resp.status());
        let v: Value = resp.json().await.unwrap();
        let file_id = v["id"].as_str().unwrap();
        assert!(file_id.len() == 32 && file_id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    assert!(!files_under(&server_dir).is_empty(), "the uploads were stored");
    assert_eq!(escaped(sandbox.path(), &server_dir, &marker), Vec::<std::path::PathBuf>::new());
    // Traversal and malformed ids in URLs: 404, never a file from elsewhere.
    for path in [
        "/file/../../etc/passwd",
        "/file/%2e%2e/%2e%2e/passwd",
        &format!("/file/{upload}/..%2F..%2F..%2Fetc%2Fpasswd/passwd"),
        &format!("/file/{upload}/{}/x", "0".repeat(32)),
        &format!("/file/..%2F{upload}/{}/x", "0".repeat(32)),
        "/file/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ/ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ/x",
    ] {
        let resp = http().get(format!("{}{path}", server.url())).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert!(!resp.text().await.unwrap().contains("root:"), "{path}");
    }
}

#[tokio::test]
async fn oversize_bodies_are_refused_and_leave_nothing_behind() {
    let (server, dir) = start(FileServerConfig { max_bytes: 100_000, ..Default::default() }).await;
    let up: Value = create_upload(&server, &[]).await.json().await.unwrap();
    let (upload, token) = (up["id"].as_str().unwrap(), up["uploadToken"].as_str().unwrap());
    let resp = add_file(&server, upload, token, "big.bin", vec![7u8; 100_001]).await;
    assert_eq!(resp.status(), 413);
    assert!(files_under(dir.path()).is_empty(), "a refused upload left a file");
    let resp = add_file(&server, upload, token, "ok.bin", vec![7u8; 100_000]).await;
    assert!(resp.status().is_success());
    // The parameters endpoint takes a small JSON object, not a stream of megabytes.
    let resp = http()
        .post(format!("{}/upload", server.url()))
        .header("content-type", "application/json")
        .body(vec![b' '; 1 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let (server, _dir) =
        start(FileServerConfig { token: Some("s3cret-token".into()), ..Default::default() }).await;
    for headers in [&[][..], &[("X-PlikToken", "wrong")], &[("Authorization", "Bearer s3cret-tokeN")]] {
        assert_eq!(create_upload(&server, headers).await.status(), 401, "{headers:?}");
    }
    let a: Value = create_upload(&server, &[("X-PlikToken", "s3cret-token")]).await.json().await.unwrap();
    let b: Value =
        create_upload(&server, &[("Authorization", "Bearer s3cret-token")]).await.json().await.unwrap();
    let (a_id, a_token) = (a["id"].as_str().unwrap(), a["uploadToken"].as_str().unwrap());
    let b_token = b["uploadToken"].as_str().unwrap();
    // A file needs its own upload's token: none, a wrong one, and another upload's are refused.
    for token in ["", "0123456789abcdef0123456789abcdef", b_token] {
        assert_eq!(add_file(&server, a_id, token, "f", b"x".to_vec()).await.status(), 403, "{token}");
    }
    assert!(add_file(&server, a_id, a_token, "f", b"x".to_vec()).await.status().is_success());
    // The runtime's client passes the token too.
    let store = PlikStore::new(server.url()).token("s3cret-token");
    let url = store
        .put(PutRequest {
            name: "t.bin".into(),
            bytes: Bytes::from_static(b"tok"),
            ttl: None,
            one_shot: false,
            correlation_id: "c".into(),
        })
        .await
        .unwrap();
    assert_eq!(&http().get(url).send().await.unwrap().bytes().await.unwrap()[..], b"tok");
    let err = PlikStore::new(server.url())
        .upload(PutRequest {
            name: "t.bin".into(),
            bytes: Bytes::from_static(b"x"),
            ttl: None,
            one_shot: false,
            correlation_id: "no-token".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.correlation_id(), Some("no-token"));
    assert_eq!(err.code(), &natsbridge::ErrorCode::UploadFailed, "{err}");
}

#[tokio::test]
async fn upload_and_file_ids_are_unguessable() {
    let (server, _dir) = start(FileServerConfig::default()).await;
    let mut ids = HashSet::new();
    let mut tokens = HashSet::new();
    for _ in 0..500 {
        let v: Value = create_upload(&server, &[]).await.json().await.unwrap();
        ids.insert(v["id"].as_str().unwrap().to_owned());
        tokens.insert(v["uploadToken"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 500, "upload ids repeat");
    assert_eq!(tokens.len(), 500, "upload tokens repeat");
    assert!(ids.is_disjoint(&tokens));
    // 128 random bits each: every id is 32 hex digits, and no 8-digit prefix repeats
    // (sequential or time-based ids would share them).
    assert!(ids.iter().all(|i| i.len() == 32 && i.bytes().all(|b| b.is_ascii_hexdigit())));
    let prefixes: HashSet<&str> = ids.iter().map(|i| &i[..8]).collect();
    assert_eq!(prefixes.len(), ids.len(), "ids share prefixes: not random");
    // Knowing an upload id gives nothing: adding needs its token, and a guessed file id 404s.
    let id = ids.iter().next().unwrap();
    for guess in 0..50u64 {
        let file = hex::encode(sha2::Sha256::digest(guess.to_le_bytes()))[..32].to_owned();
        let resp = http().get(format!("{}/file/{id}/{file}/file", server.url())).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
}

#[tokio::test]
async fn uploads_are_capped() {
    let (server, _dir) = start(FileServerConfig { max_uploads: 3, ..Default::default() }).await;
    for _ in 0..3 {
        assert!(create_upload(&server, &[]).await.status().is_success());
    }
    assert_eq!(create_upload(&server, &[]).await.status(), 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_lose_and_corrupt_nothing() {
    const CLIENTS: u64 = 200;
    let (server, dir) = start(FileServerConfig::default()).await;
    let store = Arc::new(PlikStore::new(server.url()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                // 16 KB to ~1.2 MB, every client its own bytes.
                let body = bytes(i, 16_384 + (i as usize * 6_007) % 1_200_000);
                let url = store
                    .put(PutRequest {
                        name: format!("client-{i}.bin"),
                        bytes: Bytes::from(body.clone()),
                        ttl: None,
                        one_shot: false,
                        correlation_id: format!("load-{i}"),
                    })
                    .await
                    .expect("upload under load");
                let got = natsbridge::fetch_with_backoff(
                    &natsbridge::fetch::http_client(),
                    &url,
                    Some(body.len() as u64),
                    &Default::default(),
                    "load",
                )
                .await
                .expect("download under load");
                assert_eq!(sha2::Sha256::digest(got.as_slice()), sha2::Sha256::digest(&body), "client {i}");
                body.len()
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client task");
    }
    let took = started.elapsed();
    println!("{CLIENTS} clients moved {total} bytes up and down in {took:?}");
    assert!(took < Duration::from_secs(60), "load took {took:?}");
    assert_eq!(files_under(dir.path()).len(), CLIENTS as usize, "files lost or left over");
}

#[tokio::test]
async fn expired_uploads_are_deleted_from_disk() {
    let (server, dir) =
        start(FileServerConfig { ttl: Duration::from_millis(600), ..Default::default() }).await;
    let url = PlikStore::new(server.url())
        .put(PutRequest {
            name: "soon-gone.bin".into(),
            bytes: Bytes::from(vec![1u8; 5000]),
            ttl: None,
            one_shot: false,
            correlation_id: "ttl".into(),
        })
        .await
        .unwrap();
    assert_eq!(http().get(&url).send().await.unwrap().status(), 200);
    assert_eq!(files_under(dir.path()).len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(http().get(&url).send().await.unwrap().status(), 404, "served after its TTL");
    assert!(files_under(dir.path()).is_empty(), "the sweeper left the file on disk");
    let uploads = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(uploads, 0, "the upload directory is still there");
}

#[tokio::test]
async fn a_one_shot_file_survives_a_broken_download_and_goes_after_a_whole_one() {
    let (server, dir) = start(FileServerConfig::default()).await;
    // Larger than the loopback socket buffers can hold, so a reader that stops early
    // really leaves bytes unsent (a transfer the kernel already buffered whole counts as
    // handed over: HTTP has no receipt).
    let body = bytes(42, 64 << 20);
    let url = PlikStore::new(server.url())
        .put(PutRequest {
            name: "once.bin".into(),
            bytes: Bytes::from(body.clone()),
            ttl: None,
            one_shot: true,
            correlation_id: "once".into(),
        })
        .await
        .unwrap();
    // HEAD never consumes it.
    let head = http().head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    // Read a first chunk, then drop the connection.
    {
        let mut resp = http().get(&url).send().await.unwrap();
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(!first.is_empty() && first.len() < body.len());
    }
    // The server notices the abandoned transfer and releases the claim.
    let deadline = Instant::now() + Duration::from_secs(5);
    let got = loop {
        let resp = http().get(&url).send().await.unwrap();
        if resp.status() == 200 {
            break resp.bytes().await.unwrap();
        }
        assert!(Instant::now() < deadline, "the broken download consumed the one-shot file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(&got[..], &body[..]);
    assert_eq!(http().get(&url).send().await.unwrap().status(), 404, "one-shot served twice");
    assert!(files_under(dir.path()).is_empty(), "a consumed one-shot file stayed on disk");
}

/// A second GET right after a complete download, on another connection, never gets the
/// file again: the server consumes it as it hands over the last byte, not when hyper
/// later drops the body (that race once served a one-shot link twice in CI).
#[tokio::test]
async fn a_one_shot_file_is_gone_as_soon_as_it_was_read() {
    let (server, dir) = start(FileServerConfig::default()).await;
    let store = PlikStore::new(server.url());
    let (first, second) = (http(), http());
    for i in 0..40u64 {
        let body = bytes(i, 300_000 + i as usize);
        let url = store
            .put(PutRequest {
                name: format!("once-{i}.bin"),
                bytes: Bytes::from(body.clone()),
                ttl: None,
                one_shot: true,
                correlation_id: format!("once-{i}"),
            })
            .await
            .unwrap();
        let got = first.get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(&got[..], &body[..], "download {i}");
        let again = second.get(&url).send().await.unwrap().status();
        assert_eq!(again, 404, "one-shot file {i} served twice");
    }
    assert!(files_under(dir.path()).is_empty(), "a consumed one-shot file stayed on disk");
}

/// A page on an allowed origin may upload (preflight for the token header) and download,
/// and reads `Content-Length`; any other origin gets no CORS grant, and a server without
/// origins grants none.
#[tokio::test]
async fn cors_grants_the_configured_origins_only() {
    let page = "http://127.0.0.1:3999";
    let (server, _dir) =
        start(FileServerConfig { allow_origins: vec![format!("{page}/")], ..Default::default() }).await;
    let up: Value = create_upload(&server, &[]).await.json().await.unwrap();
    let (upload, token) = (up["id"].as_str().unwrap(), up["uploadToken"].as_str().unwrap());
    let preflight = |origin: &str| {
        http()
            .request(reqwest::Method::OPTIONS, format!("{}/file/{upload}", server.url()))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-uploadtoken")
            .send()
    };
    let granted = preflight(page).await.unwrap();
    let allow =
        |r: &reqwest::Response, h: &str| r.headers().get(h).map(|v| v.to_str().unwrap().to_lowercase());
    assert_eq!(allow(&granted, "access-control-allow-origin").as_deref(), Some(page));
    assert!(allow(&granted, "access-control-allow-headers").unwrap().contains("x-uploadtoken"));
    assert_eq!(allow(&preflight("http://evil.example").await.unwrap(), "access-control-allow-origin"), None);

    let added: Value = add_file(&server, upload, token, "a.bin", vec![1u8; 10]).await.json().await.unwrap();
    let url = format!("{}/file/{upload}/{}/a.bin", server.url(), added["id"].as_str().unwrap());
    let got = http().get(&url).header("Origin", page).send().await.unwrap();
    assert_eq!(allow(&got, "access-control-allow-origin").as_deref(), Some(page));
    assert!(allow(&got, "access-control-expose-headers").unwrap().contains("content-length"));
    // Never from a cache, and no read-ahead copy in a browser's fetch (dashboard/README.md).
    assert_eq!(allow(&got, "cache-control").as_deref(), Some("no-store"));
    let other = http().get(&url).header("Origin", "http://evil.example").send().await.unwrap();
    assert_eq!(allow(&other, "access-control-allow-origin"), None);

    let (plain, _dir) = start(FileServerConfig::default()).await;
    let resp = http().get(format!("{}/health", plain.url())).header("Origin", page).send().await.unwrap();
    assert_eq!(allow(&resp, "access-control-allow-origin"), None);
}

/// Slow-loris clients (headers a byte at a time), uploads that trickle their body and
/// connections that never send a thing cannot starve the server: header and idle
/// timeouts cut the first and last off, the connection cap bounds all of them, and a
/// normal upload and download still succeed within their deadline.
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_cannot_starve_the_server() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (server, _dir) = start(FileServerConfig {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        max_connections: 48,
        ..Default::default()
    })
    .await;
    let addr = server.addr();
    // 80 clients sending their headers a byte every 300 ms, for ever.
    let header_tricklers: Vec<_> = (0..80)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let started = Instant::now();
                for b in b"POST /upload HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
                    if s.write_all(&[*b]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    if started.elapsed() > Duration::from_secs(60) {
                        break;
                    }
                }
                started.elapsed()
            })
        })
        .collect();
    // 60 clients that connect and never send a byte.
    let silent: Vec<_> = (0..60)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let started = Instant::now();
                let mut buf = [0u8; 64];
                // The server closes: EOF, or a reset.
                let _ = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await;
                started.elapsed()
            })
        })
        .collect();
    // 8 uploads that send their headers, then a body byte a second (under the cap).
    let body_tricklers: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
                s.write_all(head.as_bytes()).await.unwrap();
                for _ in 0..8 {
                    if s.write_all(b" ").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A normal client meanwhile: a 1 MB upload and its download, within 15 s.
    let normal = async {
        let body = bytes(7, 1 << 20);
        let url = PlikStore::new(server.url())
            .put(PutRequest {
                name: "normal.bin".into(),
                bytes: Bytes::from(body.clone()),
                ttl: None,
                one_shot: false,
                correlation_id: "normal".into(),
            })
            .await
            .unwrap();
        let got = http().get(&url).send().await.unwrap().bytes().await.unwrap();
        assert_eq!(sha2::Sha256::digest(&got), sha2::Sha256::digest(&body));
    };
    let t = Instant::now();
    tokio::time::timeout(Duration::from_secs(15), normal).await.expect("the normal client was starved");
    eprintln!("normal upload + download under attack: {:?}", t.elapsed());

    // Every slow client is cut off: after the header timeout or the idle timeout, plus
    // its wait for a slot (140 clients through 40 free slots, about 2 s each: a few rounds).
    let mut held: Vec<Duration> = Vec::new();
    for h in header_tricklers.into_iter().chain(silent) {
        held.push(h.await.unwrap());
    }
    held.sort();
    let longest = held.last().copied().unwrap_or_default();
    assert!(longest < Duration::from_secs(30), "slow clients held connections up to {longest:?}: {held:?}");
    for h in body_tricklers {
        h.await.unwrap();
    }
}

/// The idle timeout counts bytes either way: a download read slowly but steadily for far
/// longer than the timeout completes, and one whose reader stops is cut off.
#[tokio::test(flavor = "multi_thread")]
async fn slow_readers_finish_and_stopped_readers_are_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (server, _dir) =
        start(FileServerConfig { idle_timeout: Duration::from_secs(1), ..Default::default() }).await;
    let body = bytes(11, 32 << 20);
    let url = PlikStore::new(server.url())
        .put(PutRequest {
            name: "slow.bin".into(),
            bytes: Bytes::from(body.clone()),
            ttl: None,
            one_shot: false,
            correlation_id: "slow".into(),
        })
        .await
        .unwrap();
    let path = url.strip_prefix(server.url()).unwrap().to_owned();
    let addr = server.addr();
    let get = |path: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
            .await
            .unwrap();
        s
    };

    // 32 MiB at about 8 MiB/s: four seconds against a one-second idle timeout.
    let mut s = get(path.clone()).await;
    let (started, mut got) = (Instant::now(), Vec::new());
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match s.read(&mut buf).await.unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let head = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(got.len() - head, body.len(), "a slow reader gets the whole file");
    assert!(started.elapsed() > Duration::from_secs(2), "the read took {:?}", started.elapsed());

    // A reader that stops: the server's writes stall and the connection is closed.
    let mut s = get(path).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut total = 0;
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(total < body.len(), "a stopped reader was still sent everything ({total} bytes)");
}
