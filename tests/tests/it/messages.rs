//! Errors that say what to do: each row a mistake or an outage a user meets, and what its
//! message must say: the code, what was attempted, where (URL or subject, and where the URL
//! came from), why (the refused connection, the value given), and what to try.

use std::time::Duration;

use natsbridge::jetstream::Start;
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions, smartsend};

/// A loopback port nothing listens on.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn says(e: &natsbridge::Error, code: ErrorCode, parts: &[&str]) {
    assert_eq!(e.code(), &code, "{e}");
    let text = e.to_string();
    for part in parts {
        assert!(text.contains(part), "`{text}` does not say `{part}`");
    }
}

#[tokio::test]
async fn every_message_says_what_where_why_and_what_to_try() {
    let port = dead_port();
    let files = format!("http://127.0.0.1:{port}");
    let big = vec![("table".to_owned(), Payload::Binary(vec![7u8; 2048].into()))];

    // A dead file server, given as an option.
    let options = SendOptions::default().fileserver(&files).size_threshold(1024).no_publish();
    let e = smartsend("demo", big.clone(), &options).await.unwrap_err();
    says(
        &e,
        ErrorCode::UploadFailed,
        &[
            &format!("the file server {files}"),
            "(the `fileserver` option)",
            "efused",
            "`natsbridge fileserver`",
            "payload `table`",
        ],
    );

    // A dead NATS server.
    let e = natsbridge::connect(&format!("nats://127.0.0.1:{port}")).await.unwrap_err();
    says(
        &e,
        ErrorCode::NatsConnectionFailed,
        &[&format!("nats://127.0.0.1:{port}"), "efused", "nats-server"],
    );

    // A replay start outside the grammar, and a naive time.
    says(&Start::parse("New").unwrap_err(), ErrorCode::InvalidArgument, &["\"New\"", "did you mean `new`?"]);
    says(
        &Start::parse("2026-12-06T09:00:00").unwrap_err(),
        ErrorCode::InvalidArgument,
        &["needs its offset", "`Z`"],
    );

    // A bare allowed host.
    let options = ReceiveOptions::default().allow_host("files.example:8080");
    let e = natsbridge::smartreceive_bytes(b"{}", None, &options).await.unwrap_err();
    says(&e, ErrorCode::InvalidArgument, &["\"files.example:8080\"", "`http://files.example:8080`"]);

    // A request nobody answers.
    let server = natsbridge_testkit::NatsServer::spawn_with_config("");
    let client = natsbridge::connect(&server.url()).await.unwrap();
    let e = natsbridge::smartrequest(
        &client,
        "nobody.home",
        [("q", Payload::Text("?".into()))],
        SendOptions::default().connection(&client),
        &ReceiveOptions::default(),
        Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    says(&e, ErrorCode::Timeout, &["`nobody.home`", "300"]);
    assert!(e.correlation_id().is_some(), "the request's correlation id");
}
