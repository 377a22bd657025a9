//! `client --tls`: the nc-style client over TLS against an evloop TLS echo
//! server in this process, checking the server's certificate (`--ca`) or
//! not (`--insecure`), and refusing to guess when told neither.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use echo::Echo;
use evloop_tests::test_config;
use evloop_tests::tls::{start_tls_server, TestPki};

/// Runs `client ARGS` with `input` on stdin, then end of file; returns
/// its exit status success, stdout and stderr.
fn run_client(args: &[&str], input: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client binary");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut all = Vec::new();
        let _ = stdout.read_to_end(&mut all);
        all
    });
    let err = thread::spawn(move || {
        let mut all = String::new();
        let _ = stderr.read_to_string(&mut all);
        all
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("client {args:?} did not exit within 30 s");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

#[test]
fn client_tls_with_the_servers_ca_echoes_and_exits_cleanly() {
    let pki = TestPki::new();
    let server = start_tls_server(test_config(), Echo, pki.server_config());
    let dir = std::env::temp_dir().join(format!("evloop-client-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_, _, ca) = pki.write_pem(&dir).unwrap();
    let addr = server.addr.to_string();
    let (ok, stdout, stderr) = run_client(&["--tls", "--ca", ca.to_str().unwrap(), &addr], b"hi over tls\n");
    assert!(ok, "the client should exit 0 once the server closes: {stderr}");
    assert_eq!(stdout, b"hi over tls\n", "the echo through TLS");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn client_tls_insecure_accepts_a_certificate_it_cannot_check() {
    let pki = TestPki::new();
    let server = start_tls_server(test_config(), Echo, pki.server_config());
    let addr = server.addr.to_string();
    let (ok, stdout, stderr) = run_client(&["--tls", "--insecure", &addr], b"trust me\n");
    assert!(ok, "--insecure connects to any server: {stderr}");
    assert_eq!(stdout, b"trust me\n");
}

#[test]
fn client_tls_without_ca_or_insecure_says_what_is_missing() {
    let (ok, _, stderr) = run_client(&["--tls", "127.0.0.1:1"], b"");
    assert!(!ok, "no trust anchor: the client must not connect");
    assert!(stderr.contains("--ca") && stderr.contains("--insecure"), "the error names both options: {stderr}");
}
