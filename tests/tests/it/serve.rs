//! `serve` against a real nats-server: a reply, an application error, a failing and a
//! panicking handler each reach the requester as an answer, never as its timeout.

use std::time::{Duration, Instant};

use natsbridge::serve::{HandlerError, ServeOptions, serve};
use natsbridge::{Error, ErrorCode, Payload, ReceiveOptions, SendOptions, smartrequest};
use natsbridge_testkit::NatsServer;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(10);

async fn ask(
    client: &async_nats::Client,
    what: &str,
) -> (natsbridge::Result<natsbridge::Received>, Duration) {
    let started = Instant::now();
    let got = smartrequest(
        client,
        "svc.query",
        [("query", Payload::Dictionary(json!({"what": what})))],
        SendOptions::default().connection(client),
        &ReceiveOptions::default(),
        TIMEOUT,
    )
    .await;
    (got, started.elapsed())
}

#[tokio::test]
async fn every_handler_outcome_is_answered() {
    let server = NatsServer::spawn_with_config("");
    let client = natsbridge::connect(&server.url()).await.unwrap();
    let responder = serve(client.clone(), "svc.query", ServeOptions::default(), |request| async move {
        let Payload::Dictionary(q) = &request.payloads[0].data else { panic!("a dictionary") };
        match q["what"].as_str().unwrap_or_default() {
            "echo" => Ok(vec![("answer".to_owned(), Payload::Text("hello".into()))]),
            "app" => Err(Error::application("UNKNOWN_COLUMN", "no column `speed`").into()),
            "io" => Err(HandlerError::from(std::io::Error::other("disk full"))),
            _ => panic!("unexpected query"),
        }
    })
    .await
    .unwrap();

    let (reply, _) = ask(&client, "echo").await;
    assert!(matches!(&reply.unwrap().payloads[0].data, Payload::Text(t) if t == "hello"));

    let (app, took) = ask(&client, "app").await;
    let app = app.unwrap_err();
    assert_eq!(
        (app.code(), app.application_code(), app.is_remote()),
        (&ErrorCode::ApplicationError, Some("UNKNOWN_COLUMN"), true)
    );
    assert_eq!(app.to_string(), "APPLICATION_ERROR UNKNOWN_COLUMN from the responder: no column `speed`");
    assert!(took < TIMEOUT / 2, "answered, not timed out: {took:?}");

    let (io, took) = ask(&client, "io").await;
    let io = io.unwrap_err();
    assert_eq!(io.code(), &ErrorCode::HandlerFailed, "{io}");
    assert_eq!(io.message(), "the handler failed: disk full");
    assert!(took < TIMEOUT / 2, "{took:?}");

    let (panicked, took) = ask(&client, "boom").await;
    let panicked = panicked.unwrap_err();
    assert_eq!(panicked.code(), &ErrorCode::HandlerFailed, "{panicked}");
    assert_eq!(panicked.message(), "the handler panicked: unexpected query");
    assert!(took < TIMEOUT / 2, "{took:?}");

    responder.stop().await;
    let after = smartrequest(
        &client,
        "svc.query",
        [("query", Payload::Dictionary(json!({"what": "echo"})))],
        SendOptions::default().connection(&client),
        &ReceiveOptions::default(),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(after.unwrap_err().code(), &ErrorCode::Timeout, "a stopped server answers nothing");
}

#[tokio::test]
async fn a_request_that_does_not_decode_is_answered_when_it_names_a_reply_to() {
    use futures::StreamExt as _;

    let server = NatsServer::spawn_with_config("");
    let client = natsbridge::connect(&server.url()).await.unwrap();
    let responder = serve(client.clone(), "svc.broken", ServeOptions::default(), |_| async move {
        Ok(vec![("answer".to_owned(), Payload::Text("fine".into()))])
    })
    .await
    .unwrap();
    let inbox = client.new_inbox();
    let mut answers = client.subscribe(inbox.clone()).await.unwrap();
    // A v1 envelope whose payload's bytes are not what its `size` says.
    let sent = natsbridge::smartsend(
        "svc.broken",
        [("q", Payload::Text("hello".into()))],
        &SendOptions::default().reply_to(&inbox).no_publish(),
    )
    .await
    .unwrap();
    let mut envelope: serde_json::Value = serde_json::from_str(&sent.json).unwrap();
    envelope["payloads"][0]["size"] = json!(4);
    client.publish("svc.broken", envelope.to_string().into()).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), answers.next()).await.unwrap().unwrap();
    let response: serde_json::Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(response["error"]["code"], "INTEGRITY_MISMATCH", "{response}");
    assert_eq!(response["correlation_id"], envelope["correlation_id"]);
    // Bytes that are no envelope name nobody to answer: skipped, and the loop goes on.
    client.publish("svc.broken", "not json".into()).await.unwrap();
    let reply = smartrequest(
        &client,
        "svc.broken",
        [("q", Payload::Text("?".into()))],
        SendOptions::default().connection(&client),
        &ReceiveOptions::default(),
        TIMEOUT,
    )
    .await;
    assert!(matches!(&reply.unwrap().payloads[0].data, Payload::Text(t) if t == "fine"));
    responder.stop().await;
}
