//! The demo at `--small` sizes: all four scenarios must pass, and the summary must say so.

use std::process::Command;

#[test]
fn demo_small_passes_all_four_scenarios() {
    let out = Command::new(env!("CARGO_BIN_EXE_natsbridge"))
        .args(["demo", "--small", "--nats-server-bin"])
        .arg(natsbridge_tests::nats_server_bin())
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
