//! The README is executable evidence of itself: its command blocks run,
//! in order, as written, in a temporary directory laid out like a
//! checkout (`samples/` and the built `target/debug/cfr-bundle`).

use crate::util::*;
use std::process::Command;

/// The README's `sh` blocks that are commands to run: all but the set-up
/// block (which builds and tests: this test is part of that) and usage
/// synopses (`[--flag ...]`).
fn runnable_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```sh\n") {
        let body = &rest[start + 6..];
        let end = body.find("```").expect("a closed block");
        let block = &body[..end];
        rest = &body[end + 3..];
        if block.contains("cargo test") || block.contains("[--") {
            continue;
        }
        // The binary is built already; the test runs what the block runs
        // after building it.
        let lines: Vec<&str> = block
            .lines()
            .filter(|l| !l.trim_start().starts_with("cargo "))
            .collect();
        blocks.push(lines.join("\n"));
    }
    blocks
}

#[test]
fn the_readmes_command_blocks_run_as_written() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let blocks = runnable_blocks(&readme);
    assert!(blocks.len() >= 3, "{} runnable blocks", blocks.len());
    let all = blocks.join("\n");
    for must in [
        "$B seal",
        "$B excerpt",
        "$B log serve",
        "--earlier month.cfr",
    ] {
        assert!(all.contains(must), "the README no longer shows {must}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::os::unix::fs::symlink(root().join("samples"), d.join("samples")).expect("link");
    std::fs::create_dir_all(d.join("target/debug")).expect("mkdir");
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_cfr-bundle"),
        d.join("target/debug/cfr-bundle"),
    )
    .expect("link");
    // The README's recorder listens on 7878; here a port nobody uses.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let script = format!(
        "set -euo pipefail\nB=target/debug/cfr-bundle\nS=samples/storage-month\n{}\n",
        all.replace("127.0.0.1:7878", &format!("127.0.0.1:{port}"))
    );
    let out = Command::new("timeout")
        .arg("600")
        .arg("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(d)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a README step failed ({:?}):\n--- script\n{script}\n--- stdout (end)\n{}\n--- stderr\n{stderr}",
        out.status,
        &stdout[stdout.len().saturating_sub(3000)..]
    );
    // What the steps say they make, they made.
    for made in [
        "evidence.cfr",
        "unpacked/events.jsonl",
        "report.html",
        "excerpt.cfr",
        "month.cfr",
        "later.cfr",
    ] {
        assert!(d.join(made).exists(), "{made} was not made");
    }
    assert!(stdout.contains("VERIFIED"), "{stdout}");
}
