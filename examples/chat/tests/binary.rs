//! The `chat` binary itself: its CLI, and telling clients on SIGTERM before
//! it stops with exit status 0.

use std::io::Read;
use std::process::Command;

use evloop_tests::chat::{room, ChatClient};
use evloop_tests::connect;
use evloop_tests::process::ServerProcess;

#[test]
fn tells_clients_and_stops_on_sigterm() {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_chat"), &[]);
    let [mut alice, mut bob] = room(server.addr);
    alice.send("hello");
    bob.expect(&format!("{}: hello", alice.nick));

    server.signal("TERM");
    alice.expect("* server shutting down");
    bob.expect("* server shutting down");
    alice.expect_closed();
    bob.expect_closed();
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
}

#[test]
fn with_threads_it_serves_one_room_and_stops_on_sigterm() {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_chat"), &["--threads", "2"]);
    // Across loops a join notice may reach a newcomer after its own
    // welcome, so join notices are let through in any order here.
    let only_joins = |line: &str| assert!(line.starts_with("* ") && line.ends_with(" joined"), "unexpected {line:?}");
    let mut clients: Vec<ChatClient> = (0..4).map(|_| ChatClient::join(server.addr)).collect();
    let said = format!("{}: hello", clients[0].nick);
    clients[0].send("hello");
    for other in &mut clients[1..] {
        other.expect_past(&said, only_joins);
    }
    server.signal("TERM");
    for client in &mut clients {
        client.expect_past("* server shutting down", only_joins);
        client.expect_closed();
    }
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
}

#[test]
fn max_connections_per_ip_turns_a_client_away_with_a_reason() {
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_chat"), &["--max-connections-per-ip", "1"]);
    let _first = ChatClient::join(server.addr);
    let mut refused = String::new();
    connect(server.addr).read_to_string(&mut refused).expect("the refusal, then the end");
    assert_eq!(refused, chat::TOO_MANY_FROM_YOU);
}

#[test]
fn help_lists_every_limit_with_its_default() {
    let help = Command::new(env!("CARGO_BIN_EXE_chat")).arg("--help").output().expect("run chat --help");
    let help = String::from_utf8(help.stdout).expect("UTF-8 help");
    for option in ["--max-connections ", "--flood-lines-per-sec", "--flood-burst", "--flood-disconnect-secs"] {
        let described = help.lines().skip_while(|l| !l.contains(option)).nth(1).unwrap_or_default();
        assert!(described.contains("[default: "), "{option} has no default in --help:\n{help}");
    }
    assert!(help.contains("server full, try again later"), "--help says what a client past --max-connections gets");
    assert!(!help.contains("backlog"), "clients past --max-connections do not wait in the backlog");
}

#[test]
fn a_member_on_a_unix_socket_shares_the_room_and_hears_the_shutdown() {
    use std::io::{BufRead, BufReader, Write};
    let path = evloop_tests::transport::unix_socket_path("chat");
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_chat"), &["--unix", path.to_str().unwrap()]);
    let [mut tcp_member] = room(server.addr);
    server.printed("listening on unix:");
    let unix_member = evloop_tests::connect_unix(&path);
    let mut lines = BufReader::new(unix_member.try_clone().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    let nick = line.strip_prefix("* welcome ").and_then(|rest| rest.split_once('!')).map(|(nick, _)| nick.to_string());
    let nick = nick.unwrap_or_else(|| panic!("a welcome, got {line:?}"));
    tcp_member.expect(&format!("* {nick} joined"));
    (&unix_member).write_all(b"over a unix socket\n").unwrap();
    tcp_member.expect(&format!("{nick}: over a unix socket"));
    server.signal("TERM");
    let mut rest = String::new();
    BufReader::new(unix_member).read_to_string(&mut rest).expect("the rest, then end of file");
    assert!(rest.contains("* server shutting down"), "the Unix member hears the shutdown: {rest:?}");
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
    assert!(!path.exists(), "the socket file is removed on a clean stop");
}
