//! The `kv` binary itself: its `--help`, and a graceful stop on SIGTERM
//! with clients connected.

mod common;

use std::process::Command;

use common::{client, expect_closed, query};
use evloop_tests::process::ServerProcess;

#[test]
fn help_lists_the_options() {
    let output = Command::new(env!("CARGO_BIN_EXE_kv")).arg("--help").output().expect("run kv --help");
    assert!(output.status.success(), "--help exits 0");
    let help = String::from_utf8_lossy(&output.stdout);
    for option in ["--listen", "--max-clients", "--timeout", "--proto-max-bulk-len", "--pubsub-output-limit"] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
}

#[test]
fn serves_and_stops_on_sigterm_with_clients_connected() {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_kv"), &[]);
    let mut clients: Vec<redis::Connection> = (0..10).map(|_| client(server.addr)).collect();
    for (i, con) in clients.iter_mut().enumerate() {
        assert_eq!(query::<String>(con, &["SET", &format!("k{i}"), "v"]), "OK");
    }
    assert_eq!(query::<i64>(&mut clients[0], &["DBSIZE"]), 10);
    let mut raw = evloop_tests::connect(server.addr);
    common::exchange(&mut raw, b"PING\r\n", b"+PONG\r\n");

    server.signal("TERM");
    expect_closed(&mut raw);
    for con in &mut clients {
        assert!(redis::cmd("PING").query::<String>(con).is_err(), "closed after the stop");
    }
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
}

#[test]
fn unixsocket_serves_the_same_keys_as_tcp_with_the_mode_asked_for() {
    use std::os::unix::fs::PermissionsExt;
    let path = evloop_tests::transport::unix_socket_path("kv");
    let mut server = ServerProcess::start(
        env!("CARGO_BIN_EXE_kv"),
        &["--unixsocket", path.to_str().unwrap(), "--unixsocketperm", "700"],
    );
    server.printed("listening on unix:");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700, "Redis's unixsocketperm");
    let over_unix = redis::Client::open(format!("unix://{}", path.display())).expect("a unix:// URL");
    let mut over_unix = over_unix.get_connection_with_timeout(evloop_tests::TIMEOUT).expect("connect over the socket");
    assert_eq!(query::<String>(&mut over_unix, &["SET", "shared", "by both"]), "OK");
    let mut over_tcp = client(server.addr);
    assert_eq!(query::<String>(&mut over_tcp, &["GET", "shared"]), "by both", "one keyspace for both transports");
    server.signal("TERM");
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
    assert!(!path.exists(), "the socket file is removed on a clean stop");
}
