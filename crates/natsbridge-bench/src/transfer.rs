//! Large tables over the link path, sender and receiver each in a process of its own.
//!
//! The baseline is what a hand-rolled bridge does with the same IPC bytes: upload them to
//! the embedded file server (reqwest, streamed from `Bytes`), publish the URL on plain
//! NATS, download into a presized buffer. The bridge side is `smartsend` of the table and
//! `smartreceive` of the envelope, so it also pays for writing the IPC stream, both
//! SHA-256 passes and the zero-copy decode. Time runs from the sender's first step after
//! building the table to the receiver holding the result (wall clock, same machine). A
//! third side, `raw-integrity`, is the baseline with what the contract asks of a link
//! written plainly: what bounds the first. The file server spools into memory (tmpfs) and
//! is emptied after every transfer, so the disk's writeback does not move the baseline.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt as _;
use natsbridge::blob::{BlobStore, FsStore, NatsObjectStore, PlikStore, S3Store};
use natsbridge::fetch::http_client;
use natsbridge::table::encode_table;
use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive, smartsend};
use natsbridge_testkit::KillOnDrop;
use natsbridge_testkit::process::{peak_rss, this_executable};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Error, Figure, Target, median};

/// How a table travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// Hand-rolled: IPC bytes uploaded with reqwest, URL on plain NATS.
    Raw,
    /// `Raw` with what the contract asks of a link payload, written plainly and timed: the
    /// IPC stream written, its SHA-256 computed beside the upload and sent with the URL;
    /// the receiver hashes each chunk as it lands, compares, and decodes the table.
    RawIntegrity,
    /// Hand-rolled on async-nats's own Object Store: IPC bytes `put`, the name on plain
    /// NATS, `get` read to the end.
    RawObjectStore,
    /// `smartsend` through the embedded file server.
    Http,
    /// `smartsend` through the JetStream Object Store.
    ObjectStore,
    /// `smartsend` through a local directory (`file://` links).
    Dir,
    /// `smartsend` through S3 (the test kit's s3s-fs server, presigned links).
    S3,
    /// Hand-rolled on `object_store`: IPC bytes uploaded in parts (`WriteMultipart`, the
    /// same part size), the key on plain NATS, `get` read to the end.
    RawS3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    Send,
    Receive,
}

/// Arguments of one worker process.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WorkerArgs {
    #[arg(long, value_enum)]
    role: Role,
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long)]
    nats: String,
    #[arg(long)]
    files: String,
    #[arg(long)]
    dir: PathBuf,
    /// The S3 endpoint (bucket `bench`).
    #[arg(long)]
    s3: String,
    #[arg(long)]
    subject: String,
    #[arg(long)]
    rows: usize,
}

fn now_ns() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos()
}

/// The worker: prints `{"ready": true}` once it can take part, then one JSON report.
pub(crate) async fn worker_main(args: WorkerArgs) -> Result<(), Error> {
    let client = natsbridge::connect(&args.nats).await?;
    let js = async_nats::jetstream::new(client.clone());
    match args.role {
        Role::Receive => {
            let mut sub = client.subscribe(args.subject.clone()).await?;
            natsbridge::transport::subscriptions_registered(&client).await?;
            println!("{}", json!({"ready": true}));
            // A sender that never delivers fails the run instead of hanging it.
            let msg = tokio::time::timeout(Duration::from_secs(120), sub.next())
                .await
                .map_err(|_| "the receiver got nothing within 120 s")?
                .ok_or("subscription closed")?;
            let (bytes, rows, zero_copy) = if args.mode == Mode::Raw {
                let url = std::str::from_utf8(&msg.payload)?;
                let (bytes, _) = raw_download(url, false).await?;
                (std::hint::black_box(bytes).len(), 0, false)
            } else if args.mode == Mode::RawIntegrity {
                let text = std::str::from_utf8(&msg.payload)?;
                let (url, declared) = text.split_once(' ').ok_or("no SHA-256 beside the URL")?;
                let (bytes, sha256) = raw_download(url, true).await?;
                let sha256 = sha256.unwrap_or_default();
                if sha256 != declared {
                    return Err(format!("SHA-256 {sha256}, the sender declared {declared}").into());
                }
                let bytes = natsbridge::arrow_buffer::Buffer::from_vec(bytes);
                let range = bytes.as_slice().as_ptr_range();
                let table = natsbridge::table::decode_table(
                    bytes.clone(),
                    natsbridge::table::TableLimits::default(),
                )?;
                (bytes.len(), table.num_rows(), zero_copy(&table, range))
            } else if args.mode == Mode::RawS3 {
                use natsbridge::object_store::ObjectStoreExt as _;
                let s3 = raw_s3(&args.s3)?;
                let key = natsbridge::object_store::path::Path::from(std::str::from_utf8(&msg.payload)?);
                let bytes = s3.get(&key).await?.bytes().await?;
                (std::hint::black_box(bytes).len(), 0, false)
            } else if args.mode == Mode::RawObjectStore {
                use tokio::io::AsyncReadExt as _;
                let store = js.get_object_store(RAW_BUCKET).await?;
                let mut object = store.get(std::str::from_utf8(&msg.payload)?).await?;
                let mut buf = Vec::with_capacity(object.info().size);
                object.read_to_end(&mut buf).await?;
                (std::hint::black_box(buf).len(), 0, false)
            } else {
                let options = ReceiveOptions::default()
                    .allow_host(&args.files)
                    .allow_host(&args.s3)
                    .allow_dir(&args.dir)
                    .jetstream(js);
                let received = smartreceive(&msg, &options).await?;
                let p = &received.payloads[0];
                let Payload::ArrowTable(t) = &p.data else { return Err("not a table".into()) };
                (p.bytes().len(), t.num_rows(), zero_copy(t, p.bytes().as_ptr_range()))
            };
            let done = now_ns();
            println!(
                "{}",
                json!({"done_ns": done.to_string(), "bytes": bytes, "rows": rows, "zero_copy": zero_copy, "peak_rss": peak_rss()})
            );
        }
        Role::Send => {
            let table = natsbridge_testkit::data::table(args.rows, || {});
            let (start, bytes) = if args.mode == Mode::Raw {
                let ipc = bytes::Bytes::from(encode_table(&table)?);
                drop(table);
                let start = now_ns();
                let url = raw_upload(&args.files, ipc.clone()).await?;
                client.publish(args.subject.clone(), url.into()).await?;
                client.flush().await?;
                (start, ipc.len() as u64)
            } else if args.mode == Mode::RawIntegrity {
                let start = now_ns();
                let ipc = bytes::Bytes::from(encode_table(&table)?);
                drop(table);
                let hashing = {
                    let ipc = ipc.clone();
                    tokio::task::spawn_blocking(move || natsbridge::wire::sha256_hex(&ipc))
                };
                let url = raw_upload(&args.files, ipc.clone()).await?;
                let sha256 = hashing.await?;
                client.publish(args.subject.clone(), format!("{url} {sha256}").into()).await?;
                client.flush().await?;
                (start, ipc.len() as u64)
            } else if args.mode == Mode::RawS3 {
                use natsbridge::object_store::ObjectStoreExt as _;
                let ipc = bytes::Bytes::from(encode_table(&table)?);
                drop(table);
                let s3 = raw_s3(&args.s3)?;
                let start = now_ns();
                let key = natsbridge::object_store::path::Path::from(format!("raw-{start}"));
                let mut upload = natsbridge::object_store::WriteMultipart::new_with_chunk_size(
                    s3.put_multipart(&key).await?,
                    natsbridge::blob::S3_PART_SIZE,
                );
                upload.put(ipc.clone());
                upload.finish().await?;
                client.publish(args.subject.clone(), key.to_string().into()).await?;
                client.flush().await?;
                (start, ipc.len() as u64)
            } else if args.mode == Mode::RawObjectStore {
                let ipc = encode_table(&table)?;
                drop(table);
                let store = match js.get_object_store(RAW_BUCKET).await {
                    Ok(store) => store,
                    Err(_) => {
                        js.create_object_store(async_nats::jetstream::object_store::Config {
                            bucket: RAW_BUCKET.into(),
                            max_age: Duration::from_secs(3600),
                            storage: async_nats::jetstream::stream::StorageType::File,
                            ..Default::default()
                        })
                        .await?
                    }
                };
                let start = now_ns();
                let name = format!("table-{start}");
                store.put(name.as_str(), &mut ipc.as_slice()).await?;
                client.publish(args.subject.clone(), name.into()).await?;
                client.flush().await?;
                (start, ipc.len() as u64)
            } else {
                let store: std::sync::Arc<dyn BlobStore> = match args.mode {
                    Mode::Http | Mode::Raw | Mode::RawIntegrity | Mode::RawObjectStore | Mode::RawS3 => {
                        std::sync::Arc::new(PlikStore::new(&args.files))
                    }
                    Mode::ObjectStore => std::sync::Arc::new(
                        NatsObjectStore::open(&js, "bench", Duration::from_secs(3600)).await?,
                    ),
                    Mode::Dir => std::sync::Arc::new(FsStore::new(&args.dir)?),
                    Mode::S3 => std::sync::Arc::new(S3Store::new(natsbridge_testkit::s3::builder_for(
                        &args.s3, S3_BUCKET,
                    ))?),
                };
                let options = SendOptions::default().connection(&client).blob_store(store);
                let start = now_ns();
                let envelope = smartsend(&args.subject, [("table", Payload::ArrowTable(table))], &options)
                    .await?
                    .envelope;
                // The worker exits next: the envelope must be on the wire first.
                client.flush().await?;
                (start, envelope.payloads[0].size)
            };
            println!("{}", json!({"start_ns": start.to_string(), "bytes": bytes, "peak_rss": peak_rss()}));
        }
    }
    Ok(())
}

/// Whether every column buffer of `table` lies in `range` (the received bytes).
fn zero_copy(table: &natsbridge::Table, range: std::ops::Range<*const u8>) -> bool {
    table.batches.iter().all(|b| {
        b.columns().iter().all(|c| c.to_data().buffers().iter().all(|x| range.contains(&x.as_ptr())))
    })
}

/// `object_store`'s own S3 client on the bench's server (reqwest is built without a TLS
/// provider: ring's is installed first, as `S3Store` does).
fn raw_s3(endpoint: &str) -> Result<natsbridge::object_store::aws::AmazonS3, Error> {
    natsbridge::fetch::install_crypto_provider();
    Ok(natsbridge_testkit::s3::builder_for(endpoint, S3_BUCKET).build()?)
}

/// The bucket of the S3 store's runs.
pub(crate) const S3_BUCKET: &str = "bench";

/// The bucket of the hand-rolled Object Store baseline.
const RAW_BUCKET: &str = "bench-raw";

/// The hand-rolled upload: Plik's two requests, the body streamed from `Bytes`.
async fn raw_upload(files: &str, ipc: bytes::Bytes) -> Result<String, Error> {
    let http = http_client();
    let created: Value = http.post(format!("{files}/upload")).json(&json!({})).send().await?.json().await?;
    let (id, token) =
        (created["id"].as_str().ok_or("no id")?, created["uploadToken"].as_str().ok_or("no token")?);
    let len = ipc.len() as u64;
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::from(ipc), len).file_name("table.arrow");
    let file: Value = http
        .post(format!("{files}/file/{id}"))
        .header("X-UploadToken", token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(format!("{files}/file/{id}/{}/table.arrow", file["id"].as_str().ok_or("no file id")?))
}

/// The hand-rolled download: streamed into a buffer presized from Content-Length; with
/// `hash`, each chunk hashed as it lands (the integrity floor), the SHA-256 in hex beside.
async fn raw_download(url: &str, hash: bool) -> Result<(Vec<u8>, Option<String>), Error> {
    use sha2::Digest as _;
    let resp = http_client().get(url).send().await?.error_for_status()?;
    let mut buf = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
    let mut hasher = hash.then(sha2::Sha256::new);
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if let Some(hasher) = &mut hasher {
            hasher.update(&chunk);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf, hasher.map(|h| hex::encode(h.finalize()))))
}

/// One transfer: MB/s end to end, sender and receiver peak RSS, IPC bytes.
#[derive(Debug, Clone, Copy)]
struct Transfer {
    mb_per_s: f64,
    sender_rss: f64,
    receiver_rss: f64,
    bytes: f64,
}

fn spawn_worker(ctx: &Ctx, role: &str, mode: &str, subject: &str, rows: usize) -> Result<KillOnDrop, Error> {
    Ok(KillOnDrop::spawn(
        this_executable()?
            .args([
                "worker",
                "--role",
                role,
                "--mode",
                mode,
                "--nats",
                &ctx.nats_url,
                "--files",
                &ctx.files_url,
            ])
            .arg("--dir")
            .arg(ctx.scratch.join("blobs"))
            .args(["--s3", &ctx.s3_endpoint])
            .args(["--subject", subject, "--rows", &rows.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit()),
    )?)
}

fn last_json(output: &std::process::Output, who: &str) -> Result<Value, Error> {
    if !output.status.success() {
        return Err(format!("{who} failed ({})", output.status).into());
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().ok_or_else(|| format!("{who} printed nothing"))?;
    Ok(serde_json::from_str(line)?)
}

async fn transfer_once(ctx: &Ctx, mode: &str, rows: usize) -> Result<Transfer, Error> {
    let subject = format!("bench.table.{mode}.{}", now_ns());
    let mut receiver = spawn_worker(ctx, "receive", mode, &subject, rows)?;
    let mut ready = String::new();
    BufReader::new(receiver.0.stdout.as_mut().ok_or("receiver stdout")?).read_line(&mut ready)?;
    if !ready.contains("ready") {
        return Err(format!("the {mode} receiver did not start: {ready:?}").into());
    }
    let mut sender = spawn_worker(ctx, "send", mode, &subject, rows)?;
    let (sent, got) =
        tokio::task::spawn_blocking(move || (sender.wait_with_output(), receiver.wait_with_output())).await?;
    let (sent, got) = (last_json(&sent?, "sender")?, last_json(&got?, "receiver")?);
    let start: u128 = sent["start_ns"].as_str().unwrap_or_default().parse()?;
    let done: u128 = got["done_ns"].as_str().unwrap_or_default().parse()?;
    let bytes = sent["bytes"].as_u64().unwrap_or(0);
    if got["bytes"].as_u64() != Some(bytes) {
        return Err(format!("{mode}: sent {bytes} bytes, received {}", got["bytes"]).into());
    }
    let decodes = !mode.starts_with("raw") || mode == "raw-integrity";
    if decodes && (got["rows"].as_u64() != Some(rows as u64) || got["zero_copy"] != true) {
        return Err(format!(
            "{mode}: received {} rows (zero-copy {}), expected {rows}",
            got["rows"], got["zero_copy"]
        )
        .into());
    }
    // The uploads are done with: the next transfer starts with the spool's memory free.
    for upload in std::fs::read_dir(&ctx.files_spool)? {
        let _ = std::fs::remove_dir_all(upload?.path());
    }
    let secs = done.saturating_sub(start) as f64 / 1e9;
    Ok(Transfer {
        mb_per_s: bytes as f64 / 1e6 / secs,
        sender_rss: sent["peak_rss"].as_f64().unwrap_or(f64::NAN) / 1e6,
        receiver_rss: got["peak_rss"].as_f64().unwrap_or(f64::NAN) / 1e6,
        bytes: bytes as f64 / 1e6,
    })
}

fn column(runs: &[Transfer], f: impl Fn(&Transfer) -> f64) -> Vec<f64> {
    runs.iter().map(f).collect()
}

/// The link path at two table sizes: throughput and both processes' peak memory.
pub(crate) async fn run_tables(ctx: &Ctx) -> Result<Vec<Figure>, Error> {
    let mut figures = Vec::new();
    let largest = ctx.sizes.tables.iter().map(|t| t.1).max().unwrap_or(0);
    for (label, rows) in ctx.sizes.tables {
        let (mut raw, mut integrity, mut bridge) = (Vec::new(), Vec::new(), Vec::new());
        for rep in 0..ctx.sizes.table_reps {
            // Rotated, so no side always gets the warmer machine.
            let modes = ["raw", "raw-integrity", "http"];
            for k in 0..modes.len() {
                let mode = modes[(rep + k) % modes.len()];
                let t = transfer_once(ctx, mode, rows).await?;
                match mode {
                    "raw" => raw.push(t),
                    "raw-integrity" => integrity.push(t),
                    _ => bridge.push(t),
                }
            }
        }
        let [raw_mb, integrity_mb, bridge_mb] =
            [&raw, &integrity, &bridge].map(|t| column(t, |t| t.mb_per_s));
        const INTEGRITY: &str = "raw HTTP + the IPC stream written and SHA-256 each side, timed";
        figures.extend([
            Figure::rate(
                "link",
                format!("Arrow table {label}, link path end to end"),
                "MB/s",
                "raw HTTP upload + download",
                raw_mb.clone(),
                bridge_mb.clone(),
            )
            .target(Target::MinRatio(0.8)),
            Figure::rate(
                "link",
                format!(
                    "Arrow table {label}, link path: raw HTTP with the contract's IPC stream and SHA-256 against raw (what bounds the first row)"
                ),
                "MB/s",
                "raw HTTP upload + download",
                raw_mb,
                integrity_mb.clone(),
            ),
            Figure::rate(
                "link",
                format!("Arrow table {label}, link path end to end, against raw HTTP with the IPC stream and SHA-256"),
                "MB/s",
                INTEGRITY,
                integrity_mb,
                bridge_mb,
            )
            .target(Target::MinRatio(0.8)),
        ]);
        let ipc = median(&column(&bridge, |t| t.bytes));
        for (who, pick) in [
            ("receiver", (|t: &Transfer| t.receiver_rss) as fn(&Transfer) -> f64),
            ("sender", |t| t.sender_rss),
        ] {
            let samples = column(&bridge, pick);
            figures.push(Figure {
                group: "link",
                name: format!(
                    "Arrow table {label}, {who} peak RSS (raw: {:.0} MB)",
                    median(&column(&raw, pick))
                ),
                unit: "MB",
                baseline_name: "IPC size",
                baseline: ipc,
                bridge: median(&samples),
                higher_is_better: false,
                // Against a few MB, a process's own baseline (~15 MB) dominates: judge the largest.
                target: (rows == largest).then_some(Target::MaxRatio(1.3)),
                baseline_samples: vec![ipc],
                bridge_samples: samples,
            });
        }
        eprintln!("  link: {label} done");
    }
    Ok(figures)
}

/// Every blob store on the same table, against the raw HTTP transfer.
pub(crate) async fn run_stores(ctx: &Ctx) -> Result<Vec<Figure>, Error> {
    let rows = ctx.sizes.store_rows;
    let modes = [
        ("embedded HTTP file server", "http"),
        ("JetStream Object Store", "object-store"),
        ("local directory", "dir"),
        ("S3 (s3s-fs, presigned links)", "s3"),
    ];
    let (mut raw, mut raw_os, mut raw_s3) = (Vec::new(), Vec::new(), Vec::new());
    let mut per_mode = vec![Vec::new(); modes.len()];
    for _ in 0..ctx.sizes.table_reps {
        raw.push(transfer_once(ctx, "raw", rows).await?.mb_per_s);
        raw_os.push(transfer_once(ctx, "raw-object-store", rows).await?.mb_per_s);
        raw_s3.push(transfer_once(ctx, "raw-s3", rows).await?.mb_per_s);
        for (i, (_, mode)) in modes.iter().enumerate() {
            per_mode[i].push(transfer_once(ctx, mode, rows).await?.mb_per_s);
        }
    }
    let label = format!("{:.0} MB", rows as f64 * 52.0 / 1e6);
    let mut figures: Vec<Figure> = modes
        .iter()
        .zip(&per_mode)
        .map(|((name, _), samples)| {
            let name = format!("blob store: {name}, {label} table");
            Figure::rate("stores", name, "MB/s", "raw HTTP upload + download", raw.clone(), samples.clone())
        })
        .collect();
    // The Object Store against itself: what async-nats's own put + get of the IPC bytes costs.
    let name =
        format!("blob store: JetStream Object Store, {label} table, against async-nats's Object Store");
    let baseline = "async-nats object store put + get";
    figures.push(
        Figure::rate("stores", name, "MB/s", baseline, raw_os, per_mode[1].clone())
            .target(Target::MinRatio(0.8)),
    );
    // S3 against object_store itself on the same server: what the bridge adds to the store.
    let name = format!("blob store: S3, {label} table, against object_store's own multipart put + get");
    figures.push(
        Figure::rate("stores", name, "MB/s", "object_store put + get", raw_s3, per_mode[3].clone())
            .target(Target::MinRatio(0.8)),
    );
    eprintln!("  stores: done");
    Ok(figures)
}
