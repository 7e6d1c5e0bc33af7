//! The CPU one 1 KB dictionary envelope costs, without a network: a loop of `smartsend`
//! (not publishing) and one of `smartreceive`, for a profiler to look at.
//!
//! ```sh
//! cargo build --release -p natsbridge --example envelope_cpu
//! perf record -g target/release/examples/envelope_cpu 300000 send   # or recv, or both
//! target/release/examples/envelope_cpu 2000 both 400000              # a 400 KB binary
//! perf report --no-children
//! ```
//!
//! `cargo xtask bench` measures the same figures against its baselines; this is the
//! loop to profile when one of them moves.

use std::time::Instant;

use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive_bytes, smartsend};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), natsbridge::Error> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let mode = args.next().unwrap_or_else(|| "both".into());
    // `{"config":"xxx…"}`: 1024 bytes of JSON, as the benchmark sends; or, given a size,
    // that many bytes of binary (the benchmark's direct path is 400 000).
    let payload = match args.next().and_then(|a| a.parse::<usize>().ok()) {
        Some(n) => Payload::Binary((0..n).map(|i| (i * 7 % 251) as u8).collect::<Vec<u8>>().into()),
        None => Payload::Dictionary(serde_json::json!({ "config": "x".repeat(1024 - 13) })),
    };
    let options = SendOptions::default().no_publish();
    let receive = ReceiveOptions::default();
    let json = smartsend("bench.cpu", [("data", payload.clone())], &options).await?.json;
    if mode != "recv" {
        let t = Instant::now();
        for _ in 0..count {
            std::hint::black_box(smartsend("bench.cpu", [("data", payload.clone())], &options).await?);
        }
        println!("smartsend    {:.2} µs", t.elapsed().as_secs_f64() * 1e6 / count as f64);
    }
    if mode != "send" {
        let t = Instant::now();
        for _ in 0..count {
            std::hint::black_box(smartreceive_bytes(json.as_bytes(), None, &receive).await?);
        }
        println!(
            "smartreceive {:.2} µs ({} B of envelope JSON)",
            t.elapsed().as_secs_f64() * 1e6 / count as f64,
            json.len()
        );
    }
    Ok(())
}
