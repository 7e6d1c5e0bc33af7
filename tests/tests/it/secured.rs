//! The Rust runtime against nats-servers configured as production runs them (issue 29):
//! TLS with a CA made for the test (and a wrong one refused), mutual TLS, a token, a user
//! and password, NKey users, operator mode with a `.creds` file; each an exchange of an
//! envelope with a link through a file server that asks a token of uploads. Every log line
//! (TRACE), error and envelope is searched for the secrets.

use std::time::Duration;

use futures::StreamExt as _;
use natsbridge::fileserver::{FileServer, FileServerConfig};
use natsbridge::settings::{ConnectFlags, ConnectSettings};
use natsbridge::{ErrorCode, Payload, ReceiveOptions, SendOptions, smartreceive};
use natsbridge_testkit::secure::{Guard, Secrets};

use crate::credentials::Captured;

/// The flags that reach `server` guarded by `guard` with `secrets`.
fn flags(secrets: &Secrets, guard: Guard, url: String, tls: bool) -> ConnectFlags {
    let path = |p: &std::path::Path| Some(p.display().to_string());
    let mut f = ConnectFlags { server: Some(url), no_context: true, ..ConnectFlags::default() };
    if tls {
        f.tls_ca = path(&secrets.pki.ca);
    }
    match guard {
        Guard::Open => {}
        Guard::Token => f.token = Some(secrets.token.clone()),
        Guard::UserPassword => {
            f.user = Some(secrets.user.clone());
            f.password = Some(secrets.password.clone());
        }
        Guard::NKey => f.nkey = path(&secrets.nkey_seed),
        Guard::Creds => f.creds = path(&secrets.creds),
        Guard::ClientCertificate => {
            f.tls_ca = path(&secrets.pki.ca);
            f.tls_cert = path(&secrets.pki.client_cert);
            f.tls_key = path(&secrets.pki.client_key);
        }
    }
    f
}

async fn token_file_server(token: &str) -> FileServer {
    FileServer::start(FileServerConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        token: Some(token.to_owned()),
        ..FileServerConfig::default()
    })
    .await
    .unwrap()
}

/// One envelope with a link from a sender to a subscriber, both connected with `settings`.
async fn exchange(settings: &ConnectSettings, files: &FileServer, fileserver_token: &str) -> String {
    let receiver = settings.connect().await.unwrap_or_else(|e| panic!("{settings}: {e}"));
    let mut sub = receiver.subscribe("secured.demo").await.unwrap();
    natsbridge::transport::subscriptions_registered(&receiver).await.unwrap();
    let body = vec![7u8; 64 * 1024];
    let store = natsbridge::blob::PlikStore::new(files.url()).token(fileserver_token);
    let options = SendOptions::default()
        .connection(settings.clone())
        .blob_store(std::sync::Arc::new(store))
        .size_threshold(1024);
    let sent =
        natsbridge::smartsend("secured.demo", [("blob", Payload::Binary(body.clone().into()))], &options)
            .await
            .unwrap_or_else(|e| panic!("{settings}: {e}"));
    assert_eq!(sent.envelope.payloads[0].transport.as_str(), "link");
    let msg = tokio::time::timeout(Duration::from_secs(10), sub.next()).await.unwrap().unwrap();
    let received = smartreceive(&msg, &ReceiveOptions::default().allow_host(files.url())).await.unwrap();
    assert_eq!(received.payloads[0].bytes(), &body[..]);
    sent.json
}

#[tokio::test]
async fn every_kind_of_secured_server_exchanges_a_link() {
    let logs = Captured::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let secrets = Secrets::generate().unwrap_or_else(|e| panic!("{e}"));
    let fileserver_token = format!("fs-{}", secrets.token);
    let files = token_file_server(&fileserver_token).await;
    let mut printed = Vec::new();
    for (guard, tls) in [
        (Guard::Token, true),
        (Guard::UserPassword, false),
        (Guard::NKey, false),
        (Guard::Creds, true),
        (Guard::ClientCertificate, true),
    ] {
        let server = secrets.start(guard, tls).unwrap_or_else(|e| panic!("{e}"));
        let url = if tls { server.tls_url() } else { server.url() };
        let settings = ConnectSettings::resolve_with(&flags(&secrets, guard, url, tls), |_| None).unwrap();
        let json = exchange(&settings, &files, &fileserver_token).await;
        let envelope: serde_json::Value = serde_json::from_str(&json).unwrap();
        let broker = envelope["broker_url"].as_str().unwrap_or_default().to_owned();
        assert!(
            broker.starts_with(if tls { "tls://127.0.0.1:" } else { "nats://127.0.0.1:" }),
            "{guard:?}: {broker}"
        );
        printed.extend([json, format!("{settings}"), format!("{settings:?}")]);
        assert!(format!("{settings}").contains(&format!("auth={}", settings.auth().kind())));
    }

    // Refusals: the wrong CA, no client certificate, a user of an unknown account, no
    // credentials, a wrong token. Each is NATS_CONNECTION_FAILED naming the server.
    let tls_server = secrets.start(Guard::Token, true).unwrap();
    let mut wrong_ca = flags(&secrets, Guard::Token, tls_server.tls_url(), true);
    wrong_ca.tls_ca = Some(secrets.pki.wrong_ca.display().to_string());
    let mut wrong_token = flags(&secrets, Guard::Token, tls_server.tls_url(), true);
    wrong_token.token = Some("not-the-token".into());
    let no_token = flags(&secrets, Guard::Open, tls_server.tls_url(), true);
    let mtls = secrets.start(Guard::ClientCertificate, true).unwrap();
    let no_client_cert = flags(&secrets, Guard::Open, mtls.tls_url(), true);
    let operator = secrets.start(Guard::Creds, false).unwrap();
    let mut stranger = flags(&secrets, Guard::Creds, operator.url(), false);
    stranger.creds = Some(secrets.stranger_creds.display().to_string());
    for (what, f) in [
        ("wrong CA", wrong_ca),
        ("wrong token", wrong_token),
        ("no token", no_token),
        ("no client certificate", no_client_cert),
        ("unknown account", stranger),
    ] {
        let settings = ConnectSettings::resolve_with(&f, |_| None).unwrap();
        let e = tokio::time::timeout(Duration::from_secs(20), settings.connect())
            .await
            .unwrap_or_else(|_| panic!("{what}: connecting did not give up"))
            .expect_err(what);
        assert_eq!(e.code(), &ErrorCode::NatsConnectionFailed, "{what}: {e}");
        assert!(e.to_string().contains("127.0.0.1"), "{what}: {e}");
        printed.push(format!("{e} {e:?}"));
    }
    let token_refused = printed.last().unwrap().clone();
    assert!(token_refused.contains("creds"), "{token_refused}");

    // A caller's mistakes are INVALID_ARGUMENT naming the flag, before any connection.
    let mut half = ConnectFlags::server(operator.url());
    half.password = Some(secrets.password.clone());
    let e = ConnectSettings::resolve_with(&half, |_| None).unwrap_err();
    assert_eq!(e.code(), &ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("--password"), "{e}");
    printed.push(format!("{e} {e:?}"));
    let missing = flags(&secrets, Guard::NKey, operator.url(), false);
    let missing =
        ConnectFlags { nkey: Some(secrets.dir().join("absent.nk").display().to_string()), ..missing };
    let e = ConnectSettings::resolve_with(&missing, |_| None).unwrap().connect().await.unwrap_err();
    assert_eq!(e.code(), &ErrorCode::InvalidArgument);
    assert!(e.to_string().contains("--nkey") && e.to_string().contains("absent.nk"), "{e}");

    let logs = logs.text();
    assert!(logs.contains("NATS connected"), "nothing was logged, the check would be vacuous");
    printed.push(logs);
    for secret in secrets.values().iter().chain([&fileserver_token]) {
        for text in &printed {
            assert!(!text.contains(secret.as_str()), "a secret was printed: {text}");
        }
    }
}
