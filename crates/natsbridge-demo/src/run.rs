//! One demo run: starts what the scenarios need (nats-server through the test kit unless
//! `--nats-url` is given, or a three-node cluster with `--cluster`; the embedded file
//! server), runs them, prints the summary.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use natsbridge::ReceiveOptions;
use std::sync::{Arc, Mutex};

use natsbridge_testkit::{NatsCluster, NatsServer};

use crate::ctx::{Ctx, Outcome};
use crate::{audio, command, health, table};

/// Sizes and switches of one demo run.
#[derive(Debug, Clone)]
pub(crate) struct DemoArgs {
    pub(crate) small: bool,
    pub(crate) nats_url: Option<String>,
    pub(crate) nats_server_bin: Option<PathBuf>,
    pub(crate) cluster: bool,
    pub(crate) health_window: Duration,
    pub(crate) only: Option<u8>,
}

/// Runs the scenarios, prints the summary; `Ok(true)` when every one passed.
pub(crate) async fn run(args: DemoArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let _nats;
    let mut cluster = None;
    let nats_url = match &args.nats_url {
        Some(u) => u.clone(),
        None if args.cluster => {
            let nodes = NatsCluster::start_with(args.nats_server_bin.clone(), 3)?;
            eprintln!("nats-server cluster of 3 with JetStream at {}", nodes.urls());
            let urls = nodes.urls();
            cluster = Some(Arc::new(Mutex::new(nodes)));
            urls
        }
        None => {
            let server = NatsServer::start_with(args.nats_server_bin.clone(), "")?;
            eprintln!("nats-server ({}) with JetStream at {}", server.bin().display(), server.url());
            _nats = server;
            _nats.url()
        }
    };
    let files = natsbridge_testkit::file_server().await?;
    eprintln!("embedded file server at {}", files.url());
    let ctx = Ctx {
        nats_url,
        cluster,
        files_url: files.url().to_owned(),
        receive: ReceiveOptions::default().allow_host(files.url()),
    };
    let (commands, rows, audio_secs, recent) =
        if args.small { (100, 200_000, 12.0, 40) } else { (1000, 10_000_000, 60.0, 120) };

    let mut outcomes = Vec::new();
    let wanted = |n: u8| args.only.is_none_or(|o| o == n);
    if wanted(1) {
        eprintln!("scenario 1: command & control ({commands} commands)");
        outcomes.push(guard("1 command & control", command::run(&ctx, commands).await));
    }
    if wanted(2) {
        eprintln!("scenario 2: deep dive ({rows} rows)");
        outcomes.push(guard("2 deep dive (Arrow table)", table::run(&ctx, rows).await));
    }
    if wanted(3) {
        eprintln!("scenario 3: audio (2 s live chunk, {audio_secs:.0} s WAV file)");
        outcomes.push(guard("3 audio + FFT", audio::run(&ctx, audio_secs).await));
    }
    if wanted(4) {
        eprintln!("scenario 4: catch-up (window {:.0} s)", args.health_window.as_secs_f64());
        outcomes.push(guard("4 catch-up (JetStream)", health::run(&ctx, recent, args.health_window).await));
    }
    files.shutdown().await;

    let w = outcomes.iter().map(|o| o.name.len()).max().unwrap_or(10);
    println!();
    println!("{:<w$}  {:<6}  {:<70}  key figure", "scenario", "result", "what happened");
    println!("{:-<w$}  {:-<6}  {:-<70}  {:-<40}", "", "", "", "");
    for o in &outcomes {
        println!("{:<w$}  {:<6}  {:<70}  {}", o.name, if o.ok { "PASS" } else { "FAIL" }, o.result, o.figure);
    }
    let all = outcomes.iter().all(|o| o.ok);
    println!(
        "\n{} of {} scenarios passed in {:.1} s{}",
        outcomes.iter().filter(|o| o.ok).count(),
        outcomes.len(),
        started.elapsed().as_secs_f64(),
        if args.small { " (--small sizes)" } else { "" }
    );
    Ok(all)
}

fn guard(name: &'static str, r: Result<Outcome, Box<dyn std::error::Error>>) -> Outcome {
    r.unwrap_or_else(|e| Outcome {
        name,
        ok: false,
        result: format!("error: {}", natsbridge::error::report(e.as_ref())),
        figure: String::new(),
    })
}
