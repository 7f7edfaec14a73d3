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

/// The `text` blocks after the opening `` ```text `` line that the README
/// shows as output: (the command line it says printed it, if any, and the
/// lines, up to a line `...` that marks a cut).
fn output_blocks(readme: &str) -> Vec<(Option<String>, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = readme;
    while let Some(start) = rest.find("```text\n") {
        let body = &rest[start + 8..];
        let end = body.find("```").expect("a closed block");
        let mut lines: Vec<String> = body[..end].lines().map(str::to_owned).collect();
        rest = &body[end + 3..];
        let cmd = lines
            .first()
            .and_then(|l| l.strip_prefix("$ "))
            .map(str::to_owned);
        if cmd.is_some() {
            lines.remove(0);
        }
        if let Some(cut) = lines.iter().position(|l| l == "...") {
            lines.truncate(cut);
        }
        out.push((cmd, lines));
    }
    out
}

/// What the README shows as output is what the commands print: the quick
/// start's `scripts/sample.sh` output line for line (its steps, run on a
/// copy of the sample, print the same paths and, sealing deterministically,
/// the same digests), and every line of the other output blocks in what
/// the README's own steps print. Nothing is normalised: the outputs shown
/// hold no temporary paths, times or ports.
#[test]
fn the_readmes_outputs_are_what_the_commands_print() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let blocks = output_blocks(&readme);
    let (cmd, shown) = blocks.first().expect("the quick start output");
    assert_eq!(cmd.as_deref(), Some("scripts/sample.sh"));
    // scripts/sample.sh's two steps, in a copy laid out like the checkout.
    let dir = tempfile::tempdir().expect("tempdir");
    let s = dir.path().join("samples/storage-month");
    std::fs::create_dir_all(s.join("keys")).expect("mkdir");
    for f in [
        "contract.toml",
        "events.jsonl",
        "contract.provider.sig",
        "contract.user.sig",
        "trust.toml",
    ] {
        std::fs::copy(sample_dir().join(f), s.join(f)).expect(f);
    }
    for k in ["recorder", "provider", "user", "grid"] {
        for ext in ["key", "pub"] {
            let f = format!("keys/{k}.{ext}");
            std::fs::copy(sample_dir().join(&f), s.join(&f)).expect("key");
        }
    }
    let script = std::fs::read_to_string(root().join("scripts/sample.sh")).expect("sample.sh");
    let steps: String = script
        .lines()
        .skip_while(|l| !l.starts_with("s="))
        .collect::<Vec<_>>()
        .join("\n");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail\nbin={}\n{steps}\n",
            env!("CARGO_BIN_EXE_cfr-bundle")
        ))
        .current_dir(dir.path())
        .output()
        .expect("bash runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Vec<&str> = printed.lines().collect();
    for (i, line) in shown.iter().enumerate() {
        assert_eq!(
            Some(line.as_str()),
            printed.get(i).copied(),
            "README quick start line {} differs from what scripts/sample.sh prints",
            i + 1
        );
    }
    // The other output block: each line shown is printed by the step the
    // README shows it after (verify of the S3 month). A new output block
    // needs its command here.
    assert_eq!(blocks.len(), 2, "the README's output blocks changed");
    for (_, lines) in blocks.iter().skip(1) {
        let c = root().join("samples/contracts/s3-standard");
        let d = tempfile::tempdir().expect("tempdir");
        let b = d.path().join("s3.cfr");
        let (code, o, e) = run(cfr()
            .arg("seal")
            .arg(c.join("events.jsonl"))
            .arg("--contract")
            .arg(c.join("contract.toml"))
            .arg("--key")
            .arg(sample_dir().join("keys/recorder.key"))
            .arg("-o")
            .arg(&b));
        assert_eq!(code, 0, "{o}{e}");
        let (_, verified, _) = run(cfr()
            .arg("verify")
            .arg(&b)
            .arg("--recorder-key")
            .arg(sample_dir().join("keys/recorder.pub")));
        for l in lines.iter().filter(|l| !l.trim().is_empty()) {
            assert!(
                verified.lines().any(|v| v == l),
                "the README shows {l:?}, which verify does not print:\n{verified}"
            );
        }
    }
}
