//! TLS through the core: the same handler, plaintext in and out, over a
//! TLS listener, beside a plaintext one.

use evloop::CloseReason;
use evloop_tests::tls::{connect_tls, start_tls_server, tls_round_trip, TestPki};
use evloop_tests::{test_config, Recorder, Seen};

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
    let _ = Seen::Stop;
}
