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

#[test]
fn two_threads_log_at_info_like_the_single_loop() {
    let mut server = ServerProcess::start_logging(env!("CARGO_BIN_EXE_echo"), &["--threads", "2"], "info");
    let mut client = connect(server.addr);
    assert_eq!(round_trip(&mut client, b"ping"), b"ping");
    drop(client);
    server.signal("TERM");
    let (status, log) = server.wait_with_log();
    assert!(status.success(), "exit status 0 after SIGTERM");
    assert!(
        log.iter().any(|line| line.contains(" INFO ") && line.contains("stopping every loop")),
        "the group's stop is logged at info: {log:#?}"
    );
    assert!(
        log.iter().any(|line| line.contains(" INFO ") && line.contains("bytes_out=4 ")),
        "each loop's final stats are logged, one loop's with the 4 bytes echoed: {log:#?}"
    );
    assert!(!log.iter().any(|line| line.contains("listening on")), "the log repeats the address: {log:#?}");
}
