//! Hostile TLS peers: records that break the protocol mid-stream, alert
//! floods, and crowds of handshakes that never finish. Each costs the
//! offender its connection, and nobody else anything.

use std::io::{Read, Write};
use std::time::Duration;

use evloop::{CloseReason, Config};
use evloop_tests::tls::{connect_tls, start_tls_server, tls_round_trip, Reply, TestPki, TlsProbe};
use evloop_tests::{connect, test_config};

/// Sends `raw` on the TLS connection's socket, behind rustls's back, and
/// returns the reason the server closed the connection.
fn close_reason_after_raw_bytes(raw: &[u8]) -> CloseReason {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"fine so far"), b"fine so far");
    let (id, _, _) = events.next_open();
    client.sock.write_all(raw).unwrap();
    events.close_reason(id)
}

#[test]
fn an_oversize_record_mid_stream_closes_that_connection() {
    // An application data record claiming 18,433 bytes: past TLS's limit.
    let mut raw = vec![0x17, 0x03, 0x03, 0x48, 0x01];
    raw.extend_from_slice(&[0; 64]);
    let reason = close_reason_after_raw_bytes(&raw);
    assert_eq!(reason, CloseReason::Error(std::io::ErrorKind::InvalidData), "an oversize record is a protocol error");
}

#[test]
fn a_record_that_does_not_decrypt_closes_that_connection() {
    let mut raw = vec![0x17, 0x03, 0x03, 0x00, 0x40];
    raw.extend_from_slice(&[0xab; 0x40]);
    let reason = close_reason_after_raw_bytes(&raw);
    assert_eq!(reason, CloseReason::Error(std::io::ErrorKind::InvalidData), "a forged record is a protocol error");
}

#[test]
fn a_flood_of_plaintext_alerts_closes_that_connection() {
    // Warning-level user_canceled alerts, unencrypted, a thousand times.
    let raw: Vec<u8> = [0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x5a].repeat(1000);
    let reason = close_reason_after_raw_bytes(&raw);
    assert_eq!(reason, CloseReason::Error(std::io::ErrorKind::InvalidData), "an alert flood ends the connection");
}

#[test]
fn two_hundred_handshakes_that_never_finish_are_all_cut_at_the_timeout_and_others_are_served() {
    let pki = TestPki::new();
    let config = Config { tls_handshake_timeout: Duration::from_millis(500), ..test_config() };
    let (probe, _events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    // Each sends the first bytes of a record header and stops.
    let mut half_open: Vec<_> = (0..200)
        .map(|_| {
            let mut stream = connect(server.addr);
            stream.write_all(&[0x16, 0x03]).unwrap();
            stream
        })
        .collect();
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"still served"), b"still served", "a full handshake goes through");
    for stream in &mut half_open {
        let mut buf = [0; 1];
        let read = stream.read(&mut buf);
        assert!(matches!(read, Ok(0) | Err(_)), "every stalled handshake is closed: {read:?}");
    }
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeTimeout), 200, "each stalled handshake is counted");
    assert_eq!(stats.tls_handshakes, 1, "only the real client completed a handshake");
}

#[test]
fn a_handshake_trickled_a_byte_at_a_time_is_cut_at_the_handshake_timeout() {
    let pki = TestPki::new();
    let timeout = Duration::from_millis(500);
    let config = Config { tls_handshake_timeout: timeout, ..test_config() };
    let (probe, _events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    let mut slow = connect(server.addr);
    slow.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    // A ClientHello record header and body, one byte every 50 ms: bytes keep
    // coming, the handshake never completes. The pacing is the attack.
    let started = std::time::Instant::now();
    let mut cut = false;
    for byte in [0x16, 0x03, 0x01, 0x02, 0x00].into_iter().chain(std::iter::repeat(0x01)).take(200) {
        if slow.write_all(&[byte]).is_err() {
            cut = true;
            break;
        }
        let mut buf = [0; 1];
        if matches!(slow.read(&mut buf), Ok(0)) || started.elapsed() > Duration::from_secs(10) {
            cut = matches!(slow.read(&mut buf), Ok(0) | Err(_));
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
    assert!(cut, "the trickling handshake must be closed");
    assert!(elapsed < Duration::from_secs(5), "bytes trickling in must not extend the handshake timeout: {elapsed:?}");
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"unaffected"), b"unaffected");
    let (_, stats) = server.stop();
    assert_eq!(stats.closed(CloseReason::TlsHandshakeTimeout), 1);
}
