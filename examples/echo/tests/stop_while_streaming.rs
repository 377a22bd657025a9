//! SIGTERM while a client streams through `echo` and reads the echo back:
//! the client is still sending when the server stops, and it must still
//! get every byte the server wrote, then end of file.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use evloop_tests::process::ServerProcess;
use evloop_tests::{connect, wait_until, TIMEOUT};

/// Echoed bytes the client reads as fast as it can: long enough for the
/// kernel to grow both sides' buffers to megabytes.
const FAST: u64 = 32 * 1024 * 1024;

/// Echoed bytes the client has read when the server gets SIGTERM: after
/// the slow part began, so the buffers have filled behind the slow reader.
const BEFORE_SIGNAL: u64 = FAST + 2 * 1024 * 1024;

/// The bytes the server says it wrote, from its final stats line.
fn bytes_out(log: &[String]) -> u64 {
    let line = log
        .iter()
        .find(|line| line.contains("event loop stopped:"))
        .unwrap_or_else(|| panic!("no final stats in the log: {log:#?}"));
    let field = line.split_whitespace().find_map(|field| field.strip_prefix("bytes_out=")).expect("bytes_out=");
    field.parse().expect("a byte count")
}

/// The binary under test: this crate's, or `ECHO_BIN` (a release build,
/// to measure: `ECHO_BIN=target/release/echo cargo test -p echo --test
/// stop_while_streaming`).
fn echo_binary() -> String {
    std::env::var("ECHO_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_echo").to_string())
}

#[test]
fn sigterm_while_a_client_streams_loses_no_byte_the_server_wrote() {
    let mut server = ServerProcess::start_logging(&echo_binary(), &[], "info");
    let client = connect(server.addr);
    let received = Arc::new(AtomicU64::new(0));
    let mut writer = client.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let chunk = vec![b'e'; 64 * 1024];
        let started = Instant::now();
        // Until the server's close makes a send fail (or, if it never
        // does, the test's bound).
        while started.elapsed() < TIMEOUT {
            if writer.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let reader = {
        let (mut client, received) = (client, Arc::clone(&received));
        thread::spawn(move || -> std::io::Result<()> {
            // Fast, then at about 1.6 MB/s, slower than the sender: what
            // the server's kernel holds when it stops takes a while to read.
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let total = match client.read(&mut buf)? {
                    0 => return Ok(()),
                    n => received.fetch_add(n as u64, Ordering::Relaxed) + n as u64,
                };
                if total > FAST {
                    thread::sleep(Duration::from_millis(10));
                }
            }
        })
    };
    wait_until("the echo is streaming", || received.load(Ordering::Relaxed) >= BEFORE_SIGNAL);
    server.signal("TERM");
    let ended = reader.join().expect("the reader");
    sender.join().expect("the sender");
    let (status, log) = server.wait_with_log();
    assert!(status.success(), "exit status 0 after SIGTERM");
    let (got, wrote) = (received.load(Ordering::Relaxed), bytes_out(&log));
    assert!(
        ended.is_ok() && got == wrote,
        "the client read {got} of the {wrote} bytes the server wrote ({} lost), ending with {ended:?}",
        wrote.saturating_sub(got)
    );
}
