//! The `line` binary itself: its CLI, and telling clients on SIGTERM before
//! it stops with exit status 0.

use evloop_tests::chat::room;
use evloop_tests::process::ServerProcess;

#[test]
fn tells_clients_and_stops_on_sigterm() {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_line"), &[]);
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
