//! Heap allocations per `smartsend` and per `smartreceive` of the benchmark's 1 KB
//! dictionary envelope (no network: `no_publish`, then the JSON bytes), counted by dhat's
//! testing allocator. A deterministic budget instead of a timing: a change that allocates
//! more on the hot path fails here, and lowering the budgets records progress.

use natsbridge::serde_json::json;
use natsbridge::{Payload, ReceiveOptions, SendOptions, smartreceive_bytes, smartsend};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Heap blocks per call, measured when the budget was set, plus a little room for
/// dependency updates. 2026-11-30: 71 and 46; then 51 and 37 with one serialization per
/// inline envelope, sonic-rs and the compiled patterns. 2026-12-07: 40 and 38 with small
/// payloads serialized in place (no splice) and the strict check in the typed parse.
const SEND_BUDGET: u64 = 43;
const RECEIVE_BUDGET: u64 = 40;

const CALLS: u64 = 200;

#[test]
fn allocations_per_envelope_stay_within_budget() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let rt = natsbridge::tokio::runtime::Builder::new_current_thread().build().unwrap();
    // As the benchmarks build it: numbers until the JSON reaches 1 KB.
    let mut values: Vec<u32> = Vec::new();
    while json!({"kind": "health", "values": values}).to_string().len() < 1024 {
        values.push(values.len() as u32 * 7919 % 1_000_000);
    }
    let dict = json!({"kind": "health", "values": values});
    let send = SendOptions::default().no_publish().sender_name("budget");
    let receive = ReceiveOptions::default();
    let envelope = rt.block_on(async {
        // Warm up: lazily built statics (validators, regexes, the HTTP client) are not per call.
        let mut json = String::new();
        for _ in 0..20 {
            json = smartsend("budget", [("d", Payload::Dictionary(dict.clone()))], &send).await.unwrap().json;
            smartreceive_bytes(json.as_bytes(), None, &receive).await.unwrap();
        }
        json
    });

    let blocks = || dhat::HeapStats::get().total_blocks;
    let payloads: Vec<_> = (0..CALLS).map(|_| [("d", Payload::Dictionary(dict.clone()))]).collect();
    let before = blocks();
    rt.block_on(async {
        for p in payloads {
            smartsend("budget", p, &send).await.unwrap();
        }
    });
    let per_send = (blocks() - before) / CALLS;

    let before = blocks();
    rt.block_on(async {
        for _ in 0..CALLS {
            smartreceive_bytes(envelope.as_bytes(), None, &receive).await.unwrap();
        }
    });
    let per_receive = (blocks() - before) / CALLS;

    eprintln!("heap blocks per call: smartsend {per_send}, smartreceive {per_receive}");
    assert!(per_send <= SEND_BUDGET, "smartsend allocates {per_send} blocks, budget {SEND_BUDGET}");
    assert!(
        per_receive <= RECEIVE_BUDGET,
        "smartreceive allocates {per_receive} blocks, budget {RECEIVE_BUDGET}"
    );
}
