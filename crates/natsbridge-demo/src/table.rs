//! Scenario 2, deep dive: a service builds a 10-million-row table (~520 MB as an Arrow
//! IPC stream) and sends it; a receiver in another process gets it over the link path
//! and decodes it without copying the columns.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;
use std::time::Instant;

use arrow_array::Int64Array;
use futures::StreamExt as _;
use natsbridge::{Payload, ReceiveOptions, SendOptions, Table, smartreceive, smartsend};
use natsbridge_testkit::KillOnDrop;
use natsbridge_testkit::data::BATCH_ROWS;
use serde_json::json;

use crate::ctx::{Ctx, Outcome};
use crate::measure;

const SUBJECT: &str = "demo.analysis.table";

/// The table, with a progress bar while it is built.
fn build(rows: usize) -> Table {
    let progress = measure::bar(rows.div_ceil(BATCH_ROWS) as u64, "scenario 2: building table");
    let table = natsbridge_testkit::data::table(rows, || progress.inc(1));
    progress.finish_and_clear();
    table
}

pub(crate) async fn run(ctx: &Ctx, rows: usize) -> Result<Outcome, Box<dyn std::error::Error>> {
    // The receiver runs in its own process so its memory can be measured alone.
    let mut child = KillOnDrop::spawn(
        natsbridge_testkit::process::this_executable()?
            .args([
                "table-receiver",
                "--server",
                &ctx.nats_url,
                "--subject",
                SUBJECT,
                "--allow-host",
                &ctx.files_url,
            ])
            .args(["--expect-rows", &rows.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )?;
    let mut ready = String::new();
    BufReader::new(child.0.stderr.take().ok_or("receiver stderr")?).read_line(&mut ready)?;
    if !ready.contains("subscribed") {
        return Err(format!("table receiver did not start: {ready}").into());
    }

    let table = build(rows);
    let client = natsbridge::connect(&ctx.nats_url).await?;
    let options =
        SendOptions::default().connection(&client).fileserver(&ctx.files_url).sender_name("analysis");
    let started = Instant::now();
    let sent_at = chrono::Utc::now();
    let envelope = smartsend(SUBJECT, [("results", Payload::ArrowTable(table))], &options).await?.envelope;
    let send_secs = started.elapsed().as_secs_f64();
    let ipc_bytes = envelope.payloads[0].size;
    let transport = envelope.payloads[0].transport.to_string();

    let output = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("table receiver said {:?}: {e}", String::from_utf8_lossy(&output.stdout)))?;
    let done: chrono::DateTime<chrono::Utc> = report["decoded_at"].as_str().unwrap_or_default().parse()?;
    let secs = (done - sent_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
    let ok = report["ok"] == true && transport == "link" && report["zero_copy"] == true;
    let rss = report["peak_rss"].as_u64().unwrap_or(0);
    Ok(Outcome {
        name: "2 deep dive (Arrow table)",
        ok,
        result: format!(
            "{} rows, {:.0} MB by {transport}, zero-copy: {}, checksum: {}",
            report["rows"],
            ipc_bytes as f64 / 1e6,
            report["zero_copy"],
            report["checksum_ok"]
        ),
        figure: format!(
            "{:.0} MB/s end to end ({:.2} s; send {:.2} s); receiver peak RSS {:.0} MB ({:.2}x IPC)",
            ipc_bytes as f64 / 1e6 / secs,
            secs,
            send_secs,
            rss as f64 / 1e6,
            rss as f64 / ipc_bytes.max(1) as f64
        ),
    })
}

/// The receiver process: one envelope, decoded zero-copy and verified; a JSON report.
pub(crate) async fn receiver_main(
    server: &str,
    subject: &str,
    allow_host: &str,
    expect_rows: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = natsbridge::connect(server).await?;
    let mut sub = client.subscribe(subject.to_owned()).await?;
    natsbridge::transport::subscriptions_registered(&client).await?;
    eprintln!("{}", json!({"subscribed": true}));
    let msg = sub.next().await.ok_or("subscription closed")?;
    let received = smartreceive(&msg, &ReceiveOptions::default().allow_host(allow_host)).await?;
    let decoded_at = chrono::Utc::now();
    let p = &received.payloads[0];
    let Payload::ArrowTable(t) = &p.data else { return Err("not a table".into()) };
    let range = p.bytes().as_ptr_range();
    let zero_copy = t.batches.iter().all(|b| {
        b.columns().iter().all(|c| c.to_data().buffers().iter().all(|buf| range.contains(&buf.as_ptr())))
    });
    let mut sum: i128 = 0;
    for b in &t.batches {
        let ids = b.column(0).as_any().downcast_ref::<Int64Array>().ok_or("id column")?;
        sum += ids.values().iter().map(|v| *v as i128).sum::<i128>();
    }
    let n = t.num_rows() as i128;
    let checksum_ok = sum == n * (n - 1) / 2;
    println!(
        "{}",
        json!({
            "ok": t.num_rows() == expect_rows && checksum_ok && zero_copy,
            "rows": t.num_rows(),
            "bytes": p.bytes().len(),
            "zero_copy": zero_copy,
            "checksum_ok": checksum_ok,
            "peak_rss": natsbridge_testkit::process::peak_rss(),
            "decoded_at": decoded_at.to_rfc3339(),
        })
    );
    Ok(())
}
