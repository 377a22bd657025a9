//! The benchmark's own servers, `tokio_echo` (both runtimes) and
//! `mio_echo`, over real loopback sockets: each says where it listens and
//! echoes every byte, a large write and many connections alike.

use evloop_tests::process::{check_echo, ServerProcess};

#[test]
fn mio_echo_echoes() {
    check_echo(ServerProcess::start(env!("CARGO_BIN_EXE_mio_echo"), &[]).addr);
}

#[test]
fn tokio_echo_current_thread_echoes() {
    check_echo(ServerProcess::start(env!("CARGO_BIN_EXE_tokio_echo"), &["--runtime", "current-thread"]).addr);
}

#[test]
fn tokio_echo_multi_thread_echoes() {
    check_echo(ServerProcess::start(env!("CARGO_BIN_EXE_tokio_echo"), &["--runtime", "multi-thread"]).addr);
}
