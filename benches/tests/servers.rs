//! The benchmark's own servers, `tokio_echo` (both runtimes), `mio_echo`
//! and the C floor, over real loopback sockets: each says where it listens
//! and echoes every byte, a large write and many connections alike.

use std::io;
use std::path::Path;
use std::process::Command;

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

#[test]
fn c_epoll_echo_echoes() {
    let binary = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_epoll_echo");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/epoll_echo.c");
    // The flags the runner builds it with (src/c_floor.rs).
    let built = Command::new("cc").args(["-O2", "-Wall", "-Wextra", "-o"]).arg(&binary).arg(&source).status();
    match built {
        Ok(status) => assert!(status.success(), "cc could not build {}: {status}", source.display()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // As the runner does without a compiler: say so, measure nothing.
            eprintln!("skipped: no C compiler (`cc`); `apt-get install gcc` installs one");
            return;
        }
        Err(e) => panic!("running cc: {e}"),
    }
    check_echo(ServerProcess::start(binary.to_str().expect("a UTF-8 path"), &[]).addr);
}
