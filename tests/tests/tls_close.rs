//! Closing through TLS: a graceful close sends `close_notify`, then FIN;
//! an abort, a timeout or a limit resets without it; the peer's
//! `close_notify` is an end of file, and an end of file without it is a
//! truncation the handler can tell apart.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use evloop::{CloseReason, Config};
use evloop_tests::test_config;
use evloop_tests::tls::{connect_tls, start_tls_server, tls_round_trip, Reply, TestPki, TlsProbe, TlsSeen};

/// Reads to the end through TLS: `Ok` with everything if the stream ended
/// with `close_notify`, the error otherwise.
fn read_to_clean_end(client: &mut evloop_tests::tls::TlsClient) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    client.read_to_end(&mut all)?;
    Ok(all)
}

#[test]
fn a_graceful_close_sends_close_notify_before_fin() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::EchoThenClose);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"goodbye").unwrap();
    let got = read_to_clean_end(&mut client).expect("the stream must end with close_notify, not a bare FIN or a reset");
    assert_eq!(got, b"goodbye", "every byte sent before the close arrives");
    let (id, _, _) = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::App);
}

#[test]
fn an_abort_resets_without_close_notify() {
    let pki = TestPki::new();
    let (probe, _events) = TlsProbe::new(Reply::EchoThenAbort);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"cut").unwrap();
    let outcome = read_to_clean_end(&mut client);
    assert!(outcome.is_err(), "an aborted TLS stream must not end cleanly: {outcome:?}");
}

#[test]
fn the_peers_close_notify_is_an_end_of_file() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"last"), b"last");
    client.conn.send_close_notify();
    client.flush().unwrap();
    // The TCP connection stays open: close_notify alone ends the input.
    let (id, _, _) = events.next_open();
    let eof = events.find("on_eof", |s| matches!(s, TlsSeen::Eof(..)));
    assert_eq!(eof, TlsSeen::Eof(id, false), "close_notify is a clean end of file, not a truncation");
    assert_eq!(events.close_reason(id), CloseReason::PeerClosed);
    assert_eq!(read_to_clean_end(&mut client).expect("the server answers with its own close_notify"), b"");
}

#[test]
fn an_end_of_file_without_close_notify_is_a_truncation() {
    let pki = TestPki::new();
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"partial"), b"partial");
    client.sock.shutdown(Shutdown::Write).unwrap();
    let (id, _, _) = events.next_open();
    let eof = events.find("on_eof", |s| matches!(s, TlsSeen::Eof(..)));
    assert_eq!(eof, TlsSeen::Eof(id, true), "on_eof must see the input as truncated");
    assert_eq!(events.close_reason(id), CloseReason::TlsTruncated, "a truncated stream has its own close reason");
}

#[test]
fn stopping_the_loop_sends_close_notify() {
    let pki = TestPki::new();
    let (probe, _events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(test_config(), probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    assert_eq!(tls_round_trip(&mut client, b"before the stop"), b"before the stop");
    let (_, stats) = server.stop();
    assert_eq!(read_to_clean_end(&mut client).expect("a stop closes cleanly, with close_notify"), b"");
    assert_eq!(stats.closed(CloseReason::Shutdown), 1);
}

/// With nothing queued in the loop, an idle close is graceful (the
/// kernel may still hold output on its way: `Config::idle_timeout`), so
/// through TLS it ends with close_notify, as a stop does.
#[test]
fn the_idle_timeout_closes_an_idle_tls_connection_with_close_notify() {
    let pki = TestPki::new();
    let config = Config { idle_timeout: Some(Duration::from_millis(200)), ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Echo);
    let server = start_tls_server(config, probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    let (id, _, _) = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::IdleTimeout);
    assert_eq!(
        read_to_clean_end(&mut client).expect("nothing was queued: a clean end, with close_notify"),
        b"",
        "no bytes after the idle close"
    );
}

#[test]
fn the_write_timeout_closes_a_tls_peer_that_stops_reading() {
    let pki = TestPki::new();
    let bulk = 16 * 1024 * 1024;
    let config =
        Config { write_timeout: Some(Duration::from_millis(300)), max_output_bytes: 2 * bulk, ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Bulk(bulk));
    let server = start_tls_server(config, probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"x").unwrap();
    client.flush().unwrap();
    let (id, _, _) = events.next_open();
    assert_eq!(
        events.close_reason(id),
        CloseReason::WriteTimeout,
        "records stuck in the session count as stalled output"
    );
}

#[test]
fn the_output_limit_resets_a_tls_connection() {
    let pki = TestPki::new();
    let config = Config { max_output_bytes: 1024 * 1024, ..test_config() };
    let (probe, events) = TlsProbe::new(Reply::Bulk(2 * 1024 * 1024));
    let server = start_tls_server(config, probe, pki.server_config());
    let mut client = connect_tls(server.addr, pki.client_config());
    client.write_all(b"x").unwrap();
    client.flush().unwrap();
    let (id, _, _) = events.next_open();
    assert_eq!(events.close_reason(id), CloseReason::OutputLimit);
    assert!(read_to_clean_end(&mut client).is_err(), "a limit is abortive: no close_notify");
}

/// Closes the first TLS connection on its first input; on the second's,
/// tries to send to the first one's (now stale) id and echoes whether that
/// was refused.
#[derive(Debug, Default)]
struct StaleProbe {
    first: Option<evloop::ConnId>,
}

impl evloop::Handler for StaleProbe {
    type Conn = ();
    type Message = ();

    fn on_open(&mut self, _cx: &mut evloop::Ctx, id: evloop::ConnId, _origin: evloop::Origin) {
        self.first.get_or_insert(id);
    }

    fn on_data(&mut self, cx: &mut evloop::Ctx, id: evloop::ConnId, _conn: &mut (), data: &[u8]) -> usize {
        let first = self.first.expect("a connection opened");
        if id == first {
            cx.close(id);
        } else {
            let refused = !cx.send(first, b"to a closed connection") && cx.tls(first).is_none();
            cx.send(id, if refused { b"stale" } else { b"alive" });
        }
        data.len()
    }
}

#[test]
fn a_closed_tls_connections_id_stays_stale() {
    let pki = TestPki::new();
    let server = start_tls_server(test_config(), StaleProbe::default(), pki.server_config());
    let mut first = connect_tls(server.addr, pki.client_config());
    first.write_all(b"close me").unwrap();
    read_to_clean_end(&mut first).expect("the first connection closes cleanly");
    drop(first);
    let mut second = connect_tls(server.addr, pki.client_config());
    second.write_all(b"?").unwrap();
    let mut answer = [0; 5];
    second.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"stale", "a send to a closed TLS connection's id must do nothing");
}
