//! `line --tls-cert FILE --tls-key FILE`: a member over TLS and one over
//! plain TCP in the same room.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;

use evloop_tests::process::ServerProcess;
use evloop_tests::tls::{connect_tls, TestPki};
use evloop_tests::{connect, TIMEOUT};

#[test]
fn a_member_over_tls_talks_with_one_over_tcp() {
    let pki = TestPki::new();
    let dir = std::env::temp_dir().join(format!("evloop-line-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, _) = pki.write_pem(&dir).unwrap();
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = ServerProcess::start(
        env!("CARGO_BIN_EXE_line"),
        &["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
    );
    let tcp_addr = server.addr;
    let tls_addr: SocketAddr =
        server.printed("listening on tls:").parse().expect("line prints `listening on tls:ADDR`");
    let tcp = connect(tcp_addr);
    let mut tcp_lines = BufReader::new(tcp.try_clone().unwrap());
    let mut line = String::new();
    tcp_lines.read_line(&mut line).unwrap();
    assert!(line.starts_with("* welcome guest1!"), "{line:?}");
    let tls = connect_tls(tls_addr, pki.client_config());
    tls.sock.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut tls_lines = BufReader::new(tls);
    line.clear();
    tls_lines.read_line(&mut line).unwrap();
    assert!(line.starts_with("* welcome guest2!"), "the TLS member joins the same room: {line:?}");
    line.clear();
    tcp_lines.read_line(&mut line).unwrap();
    assert_eq!(line, "* guest2 joined\n");
    tls_lines.get_mut().write_all(b"hello over tls\n").unwrap();
    tls_lines.get_mut().flush().unwrap();
    line.clear();
    tcp_lines.read_line(&mut line).unwrap();
    assert_eq!(line, "guest2: hello over tls\n", "the TCP member hears the TLS member in plaintext");
    (&tcp).write_all(b"hello back\n").unwrap();
    line.clear();
    tls_lines.read_line(&mut line).unwrap();
    assert_eq!(line, "guest1: hello back\n", "and the TLS member hears the TCP one");
    let _ = std::fs::remove_dir_all(&dir);
}
