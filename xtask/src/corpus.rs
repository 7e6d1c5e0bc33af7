//! `cargo xtask corpus` (a step of `cargo xtask test`): what real AsyncAPI documents
//! generate is real code.
//!
//! Every document of `crates/natsbridge-codegen/tests/corpus/corpus.yaml` that generates
//! (the engine's own test, `tests/corpus.rs`, checks that, and every refusal's exact text) is
//! generated again here against this checkout's runtimes, then:
//! - Rust: every crate, as one workspace, under `#![deny(warnings)]` (`cargo build`);
//! - TypeScript: every package, `tsc --strict --noEmit` in one program;
//! - Python: every package, `mypy --strict`;
//! - and two documents carry typed messages across the languages over a real nats-server:
//!   The Codegen Project's NATS request/reply document (a Rust responder, TypeScript and
//!   Python requesters) and the AsyncAPI specification's `oneOf` example, whose `sendTest`
//!   sends either of two messages on one channel (TypeScript and Python send both, one Rust
//!   subscription receives each as its own type), and lerenn/asyncapi-codegen's ping/pong
//!   document, whose messages carry their correlation id in a `correlationId` header (the
//!   requests' headers and the Rust replies' headers hold the exchange's correlation id).

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail, ensure};
use natsbridge_codegen::api::{self, AddressStyle, LoadOptions};
use natsbridge_codegen::{Rustfmt, write_or_check};
use serde::Deserialize;

use crate::setup::Tools;
use crate::team::{Running, nats_server};
use crate::util::{cargo, run_checked, target_dir};

/// The manifest, relative to the repository root.
pub(crate) const MANIFEST: &str = "crates/natsbridge-codegen/tests/corpus/corpus.yaml";

#[derive(Debug, Deserialize)]
struct Doc {
    file: String,
    #[serde(default)]
    address_style: Option<String>,
    expect: String,
}

/// The request/reply document and the several-messages document of the exchange.
const REQUEST_REPLY: &str = "the-codegen-project-cli/asyncapi-request-reply.json";
const ONE_OF: &str = "asyncapi-spec/oneof-asyncapi.yml";
const PING: &str = "lerenn-asyncapi-codegen/examples/ping/v3/asyncapi.yaml";

/// `the-codegen-project-cli/asyncapi-request-reply.json` → `the-codegen-project-cli-asyncapi-request-reply`.
fn slug(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
}

const RESPONDER: &str = r#"//! The Rust side of `cargo xtask corpus`'s exchange (written by xtask): each subscription
//! served by a task of its own, so the requesters' order does not matter.
use natsbridge::futures::StreamExt as _;
use natsbridge::tokio;
use {RR} as rr;
use {ONE} as one;
use {PING} as ping;
use one::messages::Test2message as Test2Message;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(crate = "natsbridge::tokio")]
async fn main() -> Result<(), Failure> {
    let client = natsbridge::connect(&std::env::var("NATS_URL")?).await?;
    let rr_bridge = rr::Bridge::new(client.clone());
    let mut pings = rr::operations::regular_reply(&rr_bridge).await?;
    let one_bridge = one::Bridge::new(client.clone());
    let mut test2 = natsbridge::typed::subscribe::<Test2Message>(&one_bridge, &one::channels::test2()?, None).await?;
    let ping_bridge = ping::Bridge::new(client.clone());
    let mut with_ids = ping::operations::ping_request(&ping_bridge).await?;
    natsbridge::transport::subscriptions_registered(&client).await?;
    println!("ready");
    let correlated = tokio::spawn(async move {
        for _ in 0..2 {
            let request = with_ids.next().await.ok_or("the ping/pong subscription ended")??;
            let header = request.message.headers.correlation_id.clone();
            if header.as_deref() != Some(request.correlation_id()) {
                return Err(format!("the correlationId header {header:?} is not {}", request.correlation_id()).into());
            }
            let pong = ping::messages::Pong {
                payload: ping::PongPayload { event: Some("pong".into()) },
                headers: ping::messages::PongHeaders { correlation_id: None },
            };
            ping::operations::ping_request_reply(&ping_bridge, &request, &pong).await?;
        }
        Ok::<(), Failure>(())
    });
    let answered = tokio::spawn(async move {
        for _ in 0..2 {
            let ping = pings.next().await.ok_or("the ping subscription ended")??;
            let from = ping.message.ping.clone().unwrap_or_default();
            let pong = rr::PongPayload { pong: Some(format!("pong to {from}")) };
            rr::operations::regular_reply_reply(&rr_bridge, &ping, &pong).await?;
        }
        Ok::<(), Failure>(())
    });
    for _ in 0..4 {
        match test2.next().await.ok_or("the test2 subscription ended")??.message {
            Test2Message::ObjectWithKey(m) => println!("objectWithKey {}", m.key.unwrap_or_default()),
            Test2Message::ObjectWithKey2(m) => println!("objectWithKey2 {}", m.key2.unwrap_or_default()),
        }
    }
    correlated.await??;
    answered.await??;
    client.flush().await?;
    Ok(())
}
"#;

const TS_CLIENT: &str = r#"// The TypeScript side of `cargo xtask corpus`'s exchange (written by xtask).
import { connect } from "@natsbridge/client";
import * as rr from "./{RR}/typescript/src/index.js";
import * as one from "./{ONE}/typescript/src/index.js";
import * as ping from "./{PING}/typescript/src/index.js";
import { typed } from "@natsbridge/client";

const nc = await connect({ servers: process.env.NATS_URL });
const pong = await typed.request(new ping.Bridge(nc), ping.PING_ADDRESS, ping.pingCodec, ping.pongCodec, { body: { event: "ping" }, headers: {} });
if (pong.message.headers.correlationId !== pong.correlationId) {
  throw new Error(`the reply's correlationId header ${pong.message.headers.correlationId} is not ${pong.correlationId}`);
}
const reply = await rr.regularRequest(new rr.Bridge(nc), { ping: "typescript" });
if (reply.message.pong !== "pong to typescript") {
  throw new Error(`unexpected reply ${JSON.stringify(reply.message)}`);
}
const bridge = new one.Bridge(nc);
await one.sendTest(bridge, { name: "objectWithKey", value: { key: "from typescript" } });
await one.sendTest(bridge, { name: "objectWithKey2", value: { key2: "from typescript" } });
await nc.flush();
await nc.close();
"#;

const PY_CLIENT: &str = r#""""The Python side of `cargo xtask corpus`'s exchange (written by xtask)."""
import asyncio
import os

import nats

import {RR} as rr
import {ONE} as one
import {PING} as ping
from natsbridge import typed


async def main() -> None:
    nc = await nats.connect(os.environ["NATS_URL"])
    request = ping.Ping({"event": "ping"}, ping.PingHeaders())
    pong = await typed.request(ping.Bridge(nc), ping.PING_ADDRESS, ping.PING_CODEC, request, ping.PONG_CODEC)
    assert pong.message.headers.correlation_id == pong.correlation_id, (pong.message.headers, pong.correlation_id)
    reply = await rr.regular_request(rr.Bridge(nc), {"ping": "python"})
    assert reply.message.get("pong") == "pong to python", reply.message
    bridge = one.Bridge(nc)
    await one.send_test(bridge, one.Test2messageObjectWithKey("objectWithKey", {"key": "from python"}))
    await one.send_test(bridge, one.Test2messageObjectWithKey2("objectWithKey2", {"key2": "from python"}))
    await nc.flush()
    await nc.close()


asyncio.run(main())
"#;

pub(crate) fn corpus(root: &Path, tools: &Tools) -> Result<()> {
    let docs: Vec<Doc> = serde_norway::from_str(&std::fs::read_to_string(root.join(MANIFEST))?)
        .with_context(|| format!("reading {MANIFEST}"))?;
    let corpus = root.join(MANIFEST).parent().expect("in a directory").to_path_buf();
    // Under the checkout, so `@natsbridge/client` and ajv resolve from its node_modules.
    let out = root.join("target/corpus");
    let _ = std::fs::remove_dir_all(&out);
    let fmt = Rustfmt::default();
    let mut slugs = Vec::new();
    for d in docs.iter().filter(|d| d.expect == "generates") {
        let style = if d.address_style.as_deref() == Some("slash") {
            AddressStyle::Slash
        } else {
            AddressStyle::Nats
        };
        let spec = api::Spec::load_with(&corpus.join(&d.file), &LoadOptions { address_style: style })
            .with_context(|| d.file.clone())?;
        let slug = slug(&d.file);
        let mut options = api::Options::from_spec(&spec).runtimes_from_checkout(&root.to_string_lossy());
        options.languages = ["rust", "typescript", "python"].map(str::to_owned).to_vec();
        for lang in ["rust", "typescript", "python"] {
            options.names.insert(lang.to_owned(), format!("corpus-{slug}"));
        }
        let mut files = api::generate(&spec, &options, &fmt).with_context(|| d.file.clone())?;
        for f in &mut files {
            if f.path == "rust/src/lib.rs" {
                f.contents = format!("#![deny(warnings)]\n{}", f.contents);
            }
        }
        write_or_check(&out.join(&slug), &files, false)?;
        slugs.push(slug);
    }
    ensure!(
        slugs.contains(&slug(REQUEST_REPLY)) && slugs.contains(&slug(ONE_OF)),
        "the exchange's documents generate"
    );
    let rr = slug(REQUEST_REPLY);
    let one = slug(ONE_OF);
    let pg = slug(PING);
    // The clients name each document's package: TypeScript by its directory, Rust and Python
    // by the crate or module name (`corpus_<slug>`).
    let fill = |text: &str, name: fn(&str) -> String| {
        text.replace("{RR}", &name(&rr)).replace("{ONE}", &name(&one)).replace("{PING}", &name(&pg))
    };
    let directory: fn(&str) -> String = str::to_owned;
    let module: fn(&str) -> String = |s| format!("corpus_{}", s.replace('-', "_"));

    // Rust: one workspace of every crate, plus the responder.
    let members: Vec<String> =
        slugs.iter().map(|s| format!("\"{s}/rust\"")).chain(["\"exchange\"".into()]).collect();
    std::fs::write(
        out.join("Cargo.toml"),
        format!("[workspace]\nresolver = \"3\"\nmembers = [{}]\n", members.join(", ")),
    )?;
    std::fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock"))?;
    std::fs::create_dir_all(out.join("exchange/src"))?;
    std::fs::write(
        out.join("exchange/Cargo.toml"),
        format!(
            "[package]\nname = \"exchange\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\n\
             natsbridge = {{ path = \"{root}/crates/natsbridge\", features = [\"typed\"] }}\ncorpus-{rr} = {{ path = \"../{rr}/rust\" }}\n\
             corpus-{one} = {{ path = \"../{one}/rust\" }}\ncorpus-{pg} = {{ path = \"../{pg}/rust\" }}\n",
            root = root.display()
        ),
    )?;
    std::fs::write(out.join("exchange/src/main.rs"), fill(RESPONDER, module))?;
    // The team codegen step's target directory: the runtime and its dependencies build once.
    let rust_target = target_dir().join("team-codegen");
    run_checked(
        cargo()
            .args(["build", "--offline", "--workspace", "--manifest-path"])
            .arg(out.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &rust_target),
    )?;

    // TypeScript: every package in one strict program.
    std::fs::write(
        out.join("tsconfig.json"),
        r#"{"compilerOptions": {"target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
 "noUncheckedIndexedAccess": true, "noEmit": true, "skipLibCheck": true, "allowImportingTsExtensions": false},
 "include": ["*/typescript/src/**/*.ts", "client.mts"]}"#,
    )?;
    std::fs::write(out.join("client.mts"), fill(TS_CLIENT, directory))?;
    run_checked(Command::new(root.join("node_modules/.bin/tsc")).arg("-p").arg(out.join("tsconfig.json")))?;

    // Python: every package, strictly.
    let mut python_path: Vec<PathBuf> = slugs.iter().map(|s| out.join(s).join("python")).collect();
    python_path.extend([root.join("packages/python"), root.join("generated/python")]);
    let python_path = std::env::join_paths(&python_path)?;
    std::fs::write(out.join("client.py"), fill(PY_CLIENT, module))?;
    let mut mypy = Command::new(&tools.python);
    mypy.args(["-m", "mypy", "--strict", "--no-incremental", "client.py"])
        .current_dir(&out)
        .env("MYPYPATH", &python_path);
    for s in &slugs {
        mypy.arg(format!("{s}/python/{}", module(s)));
    }
    run_checked(&mut mypy)?;

    // The exchange.
    let (_server, url) = nats_server(tools)?;
    let mut responder = Running(
        Command::new(rust_target.join("debug/exchange"))
            .env("NATS_URL", &url)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the Rust responder")?,
    );
    let mut lines = BufReader::new(responder.0.stdout.take().expect("piped")).lines();
    let ready = lines.next().transpose()?.unwrap_or_default();
    ensure!(ready == "ready", "the Rust responder did not start: {ready:?}");
    run_checked(
        Command::new(root.join("node_modules/.bin/tsx"))
            .arg("client.mts")
            .current_dir(&out)
            .env("NATS_URL", &url),
    )?;
    run_checked(
        Command::new(&tools.python)
            .arg("client.py")
            .current_dir(&out)
            .env("NATS_URL", &url)
            .env("PYTHONPATH", &python_path),
    )?;
    let received: Vec<String> = lines.collect::<std::io::Result<_>>()?;
    let status = responder.0.wait()?;
    if !status.success() {
        bail!("the Rust responder failed: {status}");
    }
    let expected = [
        "objectWithKey from typescript",
        "objectWithKey2 from typescript",
        "objectWithKey from python",
        "objectWithKey2 from python",
    ];
    ensure!(received == expected, "the Rust subscriber received {received:?}, expected {expected:?}");
    eprintln!("corpus: {} documents generate, compile and type-check; the exchange passed", slugs.len());
    Ok(())
}
