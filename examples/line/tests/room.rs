//! The `line` binary over loopback: what one member says the others read,
//! its commands, its line limit, and a clean stop.

use evloop_tests::chat::room;
use evloop_tests::process::ServerProcess;

fn start() -> ServerProcess {
    ServerProcess::start(env!("CARGO_BIN_EXE_line"), &[])
}

#[test]
fn a_line_reaches_every_other_member_as_nick_colon_text() {
    let server = start();
    let [mut alice, mut bob, mut carol] = room(server.addr);
    alice.send("hello");
    bob.expect("guest1: hello");
    carol.expect("guest1: hello");
    // Nobody hears their own line: the next thing alice reads is bob's.
    bob.send("hi");
    alice.expect("guest2: hi");
}

#[test]
fn nick_renames_for_everyone_and_who_lists_the_room() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.send("/nick alice");
    alice.expect("* you are now alice");
    bob.expect("* guest1 is now alice");
    bob.send("/nick alice");
    bob.expect("ERR alice is taken");
    bob.send("/who");
    bob.expect("* online: alice, guest2");
}

#[test]
fn a_line_over_the_limit_is_refused_and_the_client_stays() {
    let server = start();
    let [mut alice, mut bob] = room(server.addr);
    alice.send(&"x".repeat(600));
    alice.expect("ERR line longer than 512 bytes");
    alice.send("still here");
    bob.expect("guest1: still here");
}

#[test]
fn a_member_who_leaves_is_announced_with_the_reason() {
    let server = start();
    let [alice, mut bob] = room(server.addr);
    drop(alice);
    bob.expect("* guest1 left (peer closed)");
}

#[test]
fn sigterm_closes_every_member_and_exits_with_status_0() {
    let mut server = start();
    let [mut alice, mut bob] = room(server.addr);
    server.signal("TERM");
    alice.expect_closed();
    bob.expect_closed();
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
}

#[test]
fn a_member_on_a_unix_socket_talks_with_one_on_tcp() {
    use std::io::{BufRead, BufReader, Write};
    let path = evloop_tests::transport::unix_socket_path("line");
    let server = ServerProcess::start(env!("CARGO_BIN_EXE_line"), &["--unix", path.to_str().unwrap()]);
    let [mut tcp_member] = room(server.addr);
    server.printed("listening on unix:");
    let unix_member = evloop_tests::connect_unix(&path);
    let mut lines = BufReader::new(unix_member.try_clone().unwrap());
    let mut welcome = String::new();
    lines.read_line(&mut welcome).unwrap();
    assert!(welcome.starts_with("* welcome guest2!"), "the Unix member joins the same room: {welcome:?}");
    tcp_member.expect("* guest2 joined");
    (&unix_member).write_all(b"hello from a unix socket\n").unwrap();
    tcp_member.expect("guest2: hello from a unix socket");
    tcp_member.send("hello back");
    let mut heard = String::new();
    lines.read_line(&mut heard).unwrap();
    assert_eq!(heard, "guest1: hello back\n");
}
