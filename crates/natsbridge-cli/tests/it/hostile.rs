//! Nothing a hostile envelope carries stops a receiver (issue 25): the conformance group
//! `hostile` (the exact bytes of each vector) is published raw to each shipped CLI's
//! `receive` — `natsbridge`, `natsbridge-js`, `python -m natsbridge` — then one good
//! envelope. Each CLI must print one line per message, in order: the vector's error code
//! (or, for the vectors that decode, a digest line), then the good envelope's digest line,
//! and exit 0: it was still up.

use std::process::Stdio;

use natsbridge::{Payload, SendOptions};
use natsbridge_conformance::Vectors;
use natsbridge_testkit::{KillOnDrop, NatsServer};
use serde_json::Value;

use crate::common::{LANGS, cli, wait_subscribed};

#[test]
fn the_hostile_group_stops_no_cli_receiver() {
    let vectors = Vectors::embedded().unwrap();
    let hostile: Vec<_> = vectors.vectors.iter().filter(|v| v.group == "hostile").collect();
    assert!(hostile.len() >= 60, "the hostile group has {} vectors", hostile.len());
    let server = NatsServer::spawn();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime.block_on(natsbridge::connect(&server.url())).unwrap();
    for lang in LANGS {
        let subject = format!("hostile.{lang}");
        let count = (hostile.len() + 1).to_string();
        let mut rx = KillOnDrop(
            cli(lang)
                .args(["receive", "--server", &server.url(), "--subject", &subject, "--count", &count])
                .args(["--timeout", "120"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        wait_subscribed(&mut rx);
        let good = runtime.block_on(async {
            for v in &hostile {
                let body = v.bytes.clone().expect("a hostile vector has bytes");
                client.publish(subject.clone(), body.into()).await.unwrap();
            }
            let options = SendOptions::default().connection(&client).sender_name("after the storm");
            let sent = natsbridge::smartsend(&subject, [("still", Payload::Text("up".into()))], &options)
                .await
                .unwrap();
            client.flush().await.unwrap();
            sent
        });
        let (status, out) = rx.finish();
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{lang}: not a JSON line ({e}): {l}")))
            .collect();
        assert!(status.success(), "{lang} receive exited {status:?} after {} lines:\n{out}", lines.len());
        assert_eq!(lines.len(), hostile.len() + 1, "{lang}: one line per message:\n{out}");
        let mut wrong = Vec::new();
        for (v, line) in hostile.iter().zip(&lines) {
            let want = &v.expect["decode"];
            let ok = if want["ok"] == true {
                line.get("error").is_none()
                    && line["payloads"].as_array().map(Vec::len) == want["payloads"].as_array().map(Vec::len)
            } else {
                line["error"] == want["error"]
            };
            if !ok {
                wrong.push(format!("{}: printed {line}, expected {want}", v.id));
            }
        }
        assert!(wrong.is_empty(), "{lang}:\n  {}", wrong.join("\n  "));
        let last = lines.last().unwrap();
        assert_eq!(last["correlation_id"], good.envelope.correlation_id.as_str(), "{lang}: {last}");
        assert!(last.get("error").is_none(), "{lang}: {last}");
    }
}
