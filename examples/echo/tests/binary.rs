//! The `echo` binary itself: its CLI, its echo, a graceful stop on
//! SIGTERM and SIGINT with exit status 0, and what it prints.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::thread;

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

#[test]
fn says_where_it_listens_once_on_stdout_and_not_again_in_the_log() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo"))
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the echo binary");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut first = String::new();
    stdout.read_line(&mut first).expect("a first line on stdout");
    let addr: SocketAddr = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("stdout should start with `listening on ADDR`, was {first:?}"))
        .trim()
        .parse()
        .expect("a socket address");
    assert_eq!(round_trip(&mut connect(addr), b"ping"), b"ping");
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("run kill(1)");
    assert!(status.success(), "kill -TERM failed");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("the rest of stdout");
    assert!(child.wait().expect("wait for the server").success(), "exit status 0 after SIGTERM");
    let log = log.join().expect("the stderr reader");
    assert!(rest.is_empty(), "stdout holds the one line: {first:?} then {rest:?}");
    assert!(
        log.iter().any(|line| line.contains(" INFO ")),
        "the log is on (the test would prove nothing otherwise): {log:#?}"
    );
    assert!(!log.iter().any(|line| line.contains("listening on")), "the log repeats the address: {log:#?}");
}

#[test]
fn echoes_over_a_unix_socket_and_removes_its_file_on_sigterm() {
    let path = evloop_tests::transport::unix_socket_path("echo-binary");
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_echo"), &["--unix", path.to_str().unwrap()]);
    // Printed once bound: it accepts (into its backlog) from then on.
    server.printed("listening on unix:");
    let mut client = evloop_tests::connect_unix(&path);
    std::io::Write::write_all(&mut client, b"over a unix socket").unwrap();
    let mut echo = [0; 18];
    client.read_exact(&mut echo).expect("the echo over the Unix socket");
    assert_eq!(&echo, b"over a unix socket");
    server.signal("TERM");
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
    assert!(!path.exists(), "the socket file is removed on a clean stop");
}
