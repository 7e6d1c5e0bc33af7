//! Credentials in URLs (user info, query tokens) never reach a log line or an error
//! message: every log of a download, an upload and a connection is captured at TRACE level
//! and searched for the secrets.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use natsbridge::fetch::FetchOptions;
use natsbridge::{ReceiveOptions, smartreceive_bytes};
use natsbridge_testkit::faults::{Fault, FaultServer};
use serde_json::json;

const PASSWORD: &str = "pw-s3cret-4711";
const TOKEN: &str = "qtok-9f8e7d";

/// Every log line written while it is installed (`tracing::subscriber::set_default`), for
/// tests that search logs for secrets (here and in `s3.rs`).
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// A TRACE-level subscriber writing into this buffer.
    pub(crate) fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(self.clone())
            .with_ansi(false)
            .finish()
    }

    /// What was logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn envelope(url: &str, size: usize) -> String {
    json!({
        "correlation_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "msg_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "timestamp": "2026-11-23T10:00:00.000Z", "send_to": "creds", "msg_purpose": "event", "sender_name": "t",
        "sender_id": "", "receiver_name": "", "receiver_id": "", "reply_to": "", "reply_to_msg_id": "",
        "payloads": [{"id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "dataname": "secret-blob", "payload_type": "binary",
            "transport": "link", "encoding": "none", "size": size, "data": url, "metadata": {}}]
    })
    .to_string()
}

#[tokio::test]
async fn secrets_in_urls_never_reach_logs_or_errors() {
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());

    let server = FaultServer::start().await;
    let body = vec![9u8; 1000];
    let secret_url = |name: &str| {
        format!(
            "http://user:{PASSWORD}@{}/{name}?token={TOKEN}",
            server.base_url().trim_start_matches("http://")
        )
    };
    let options = ReceiveOptions::default().allow_host(&server.base_url()).fetch(FetchOptions {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        ..Default::default()
    });
    let mut errors = Vec::new();
    // Success after retries (warnings are logged for the failed attempts), a persistent
    // failure, a truncation, a redirect, a disallowed host.
    let cases = [
        ("ok", vec![Fault::Status(503, None), Fault::Serve]),
        ("fails", vec![Fault::Status(500, None)]),
        ("cut", vec![Fault::Truncate(10)]),
        ("moved", vec![Fault::Redirect(format!("http://elsewhere.invalid/?token={TOKEN}"))]),
    ];
    for (name, script) in cases {
        server.blob(&format!("{name}?token={TOKEN}"), body.clone(), script);
        match smartreceive_bytes(envelope(&secret_url(name), body.len()).as_bytes(), None, &options).await {
            Ok(r) => assert_eq!(r.payloads[0].bytes(), &body[..]),
            Err(e) => errors.push(format!("{e} {e:?}")),
        }
    }
    let refused = envelope(&format!("http://user:{PASSWORD}@not-allowed.invalid/x?token={TOKEN}"), 10);
    errors.push(format!("{:?}", smartreceive_bytes(refused.as_bytes(), None, &options).await.unwrap_err()));
    // Uploads and NATS connections log their server too.
    let upload =
        natsbridge::blob::PlikStore::new(format!("http://user:{PASSWORD}@127.0.0.1:1/?token={TOKEN}"))
            .upload(natsbridge::blob::PutRequest {
                name: "f".into(),
                bytes: bytes::Bytes::from_static(b"x"),
                ttl: None,
                one_shot: false,
                correlation_id: "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a".into(),
            })
            .await
            .unwrap_err();
    errors.push(format!("{upload} {upload:?}"));
    let nats = natsbridge::connect(&format!("nats://user:{PASSWORD}@127.0.0.1:1")).await.unwrap_err();
    errors.push(format!("{nats}"));

    assert_eq!(errors.len(), 6, "{errors:#?}");
    let logs = logs.text();
    assert!(logs.contains("download"), "nothing was logged, the check would be vacuous:\n{logs}");
    assert!(logs.contains("retrying"), "the retry warnings are part of the check:\n{logs}");
    for secret in [PASSWORD, TOKEN] {
        assert!(!logs.contains(secret), "a secret reached the logs:\n{logs}");
        for e in &errors {
            assert!(!e.contains(secret), "a secret reached an error: {e}");
        }
    }
}
