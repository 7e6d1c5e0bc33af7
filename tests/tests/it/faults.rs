//! What `smartreceive` does when the blob store misbehaves: for every fault the outcome
//! is the exact bytes, or a typed error with the right code and the correlation id, well
//! within the configured deadline. Never a hang, never wrong data accepted.
//!
//! The blob store is `natsbridge_testkit::faults::FaultServer`, which scripts each request.

use std::time::{Duration, Instant};

use natsbridge::fetch::FetchOptions;
use natsbridge::{ErrorCode, ReceiveOptions, smartreceive_bytes};
use natsbridge_testkit::faults::{Fault, FaultServer};
use serde_json::json;
use sha2::Digest as _;

const CID: &str = "3c8f5a2e-7b1d-4e6a-9f0c-2d4b6a8e1c30";
/// The deadline every case runs under; no case may take longer than this plus `SLACK`.
const DEADLINE: Duration = Duration::from_secs(3);
const SLACK: Duration = Duration::from_millis(500);

fn blob() -> Vec<u8> {
    (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()
}

/// An envelope with one link payload of `body` at `url`; `sha` adds `metadata.sha256`.
fn envelope(url: &str, body: &[u8], sha: bool) -> Vec<u8> {
    let metadata = if sha { json!({"sha256": hex::encode(sha2::Sha256::digest(body))}) } else { json!({}) };
    json!({
        "correlation_id": CID, "msg_id": "6a1f0e3b-9c2d-4e5f-8a7b-1c0d2e3f4a5b",
        "timestamp": "2026-11-23T10:00:00.000Z", "send_to": "faults", "msg_purpose": "event",
        "sender_name": "faults", "sender_id": "", "receiver_name": "", "receiver_id": "", "reply_to": "",
        "reply_to_msg_id": "",
        "payloads": [{"id": "0e9d8c7b-6a5f-4e3d-9c1b-0a9f8e7d6c5b", "dataname": "blob", "payload_type": "binary",
            "transport": "link", "encoding": "none", "size": body.len(), "data": url, "metadata": metadata}]
    })
    .to_string()
    .into_bytes()
}

fn options(server: &FaultServer) -> ReceiveOptions {
    ReceiveOptions::default().allow_host(&server.base_url()).fetch(fetch_options())
}

fn fetch_options() -> FetchOptions {
    FetchOptions {
        max_attempts: 5,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        deadline: DEADLINE,
        ..FetchOptions::default()
    }
}

/// Runs one scripted download and checks it ended in time.
async fn receive(
    script: Vec<Fault>,
) -> (FaultServer, Result<natsbridge::Received, natsbridge::Error>, Duration) {
    let server = FaultServer::start().await;
    let body = blob();
    let url = server.blob("blob", body.clone(), script);
    let started = Instant::now();
    let outcome = smartreceive_bytes(&envelope(&url, &body, true), None, &options(&server)).await;
    let took = started.elapsed();
    assert!(took < DEADLINE + SLACK, "took {took:?}, past the {DEADLINE:?} deadline");
    (server, outcome, took)
}

#[track_caller]
fn assert_exact(outcome: Result<natsbridge::Received, natsbridge::Error>) {
    let got = outcome.expect("the download recovers");
    assert_eq!(got.payloads[0].bytes(), &blob()[..], "bytes differ from the upload");
    assert_eq!(got.correlation_id(), CID);
}

#[track_caller]
fn assert_error(
    outcome: Result<natsbridge::Received, natsbridge::Error>,
    code: ErrorCode,
) -> natsbridge::Error {
    let err = outcome.expect_err("the fault must surface as an error");
    assert_eq!(err.code(), &code, "{err}");
    assert_eq!(err.correlation_id(), Some(CID), "{err}");
    assert_eq!(err.dataname(), Some("blob"), "{err}");
    err
}

#[tokio::test]
async fn service_unavailable_with_retry_after_is_waited_out() {
    let (server, outcome, took) = receive(vec![Fault::Status(503, Some(1)), Fault::Serve]).await;
    assert_exact(outcome);
    assert_eq!(server.requests("blob"), 2);
    let times = server.request_times("blob");
    assert!(times[1] - times[0] >= Duration::from_millis(990), "Retry-After: 1 was not honoured");
    assert!(took >= Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_fails_at_once() {
    let (server, outcome, took) = receive(vec![Fault::Status(503, Some(3600)), Fault::Serve]).await;
    // The deadline decides: TIMEOUT (profile ERROR_DEADLINE), as when it passes mid-attempt.
    let err = assert_error(outcome, ErrorCode::Timeout);
    assert!(err.to_string().contains("deadline"), "{err}");
    assert_eq!(server.requests("blob"), 1);
    assert!(took < Duration::from_millis(500), "it waited {took:?} for nothing");
}

#[tokio::test]
async fn too_many_requests_then_ok() {
    let (server, outcome, _) =
        receive(vec![Fault::Status(429, None), Fault::Status(429, None), Fault::Serve]).await;
    assert_exact(outcome);
    assert_eq!(server.requests("blob"), 3);
}

#[tokio::test]
async fn persistent_server_error_gives_up_after_the_attempts() {
    let (server, outcome, _) = receive(vec![Fault::Status(500, None)]).await;
    let err = assert_error(outcome, ErrorCode::DownloadFailed);
    assert!(err.to_string().contains("after 5 attempts"), "{err}");
    assert_eq!(server.requests("blob"), 5);
}

#[tokio::test]
async fn not_implemented_and_gone_are_not_retried() {
    for status in [501, 410, 403] {
        let (server, outcome, _) = receive(vec![Fault::Status(status, None), Fault::Serve]).await;
        assert_error(outcome, ErrorCode::DownloadFailed);
        assert_eq!(server.requests("blob"), 1, "HTTP {status} was retried");
    }
}

#[tokio::test]
async fn late_upload_404_then_200() {
    let (server, outcome, _) =
        receive(vec![Fault::Status(404, None), Fault::Status(404, None), Fault::Serve]).await;
    assert_exact(outcome);
    assert_eq!(server.requests("blob"), 3);
}

#[tokio::test]
async fn a_blob_that_never_appears_is_download_failed() {
    let (server, outcome, _) = receive(vec![Fault::Status(404, None)]).await;
    assert_error(outcome, ErrorCode::DownloadFailed);
    assert_eq!(server.requests("blob"), 5);
}

#[tokio::test]
async fn truncated_body_is_retried_never_accepted() {
    let (server, outcome, _) = receive(vec![Fault::Truncate(100_000), Fault::Serve]).await;
    assert_exact(outcome);
    assert_eq!(server.requests("blob"), 2);

    let (_, outcome, _) = receive(vec![Fault::Truncate(100_000)]).await;
    let err = assert_error(outcome, ErrorCode::DownloadFailed);
    assert!(err.to_string().contains("after 5 attempts"), "{err}");
}

#[tokio::test]
async fn connection_reset_mid_body_is_retried() {
    let (server, outcome, _) = receive(vec![Fault::Reset(150_000), Fault::Reset(10), Fault::Serve]).await;
    assert_exact(outcome);
    assert_eq!(server.requests("blob"), 3);
}

#[tokio::test]
async fn trickling_server_hits_the_deadline() {
    // 300 KB at 1 KB per 10 ms would take 3 s of the 3 s deadline, and more with retries.
    let (server, outcome, took) = receive(vec![Fault::Trickle(1024, Duration::from_millis(10))]).await;
    assert_error(outcome, ErrorCode::Timeout);
    assert!(took >= DEADLINE - Duration::from_millis(50), "gave up early: {took:?}");
    assert!(server.bytes_sent("blob") < blob().len() as u64);
}

#[tokio::test]
async fn stalled_body_hits_the_deadline() {
    let (_, outcome, took) = receive(vec![Fault::Stall]).await;
    assert_error(outcome, ErrorCode::Timeout);
    assert!(took >= DEADLINE - Duration::from_millis(50));
}

#[tokio::test]
async fn different_bytes_of_the_same_length_fail_the_sha256() {
    let (server, outcome, _) = receive(vec![Fault::Corrupt]).await;
    let err = assert_error(outcome, ErrorCode::IntegrityMismatch);
    assert!(err.to_string().contains("sha256"), "{err}");
    assert_eq!(server.requests("blob"), 1, "a complete wrong body is not retried");
}

#[tokio::test]
async fn a_shorter_complete_body_is_an_integrity_error() {
    let (server, outcome, _) = receive(vec![Fault::Shorter(1), Fault::Serve]).await;
    assert_error(outcome, ErrorCode::IntegrityMismatch);
    assert_eq!(server.requests("blob"), 1);
}

#[tokio::test]
async fn a_longer_body_is_cut_off_at_the_declared_size() {
    // Announced: refused from the headers, before any body byte is read.
    let (_, outcome, _) = receive(vec![Fault::AnnounceLonger(1 << 20)]).await;
    let err = assert_error(outcome, ErrorCode::IntegrityMismatch);
    assert!(err.to_string().contains("announces"), "{err}");
    // Not announced (the body ends at close): cut off at the declared size.
    let (_, outcome, _) = receive(vec![Fault::Longer(1 << 20)]).await;
    let err = assert_error(outcome, ErrorCode::IntegrityMismatch);
    assert!(err.to_string().contains("longer than"), "{err}");
}

#[tokio::test]
async fn redirects_are_refused_and_never_followed() {
    let elsewhere = FaultServer::start().await;
    let target = elsewhere.blob("blob", blob(), vec![Fault::Serve]);
    let (server, outcome, _) = receive(vec![Fault::Redirect(target)]).await;
    let err = assert_error(outcome, ErrorCode::UrlNotAllowed);
    assert!(err.to_string().contains("redirect"), "{err}");
    assert_eq!(server.requests("blob"), 1);
    assert_eq!(elsewhere.requests("blob"), 0, "the redirect was followed");
    // Even to the same host: a redirect is not what the sender published.
    let (_, outcome, _) = receive(vec![Fault::Redirect("/blob".into())]).await;
    assert_error(outcome, ErrorCode::UrlNotAllowed);
}

#[tokio::test]
async fn one_shot_link_consumed_by_a_failed_first_get_is_a_typed_error() {
    // A naive one-shot store deletes the file on the first GET even when the transfer
    // breaks: the data is gone, and the receiver must say so, not hang or accept a part.
    let (server, outcome, _) = receive(vec![Fault::Truncate(1000), Fault::Status(404, None)]).await;
    let err = assert_error(outcome, ErrorCode::DownloadFailed);
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(server.requests("blob"), 5);
}

#[tokio::test]
async fn one_shot_link_read_twice_fails_the_second_receiver() {
    let server = FaultServer::start().await;
    let body = blob();
    let url = server.blob("blob", body.clone(), vec![Fault::Serve, Fault::Status(404, None)]);
    let env = envelope(&url, &body, true);
    let first = smartreceive_bytes(&env, None, &options(&server)).await;
    assert_exact(first);
    let again = smartreceive_bytes(&env, None, &options(&server)).await;
    assert_error(again, ErrorCode::DownloadFailed);
}

#[tokio::test]
async fn without_a_sha256_a_wrong_length_is_still_caught() {
    // Reference senders do not write metadata.sha256; size is then the only check.
    let server = FaultServer::start().await;
    let body = blob();
    let url = server.blob("blob", body.clone(), vec![Fault::Shorter(10)]);
    let err = smartreceive_bytes(&envelope(&url, &body, false), None, &options(&server)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch);
    assert_eq!(err.correlation_id(), Some(CID));
}

#[tokio::test]
async fn hostile_declared_size_allocates_nothing_and_fetches_nothing() {
    let server = FaultServer::start().await;
    let url = server.blob("blob", blob(), vec![Fault::Serve]);
    let mut env: serde_json::Value = serde_json::from_slice(&envelope(&url, &blob(), false)).unwrap();
    env["payloads"][0]["size"] = json!(1_000_000_000_000_000u64);
    let err = smartreceive_bytes(env.to_string().as_bytes(), None, &options(&server)).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::PayloadTooLarge, "{err}");
    assert_eq!(err.correlation_id(), Some(CID));
    assert_eq!(server.requests("blob"), 0, "fetched before checking the size");

    // With the download cap lifted, the size is still only a bound: the buffer follows the
    // bytes that arrive (a presize of 10^15 would abort the process here).
    // Served without a Content-Length, so only the declared size could size the buffer.
    let lifted = options(&server).fetch(FetchOptions { max_bytes: u64::MAX, ..fetch_options() });
    env["payloads"][0]["data"] = json!(server.blob("unannounced", blob(), vec![Fault::Longer(0)]));
    let err = smartreceive_bytes(env.to_string().as_bytes(), None, &lifted).await.unwrap_err();
    assert_eq!(err.code(), &ErrorCode::IntegrityMismatch, "{err}");
}
