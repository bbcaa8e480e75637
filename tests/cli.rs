//! The `ironbark` binary itself: sub-commands, start-up output and errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ironbark(data: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ironbark"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("IRONBARK_DATA_DIR", data)
        .env("IRONBARK_BAREMETAL_PORT", free_port().to_string())
        .env("IRONBARK_IMAGE_PORT", free_port().to_string())
        .env("IRONBARK_NETWORK_PORT", free_port().to_string())
        .env("IRONBARK_CONTRAIL_PORT", free_port().to_string())
        .env("IRONBARK_COMPUTE_PORT", free_port().to_string())
        .env("IRONBARK_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn migrate_and_bootstrap_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = ironbark(dir.path()).args(["db", "migrate"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
    let first = ironbark(dir.path()).arg("bootstrap").output().unwrap();
    assert!(first.status.success());
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(text.contains("Generated admin password (shown once): "), "{text}");
    let again = ironbark(dir.path()).arg("bootstrap").output().unwrap();
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stdout).contains("Generated"), "password generated only once");
}

#[test]
fn busy_port_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = ironbark(dir.path()).env("IRONBARK_IDENTITY_PORT", port.to_string()).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("identity port 127.0.0.1:{port}")) && err.contains("already in use"), "{err}");
}

#[test]
fn bad_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = ironbark(dir.path()).env("IRONBARK_IDENTITY_PORT", "lots").arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid configuration") && err.to_lowercase().contains("identity_port"), "{err}");
}

#[test]
fn serve_prints_clouds_yaml_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = ironbark(dir.path())
        .env("IRONBARK_IDENTITY_PORT", port.to_string())
        .env("IRONBARK_ADMIN_PASSWORD", "pw-from-env")
        .arg("serve")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    // Keep draining stdout for the life of the process.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        printed.push_str(&line);
        printed.push('\n');
        if line.contains("identity_api_version") {
            break;
        }
    }
    assert!(printed.contains(&format!("auth_url: http://127.0.0.1:{port}/v3")), "{printed}");
    assert!(printed.contains("password: \"pw-from-env\""), "{printed}");
    let written = std::fs::read_to_string(dir.path().join("clouds.yaml")).unwrap();
    assert!(written.contains("project_name: admin"));
    let mut answered = false;
    for _ in 0..50 {
        if let Ok(r) = reqwest::blocking::get(format!("http://127.0.0.1:{port}/v3")) {
            answered = r.status() == 200;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM: graceful shutdown, exit code 0.
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let status = child.wait().unwrap();
    assert!(answered, "identity answered");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}
