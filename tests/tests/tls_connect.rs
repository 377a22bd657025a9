//! Outbound TLS: `connect_tls` opens once the handshake as a client has
//! completed; a certificate that does not match, or a server that never
//! answers the hello, reaches `on_connect_failed`.

use std::io;
use std::time::Duration;

use evloop::tls::rustls::pki_types::ServerName;
use evloop::{Config, EventLoop, Origin};
use evloop_tests::tls::{server_name, Reply, TestPki, TlsProbe, TlsSeen};
use evloop_tests::{test_config, Server};

#[test]
fn connect_tls_opens_after_the_handshake_and_exchanges_plaintext() {
    let pki = TestPki::new();
    let (server_config, client_config) = (pki.server_config(), pki.client_config());
    let (mut probe, events) = TlsProbe::new(Reply::Echo);
    probe.greeting = b"hello, me".to_vec();
    let _server = Server::start_listening(test_config(), probe, move |el: &mut EventLoop<TlsProbe>| {
        let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), server_config)?;
        el.connect_tls(addr, server_name(), client_config)?;
        Ok(addr)
    });
    let outbound = events.find("the outbound on_open", |s| matches!(s, TlsSeen::Open(_, Origin::Outbound, _)));
    let TlsSeen::Open(id, _, Some(negotiated)) = outbound else { panic!("Ctx::tls must answer for {outbound:?}") };
    assert_eq!(negotiated.peer_certificates, vec![pki.server_cert.clone()], "the client sees the server's certificate");
    let received = events.find("the echo of the greeting", |s| matches!(s, TlsSeen::Received(..)));
    assert_eq!(received, TlsSeen::Received(id, b"hello, me".to_vec()), "the greeting comes back through TLS both ways");
}

#[test]
fn connect_tls_to_a_name_the_certificate_does_not_bear_fails_the_connect() {
    let pki = TestPki::new();
    let (server_config, client_config) = (pki.server_config(), pki.client_config());
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let _server = Server::start_listening(test_config(), probe, move |el: &mut EventLoop<TlsProbe>| {
        let addr = el.listen_tls("127.0.0.1:0".parse().unwrap(), server_config)?;
        let wrong = ServerName::try_from("wrong.test").unwrap();
        el.connect_tls(addr, wrong, client_config)?;
        Ok(addr)
    });
    let failed = events.find("on_connect_failed", |s| matches!(s, TlsSeen::ConnectFailed(..)));
    assert!(
        matches!(failed, TlsSeen::ConnectFailed(_, io::ErrorKind::InvalidData)),
        "a certificate for another name fails the handshake: {failed:?}"
    );
    assert!(
        !events.drain().iter().any(|s| matches!(s, TlsSeen::Open(_, Origin::Outbound, _))),
        "the failed connection must never open"
    );
}

#[test]
fn a_server_that_never_answers_the_hello_fails_the_connect_at_the_handshake_timeout() {
    let pki = TestPki::new();
    let client_config = pki.client_config();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let config = Config { tls_handshake_timeout: Duration::from_millis(200), ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let _server = Server::start_listening(config, probe, move |el: &mut EventLoop<TlsProbe>| {
        el.connect_tls(silent_addr, server_name(), client_config)?;
        el.listen("127.0.0.1:0".parse().unwrap())
    });
    let failed = events.find("on_connect_failed", |s| matches!(s, TlsSeen::ConnectFailed(..)));
    assert!(
        matches!(failed, TlsSeen::ConnectFailed(_, io::ErrorKind::TimedOut)),
        "a handshake with no answer times out: {failed:?}"
    );
    drop(silent);
}
