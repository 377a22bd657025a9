//! TLS connections reach `on_open` once their handshake has completed,
//! with what was negotiated; a failed handshake never reaches the handler.

use std::io::{Read, Write};
use std::time::Duration;

use evloop::tls::rustls::ProtocolVersion;
use evloop::{CloseReason, Config, EventLoop, Origin};
use evloop_tests::tls::{
    connect_tls, start_tls_server, tls_round_trip, try_connect_tls, Reply, TestPki, TlsProbe, TlsSeen, SERVER_NAME,
};
use evloop_tests::{connect, test_config, Server, TIMEOUT};

#[test]
fn on_open_fires_after_the_handshake_with_sni_version_and_suite() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    let (_, origin, negotiated) = events.next_open();
    let negotiated = negotiated.expect("Ctx::tls answers for a TLS connection in on_open");
    assert_eq!(origin, Origin::Inbound { listener: 0 });
    assert_eq!(negotiated.server_name.as_deref(), Some(SERVER_NAME), "the client's SNI");
    assert_eq!(negotiated.protocol_version, Some(ProtocolVersion::TLSv1_3), "TLS 1.3 by default");
    assert!(negotiated.has_cipher_suite, "a cipher suite is reported");
    assert!(negotiated.peer_certificates.is_empty(), "no client certificate was asked for");
    assert_eq!(tls_round_trip(&mut client, b"ping"), b"ping");
}

#[test]
fn alpn_chosen_is_the_protocol_both_sides_offered() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config_with_alpn(&[b"h2", b"redis"]));
    let client = connect_tls(server.addr, pki.client_config_with_alpn(&[b"redis", b"http/1.1"]));
    let (_, _, negotiated) = events.next_open();
    assert_eq!(negotiated.unwrap().alpn_protocol.as_deref(), Some(&b"redis"[..]), "the one protocol both offered");
    assert_eq!(client.conn.alpn_protocol(), Some(&b"redis"[..]), "the client agrees");
}

#[test]
fn mutual_tls_accepts_a_client_certificate_and_shows_it_in_on_open() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config_requiring_client_certs());
    let mut client = connect_tls(server.addr, pki.client_config_with_cert());
    assert_eq!(tls_round_trip(&mut client, b"authenticated"), b"authenticated");
    let (_, _, negotiated) = events.next_open();
    assert_eq!(
        negotiated.unwrap().peer_certificates,
        vec![pki.client_cert.clone()],
        "on_open sees the client's certificate"
    );
}

#[test]
fn mutual_tls_refuses_a_client_without_a_certificate_before_the_handler_sees_it() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config_requiring_client_certs());
    // TLS 1.3: the client finishes its side before the server checks it,
    // so the refusal shows as an alert on the first read.
    let outcome = try_connect_tls(server.addr, pki.client_config()).and_then(|mut client| {
        client.write_all(b"let me in")?;
        let mut buf = [0; 16];
        client.read(&mut buf)
    });
    assert!(outcome.is_err(), "a client without a certificate must be refused, got {outcome:?}");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeFailed), 1, "the refused handshake is counted");
    assert!(
        !events.drain().iter().any(|seen| matches!(seen, TlsSeen::Open(..))),
        "the handler must never see a refused client"
    );
}

#[test]
fn garbage_instead_of_a_client_hello_never_reaches_the_handler() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut raw = connect(server.addr);
    raw.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert_eq!(answer.first(), Some(&0x15), "the server answers garbage with a TLS alert record: {answer:?}");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeFailed), 1, "the failed handshake is counted");
    assert!(!events.drain().iter().any(|seen| matches!(seen, TlsSeen::Open(..))), "on_open must not fire");
}

/// A TLS 1.1 ClientHello (no extensions), written by hand.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // session id
    body.extend_from_slice(&[0x00, 0x02, 0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0, (body.len() >> 8) as u8, body.len() as u8];
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01, (handshake.len() >> 8) as u8, handshake.len() as u8];
    record.extend_from_slice(&handshake);
    record
}

#[test]
fn a_tls_1_1_hello_is_refused_with_an_alert() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut raw = connect(server.addr);
    raw.write_all(&tls11_client_hello()).unwrap();
    let mut answer = Vec::new();
    let _ = raw.read_to_end(&mut answer);
    assert_eq!(answer.first(), Some(&0x15), "an old protocol version is answered with an alert: {answer:?}");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeFailed), 1);
    assert!(!events.drain().iter().any(|seen| matches!(seen, TlsSeen::Open(..))), "on_open must not fire");
}

#[test]
fn handshake_timeout_closes_a_silent_connection_and_counts_it() {
    let pki = TestPki::new();
    let config = Config { tls_handshake_timeout: Duration::from_millis(200), ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    let mut silent = connect(server.addr);
    let mut buf = [0; 1];
    let read = silent.read(&mut buf);
    assert!(matches!(read, Ok(0) | Err(_)), "the silent connection is closed at the handshake timeout: {read:?}");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeTimeout), 1, "the timeout has its own close reason");
    assert!(!events.drain().iter().any(|seen| matches!(seen, TlsSeen::Open(..))), "on_open must not fire");
}

#[test]
fn a_handshake_stalled_at_the_timeout_does_not_hold_up_other_clients() {
    let pki = TestPki::new();
    let config = Config { tls_handshake_timeout: Duration::from_secs(5), ..test_config() };
    let (probe, _events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    let mut stalled = connect(server.addr);
    stalled.write_all(&tls11_client_hello()[..3]).unwrap(); // three bytes of a record header
    let started = std::time::Instant::now();
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"not blocked"), b"not blocked");
    assert!(started.elapsed() < Duration::from_secs(5), "another client waited for the stalled handshake");
}

#[test]
fn a_tls_and_a_plaintext_listener_serve_one_handler_side_by_side() {
    let pki = TestPki::new();
    let tls = pki.server_config();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let server = Server::start_listening(test_config(), probe, move |el: &mut EventLoop<TlsProbe>| {
        let tls_addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), tls)?;
        addr_tx.send(tls_addr).unwrap();
        el.listen("127.0.0.1:0".parse().unwrap())
    });
    let tls_addr = addr_rx.recv_timeout(TIMEOUT).unwrap();
    let mut plain = connect(server.addr);
    plain.write_all(b"plain").unwrap();
    let mut reply = [0; 5];
    plain.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"plain", "the plaintext listener echoes");
    let (_, _, negotiated) = events.next_open();
    assert!(negotiated.is_none(), "Ctx::tls is None on a plaintext connection");
    let mut client = connect_tls(tls_addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"secret"), b"secret", "the TLS listener echoes");
    let (_, origin, negotiated) = events.next_open();
    assert_eq!(origin, Origin::Inbound { listener: 0 }, "the TLS listener was added first");
    assert!(negotiated.is_some());
}
