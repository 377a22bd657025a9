//! Output through TLS keeps the plaintext path's promises: a turn's sends
//! become few records in one write, watermarks count the records the
//! socket has not taken, input left unconsumed is offered again, and
//! plaintext the session holds is served without another readable edge.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use evloop::tls::rustls::{self, ClientConnection};
use evloop::Config;
use evloop_tests::tls::{
    connect_tls, server_name, start_tls_server, tls_round_trip, Reply, TestPki, TlsProbe, TlsSeen,
};
use evloop_tests::{connect, test_config, TIMEOUT};

/// The server config without session tickets, so that the only records
/// after the handshake are the replies.
fn without_tickets(pki: &TestPki) -> Arc<rustls::ServerConfig> {
    let mut config = (*pki.server_config()).clone();
    config.send_tls13_tickets = 0;
    Arc::new(config)
}

#[test]
fn a_hundred_small_replies_in_one_turn_become_one_record() {
    let pki = TestPki::new();
    let (probe, _events) = TlsProbe::new(Reply::ManyOks(100));
    let server = start_tls_server(test_config(), probe, without_tickets(&pki));
    let mut tcp = connect(server.addr);
    let mut conn = ClientConnection::new(pki.client_config(), server_name()).unwrap();
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).expect("handshake");
    }
    conn.writer().write_all(b"go").unwrap();
    while conn.wants_write() {
        conn.write_tls(&mut tcp).unwrap();
    }
    let plaintext = 100 * b"+OK\r\n".len();
    // TLS 1.3: a 5-byte header, the plaintext, its content type, a 16-byte tag.
    let mut record = vec![0; 5 + plaintext + 1 + 16];
    tcp.read_exact(&mut record).expect("one record holding every reply");
    let length = u16::from_be_bytes([record[3], record[4]]) as usize;
    assert_eq!(record[0], 0x17, "an application data record");
    assert_eq!(length, plaintext + 17, "the 100 replies must arrive as one record, not one record each");
    conn.read_tls(&mut &record[..]).unwrap();
    conn.process_new_packets().unwrap();
    let mut replies = vec![0; plaintext];
    conn.reader().read_exact(&mut replies).unwrap();
    assert_eq!(replies, b"+OK\r\n".repeat(100));
    let (_, stats) = server.stop();
    // The handshake's own writes are not counted as the application's.
    assert_eq!(stats.write_calls, 1, "the turn's 100 sends must leave in one write");
}

#[test]
fn unconsumed_plaintext_is_offered_again_with_more_input() {
    let pki = TestPki::new();
    let (probe, _events) = TlsProbe::new(Reply::EchoLines);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"hel").unwrap();
    client.flush().unwrap();
    assert_eq!(tls_round_trip(&mut client, b"lo\n"), b"hel", "the kept partial line comes back with the rest");
    let mut rest = [0; 3];
    client.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"lo\n");
}

#[test]
fn a_burst_larger_than_the_read_buffer_is_served_without_another_readable_edge() {
    let pki = TestPki::new();
    let config = Config { read_buffer_bytes: 4096, ..test_config() };
    let (probe, _events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    let client = connect_tls(server.addr, pki.client_config());
    let burst: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    // One connection, both directions: rustls's stream is not split, so
    // write everything while reading back in the same loop.
    let (mut conn, mut tcp) = (client.conn, client.sock);
    conn.set_buffer_limit(None);
    conn.writer().write_all(&burst).unwrap();
    let mut echoed = Vec::with_capacity(burst.len());
    let deadline = std::time::Instant::now() + TIMEOUT;
    tcp.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    while echoed.len() < burst.len() {
        assert!(std::time::Instant::now() < deadline, "only {} of {} bytes came back", echoed.len(), burst.len());
        if conn.wants_write() {
            conn.write_tls(&mut tcp).unwrap();
        }
        match conn.read_tls(&mut tcp) {
            Ok(0) => panic!("the server closed mid-burst"),
            Ok(_) => {
                conn.process_new_packets().unwrap();
                let mut buf = [0; 16 * 1024];
                while let Ok(n) = conn.reader().read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    echoed.extend_from_slice(&buf[..n]);
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
    assert!(echoed == burst, "the echo of the burst differs");
}

#[test]
fn records_the_socket_has_not_taken_keep_reading_paused_until_the_peer_reads() {
    let pki = TestPki::new();
    let bulk = 8 * 1024 * 1024;
    let config = Config { max_output_bytes: 2 * bulk, ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Bulk(bulk));
    let server = start_tls_server(config, probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"a").unwrap();
    client.flush().unwrap();
    match events.find("the reply's report", |s| matches!(s, TlsSeen::Queued(..))) {
        TlsSeen::Queued(_, writable, queued) => {
            assert!(!writable, "8 MiB queued is above the high watermark: is_writable must be false");
            assert!(queued >= bulk, "queued_output counts the reply: {queued}");
        }
        _ => unreachable!(),
    }
    // The flush encrypts all 8 MiB; the socket takes a few MiB at most
    // while the client does not read. If only plaintext counted, output
    // would look drained and on_drain would fire right after the flush.
    let early = events.any_within(Duration::from_millis(500), |s| matches!(s, TlsSeen::Drain(_)));
    assert!(early.is_none(), "on_drain fired while records were still waiting to be written");
    let mut got = vec![0; bulk];
    client.read_exact(&mut got).expect("the client reads the whole reply");
    events.find("on_drain once the client read the backlog", |s| matches!(s, TlsSeen::Drain(_)));
}
