//! TLS through the core: the same handler, plaintext in and out, over a
//! TLS listener, beside a plaintext one.

use evloop::CloseReason;
use evloop_tests::tls::{connect_tls, start_tls_server, tls_round_trip, TestPki};
use evloop_tests::{test_config, Recorder};

#[test]
fn a_plaintext_handler_echoes_through_tls() {
    let pki = TestPki::new();
    let (handler, events) = Recorder::new();
    let server = start_tls_server(test_config(), handler, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"hello through TLS"), b"hello through TLS", "the echo came back changed");
    let id = events.next_open();
    drop(client);
    let reason = events.close_reason(id);
    assert!(
        matches!(reason, CloseReason::TlsTruncated | CloseReason::PeerClosed | CloseReason::Reset),
        "closing the client ends the connection, not {reason:?}"
    );
}

#[test]
fn a_unix_domain_socket_speaks_tls_with_the_same_handler() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use evloop::EventLoop;
    use evloop_tests::tls::server_name;
    use evloop_tests::{Server, TIMEOUT};

    let pki = TestPki::new();
    let path = evloop_tests::transport::unix_socket_path("tls");
    let (handler, _events) = Recorder::new();
    let (listen_path, tls) = (path.clone(), pki.server_config());
    let _server = Server::start_listening(test_config(), handler, move |el: &mut EventLoop<Recorder>| {
        el.listen_unix_tls(&listen_path, tls)?;
        el.listen("127.0.0.1:0".parse().unwrap())
    });
    let socket = UnixStream::connect(&path).expect("connect to the TLS Unix-domain socket");
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let conn = evloop::tls::rustls::ClientConnection::new(pki.client_config(), server_name()).unwrap();
    let mut client = evloop::tls::rustls::StreamOwned::new(conn, socket);
    client.write_all(b"over a unix socket, through TLS").unwrap();
    let mut reply = [0; 31];
    client.read_exact(&mut reply).expect("the echo through TLS over a Unix-domain socket");
    assert_eq!(&reply, b"over a unix socket, through TLS");
}
