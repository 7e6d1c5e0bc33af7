//! The demo at `--small` sizes: all four scenarios must pass, and the summary must say so.

use natsbridge_testkit::nats::nats_server_bin;
use natsbridge_testkit::process::command;

#[test]
fn demo_small_passes_all_four_scenarios() {
    let bin = nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    let out = command(env!("CARGO_BIN_EXE_natsbridge-demo"))
        .args(["--small", "--nats-server-bin"])
        .arg(bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("4 of 4 scenarios passed"), "{stdout}");
    for scenario in ["1 command & control", "2 deep dive", "3 audio", "4 catch-up"] {
        let line =
            stdout.lines().find(|l| l.starts_with(scenario)).unwrap_or_else(|| panic!("{scenario} missing"));
        assert!(line.contains("PASS"), "{line}");
    }
}

/// `--cluster`: the catch-up stream is R3 on three nodes and its leader is killed before
/// the replay; the replay still gets every envelope of the window, links included.
#[test]
fn demo_on_a_cluster_survives_the_stream_leader_s_death() {
    let bin = nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    let out = command(env!("CARGO_BIN_EXE_natsbridge-demo"))
        .args(["--small", "--cluster", "--only", "4", "--nats-server-bin"])
        .arg(bin)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line = stdout.lines().find(|l| l.starts_with("4 catch-up")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("PASS") && line.contains("R3 stream, leader n"), "{line}");
}
