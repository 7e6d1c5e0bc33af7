//! The three CLIs against nats-servers configured as production runs them (issue 29): each
//! setup is a ring of exchanges (Rust → TypeScript → Python → Rust), an envelope with a link
//! through a file server started with `--token`, the credentials given the way users give
//! them:
//!
//! 1. mutual TLS and a user with a password, as flags;
//! 2. an NKey seed file and a token-less server URL, as environment variables;
//! 3. operator mode with a `.creds` file over TLS, from a nats CLI context written the way
//!    `nats context save` writes it, selected with `--context` (Rust), `NATS_CONTEXT`
//!    (TypeScript) and `nats context select`'s `context.txt` (Python);
//! 4. a token over TLS, with the CA in `NATS_CA` and the file server's token in
//!    `FILESERVER_TOKEN`.
//!
//! Then each CLI is refused by a server whose CA it does not trust, and by conflicting
//! credentials. Every line every CLI printed (stdout and stderr, debug logs on) is searched
//! for the secrets.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use natsbridge_testkit::secure::{Guard, Secrets};
use natsbridge_testkit::{KillOnDrop, NatsServer, free_port};
use serde_json::Value;

use crate::common::{LANGS, cli};

/// Everything the CLIs printed, searched for secrets at the end.
#[derive(Clone, Default)]
struct Printed(Arc<Mutex<String>>);

impl Printed {
    fn add(&self, text: &str) {
        self.0.lock().unwrap().push_str(text);
    }

    fn assert_no(&self, secrets: &[String]) {
        let text = self.0.lock().unwrap();
        assert!(text.len() > 1000, "little was printed: the check would be vacuous:\n{text}");
        for s in secrets {
            assert!(!text.contains(s.as_str()), "a secret ({} chars) was printed:\n{text}", s.len());
        }
    }
}

/// How one CLI run reaches the server: arguments and environment.
#[derive(Clone, Default)]
struct Reach {
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Reach {
    fn command(&self, lang: &str, home: &Path) -> Command {
        let mut c = cli(lang);
        // A home of its own: no context of the machine's user is read, and context files
        // written by the test are.
        c.env("HOME", home).env_remove("XDG_CONFIG_HOME").env_remove("NATS_URL").env_remove("NATS_CONTEXT");
        c.env("RUST_LOG", "debug").env("NATSBRIDGE_LOG", "debug");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// A `receive` started and subscribed; its stdout is read at the end, its stderr collected.
fn start_receive(
    lang: &str,
    reach: &Reach,
    home: &Path,
    subject: &str,
    allow: &str,
    printed: &Printed,
) -> KillOnDrop {
    let mut child = KillOnDrop(
        reach
            .command(lang, home)
            .args(["receive", "--subject", subject, "--count", "1", "--timeout", "30", "--envelope"])
            .args(["--allow-host", allow])
            .args(&reach.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("{lang} receive exited before subscribing:\n{seen}");
        }
        seen.push_str(&line);
        if line.contains("subscribed") {
            break;
        }
    }
    printed.add(&seen);
    let printed = printed.clone();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        printed.add(&rest);
    });
    child
}

/// `send` of one binary payload big enough to go by link; (exit code, stdout + stderr).
fn send(lang: &str, reach: &Reach, home: &Path, subject: &str, extra: &[&str], blob: &Path) -> (i32, String) {
    let out = reach
        .command(lang, home)
        .args(["send", "--subject", subject, "--threshold", "1000"])
        .arg("--payload")
        .arg(format!("blob:binary:@{}", blob.display()))
        .args(extra)
        .args(&reach.args)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// A context file exactly as `nats context save` writes it (jsm.go's `natscontext`: every
/// field, two-space indent, no final newline).
fn natscli_context(url: &str, creds: &Path, ca: &Path) -> String {
    let fields: Vec<(&str, Value)> = vec![
        ("description", "production".into()),
        ("url", url.into()),
        ("socks_proxy", "".into()),
        ("token", "".into()),
        ("user", "".into()),
        ("password", "".into()),
        ("creds", creds.display().to_string().into()),
        ("nkey", "".into()),
        ("cert", "".into()),
        ("key", "".into()),
        ("ca", ca.display().to_string().into()),
        ("nsc", "".into()),
        ("jetstream_domain", "".into()),
        ("jetstream_api_prefix", "".into()),
        ("jetstream_event_prefix", "".into()),
        ("inbox_prefix", "".into()),
        ("user_jwt", "".into()),
        ("user_seed", "".into()),
        ("color_scheme", "".into()),
        ("tls_first", false.into()),
        ("windows_cert_store", "".into()),
        ("windows_cert_match_by", "".into()),
        ("windows_cert_match", "".into()),
        ("windows_ca_certs_match", Value::Null),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("  {k:?}: {v}")).collect();
    format!("{{\n{}\n}}", body.join(",\n"))
}

/// `natsbridge fileserver --token` (the token from `FILESERVER_TOKEN`), on a free port.
fn token_fileserver(dir: &Path, token: &str) -> (KillOnDrop, String) {
    let port = free_port();
    let mut child = KillOnDrop(
        natsbridge_testkit::process::command(env!("CARGO_BIN_EXE_natsbridge"))
            .args(["fileserver", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
            .arg(dir)
            .env("FILESERVER_TOKEN", token)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut ready = String::new();
    BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut ready).unwrap();
    (child, format!("http://127.0.0.1:{port}"))
}

/// One exchange: `to` receives what `from` sends; the envelope came by link, from a broker
/// URL without credentials.
#[allow(clippy::too_many_arguments)]
fn exchange(
    setup: &str,
    from: &str,
    to: &str,
    (send_reach, receive_reach): (&Reach, &Reach),
    home: &Path,
    fileserver: &str,
    send_extra: &[&str],
    blob: &Path,
    printed: &Printed,
) {
    let subject = format!("secured.{setup}.{from}.{to}");
    let receiver = start_receive(to, receive_reach, home, &subject, fileserver, printed);
    let (code, out) = send(from, send_reach, home, &subject, send_extra, blob);
    printed.add(&out);
    assert_eq!(code, 0, "{setup}: {from} send failed:\n{out}");
    let mut receiver = receiver;
    let (status, stdout) = receiver.finish();
    printed.add(&stdout);
    assert!(status.success(), "{setup}: {to} receive failed:\n{stdout}");
    let envelope = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("broker_url").is_some())
        .unwrap_or_else(|| panic!("{setup}: {to} printed no envelope:\n{stdout}"));
    assert_eq!(envelope["payloads"][0]["transport"], "link", "{setup} {from}→{to}: {envelope}");
    assert!(
        envelope["payloads"][0]["data"].as_str().is_some_and(|u| u.starts_with(fileserver)),
        "{setup} {from}→{to}: {envelope}"
    );
    let broker = envelope["broker_url"].as_str().unwrap_or_default();
    assert!(broker.contains("127.0.0.1:"), "{setup} {from}→{to}: broker_url {broker:?}");
}

#[test]
fn three_clis_reach_secured_servers() {
    let secrets = Secrets::generate().unwrap_or_else(|e| panic!("{e}"));
    let printed = Printed::default();
    let home = secrets.dir().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let blob = secrets.dir().join("blob.bin");
    std::fs::write(&blob, vec![42u8; 50_000]).unwrap();
    let fs_token = format!("fs-{}", secrets.token);
    let spool = secrets.dir().join("spool");
    let (_fileserver, fileserver) = token_fileserver(&spool, &fs_token);
    let upload = ["--fileserver", fileserver.as_str(), "--fileserver-token", fs_token.as_str()];
    let path = |p: &Path| p.display().to_string();
    let ring = |setup: &str, reach: &dyn Fn(&str) -> Reach, extra: &[&str]| {
        for (i, from) in LANGS.iter().enumerate() {
            let to = LANGS[(i + 1) % LANGS.len()];
            exchange(setup, from, to, (&reach(from), &reach(to)), &home, &fileserver, extra, &blob, &printed);
        }
    };

    // 1. Mutual TLS and a user with a password, as flags.
    let server = start(&secrets, Guard::UserPassword, true, true);
    let flags = Reach {
        args: vec![
            "--server".into(),
            server.tls_url(),
            "--tls-ca".into(),
            path(&secrets.pki.ca),
            "--tls-cert".into(),
            path(&secrets.pki.client_cert),
            "--tls-key".into(),
            path(&secrets.pki.client_key),
            "--user".into(),
            secrets.user.clone(),
            "--password".into(),
            secrets.password.clone(),
        ],
        env: vec![],
    };
    ring("mtls-user", &|_| flags.clone(), &upload);

    // 2. An NKey seed, from the environment.
    let server = start(&secrets, Guard::NKey, false, false);
    let env = Reach {
        args: vec![],
        env: vec![("NATS_URL".into(), server.url()), ("NATS_NKEY".into(), path(&secrets.nkey_seed))],
    };
    ring("nkey-env", &|_| env.clone(), &upload);

    // 3. Operator mode, .creds over TLS, from a context written as the nats CLI writes it.
    let server = start(&secrets, Guard::Creds, true, false);
    let contexts = home.join(".config/nats/context");
    std::fs::create_dir_all(&contexts).unwrap();
    std::fs::write(
        contexts.join("prod.json"),
        natscli_context(&server.tls_url(), &secrets.creds, &secrets.pki.ca),
    )
    .unwrap();
    let by_context = |lang: &str| match lang {
        "rust" => Reach { args: vec!["--context".into(), "prod".into()], env: vec![] },
        "node" => Reach { args: vec![], env: vec![("NATS_CONTEXT".into(), "prod".into())] },
        _ => Reach::default(),
    };
    std::fs::write(home.join(".config/nats/context.txt"), "prod\n").unwrap();
    ring("creds-context", &by_context, &upload);
    std::fs::remove_file(home.join(".config/nats/context.txt")).unwrap();

    // 4. A token over TLS; the CA and the file server's token from the environment.
    let server = start(&secrets, Guard::Token, true, false);
    let token = Reach {
        args: vec!["--server".into(), server.tls_url(), "--token".into(), secrets.token.clone()],
        env: vec![("NATS_CA".into(), path(&secrets.pki.ca)), ("FILESERVER_TOKEN".into(), fs_token.clone())],
    };
    ring("token-tls", &|_| token.clone(), &["--fileserver", fileserver.as_str()]);

    // Refusals, each CLI: a CA that did not sign the server's certificate; two kinds of
    // credentials; a password without a user. Nothing is sent, nothing secret printed.
    for lang in LANGS {
        let wrong_ca = Reach {
            args: vec!["--server".into(), server.tls_url(), "--tls-ca".into(), path(&secrets.pki.wrong_ca)],
            env: vec![("NATS_TOKEN".into(), secrets.token.clone())],
        };
        let (code, out) = send(lang, &wrong_ca, &home, "secured.refused", &upload, &blob);
        printed.add(&out);
        assert_eq!(code, 1, "{lang}: a server whose CA is not trusted was reached:\n{out}");
        assert!(out.contains("NATS_CONNECTION_FAILED"), "{lang}:\n{out}");
        let two = Reach {
            args: vec!["--server".into(), server.tls_url(), "--creds".into(), path(&secrets.creds)],
            env: vec![("NATS_TOKEN".into(), secrets.token.clone())],
        };
        let (code, out) = send(lang, &two, &home, "secured.refused", &upload, &blob);
        printed.add(&out);
        assert_eq!(code, 1, "{lang}: two kinds of credentials were accepted:\n{out}");
        assert!(
            out.contains("INVALID_ARGUMENT") && out.contains("--creds") && out.contains("NATS_TOKEN"),
            "{lang}:\n{out}"
        );
        let half = Reach {
            args: vec!["--server".into(), server.tls_url()],
            env: vec![("NATS_PASSWORD".into(), secrets.password.clone())],
        };
        let (code, out) = send(lang, &half, &home, "secured.refused", &upload, &blob);
        printed.add(&out);
        assert_eq!(code, 1, "{lang}: a password without a user was accepted:\n{out}");
        assert!(out.contains("NATS_PASSWORD"), "{lang}:\n{out}");
    }
    let mut all = secrets.values();
    all.push(fs_token);
    printed.assert_no(&all);
}

/// A secured server (mutual TLS when `verify_clients`).
fn start(secrets: &Secrets, guard: Guard, tls: bool, verify_clients: bool) -> NatsServer {
    let mut config = secrets.server_config(guard, false);
    if tls {
        config.push_str(&secrets.pki.server_config(verify_clients));
    }
    NatsServer::start_with_config(&config).unwrap_or_else(|e| panic!("{e}"))
}
