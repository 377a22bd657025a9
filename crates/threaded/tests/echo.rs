//! The `threaded` binary over real loopback sockets: it says where it
//! listens and echoes every byte, on many connections at once.

use evloop_tests::process::{check_echo, ServerProcess};

#[test]
fn echoes_every_byte_on_many_connections() {
    check_echo(ServerProcess::start(env!("CARGO_BIN_EXE_threaded"), &[]).addr);
}
