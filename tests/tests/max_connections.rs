//! Past `Config::max_connections` a new peer is closed at once, cleanly,
//! and everyone already connected keeps being served.

use std::io::Write;

use evloop::{CloseReason, Config};
use evloop_tests::{connect, read_to_end, round_trip, test_config, Recorder, Seen, Server};

const LIMIT: usize = 10;

#[test]
fn connections_past_the_limit_get_a_clean_close_and_the_rest_are_served() {
    let (recorder, events) = Recorder::new();
    let server = Server::start(Config { max_connections: LIMIT, ..test_config() }, recorder);
    let mut admitted: Vec<_> = (0..LIMIT).map(|_| connect(server.addr)).collect();
    let ids: Vec<_> = admitted
        .iter_mut()
        .map(|client| {
            assert_eq!(round_trip(client, b"in"), b"in");
            events.next_open()
        })
        .collect();

    for _ in 0..3 {
        let mut turned_away = connect(server.addr);
        // The write may race the close; what matters is what the peer reads.
        let _ = turned_away.write_all(b"let me in");
        match read_to_end(&mut turned_away) {
            Ok(bytes) => assert!(bytes.is_empty(), "a rejected peer gets no data, only end of file"),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "or a reset: {e}"),
        }
    }
    for client in &mut admitted {
        assert_eq!(round_trip(client, b"still here"), b"still here", "the admitted are still served");
    }

    // A freed slot admits the next peer.
    drop(admitted.remove(0));
    assert_eq!(events.next(), Seen::Eof(ids[0]));
    assert_eq!(events.next(), Seen::Close(ids[0], CloseReason::PeerClosed));
    let mut latecomer = connect(server.addr);
    assert_eq!(round_trip(&mut latecomer, b"my turn"), b"my turn");
    assert!(matches!(events.next(), Seen::Open(..)), "nothing else opened in between");

    drop(admitted);
    drop(latecomer);
    let (_, stats) = server.stop();
    assert_eq!(stats.rejected, 3);
    assert_eq!(stats.accepted, LIMIT as u64 + 1);
}
