//! The `echo` binary itself: its CLI, its echo, and a graceful stop on
//! SIGTERM and SIGINT with exit status 0.

use std::io::Read;

use evloop_tests::process::{check_echo, ServerProcess};
use evloop_tests::{connect, round_trip};

fn stops_gracefully_on(signal: &str) {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_echo"), &["--idle-timeout-secs", "5"]);
    check_echo(server.addr);
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"before the signal"), b"before the signal");
    server.signal(signal);
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).expect("a clean close"), 0, "end of file after the stop");
    assert!(server.wait().success(), "exit status 0 after SIG{signal}");
}

#[test]
fn echoes_and_stops_on_sigterm() {
    stops_gracefully_on("TERM");
}

#[test]
fn stops_on_sigint() {
    stops_gracefully_on("INT");
}
