//! `echo --threads 2`: a loop group echoes like the single loop and stops
//! gracefully on SIGTERM with exit status 0.

use std::io::Read;

use evloop_tests::process::{check_echo, ServerProcess};
use evloop_tests::{connect, round_trip};

#[test]
fn two_threads_echo_and_stop_on_sigterm() {
    let mut server = ServerProcess::start(env!("CARGO_BIN_EXE_echo"), &["--threads", "2"]);
    check_echo(server.addr);
    let mut clients: Vec<_> = (0..20).map(|_| connect(server.addr)).collect();
    for client in &mut clients {
        assert_eq!(round_trip(client, b"before the signal"), b"before the signal");
    }
    server.signal("TERM");
    for client in &mut clients {
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).expect("a clean close"), 0, "end of file after the stop");
    }
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
}
