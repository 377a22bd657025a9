//! `echo --tls-cert FILE --tls-key FILE`: the same echo over TLS, beside
//! the plaintext listener, and a stop that ends TLS streams with
//! `close_notify`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::thread;

use evloop_tests::tls::{connect_tls, tls_round_trip, TestPki};

/// Kills the server however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn echoes_over_tls_and_ends_the_stream_with_close_notify_on_sigterm() {
    let pki = TestPki::new();
    let dir = std::env::temp_dir().join(format!("evloop-echo-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, _) = pki.write_pem(&dir).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_echo"))
        .args(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the echo binary");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut server = Killed(child);
    let mut tls_addr = None;
    for _ in 0..4 {
        let mut line = String::new();
        stdout.read_line(&mut line).expect("a line on stdout");
        if let Some(addr) = line.trim().strip_prefix("listening on tls:") {
            tls_addr = Some(addr.parse::<SocketAddr>().expect("a socket address"));
            break;
        }
    }
    thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let tls_addr = tls_addr.expect("echo prints `listening on tls:ADDR`");
    let mut client = connect_tls(tls_addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"over TLS"), b"over TLS");
    let status = Command::new("kill").arg("-TERM").arg(server.0.id().to_string()).status().expect("run kill(1)");
    assert!(status.success(), "kill -TERM failed");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("the stop ends the TLS stream with close_notify");
    assert!(rest.is_empty());
    client.flush().ok();
    assert!(server.0.wait().expect("wait for the server").success(), "exit status 0 after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}
