//! `echo --tls-cert FILE --tls-key FILE`: the same echo over TLS, beside
//! the plaintext listener, and a stop that ends TLS streams with
//! `close_notify`.

use std::io::{Read, Write};
use std::net::SocketAddr;

use evloop_tests::process::ServerProcess;
use evloop_tests::tls::{connect_tls, tls_round_trip, TestPki};

#[test]
fn echoes_over_tls_and_ends_the_stream_with_close_notify_on_sigterm() {
    let pki = TestPki::new();
    let dir = std::env::temp_dir().join(format!("evloop-echo-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, _) = pki.write_pem(&dir).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let mut server = ServerProcess::start(
        env!("CARGO_BIN_EXE_echo"),
        &["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
    );
    let tls_addr: SocketAddr =
        server.printed("listening on tls:").parse().expect("echo prints `listening on tls:ADDR`");
    let mut client = connect_tls(tls_addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"over TLS"), b"over TLS");
    server.signal("TERM");
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).expect("the stop ends the TLS stream with close_notify");
    assert!(rest.is_empty());
    client.flush().ok();
    assert!(server.wait().success(), "exit status 0 after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}
